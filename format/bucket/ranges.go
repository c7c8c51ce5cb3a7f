package bucket

import (
	"fmt"
	"math"
)

// checkRange rejects what GetRange never accepts: a negative offset.
func checkRange(key string, off int64) error {
	if off < 0 {
		return fmt.Errorf("get range %s at %d: %w", key, off, ErrInvalidRange)
	}
	return nil
}

// clampRange cuts [off, off+length) to an object of the given size and
// returns the start and the length to read; length < 0 reads to the end.
// An offset at or past the end gives an empty range at the end.
func clampRange(size, off, length int64) (start, n int64) {
	if off >= size {
		return size, 0
	}
	if length < 0 || length > math.MaxInt64-off || off+length > size {
		return off, size - off
	}
	return off, length
}
