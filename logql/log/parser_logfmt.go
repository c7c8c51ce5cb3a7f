package log

import (
	"fmt"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// LogfmtSyntaxError is a logfmt decoding error; Pos counts from 1.
type LogfmtSyntaxError struct {
	Msg string
	Pos int
}

func (e *LogfmtSyntaxError) Error() string {
	return fmt.Sprintf("logfmt syntax error at pos %d : %s", e.Pos, e.Msg)
}

// logfmtDecoder reads key=value pairs. Its grammar is go-logfmt's, as
// Loki uses it: bytes up to ' ' separate pairs; a key ends at '=' or a
// separator (a bare key has no value); a value is bare (no '=' or '"'
// inside) or double-quoted with JSON escapes.
type logfmtDecoder struct {
	line       []byte
	pos        int
	key, value []byte
	err        error
	buf        []byte
}

func (d *logfmtDecoder) reset(line []byte) {
	d.line, d.pos, d.err = line, 0, nil
}

func (d *logfmtDecoder) eol() bool { return d.pos >= len(d.line) }

func (d *logfmtDecoder) fail(msg string) {
	d.err = &LogfmtSyntaxError{Msg: msg, Pos: d.pos + 1}
}

// skipValue moves past the current token after an error.
func (d *logfmtDecoder) skipValue() bool {
	for d.pos < len(d.line) && d.line[d.pos] > ' ' {
		d.pos++
	}
	return false
}

// next reads the next pair. It returns false at the end of the line or on
// a malformed pair, which it skips (Err tells which).
func (d *logfmtDecoder) next() bool {
	d.key, d.value = nil, nil
	line := d.line
	for d.pos < len(line) && line[d.pos] <= ' ' {
		d.pos++
	}
	if d.pos >= len(line) {
		return false
	}
	start, multibyte := d.pos, false
	for ; d.pos < len(line); d.pos++ {
		c := line[d.pos]
		switch {
		case c == '=':
			if d.pos == start {
				d.fail(fmt.Sprintf("unexpected %q", c))
				return d.skipValue()
			}
			d.key = line[start:d.pos]
			if multibyte && hasRuneError(d.key) {
				d.fail("invalid key")
				return d.skipValue()
			}
			return d.readValue()
		case c == '"':
			d.fail(fmt.Sprintf("unexpected %q", c))
			return d.skipValue()
		case c <= ' ':
			d.key = line[start:d.pos]
			if multibyte && hasRuneError(d.key) {
				d.fail("invalid key")
				return false
			}
			return true
		case c >= utf8.RuneSelf:
			multibyte = true
		}
	}
	d.key = line[start:]
	if multibyte && hasRuneError(d.key) {
		d.fail("invalid key")
		return false
	}
	return true
}

func (d *logfmtDecoder) readValue() bool {
	line := d.line
	d.pos++ // past '='
	if d.pos >= len(line) || line[d.pos] <= ' ' {
		return true
	}
	if line[d.pos] == '"' {
		return d.readQuoted()
	}
	start := d.pos
	for ; d.pos < len(line); d.pos++ {
		c := line[d.pos]
		if c == '=' || c == '"' {
			d.fail(fmt.Sprintf("unexpected %q", c))
			return d.skipValue()
		}
		if c <= ' ' {
			break
		}
	}
	d.value = line[start:d.pos]
	return true
}

func (d *logfmtDecoder) readQuoted() bool {
	line := d.line
	start := d.pos
	esc, hasEsc := false, false
	for p := d.pos + 1; p < len(line); p++ {
		c := line[p]
		switch {
		case esc:
			esc = false
		case c == '\\':
			esc, hasEsc = true, true
		case c == '"':
			d.pos = p + 1
			if !hasEsc {
				if p > start+1 {
					d.value = line[start+1 : p]
				}
				return true
			}
			v, ok := unquoteLogfmt(d.buf[:0], line[start+1:p])
			d.buf = v
			if !ok {
				d.fail("invalid quoted value")
				return false
			}
			d.value = v
			return true
		}
	}
	d.pos = len(line)
	d.fail("unterminated quoted value")
	return false
}

// unquoteLogfmt appends the unescaped content of a quoted logfmt value.
// It accepts JSON escapes plus \'; a raw '"' or control byte, or a bad
// escape, makes it fail. Invalid UTF-8 becomes U+FFFD.
func unquoteLogfmt(dst, s []byte) ([]byte, bool) {
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\\':
			i++
			if i >= len(s) {
				return dst, false
			}
			switch s[i] {
			case '"', '\\', '/', '\'':
				dst = append(dst, s[i])
			case 'b':
				dst = append(dst, '\b')
			case 'f':
				dst = append(dst, '\f')
			case 'n':
				dst = append(dst, '\n')
			case 'r':
				dst = append(dst, '\r')
			case 't':
				dst = append(dst, '\t')
			case 'u':
				r, n := decodeU(s[i+1:])
				if n == 0 {
					return dst, false
				}
				i += n
				if utf16.IsSurrogate(r) {
					r2, n2 := decodeU(s[min(i+3, len(s)):])
					if i+2 < len(s) && s[i+1] == '\\' && s[i+2] == 'u' && n2 > 0 {
						if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
							r = dec
							i += 2 + n2
						} else {
							r = utf8.RuneError
						}
					} else {
						r = utf8.RuneError
					}
				}
				dst = utf8.AppendRune(dst, r)
			default:
				return dst, false
			}
			i++
		case c == '"' || c < ' ':
			return dst, false
		case c < utf8.RuneSelf:
			dst = append(dst, c)
			i++
		default:
			r, size := utf8.DecodeRune(s[i:])
			dst = utf8.AppendRune(dst, r)
			i += size
		}
	}
	return dst, true
}

