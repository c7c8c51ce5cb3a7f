package distributor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/kubemate/kmlog/format/push"
	"github.com/kubemate/kmlog/format/tenant"
	"github.com/kubemate/kmlog/ingestgw/limits"
	"github.com/kubemate/kmlog/ingestgw/ring"
)

// Config is the distributor's config.
type Config struct {
	ReplicationFactor int           `yaml:"replication_factor"`
	MaxRecvMsgSize    int64         `yaml:"max_recv_msg_size"` // decompressed push body cap
	PushTimeout       time.Duration `yaml:"push_timeout"`      // per ingester request
}

// DefaultConfig is RF 3 with a 100 MiB body cap and a 5 s ingester timeout.
func DefaultConfig() Config {
	return Config{ReplicationFactor: 3, MaxRecvMsgSize: 100 << 20, PushTimeout: 5 * time.Second}
}

// Validate names the first bad field.
func (c Config) Validate() error {
	switch {
	case c.ReplicationFactor < 1 || c.ReplicationFactor > 8:
		return fmt.Errorf("replication_factor %d: want 1 to 8", c.ReplicationFactor)
	case c.MaxRecvMsgSize <= 0:
		return errors.New("max_recv_msg_size: must be positive")
	case c.PushTimeout <= 0:
		return errors.New("push_timeout: must be positive")
	}
	return nil
}

// Ingester is one replica target. Push stores the request's streams
// durably (or fails); the request's Labels are canonical label strings.
// Implementations must not keep req after returning.
type Ingester interface {
	Push(ctx context.Context, t tenant.ID, req *push.Request) error
}

// StatusError is an error that carries an HTTP status. An Ingester returns
// one with a 4xx status when it stored the valid part of a request and
// rejected the rest (too old for its stream, stream or rate limits): that
// replica counts towards the quorum, and the push answers with the status.
type StatusError interface {
	error
	StatusCode() int
}

// Clients returns the Ingester for a ring member name.
type Clients interface {
	Ingester(member string) (Ingester, error)
}

// Errors callers branch on. Their messages are Loki's texts.
var (
	// ErrNoStreams: the push held no streams (422).
	ErrNoStreams = errors.New("error at least one stream is required per push request")
	// ErrNoIngesters: the ring is empty (503).
	ErrNoIngesters = errors.New("no ingesters in the ring")
)

// RateLimitedError is a tenant over its ingestion rate (429).
type RateLimitedError struct{ Msg string }

func (e *RateLimitedError) Error() string { return e.Msg }

// ValidationError lists the rejected streams and entries of a push whose
// valid part was kept (400).
type ValidationError struct {
	Rejected int      // entries rejected
	Messages []string // Loki's messages, at most maxMessages
}

const maxMessages = 10

func (e *ValidationError) Error() string { return strings.Join(e.Messages, "\n") }

// QuorumError is a stream that could not reach a quorum of ingesters (503).
type QuorumError struct {
	Stream string
	Errs   []error
}

func (e *QuorumError) Error() string {
	return fmt.Sprintf("push stream %s: no quorum of ingesters: %v", e.Stream, errors.Join(e.Errs...))
}

func (e *QuorumError) Unwrap() []error { return e.Errs }

// Distributor validates, limits and replicates pushes.
type Distributor struct {
	cfg     Config
	limits  *limits.Overrides
	ring    *ring.Ring
	clients Clients
	logger  *slog.Logger
	now     func() time.Time

	mu       sync.Mutex
	limiters map[tenant.ID]*tokenBucket

	received    *prometheus.CounterVec
	receivedB   *prometheus.CounterVec
	discarded   *prometheus.CounterVec
	discardedB  *prometheus.CounterVec
	replicaErrs *prometheus.CounterVec
	pushDur     prometheus.Histogram
}

