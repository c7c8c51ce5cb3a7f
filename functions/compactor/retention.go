package compactor

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/kubemate/kmlog/format/objkey"
	"github.com/kubemate/kmlog/format/tenant"
)

// wholeDayExpired: every stream's retention has passed for the whole day,
// so the day goes by prefix.
func wholeDayExpired(lim *Limits, d objkey.Day, now time.Time) bool {
	if lim.RetentionPeriod <= 0 {
		return false
	}
	longest := time.Duration(lim.RetentionPeriod)
	for _, r := range lim.RetentionStream {
		if r.Period <= 0 {
			return false
		}
		longest = max(longest, time.Duration(r.Period))
	}
	return d.EndNano() <= now.Add(-longest).UnixNano()
}

// minCutoff is the latest time before which some stream's entries are
// past retention (math.MinInt64: none).
func minCutoff(lim *Limits, now time.Time) int64 {
	shortest := time.Duration(lim.RetentionPeriod)
	for _, r := range lim.RetentionStream {
		if r.Period > 0 && (shortest == 0 || time.Duration(r.Period) < shortest) {
			shortest = time.Duration(r.Period)
		}
	}
	if shortest <= 0 {
		return math.MinInt64
	}
	return now.Add(-shortest).UnixNano()
}

// dropDay deletes a day past retention: its index objects first (so a
// reader that lists finds fewer files, never an index without its data),
// manifests before the other index objects, then its data files.
func (c *Compactor) dropDay(ctx context.Context, t tenant.ID, d objkey.Day, objs []listed, reqs *tenantDeletes, rep *Report) error {
	rank := func(l listed) int {
		switch l.o.Leaf {
		case objkey.LeafManifest:
			return 0
		case objkey.LeafData:
			return 2
		}
		return 1
	}
	objs = slices.Clone(objs)
	slices.SortStableFunc(objs, func(a, b listed) int {
		if r := rank(a) - rank(b); r != 0 {
			return r
		}
		return strings.Compare(a.info.Key, b.info.Key)
	})
	for _, l := range objs {
		if err := c.bkt.Delete(ctx, l.info.Key); err != nil {
			return fmt.Errorf("delete %s: %w", l.info.Key, err)
		}
		if l.o.Leaf == objkey.LeafDeleteMarker {
			reqs.markerGone(l.o.ID)
		}
		rep.ObjectsDeleted++
	}
	rep.DaysRetained++
	c.logger.Info("deleted a day past retention", "tenant", string(t), "day", d.String(), "objects", len(objs))
	return nil
}
