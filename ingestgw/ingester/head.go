package ingester

import (
	"slices"
	"strings"
	"time"
	"unsafe"

	"github.com/kubemate/kmlog/format/labels"
	"github.com/kubemate/kmlog/format/objkey"
	"github.com/kubemate/kmlog/format/tenant"
)

// entry is one held log line. line points into the head's arena.
type entry struct {
	ts   int64
	line string
	md   labels.Labels
}

// headStream is one stream's entries inside one head.
type headStream struct {
	labels  labels.Labels
	entries []entry
	sorted  bool // entries are in (ts, line) order
}

// head holds one tenant's entries of one UTC day until they are flushed.
type head struct {
	tenant   tenant.ID
	day      objkey.Day
	streams  map[string]*headStream // by canonical labels text
	bytes    int64                  // raw line bytes
	mem      int64                  // bytes held: arena plus per-entry overhead
	created  time.Time              // when the first entry arrived
	firstSeg int                    // oldest WAL segment that may hold its entries
	arena    arena
}

func newHead(t tenant.ID, d objkey.Day, now time.Time, seg int) *head {
	return &head{tenant: t, day: d, streams: map[string]*headStream{}, created: now, firstSeg: seg}
}

const entryOverhead = int64(unsafe.Sizeof(entry{}))

// add appends one entry, copying its line and metadata. It drops an exact
// duplicate of the stream's newest entry and reports whether it added.
func (h *head) add(key string, ls labels.Labels, ts int64, line string, md labels.Labels) bool {
	s := h.streams[key]
	if s == nil {
		s = &headStream{labels: ls, sorted: true}
		h.streams[key] = s
		h.mem += int64(len(key)) + 64
	}
	if n := len(s.entries); n > 0 {
		last := &s.entries[n-1]
		if ts == last.ts && line == last.line {
			return false
		}
		if ts < last.ts || (ts == last.ts && line < last.line) {
			s.sorted = false
		}
	}
	e := entry{ts: ts, line: h.arena.copy(line)}
	if len(md) > 0 {
		e.md = make(labels.Labels, len(md))
		for i, l := range md {
			e.md[i] = labels.Label{Name: h.arena.copy(l.Name), Value: h.arena.copy(l.Value)}
		}
		h.mem += int64(len(md)) * int64(unsafe.Sizeof(labels.Label{}))
	}
	s.entries = append(s.entries, e)
	h.bytes += int64(len(line))
	h.mem += entryOverhead
	return true
}

// memBytes is what the head holds: its arena plus the entries' overhead.
func (h *head) memBytes() int64 { return h.arena.size + h.mem }

// sortStream orders a stream by (ts, line) and drops exact duplicates.
func sortStream(s *headStream) {
	if s.sorted {
		return
	}
	slices.SortStableFunc(s.entries, func(a, b entry) int {
		if a.ts != b.ts {
			if a.ts < b.ts {
				return -1
			}
			return 1
		}
		return strings.Compare(a.line, b.line)
	})
	s.entries = slices.CompactFunc(s.entries, func(a, b entry) bool { return a.ts == b.ts && a.line == b.line })
	s.sorted = true
}

// sortedStreams returns the head's streams in label order. It must run
// only once the head is sealed and its streams sorted.
func (h *head) sortedStreams() []*headStream {
	out := make([]*headStream, 0, len(h.streams))
	for _, s := range h.streams {
		if !s.sorted {
			panic("BUG: sortedStreams on an unsorted stream")
		}
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b *headStream) int { return labels.Compare(a.labels, b.labels) })
	return out
}

// arena copies strings into large blocks, so that many small lines cost
// one allocation per block and no push body is retained.
type arena struct {
	block []byte
	size  int64 // bytes allocated in all blocks
}

const arenaBlock = 256 << 10

func (a *arena) copy(s string) string {
	if len(s) == 0 {
		return ""
	}
	if len(s) > arenaBlock/4 {
		b := []byte(s)
		a.size += int64(len(b))
		return unsafe.String(unsafe.SliceData(b), len(b))
	}
	if cap(a.block)-len(a.block) < len(s) {
		a.block = make([]byte, 0, arenaBlock)
		a.size += arenaBlock
	}
	start := len(a.block)
	a.block = append(a.block, s...)
	return unsafe.String(&a.block[start], len(s))
}
