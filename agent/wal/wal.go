package wal

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kubemate/kmlog/format/push"
)

// Full policies.
const (
	PolicyBlock      = "block"
	PolicyDropOldest = "drop_oldest"
)

// Sync policies.
const (
	SyncAlways   = "always"
	SyncInterval = "interval"
)

// Config configures the WAL.
type Config struct {
	// Dir holds the segments and cursors; it is created if missing.
	Dir string `yaml:"dir"`
	// SegmentSize is the size at which a new segment is started.
	SegmentSize int64 `yaml:"segment_size_bytes"`
	// MaxSizeBytes bounds the total size of the segments.
	MaxSizeBytes int64 `yaml:"max_size_bytes"`
	// FullPolicy is what Append does when MaxSizeBytes is reached:
	// "block" or "drop_oldest" (see the package doc).
	FullPolicy string `yaml:"full_policy"`
	// Sync is "always" (fsync before Append returns) or "interval".
	Sync string `yaml:"sync"`
	// SyncInterval is the fsync period with Sync "interval".
	SyncInterval time.Duration `yaml:"sync_interval"`
	// CursorSyncInterval is how often acknowledged cursors are written
	// and fully acknowledged segments deleted.
	CursorSyncInterval time.Duration `yaml:"cursor_sync_interval"`
}

// DefaultConfig returns the defaults: 16 MiB segments, 1 GiB in all,
// blocking when full, fsync on every Append.
func DefaultConfig() Config {
	return Config{
		Dir:                "/var/lib/kmlog-agent/wal",
		SegmentSize:        16 << 20,
		MaxSizeBytes:       1 << 30,
		FullPolicy:         PolicyBlock,
		Sync:               SyncAlways,
		SyncInterval:       time.Second,
		CursorSyncInterval: time.Second,
	}
}

// Validate checks the configuration.
func (c Config) Validate() error {
	switch {
	case c.Dir == "":
		return errors.New("validate wal config: dir is empty")
	case c.SegmentSize < 4096:
		return errors.New("validate wal config: segment_size_bytes must be at least 4096")
	case c.MaxSizeBytes < 2*c.SegmentSize:
		return errors.New("validate wal config: max_size_bytes must be at least twice segment_size_bytes")
	case c.FullPolicy != PolicyBlock && c.FullPolicy != PolicyDropOldest:
		return fmt.Errorf("validate wal config: full_policy %q: want block or drop_oldest", c.FullPolicy)
	case c.Sync != SyncAlways && c.Sync != SyncInterval:
		return fmt.Errorf("validate wal config: sync %q: want always or interval", c.Sync)
	case c.Sync == SyncInterval && c.SyncInterval <= 0:
		return errors.New("validate wal config: sync_interval must be positive")
	case c.CursorSyncInterval <= 0:
		return errors.New("validate wal config: cursor_sync_interval must be positive")
	}
	return nil
}

// Options are the WAL's dependencies; the zero value is usable.
type Options struct {
	Logger     *slog.Logger
	Registerer prometheus.Registerer
}

// Errors.
var (
	// ErrClosed is returned by Append and Reader.Next after Close.
	ErrClosed = errors.New("wal closed")
	// ErrTooLarge is returned by Append for a record above MaxRecordSize
	// or MaxSizeBytes.
	ErrTooLarge = errors.New("wal record too large")
	// ErrUnknownClient is returned by NewReader for a client not given
	// to Open.
	ErrUnknownClient = errors.New("wal client not configured")
)

// segment is what the WAL knows of one segment file.
type segment struct {
	index   uint64
	size    int64
	tenants map[string]tenantInfo
}

// tenantInfo is what a segment holds of one tenant.
type tenantInfo struct {
	entries int
	last    int64 // end offset of the tenant's last record
}

// WAL is the write-ahead log. Append and NewReader are safe for concurrent
// use; each Reader belongs to one goroutine.
type WAL struct {
	cfg    Config
	logger *slog.Logger
	m      *metrics

	mu        sync.Mutex
	segs      []*segment // ascending; the last is the head
	head      *os.File
	total     int64
	seq       uint64 // appends written
	closed    bool
	appended  chan struct{} // closed and replaced on every append
	freed     chan struct{} // closed and replaced when segments are deleted
	newTenant chan struct{} // closed and replaced when a tenant first appears
	tenants   map[string]struct{}
	clients   []string
	cursors   map[cursorKey]Pos
	dirty     bool
	fullSince time.Time // zero when not blocked

	syncMu sync.Mutex
	synced uint64 // appends covered by an fsync

	kick      chan struct{}
	done      chan struct{}
	wg        sync.WaitGroup
	persisted map[cursorKey]Pos // cursors as last written
}

