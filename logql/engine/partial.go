package engine

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/kubemate/kmlog/format/labels"
)

// Partial is the mergeable state of a query over one time shard. Its
// binary form (MarshalBinary) travels from queriers to the frontend; see
// doc.go for the layout. A Partial is immutable once built: Merge returns
// a new one.
type Partial struct {
	h     partialHeader
	Stats Stats
	logs  []*logEntry
	nodes []*rangeState
}

// partialHeader identifies the query a partial belongs to.
type partialHeader struct {
	query            string
	start, end, step int64
	limit            int64
	dir              Direction
}

func (p *Partial) check(h partialHeader) error {
	if p == nil {
		return fmt.Errorf("nil partial: %w", ErrBadPartial)
	}
	if p.h != h {
		return fmt.Errorf("partial of %q [%d,%d] step %d does not match query %q [%d,%d] step %d: %w",
			p.h.query, p.h.start, p.h.end, p.h.step, h.query, h.start, h.end, h.step, ErrBadPartial)
	}
	return nil
}

// LogEntries returns the number of log entries of a log query's partial
// (at most its limit), 0 for a metric query's.
func (p *Partial) LogEntries() int { return len(p.logs) }

// Query returns the canonical text of the query the partial answers.
func (p *Partial) Query() string { return p.h.query }

// Merge combines the partials of disjoint time shards of one query. The
// inputs are not modified.
func Merge(parts ...*Partial) (*Partial, error) {
	if len(parts) == 0 {
		return nil, fmt.Errorf("merge nothing: %w", ErrBadPartial)
	}
	if parts[0] == nil {
		return nil, fmt.Errorf("merge nil partial: %w", ErrBadPartial)
	}
	for _, p := range parts[1:] {
		if err := p.check(parts[0].h); err != nil {
			return nil, err
		}
	}
	out := &Partial{h: parts[0].h}
	isLog := parts[0].nodes == nil
	if !isLog {
		out.nodes = make([]*rangeState, len(parts[0].nodes))
		for i, n := range parts[0].nodes {
			out.nodes[i] = newRangeState(n.comb)
		}
	}
	for _, p := range parts {
		if (p.nodes == nil) != isLog {
			return nil, fmt.Errorf("merge log and metric partials: %w", ErrBadPartial)
		}
		out.Stats.Add(p.Stats)
		out.logs = append(out.logs, p.logs...)
		if len(p.nodes) != len(out.nodes) {
			return nil, fmt.Errorf("merge %d states with %d: %w", len(p.nodes), len(out.nodes), ErrBadPartial)
		}
		for i, n := range p.nodes {
			if n.comb != out.nodes[i].comb {
				return nil, fmt.Errorf("merge state %d: kind mismatch: %w", i, ErrBadPartial)
			}
			out.nodes[i].merge(n)
		}
	}
	if len(out.logs) > 0 {
		slices.SortFunc(out.logs, logOrder(out.h.dir))
		if out.h.limit > 0 && int64(len(out.logs)) > out.h.limit {
			out.logs = out.logs[:out.h.limit]
		}
	}
	return out, nil
}

const partialMagic = "KMLQP\x01"

// Kinds of partial bodies.
const (
	kindLog    = 0
	kindMetric = 1
)

