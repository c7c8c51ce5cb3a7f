package ingester

import (
	"errors"
	"path/filepath"
	"time"

	"github.com/kubemate/kmlog/format/datafile"
	"github.com/kubemate/kmlog/format/index"
	"github.com/kubemate/kmlog/ingestgw/internal/wal"
)

// Config is the ingester's config.
type Config struct {
	// FlushSize is the raw line bytes at which a tenant/day head is flushed.
	FlushSize int64 `yaml:"flush_size"`
	// FlushAge flushes a head whose oldest entry arrived this long ago.
	FlushAge time.Duration `yaml:"flush_age"`
	// FlushCheckPeriod is how often heads are checked against size and age.
	FlushCheckPeriod time.Duration `yaml:"flush_check_period"`
	// OutOfOrderWindow is how far behind a stream's newest entry an entry
	// may be and still be accepted.
	OutOfOrderWindow time.Duration `yaml:"out_of_order_window"`
	// MaxHeadBytes bounds the bytes held in memory; past it pushes get 503.
	MaxHeadBytes int64 `yaml:"max_head_bytes"`
	// FlushConcurrency is how many heads upload at once.
	FlushConcurrency int `yaml:"flush_concurrency"`
	// RetryMin and RetryMax bound the backoff between failed uploads.
	RetryMin time.Duration `yaml:"retry_min"`
	RetryMax time.Duration `yaml:"retry_max"`
	// UploadTimeout bounds one upload attempt of one head, so that a hung
	// connection does not hold an upload slot.
	UploadTimeout time.Duration `yaml:"upload_timeout"`
	// StopTimeout bounds the flush on shutdown; what it cannot upload
	// stays in the WAL and is replayed on the next start.
	StopTimeout time.Duration `yaml:"stop_timeout"`
	// QuarantineDir keeps the heads whose upload failed permanently (for
	// example an object key the bucket refuses), one file per head, until
	// a later start uploads them. Empty means <wal.dir>/quarantine.
	QuarantineDir string `yaml:"quarantine_dir"`
	// ReplicationFactor and the ring size turn the tenant's global stream
	// limit into this ingester's share of it.
	ReplicationFactor int `yaml:"replication_factor"`
	// DataFile tunes the Parquet writer.
	DataFile datafile.Config `yaml:"datafile"`
	// Index tunes the index (its token filter).
	Index index.Config `yaml:"index"`
	// WAL is the write-ahead log Open opens.
	WAL wal.Config `yaml:"wal"`
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{
		FlushSize:         64 << 20,
		FlushAge:          15 * time.Minute,
		FlushCheckPeriod:  10 * time.Second,
		OutOfOrderWindow:  time.Hour,
		MaxHeadBytes:      2 << 30,
		FlushConcurrency:  2,
		RetryMin:          500 * time.Millisecond,
		RetryMax:          30 * time.Second,
		UploadTimeout:     5 * time.Minute,
		StopTimeout:       time.Minute,
		ReplicationFactor: 3,
		DataFile:          datafile.DefaultConfig(),
		Index:             index.DefaultConfig(),
		WAL:               wal.DefaultConfig(),
	}
}

// quarantineDir is where permanently failed heads are kept.
func (c Config) quarantineDir() string {
	if c.QuarantineDir != "" {
		return c.QuarantineDir
	}
	return filepath.Join(c.WAL.Dir, "quarantine")
}

// Validate names the first bad field.
func (c Config) Validate() error {
	switch {
	case c.FlushSize <= 0:
		return errors.New("flush_size: must be positive")
	case c.FlushAge <= 0:
		return errors.New("flush_age: must be positive")
	case c.FlushCheckPeriod <= 0:
		return errors.New("flush_check_period: must be positive")
	case c.OutOfOrderWindow < 0:
		return errors.New("out_of_order_window: must not be negative")
	case c.MaxHeadBytes < c.FlushSize:
		return errors.New("max_head_bytes: must be at least flush_size")
	case c.FlushConcurrency < 1:
		return errors.New("flush_concurrency: must be at least 1")
	case c.RetryMin <= 0 || c.RetryMax < c.RetryMin:
		return errors.New("retry_min, retry_max: want 0 < retry_min <= retry_max")
	case c.UploadTimeout <= 0:
		return errors.New("upload_timeout: must be positive")
	case c.StopTimeout <= 0:
		return errors.New("stop_timeout: must be positive")
	case c.ReplicationFactor < 1:
		return errors.New("replication_factor: must be at least 1")
	}
	if err := c.DataFile.Validate(); err != nil {
		return err
	}
	if err := c.WAL.Validate(); err != nil {
		return err
	}
	return nil
}
