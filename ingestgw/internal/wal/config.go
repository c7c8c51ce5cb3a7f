package wal

import (
	"errors"
	"fmt"
	"time"
)

// FsyncPolicy says when appended records are fsynced; see the package
// documentation for the trade-offs.
type FsyncPolicy string

// Fsync policies.
const (
	FsyncAlways   FsyncPolicy = "always"
	FsyncInterval FsyncPolicy = "interval"
	FsyncNever    FsyncPolicy = "never"
)

// Config configures a WAL.
type Config struct {
	Dir           string        `yaml:"dir"`
	SegmentSize   int64         `yaml:"segment_size"` // bytes
	Fsync         FsyncPolicy   `yaml:"fsync"`
	FsyncInterval time.Duration `yaml:"fsync_interval"` // for FsyncInterval
}

// Limits of Config.SegmentSize.
const (
	MinSegmentSize = 4 << 10
	MaxSegmentSize = 1 << 40
)

// DefaultConfig returns the defaults: 64 MiB segments, fsync before every
// acknowledgement.
func DefaultConfig() Config {
	return Config{
		Dir:           "data/wal",
		SegmentSize:   64 << 20,
		Fsync:         FsyncAlways,
		FsyncInterval: 100 * time.Millisecond,
	}
}

// Validate reports every problem with c.
func (c Config) Validate() error {
	var errs []error
	if c.Dir == "" {
		errs = append(errs, errors.New("wal: dir must be set"))
	}
	if c.SegmentSize < MinSegmentSize || c.SegmentSize > MaxSegmentSize {
		errs = append(errs, fmt.Errorf("wal: segment_size %d is outside [%d, %d]", c.SegmentSize, MinSegmentSize, int64(MaxSegmentSize)))
	}
	switch c.Fsync {
	case FsyncAlways, FsyncNever:
	case FsyncInterval:
		if c.FsyncInterval <= 0 {
			errs = append(errs, fmt.Errorf("wal: fsync_interval must be positive with fsync %q", c.Fsync))
		}
	default:
		errs = append(errs, fmt.Errorf("wal: fsync %q is not one of always, interval, never", c.Fsync))
	}
	return errors.Join(errs...)
}
