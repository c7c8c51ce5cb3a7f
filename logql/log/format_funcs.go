package log

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/url"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"text/template"
	"time"
	"unicode"
)

// Template functions of line_format and label_format: Loki's own set and
// the Sprig functions it exposes, reimplemented with the same argument
// order. Times are formatted and parsed in UTC (Sprig uses the process's
// local zone; Loki's servers run in UTC). Functions whose Sprig versions
// panic (div by zero, huge repeat) return an error instead, which sets
// __error__=TemplateFormatErr.
//
//	Loki:  ToLower ToUpper Replace Trim TrimLeft TrimRight TrimPrefix
//	       TrimSuffix TrimSpace regexReplaceAll regexReplaceAllLiteral count
//	       urldecode urlencode bytes duration duration_seconds
//	       unixEpochMillis unixEpochNanos toDateInZone unixToTime alignLeft
//	       alignRight __line__ __timestamp__
//	Sprig: b64enc b64dec lower upper title trunc substr contains hasPrefix
//	       hasSuffix indent nindent replace repeat trim trimAll trimSuffix
//	       trimPrefix int float64 add sub mul div mod addf subf mulf divf max
//	       min maxf minf ceil floor round fromJson date toDate now unixEpoch
//	       default
//
// Go's built-ins (printf, len, index, eq, and, or, not...) are there too.

// maxTemplateOutput bounds what repeat, indent and the like may build.
const maxTemplateOutput = 1 << 20

var errTooLarge = errors.New("template output too large")

