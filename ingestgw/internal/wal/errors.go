package wal

import (
	"errors"
	"fmt"
)

var (
	// ErrClosed is returned by calls on a closed WAL.
	ErrClosed = errors.New("wal closed")
	// ErrRecordTooLarge is returned by Append for a record above MaxRecordSize.
	ErrRecordTooLarge = errors.New("wal record too large")
	// ErrBroken is wrapped by every Append after a failed write could not
	// be undone; reopening the WAL repairs it.
	ErrBroken = errors.New("wal broken by an unrecoverable write error")
	// ErrCorrupt is wrapped by *CorruptionError.
	ErrCorrupt = errors.New("wal corrupt")
)

// CorruptionError reports damaged data that recovery must not drop: where
// it is and what is wrong.
type CorruptionError struct {
	Segment int
	Offset  int64
	Reason  string
}

func (e *CorruptionError) Error() string {
	return fmt.Sprintf("wal corrupt: segment %s at offset %d: %s", segmentName(e.Segment), e.Offset, e.Reason)
}

func (e *CorruptionError) Unwrap() error { return ErrCorrupt }
