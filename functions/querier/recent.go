package querier

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"github.com/kubemate/kmlog/format/push"
	"github.com/kubemate/kmlog/format/tenant"
)

// Recent answers for data not yet visible in the bucket: the ingesters'
// heads. The querier calls it once per stream selector of a query, from
// one goroutine per invocation; implementations must be safe for
// concurrent use by concurrent invocations.
//
// selector is a LogQL log selector whose matchers and leading |= literals
// the implementation applies (other stages may be ignored: the querier
// runs the whole pipeline again). Entries must have from <= ts < through;
// limit > 0 keeps only the limit newest (backward) or oldest entries. The
// answer's streams may repeat (several replicas) and hold the same entry
// more than once: the querier removes duplicates. Within one push.Stream,
// entries must be in ascending time order.
//
// An implementation that asks several ingesters and loses some of them,
// but few enough that every stream still has a live replica, returns the
// answer and a *PartialError; any other error means no usable answer.
type Recent interface {
	RecentQuery(ctx context.Context, t tenant.ID, selector string, from, through int64, limit int, backward bool) (*push.Request, error)
}

// RecentSeries is an optional capability of a Recent: the label sets of
// the streams matching matchers (a selector's text; empty means every
// stream) with entries in [from, through), as push streams without
// entries. Label, label-value and series requests use it, so they need no
// selector and move no lines. Failures are reported as by RecentQuery.
type RecentSeries interface {
	RecentSeries(ctx context.Context, t tenant.ID, matchers string, from, through int64) (*push.Request, error)
}

// PartialError reports ingesters that failed while the rest answered for
// every stream. It comes with a usable answer.
type PartialError struct {
	Failed, Total int
	Err           error // the failures, joined
}

func (e *PartialError) Error() string {
	return fmt.Sprintf("%d of %d ingesters failed: %v", e.Failed, e.Total, e.Err)
}

func (e *PartialError) Unwrap() error { return e.Err }

// ErrIngesters is wrapped when too many ingesters failed to answer.
var ErrIngesters = errors.New("too many ingesters failed")

// IngesterQueryPath is the ingesters' recent-data endpoint.
const IngesterQueryPath = "/ingester/query"

// HTTPRecent asks every ingester's recent-data endpoint (GET
// <base>/ingester/query, protobuf+snappy push answer) in parallel and
// returns the union of their answers.
//
// With replication factor RF and write quorum Q, an acknowledged entry is
// on at least Q ingesters, so an answer stays complete while at most
// RF-Q of them fail; with RF 3 and Q 2 that is one. HTTPRecent cannot
// tell which ingesters hold which stream, so it tolerates MaxFailures
// failed ingesters in total (default 1) and fails with ErrIngesters
// beyond that, or when none answered.
type HTTPRecent struct {
	// URLs are the ingesters' base URLs (http://ingester-0:3100).
	URLs []string
	// Client makes the requests; nil means http.DefaultClient.
	Client *http.Client
	// MaxFailures is how many ingesters may fail without failing the query.
	MaxFailures int
	// MaxBytes caps one decoded answer; 0 means 1 GiB.
	MaxBytes int64
	// Logger, when set, gets one warning per failed ingester.
	Logger *slog.Logger
}

// NewHTTPRecent returns an HTTPRecent over the ingesters at urls that
// tolerates one failure.
func NewHTTPRecent(urls []string, client *http.Client, logger *slog.Logger) *HTTPRecent {
	return &HTTPRecent{URLs: urls, Client: client, MaxFailures: 1, Logger: logger}
}

// RecentQuery implements Recent.
func (h *HTTPRecent) RecentQuery(ctx context.Context, t tenant.ID, selector string, from, through int64, limit int, backward bool) (*push.Request, error) {
	v := url.Values{}
	v.Set("query", selector)
	v.Set("start", strconv.FormatInt(from, 10))
	v.Set("end", strconv.FormatInt(through, 10))
	if limit > 0 {
		v.Set("limit", strconv.Itoa(limit))
	}
	if backward {
		v.Set("direction", "backward")
	} else {
		v.Set("direction", "forward")
	}
	return h.askAll(ctx, t, v)
}

// RecentSeries implements RecentSeries with the endpoint's series=1 form.
func (h *HTTPRecent) RecentSeries(ctx context.Context, t tenant.ID, matchers string, from, through int64) (*push.Request, error) {
	v := url.Values{}
	v.Set("series", "1")
	v.Set("query", matchers)
	v.Set("start", strconv.FormatInt(from, 10))
	v.Set("end", strconv.FormatInt(through, 10))
	return h.askAll(ctx, t, v)
}

// askAll asks every ingester in parallel and joins the answers.
func (h *HTTPRecent) askAll(ctx context.Context, t tenant.ID, v url.Values) (*push.Request, error) {
	if len(h.URLs) == 0 {
		return &push.Request{}, nil
	}
	answers := make([]*push.Request, len(h.URLs))
	errs := make([]error, len(h.URLs))
	var wg sync.WaitGroup
	for i, base := range h.URLs {
		wg.Go(func() {
			answers[i], errs[i] = h.ask(ctx, base, t, v)
		})
	}
	wg.Wait()
	out := &push.Request{}
	var failed []error
	for i, a := range answers {
		if errs[i] != nil {
			failed = append(failed, errs[i])
			if h.Logger != nil {
				h.Logger.Warn("ingester recent query failed", "ingester", h.URLs[i], "tenant", string(t), "err", errs[i])
			}
			continue
		}
		out.Streams = append(out.Streams, a.Streams...)
	}
	if len(failed) == 0 {
		return out, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if len(failed) > h.MaxFailures || len(failed) == len(h.URLs) {
		return nil, fmt.Errorf("%w: %d of %d: %w", ErrIngesters, len(failed), len(h.URLs), errors.Join(failed...))
	}
	return out, &PartialError{Failed: len(failed), Total: len(h.URLs), Err: errors.Join(failed...)}
}

func (h *HTTPRecent) ask(ctx context.Context, base string, t tenant.ID, v url.Values) (*push.Request, error) {
	u := strings.TrimSuffix(base, "/") + IngesterQueryPath + "?" + v.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("query ingester %s: %w", base, err)
	}
	req.Header.Set("X-Scope-OrgID", string(t))
	c := h.Client
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("query ingester %s: %w", base, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return nil, fmt.Errorf("query ingester %s: %s: %s", base, resp.Status, strings.TrimSpace(string(msg)))
	}
	maxBytes := h.MaxBytes
	if maxBytes <= 0 {
		maxBytes = 1 << 30
	}
	ans, err := push.DecodeRequest(resp.Body, resp.Header.Get("Content-Type"), resp.Header.Get("Content-Encoding"), maxBytes)
	if err != nil {
		return nil, fmt.Errorf("decode answer of ingester %s: %w", base, err)
	}
	return ans, nil
}
