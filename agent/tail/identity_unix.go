//go:build unix

package tail

import (
	"os"
	"syscall"
)

func identityOf(fi os.FileInfo) Identity {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return Identity{}
	}
	return Identity{Dev: uint64(st.Dev), Ino: uint64(st.Ino)} //nolint:unconvert // int types differ per platform
}