// Open opens (or creates) the WAL in cfg.Dir for the named clients,
// repairs torn segment tails, and starts a new head segment. Cursors of
// clients not named are forgotten.
func Open(cfg Config, clients []string, opts Options) (*WAL, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("open wal: %w", err)
	}
	w := &WAL{
		cfg:       cfg,
		logger:    opts.Logger.With("component", "wal"),
		m:         newMetrics(opts.Registerer),
		appended:  make(chan struct{}),
		freed:     make(chan struct{}),
		newTenant: make(chan struct{}),
		tenants:   map[string]struct{}{},
		clients:   slices.Compact(slices.Sorted(slices.Values(clients))),
		kick:      make(chan struct{}, 1),
		done:      make(chan struct{}),
	}
	cur, err := readCursors(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("open wal: %w", err)
	}
	w.cursors = map[cursorKey]Pos{}
	for k, p := range cur {
		if slices.Contains(w.clients, k.client) {
			w.cursors[k] = p
			w.tenants[k.tenant] = struct{}{}
		}
	}
	if err := w.load(); err != nil {
		return nil, err
	}
	next := uint64(1)
	if len(w.segs) > 0 {
		next = w.segs[len(w.segs)-1].index + 1
	}
	if err := w.createHead(next); err != nil {
		return nil, err
	}
	w.persisted = maps.Clone(w.cursors)
	w.deleteAcked(w.persisted)
	w.updateGauges()
	w.wg.Add(1)
	go w.background()
	return w, nil
}

func segName(index uint64) string { return fmt.Sprintf("%016d.seg", index) }

func (w *WAL) segPath(index uint64) string { return filepath.Join(w.cfg.Dir, segName(index)) }

// load scans the existing segments, cutting torn or corrupt tails.
func (w *WAL) load() error {
	ents, err := os.ReadDir(w.cfg.Dir)
	if err != nil {
		return fmt.Errorf("open wal: %w", err)
	}
	for _, e := range ents {
		name := e.Name()
		if strings.HasPrefix(name, ".") && strings.Contains(name, ".tmp") {
			_ = os.Remove(filepath.Join(w.cfg.Dir, name)) // an interrupted atomic write
			continue
		}
		base, ok := strings.CutSuffix(name, ".seg")
		if !ok {
			continue
		}
		index, err := strconv.ParseUint(base, 10, 64)
		if err != nil || index == 0 {
			continue
		}
		s, err := w.scan(index)
		if err != nil {
			return err
		}
		if s != nil {
			w.segs = append(w.segs, s)
			w.total += s.size
		}
	}
	slices.SortFunc(w.segs, func(a, b *segment) int { return cmpUint(a.index, b.index) })
	return nil
}

func cmpUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// scan reads one segment, truncating it after its last valid record. A
// segment without a valid header is removed (nil, nil).
func (w *WAL) scan(index uint64) (*segment, error) {
	path := w.segPath(index)
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("open wal: %w", err)
	}
	if err := checkHeader(b); err != nil {
		w.logger.Warn("removing wal segment with a bad header", "segment", path, "err", err)
		w.m.corruptBytes.Add(float64(len(b)))
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("open wal: %w", err)
		}
		return nil, nil
	}
	s, good, err := scanRecords(b)
	s.index = index
	if err != nil {
		w.logger.Warn("cutting torn wal segment", "segment", path, "offset", good, "cut_bytes", len(b)-good, "err", err)
		w.m.corruptBytes.Add(float64(len(b) - good))
		if err := os.Truncate(path, int64(good)); err != nil {
			return nil, fmt.Errorf("open wal: repair %s: %w", path, err)
		}
	}
	for t := range s.tenants {
		w.tenants[t] = struct{}{}
	}
	return s, nil
}

