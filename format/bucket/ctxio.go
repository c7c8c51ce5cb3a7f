package bucket

import (
	"context"
	"fmt"
	"io"
)

// ctxReader fails reads once its context is done, so a long copy or a
// slow consumer stops when the caller gives up.
type ctxReader struct {
	ctx context.Context //nolint:containedctx // lives only as long as one request
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// ctxReadCloser is a ctxReader that closes the underlying object.
type ctxReadCloser struct {
	ctxReader
	c io.Closer
}

func (c *ctxReadCloser) Close() error { return c.c.Close() }

// readExact copies exactly size bytes of r into w. A reader shorter than
// the size it was announced with fails; bytes past size are left unread,
// as an S3 PUT with that Content-Length would.
func readExact(ctx context.Context, w io.Writer, r io.Reader, size int64) error {
	n, err := io.Copy(w, io.LimitReader(&ctxReader{ctx: ctx, r: r}, size))
	if err != nil {
		return err
	}
	if n < size {
		return fmt.Errorf("read body: got %d bytes, want %d: %w", n, size, io.ErrUnexpectedEOF)
	}
	return nil
}
