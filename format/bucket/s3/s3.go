// Package s3 implements bucket.Bucket over S3 and MinIO with minio-go. It
// is the only package of kmlog that imports minio-go, so that importing
// the formats never drags in the client.
//
// Requests map one to one: Get and GetRange are one GET each (a ranged GET
// for GetRange), Stat is one HEAD, Put is one PUT for objects up to the
// part size and a multipart upload above it, PutIfAbsent is one PUT with
// If-None-Match: *, Delete is one DELETE, and List is one request per page
// of 1000 keys.
package s3

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"strings"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/kubemate/kmlog/format/bucket"
)

// drainLimit is how much of an unread body Close reads away so the
// connection can be reused; past it, dropping the connection is cheaper.
const drainLimit = 64 << 10

// maxSinglePut is the largest object S3 takes in one PUT.
const maxSinglePut = 5 << 30

// Bucket is a bucket.Bucket and bucket.CreateOnly over one S3 bucket. It
// is safe for concurrent use.
type Bucket struct {
	client   *minio.Client
	core     minio.Core
	name     string
	prefix   string
	partSize uint64
}

var (
	_ bucket.Bucket     = (*Bucket)(nil)
	_ bucket.CreateOnly = (*Bucket)(nil)
)

// New connects to the bucket that cfg names. It makes a request only when
// cfg.CreateBucket is set, to create a missing bucket. logger may be nil.
func New(ctx context.Context, cfg Config, logger *slog.Logger) (*Bucket, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	tr, err := minio.DefaultTransport(!cfg.Insecure)
	if err != nil {
		return nil, fmt.Errorf("open s3 bucket %s: %w", cfg.Bucket, err)
	}
	if cfg.MaxIdleConnsPerHost > 0 {
		tr.MaxIdleConnsPerHost = cfg.MaxIdleConnsPerHost
		tr.MaxIdleConns = max(tr.MaxIdleConns, cfg.MaxIdleConnsPerHost)
	}
	creds := credentials.NewStaticV4(cfg.AccessKeyID, cfg.SecretAccessKey, "")
	if cfg.AccessKeyID == "" {
		creds = credentials.NewChainCredentials([]credentials.Provider{
			&credentials.EnvAWS{},
			&credentials.IAM{},
		})
	}
	client, err := minio.New(cfg.Endpoint, &minio.Options{
		Creds:     creds,
		Secure:    !cfg.Insecure,
		Transport: tr,
		Region:    cfg.Region,
	})
	if err != nil {
		return nil, fmt.Errorf("open s3 bucket %s: %w", cfg.Bucket, err)
	}
	b := &Bucket{
		client:   client,
		core:     minio.Core{Client: client},
		name:     cfg.Bucket,
		prefix:   cfg.Prefix,
		partSize: cfg.PartSize,
	}
	if cfg.CreateBucket {
		created, err := b.create(ctx, cfg.Region)
		if err != nil {
			return nil, fmt.Errorf("open s3 bucket %s: %w", cfg.Bucket, err)
		}
		if created {
			logger.Info("created bucket", "bucket", cfg.Bucket, "endpoint", cfg.Endpoint)
		}
	}
	return b, nil
}

func (b *Bucket) create(ctx context.Context, region string) (bool, error) {
	ok, err := b.client.BucketExists(ctx, b.name)
	if err != nil {
		return false, fmt.Errorf("check bucket: %w", err)
	}
	if ok {
		return false, nil
	}
	err = b.client.MakeBucket(ctx, b.name, minio.MakeBucketOptions{Region: region})
	if err != nil {
		switch minio.ToErrorResponse(err).Code {
		case minio.BucketAlreadyOwnedByYou, minio.BucketAlreadyExists:
			return false, nil // created meanwhile by someone else
		}
		return false, fmt.Errorf("create bucket: %w", err)
	}
	return true, nil
}

// Name returns the bucket's name.
func (b *Bucket) Name() string { return b.name }

// mapErr wraps err for op on key, turning S3 answers into the bucket
// package's sentinels and a done context into its own error.
func (b *Bucket) mapErr(ctx context.Context, op, key string, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return fmt.Errorf("%s %s: %w", op, key, cerr)
	}
	switch minio.ToErrorResponse(err).Code {
	case minio.NoSuchKey:
		return fmt.Errorf("%s %s: %w", op, key, bucket.ErrNotExist)
	case minio.PreconditionFailed:
		return fmt.Errorf("%s %s: %w", op, key, bucket.ErrExist)
	}
	return fmt.Errorf("%s %s: %w", op, key, err)
}

// start checks what every call checks first.
func start(ctx context.Context, op, key string) error {
	if err := bucket.ValidateKey(key); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s %s: %w", op, key, err)
	}
	return nil
}

// Get opens the whole object with one GET.
func (b *Bucket) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	return b.get(ctx, "get", key, 0, -1)
}

// GetRange opens length bytes at off with one ranged GET (a HEAD when
// length is 0); see bucket.Bucket for the contract.
func (b *Bucket) GetRange(ctx context.Context, key string, off, length int64) (io.ReadCloser, error) {
	if off < 0 {
		return nil, fmt.Errorf("get range %s at %d: %w", key, off, bucket.ErrInvalidRange)
	}
	return b.get(ctx, "get range", key, off, length)
}