func templateFuncs(line func() string, ts func() int64) template.FuncMap {
	return template.FuncMap{
		"__line__":      line,
		"__timestamp__": func() time.Time { return time.Unix(0, ts()).UTC() },

		"ToLower":    strings.ToLower,
		"ToUpper":    strings.ToUpper,
		"Replace":    strings.Replace,
		"Trim":       strings.Trim,
		"TrimLeft":   strings.TrimLeft,
		"TrimRight":  strings.TrimRight,
		"TrimPrefix": strings.TrimPrefix,
		"TrimSuffix": strings.TrimSuffix,
		"TrimSpace":  strings.TrimSpace,
		"regexReplaceAll": func(re, s, repl string) (string, error) {
			r, err := regexp.Compile(re)
			if err != nil {
				return "", err
			}
			return r.ReplaceAllString(s, repl), nil
		},
		"regexReplaceAllLiteral": func(re, s, repl string) (string, error) {
			r, err := regexp.Compile(re)
			if err != nil {
				return "", err
			}
			return r.ReplaceAllLiteralString(s, repl), nil
		},
		"count": func(re, s string) (int, error) {
			r, err := regexp.Compile(re)
			if err != nil {
				return 0, err
			}
			return len(r.FindAllStringIndex(s, -1)), nil
		},
		"urldecode": url.QueryUnescape,
		"urlencode": url.QueryEscape,
		"bytes": func(s string) (float64, error) {
			b, err := ParseBytes(s)
			return float64(b), err
		},
		"duration":         durationSeconds,
		"duration_seconds": durationSeconds,
		"unixEpochMillis":  func(t time.Time) string { return strconv.FormatInt(t.UnixMilli(), 10) },
		"unixEpochNanos":   func(t time.Time) string { return strconv.FormatInt(t.UnixNano(), 10) },
		"toDateInZone":     toDateInZone,
		"unixToTime":       unixToTime,
		"alignLeft":        alignLeft,
		"alignRight":       alignRight,

		"b64enc": func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) },
		"b64dec": func(s string) string {
			b, err := base64.StdEncoding.DecodeString(s)
			if err != nil {
				return err.Error()
			}
			return string(b)
		},
		"lower":      strings.ToLower,
		"upper":      strings.ToUpper,
		"title":      title,
		"trunc":      trunc,
		"substr":     substring,
		"contains":   func(sub, s string) bool { return strings.Contains(s, sub) },
		"hasPrefix":  func(p, s string) bool { return strings.HasPrefix(s, p) },
		"hasSuffix":  func(p, s string) bool { return strings.HasSuffix(s, p) },
		"indent":     indent,
		"nindent":    func(n int, s string) (string, error) { r, err := indent(n, s); return "\n" + r, err },
		"replace":    func(old, repl, s string) string { return strings.ReplaceAll(s, old, repl) },
		"repeat":     repeat,
		"trim":       strings.TrimSpace,
		"trimAll":    func(cut, s string) string { return strings.Trim(s, cut) },
		"trimSuffix": func(suf, s string) string { return strings.TrimSuffix(s, suf) },
		"trimPrefix": func(pre, s string) string { return strings.TrimPrefix(s, pre) },
		"int":        func(v any) int { return int(toInt64(v)) },
		"float64":    toFloat64,
		"add": func(vs ...any) int64 {
			var s int64
			for _, v := range vs {
				s += toInt64(v)
			}
			return s
		},
		"sub": func(a, b any) int64 { return toInt64(a) - toInt64(b) },
		"mul": func(a any, vs ...any) int64 {
			p := toInt64(a)
			for _, v := range vs {
				p *= toInt64(v)
			}
			return p
		},
		"div": func(a, b any) (int64, error) {
			d := toInt64(b)
			if d == 0 {
				return 0, errors.New("integer divide by zero")
			}
			return toInt64(a) / d, nil
		},
		"mod": func(a, b any) (int64, error) {
			d := toInt64(b)
			if d == 0 {
				return 0, errors.New("integer divide by zero")
			}
			return toInt64(a) % d, nil
		},
		"addf": func(vs ...any) float64 {
			var s float64
			for _, v := range vs {
				s += toFloat64(v)
			}
			return s
		},
		"subf": func(a any, vs ...any) float64 {
			r := toFloat64(a)
			for _, v := range vs {
				r -= toFloat64(v)
			}
			return r
		},
		"mulf": func(a any, vs ...any) float64 {
			r := toFloat64(a)
			for _, v := range vs {
				r *= toFloat64(v)
			}
			return r
		},
		"divf": func(a any, vs ...any) float64 {
			r := toFloat64(a)
			for _, v := range vs {
				r /= toFloat64(v)
			}
			return r
		},
		"max": func(a any, vs ...any) int64 {
			m := toInt64(a)
			for _, v := range vs {
				m = max(m, toInt64(v))
			}
			return m
		},
		"min": func(a any, vs ...any) int64 {
			m := toInt64(a)
			for _, v := range vs {
				m = min(m, toInt64(v))
			}
			return m
		},
		"maxf": func(a any, vs ...any) float64 {
			m := toFloat64(a)
			for _, v := range vs {
				m = math.Max(m, toFloat64(v))
			}
			return m
		},
		"minf": func(a any, vs ...any) float64 {
			m := toFloat64(a)
			for _, v := range vs {
				m = math.Min(m, toFloat64(v))
			}
			return m
		},
		"ceil":  func(v any) float64 { return math.Ceil(toFloat64(v)) },
		"floor": func(v any) float64 { return math.Floor(toFloat64(v)) },
		"round": func(v any, p int, opt ...float64) float64 {
			half := 0.5
			if len(opt) > 0 {
				half = opt[0]
			}
			pow := math.Pow(10, float64(p))
			x := toFloat64(v) * pow
			_, frac := math.Modf(x)
			if frac >= half {
				return math.Ceil(x) / pow
			}
			return math.Floor(x) / pow
		},
		"fromJson": func(s string) any {
			var v any
			_ = json.Unmarshal([]byte(s), &v)
			return v
		},
		"date":      formatDate,
		"toDate":    func(layout, s string) time.Time { t, _ := time.ParseInLocation(layout, s, time.UTC); return t },
		"now":       func() time.Time { return time.Now().UTC() },
		"unixEpoch": func(t time.Time) string { return strconv.FormatInt(t.Unix(), 10) },
		"default":   dfault,
	}
}

func durationSeconds(s string) (float64, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, err
	}
	return d.Seconds(), nil
}

func toDateInZone(layout, zone, s string) time.Time {
	loc, err := time.LoadLocation(zone)
	if err != nil {
		loc = time.UTC
	}
	t, _ := time.ParseInLocation(layout, s, loc)
	return t
}

// unixToTime reads epoch days, seconds, milliseconds, microseconds or
// nanoseconds, told apart by digit count (5, 10, 13, 16, 19).
func unixToTime(s string) (time.Time, error) {
	i, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("unable to parse time '%v': %w", s, err)
	}
	switch len(s) {
	case 5:
		return time.Unix(i*86400, 0).UTC(), nil
	case 10:
		return time.Unix(i, 0).UTC(), nil
	case 13:
		return time.Unix(0, i*1e6).UTC(), nil
	case 16:
		return time.Unix(0, i*1e3).UTC(), nil
	case 19:
		return time.Unix(0, i).UTC(), nil
	}
	return time.Time{}, fmt.Errorf("unable to parse time '%v'", s)
}

func alignLeft(n int, s string) string {
	r := []rune(s)
	if n < 0 || n == len(r) || n > maxTemplateOutput {
		return s
	}
	if n > len(r) {
		return s + strings.Repeat(" ", n-len(r))
	}
	return string(r[:n])
}

