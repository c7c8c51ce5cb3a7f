package bucket

import (
	"bytes"
	"context"
	"fmt"
	"io"
)

// drainLimit is how much of an unread body Close reads away so that an
// HTTP connection can be reused; past it, dropping the connection is
// cheaper.
const drainLimit = 64 << 10

// NewReaderAt returns an io.ReaderAt over the object key of the given size,
// for readers such as Parquet's that want one. Each ReadAt makes one
// ranged GET of exactly the bytes asked for (cut at size), so callers
// should read in large pieces.
//
// The ReaderAt keeps ctx for all its reads, since io.ReaderAt has no
// context parameter: use it only within the request that ctx belongs to.
// It is safe for concurrent use if b is.
func NewReaderAt(ctx context.Context, b Bucket, key string, size int64) io.ReaderAt {
	return &readerAt{ctx: ctx, b: b, key: key, size: size}
}

type readerAt struct {
	ctx  context.Context //nolint:containedctx // io.ReaderAt has no ctx parameter
	b    Bucket
	key  string
	size int64
}

func (r *readerAt) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("read %s at %d: %w", r.key, off, ErrInvalidRange)
	}
	if off >= r.size {
		return 0, io.EOF
	}
	want := min(int64(len(p)), r.size-off)
	if want == 0 {
		return 0, nil
	}
	rc, err := r.b.GetRange(r.ctx, r.key, off, want)
	if err != nil {
		return 0, err
	}
	n, err := io.ReadFull(rc, p[:want])
	closeErr := drainClose(rc)
	if err != nil {
		if err == io.ErrUnexpectedEOF || err == io.EOF {
			return n, fmt.Errorf("read %s at %d: object shorter than %d bytes: %w", r.key, off, r.size, io.ErrUnexpectedEOF)
		}
		return n, fmt.Errorf("read %s at %d: %w", r.key, off, err)
	}
	if closeErr != nil {
		return n, fmt.Errorf("read %s at %d: %w", r.key, off, closeErr)
	}
	if int64(len(p)) > want {
		return n, io.EOF
	}
	return n, nil
}

// drainClose reads away up to drainLimit bytes of rc and closes it.
func drainClose(rc io.ReadCloser) error {
	_, _ = io.CopyN(io.Discard, rc, drainLimit) // best effort, only for connection reuse
	return rc.Close()
}

// ReadAll reads the whole object key.
func ReadAll(ctx context.Context, b Bucket, key string) ([]byte, error) {
	rc, err := b.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	data, err := io.ReadAll(rc)
	if cerr := rc.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	return data, nil
}

// PutBytes stores data under key.
func PutBytes(ctx context.Context, b Bucket, key string, data []byte) error {
	return b.Put(ctx, key, bytes.NewReader(data), int64(len(data)))
}
