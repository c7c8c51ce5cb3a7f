package pipeline

import (
	"context"
	"errors"
	"time"

	"go.yaml.in/yaml/v3"
)

// cri parses the CRI log format of containerd and CRI-O,
//
//	<RFC 3339 time> <stdout|stderr> <flags> <content>
//
// exactly as Promtail's regex ^(?s)(?P<time>\S+?) (?P<stream>stdout|stderr)
// (?P<flags>\S+?) (?P<content>.*)$ does: time, stream, flags and content
// become extracted values, stream a label, time the timestamp (with the
// timestamp stage's fudge on failure), content the line. A line that does
// not match keeps its text.
//
// Flags "P" mark a partial line: its content is held, per stream (label
// set), and joined without separator to the following lines of the stream
// up to the next full line, which is emitted with the joined text and its
// own time. When a partial line arrives while max_partial_lines streams
// already hold one, the held lines are emitted as they are (oldest
// first) and the new one starts afresh. With
// max_partial_line_size_truncate, held and joined text is cut to
// max_partial_line_size bytes.
type criStage struct {
	link
	maxPartial int
	maxSize    int
	truncate   bool
	ts         *timestampStage

	partial map[uint64]Entry
	order   []uint64 // keys of partial in arrival order
}

func newCRI(b *builder, cfg *yaml.Node) (stage, error) {
	var c struct {
		MaxPartialLines            int      `yaml:"max_partial_lines"`
		MaxPartialLineSize         byteSize `yaml:"max_partial_line_size"`
		MaxPartialLineSizeTruncate bool     `yaml:"max_partial_line_size_truncate"`
	}
	if err := decodeStrict(cfg, &c); err != nil {
		return nil, err
	}
	if c.MaxPartialLines < 0 {
		return nil, errKey("max_partial_lines", "must not be negative")
	}
	if c.MaxPartialLines == 0 {
		c.MaxPartialLines = 100
	}
	if c.MaxPartialLineSizeTruncate && c.MaxPartialLineSize <= 0 {
		return nil, errKey("max_partial_line_size_truncate", "needs a positive max_partial_line_size")
	}
	return &criStage{
		maxPartial: c.MaxPartialLines,
		maxSize:    int(c.MaxPartialLineSize),
		truncate:   c.MaxPartialLineSizeTruncate,
		ts:         &timestampStage{source: "time", parse: newTimeParser("RFC3339Nano", nil, b.p.opts.Now), fudge: true},
		partial:    make(map[uint64]Entry),
	}, nil
}

// parseCRI splits a CRI line. ok is false when the line does not match.
func parseCRI(s string) (ts, stream, flags, content string, ok bool) {
	i := 0
	for i < len(s) && !isRE2Space(s[i]) {
		i++
	}
	if i == 0 || i >= len(s) || s[i] != ' ' {
		return
	}
	ts, rest := s[:i], s[i+1:]
	if len(rest) < 7 || (rest[:7] != "stdout " && rest[:7] != "stderr ") {
		return
	}
	// A constant, not a cut of s: the stream label outlives the line.
	stream = "stdout"
	if rest[:6] == "stderr" {
		stream = "stderr"
	}
	rest = rest[7:]
	j := 0
	for j < len(rest) && !isRE2Space(rest[j]) {
		j++
	}
	if j == 0 || j >= len(rest) || rest[j] != ' ' {
		return
	}
	return ts, stream, rest[:j], rest[j+1:], true
}

// isRE2Space is RE2's \s: [\t\n\f\r ].
func isRE2Space(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r'
}

func (s *criStage) run(ctx context.Context, e *Entry) {
	if ts, stream, flags, content, ok := parseCRI(e.Line); ok {
		e.Extracted["time"] = ts
		e.Extracted["stream"] = stream
		e.Extracted["flags"] = flags
		e.Extracted["content"] = content
	}
	if v, ok := e.Extracted["stream"]; ok {
		if str, ok := getString(v); ok {
			setStreamLabel(e, "stream", str)
		}
	}
	s.ts.apply(e)
	for _, src := range [...]string{"content", "tags"} {
		if v, ok := e.Extracted[src]; ok {
			if str, ok := getString(v); ok {
				e.Line = str
			}
		}
	}

	key := e.Labels.Hash()
	if f, _ := e.Extracted["flags"].(string); f == "P" {
		if len(s.partial) >= s.maxPartial {
			held := s.takeAll()
			s.hold(key, e)
			for i := range held {
				s.next(ctx, &held[i])
			}
			return
		}
		if prev, ok := s.partial[key]; ok {
			e.Line = prev.Line + e.Line
			e.Origin = prev.Origin
		}
		s.hold(key, e)
		return
	}
	if prev, ok := s.partial[key]; ok {
		e.Line = prev.Line + e.Line
		e.Origin = prev.Origin
		s.cut(e)
		delete(s.partial, key)
		s.removeOrder(key)
	}
	s.next(ctx, e)
}

func (s *criStage) cut(e *Entry) {
	if s.truncate && len(e.Line) > s.maxSize {
		e.Line = e.Line[:s.maxSize]
	}
}

func (s *criStage) hold(key uint64, e *Entry) {
	s.cut(e)
	if _, ok := s.partial[key]; !ok {
		s.order = append(s.order, key)
	}
	s.partial[key] = *e
}

func (s *criStage) removeOrder(key uint64) {
	for i, k := range s.order {
		if k == key {
			s.order = append(s.order[:i], s.order[i+1:]...)
			return
		}
	}
}

func (s *criStage) takeAll() []Entry {
	out := make([]Entry, 0, len(s.order))
	for _, k := range s.order {
		out = append(out, s.partial[k])
	}
	clear(s.partial)
	s.order = s.order[:0]
	return out
}

// flush emits held partial lines only when forced (Promtail holds them
// until the full line comes).
func (s *criStage) flush(ctx context.Context, _ time.Time, force bool) {
	if !force {
		return
	}
	held := s.takeAll()
	for i := range held {
		s.next(ctx, &held[i])
	}
}

func (s *criStage) pending() bool { return len(s.partial) > 0 }

func (s *criStage) held(fn func(Origin)) {
	for _, k := range s.order {
		fn(s.partial[k].Origin)
	}
}

// composite runs a fixed list of stages as one (docker).
type composite struct {
	stages []stage
	head   emitFunc
}

func (c *composite) bind(next emitFunc)                { c.head = chain(c.stages, next) }
func (c *composite) run(ctx context.Context, e *Entry) { c.head(ctx, e) }

// docker parses Docker's json-file lines, {"log":...,"stream":...,
// "time":...}: like Promtail, a json stage (output, stream, timestamp),
// labels (stream), timestamp (RFC3339Nano) and output (output).
func newDocker(b *builder, cfg *yaml.Node) (stage, error) {
	if err := emptyConfig(cfg); err != nil {
		return nil, err
	}
	js, err := newJSONFromConfig(b, jsonConfig{Expressions: map[string]string{"output": "log", "stream": "stream", "timestamp": "time"}})
	if err != nil {
		return nil, errors.New("BUG: docker json config")
	}
	return &composite{stages: []stage{
		js,
		&labelsStage{m: labelMapping{{"stream", "stream"}}},
		&timestampStage{source: "timestamp", parse: newTimeParser("RFC3339Nano", nil, b.p.opts.Now), fudge: true},
		&outputStage{source: "output"},
	}}, nil
}
