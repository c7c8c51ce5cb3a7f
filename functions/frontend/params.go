package frontend

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/kubemate/kmlog/logql/engine"
)

// Loki's parameter errors (loghttp), answered with 400.
var (
	errEndBeforeStart   = badRequest("end timestamp must not be before or equal to start time")
	errNegativeStep     = badRequest("zero or negative query resolution step widths are not accepted. Try a positive integer")
	errStepTooSmall     = badRequest("exceeded maximum resolution of 11,000 points per time series. Try increasing the value of the step parameter")
	errNegativeInterval = badRequest("interval must be >= 0")
	errNegativeLimit    = badRequest("limit must be a positive value")
)

func badRequest(msg string) *StatusError { return &StatusError{Code: http.StatusBadRequest, Msg: msg} }

func badRequestf(format string, args ...any) *StatusError {
	return badRequest(fmt.Sprintf(format, args...))
}

// Default time spans of requests that give no start.
const (
	defaultSince       = time.Hour     // query_range, tail
	defaultLabelsSince = 6 * time.Hour // labels, label values, series, detected_*
	maxPoints          = 11000
)

// parseTime reads a timestamp as Loki does: a number with a dot is float
// seconds (to the millisecond... rounded as Loki rounds), a number of at
// most 10 digits is seconds, a longer one nanoseconds, anything else
// RFC3339Nano. Empty means def.
func parseTime(value string, def time.Time) (time.Time, error) {
	if value == "" {
		return def, nil
	}
	if strings.Contains(value, ".") {
		if f, err := strconv.ParseFloat(value, 64); err == nil {
			s, ns := math.Modf(f)
			ns = math.Round(ns*1000) / 1000
			return time.Unix(int64(s), int64(ns*float64(time.Second))), nil
		}
	}
	n, err := strconv.ParseInt(value, 10, 64)
	if err != nil {
		if t, err := time.Parse(time.RFC3339Nano, value); err == nil {
			return t, nil
		}
		return time.Time{}, err
	}
	if len(value) <= 10 {
		return time.Unix(n, 0), nil
	}
	return time.Unix(0, n), nil
}

// parseSecondsOrDuration reads float seconds or a Prometheus duration.
func parseSecondsOrDuration(value string) (time.Duration, error) {
	if f, err := strconv.ParseFloat(value, 64); err == nil {
		ns := f * float64(time.Second)
		if ns > math.MaxInt64 || ns < math.MinInt64 {
			return 0, fmt.Errorf("cannot parse %q to a valid duration. It overflows int64", value)
		}
		return time.Duration(ns), nil
	}
	if d, err := parsePromDuration(value); err == nil {
		return d, nil
	}
	return 0, fmt.Errorf("cannot parse %q to a valid duration", value)
}

var promUnits = []struct {
	unit string
	d    time.Duration
}{
	{"y", 365 * 24 * time.Hour}, {"w", 7 * 24 * time.Hour}, {"d", 24 * time.Hour},
	{"h", time.Hour}, {"m", time.Minute}, {"s", time.Second}, {"ms", time.Millisecond},
}

var errBadDuration = errors.New("not a valid duration string")

// parsePromDuration reads Prometheus's duration form: units y w d h m s
// ms, each at most once, largest first ("1d12h", "90s", "0").
func parsePromDuration(s string) (time.Duration, error) {
	if s == "0" {
		return 0, nil
	}
	if s == "" {
		return 0, errBadDuration
	}
	var total time.Duration
	next := 0 // index into promUnits of the smallest unit still allowed
	for s != "" {
		i := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == 0 {
			return 0, errBadDuration
		}
		n, err := strconv.ParseInt(s[:i], 10, 64)
		if err != nil {
			return 0, errBadDuration
		}
		s = s[i:]
		j := 0
		for j < len(s) && (s[j] < '0' || s[j] > '9') {
			j++
		}
		u := s[:j]
		s = s[j:]
		k := next
		for k < len(promUnits) && promUnits[k].unit != u {
			k++
		}
		if k == len(promUnits) {
			return 0, errBadDuration
		}
		if n > math.MaxInt64/int64(promUnits[k].d) || total > math.MaxInt64-time.Duration(n)*promUnits[k].d {
			return 0, errBadDuration
		}
		total += time.Duration(n) * promUnits[k].d
		next = k + 1
	}
	return total, nil
}

