package pipeline

import (
	"crypto/sha256"
	"crypto/sha3"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"text/template"
)

// templateFuncs are the functions of the template and replace stages:
// Promtail's own set (ToLower ToUpper Replace Trim TrimLeft TrimRight
// TrimPrefix TrimSuffix TrimSpace Hash Sha2Hash regexReplaceAll
// regexReplaceAllLiteral) and the Sprig string functions Promtail configs
// use (lower upper title trim trimAll trimPrefix trimSuffix replace
// contains hasPrefix hasSuffix quote squote default empty coalesce
// b64enc b64dec trunc substr repeat nospace toString atoi int). Other
// Sprig functions are not available: a template naming one fails to load.
var templateFuncs = template.FuncMap{
	"ToLower":    strings.ToLower,
	"ToUpper":    strings.ToUpper,
	"Replace":    strings.Replace,
	"Trim":       strings.Trim,
	"TrimLeft":   strings.TrimLeft,
	"TrimRight":  strings.TrimRight,
	"TrimPrefix": strings.TrimPrefix,
	"TrimSuffix": strings.TrimSuffix,
	"TrimSpace":  strings.TrimSpace,
	"Hash": func(salt, input string) string {
		h := sha3.Sum256([]byte(salt + input))
		return hex.EncodeToString(h[:])
	},
	"Sha2Hash": func(salt, input string) string {
		h := sha256.Sum256([]byte(salt + input))
		return hex.EncodeToString(h[:])
	},
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

	"lower":      strings.ToLower,
	"upper":      strings.ToUpper,
	"title":      title,
	"trim":       strings.TrimSpace,
	"trimAll":    func(cut, s string) string { return strings.Trim(s, cut) },
	"trimPrefix": func(p, s string) string { return strings.TrimPrefix(s, p) },
	"trimSuffix": func(p, s string) string { return strings.TrimSuffix(s, p) },
	"replace":    func(old, repl, s string) string { return strings.ReplaceAll(s, old, repl) },
	"contains":   func(sub, s string) bool { return strings.Contains(s, sub) },
	"hasPrefix":  func(p, s string) bool { return strings.HasPrefix(s, p) },
	"hasSuffix":  func(p, s string) bool { return strings.HasSuffix(s, p) },
	"quote":      func(s any) string { return strconv.Quote(toString(s)) },
	"squote":     func(s any) string { return "'" + toString(s) + "'" },
	"default": func(d any, v ...any) any {
		if len(v) == 0 || empty(v[0]) {
			return d
		}
		return v[0]
	},
	"empty": empty,
	"coalesce": func(vs ...any) any {
		for _, v := range vs {
			if !empty(v) {
				return v
			}
		}
		return nil
	},
	"b64enc": func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) },
	"b64dec": func(s string) string {
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return err.Error()
		}
		return string(b)
	},
	"trunc": func(n int, s string) string {
		switch {
		case n < 0 && len(s)+n > 0:
			return s[len(s)+n:]
		case n >= 0 && len(s) > n:
			return s[:n]
		}
		return s
	},
	"substr": func(start, end int, s string) string {
		if start < 0 {
			start = 0
		}
		if end < 0 || end > len(s) {
			end = len(s)
		}
		if start > end {
			return ""
		}
		return s[start:end]
	},
	"repeat": func(n int, s string) (string, error) {
		if n < 0 || n*len(s) > 1<<20 {
			return "", fmt.Errorf("repeat: result too large")
		}
		return strings.Repeat(s, n), nil
	},
	"nospace":  func(s string) string { return strings.Join(strings.Fields(s), "") },
	"toString": toString,
	"atoi":     func(s string) int { i, _ := strconv.Atoi(s); return i },
	"int": func(v any) int {
		f, _ := getFloat(v)
		return int(f)
	},
}

func toString(v any) string {
	if s, ok := getString(v); ok {
		return s
	}
	if v == nil {
		return ""
	}
	return fmt.Sprint(v)
}

func empty(v any) bool {
	switch v := v.(type) {
	case nil:
		return true
	case string:
		return v == ""
	case bool:
		return !v
	case float64:
		return v == 0
	case int:
		return v == 0
	}
	return false
}

func title(s string) string {
	b := []byte(s)
	prev := byte(' ')
	for i, c := range b {
		if prev == ' ' || prev == '\t' || prev == '\n' {
			if c >= 'a' && c <= 'z' {
				b[i] = c - 'a' + 'A'
			}
		}
		prev = c
	}
	return string(b)
}

func parseTemplate(text string) (*template.Template, error) {
	return template.New("pipeline_template").Funcs(templateFuncs).Parse(text)
}