// scanRecords walks the records after the header. It returns the segment
// summary, the length of the valid prefix, and the error that stopped it
// (nil when every byte was valid).
func scanRecords(b []byte) (*segment, int, error) {
	s := &segment{tenants: map[string]tenantInfo{}}
	off := headerLen
	for off < len(b) {
		body, n, err := nextRecord(b[off:])
		if err == nil {
			var tenant string
			var entries int
			tenant, entries, _, err = decodeBody(body)
			if err == nil {
				off += n
				ti := s.tenants[tenant]
				s.tenants[tenant] = tenantInfo{entries: ti.entries + entries, last: int64(off)}
				continue
			}
		}
		s.size = int64(off)
		return s, off, err
	}
	s.size = int64(off)
	return s, off, nil
}

// createHead starts segment index as the head. Called with mu held or
// before the WAL is shared.
func (w *WAL) createHead(index uint64) error {
	path := w.segPath(index)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("create wal segment: %w", err)
	}
	if _, err := f.Write(appendHeader(nil)); err != nil {
		_ = f.Close()
		return fmt.Errorf("create wal segment: %w", err)
	}
	if err := f.Sync(); err == nil {
		err = syncDir(w.cfg.Dir)
	}
	if err != nil {
		_ = f.Close()
		return fmt.Errorf("create wal segment: %w", err)
	}
	w.head = f
	w.segs = append(w.segs, &segment{index: index, size: headerLen, tenants: map[string]tenantInfo{}})
	w.total += headerLen
	return nil
}

// roll seals the head (fsynced) and starts the next one. mu held.
func (w *WAL) roll() error {
	old := w.head
	start := time.Now()
	if err := old.Sync(); err != nil {
		return fmt.Errorf("sync wal segment: %w", err)
	}
	w.m.fsync.Observe(time.Since(start).Seconds())
	// Everything written so far is durable now.
	w.syncedUpTo(w.seq)
	if err := old.Close(); err != nil {
		return fmt.Errorf("close wal segment: %w", err)
	}
	return w.createHead(w.segs[len(w.segs)-1].index + 1)
}

func (w *WAL) headSeg() *segment { return w.segs[len(w.segs)-1] }

// Append writes one record: tenant's streams. It returns once the record
// is durable by the sync policy. When the WAL is full it blocks or drops
// the oldest segments, by the full policy. The streams are not retained.
func (w *WAL) Append(ctx context.Context, tenant string, streams []push.Stream) error {
	entries := 0
	for i := range streams {
		entries += len(streams[i].Entries)
	}
	bp := bufPool.Get().(*[]byte)
	defer func() {
		if cap(*bp) <= maxPooled {
			bufPool.Put(bp)
		}
	}()
	rec := appendRecord((*bp)[:0], tenant, entries, &push.Request{Streams: streams})
	*bp = rec
	if len(rec)-recordHeaderLen > MaxRecordSize || int64(len(rec))+headerLen > w.cfg.MaxSizeBytes/2 {
		return fmt.Errorf("append %d bytes: %w", len(rec), ErrTooLarge)
	}
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return ErrClosed
	}
	if err := w.makeRoom(ctx, int64(len(rec))); err != nil {
		w.mu.Unlock()
		return err
	}
	if h := w.headSeg(); h.size > headerLen && h.size+int64(len(rec)) > w.cfg.SegmentSize {
		if err := w.roll(); err != nil {
			w.mu.Unlock()
			return err
		}
	}
	if _, err := w.head.Write(rec); err != nil {
		w.mu.Unlock()
		// The head may now hold a partial record: Open will cut it.
		return fmt.Errorf("append wal: %w", err)
	}
	h := w.headSeg()
	h.size += int64(len(rec))
	w.total += int64(len(rec))
	ti := h.tenants[tenant]
	h.tenants[tenant] = tenantInfo{entries: ti.entries + entries, last: h.size}
	if _, ok := w.tenants[tenant]; !ok {
		w.tenants[tenant] = struct{}{}
		close(w.newTenant)
		w.newTenant = make(chan struct{})
	}
	w.seq++
	seq := w.seq
	close(w.appended)
	w.appended = make(chan struct{})
	w.m.appendedBytes.Add(float64(len(rec)))
	w.m.appendedEntries.Add(float64(entries))
	w.updateGauges()
	w.mu.Unlock()
	if w.cfg.Sync == SyncAlways {
		return w.syncTo(seq)
	}
	return nil
}

