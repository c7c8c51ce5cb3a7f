package frontend

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/coder/websocket"

	"github.com/kubemate/kmlog/format/labels"
	"github.com/kubemate/kmlog/format/tenant"
	"github.com/kubemate/kmlog/logql/engine"
	"github.com/kubemate/kmlog/logql/lokijson"
	"github.com/kubemate/kmlog/logql/syntax"
)

// maxDelayFor is Loki's cap on a tail's delay_for, in seconds.
const maxDelayFor = 5

// serveTail upgrades to a WebSocket and sends Loki's tail frames,
// {"streams":[...],"dropped_entries":null}: first the newest `limit`
// lines since `start`, then every TailPollInterval the lines that arrived
// since the last one sent (queried with Recent, so from the ingesters).
func (f *Frontend) serveTail(w http.ResponseWriter, r *http.Request) error {
	t, err := tenantOf(r)
	if err != nil {
		return err
	}
	now := f.now()
	expr, err := syntax.Parse(r.Form.Get("query"))
	if err != nil {
		return err
	}
	if !syntax.IsLogQuery(expr) {
		return badRequest("tail needs a log query")
	}
	limit, err := parseLimit(r, engine.DefaultLimit)
	if err != nil {
		return err
	}
	if lim := f.Limits(t); limit > lim.MaxEntriesLimitPerQuery {
		return &engine.EntriesLimitError{Requested: limit, Limit: lim.MaxEntriesLimitPerQuery}
	}
	var delay time.Duration
	if v := r.Form.Get("delay_for"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return badRequestf("could not parse 'delay_for' parameter: %v", err)
		}
		if n > maxDelayFor {
			return badRequestf("delay_for can't be greater than %d", maxDelayFor)
		}
		delay = time.Duration(n) * time.Second
	}
	start, err := parseTime(r.Form.Get("start"), now.Add(-defaultSince))
	if err != nil {
		return badRequestf("could not parse 'start' parameter: %v", err)
	}
	conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		return nil // Accept has answered the client
	}
	f.tails.Add(1)
	f.m.tails.Inc()
	defer func() {
		f.m.tails.Dec()
		f.tails.Done()
	}()
	ctx, cancel := context.WithTimeout(conn.CloseRead(context.WithoutCancel(r.Context())), f.cfg.TailMaxDuration)
	defer cancel()
	go func() {
		select {
		case <-f.closed:
			cancel()
		case <-ctx.Done():
		}
	}()
	tl := &tailer{f: f, t: t, expr: expr, limit: limit, delay: delay}
	err = tl.run(ctx, conn, start)
	switch {
	case err == nil, errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		conn.Close(websocket.StatusNormalClosure, "")
	default:
		code, msg := errorStatus(err)
		if code >= 500 {
			f.log.Error("tail", "tenant", string(t), "err", err)
		}
		conn.Close(websocket.StatusInternalError, truncate(msg, 120))
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// tailLookback is how late a line may reach the ingesters and still be
// tailed: agents batch for a second or more and retry, so a line can land
// after newer ones were sent. Each poll also rereads this much before the
// newest line sent, and sends what it had not sent.
const tailLookback = 30 * time.Second

type tailer struct {
	f     *Frontend
	t     tenant.ID
	expr  syntax.Expr
	limit int
	delay time.Duration
	// start is where the tail began; last is the newest timestamp sent;
	// sent holds the lines sent within tailLookback of last, by stream,
	// time and line, so that no poll sends one twice.
	start int64
	last  int64
	sent  map[sentKey]struct{}
}

type sentKey struct {
	stream string
	ts     int64
	line   string
}

type tailEntry struct {
	lbls labels.Labels
	e    engine.StreamEntry
}

func (tl *tailer) run(ctx context.Context, conn *websocket.Conn, start time.Time) error {
	tl.start, tl.last, tl.sent = start.UnixNano(), start.UnixNano(), map[sentKey]struct{}{}
	end := tl.f.now().Add(-tl.delay)
	if !end.After(start) {
		end = start.Add(1)
	}
	es, err := tl.fetch(ctx, start, end, tl.limit, engine.Backward)
	if err != nil {
		return err
	}
	if err := tl.send(ctx, conn, es); err != nil {
		return err
	}
	tl.last = max(tl.last, end.UnixNano()-1)
	tick := time.NewTicker(tl.f.cfg.TailPollInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
		end := tl.f.now().Add(-tl.delay)
		if end.UnixNano() <= tl.last {
			continue
		}
		limit := tl.f.Limits(tl.t).MaxEntriesLimitPerQuery
		// Late lines behind the newest sent, then new lines: two queries,
		// so that a window full of lines already sent never holds back the
		// new ones.
		late, err := tl.fetch(ctx, time.Unix(0, max(tl.start, tl.last-int64(tailLookback))), time.Unix(0, tl.last), limit, engine.Forward)
		if err != nil {
			return err
		}
		fresh, err := tl.fetch(ctx, time.Unix(0, tl.last), end, limit, engine.Forward)
		if err != nil {
			return err
		}
		if err := tl.send(ctx, conn, append(late, fresh...)); err != nil {
			return err
		}
	}
}

// fetch returns the lines of [from, to), oldest first, that were not sent.
func (tl *tailer) fetch(ctx context.Context, from, to time.Time, limit int, dir engine.Direction) ([]tailEntry, error) {
	if !to.After(from) {
		return nil, nil
	}
	res, err := tl.f.Query(ctx, tl.t, engine.Params{Expr: tl.expr, Start: from, End: to, Limit: limit, Direction: dir})
	if err != nil {
		return nil, err
	}
	var out []tailEntry
	ss, _ := res.Value.(engine.Streams)
	for _, s := range ss {
		key := s.Labels.String()
		for _, e := range s.Entries {
			if _, dup := tl.sent[sentKey{key, e.Timestamp, e.Line}]; dup {
				continue
			}
			out = append(out, tailEntry{s.Labels, e})
		}
	}
	slices.SortStableFunc(out, func(a, b tailEntry) int {
		switch {
		case a.e.Timestamp < b.e.Timestamp:
			return -1
		case a.e.Timestamp > b.e.Timestamp:
			return 1
		}
		return 0
	})
	return out, nil
}

// send writes one frame with es (none if es is empty), remembers them and
// forgets what fell out of the look-back window.
func (tl *tailer) send(ctx context.Context, conn *websocket.Conn, es []tailEntry) error {
	if len(es) == 0 {
		return nil
	}
	var ss engine.Streams
	idx := make(map[string]int)
	for _, te := range es {
		k := te.lbls.String()
		j, ok := idx[k]
		if !ok {
			j = len(ss)
			idx[k] = j
			ss = append(ss, engine.Stream{Labels: te.lbls})
		}
		ss[j].Entries = append(ss[j].Entries, te.e)
		tl.sent[sentKey{k, te.e.Timestamp, te.e.Line}] = struct{}{}
		tl.last = max(tl.last, te.e.Timestamp)
	}
	for k := range tl.sent {
		if k.ts < tl.last-int64(tailLookback) {
			delete(tl.sent, k)
		}
	}
	b := append([]byte(nil), `{"streams":`...)
	b = lokijson.AppendValue(b, ss, lokijson.Options{})
	b = append(b, `,"dropped_entries":null}`...)
	return conn.Write(ctx, websocket.MessageText, b)
}