func alignRight(n int, s string) string {
	r := []rune(s)
	if n < 0 || n == len(r) || n > maxTemplateOutput {
		return s
	}
	if n > len(r) {
		return strings.Repeat(" ", n-len(r)) + s
	}
	return string(r[len(r)-n:])
}

// title upper-cases the first letter of each word.
func title(s string) string {
	prev := ' '
	return strings.Map(func(r rune) rune {
		isSep := unicode.IsSpace(prev) || unicode.IsPunct(prev) && prev != '\'' || unicode.IsSymbol(prev)
		prev = r
		if isSep {
			return unicode.ToTitle(r)
		}
		return r
	}, s)
}

// trunc keeps the first n runes, or the last -n when n < 0.
// trunc cuts s to n bytes (n < 0: the last -n bytes), as Loki's (sprig's)
// trunc does: it counts bytes, not characters.
func trunc(n int, s string) string {
	l := len(s)
	if n < 0 && l+n > 0 {
		return s[l+n:]
	}
	if n >= 0 && l > n {
		return s[:n]
	}
	return s
}

// substring is Loki's rune-safe substr: start < 0 means from the start,
// end < 0 or past the end means to the end.
func substring(start, end int, s string) string {
	r := []rune(s)
	l := len(r)
	end = min(end, l)
	start = min(start, l)
	if start < 0 {
		if end < 0 {
			return ""
		}
		return string(r[:end])
	}
	if end < 0 {
		return string(r[start:])
	}
	if start > end {
		return ""
	}
	return string(r[start:end])
}

func indent(n int, s string) (string, error) {
	if n < 0 {
		n = 0
	}
	if n*(strings.Count(s, "\n")+1)+len(s) > maxTemplateOutput {
		return "", errTooLarge
	}
	pad := strings.Repeat(" ", n)
	return pad + strings.ReplaceAll(s, "\n", "\n"+pad), nil
}

func repeat(n int, s string) (string, error) {
	if n < 0 {
		return "", errors.New("negative repeat count")
	}
	if n > 0 && len(s) > maxTemplateOutput/n {
		return "", errTooLarge
	}
	return strings.Repeat(s, n), nil
}

// formatDate is Sprig's date: a time or Unix seconds, in UTC.
func formatDate(layout string, date any) string {
	var t time.Time
	switch v := date.(type) {
	case time.Time:
		t = v
	case *time.Time:
		if v != nil {
			t = *v
		}
	case int64:
		t = time.Unix(v, 0)
	case int:
		t = time.Unix(int64(v), 0)
	case int32:
		t = time.Unix(int64(v), 0)
	default:
		t = time.Now()
	}
	return t.UTC().Format(layout)
}

// dfault is Sprig's default: given when it is not empty, else d.
func dfault(d any, given ...any) any {
	if len(given) == 0 || isEmpty(given[0]) {
		return d
	}
	return given[0]
}

func isEmpty(v any) bool {
	if v == nil {
		return true
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Array, reflect.Map, reflect.Slice, reflect.String:
		return rv.Len() == 0
	case reflect.Bool:
		return !rv.Bool()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return rv.Int() == 0
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return rv.Uint() == 0
	case reflect.Float32, reflect.Float64:
		return rv.Float() == 0
	case reflect.Interface, reflect.Pointer:
		return rv.IsNil()
	case reflect.Struct:
		if t, ok := v.(time.Time); ok {
			return t.IsZero()
		}
		return false
	}
	return false
}

// toInt64 converts like Sprig (spf13/cast): numbers truncate, strings
// parse as integers ("12.0" allowed), anything else is 0.
func toInt64(v any) int64 {
	switch x := v.(type) {
	case string:
		s := x
		if i := strings.IndexByte(s, '.'); i >= 0 && strings.Trim(s[i+1:], "0") == "" {
			s = s[:i]
		}
		n, err := strconv.ParseInt(s, 0, 64)
		if err != nil {
			return 0
		}
		return n
	case bool:
		if x {
			return 1
		}
		return 0
	case nil:
		return 0
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return rv.Int()
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return int64(rv.Uint())
	case reflect.Float32, reflect.Float64:
		f := rv.Float()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return 0
		}
		return int64(f)
	}
	return 0
}

// toFloat64 converts like Sprig: strings parse as floats, else 0.
func toFloat64(v any) float64 {
	switch x := v.(type) {
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
		if err != nil {
			return 0
		}
		return f
	case bool:
		if x {
			return 1
		}
		return 0
	case nil:
		return 0
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return float64(rv.Int())
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return float64(rv.Uint())
	case reflect.Float32, reflect.Float64:
		return rv.Float()
	}
	return 0
}
