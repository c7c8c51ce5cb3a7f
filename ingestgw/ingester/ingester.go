package ingester

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/kubemate/kmlog/format/bucket"
	"github.com/kubemate/kmlog/format/labels"
	"github.com/kubemate/kmlog/format/objkey"
	"github.com/kubemate/kmlog/format/push"
	"github.com/kubemate/kmlog/format/tenant"
	"github.com/kubemate/kmlog/ingestgw/internal/wal"
	"github.com/kubemate/kmlog/ingestgw/limits"
)

// WAL is the write-ahead log the ingester needs (ingestgw/internal/wal).
type WAL interface {
	// Append makes rec durable before returning nil.
	Append(ctx context.Context, rec []byte) error
	// Replay calls fn for every record in order.
	Replay(fn func(segment int, rec []byte) error) error
	// Roll starts a new segment and returns its number; every record
	// acknowledged before Roll returns is in a lower segment.
	Roll() (int, error)
	// RemoveBefore deletes the segments numbered below segment.
	RemoveBefore(segment int) error
}

// StatusError is a push answer with an HTTP status: 400 and 429 mean the
// rest of the push was stored; 503 means nothing was.
type StatusError struct {
	Code int
	Msg  string
}

func (e *StatusError) Error() string   { return e.Msg }
func (e *StatusError) StatusCode() int { return e.Code }

// ErrNotReady is returned while the WAL is being replayed.
var ErrNotReady = &StatusError{Code: http.StatusServiceUnavailable, Msg: "ingester is not ready: replaying its WAL"}

// Ingester holds recent data; see the package doc.
type Ingester struct {
	cfg      Config
	bkt      bucket.Bucket
	wal      WAL
	limits   *limits.Overrides
	ringSize func() int
	logger   *slog.Logger
	now      func() time.Time
	closeWAL func() error // set by Open

	mu       sync.Mutex
	ready    bool
	tenants  map[tenant.ID]*tenantState
	heads    map[headKey]*head
	flushing []*head       // sealed, uploading; still queried
	inflight map[int]int   // WAL segment -> pushes between WAL append and head apply
	curSeg   int           // lower bound of the WAL segment new records go to
	memBytes int64         // bytes held in heads and flushing
	queue    []*head       // sealed heads waiting for an upload loop (or Stop)
	queued   chan struct{} // signalled when queue gains a head
	kick     chan struct{}
	uploads  map[*head]*upload // every sealed head not yet uploaded or quarantined
	busy     int               // uploads in progress
	stopRun  context.CancelFunc
	loops    sync.WaitGroup // Start's flush and upload loops

	m metrics
}

type headKey struct {
	tenant tenant.ID
	day    objkey.Day
}

// tenantState is what the ingester knows of a tenant's streams across days.
type tenantState struct {
	streams map[string]*streamState
}

type streamState struct {
	maxTs    int64
	lastSeen time.Time
	rate     tokenBucket
}

type metrics struct {
	memory        prometheus.Gauge
	streams       prometheus.Gauge
	received      prometheus.Counter
	receivedBytes prometheus.Counter
	rejected      *prometheus.CounterVec
	flushes       *prometheus.CounterVec
	flushBytes    prometheus.Counter
	flushDur      prometheus.Histogram
	uploadErrs    prometheus.Counter
	quarantined   prometheus.Counter
	quarantineNow prometheus.Gauge
}