const maxPooled = 8 << 20

var bufPool = sync.Pool{New: func() any { return new([]byte) }}

// makeRoom waits for, or makes, room for n more bytes. mu held; it
// releases and retakes it while waiting.
func (w *WAL) makeRoom(ctx context.Context, n int64) error {
	if w.total+n <= w.cfg.MaxSizeBytes {
		return nil
	}
	w.m.full.Inc()
	if w.cfg.FullPolicy == PolicyDropOldest {
		for w.total+n > w.cfg.MaxSizeBytes && len(w.segs) > 1 {
			w.dropOldest()
		}
		if w.total+n > w.cfg.MaxSizeBytes {
			if err := w.roll(); err != nil {
				return err
			}
			w.dropOldest()
		}
		return nil
	}
	start := time.Now()
	if w.fullSince.IsZero() {
		w.fullSince = start
		w.logger.Warn("wal full, blocking appends until clients acknowledge", "max_size_bytes", w.cfg.MaxSizeBytes)
	}
	defer func() { w.m.blockedSeconds.Add(time.Since(start).Seconds()) }()
	for w.total+n > w.cfg.MaxSizeBytes {
		if w.headSeg().size > headerLen {
			// Seal the head so that it can be deleted once acknowledged.
			if err := w.roll(); err != nil {
				return err
			}
		}
		freed := w.freed
		w.mu.Unlock()
		select {
		case w.kick <- struct{}{}:
		default:
		}
		var err error
		select {
		case <-ctx.Done():
			err = ctx.Err()
		case <-freed:
		case <-w.done:
			err = ErrClosed
		}
		w.mu.Lock()
		if err == nil && w.closed {
			err = ErrClosed
		}
		if err != nil {
			return fmt.Errorf("append wal: wait for space: %w", err)
		}
	}
	if !w.fullSince.IsZero() {
		w.logger.Info("wal has room again", "blocked", time.Since(w.fullSince).String())
		w.fullSince = time.Time{}
	}
	return nil
}

// dropOldest deletes the oldest sealed segment whoever has not read it.
// mu held.
func (w *WAL) dropOldest() {
	s := w.segs[0]
	n := 0
	for _, ti := range s.tenants {
		n += ti.entries
	}
	w.logger.Warn("wal full, dropping oldest segment", "segment", s.index, "entries", n)
	w.m.dropped.Add(float64(n))
	w.removeSeg(0)
}

// removeSeg deletes segs[i]. mu held.
func (w *WAL) removeSeg(i int) {
	s := w.segs[i]
	if err := os.Remove(w.segPath(s.index)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		w.logger.Error("remove wal segment", "segment", s.index, "err", err)
	}
	w.total -= s.size
	w.segs = slices.Delete(w.segs, i, i+1)
	close(w.freed)
	w.freed = make(chan struct{})
	w.updateGauges()
}

func (w *WAL) updateGauges() {
	w.m.diskBytes.Set(float64(w.total))
	w.m.segments.Set(float64(len(w.segs)))
}

// syncTo returns once append number seq is covered by an fsync. Callers
// arriving while another fsync runs share the next one.
func (w *WAL) syncTo(seq uint64) error {
	w.syncMu.Lock()
	defer w.syncMu.Unlock()
	w.mu.Lock()
	if w.synced >= seq {
		w.mu.Unlock()
		return nil
	}
	f, target := w.head, w.seq
	w.mu.Unlock()
	start := time.Now()
	err := f.Sync()
	if errors.Is(err, os.ErrClosed) {
		// roll sealed (and fsynced) this segment meanwhile.
		err = nil
	}
	if err != nil {
		return fmt.Errorf("sync wal: %w", err)
	}
	w.m.fsync.Observe(time.Since(start).Seconds())
	w.mu.Lock()
	w.syncedUpTo(target)
	w.mu.Unlock()
	return nil
}

// syncedUpTo records that appends up to seq are durable. mu held.
func (w *WAL) syncedUpTo(seq uint64) {
	if seq > w.synced {
		w.synced = seq
	}
}

