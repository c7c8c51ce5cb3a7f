package engine

import (
	"fmt"
	"time"

	"github.com/kubemate/kmlog/logql/syntax"
)

// Direction orders the lines of a log query.
type Direction int

// Directions. Backward (newest first) is Loki's default.
const (
	Backward Direction = iota
	Forward
)

func (d Direction) String() string {
	if d == Forward {
		return "FORWARD"
	}
	return "BACKWARD"
}

// Params is one query.
//
// A range query evaluates a metric expression at Start, Start+Step, …, up
// to End inclusive; an instant query has Step 0 and Start equal to End. A
// log query returns the lines with Start <= t < End, at most Limit of
// them, the oldest (Forward) or newest (Backward) first; Interval, when
// set, keeps only lines at least Interval apart, as Loki does.
type Params struct {
	// Query is the LogQL text; Expr, when set, is used instead.
	Query string
	Expr  syntax.Expr

	Start, End time.Time
	Step       time.Duration
	Interval   time.Duration
	// Limit caps the lines of a log query; 0 means Loki's default, 100.
	Limit     int
	Direction Direction
}

// DefaultLimit is the line limit of a log query that gives none.
const DefaultLimit = 100

// maxPoints is Loki's (Prometheus's) cap on the steps of a range query.
const maxPoints = 11000

// Instant reports whether p is an instant query.
func (p Params) Instant() bool { return p.Step == 0 }

// expr returns the parsed query.
func (p Params) expr() (syntax.Expr, error) {
	if p.Expr != nil {
		return p.Expr, nil
	}
	return syntax.Parse(p.Query)
}

// validate checks the time parameters; n is the number of steps.
func (p Params) steps() (int, error) {
	s, e := p.Start.UnixNano(), p.End.UnixNano()
	if e < s {
		return 0, fmt.Errorf("%w: end timestamp must not be before start time", ErrBadQuery)
	}
	if p.Step < 0 {
		return 0, fmt.Errorf("%w: zero or negative query resolution step widths are not accepted. Try a positive integer", ErrBadQuery)
	}
	if p.Step == 0 {
		if s != e {
			return 0, fmt.Errorf("%w: zero or negative query resolution step widths are not accepted. Try a positive integer", ErrBadQuery)
		}
		return 1, nil
	}
	n := (e-s)/int64(p.Step) + 1
	if n > maxPoints {
		return 0, fmt.Errorf("%w: exceeded maximum resolution of 11,000 points per time series. Try increasing the value of the step parameter", ErrBadQuery)
	}
	return int(n), nil
}

// AlignStep returns p with Start rounded down and End rounded up to a
// multiple of Step since the epoch, as Loki's query frontend aligns metric
// range queries, so that steps fall on the same instants whatever the
// request's start. Instant queries are returned unchanged.
func AlignStep(p Params) Params {
	step := p.Step.Nanoseconds()
	if step <= 0 {
		return p
	}
	start, end := p.Start.UnixNano(), p.End.UnixNano()
	start -= start % step
	if m := end % step; m != 0 {
		end += step - m
	}
	p.Start, p.End = time.Unix(0, start).UTC(), time.Unix(0, end).UTC()
	return p
}

// DefaultStep is the step Loki uses when a range query names none: the
// range divided by 250, at least one second.
func DefaultStep(start, end time.Time) time.Duration {
	d := end.Sub(start) / 250
	d = d.Truncate(time.Second)
	if d < time.Second {
		return time.Second
	}
	return d
}
