package miniotest

import "syscall"

// sysProcAttr makes the kernel kill MinIO if the test binary dies without
// cleaning up (a timeout panic, a kill), so no server outlives its tests.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
