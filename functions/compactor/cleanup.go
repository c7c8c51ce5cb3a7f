package compactor

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/kubemate/kmlog/format/objkey"
)

// cleanup deletes what no reader needs any more:
//
//   - once the newest generation is older than Grace: older manifests,
//     the flushes it replaced (index, then data), compaction outputs it
//     does not name that were written before it, and the delete markers
//     it applied;
//   - data files without an index, and compaction outputs no manifest
//     names, once older than OrphanAge (uploads or compactions that died
//     half way).
//
// Readers that listed the day before the newest commit read the old
// generation's files; Grace is longer than their query, so they are done.
func (c *Compactor) cleanup(ctx context.Context, now time.Time, st *dayState, reqs *tenantDeletes, rep *Report) error {
	var del []listed
	indexed := map[objkey.ULID]bool{}
	for _, l := range st.objs {
		if l.o.Leaf == objkey.LeafFlushIndex || l.o.Leaf == objkey.LeafCompactedIndex {
			indexed[l.o.ID] = true
		}
	}
	outputs := map[objkey.ULID]bool{}
	if st.m != nil {
		for _, o := range st.m.Outputs {
			outputs[o.ID] = true
		}
	}
	settled := st.m != nil && now.Sub(st.newInfo.Modified) >= c.cfg.Grace
	orphan := func(l listed) bool { return now.Sub(l.info.Modified) >= c.cfg.OrphanAge }
	retired := map[objkey.ULID]bool{} // data files to delete with their index
	for _, l := range st.objs {
		switch l.o.Leaf {
		case objkey.LeafManifest:
			if settled && l.o.Gen < st.newest {
				del = append(del, l)
			}
		case objkey.LeafFlushIndex:
			if settled && st.m.HasReplaced(l.o.ID) {
				del = append(del, l)
				retired[l.o.ID] = true
			}
		case objkey.LeafCompactedIndex:
			if outputs[l.o.ID] {
				continue
			}
			if settled && !l.info.Modified.After(st.newInfo.Modified) || orphan(l) {
				del = append(del, l)
				retired[l.o.ID] = true
			}
		case objkey.LeafDeleteMarker:
			if settled && st.m.HasDelete(l.o.ID) {
				del = append(del, l)
			}
		}
	}
	for _, l := range st.objs {
		if l.o.Leaf == objkey.LeafData && (retired[l.o.ID] || !indexed[l.o.ID] && !outputs[l.o.ID] && orphan(l)) {
			del = append(del, l)
		}
	}
	if len(del) == 0 {
		return nil
	}
	// Manifests and indexes before data files.
	slices.SortStableFunc(del, func(a, b listed) int {
		da, db := a.o.Leaf == objkey.LeafData, b.o.Leaf == objkey.LeafData
		switch {
		case da == db:
			return 0
		case da:
			return 1
		}
		return -1
	})
	c.at("cleanup")
	for i, l := range del {
		if err := c.bkt.Delete(ctx, l.info.Key); err != nil {
			return fmt.Errorf("delete %s: %w", l.info.Key, err)
		}
		if l.o.Leaf == objkey.LeafDeleteMarker {
			reqs.markerGone(l.o.ID)
		}
		rep.ObjectsDeleted++
		if i == len(del)/2 {
			c.at("cleanup-half")
		}
	}
	c.logger.Info("retired files", "tenant", string(st.t), "day", st.d.String(), "objects", len(del), "generation", st.newest)
	return nil
}
