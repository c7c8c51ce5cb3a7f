package config

import (
	"fmt"
	"strings"
)

// ExpandEnv replaces ${NAME} with the value lookup returns for NAME (the
// empty string when it has none) and ${NAME:-default} with the value, or
// default when NAME is unset or empty, as Promtail's -config.expand-env
// does. NAME starts with a letter or underscore; anything else after "$"
// is left alone, so regex references such as $1 and ${1} in relabel
// replacements survive. "$${" writes a literal "${".
func ExpandEnv(s string, lookup func(string) (string, bool)) (string, error) {
	if !strings.Contains(s, "${") {
		return s, nil
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		c := s[i]
		if c != '$' || i+1 >= len(s) {
			b.WriteByte(c)
			i++
			continue
		}
		if strings.HasPrefix(s[i:], "$${") {
			b.WriteString("${")
			i += 3
			continue
		}
		if s[i+1] != '{' || i+2 >= len(s) || !isNameStart(s[i+2]) {
			b.WriteByte(c)
			i++
			continue
		}
		end := strings.IndexByte(s[i:], '}')
		if end < 0 {
			return "", fmt.Errorf("expand environment: unterminated %q", truncate(s[i:]))
		}
		expr := s[i+2 : i+end]
		name, def, hasDef := strings.Cut(expr, ":-")
		if !validEnvName(name) {
			// ${1abc} cannot reach here; a name with odd bytes is a regex
			// template such as ${1}x or a typo: leave it as written.
			b.WriteString(s[i : i+end+1])
			i += end + 1
			continue
		}
		v, ok := lookup(name)
		if hasDef && (!ok || v == "") {
			v = def
		}
		b.WriteString(v)
		i += end + 1
	}
	return b.String(), nil
}

func isNameStart(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func validEnvName(s string) bool {
	if s == "" || !isNameStart(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !isNameStart(c) && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

func truncate(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}