// LogfmtParser is `| logfmt [--strict] [--keep-empty]`: each key=value
// pair becomes a label (name sanitised, _extracted on collision with a
// stream label). Without --strict malformed pairs are skipped; with it,
// parsing stops at the first one and sets __error__=LogfmtParserErr.
// Bare keys and empty values are dropped unless keepEmpty.
type LogfmtParser struct {
	strict, keepEmpty bool
	dec               logfmtDecoder
	keys              interner
}

// NewLogfmtParser returns the `| logfmt` stage.
func NewLogfmtParser(strict, keepEmpty bool) *LogfmtParser {
	return &LogfmtParser{strict: strict, keepEmpty: keepEmpty}
}

// Process implements Stage.
func (l *LogfmtParser) Process(_ int64, line []byte, lb *LabelsBuilder) ([]byte, bool) {
	d := &l.dec
	d.reset(line)
	for !d.eol() {
		if !d.next() {
			if l.strict {
				break
			}
			continue
		}
		key := d.key
		name := l.keys.get(key, func() string { return sanitizeLabelKey(string(key)) })
		if name == "" {
			continue
		}
		if !l.keepEmpty && len(d.value) == 0 {
			continue
		}
		lb.SetParsed(lb.ParsedName(name), cleanValue(d.value))
	}
	if l.strict && d.err != nil {
		lb.setError(LogfmtParserErr, d.err)
	}
	return line, true
}

// LabelExtraction names a label and the expression that extracts it:
// `json first="servers[0]"`, `logfmt host="hostname"`.
type LabelExtraction struct {
	Name, Expression string
}

// LogfmtExpressionParser is `| logfmt name="key", ...`: only the listed
// keys are extracted, each under its label name. Listed labels start out
// empty, so a missing key yields name="", as in Loki.
type LogfmtExpressionParser struct {
	exprs  []LabelExtraction // Expression is the sanitised key
	strict bool
	dec    logfmtDecoder
	keys   interner
}

// NewLogfmtExpressionParser returns the `| logfmt a="b", ...` stage.
func NewLogfmtExpressionParser(exprs []LabelExtraction, strict bool) (*LogfmtExpressionParser, error) {
	if len(exprs) == 0 {
		return nil, fmt.Errorf("compile logfmt parser: no expression: %w", ErrInvalidExpression)
	}
	p := &LogfmtExpressionParser{strict: strict}
	for _, e := range exprs {
		if !validLabelName(e.Name) {
			return nil, fmt.Errorf("compile logfmt parser: %q: %w", e.Name, ErrInvalidLabelName)
		}
		key := strings.TrimSpace(e.Expression)
		if key == "" || strings.ContainsAny(key, " \t\n\"=") {
			return nil, fmt.Errorf("compile logfmt parser: expression %q: %w", e.Expression, ErrInvalidExpression)
		}
		p.exprs = append(p.exprs, LabelExtraction{Name: e.Name, Expression: sanitizeLabelKey(key)})
	}
	return p, nil
}

// Process implements Stage.
func (l *LogfmtExpressionParser) Process(_ int64, line []byte, lb *LabelsBuilder) ([]byte, bool) {
	for _, e := range l.exprs {
		if !lb.BaseHas(e.Name) {
			lb.Set(e.Name, "")
		}
	}
	d := &l.dec
	d.reset(line)
	for !d.eol() {
		if !d.next() {
			if l.strict {
				break
			}
			continue
		}
		key := d.key
		name := l.keys.get(key, func() string { return sanitizeLabelKey(string(key)) })
		if name == "" {
			continue
		}
		target := ""
		for _, e := range l.exprs {
			if e.Expression == name {
				target = e.Name
				break
			}
		}
		if target == "" {
			// Loki also takes a key spelled like a target label name.
			for _, e := range l.exprs {
				if e.Name == name {
					target = name
					break
				}
			}
		}
		if target == "" {
			continue
		}
		v := d.value
		if hasRuneError(v) {
			v = nil
		}
		lb.Set(lb.ParsedName(target), string(v))
	}
	if l.strict && d.err != nil {
		lb.setError(LogfmtParserErr, d.err)
	}
	return line, true
}

// validLabelName reports whether s is [a-zA-Z_][a-zA-Z0-9_]*.
func validLabelName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(isAlpha(c) || c == '_' || (i > 0 && isDigit(c))) {
			return false
		}
	}
	return true
}
