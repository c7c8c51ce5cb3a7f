package loggen

import (
	"slices"
	"strconv"

	"github.com/kubemate/kmlog/format/labels"
	"github.com/kubemate/kmlog/format/tenant"
)

// Entry is one generated log entry. Labels and Metadata are shared between
// entries and must not be modified.
type Entry struct {
	Tenant tenant.ID
	// Labels are the stream labels: app, container, level, namespace, pod.
	Labels labels.Labels
	// Timestamp is in Unix nanoseconds. It never decreases from one entry
	// to the next, so it never decreases within a stream either.
	Timestamp int64
	// Line is the log line. A Java stack trace is one entry whose line holds
	// newlines, as the agent's multiline stage would have joined it.
	Line string
	// Metadata is the structured metadata: trace_id for JSON lines that
	// belong to a request, otherwise nil.
	Metadata labels.Labels
}

// kind is a line kind of the Mix.
type kind uint8

const (
	kindJSON kind = iota
	kindLogfmt
	kindNginx
	kindJavaStack
	kindPlain
	numKinds
)

var kindGroup = [numKinds]group{
	kindJSON: groupJava, kindLogfmt: groupGo, kindNginx: groupNginx, kindJavaStack: groupJava, kindPlain: groupPlain,
}

// Per-mille level weights (debug, info, warn, error). Stack traces are
// errors or warnings; other lines are weighted so that with the default
// mix the levels come out near 70/15/10/5 percent info/debug/warn/error.
var (
	lineLevels  = []uint64{160, 720, 90, 30}
	stackLevels = []uint64{0, 0, 200, 800}
)

// Rare events, in parts per million of lines.
const (
	emptyPPM    = 200    // an empty line
	idNumberPPM = 10_000 // a line carrying an ID number, 1%
	longPPM     = 2_000  // a line of several KB
	needleShare = 300    // per mille of requests that log a single line
)

// kindSources are the sources that can emit one kind, with their weights.
type kindSources struct {
	srcs []*source
	t    table
}

// Generator produces an endless, reproducible sequence of entries. It is
// not safe for concurrent use.
type Generator struct {
	r         rng
	now       int64
	nsPerLine float64
	kinds     table
	byKind    [numKinds]kindSources
	levels    [2]table // lines, stack traces
	tenants   []tenant.ID
	sources   []*source
	clientIPs []uint32
	clk       clock
	buf       []byte
	ends      []int

	javaTmpl, goTmpl [numLevels][]tmpl
	plainTmpl        [numStyles][numLevels][]tmpl
}

// New returns a generator for cfg. Zero fields of cfg take their defaults;
// New panics when cfg.Validate fails, since a generator's config is always
// written by a programmer.
func New(cfg Config) *Generator {
	if err := cfg.Validate(); err != nil {
		panic("BUG: loggen.New: " + err.Error())
	}
	cfg = cfg.withDefaults()
	g := &Generator{
		r:         newRNG(cfg.Seed, 0x6c696e6573),
		now:       cfg.Start.UnixNano(),
		nsPerLine: 1e9 / cfg.Rate,
		buf:       make([]byte, 0, 64<<10),
		levels:    [2]table{newTable(lineLevels), newTable(stackLevels)},
	}
	g.tenants = cfg.TenantIDs
	if len(g.tenants) == 0 {
		for i := range cfg.Tenants {
			g.tenants = append(g.tenants, tenant.ID("tenant-"+strconv.Itoa(i)))
		}
	}
	g.sources = buildTopology(cfg, g.tenants)
	m := cfg.Mix
	g.kinds = newTable([]uint64{uint64(m.JSON), uint64(m.Logfmt), uint64(m.Nginx), uint64(m.JavaStack), uint64(m.Plain)})
	for k := range numKinds {
		var srcs []*source
		for _, s := range g.sources {
			if s.group == kindGroup[k] {
				srcs = append(srcs, s)
			}
		}
		g.byKind[k] = kindSources{srcs: srcs, t: weightsOf(srcs)}
	}
	ipr := newRNG(cfg.Seed, 0x636c69656e74)
	g.clientIPs = make([]uint32, 2000)
	for i := range g.clientIPs {
		// Public-looking addresses: first octet 1-223 but not 10 or 127.
		a := uint32(1 + ipr.intn(222))
		if a == 10 || a == 127 {
			a++
		}
		g.clientIPs[i] = a<<24 | uint32(ipr.u64()>>40)&0xffff00 | uint32(1+ipr.intn(254))
	}
	for l := range numLevels {
		g.javaTmpl[l] = compileAll(javaMessages[l], 100*int(l))
		g.goTmpl[l] = compileAll(goMessages[l], 100*int(l))
		for st := range numStyles {
			g.plainTmpl[st][l] = compileAll(plainMessages[st][l], 100*int(l)+10*int(st))
		}
	}
	return g
}

