package tail

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"go.yaml.in/yaml/v3"
)

// PositionsConfig configures the positions file. The yaml names are
// Promtail's (positions: {filename, sync_period, ignore_invalid_yaml}).
type PositionsConfig struct {
	// Filename is the positions file; its directory must exist.
	Filename string `yaml:"filename"`
	// SyncPeriod is how often Run writes the file when it changed.
	SyncPeriod time.Duration `yaml:"sync_period"`
	// IgnoreInvalidYAML starts from an empty set when the file does not
	// parse, instead of failing.
	IgnoreInvalidYAML bool `yaml:"ignore_invalid_yaml"`
}

// DefaultPositionsConfig returns Promtail's defaults.
func DefaultPositionsConfig() PositionsConfig {
	return PositionsConfig{Filename: "/var/lib/kmlog-agent/positions.yaml", SyncPeriod: 10 * time.Second}
}

// Validate checks the configuration.
func (c PositionsConfig) Validate() error {
	if c.Filename == "" {
		return errors.New("validate positions config: filename is empty")
	}
	if c.SyncPeriod <= 0 {
		return errors.New("validate positions config: sync_period must be positive")
	}
	return nil
}

// Position is where reading a path resumes: the file's identity and the
// offset just past the last committed line.
type Position struct {
	ID     Identity
	Offset int64
}

// Positions holds the committed position of every tailed path and keeps
// them in the positions file. It is safe for concurrent use.
type Positions struct {
	cfg    PositionsConfig
	logger *slog.Logger

	mu    sync.Mutex
	pos   map[string]Position
	dirty bool
	wmu   sync.Mutex // serialises writes of the file
	// soon asks Run to write the file now rather than at the next period:
	// a path got its first position, or moved to another file (rotated).
	// Until then a restart would not know the path, or would look for a
	// file that may be gone, and read only the file now at the path: the
	// unread rest of a rotated file would be lost.
	soon chan struct{}
}

// positionsFile is the YAML shape: Promtail's plus identities.
type positionsFile struct {
	Positions  map[string]string `yaml:"positions"`
	Identities map[string]string `yaml:"identities,omitempty"`
}

// OpenPositions reads cfg.Filename (a missing file is an empty set).
func OpenPositions(cfg PositionsConfig, logger *slog.Logger) (*Positions, error) {
	if cfg.SyncPeriod <= 0 {
		cfg.SyncPeriod = DefaultPositionsConfig().SyncPeriod
	}
	if cfg.Filename == "" {
		return nil, errors.New("open positions: filename is empty")
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	p := &Positions{cfg: cfg, logger: logger, pos: map[string]Position{}, soon: make(chan struct{}, 1)}
	b, err := os.ReadFile(cfg.Filename)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return p, nil
	case err != nil:
		return nil, fmt.Errorf("open positions: %w", err)
	}
	pos, err := parsePositions(b)
	if err != nil {
		if !cfg.IgnoreInvalidYAML {
			return nil, fmt.Errorf("open positions %s: %w", cfg.Filename, err)
		}
		logger.Warn("ignoring invalid positions file", "file", cfg.Filename, "err", err)
		return p, nil
	}
	p.pos = pos
	return p, nil
}

func parsePositions(b []byte) (map[string]Position, error) {
	var f positionsFile
	if err := yaml.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("parse positions: %w", err)
	}
	pos := make(map[string]Position, len(f.Positions))
	for path, s := range f.Positions {
		off, err := strconv.ParseInt(s, 10, 64)
		if err != nil || off < 0 {
			// Promtail keeps journal cursors here too; skip what is not an offset.
			continue
		}
		p := Position{Offset: off}
		if ids, ok := f.Identities[path]; ok {
			id, err := ParseIdentity(ids)
			if err != nil {
				return nil, fmt.Errorf("parse positions: %w", err)
			}
			p.ID = id
		}
		pos[path] = p
	}
	return pos, nil
}

func encodePositions(pos map[string]Position) ([]byte, error) {
	f := positionsFile{Positions: make(map[string]string, len(pos)), Identities: make(map[string]string, len(pos))}
	for path, p := range pos {
		f.Positions[path] = strconv.FormatInt(p.Offset, 10)
		if !p.ID.IsZero() {
			f.Identities[path] = p.ID.String()
		}
	}
	return yaml.Marshal(&f)
}

// Get returns the committed position of path.
func (p *Positions) Get(path string) (Position, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	pos, ok := p.pos[path]
	return pos, ok
}

// Commit records that every line of path's file id up to offset is
// durably stored downstream (in the WAL). Call it only then: the next
// start resumes here.
func (p *Positions) Commit(path string, id Identity, offset int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	old, ok := p.pos[path]
	if ok && old.ID == id && old.Offset == offset {
		return
	}
	p.pos[path] = Position{ID: id, Offset: offset}
	p.dirty = true
	if !ok || old.ID != id {
		select {
		case p.soon <- struct{}{}:
		default:
		}
	}
}

// Remove forgets path (its target went away).
func (p *Positions) Remove(path string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.pos[path]; ok {
		delete(p.pos, path)
		p.dirty = true
	}
}

// Sync writes the file atomically if anything changed since the last write.
func (p *Positions) Sync() error {
	p.wmu.Lock()
	defer p.wmu.Unlock()
	p.mu.Lock()
	if !p.dirty {
		p.mu.Unlock()
		return nil
	}
	snap := maps.Clone(p.pos)
	p.dirty = false
	p.mu.Unlock()
	b, err := encodePositions(snap)
	if err == nil {
		err = WriteFileAtomic(p.cfg.Filename, b)
	}
	if err != nil {
		p.mu.Lock()
		p.dirty = true
		p.mu.Unlock()
		return fmt.Errorf("sync positions: %w", err)
	}
	return nil
}

// Run writes the file every sync period until ctx is done, then once more.
// Write errors are logged and retried at the next period.
func (p *Positions) Run(ctx context.Context) error {
	t := time.NewTicker(p.cfg.SyncPeriod)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return p.Sync()
		case <-t.C:
		case <-p.soon:
			// Coalesce a burst of rotations into one write.
			select {
			case <-ctx.Done():
				return p.Sync()
			case <-time.After(min(p.cfg.SyncPeriod, 100*time.Millisecond)):
			}
		}
		if err := p.Sync(); err != nil {
			p.logger.Error("write positions", "file", p.cfg.Filename, "err", err)
		}
	}
}

// Close writes the file a last time.
func (p *Positions) Close() error { return p.Sync() }

// WriteFileAtomic replaces name with b: it writes a temporary file in the
// same directory, fsyncs it, renames it over name and fsyncs the directory,
// so a crash leaves either the old or the new content.
func WriteFileAtomic(name string, b []byte) error {
	dir := filepath.Dir(name)
	f, err := os.CreateTemp(dir, "."+filepath.Base(name)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, name)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return err
	}
	if d, err := os.Open(dir); err == nil {
		err = d.Sync()
		_ = d.Close()
		if err != nil {
			return fmt.Errorf("sync dir %s: %w", dir, err)
		}
	}
	return nil
}