// promDuration prints d as Prometheus does (model.Duration): "30d1h",
// years and weeks only when they divide d exactly.
func promDuration(d time.Duration) string {
	ms := int64(d / time.Millisecond)
	if ms == 0 {
		return "0s"
	}
	var b strings.Builder
	if ms < 0 {
		b.WriteByte('-')
		ms = -ms
	}
	for i, u := range promUnits {
		mult := int64(u.d / time.Millisecond)
		if i < 2 && ms%mult != 0 {
			continue
		}
		if v := ms / mult; v > 0 {
			b.WriteString(strconv.FormatInt(v, 10))
			b.WriteString(u.unit)
			ms -= v * mult
		}
	}
	return b.String()
}

// bounds reads start, end and since as Loki does: end defaults to now;
// start to end (or now, if end is in the future) minus since, which
// defaults to def.
func bounds(r *http.Request, now time.Time, def time.Duration) (time.Time, time.Time, error) {
	since := def
	if s := r.Form.Get("since"); s != "" {
		d, err := parsePromDuration(s)
		if err != nil {
			return time.Time{}, time.Time{}, badRequestf("could not parse 'since' parameter: %v", err)
		}
		since = d
	}
	end, err := parseTime(r.Form.Get("end"), now)
	if err != nil {
		return time.Time{}, time.Time{}, badRequestf("could not parse 'end' parameter: %v", err)
	}
	endOrNow := end
	if end.After(now) {
		endOrNow = now
	}
	start, err := parseTime(r.Form.Get("start"), endOrNow.Add(-since))
	if err != nil {
		return time.Time{}, time.Time{}, badRequestf("could not parse 'start' parameter: %v", err)
	}
	return start, end, nil
}

func parseLimit(r *http.Request, def int) (int, error) {
	v := r.Form.Get("limit")
	if v == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(v, 10, 32)
	if err != nil {
		return 0, badRequestf("strconv.ParseInt: parsing %q: %v", v, errors.Unwrap(err))
	}
	if n <= 0 {
		return 0, errNegativeLimit
	}
	return int(n), nil
}

func parseDirection(r *http.Request) (engine.Direction, error) {
	switch v := r.Form.Get("direction"); strings.ToUpper(v) {
	case "", "BACKWARD":
		return engine.Backward, nil
	case "FORWARD":
		return engine.Forward, nil
	default:
		return 0, badRequestf("invalid direction '%s'", v)
	}
}

// defaultStep is Loki's: the range over 250, whole seconds, at least 1s.
func defaultStep(start, end time.Time) time.Duration {
	return time.Duration(max(math.Floor(end.Sub(start).Seconds()/250), 1)) * time.Second
}

// rangeParams reads a query_range request.
func rangeParams(r *http.Request, now time.Time) (engine.Params, error) {
	var p engine.Params
	p.Query = r.Form.Get("query")
	start, end, err := bounds(r, now, defaultSince)
	if err != nil {
		return p, err
	}
	if end.Before(start) {
		return p, errEndBeforeStart
	}
	p.Start, p.End = start, end
	if p.Limit, err = parseLimit(r, engine.DefaultLimit); err != nil {
		return p, err
	}
	if p.Direction, err = parseDirection(r); err != nil {
		return p, err
	}
	p.Step = defaultStep(start, end)
	if v := r.Form.Get("step"); v != "" {
		if p.Step, err = parseSecondsOrDuration(v); err != nil {
			return p, badRequest(err.Error())
		}
	}
	if p.Step <= 0 {
		return p, errNegativeStep
	}
	if end.Sub(start)/p.Step > maxPoints {
		return p, errStepTooSmall
	}
	if v := r.Form.Get("interval"); v != "" {
		if p.Interval, err = parseSecondsOrDuration(v); err != nil {
			return p, badRequest(err.Error())
		}
		if p.Interval < 0 {
			return p, errNegativeInterval
		}
	}
	return p, nil
}

// instantParams reads a query request.
func instantParams(r *http.Request, now time.Time) (engine.Params, error) {
	var p engine.Params
	p.Query = r.Form.Get("query")
	ts, err := parseTime(r.Form.Get("time"), now)
	if err != nil {
		return p, badRequestf("could not parse 'time' parameter: %v", err)
	}
	p.Start, p.End = ts, ts
	if p.Limit, err = parseLimit(r, engine.DefaultLimit); err != nil {
		return p, err
	}
	if p.Direction, err = parseDirection(r); err != nil {
		return p, err
	}
	return p, nil
}
