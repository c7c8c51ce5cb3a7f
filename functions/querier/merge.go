package querier

import (
	"bytes"
	"cmp"
	"context"
	"iter"

	"github.com/kubemate/kmlog/format/datafile"
	"github.com/kubemate/kmlog/format/labels"
	"github.com/kubemate/kmlog/logql/engine"
)

// row is one entry as the merge sees it: gid numbers the stream in the
// label order of the invocation's stream table, so comparing gids is
// comparing label sets.
type row struct {
	gid  int32
	ts   int64
	line []byte
	md   labels.Labels
}

func compareRows(a, b *row) int {
	if c := cmp.Compare(a.gid, b.gid); c != 0 {
		return c
	}
	if c := cmp.Compare(a.ts, b.ts); c != 0 {
		return c
	}
	return bytes.Compare(a.line, b.line)
}

// cursor is one input of the merge, ordered by (gid, ts); entries with
// equal (gid, ts) may come in any order. The row is valid until next.
type cursor interface {
	next() bool // false at the end or on error
	cur() *row
	err() error
}

// sliceCursor walks rows held in memory (the ingesters' answer).
type sliceCursor struct {
	rows []row
	i    int
}

func (c *sliceCursor) next() bool { c.i++; return c.i < len(c.rows) }
func (c *sliceCursor) cur() *row  { return &c.rows[c.i] }
func (c *sliceCursor) err() error { return nil }

// Batches carry decoded rows from a file's reading goroutine to the
// merge. Lines live in one arena per batch; recs index it.
const (
	batchRows  = 4096
	batchBytes = 1 << 20
)

type rec struct {
	gid        int32
	ts         int64
	off, len   int32
	mdLo, mdHi int32 // the entry's metadata labels: spans[mdLo:mdHi]
	md         labels.Labels
}

// span locates one metadata label's name and value in a batch's mdText.
type span struct{ name, value, end int32 }

// A batch's metadata is copied into one string and one label array per
// batch, both fresh (never recycled), since the engine may keep them;
// that costs two allocations per batch instead of three per entry.
type batch struct {
	recs   []rec
	arena  []byte
	mdText []byte
	spans  []span
}

// seal builds the metadata labels of the batch's entries.
func (b *batch) seal() {
	if len(b.spans) == 0 {
		return
	}
	text := string(b.mdText)
	all := make(labels.Labels, len(b.spans))
	for i, sp := range b.spans {
		all[i] = labels.Label{Name: text[sp.name:sp.value], Value: text[sp.value:sp.end]}
	}
	for i := range b.recs {
		r := &b.recs[i]
		if r.mdHi > r.mdLo {
			r.md = all[r.mdLo:r.mdHi:r.mdHi]
		}
	}
}

// fileCursor reads batches that a producer goroutine decodes from one
// data file. A drained batch goes back to the producer through free.
type fileCursor struct {
	in   <-chan *batch
	free chan<- *batch
	b    *batch
	i    int
	r    row
	done func() error // the producer's error, once in is closed
	e    error
}

func (c *fileCursor) next() bool {
	c.i++
	for c.b == nil || c.i >= len(c.b.recs) {
		if c.b != nil {
			select {
			case c.free <- c.b:
			default:
			}
			c.b = nil
		}
		b, ok := <-c.in
		if !ok {
			c.e = c.done()
			return false
		}
		c.b, c.i = b, 0
	}
	r := &c.b.recs[c.i]
	c.r = row{gid: r.gid, ts: r.ts, line: c.b.arena[r.off : r.off+r.len : r.off+r.len], md: r.md}
	return true
}

func (c *fileCursor) cur() *row  { return &c.r }
func (c *fileCursor) err() error { return c.e }

