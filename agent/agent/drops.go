package agent

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/kubemate/kmlog/agent/pipeline"
	"github.com/kubemate/kmlog/format/labels"
	"github.com/kubemate/kmlog/format/push"
)

// Drop reports. What a limit stage drops in a log storm never reaches
// kmlog, so the agent tells it instead: every DropReportInterval it ships,
// per tenant, one line per dropped stream and reason to the stream
//
//	{kmlog_agent="drops", host="<node>"}
//
// in logfmt, the dropped stream's labels as fields:
//
//	reason=ratelimit_drop_stage dropped=1234 namespace=prod pod=trading-xyz container=app
//
// The lines go through the WAL and the shipping clients like any entry.
// kmlog's default LogStorm rule (functions/ruler) alerts on them.
const DropReportLabel = "kmlog_agent"

// dropKey is one dropped stream of one tenant, for one reason.
type dropKey struct {
	tenant, labels, reason string
}

type dropReport struct {
	mu     sync.Mutex
	counts map[dropKey]int64
	byKey  map[dropKey]labels.Labels
}

func newDropReport() *dropReport {
	return &dropReport{counts: map[dropKey]int64{}, byKey: map[dropKey]labels.Labels{}}
}

// record is the pipelines' OnDrop hook.
func (d *dropReport) record(e *pipeline.Entry, reason string) {
	k := dropKey{tenant: e.Tenant, labels: e.Labels.String(), reason: reason}
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.counts[k]; !ok {
		d.byKey[k] = e.Labels
	}
	d.counts[k]++
}

// take returns the report's streams per tenant and starts a new report.
func (d *dropReport) take(now time.Time, host string) map[string][]push.Stream {
	d.mu.Lock()
	counts, byKey := d.counts, d.byKey
	d.counts, d.byKey = map[dropKey]int64{}, map[dropKey]labels.Labels{}
	d.mu.Unlock()
	if len(counts) == 0 {
		return nil
	}
	streamLabels := labels.FromStrings(DropReportLabel, "drops")
	if host != "" {
		streamLabels = labels.FromStrings(DropReportLabel, "drops", "host", host)
	}
	keys := make([]dropKey, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b dropKey) int {
		return strings.Compare(a.tenant+"\x00"+a.labels+"\x00"+a.reason, b.tenant+"\x00"+b.labels+"\x00"+b.reason)
	})
	out := map[string][]push.Stream{}
	ts := now.UnixNano()
	for _, k := range keys {
		var b strings.Builder
		b.WriteString("reason=")
		b.WriteString(logfmtValue(k.reason))
		b.WriteString(" dropped=")
		b.WriteString(strconv.FormatInt(counts[k], 10))
		for _, l := range byKey[k] {
			if l.Name == "reason" || l.Name == "dropped" {
				continue
			}
			b.WriteByte(' ')
			b.WriteString(l.Name)
			b.WriteByte('=')
			b.WriteString(logfmtValue(l.Value))
		}
		ss := out[k.tenant]
		if len(ss) == 0 {
			ss = []push.Stream{{Labels: streamLabels.String()}}
		}
		// Entries of one stream need distinct times to stay distinct lines.
		ss[0].Entries = append(ss[0].Entries, push.Entry{Timestamp: ts + int64(len(ss[0].Entries)), Line: b.String()})
		out[k.tenant] = ss
	}
	return out
}

func logfmtValue(v string) string {
	if v == "" || strings.ContainsAny(v, " \"=\\\t\n") {
		return strconv.Quote(v)
	}
	return v
}

// reportDrops ships the drop report every interval until ctx ends.
func (a *Agent) reportDrops(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		a.shipDrops(ctx)
	}
}

// shipDrops appends the drop report to the WAL.
func (a *Agent) shipDrops(ctx context.Context) {
	for tenant, streams := range a.drops.take(a.opts.Now(), a.opts.Hostname) {
		if err := a.appendStreams(ctx, tenant, streams); err != nil {
			a.logger.Warn("ship drop report", "tenant", tenant, "err", err)
		}
	}
}
