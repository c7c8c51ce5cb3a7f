// Package bucket is the object-store contract of kmlog: a small Bucket
// interface, its sentinel errors, and the local-directory and in-memory
// implementations. format/bucket/s3 implements it over MinIO and S3;
// format/bucket/buckettest is the acceptance suite every implementation
// passes.
//
// Objects are immutable and written whole: a reader sees either the full
// object or none (ErrNotExist), never a part. Implementations are safe for
// concurrent use.
//
// Keys follow ValidateKey in every implementation, so code that works on
// the local directory works on S3 and the other way round. Metered counts
// the requests and bytes of any bucket (Stats), for the cost lines that
// functions report; NewReaderAt, ReadAll and PutBytes are conveniences on
// top of the interface.
package bucket

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"time"
)

// ErrNotExist is returned (wrapped) when an object does not exist.
// It wraps fs.ErrNotExist, so errors.Is(err, fs.ErrNotExist) holds too.
var ErrNotExist = &notExistError{}

type notExistError struct{}

func (*notExistError) Error() string { return "object does not exist" }
func (*notExistError) Unwrap() error { return fs.ErrNotExist }

// ErrExist is returned by PutIfAbsent when the key is already taken.
var ErrExist = errors.New("object already exists")

// ErrInvalidRange is returned by GetRange for a negative offset. (A
// negative length is not an error: it reads to the end.)
var ErrInvalidRange = errors.New("invalid byte range")

// ObjectInfo describes one stored object.
type ObjectInfo struct {
	Key      string
	Size     int64
	Modified time.Time
}

// Bucket stores immutable objects under string keys made of
// slash-separated segments (see format/objkey and ValidateKey). A key that
// ValidateKey rejects fails every method with ErrInvalidKey.
//
// No key may be a whole-segment prefix of another: "a" and "a/b" must not
// both exist. Dir and Mem refuse the second Put with ErrKeyConflict; MinIO
// accepts it but then leaves keys out of List; AWS S3 keeps both. Keys
// made by format/objkey never do this.
//
// Errors about the object itself (ErrNotExist) come from the method call,
// never later from the returned reader. Returned readers stop with the
// context's error once ctx is done; the caller closes them, and should
// read them to the end or close them promptly, since each may hold a
// connection.
type Bucket interface {
	// Get opens the whole object. The caller closes the reader.
	Get(ctx context.Context, key string) (io.ReadCloser, error)
	// GetRange opens length bytes starting at off. A range that runs past
	// the end is cut at the end; length < 0 reads to the end. An offset at
	// or past the end of an existing object gives an empty reader, not an
	// error; a negative offset gives ErrInvalidRange; a missing object
	// gives ErrNotExist whatever the range.
	GetRange(ctx context.Context, key string, off, length int64) (io.ReadCloser, error)
	// Put stores size bytes from r under key, replacing any object there.
	// The object becomes visible only when Put returns nil. size must be
	// the exact length: a reader that ends early fails the Put and stores
	// nothing, bytes past size are not read, and a negative size is an
	// error.
	Put(ctx context.Context, key string, r io.Reader, size int64) error
	// Stat returns the object's size and time.
	Stat(ctx context.Context, key string) (ObjectInfo, error)
	// List calls fn for every object whose key starts with prefix, in
	// lexical key order. An error from fn stops the listing and is returned.
	List(ctx context.Context, prefix string, fn func(ObjectInfo) error) error
	// Delete removes an object. Deleting a missing object is not an error.
	Delete(ctx context.Context, key string) error
}

// CreateOnly is an optional capability: a Put that fails with ErrExist
// instead of replacing an existing object. Of two racing PutIfAbsent calls
// for one key, exactly one succeeds. Find it with a type assertion; Dir,
// Mem, s3.Bucket and Metered over any of them have it.
type CreateOnly interface {
	PutIfAbsent(ctx context.Context, key string, r io.Reader, size int64) error
}
