package datafile

import "errors"

var (
	// ErrCorrupt is wrapped by every error about a file that is not a valid
	// data file (bad footer, schema, pages, limits).
	ErrCorrupt = errors.New("corrupt data file")
	// ErrOutOfOrder is returned by Writer.Append for an entry that is not
	// after the previous one in (stream labels, timestamp) order.
	ErrOutOfOrder = errors.New("entry out of order")
	// ErrLineTooLong is returned by Writer.Append for a line (with its
	// metadata) over MaxLineSize.
	ErrLineTooLong = errors.New("line too long")
	// ErrClosed is returned by a Writer used after Close.
	ErrClosed = errors.New("writer closed")
)
