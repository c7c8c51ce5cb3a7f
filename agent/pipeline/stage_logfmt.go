package pipeline

import (
	"context"
	"errors"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// logfmt: mapped logfmt keys become extracted values.
type logfmtStage struct {
	link
	source  *string
	inverse map[string]string // logfmt key -> extracted name
}

func newLogfmt(cfg *yaml.Node) (stage, error) {
	var c struct {
		Mapping map[string]string `yaml:"mapping"`
		Source  *string           `yaml:"source"`
	}
	if err := decodeStrict(cfg, &c); err != nil {
		return nil, err
	}
	if len(c.Mapping) == 0 {
		return nil, errKey("mapping", "logfmt mapping is required")
	}
	if err := checkSource(c.Source); err != nil {
		return nil, err
	}
	names := make([]string, 0, len(c.Mapping))
	for k := range c.Mapping {
		names = append(names, k)
	}
	sort.Strings(names)
	inv := make(map[string]string, len(c.Mapping))
	for _, k := range names {
		v := c.Mapping[k]
		if v == "" {
			v = k
		}
		inv[v] = k
	}
	return &logfmtStage{source: c.Source, inverse: inv}, nil
}

func (s *logfmtStage) run(ctx context.Context, e *Entry) {
	if in, ok := sourceInput(e, s.source); ok {
		// Like go-logfmt, pairs before a syntax error are kept.
		_ = scanLogfmt(in, func(k, v string) {
			if name, ok := s.inverse[k]; ok {
				e.Extracted[name] = v
			}
		})
	}
	s.next(ctx, e)
}

var errLogfmt = errors.New("malformed logfmt")

// scanLogfmt calls fn for each key=value pair of s, with go-logfmt's
// grammar: keys are runs of bytes above space other than '=' and '"'; a
// key alone has an empty value; values are bare (no '=' or '"') or
// double-quoted with JSON-style escapes. Newlines separate records. It
// stops at the first syntax error.
func scanLogfmt(s string, fn func(k, v string)) error {
	i := 0
	for i < len(s) {
		for i < len(s) && s[i] <= ' ' {
			i++
		}
		if i >= len(s) {
			break
		}
		start := i
		for i < len(s) && s[i] > ' ' && s[i] != '=' && s[i] != '"' {
			i++
		}
		if i == start {
			return errLogfmt // '=' or '"' where a key should start
		}
		key := s[start:i]
		if i >= len(s) || s[i] <= ' ' {
			fn(key, "")
			continue
		}
		if s[i] == '"' {
			return errLogfmt
		}
		i++ // '='
		if i >= len(s) || s[i] <= ' ' {
			fn(key, "")
			continue
		}
		if s[i] != '"' {
			vs := i
			for i < len(s) && s[i] > ' ' {
				if s[i] == '=' || s[i] == '"' {
					return errLogfmt
				}
				i++
			}
			fn(key, s[vs:i])
			continue
		}
		// Quoted value.
		vs := i
		i++
		esc := false
		for ; i < len(s); i++ {
			if s[i] == '\\' {
				i++
				esc = true
				continue
			}
			if s[i] == '"' || s[i] == '\n' {
				break
			}
		}
		if i >= len(s) || s[i] != '"' {
			return errLogfmt
		}
		i++
		raw := s[vs:i]
		if !esc {
			fn(key, raw[1:len(raw)-1])
			continue
		}
		v, err := strconv.Unquote(strings.ReplaceAll(raw, `\/`, `/`))
		if err != nil {
			return errLogfmt
		}
		fn(key, v)
	}
	return nil
}
