package ruler

import (
	"bytes"
	"fmt"
	"math"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"text/template"
	"time"

	"github.com/prometheus/common/model"
)

// Templates in labels and annotations are Go templates as Prometheus
// expands them: $labels holds the alert's labels (from the query result),
// $value its value, $externalLabels the ruler's external labels, and .Labels,
// .Value, .ExternalLabels the same. The functions are those of Prometheus
// that need no query: humanize, humanize1024, humanizeDuration,
// humanizePercentage, humanizeTimestamp, title, toUpper, toLower, match,
// reReplaceAll, urlQueryEscape, stripPort, stripDomain and parseDuration.
// Query functions (query, first, value, label, sortByLabel) are left out.
const templatePrefix = "{{$labels := .Labels}}{{$externalLabels := .ExternalLabels}}{{$value := .Value}}"

type templateData struct {
	Labels         map[string]string
	ExternalLabels map[string]string
	Value          float64
	ExternalURL    string
}

var templateFuncs = template.FuncMap{
	"humanize":           numeric(humanize),
	"humanize1024":       numeric(humanize1024),
	"humanizeDuration":   numeric(humanizeDuration),
	"humanizePercentage": numeric(func(v float64) string { return humanize(v*100) + "%" }),
	"humanizeTimestamp": numeric(func(v float64) string {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Sprintf("%.4g", v)
		}
		sec, frac := math.Modf(v)
		return time.Unix(int64(sec), int64(frac*1e9)).UTC().String()
	}),
	"title":   strings.Title, //nolint:staticcheck // Prometheus's title is strings.Title.
	"toUpper": strings.ToUpper,
	"toLower": strings.ToLower,
	"match":   regexp.MatchString,
	"reReplaceAll": func(pattern, repl, text string) string {
		re := regexp.MustCompile(pattern)
		return re.ReplaceAllString(text, repl)
	},
	"urlQueryEscape": url.QueryEscape,
	"stripPort": func(hostPort string) string {
		if i := strings.LastIndexByte(hostPort, ':'); i >= 0 && !strings.Contains(hostPort[i:], "]") {
			return hostPort[:i]
		}
		return hostPort
	},
	"stripDomain": func(hostPort string) string {
		host, port := hostPort, ""
		if i := strings.LastIndexByte(hostPort, ':'); i >= 0 {
			host, port = hostPort[:i], hostPort[i:]
		}
		if i := strings.IndexByte(host, '.'); i > 0 {
			host = host[:i]
		}
		return host + port
	},
	"parseDuration": func(s string) (float64, error) {
		d, err := model.ParseDuration(s)
		if err != nil {
			return 0, err
		}
		return time.Duration(d).Seconds(), nil
	},
}

// numeric lets a function take any number or numeric string, as
// Prometheus's template functions do.
func numeric(f func(float64) string) func(any) (string, error) {
	return func(v any) (string, error) {
		switch v := v.(type) {
		case float64:
			return f(v), nil
		case float32:
			return f(float64(v)), nil
		case int:
			return f(float64(v)), nil
		case int64:
			return f(float64(v)), nil
		case uint64:
			return f(float64(v)), nil
		case string:
			x, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return "", err
			}
			return f(x), nil
		case time.Duration:
			return f(v.Seconds()), nil
		}
		return "", fmt.Errorf("can't convert %T to float", v)
	}
}

// checkTemplate parses a template, as Validate must refuse a bad one.
func checkTemplate(what, text string) error {
	if !strings.Contains(text, "{{") {
		return nil
	}
	if _, err := template.New(what).Funcs(templateFuncs).Option("missingkey=zero").Parse(templatePrefix + text); err != nil {
		return fmt.Errorf("invalid %s template: %v", what, err)
	}
	return nil
}

// parsed caches parsed templates by text: a tick expands the same few
// templates for every alert. It is emptied when it grows past maxParsed.
var parsed struct {
	sync.Mutex
	m map[string]*template.Template
}

const maxParsed = 10000