// Next returns the next entry. Timestamps advance by exponentially
// distributed gaps averaging 1/Rate seconds; the first entry is at Start.
func (g *Generator) Next() Entry {
	e, b := g.next(g.buf[:0])
	g.buf = b
	if len(b) > 0 {
		e.Line = string(b)
	}
	return e
}

// next returns the next entry without its Line, which it appends to b.
func (g *Generator) next(b []byte) (Entry, []byte) {
	r := g.r
	ts := g.now
	g.now += int64(r.r.ExpFloat64() * g.nsPerLine)
	k := kind(g.kinds.pick(r.u64()))
	ks := &g.byKind[k]
	if len(ks.srcs) == 0 {
		// No app of the kind's group exists in a tiny topology: the kind
		// falls back to the Java group, which every topology has.
		k, ks = kindJSON, &g.byKind[kindJSON]
	}
	s := ks.srcs[ks.t.pick(r.u64())]
	lvl := level(g.levels[b2i(k == kindJavaStack)].pick(r.u64()))
	e := Entry{Tenant: s.tenant, Labels: s.streams[lvl], Timestamp: ts}
	if r.chancePPM(emptyPPM) {
		return e, b
	}
	g.clk.set(ts)
	idNum := r.chancePPM(idNumberPPM)
	long := r.chancePPM(longPPM)
	switch k {
	case kindJSON:
		b, e.Metadata = g.jsonLine(b, s, lvl, idNum, long)
	case kindLogfmt:
		b = g.logfmtLine(b, s, lvl, idNum, long)
	case kindNginx:
		b = g.nginxLine(b, s, lvl, idNum, long)
	case kindJavaStack:
		b = g.javaStackLine(b, s, lvl, idNum)
	case kindPlain:
		b = g.plainLine(b, s, lvl, idNum, long)
	}
	return e, b
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Take returns the next n entries.
func (g *Generator) Take(n int) []Entry {
	return g.Fill(make([]Entry, 0, n))
}

// Fill appends entries to dst until it is full (len(dst) == cap(dst)) and
// returns it. It yields the same entries as calls to Next, but the lines
// of a batch share one allocation.
func (g *Generator) Fill(dst []Entry) []Entry {
	return g.batch(dst, func(dst []Entry, _ int64) bool { return len(dst) < cap(dst) })
}

// TakeBytes returns the next entries up to the first at which the sum of
// len(Line) reaches n bytes. It returns nil for n <= 0.
func (g *Generator) TakeBytes(n int64) []Entry {
	if n <= 0 {
		return nil
	}
	// Lines average a few hundred bytes; start with room for most of them.
	dst := make([]Entry, 0, min(n/256+1, 1<<22))
	return g.batch(dst, func(_ []Entry, sum int64) bool { return sum < n })
}

// batchBytes is the size of the shared allocation behind a batch's lines.
const batchBytes = 1 << 20

// batch appends entries while more(dst, bytes appended so far) holds. Lines
// are written into one buffer and turned into strings a megabyte at a
// time, which saves an allocation per line.
func (g *Generator) batch(dst []Entry, more func([]Entry, int64) bool) []Entry {
	buf := g.buf[:0]
	ends := g.ends[:0]
	first := len(dst)
	var sum int64
	flush := func() {
		s := string(buf)
		start := 0
		for i, end := range ends {
			if end > start {
				dst[first+i].Line = s[start:end]
			}
			start = end
		}
		first += len(ends)
		buf, ends = buf[:0], ends[:0]
	}
	for more(dst, sum) {
		var e Entry
		n := len(buf)
		e, buf = g.next(buf)
		sum += int64(len(buf) - n)
		dst = append(dst, e)
		ends = append(ends, len(buf))
		if len(buf) >= batchBytes {
			flush()
		}
	}
	flush()
	g.buf, g.ends = buf, ends
	return dst
}

// Tenants returns the tenants entries are generated for, in config order.
func (g *Generator) Tenants() []tenant.ID { return slices.Clone(g.tenants) }

// Streams returns the stream label sets of every pod of every tenant,
// sorted and without duplicates (tenants may share a stream's labels, such
// as those of a StatefulSet pod postgres-0). Streams of apps whose group
// the Mix leaves out receive no entries.
func (g *Generator) Streams() []labels.Labels {
	out := g.streams(func(*source) bool { return true })
	return slices.CompactFunc(out, labels.Equal)
}

// TenantStreams returns the sorted stream label sets of one tenant.
func (g *Generator) TenantStreams(id tenant.ID) []labels.Labels {
	return g.streams(func(s *source) bool { return s.tenant == id })
}

func (g *Generator) streams(keep func(*source) bool) []labels.Labels {
	var out []labels.Labels
	for _, s := range g.sources {
		if keep(s) {
			out = append(out, s.streams[:]...)
		}
	}
	slices.SortFunc(out, labels.Compare)
	return out
}