// New returns an ingester; Start replays its WAL and starts flushing.
// ringSize reports how many ingesters share the tenant stream limit (nil
// means this one alone).
func New(cfg Config, bkt bucket.Bucket, wal WAL, lim *limits.Overrides, ringSize func() int, logger *slog.Logger, reg prometheus.Registerer) (*Ingester, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("ingester config: %w", err)
	}
	if ringSize == nil {
		ringSize = func() int { return 1 }
	}
	f := promauto.With(reg)
	ing := &Ingester{
		cfg: cfg, bkt: bkt, wal: wal, limits: lim, ringSize: ringSize,
		logger:   logger.With("component", "ingester"),
		now:      time.Now,
		tenants:  map[tenant.ID]*tenantState{},
		heads:    map[headKey]*head{},
		inflight: map[int]int{},
		uploads:  map[*head]*upload{},
		queued:   make(chan struct{}, 1),
		kick:     make(chan struct{}, 1),
		m: metrics{
			memory:        f.NewGauge(prometheus.GaugeOpts{Name: "kmlog_ingester_memory_bytes", Help: "Bytes held in heads, flushing or not."}),
			streams:       f.NewGauge(prometheus.GaugeOpts{Name: "kmlog_ingester_streams", Help: "Streams known to the ingester."}),
			received:      f.NewCounter(prometheus.CounterOpts{Name: "kmlog_ingester_received_entries_total", Help: "Entries stored in heads."}),
			receivedBytes: f.NewCounter(prometheus.CounterOpts{Name: "kmlog_ingester_received_bytes_total", Help: "Line bytes stored in heads."}),
			rejected:      f.NewCounterVec(prometheus.CounterOpts{Name: "kmlog_ingester_rejected_entries_total", Help: "Entries rejected, by reason."}, []string{"reason"}),
			flushes:       f.NewCounterVec(prometheus.CounterOpts{Name: "kmlog_ingester_flushes_total", Help: "Heads flushed, by reason."}, []string{"reason"}),
			flushBytes:    f.NewCounter(prometheus.CounterOpts{Name: "kmlog_ingester_flushed_bytes_total", Help: "Bytes of data files uploaded."}),
			flushDur:      f.NewHistogram(prometheus.HistogramOpts{Name: "kmlog_ingester_flush_duration_seconds", Help: "Time to write and upload one head.", Buckets: prometheus.ExponentialBuckets(0.01, 2, 14)}),
			uploadErrs:    f.NewCounter(prometheus.CounterOpts{Name: "kmlog_ingester_upload_failures_total", Help: "Failed upload attempts of a head (transient ones are retried with backoff)."}),
			quarantined:   f.NewCounter(prometheus.CounterOpts{Name: "kmlog_ingester_quarantined_heads_total", Help: "Heads whose upload failed permanently: kept in the quarantine directory, not retried until the next start."}),
			quarantineNow: f.NewGauge(prometheus.GaugeOpts{Name: "kmlog_ingester_quarantined_heads", Help: "Heads in the quarantine directory."}),
		},
	}
	return ing, nil
}

// Open opens the WAL in cfg.WAL.Dir and returns an ingester over it; Stop
// closes the WAL.
func Open(cfg Config, bkt bucket.Bucket, lim *limits.Overrides, ringSize func() int, logger *slog.Logger, reg prometheus.Registerer) (*Ingester, error) {
	w, err := wal.Open(cfg.WAL, logger, reg)
	if err != nil {
		return nil, fmt.Errorf("open WAL: %w", err)
	}
	ing, err := New(cfg, bkt, w, lim, ringSize, logger, reg)
	if err != nil {
		_ = w.Close()
		return nil, err
	}
	ing.closeWAL = w.Close
	return ing, nil
}

// Ready reports whether the WAL has been replayed.
func (ing *Ingester) Ready() bool {
	ing.mu.Lock()
	defer ing.mu.Unlock()
	return ing.ready
}

