package push

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"

	"github.com/kubemate/kmlog/format/labels"
)

// maxJSONDepth bounds the nesting of values skipped under unknown keys, so
// that a hostile body cannot exhaust the stack.
const maxJSONDepth = 256

// DecodeJSON decodes a JSON push body (see doc.go). Strings that need no
// unescaping share one copy of b; b is not retained.
func DecodeJSON(b []byte) (*Request, error) {
	return decodeJSON(b, string(b))
}

// jsonDecoder decodes one JSON push body. b and s hold the same bytes: b to
// scan, s to cut strings from without copying.
type jsonDecoder struct {
	b       []byte
	s       string
	pos     int
	entries []Entry        // backing array of every stream's Entries
	meta    []labels.Label // backing array of every entry's Metadata
	pairs   []labels.Label // scratch for the stream object
	// arena receives unescaped strings. It is only ever appended to, so a
	// string cut from it stays immutable even when append moves on to a
	// new array.
	arena []byte
}

func decodeJSON(b []byte, s string) (*Request, error) {
	// Every entry opens an array and takes at least 8 bytes (["1",""]), so
	// this guess is close for real bodies and bounded for hostile ones.
	d := jsonDecoder{b: b, s: s, entries: make([]Entry, 0, min(bytes.Count(b, []byte{'['}), len(b)/8))}
	req := &Request{}
	d.ws()
	if d.pos >= len(d.b) || d.b[d.pos] != '{' {
		return nil, d.errorf("expected a JSON object")
	}
	err := d.object(func(key string) error {
		if !strings.EqualFold(key, "streams") {
			return d.skip(0)
		}
		req.Streams = req.Streams[:0]
		if d.null() {
			return nil
		}
		return d.array("streams", func(int) error {
			st, err := d.stream()
			if err != nil {
				return err
			}
			req.Streams = append(req.Streams, st)
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	d.ws()
	if d.pos != len(d.b) {
		return nil, d.errorf("unexpected data after the top-level object")
	}
	return req, nil
}

func (d *jsonDecoder) errorf(format string, args ...any) error {
	return &DecodeError{Format: "json", Offset: int64(d.pos), Msg: fmt.Sprintf(format, args...)}
}

func (d *jsonDecoder) stream() (Stream, error) {
	if d.pos >= len(d.b) || d.b[d.pos] != '{' {
		return Stream{}, d.errorf("expected a stream object")
	}
	var st Stream
	haveLabels := false
	d.pairs = d.pairs[:0]
	first := len(d.entries)
	err := d.object(func(key string) error {
		switch {
		case strings.EqualFold(key, "stream"):
			// Like encoding/json decoding into a map: null empties it,
			// a repeated object merges into it.
			haveLabels = true
			if d.null() {
				d.pairs = d.pairs[:0]
				return nil
			}
			return d.stringObject("stream", func(name, value string) {
				d.pairs = append(d.pairs, labels.Label{Name: name, Value: value})
			})
		case strings.EqualFold(key, "values"):
			d.entries = d.entries[:first]
			if d.null() {
				return nil
			}
			return d.array("values", func(int) error {
				e, err := d.entry()
				if err != nil {
					return err
				}
				d.entries = append(d.entries, e)
				return nil
			})
		default:
			return d.skip(0)
		}
	})
	if err != nil {
		return Stream{}, err
	}
	st.Labels = "{}"
	if haveLabels && len(d.pairs) > 0 {
		st.Labels = normalize(d.pairs).String()
	}
	if n := len(d.entries); n > first {
		st.Entries = d.entries[first:n:n]
	}
	return st, nil
}

func (d *jsonDecoder) entry() (Entry, error) {
	if d.pos >= len(d.b) || d.b[d.pos] != '[' {
		return Entry{}, d.errorf("expected an entry array [timestamp, line] or [timestamp, line, metadata]")
	}
	var e Entry
	n := 0
	first := len(d.meta)
	err := d.array("entry", func(i int) error {
		n = i + 1
		switch i {
		case 0:
			if d.pos < len(d.b) && d.b[d.pos] != '"' {
				return d.errorf("entry timestamp must be a string of Unix nanoseconds")
			}
			at := d.pos
			s, err := d.str()
			if err != nil {
				return err
			}
			ts, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				d.pos = at
				return d.errorf("entry timestamp %q is not an integer of Unix nanoseconds", s)
			}
			e.Timestamp = ts
		case 1:
			if d.pos < len(d.b) && d.b[d.pos] != '"' {
				return d.errorf("entry line must be a string")
			}
			s, err := d.str()
			if err != nil {
				return err
			}
			e.Line = s
		case 2:
			if d.null() {
				return nil
			}
			return d.stringObject("structured metadata", func(name, value string) {
				d.meta = append(d.meta, labels.Label{Name: name, Value: value})
			})
		default:
			return d.errorf("entry has more than 3 elements")
		}
		return nil
	})
	if err != nil {
		return Entry{}, err
	}
	if n < 2 {
		return Entry{}, d.errorf("entry has %d elements, want [timestamp, line] or [timestamp, line, metadata]", n)
	}
	if m := len(d.meta); m > first {
		e.Metadata = normalize(d.meta[first:m:m])
	}
	return e, nil
}

// stringObject reads an object whose values are all strings.
func (d *jsonDecoder) stringObject(what string, fn func(name, value string)) error {
	if d.pos >= len(d.b) || d.b[d.pos] != '{' {
		return d.errorf("%s must be an object of strings", what)
	}
	return d.object(func(key string) error {
		if d.pos >= len(d.b) || d.b[d.pos] != '"' {
			return d.errorf("%s value of %q must be a string", what, key)
		}
		v, err := d.str()
		if err != nil {
			return err
		}
		fn(key, v)
		return nil
	})
}

// ws skips whitespace.
func (d *jsonDecoder) ws() {
	for d.pos < len(d.b) {
		switch d.b[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

// null consumes a null literal if one is next.
func (d *jsonDecoder) null() bool {
	if strings.HasPrefix(d.s[d.pos:], "null") {
		d.pos += 4
		return true
	}
	return false
}

// object reads an object at d.pos, calling fn with d.pos at each value; fn
// must consume the value.
func (d *jsonDecoder) object(fn func(key string) error) error {
	d.pos++ // '{', checked by the caller
	d.ws()
	if d.pos < len(d.b) && d.b[d.pos] == '}' {
		d.pos++
		return nil
	}
	for {
		d.ws()
		if d.pos >= len(d.b) || d.b[d.pos] != '"' {
			return d.errorf("expected an object key")
		}
		key, err := d.str()
		if err != nil {
			return err
		}
		d.ws()
		if d.pos >= len(d.b) || d.b[d.pos] != ':' {
			return d.errorf("expected ':' after object key")
		}
		d.pos++
		d.ws()
		if d.pos >= len(d.b) {
			return d.errorf("unexpected end of input")
		}
		if err := fn(key); err != nil {
			return err
		}
		d.ws()
		if d.pos >= len(d.b) {
			return d.errorf("unexpected end of input in object")
		}
		switch d.b[d.pos] {
		case ',':
			d.pos++
		case '}':
			d.pos++
			return nil
		default:
			return d.errorf("expected ',' or '}' in object")
		}
	}
}

// array reads an array at d.pos, calling fn with d.pos at each element; fn
// must consume the element.
func (d *jsonDecoder) array(what string, fn func(i int) error) error {
	if d.pos >= len(d.b) || d.b[d.pos] != '[' {
		return d.errorf("%s must be an array", what)
	}
	d.pos++
	d.ws()
	if d.pos < len(d.b) && d.b[d.pos] == ']' {
		d.pos++
		return nil
	}
	for i := 0; ; i++ {
		d.ws()
		if d.pos >= len(d.b) {
			return d.errorf("unexpected end of input in %s", what)
		}
		if err := fn(i); err != nil {
			return err
		}
		d.ws()
		if d.pos >= len(d.b) {
			return d.errorf("unexpected end of input in %s", what)
		}
		switch d.b[d.pos] {
		case ',':
			d.pos++
		case ']':
			d.pos++
			return nil
		default:
			return d.errorf("expected ',' or ']' in %s", what)
		}
	}
}

// str reads a string at d.pos (which holds '"'). A string without escapes
// is a substring of d.s; one with escapes is a new string.
func (d *jsonDecoder) str() (string, error) {
	start := d.pos + 1
	for i := start; i < len(d.b); i++ {
		switch c := d.b[i]; {
		case c == '"':
			d.pos = i + 1
			return d.s[start:i], nil
		case c == '\\':
			return d.unescape(start, i)
		case c < 0x20:
			d.pos = i
			return "", d.errorf("control character %#02x in string", c)
		}
	}
	d.pos = len(d.b)
	return "", d.errorf("unterminated string")
}

// unescape finishes a string that starts at start and has its first
// backslash at i.
func (d *jsonDecoder) unescape(start, i int) (string, error) {
	if d.arena == nil {
		// Unescaping only shrinks text, so the rest of the body bounds
		// what the arena will ever hold: it never grows.
		d.arena = make([]byte, 0, len(d.b)-start)
	}
	first := len(d.arena)
	buf := append(d.arena, d.b[start:i]...)
	for i < len(d.b) {
		c := d.b[i]
		switch {
		case c == '"':
			d.pos = i + 1
			d.arena = buf
			if len(buf) == first {
				return "", nil
			}
			return unsafe.String(&buf[first], len(buf)-first), nil
		case c < 0x20:
			d.pos = i
			return "", d.errorf("control character %#02x in string", c)
		case c != '\\':
			buf = append(buf, c)
			i++
			continue
		}
		if i+1 >= len(d.b) {
			break
		}
		switch d.b[i+1] {
		case '"', '\\', '/':
			buf = append(buf, d.b[i+1])
		case 'b':
			buf = append(buf, '\b')
		case 'f':
			buf = append(buf, '\f')
		case 'n':
			buf = append(buf, '\n')
		case 'r':
			buf = append(buf, '\r')
		case 't':
			buf = append(buf, '\t')
		case 'u':
			r, ok := hex4(d.b[i+2:])
			if !ok {
				d.pos = i
				return "", d.errorf("malformed \\u escape in string")
			}
			i += 6
			if utf16.IsSurrogate(r) {
				if r2, ok := hex4(d.b[min(i+2, len(d.b)):]); ok && i+1 < len(d.b) && d.b[i] == '\\' && d.b[i+1] == 'u' {
					if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
						buf = utf8.AppendRune(buf, dec)
						i += 6
						continue
					}
				}
				r = utf8.RuneError
			}
			buf = utf8.AppendRune(buf, r)
			continue
		default:
			d.pos = i
			return "", d.errorf("invalid escape \\%c in string", d.b[i+1])
		}
		i += 2
	}
	d.pos = len(d.b)
	return "", d.errorf("unterminated string")
}

func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// skip consumes and validates any JSON value at d.pos.
func (d *jsonDecoder) skip(depth int) error {
	if depth > maxJSONDepth {
		return d.errorf("JSON nested deeper than %d", maxJSONDepth)
	}
	if d.pos >= len(d.b) {
		return d.errorf("unexpected end of input")
	}
	switch c := d.b[d.pos]; {
	case c == '{':
		return d.object(func(string) error { return d.skip(depth + 1) })
	case c == '[':
		return d.array("array", func(int) error { return d.skip(depth + 1) })
	case c == '"':
		_, err := d.str()
		return err
	case c == 't':
		return d.literal("true")
	case c == 'f':
		return d.literal("false")
	case c == 'n':
		return d.literal("null")
	case c == '-' || (c >= '0' && c <= '9'):
		return d.number()
	default:
		return d.errorf("unexpected character %q", c)
	}
}

func (d *jsonDecoder) literal(lit string) error {
	if !strings.HasPrefix(d.s[d.pos:], lit) {
		return d.errorf("invalid literal, want %s", lit)
	}
	d.pos += len(lit)
	return nil
}

// number consumes a number following the JSON grammar.
func (d *jsonDecoder) number() error {
	b, i := d.b, d.pos
	digits := func() int {
		n := 0
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
			n++
		}
		return n
	}
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case digits() == 0:
		d.pos = i
		return d.errorf("malformed number")
	}
	if i < len(b) && b[i] == '.' {
		i++
		if digits() == 0 {
			d.pos = i
			return d.errorf("malformed number")
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if digits() == 0 {
			d.pos = i
			return d.errorf("malformed number")
		}
	}
	d.pos = i
	return nil
}

// EncodeJSON returns r as a JSON push body (Content-Type application/json).
// It fails when a stream's Labels do not parse. Invalid UTF-8 in strings is
// written as U+FFFD, as encoding/json does.
func EncodeJSON(r *Request) ([]byte, error) {
	st := r.Stats()
	b := make([]byte, 0, 16+st.LabelsBytes*2+st.LineBytes*11/10+st.MetadataBytes*2+int64(st.Entries)*32)
	b = append(b, `{"streams":[`...)
	for i := range r.Streams {
		s := &r.Streams[i]
		ls, err := s.ParseLabels()
		if err != nil {
			return nil, fmt.Errorf("encode stream %d: %w", i, err)
		}
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"stream":`...)
		b = appendJSONObject(b, ls)
		b = append(b, `,"values":[`...)
		for j := range s.Entries {
			e := &s.Entries[j]
			if j > 0 {
				b = append(b, ',')
			}
			b = append(b, `["`...)
			b = strconv.AppendInt(b, e.Timestamp, 10)
			b = append(b, `",`...)
			b = appendJSONString(b, e.Line)
			if len(e.Metadata) > 0 {
				b = append(b, ',')
				b = appendJSONObject(b, e.Metadata)
			}
			b = append(b, ']')
		}
		b = append(b, "]}"...)
	}
	b = append(b, "]}"...)
	return b, nil
}

func appendJSONObject(b []byte, ls labels.Labels) []byte {
	b = append(b, '{')
	for i, l := range ls {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, l.Name)
		b = append(b, ':')
		b = appendJSONString(b, l.Value)
	}
	return append(b, '}')
}

const hexDigits = "0123456789abcdef"

func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