func parseCached(text string) (*template.Template, error) {
	parsed.Lock()
	t, ok := parsed.m[text]
	parsed.Unlock()
	if ok {
		return t, nil
	}
	t, err := template.New("t").Funcs(templateFuncs).Option("missingkey=zero").Parse(templatePrefix + text)
	if err != nil {
		return nil, err
	}
	parsed.Lock()
	if parsed.m == nil || len(parsed.m) >= maxParsed {
		parsed.m = make(map[string]*template.Template)
	}
	parsed.m[text] = t
	parsed.Unlock()
	return t, nil
}

// expand renders text with the alert's data. A template that fails at run
// time renders as Prometheus does: the error text in place of the value.
// (A parsed template is safe for concurrent Execute.)
func expand(what, text string, d *templateData) string {
	if !strings.Contains(text, "{{") {
		return text
	}
	t, err := parseCached(text)
	if err != nil {
		return fmt.Sprintf("<error expanding template %s: %v>", what, err)
	}
	var b bytes.Buffer
	if err := t.Execute(&b, d); err != nil {
		return fmt.Sprintf("<error expanding template: %v>", err)
	}
	return b.String()
}

func humanize(v float64) string {
	if v == 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return fmt.Sprintf("%.4g", v)
	}
	if math.Abs(v) >= 1 {
		v, prefix := bigPrefix(v, 1000, "k", "M", "G", "T", "P", "E", "Z", "Y")
		return fmt.Sprintf("%.4g%s", v, prefix)
	}
	v, prefix := smallPrefix(v)
	return fmt.Sprintf("%.4g%s", v, prefix)
}

func humanize1024(v float64) string {
	if math.Abs(v) <= 1 || math.IsNaN(v) || math.IsInf(v, 0) {
		return fmt.Sprintf("%.4g", v)
	}
	v, prefix := bigPrefix(v, 1024, "ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi")
	return fmt.Sprintf("%.4g%s", v, prefix)
}

// bigPrefix divides |v| >= 1 by base until it is below base and returns
// it with the prefix of the number of divisions.
func bigPrefix(v, base float64, prefixes ...string) (float64, string) {
	prefix := ""
	for _, p := range prefixes {
		if math.Abs(v) < base {
			break
		}
		prefix = p
		v /= base
	}
	return v, prefix
}

func humanizeDuration(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return fmt.Sprintf("%.4g", v)
	}
	if v == 0 {
		return fmt.Sprintf("%.4gs", v)
	}
	if math.Abs(v) >= 1 {
		sign := ""
		if v < 0 {
			sign, v = "-", -v
		}
		duration := int64(v)
		seconds := duration % 60
		minutes := (duration / 60) % 60
		hours := (duration / 60 / 60) % 24
		days := duration / 60 / 60 / 24
		switch {
		case days != 0:
			return fmt.Sprintf("%s%dd %dh %dm %ds", sign, days, hours, minutes, seconds)
		case hours != 0:
			return fmt.Sprintf("%s%dh %dm %ds", sign, hours, minutes, seconds)
		case minutes != 0:
			return fmt.Sprintf("%s%dm %ds", sign, minutes, seconds)
		}
		return fmt.Sprintf("%s%.4gs", sign, v)
	}
	v, prefix := smallPrefix(v)
	return fmt.Sprintf("%.4g%ss", v, prefix)
}

// smallPrefix scales 0 < |v| < 1 by thousands to the SI prefix that
// brings it to 1 or more (m, u, n, …), as Prometheus's humanize does.
func smallPrefix(v float64) (float64, string) {
	prefix := ""
	for _, p := range []string{"m", "u", "n", "p", "f", "a", "z", "y"} {
		if math.Abs(v) >= 1 {
			break
		}
		prefix = p
		v *= 1000
	}
	return v, prefix
}

// formatValue prints a sample value as the Prometheus API does.
func formatValue(v float64) string { return strconv.FormatFloat(v, 'e', -1, 64) }