func (b *Bucket) get(ctx context.Context, op, key string, off, length int64) (io.ReadCloser, error) {
	if err := start(ctx, op, key); err != nil {
		return nil, err
	}
	if length == 0 {
		// A zero-length range cannot be asked for; only existence matters.
		if _, err := b.Stat(ctx, key); err != nil {
			return nil, err
		}
		return io.NopCloser(bytes.NewReader(nil)), nil
	}
	var opts minio.GetObjectOptions
	toEnd := length < 0 || length > math.MaxInt64-off
	switch {
	case off == 0 && toEnd:
		// The whole object: no Range header.
	case toEnd:
		_ = opts.SetRange(off, 0) // "bytes=off-": cannot fail for off > 0
	default:
		_ = opts.SetRange(off, off+length-1) // cannot fail for 0 <= off <= end
	}
	body, _, _, err := b.core.GetObject(ctx, b.name, b.prefix+key, opts)
	if err != nil {
		if ctx.Err() == nil && minio.ToErrorResponse(err).Code == minio.InvalidRange {
			// 416: the object exists and off is at or past its end.
			return io.NopCloser(bytes.NewReader(nil)), nil
		}
		return nil, b.mapErr(ctx, op, key, err)
	}
	return &drainCloser{body}, nil
}

// drainCloser reads away a little of what is left of a response body
// before closing it, so that the connection goes back to the pool.
type drainCloser struct {
	io.ReadCloser
}

func (d *drainCloser) Close() error {
	_, _ = io.CopyN(io.Discard, d.ReadCloser, drainLimit) // best effort
	return d.ReadCloser.Close()
}

// Stat returns the object's size and modification time with one HEAD.
func (b *Bucket) Stat(ctx context.Context, key string) (bucket.ObjectInfo, error) {
	if err := start(ctx, "stat", key); err != nil {
		return bucket.ObjectInfo{}, err
	}
	info, err := b.client.StatObject(ctx, b.name, b.prefix+key, minio.StatObjectOptions{})
	if err != nil {
		return bucket.ObjectInfo{}, b.mapErr(ctx, "stat", key, err)
	}
	return bucket.ObjectInfo{Key: key, Size: info.Size, Modified: info.LastModified}, nil
}

// Put uploads the object, replacing any object under key.
func (b *Bucket) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	return b.put(ctx, "put", key, r, size, false)
}

// PutIfAbsent uploads the object with If-None-Match: *, so that S3 refuses
// it with ErrExist when key is taken. Objects up to 5 GiB go in one PUT,
// which S3 checks atomically.
func (b *Bucket) PutIfAbsent(ctx context.Context, key string, r io.Reader, size int64) error {
	return b.put(ctx, "put if absent", key, r, size, true)
}

func (b *Bucket) put(ctx context.Context, op, key string, r io.Reader, size int64, noReplace bool) error {
	if err := start(ctx, op, key); err != nil {
		return err
	}
	if size < 0 {
		// minio-go would accept it and buffer a 5 GiB part.
		return fmt.Errorf("%s %s: negative size %d", op, key, size)
	}
	if l, ok := r.(interface{ Len() int }); ok && int64(l.Len()) < size {
		// Caught here, the mismatch costs no request; minio-go would
		// retry the doomed PUT for seconds.
		return fmt.Errorf("%s %s: reader has %d bytes, want %d: %w", op, key, l.Len(), size, io.ErrUnexpectedEOF)
	}
	opts := minio.PutObjectOptions{
		PartSize:    b.partSize,
		ContentType: "application/octet-stream",
	}
	if noReplace {
		opts.SetMatchETagExcept("*")
		opts.DisableMultipart = size <= maxSinglePut
	}
	if _, err := b.client.PutObject(ctx, b.name, b.prefix+key, r, size, opts); err != nil {
		return b.mapErr(ctx, op, key, err)
	}
	return nil
}

// Delete removes the object. S3 does not tell a missing object apart, and
// neither does Delete.
func (b *Bucket) Delete(ctx context.Context, key string) error {
	if err := start(ctx, "delete", key); err != nil {
		return err
	}
	err := b.client.RemoveObject(ctx, b.name, b.prefix+key, minio.RemoveObjectOptions{})
	if err != nil && minio.ToErrorResponse(err).Code != minio.NoSuchKey {
		return b.mapErr(ctx, "delete", key, err)
	}
	return nil
}

// List pages through the keys under prefix in S3's lexical order. Keys that
// bucket.ValidateKey rejects (written by other tools) are skipped, since no
// method could read them.
func (b *Bucket) List(ctx context.Context, prefix string, fn func(bucket.ObjectInfo) error) error {
	if err := bucket.ValidatePrefix(prefix); err != nil {
		return fmt.Errorf("list: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("list %s: %w", prefix, err)
	}
	ctx, cancel := context.WithCancel(ctx) // stops the pager when we return early
	defer cancel()
	opts := minio.ListObjectsOptions{Prefix: b.prefix + prefix, Recursive: true}
	for obj := range b.client.ListObjectsIter(ctx, b.name, opts) {
		if obj.Err != nil {
			return b.mapErr(ctx, "list", prefix, obj.Err)
		}
		key, ok := strings.CutPrefix(obj.Key, b.prefix)
		if !ok || bucket.ValidateKey(key) != nil {
			continue
		}
		if err := fn(bucket.ObjectInfo{Key: key, Size: obj.Size, Modified: obj.LastModified}); err != nil {
			return err
		}
	}
	return nil
}