// produce decodes the selected rows of one file into batches for out,
// mapping the file's stream ids to gids (local[id] < 0: not wanted). It
// returns when the rows are done, on a read error, or when ctx ends.
func produce(ctx context.Context, rd *datafile.Reader, sel datafile.Selection, local []int32, out chan<- *batch, free chan *batch) error {
	get := func() *batch {
		select {
		case b := <-free:
			b.recs, b.arena, b.mdText, b.spans = b.recs[:0], b.arena[:0], b.mdText[:0], b.spans[:0]
			return b
		default:
			return &batch{recs: make([]rec, 0, batchRows), arena: make([]byte, 0, batchBytes+batchBytes/4)}
		}
	}
	send := func(b *batch) error {
		b.seal()
		select {
		case out <- b:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	b := get()
	for e, err := range rd.Read(ctx, sel) {
		if err != nil {
			return err
		}
		if int(e.Stream) >= len(local) || local[e.Stream] < 0 {
			continue
		}
		off := len(b.arena)
		b.arena = append(b.arena, e.Line...)
		mdLo := int32(len(b.spans))
		for _, l := range e.Metadata {
			n := int32(len(b.mdText))
			b.mdText = append(b.mdText, l.Name...)
			v := int32(len(b.mdText))
			b.mdText = append(b.mdText, l.Value...)
			b.spans = append(b.spans, span{name: n, value: v, end: int32(len(b.mdText))})
		}
		b.recs = append(b.recs, rec{gid: local[e.Stream], ts: e.Timestamp, off: int32(off), len: int32(len(e.Line)),
			mdLo: mdLo, mdHi: int32(len(b.spans))})
		if len(b.recs) >= batchRows || len(b.arena) >= batchBytes {
			if err := send(b); err != nil {
				return err
			}
			b = get()
		}
	}
	if len(b.recs) > 0 {
		return send(b)
	}
	return nil
}

// merge yields the union of the cursors in (gid, ts) order, each
// (gid, ts, line) once, with the stream labels of streams[gid]. It
// returns how many entries and line bytes it yielded through n and
// bytes, and stops at the first cursor error.
func merge(ctx context.Context, cs []cursor, streams []labels.Labels, scanned func(n, bytes int64)) iter.Seq2[engine.Entry, error] {
	return func(yield func(engine.Entry, error) bool) {
		h := make([]cursor, 0, len(cs))
		for _, c := range cs {
			if c.next() {
				h = append(h, c)
			} else if err := c.err(); err != nil {
				yield(engine.Entry{}, err)
				return
			}
		}
		less := func(i, j int) bool { return compareRows(h[i].cur(), h[j].cur()) < 0 }
		down := func(i int) {
			for {
				l := 2*i + 1
				if l >= len(h) {
					return
				}
				m := l
				if r := l + 1; r < len(h) && less(r, l) {
					m = r
				}
				if !less(m, i) {
					return
				}
				h[i], h[m] = h[m], h[i]
				i = m
			}
		}
		for i := len(h)/2 - 1; i >= 0; i-- {
			down(i)
		}
		var (
			lastGid         int32 = -1
			lastTs          int64
			seen            [][]byte // lines yielded at (lastGid, lastTs)
			seenArena       []byte
			n, nbytes, tick int64
		)
		defer func() { scanned(n, nbytes) }()
		for len(h) > 0 {
			if tick++; tick&4095 == 0 {
				if err := ctx.Err(); err != nil {
					yield(engine.Entry{}, err)
					return
				}
			}
			c := h[0]
			r := c.cur()
			dup := false
			if r.gid == lastGid && r.ts == lastTs {
				for _, s := range seen {
					if bytes.Equal(s, r.line) {
						dup = true
						break
					}
				}
			} else {
				lastGid, lastTs = r.gid, r.ts
				seen, seenArena = seen[:0], seenArena[:0]
			}
			if !dup {
				if len(seenArena)+len(r.line) > cap(seenArena) {
					// Lines already in seen keep the old array alive.
					seenArena = make([]byte, 0, max(2*cap(seenArena), len(r.line), 4096))
				}
				off := len(seenArena)
				seenArena = append(seenArena, r.line...)
				seen = append(seen, seenArena[off:])
				n++
				nbytes += int64(len(r.line))
				if !yield(engine.Entry{Labels: streams[r.gid], Timestamp: r.ts, Line: r.line, Metadata: r.md}, nil) {
					return
				}
			}
			if c.next() {
				down(0)
				continue
			}
			if err := c.err(); err != nil {
				yield(engine.Entry{}, err)
				return
			}
			h[0] = h[len(h)-1]
			h = h[:len(h)-1]
			down(0)
		}
	}
}
