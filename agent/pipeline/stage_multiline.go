package pipeline

import (
	"context"
	"maps"
	"regexp"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// multiline joins the lines of a block into one entry, per stream (label
// set), with Promtail's rules:
//
//   - Until a stream's first line matching firstline, its lines pass
//     through unchanged.
//   - A firstline match flushes the stream's pending block and starts a new
//     one; other lines are appended to the block with "\n".
//   - A block is flushed when it reaches max_lines lines (default 128), or
//     when the stream has had no new line for max_wait_time (default 3s;
//     see Pipeline.Flush). As in Promtail, max_lines: 0 means no limit.
//   - A flushed entry has the labels, timestamp and extracted values of
//     the block's start line. Lines that arrive after a flush and before
//     the next start line form a block that still carries the previous
//     start line's labels, timestamp and extracted values.
type multilineStage struct {
	link
	re       *regexp.Regexp
	maxLines int
	maxWait  time.Duration
	now      func() time.Time

	streams map[uint64]*mlState
	order   []*mlState // creation order, for deterministic flushes
}

type mlState struct {
	start Entry
	buf   strings.Builder
	lines int
	last  time.Time // arrival of the latest line
}

func newMultiline(b *builder, cfg *yaml.Node) (stage, error) {
	var c struct {
		FirstLine   *string   `yaml:"firstline"`
		MaxLines    *int      `yaml:"max_lines"`
		MaxWaitTime *duration `yaml:"max_wait_time"`
	}
	if err := decodeStrict(cfg, &c); err != nil {
		return nil, err
	}
	if c.FirstLine == nil {
		return nil, errKey("firstline", "multiline stage config must define `firstline` regular expression")
	}
	re, err := regexp.Compile(*c.FirstLine)
	if err != nil {
		return nil, errKey("firstline", "compile regular expression: %v", err)
	}
	s := &multilineStage{re: re, maxLines: 128, maxWait: 3 * time.Second, now: b.p.opts.Now, streams: map[uint64]*mlState{}}
	if c.MaxLines != nil {
		if *c.MaxLines < 0 {
			return nil, errKey("max_lines", "must not be negative")
		}
		s.maxLines = *c.MaxLines
	}
	if c.MaxWaitTime != nil {
		if *c.MaxWaitTime <= 0 {
			return nil, errKey("max_wait_time", "must be positive")
		}
		s.maxWait = time.Duration(*c.MaxWaitTime)
	}
	if b.minWait == 0 || s.maxWait < b.minWait {
		b.minWait = s.maxWait
	}
	return s, nil
}

func (s *multilineStage) run(ctx context.Context, e *Entry) {
	key := e.Labels.Hash()
	st, ok := s.streams[key]
	first := s.re.MatchString(e.Line)
	if !ok {
		if !first {
			s.next(ctx, e)
			return
		}
		st = &mlState{}
		s.streams[key] = st
		s.order = append(s.order, st)
	}
	st.last = s.now()
	if first {
		s.emit(ctx, st)
		st.start = *e
	}
	if st.buf.Len() > 0 {
		st.buf.WriteByte('\n')
	} else {
		// The block's oldest line: the start line, or the first line
		// after a flush (which keeps the old start's labels and time).
		st.start.Origin = e.Origin
	}
	st.buf.WriteString(e.Line)
	st.lines++
	if st.lines == s.maxLines {
		s.emit(ctx, st)
	}
}

// emit flushes st's block, if any.
func (s *multilineStage) emit(ctx context.Context, st *mlState) {
	if st.buf.Len() == 0 {
		return
	}
	out := st.start
	out.Line = st.buf.String()
	out.Extracted = maps.Clone(st.start.Extracted)
	if out.Extracted == nil {
		out.Extracted = map[string]any{}
	}
	st.buf = strings.Builder{}
	st.lines = 0
	s.next(ctx, &out)
}

func (s *multilineStage) flush(ctx context.Context, now time.Time, force bool) {
	for _, st := range s.order {
		if force || now.Sub(st.last) >= s.maxWait {
			s.emit(ctx, st)
		}
	}
}

func (s *multilineStage) held(fn func(Origin)) {
	for _, st := range s.order {
		if st.buf.Len() > 0 {
			fn(st.start.Origin)
		}
	}
}

func (s *multilineStage) pending() bool {
	for _, st := range s.order {
		if st.buf.Len() > 0 {
			return true
		}
	}
	return false
}