// New returns a distributor. reg receives its metrics.
func New(cfg Config, lim *limits.Overrides, r *ring.Ring, clients Clients, logger *slog.Logger, reg prometheus.Registerer) (*Distributor, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("distributor config: %w", err)
	}
	f := promauto.With(reg)
	return &Distributor{
		cfg: cfg, limits: lim, ring: r, clients: clients, logger: logger.With("component", "distributor"),
		now:      time.Now,
		limiters: map[tenant.ID]*tokenBucket{},
		received: f.NewCounterVec(prometheus.CounterOpts{
			Name: "kmlog_distributor_received_entries_total", Help: "Entries accepted by the distributor.",
		}, []string{"tenant"}),
		receivedB: f.NewCounterVec(prometheus.CounterOpts{
			Name: "kmlog_distributor_received_bytes_total", Help: "Line bytes accepted by the distributor.",
		}, []string{"tenant"}),
		discarded: f.NewCounterVec(prometheus.CounterOpts{
			Name: "kmlog_distributor_discarded_entries_total", Help: "Entries rejected, by reason.",
		}, []string{"tenant", "reason"}),
		discardedB: f.NewCounterVec(prometheus.CounterOpts{
			Name: "kmlog_distributor_discarded_bytes_total", Help: "Line bytes rejected, by reason.",
		}, []string{"tenant", "reason"}),
		replicaErrs: f.NewCounterVec(prometheus.CounterOpts{
			Name: "kmlog_distributor_ingester_push_failures_total", Help: "Failed pushes to one ingester.",
		}, []string{"ingester"}),
		pushDur: f.NewHistogram(prometheus.HistogramOpts{
			Name: "kmlog_distributor_push_duration_seconds", Help: "Time to reach quorum for a push.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}),
	}, nil
}

// Push validates req, rate-limits it and replicates it. A returned
// *ValidationError means the valid part was stored; every other error
// means nothing was acknowledged.
func (d *Distributor) Push(ctx context.Context, t tenant.ID, req *push.Request) error {
	if len(req.Streams) == 0 {
		return ErrNoStreams
	}
	lim := d.limits.For(t)
	now := d.now()
	nowNs := now.UnixNano()

	var verr *ValidationError
	reject := func(v *validationError, entries int, bytes int) {
		if verr == nil {
			verr = &ValidationError{}
		}
		verr.Rejected += entries
		if len(verr.Messages) < maxMessages {
			verr.Messages = append(verr.Messages, v.msg)
		}
		d.discarded.WithLabelValues(string(t), v.reason).Add(float64(entries))
		d.discardedB.WithLabelValues(string(t), v.reason).Add(float64(bytes))
	}

	streams := make([]validStream, 0, len(req.Streams))
	var entries, bytes int
	for i := range req.Streams {
		s := &req.Streams[i]
		ls, v := validateLabels(lim, s)
		if v != nil {
			reject(v, len(s.Entries), entryBytes(s.Entries))
			continue
		}
		text := ls.String()
		kept := s.Entries[:0:0]
		for j := range s.Entries {
			e := s.Entries[j]
			if v := validateEntry(lim, text, &e, nowNs); v != nil {
				reject(v, 1, len(e.Line))
				continue
			}
			kept = append(kept, e)
		}
		if len(kept) == 0 {
			continue
		}
		for _, e := range kept {
			bytes += len(e.Line)
		}
		entries += len(kept)
		streams = append(streams, validStream{labels: ls, text: text, hash: ls.Hash(), entries: kept})
	}
	if len(streams) == 0 {
		if verr != nil {
			return verr
		}
		return nil
	}

	if !d.limiter(t).allow(now, int64(bytes), lim.IngestionRate(), lim.IngestionBurst()) {
		v := &validationError{reasonRateLimited, fmt.Sprintf(
			"Ingestion rate limit exceeded for user %s (limit: %d bytes/sec) while attempting to ingest '%d' lines totaling '%d' bytes, reduce log volume or contact your Loki administrator to see if the limit can be increased",
			t, int64(lim.IngestionRate()), entries, bytes)}
		d.discarded.WithLabelValues(string(t), v.reason).Add(float64(entries))
		d.discardedB.WithLabelValues(string(t), v.reason).Add(float64(bytes))
		return &RateLimitedError{Msg: v.msg}
	}

	start := time.Now()
	rejected, err := d.replicate(ctx, t, streams)
	if err != nil {
		return err
	}
	d.pushDur.Observe(time.Since(start).Seconds())
	d.received.WithLabelValues(string(t)).Add(float64(entries))
	d.receivedB.WithLabelValues(string(t)).Add(float64(bytes))
	if rejected != nil {
		if rejected.StatusCode() == 429 {
			return &RateLimitedError{Msg: rejected.Error()}
		}
		if verr == nil {
			verr = &ValidationError{}
		}
		verr.Messages = append(verr.Messages, rejected.Error())
	}
	if verr != nil {
		return verr
	}
	return nil
}

func entryBytes(es []push.Entry) int {
	n := 0
	for _, e := range es {
		n += len(e.Line)
	}
	return n
}

func (d *Distributor) limiter(t tenant.ID) *tokenBucket {
	d.mu.Lock()
	defer d.mu.Unlock()
	b, ok := d.limiters[t]
	if !ok {
		b = &tokenBucket{}
		d.limiters[t] = b
	}
	return b
}

// streamTracker counts one stream's replica outcomes.
type streamTracker struct {
	text      string
	quorum    int // of the replicas the ring gave this stream
	maxFail   int
	succeeded int
	failed    int
	errs      []error
}

// replicate sends each stream to its RF ingesters and returns once every
// stream has a quorum, or an error once some stream cannot reach one. A
// replica's 4xx answer (it stored the valid part) counts towards the
// quorum and is returned as rejected.
func (d *Distributor) replicate(ctx context.Context, t tenant.ID, streams []validStream) (rejected StatusError, err error) {
	rf := d.cfg.ReplicationFactor

	// Group the streams by ingester.
	type batch struct {
		req     push.Request
		streams []int // indexes into trackers
	}
	batches := map[string]*batch{}
	trackers := make([]streamTracker, len(streams))
	var dst []string
	for i := range streams {
		s := &streams[i]
		trackers[i].text = s.text
		// The quorum follows from the replicas this one lookup returned:
		// the ring may change between calls, and a quorum counted from an
		// earlier member count could never be reached.
		dst = d.ring.Get(ring.Key(t, s.hash), rf, dst[:0])
		if len(dst) == 0 {
			return nil, ErrNoIngesters
		}
		trackers[i].quorum = len(dst)/2 + 1
		trackers[i].maxFail = len(dst) - trackers[i].quorum
		for _, m := range dst {
			b := batches[m]
			if b == nil {
				b = &batch{}
				batches[m] = b
			}
			b.req.Streams = append(b.req.Streams, push.Stream{Labels: s.text, Entries: s.entries})
			b.streams = append(b.streams, i)
		}
	}

	var (
		mu      sync.Mutex
		pending = len(streams) // streams not yet decided
		failed  error
		partial StatusError // a replica's 4xx: stored, with rejections to report
		done    = make(chan struct{})
	)
	finish := func(err error) {
		if failed == nil && err != nil {
			failed = err
		}
		select {
		case <-done:
		default:
			close(done)
		}
	}
	// The sends outlive a push that returned at quorum; they run under their
	// own timeout, detached from the caller's cancellation.
	sendCtx := context.WithoutCancel(ctx)
	for member, b := range batches {
		go func() {
			err := d.send(sendCtx, member, t, &b.req)
			mu.Lock()
			defer mu.Unlock()
			if se, ok := errors.AsType[StatusError](err); ok && se.StatusCode() >= 400 && se.StatusCode() < 500 {
				if partial == nil {
					partial = se
				}
				err = nil
			}
			if err != nil {
				d.replicaErrs.WithLabelValues(member).Inc()
			}
			for _, i := range b.streams {
				tr := &trackers[i]
				if tr.succeeded >= tr.quorum || tr.failed > tr.maxFail {
					continue // already decided
				}
				if err == nil {
					tr.succeeded++
					if tr.succeeded == tr.quorum {
						pending--
						if pending == 0 {
							finish(nil)
						}
					}
					continue
				}
				tr.failed++
				tr.errs = append(tr.errs, fmt.Errorf("%s: %w", member, err))
				if tr.failed > tr.maxFail {
					finish(&QuorumError{Stream: tr.text, Errs: tr.errs})
				}
			}
		}()
	}
	select {
	case <-done:
	case <-ctx.Done():
		return nil, fmt.Errorf("push: %w", context.Cause(ctx))
	}
	mu.Lock()
	defer mu.Unlock()
	return partial, failed
}

func (d *Distributor) send(ctx context.Context, member string, t tenant.ID, req *push.Request) error {
	ing, err := d.clients.Ingester(member)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, d.cfg.PushTimeout)
	defer cancel()
	return ing.Push(ctx, t, req)
}