// background writes cursors, deletes acknowledged segments and, with sync
// "interval", fsyncs the head.
func (w *WAL) background() {
	defer w.wg.Done()
	ct := time.NewTicker(w.cfg.CursorSyncInterval)
	defer ct.Stop()
	var st <-chan time.Time
	if w.cfg.Sync == SyncInterval {
		t := time.NewTicker(w.cfg.SyncInterval)
		defer t.Stop()
		st = t.C
	}
	for {
		select {
		case <-w.done:
			return
		case <-st:
			w.mu.Lock()
			seq := w.seq
			w.mu.Unlock()
			if err := w.syncTo(seq); err != nil {
				w.logger.Error("sync wal", "err", err)
			}
		case <-ct.C:
			w.checkpoint()
		case <-w.kick:
			w.checkpoint()
		}
	}
}

// checkpoint writes the cursors if they changed, then deletes the segments
// they fully acknowledge.
func (w *WAL) checkpoint() {
	w.mu.Lock()
	if !w.dirty {
		w.deleteAcked(w.persisted)
		w.mu.Unlock()
		return
	}
	snap := maps.Clone(w.cursors)
	w.dirty = false
	w.mu.Unlock()
	b, err := encodeCursors(snap)
	if err == nil {
		err = writeFileAtomic(filepath.Join(w.cfg.Dir, cursorsName), b)
	}
	if err != nil {
		w.logger.Error("write wal cursors", "err", err)
		w.mu.Lock()
		w.dirty = true
		w.mu.Unlock()
		return
	}
	w.mu.Lock()
	w.persisted = snap
	w.deleteAcked(snap)
	w.mu.Unlock()
}

// deleteAcked deletes every sealed segment in which, by the cursors in
// snap, every client has acknowledged the last record of every tenant.
// mu held.
func (w *WAL) deleteAcked(snap map[cursorKey]Pos) {
	for i := 0; i < len(w.segs)-1; {
		if w.acked(w.segs[i], snap) {
			w.removeSeg(i)
			continue
		}
		i++
	}
}

func (w *WAL) acked(s *segment, snap map[cursorKey]Pos) bool {
	for _, c := range w.clients {
		for t, ti := range s.tenants {
			p, ok := snap[cursorKey{c, t}]
			if !ok || p.Less(Pos{Segment: s.index, Offset: ti.last}) {
				return false
			}
		}
	}
	return true
}

// ack moves the cursor of (client, tenant) forward to p.
func (w *WAL) ack(client, tenant string, p Pos) {
	w.mu.Lock()
	defer w.mu.Unlock()
	k := cursorKey{client, tenant}
	if old, ok := w.cursors[k]; ok && !old.Less(p) {
		return
	}
	w.cursors[k] = p
	w.dirty = true
}

// Tenants returns the tenants that have records or cursors, and a channel
// that is closed when another tenant appears.
func (w *WAL) Tenants() ([]string, <-chan struct{}) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Sorted(maps.Keys(w.tenants)), w.newTenant
}

// Stats are a snapshot of the WAL's size.
type Stats struct {
	Segments int
	Bytes    int64
	// Unsynced is the number of Appends not yet covered by an fsync.
	Unsynced uint64
}

// Stats returns the current size.
func (w *WAL) Stats() Stats {
	w.mu.Lock()
	defer w.mu.Unlock()
	return Stats{Segments: len(w.segs), Bytes: w.total, Unsynced: w.seq - w.synced}
}

// Sync returns once every Append that returned before it is durable: with
// sync "interval" it fsyncs the head now (with "always" there is nothing
// left to do).
func (w *WAL) Sync() error {
	w.mu.Lock()
	seq, closed := w.seq, w.closed
	w.mu.Unlock()
	if closed {
		return ErrClosed
	}
	return w.syncTo(seq)
}

// Close stops the WAL: it writes the cursors, fsyncs and closes the head.
// Blocked Appends and Readers return ErrClosed.
func (w *WAL) Close() error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return nil
	}
	w.closed = true
	w.mu.Unlock()
	close(w.done)
	w.wg.Wait()
	w.checkpoint()
	w.syncMu.Lock()
	defer w.syncMu.Unlock()
	w.mu.Lock()
	defer w.mu.Unlock()
	err := w.head.Sync()
	if cerr := w.head.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("close wal: %w", err)
	}
	return nil
}