// Push stores req for tenant t. It returns nil, a *StatusError with 400
// or 429 when some streams or entries were rejected and the rest stored,
// or an error when nothing was acknowledged.
func (ing *Ingester) Push(ctx context.Context, t tenant.ID, req *push.Request) error {
	now := ing.now()
	ing.mu.Lock()
	if !ing.ready {
		ing.mu.Unlock()
		return ErrNotReady
	}
	if ing.memBytes >= ing.cfg.MaxHeadBytes {
		live := len(ing.heads) > 0
		ing.mu.Unlock()
		ing.m.rejected.WithLabelValues("memory_full").Inc()
		if live {
			// Live heads below their size and age would hold the memory
			// until FlushAge; sealed ones are already uploading.
			ing.kickFlush()
		}
		return &StatusError{Code: http.StatusServiceUnavailable, Msg: fmt.Sprintf("ingester holds %d bytes, its limit is %d: retry later", ing.memBytes, ing.cfg.MaxHeadBytes)}
	}
	accepted, rejection := ing.admit(t, req, now)
	seg := ing.curSeg
	ing.inflight[seg]++
	ing.mu.Unlock()

	done := func() {
		ing.inflight[seg]--
		if ing.inflight[seg] == 0 {
			delete(ing.inflight, seg)
		}
	}
	if len(accepted.Streams) > 0 {
		if err := ing.wal.Append(ctx, encodeRecord(t, &accepted)); err != nil {
			ing.mu.Lock()
			done()
			ing.mu.Unlock()
			return fmt.Errorf("append to WAL: %w", err)
		}
	}
	ing.mu.Lock()
	ing.apply(t, &accepted, now, seg)
	done()
	ing.mu.Unlock()
	ing.maybeKick()
	if rejection != nil {
		return rejection
	}
	return nil
}

// admit checks req against each stream's order window, rate and the
// tenant's stream limit, and returns what may be stored. Called with mu.
func (ing *Ingester) admit(t tenant.ID, req *push.Request, now time.Time) (push.Request, *StatusError) {
	lim := ing.limits.For(t)
	ts := ing.tenants[t]
	if ts == nil {
		ts = &tenantState{streams: map[string]*streamState{}}
		ing.tenants[t] = ts
	}
	var out push.Request
	var rej *StatusError
	reject := func(code int, reason, msg string, n int) {
		ing.m.rejected.WithLabelValues(reason).Add(float64(n))
		if rej == nil || code == http.StatusTooManyRequests {
			rej = &StatusError{Code: code, Msg: msg}
		}
	}
	maxStreams := lim.MaxGlobalStreamsPerUser
	if maxStreams > 0 {
		maxStreams = max(1, maxStreams*ing.cfg.ReplicationFactor/max(1, ing.ringSize()))
	}
	window := int64(ing.cfg.OutOfOrderWindow)
	for i := range req.Streams {
		s := &req.Streams[i]
		st := ts.streams[s.Labels]
		if st == nil {
			if maxStreams > 0 && len(ts.streams) >= maxStreams {
				reject(http.StatusTooManyRequests, "stream_limit", fmt.Sprintf(
					"Maximum active stream limit exceeded when trying to create stream %s, reduce the number of active streams (reduce labels or reduce label values), or contact your administrator to see if the limit can be increased, user: '%s'", s.Labels, t), len(s.Entries))
				continue
			}
			st = &streamState{maxTs: -1 << 63}
			ts.streams[s.Labels] = st
			ing.m.streams.Inc()
		}
		st.lastSeen = now
		kept := s.Entries[:0:0]
		size := 0
		for _, e := range s.Entries {
			if window > 0 && st.maxTs != -1<<63 && e.Timestamp < st.maxTs-window {
				reject(http.StatusBadRequest, "too_far_behind", fmt.Sprintf(
					"entry too far behind, entry timestamp is: %s, oldest acceptable timestamp is: %s",
					time.Unix(0, e.Timestamp).UTC().Format(time.RFC3339), time.Unix(0, st.maxTs-window).UTC().Format(time.RFC3339)), 1)
				continue
			}
			kept = append(kept, e)
			size += len(e.Line)
		}
		if len(kept) == 0 {
			continue
		}
		if rate := float64(lim.PerStreamRateLimit); rate > 0 && !st.rate.allow(now, int64(size), rate, max(int64(lim.PerStreamRateLimitBurst), int64(rate))) {
			reject(http.StatusTooManyRequests, "per_stream_rate_limit", fmt.Sprintf(
				"Per stream rate limit exceeded (limit: %d bytes/sec) while attempting to ingest for stream '%s' totaling %d bytes, consider splitting a stream via additional labels or contact your Loki administrator to see if the limit can be increased",
				int64(lim.PerStreamRateLimit), s.Labels, size), len(kept))
			continue
		}
		for _, e := range kept {
			st.maxTs = max(st.maxTs, e.Timestamp)
		}
		out.Streams = append(out.Streams, push.Stream{Labels: s.Labels, Entries: kept})
	}
	return out, rej
}

