package engine

import "unsafe"

// unsafeString views b as a string without copying; the string must not
// outlive b's next change.
func unsafeString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }
