package s3

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/minio/minio-go/v7/pkg/s3utils"

	"github.com/kubemate/kmlog/format/bucket"
)

// Part sizes that S3 accepts for multipart uploads.
const (
	minPartSize = 5 << 20
	maxPartSize = 5 << 30
)

// Config selects an S3 or MinIO bucket.
type Config struct {
	// Endpoint is host[:port], without a scheme, e.g. "minio:9000" or
	// "s3.eu-west-1.amazonaws.com".
	Endpoint string `yaml:"endpoint"`
	// Bucket is the bucket name.
	Bucket string `yaml:"bucket"`
	// Region is the bucket's region. Set it: an empty region costs a
	// location lookup before the first request.
	Region string `yaml:"region"`
	// AccessKeyID and SecretAccessKey are static credentials. When both
	// are empty, the credentials come from the AWS environment variables
	// or, failing those, from the instance or task role (IAM), as on
	// Lambda.
	AccessKeyID     string `yaml:"access_key_id"`
	SecretAccessKey string `yaml:"secret_access_key"`
	// Insecure talks plain HTTP instead of HTTPS.
	Insecure bool `yaml:"insecure"`
	// Prefix, if set, is put before every key, so that several
	// deployments can share a bucket. It ends with "/" (e.g. "kmlog/") and
	// is at most bucket.MaxPrefixLen bytes.
	Prefix string `yaml:"prefix"`
	// PartSize is the part size of multipart uploads, used for objects
	// larger than it; 0 lets the client choose. Between 5 MiB and 5 GiB.
	PartSize uint64 `yaml:"part_size"`
	// MaxIdleConnsPerHost bounds the kept-alive connections to the
	// endpoint. Queriers issue many ranged GETs in parallel; Go's default
	// of 2 would make most of them open a new connection.
	MaxIdleConnsPerHost int `yaml:"max_idle_conns_per_host"`
	// CreateBucket makes New create the bucket if it does not exist.
	CreateBucket bool `yaml:"create_bucket"`
}

// DefaultConfig returns the defaults; Endpoint and Bucket still need to be
// set.
func DefaultConfig() Config {
	return Config{
		Region:              "us-east-1",
		PartSize:            16 << 20,
		MaxIdleConnsPerHost: 100,
	}
}

// Validate reports every problem in c at once.
func (c Config) Validate() error {
	var errs []error
	switch {
	case c.Endpoint == "":
		errs = append(errs, errors.New("endpoint is required"))
	case strings.Contains(c.Endpoint, "://"):
		errs = append(errs, fmt.Errorf("endpoint %q: give host[:port] without a scheme (set insecure for plain HTTP)", c.Endpoint))
	case strings.ContainsAny(c.Endpoint, "/?#"):
		errs = append(errs, fmt.Errorf("endpoint %q: give host[:port] without a path", c.Endpoint))
	}
	if c.Bucket == "" {
		errs = append(errs, errors.New("bucket is required"))
	} else if err := s3utils.CheckValidBucketNameStrict(c.Bucket); err != nil {
		errs = append(errs, fmt.Errorf("bucket %q: %w", c.Bucket, err))
	}
	if c.Prefix != "" {
		if len(c.Prefix) > bucket.MaxPrefixLen {
			errs = append(errs, fmt.Errorf("prefix %q: longer than %d bytes", c.Prefix, bucket.MaxPrefixLen))
		} else if !strings.HasSuffix(c.Prefix, "/") {
			errs = append(errs, fmt.Errorf("prefix %q: must end with /", c.Prefix))
		} else if err := bucket.ValidateKey(strings.TrimSuffix(c.Prefix, "/")); err != nil {
			errs = append(errs, fmt.Errorf("prefix: %w", err))
		}
	}
	if (c.AccessKeyID == "") != (c.SecretAccessKey == "") {
		errs = append(errs, errors.New("access_key_id and secret_access_key go together: set both or neither"))
	}
	if c.PartSize != 0 && (c.PartSize < minPartSize || c.PartSize > maxPartSize) {
		errs = append(errs, fmt.Errorf("part_size %d: must be 0 or between %d and %d", c.PartSize, minPartSize, uint64(maxPartSize)))
	}
	if c.MaxIdleConnsPerHost < 0 {
		errs = append(errs, fmt.Errorf("max_idle_conns_per_host %d: must not be negative", c.MaxIdleConnsPerHost))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("validate s3 config: %w", err)
	}
	return nil
}

// LogValue logs the config without the secret key.
func (c Config) LogValue() slog.Value {
	secret := ""
	if c.SecretAccessKey != "" {
		secret = "<redacted>"
	}
	return slog.GroupValue(
		slog.String("endpoint", c.Endpoint),
		slog.String("bucket", c.Bucket),
		slog.String("region", c.Region),
		slog.String("access_key_id", c.AccessKeyID),
		slog.String("secret_access_key", secret),
		slog.Bool("insecure", c.Insecure),
		slog.String("prefix", c.Prefix),
		slog.Uint64("part_size", c.PartSize),
		slog.Int("max_idle_conns_per_host", c.MaxIdleConnsPerHost),
		slog.Bool("create_bucket", c.CreateBucket),
	)
}
