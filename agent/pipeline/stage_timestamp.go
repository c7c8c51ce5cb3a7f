package pipeline

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// timeParser parses a timestamp text.
type timeParser func(s string) (time.Time, error)

var namedLayouts = map[string]string{
	"ANSIC": time.ANSIC, "UnixDate": time.UnixDate, "RubyDate": time.RubyDate,
	"RFC822": time.RFC822, "RFC822Z": time.RFC822Z, "RFC850": time.RFC850,
	"RFC1123": time.RFC1123, "RFC1123Z": time.RFC1123Z, "RFC3339": time.RFC3339,
	"RFC3339Nano": time.RFC3339Nano,
}

// newTimeParser returns the parser of one Promtail format: a name above
// (parsed in UTC unless the text has a zone; location is ignored, as in
// Promtail), Unix (seconds, optionally with a fraction), UnixMs, UnixUs,
// UnixNs, or a Go layout (parsed in loc when set). A layout without a
// year ("Jan _2 15:04:05") takes the year of now, or the neighbouring
// year across new year.
func newTimeParser(format string, loc *time.Location, now func() time.Time) timeParser {
	if layout, ok := namedLayouts[format]; ok {
		return func(s string) (time.Time, error) { return time.Parse(layout, s) }
	}
	switch format {
	case "Unix":
		return parseUnix
	case "UnixMs":
		return unixScaled(int64(time.Millisecond))
	case "UnixUs":
		return unixScaled(int64(time.Microsecond))
	case "UnixNs":
		return unixScaled(1)
	}
	parse := func(s string) (time.Time, error) {
		if loc != nil {
			return time.ParseInLocation(format, s, loc)
		}
		return time.Parse(format, s)
	}
	if strings.Contains(format, "06") {
		return parse
	}
	return func(s string) (time.Time, error) {
		t, err := parse(s)
		if err != nil {
			return t, err
		}
		if t.Year() != 0 {
			return t, fmt.Errorf("timestamp %q is expected to not contain the year date component", s)
		}
		n := now()
		switch {
		case t.Month() == 12 && n.Month() == 1:
			return t.AddDate(n.Year()-1, 0, 0), nil
		case t.Month() == 1 && n.Month() == 12:
			return t.AddDate(n.Year()+1, 0, 0), nil
		}
		return t.AddDate(n.Year(), 0, 0), nil
	}
}

func parseUnix(s string) (time.Time, error) {
	if strings.Count(s, ".") == 1 {
		secs, frac, _ := strings.Cut(s, ".")
		sec, err := strconv.ParseInt(secs, 10, 64)
		if err != nil {
			return time.Time{}, err
		}
		f, err := strconv.ParseInt(frac, 10, 64)
		if err != nil {
			return time.Time{}, err
		}
		nsec := int64(float64(f) * math.Pow(10, float64(9-len(frac))))
		return time.Unix(sec, nsec), nil
	}
	i, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}, err
	}
	return time.Unix(i, 0), nil
}

func unixScaled(unit int64) timeParser {
	return func(s string) (time.Time, error) {
		i, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return time.Time{}, err
		}
		return time.Unix(0, i*unit), nil
	}
}

// lastTimes remembers the last timestamp of each stream for fudging. Like
// Promtail's LRU it is bounded: past maxStreams it starts afresh.
type lastTimes struct {
	m map[uint64]time.Time
}

const maxFudgeStreams = 10000

func (l *lastTimes) get(k uint64) (time.Time, bool) {
	t, ok := l.m[k]
	return t, ok
}

func (l *lastTimes) set(k uint64, t time.Time) {
	if l.m == nil || len(l.m) >= maxFudgeStreams {
		if _, ok := l.m[k]; !ok {
			l.m = make(map[uint64]time.Time)
		}
	}
	l.m[k] = t
}

// timestamp: the entry's time from an extracted value. On failure
// (missing source, unconvertible value, parse error) action_on_failure
// fudge (the default) sets it 1ns after the stream's last timestamp, when
// one is known; skip keeps it.
type timestampStage struct {
	link
	source string
	parse  timeParser
	fudge  bool
	last   lastTimes
}

func newTimestamp(b *builder, cfg *yaml.Node) (stage, error) {
	var c struct {
		Source          string   `yaml:"source"`
		Format          string   `yaml:"format"`
		FallbackFormats []string `yaml:"fallback_formats"`
		Location        *string  `yaml:"location"`
		ActionOnFailure *string  `yaml:"action_on_failure"`
	}
	if err := decodeStrict(cfg, &c); err != nil {
		return nil, err
	}
	if c.Source == "" {
		return nil, errKey("source", "timestamp source value is required")
	}
	if c.Format == "" {
		return nil, errKey("format", "timestamp format is required")
	}
	var loc *time.Location
	if c.Location != nil {
		l, err := time.LoadLocation(*c.Location)
		if err != nil {
			return nil, errKey("location", "invalid location: %v", err)
		}
		loc = l
	}
	fudge := true
	if c.ActionOnFailure != nil {
		switch *c.ActionOnFailure {
		case "fudge":
		case "skip":
			fudge = false
		default:
			return nil, errKey("action_on_failure", "invalid action %q (supported values are [skip fudge])", *c.ActionOnFailure)
		}
	}
	parsers := []timeParser{newTimeParser(c.Format, loc, b.p.opts.Now)}
	for _, f := range c.FallbackFormats {
		parsers = append(parsers, newTimeParser(f, loc, b.p.opts.Now))
	}
	parse := parsers[0]
	if len(parsers) > 1 {
		parse = func(s string) (time.Time, error) {
			t, err := parsers[0](s)
			if err == nil {
				return t, nil
			}
			for _, p := range parsers[1:] {
				if t2, err2 := p(s); err2 == nil {
					return t2, nil
				}
			}
			return t, err
		}
	}
	return &timestampStage{source: c.Source, parse: parse, fudge: fudge}, nil
}

func (s *timestampStage) run(ctx context.Context, e *Entry) {
	s.apply(e)
	s.next(ctx, e)
}

func (s *timestampStage) apply(e *Entry) {
	if t, ok := s.parseFrom(e); ok {
		e.Timestamp = t
		if s.fudge {
			s.last.set(e.Labels.Hash(), t)
		}
		return
	}
	if !s.fudge {
		return
	}
	k := e.Labels.Hash()
	if last, ok := s.last.get(k); ok {
		e.Timestamp = last.Add(time.Nanosecond)
		s.last.set(k, e.Timestamp)
	}
}

func (s *timestampStage) parseFrom(e *Entry) (time.Time, bool) {
	v, ok := e.Extracted[s.source]
	if !ok {
		return time.Time{}, false
	}
	str, ok := getString(v)
	if !ok {
		return time.Time{}, false
	}
	t, err := s.parse(str)
	return t, err == nil
}
