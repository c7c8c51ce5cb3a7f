package lokijson

import (
	"cmp"
	"slices"
	"strings"

	"github.com/kubemate/kmlog/logql/engine"
)

func sortEntries(es []engine.StreamEntry, dir engine.Direction) {
	slices.SortStableFunc(es, func(a, b engine.StreamEntry) int {
		c := cmp.Compare(a.Timestamp, b.Timestamp)
		if dir == engine.Backward {
			c = -c
		}
		return c
	})
}

func sortStreams(ss engine.Streams, keys []string) {
	idx := make([]int, len(ss))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int { return strings.Compare(keys[a], keys[b]) })
	tmp := slices.Clone(ss)
	for i, j := range idx {
		ss[i] = tmp[j]
	}
}
