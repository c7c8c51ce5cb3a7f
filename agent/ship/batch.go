package ship

import (
	"slices"

	"github.com/kubemate/kmlog/agent/wal"
	"github.com/kubemate/kmlog/format/labels"
	"github.com/kubemate/kmlog/format/push"
)

// batch gathers WAL records of one tenant into one push request, merging
// entries of equal streams.
type batch struct {
	ext     labels.Labels
	relabel map[string]string // stream labels → with external labels
	streams []push.Stream
	index   map[string]int // labels → position in streams
	size    int            // bytes of WAL records
	entries int
	end     wal.Pos
}

func newBatch(ext labels.Labels) *batch {
	return &batch{ext: ext, relabel: map[string]string{}, index: map[string]int{}}
}

func (b *batch) reset() {
	clear(b.streams)
	b.streams = b.streams[:0]
	clear(b.index)
	b.size, b.entries = 0, 0
	if len(b.relabel) > 10000 {
		clear(b.relabel)
	}
}

func (b *batch) add(rec wal.Record) {
	b.size += rec.Size
	b.end = rec.End
	for _, s := range rec.Streams {
		ls := b.withExternal(s.Labels)
		b.entries += len(s.Entries)
		if i, ok := b.index[ls]; ok {
			b.streams[i].Entries = append(b.streams[i].Entries, s.Entries...)
			continue
		}
		b.index[ls] = len(b.streams)
		// Clip: appending must not write into the decoded record's array.
		b.streams = append(b.streams, push.Stream{Labels: ls, Entries: slices.Clip(s.Entries)})
	}
}

// withExternal adds the external labels to a stream's label text; the
// stream's own labels win on a name clash. Text that does not parse is
// kept as is for the server to judge.
func (b *batch) withExternal(ls string) string {
	if len(b.ext) == 0 {
		return ls
	}
	if out, ok := b.relabel[ls]; ok {
		return out
	}
	parsed, err := labels.Parse(ls)
	if err != nil {
		return ls
	}
	bld := labels.NewBuilder(b.ext)
	for _, l := range parsed {
		bld.Set(l.Name, l.Value)
	}
	out := bld.Labels().String()
	b.relabel[ls] = out
	return out
}

func (b *batch) request() *push.Request { return &push.Request{Streams: b.streams} }