// MarshalBinary encodes the partial (layout in doc.go).
func (p *Partial) MarshalBinary() ([]byte, error) {
	b := []byte(partialMagic)
	b = appendString(b, p.h.query)
	b = binary.AppendVarint(b, p.h.start)
	b = binary.AppendVarint(b, p.h.end)
	b = binary.AppendVarint(b, p.h.step)
	b = binary.AppendVarint(b, p.h.limit)
	b = append(b, byte(p.h.dir))
	b = binary.AppendVarint(b, p.Stats.EntriesScanned)
	b = binary.AppendVarint(b, p.Stats.BytesScanned)
	b = binary.AppendVarint(b, p.Stats.EntriesReturned)
	b = binary.AppendVarint(b, p.Stats.PostFilterLines)
	b = binary.LittleEndian.AppendUint64(b, math.Float64bits(p.Stats.ExecTimeSeconds))
	if p.nodes == nil {
		b = append(b, kindLog)
		// Label sets are written once and referenced by index.
		idx := make(map[string]int)
		var sets []labels.Labels
		refs := make([]int, len(p.logs))
		for i, e := range p.logs {
			j, ok := idx[e.key]
			if !ok {
				j = len(sets)
				idx[e.key] = j
				sets = append(sets, e.lbls)
			}
			refs[i] = j
		}
		b = binary.AppendUvarint(b, uint64(len(sets)))
		for _, s := range sets {
			b = appendLabels(b, s)
		}
		b = binary.AppendUvarint(b, uint64(len(p.logs)))
		for i, e := range p.logs {
			b = binary.AppendUvarint(b, uint64(refs[i]))
			b = binary.AppendVarint(b, e.ts)
			b = appendString(b, e.line)
			b = appendLabels(b, e.sm)
			b = appendLabels(b, e.parsed)
		}
		return b, nil
	}
	b = append(b, kindMetric)
	b = binary.AppendUvarint(b, uint64(len(p.nodes)))
	for _, n := range p.nodes {
		if n.comb == combRaw {
			return nil, fmt.Errorf("encode partial: raw samples: %w", ErrNotShardable)
		}
		b = append(b, byte(n.comb))
		b = binary.AppendUvarint(b, uint64(len(n.series)))
		for _, s := range n.series {
			b = appendLabels(b, s.lbls)
			b = binary.AppendVarint(b, int64(s.base))
			b = binary.AppendUvarint(b, uint64(len(s.cells)))
			for _, c := range s.cells {
				b = binary.AppendUvarint(b, uint64(c.n))
				if c.n == 0 {
					continue
				}
				b = binary.LittleEndian.AppendUint64(b, math.Float64bits(c.v))
				b = binary.AppendVarint(b, c.t)
			}
		}
	}
	return b, nil
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendLabels(b []byte, ls labels.Labels) []byte {
	b = binary.AppendUvarint(b, uint64(len(ls)))
	for _, l := range ls {
		b = appendString(b, l.Name)
		b = appendString(b, l.Value)
	}
	return b
}

// maxSteps bounds the step index of a decoded cell.
const maxSteps = maxPoints

// decoder reads a partial; the first error sticks.
type decoder struct {
	b   []byte
	err error
}

var errTruncated = errors.New("truncated")

func (d *decoder) fail(err error) {
	if d.err == nil {
		d.err = err
	}
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail(errTruncated)
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail(errTruncated)
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) byte() byte {
	if d.err != nil || len(d.b) == 0 {
		d.fail(errTruncated)
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) float() float64 {
	if d.err != nil || len(d.b) < 8 {
		d.fail(errTruncated)
		return 0
	}
	v := math.Float64frombits(binary.LittleEndian.Uint64(d.b))
	d.b = d.b[8:]
	return v
}

// count reads a length whose items take at least minSize bytes each.
func (d *decoder) count(minSize int) int {
	n := d.uvarint()
	if d.err != nil {
		return 0
	}
	if n > uint64(len(d.b)/minSize) {
		d.fail(fmt.Errorf("count %d exceeds the remaining %d bytes", n, len(d.b)))
		return 0
	}
	return int(n)
}

func (d *decoder) string() string {
	n := d.count(1)
	if d.err != nil {
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

func (d *decoder) labels() labels.Labels {
	n := d.count(2)
	if n == 0 {
		return nil
	}
	ls := make(labels.Labels, 0, n)
	for range n {
		name, value := d.string(), d.string()
		if d.err != nil {
			return nil
		}
		if len(ls) > 0 && ls[len(ls)-1].Name >= name {
			d.fail(errors.New("labels not sorted"))
			return nil
		}
		ls = append(ls, labels.Label{Name: name, Value: value})
	}
	return ls
}

// UnmarshalBinary decodes a partial. It never panics and allocates in
// proportion to len(data).
func (p *Partial) UnmarshalBinary(data []byte) error {
	if len(data) < len(partialMagic) || string(data[:len(partialMagic)]) != partialMagic {
		return fmt.Errorf("decode partial: bad magic: %w", ErrBadPartial)
	}
	d := &decoder{b: data[len(partialMagic):]}
	var q Partial
	q.h.query = d.string()
	q.h.start, q.h.end, q.h.step, q.h.limit = d.varint(), d.varint(), d.varint(), d.varint()
	q.h.dir = Direction(d.byte())
	if q.h.dir != Forward && q.h.dir != Backward {
		d.fail(fmt.Errorf("direction %d", q.h.dir))
	}
	q.Stats.EntriesScanned, q.Stats.BytesScanned = d.varint(), d.varint()
	q.Stats.EntriesReturned, q.Stats.PostFilterLines = d.varint(), d.varint()
	q.Stats.ExecTimeSeconds = d.float()
	switch d.byte() {
	case kindLog:
		sets := make([]labels.Labels, d.count(1))
		keys := make([]string, len(sets))
		for i := range sets {
			sets[i] = d.labels()
			if sets[i] == nil {
				sets[i] = labels.Labels{}
			}
			keys[i] = sets[i].String()
		}
		n := d.count(5)
		q.logs = make([]*logEntry, 0, n)
		for range n {
			ref := d.uvarint()
			if d.err == nil && ref >= uint64(len(sets)) {
				d.fail(fmt.Errorf("label set %d of %d", ref, len(sets)))
			}
			e := &logEntry{ts: d.varint(), line: d.string(), sm: d.labels(), parsed: d.labels()}
			if d.err != nil {
				break
			}
			e.lbls, e.key = sets[ref], keys[ref]
			q.logs = append(q.logs, e)
		}
	case kindMetric:
		nn := d.count(2)
		q.nodes = make([]*rangeState, 0, nn)
		for range nn {
			comb := combine(d.byte())
			if d.err == nil && comb >= combRaw {
				d.fail(fmt.Errorf("state kind %d", comb))
			}
			st := newRangeState(comb)
			ns := d.count(3)
			for range ns {
				ls := d.labels()
				if ls == nil {
					ls = labels.Labels{}
				}
				base := d.varint()
				nc := d.count(1)
				if d.err == nil && (base < 0 || base+int64(nc) > maxSteps) {
					d.fail(fmt.Errorf("cells [%d,+%d) out of range", base, nc))
				}
				if d.err != nil {
					break
				}
				h := ls.Hash()
				if st.lookup(ls, h, false) != nil {
					d.fail(errors.New("duplicate series"))
					break
				}
				s := st.lookup(ls, h, true)
				s.base = int(base)
				s.cells = make([]cell, nc)
				for i := range s.cells {
					c := &s.cells[i]
					n := d.uvarint()
					if n > math.MaxInt64 {
						d.fail(errors.New("cell count overflows"))
					}
					c.n = int64(n)
					if c.n > 0 {
						c.v, c.t = d.float(), d.varint()
					}
				}
			}
			if d.err != nil {
				break
			}
			q.nodes = append(q.nodes, st)
		}
		if q.nodes == nil {
			q.nodes = []*rangeState{}
		}
	default:
		d.fail(errors.New("unknown body kind"))
	}
	if d.err == nil && len(d.b) != 0 {
		d.fail(fmt.Errorf("%d trailing bytes", len(d.b)))
	}
	if d.err != nil {
		return fmt.Errorf("decode partial: %w: %w", d.err, ErrBadPartial)
	}
	*p = q
	return nil
}