// apply adds an admitted (or replayed) request to the heads. Called with mu.
func (ing *Ingester) apply(t tenant.ID, req *push.Request, now time.Time, seg int) {
	for i := range req.Streams {
		s := &req.Streams[i]
		var ls labels.Labels
		for _, e := range s.Entries {
			d := objkey.DayOf(e.Timestamp)
			k := headKey{t, d}
			h := ing.heads[k]
			if h == nil {
				h = newHead(t, d, now, seg)
				ing.heads[k] = h
			}
			h.firstSeg = min(h.firstSeg, seg)
			if ls == nil {
				var err error
				if ls, err = labels.Parse(s.Labels); err != nil {
					// The distributor validated it; a replayed record was
					// written by us. Neither can fail to parse.
					panic("BUG: unparsable labels reached the ingester: " + err.Error())
				}
				ls = cloneLabels(ls)
			}
			key := s.Labels
			if hs := h.streams[key]; hs != nil {
				ls = hs.labels
			} else {
				key = ls.String()
			}
			before := h.memBytes()
			if h.add(key, ls, e.Timestamp, e.Line, e.Metadata) {
				ing.m.received.Inc()
				ing.m.receivedBytes.Add(float64(len(e.Line)))
			}
			ing.memBytes += h.memBytes() - before
		}
	}
	ing.m.memory.Set(float64(ing.memBytes))
}

func cloneLabels(ls labels.Labels) labels.Labels {
	out := make(labels.Labels, len(ls))
	for i, l := range ls {
		out[i] = labels.Label{Name: string([]byte(l.Name)), Value: string([]byte(l.Value))}
	}
	return out
}

// maybeKick wakes the flush loop when some head is over its size.
func (ing *Ingester) maybeKick() {
	ing.mu.Lock()
	over := false
	for _, h := range ing.heads {
		if h.bytes >= ing.cfg.FlushSize {
			over = true
			break
		}
	}
	ing.mu.Unlock()
	if over {
		ing.kickFlush()
	}
}

// kickFlush wakes the flush loop.
func (ing *Ingester) kickFlush() {
	select {
	case ing.kick <- struct{}{}:
	default:
	}
}

// WAL records: uvarint tenant length, tenant, then the admitted request in
// push protobuf (not snappy-compressed; the WAL is local).
func encodeRecord(t tenant.ID, req *push.Request) []byte {
	b := make([]byte, 0, binary.MaxVarintLen64+len(t)+push.ProtoSize(req))
	b = binary.AppendUvarint(b, uint64(len(t)))
	b = append(b, t...)
	return push.AppendProto(b, req)
}

var errBadRecord = errors.New("bad WAL record")

func decodeRecord(rec []byte) (tenant.ID, *push.Request, error) {
	n, k := binary.Uvarint(rec)
	if k <= 0 || n > uint64(len(rec)-k) {
		return "", nil, errBadRecord
	}
	t, err := tenant.Parse(string(rec[k : k+int(n)]))
	if err != nil {
		return "", nil, fmt.Errorf("%w: %v", errBadRecord, err)
	}
	req, err := push.DecodeProto(rec[k+int(n):])
	if err != nil {
		return "", nil, fmt.Errorf("%w: %v", errBadRecord, err)
	}
	return t, req, nil
}
