package log

import (
	"bytes"
	"errors"
	"unicode/utf8"
)

// sanitizeKey turns a field name into a label name as Loki does: spaces
// trimmed, every rune that is not [a-zA-Z0-9_] replaced by one '_', and a
// leading digit prefixed by '_' when the name starts the label (first).
func appendSanitized(dst, key []byte, first bool) []byte {
	key = bytes.TrimSpace(key)
	if len(key) == 0 {
		return dst
	}
	if first && isDigit(key[0]) {
		dst = append(dst, '_')
	}
	for len(key) > 0 {
		c := key[0]
		if c < utf8.RuneSelf {
			if isAlpha(c) || isDigit(c) || c == '_' {
				dst = append(dst, c)
			} else {
				dst = append(dst, '_')
			}
			key = key[1:]
			continue
		}
		_, size := utf8.DecodeRune(key)
		dst = append(dst, '_')
		key = key[size:]
	}
	return dst
}

// sanitizeLabelKey is appendSanitized for a whole name.
func sanitizeLabelKey(key string) string {
	return string(appendSanitized(nil, []byte(key), true))
}

var runeErrorBytes = []byte(string(utf8.RuneError))

// hasRuneError reports whether b holds invalid UTF-8 or U+FFFD.
func hasRuneError(b []byte) bool {
	return !utf8.Valid(b) || bytes.Contains(b, runeErrorBytes)
}

// interner maps raw bytes to a string computed once, without allocating
// on a hit. It is bounded so hostile input cannot grow it forever.
type interner struct {
	m map[string]string
}

const maxInterned = 8192

func (in *interner) get(raw []byte, make func() string) string {
	if s, ok := in.m[string(raw)]; ok {
		return s
	}
	s := make()
	if in.m == nil || len(in.m) >= maxInterned {
		in.m = map[string]string{}
	}
	in.m[string(raw)] = s
	return s
}

// cleanValue converts a value to a label value: invalid UTF-8 and U+FFFD
// become spaces, as Loki does because Prometheus rejects them.
func cleanValue(v []byte) string {
	if hasRuneError(v) {
		return string(bytes.Map(func(r rune) rune {
			if r == utf8.RuneError {
				return ' '
			}
			return r
		}, v))
	}
	return string(v)
}

// JSONParser is `| json`: every scalar field of a JSON object becomes a
// label; nested objects are flattened with '_' (`{"a":{"b":1}}` gives
// a_b="1"); arrays and nulls are skipped; numbers keep their text and
// booleans read "true"/"false". Names are sanitised; a name that a stream
// label already has gets the _extracted suffix. Input that is not a JSON
// object sets __error__=JSONParserErr, keeping the labels read so far.
type JSONParser struct {
	prefix []byte
	buf    []byte
	keys   interner
	lb     *LabelsBuilder
	depth  int
}

// NewJSONParser returns the `| json` stage.
func NewJSONParser() *JSONParser { return &JSONParser{} }

// Process implements Stage.
func (j *JSONParser) Process(_ int64, line []byte, lb *LabelsBuilder) ([]byte, bool) {
	j.prefix = j.prefix[:0]
	j.lb = lb
	j.depth = 0
	if _, err := objectEach(line, 0, j.member); err != nil {
		lb.setError(JSONParserErr, err)
	}
	j.lb = nil
	return line, true
}

func (j *JSONParser) member(key []byte, keyEsc bool, val []byte, typ jsonType, esc bool) error {
	if keyEsc {
		var err error
		start := len(j.buf)
		j.buf, err = unescapeJSON(j.buf, key)
		if err != nil {
			return err
		}
		key = j.buf[start:]
		defer func() { j.buf = j.buf[:start] }()
	}
	switch typ {
	case jsonString, jsonNumber, jsonBool:
		j.setValue(key, val, typ, esc)
		return nil
	case jsonObject:
		if j.depth >= maxJSONDepth {
			return errJSONDepth
		}
		n := len(j.prefix)
		if n > 0 {
			j.prefix = append(j.prefix, '_')
		}
		j.prefix = appendSanitized(j.prefix, key, n == 0)
		j.depth++
		_, err := objectEach(val, 0, j.member)
		j.depth--
		j.prefix = j.prefix[:n]
		return err
	}
	return nil // arrays and nulls are skipped
}

func (j *JSONParser) setValue(key, val []byte, typ jsonType, esc bool) {
	var name string
	if len(j.prefix) == 0 {
		name = j.keys.get(key, func() string { return sanitizeLabelKey(string(key)) })
	} else {
		n := len(j.prefix)
		j.prefix = append(j.prefix, '_')
		j.prefix = appendSanitized(j.prefix, key, false)
		name = j.keys.get(j.prefix, func() string { return string(j.prefix) })
		j.prefix = j.prefix[:n]
	}
	if name == "" {
		return
	}
	j.lb.SetParsed(j.lb.ParsedName(name), j.readValue(val, typ, esc))
}

func (j *JSONParser) readValue(val []byte, typ jsonType, esc bool) string {
	switch typ {
	case jsonString:
		return unescapeValue(&j.buf, val, esc)
	case jsonBool:
		if val[0] == 't' {
			return "true"
		}
		return "false"
	}
	// Numbers are taken as their raw token, which on broken input may hold
	// any bytes: clean them like strings.
	return cleanValue(val)
}

// unescapeValue returns a JSON string's content as a label value; a bad
// escape gives "" as in Loki.
func unescapeValue(buf *[]byte, val []byte, esc bool) string {
	if !esc {
		return cleanValue(val)
	}
	start := len(*buf)
	out, err := unescapeJSON(*buf, val)
	*buf = out[:start]
	if err != nil {
		return ""
	}
	return cleanValue(out[start:])
}

// UnpackParser is `| unpack`, the reverse of Promtail's pack stage: string
// fields of a JSON object become labels and the `_entry` field replaces
// the line. Labels are set only when `_entry` is present.
type UnpackParser struct {
	buf   []byte
	entry []byte
	pairs []string
	keys  interner
}

// NewUnpackParser returns the `| unpack` stage.
func NewUnpackParser() *UnpackParser { return &UnpackParser{} }

var errNotJSONObject = errors.New("expecting json object(6), but it is not")

// Process implements Stage.
func (u *UnpackParser) Process(_ int64, line []byte, lb *LabelsBuilder) ([]byte, bool) {
	if len(line) == 0 {
		return line, true
	}
	if line[0] != '{' {
		lb.setError(JSONParserErr, errNotJSONObject)
		return line, true
	}
	u.pairs = u.pairs[:0]
	u.buf = u.buf[:0]
	packed := false
	_, err := objectEach(line, 0, func(key []byte, keyEsc bool, val []byte, typ jsonType, esc bool) error {
		if typ != jsonString {
			return nil
		}
		if keyEsc {
			k, err := unescapeJSON(nil, key)
			if err != nil {
				return err
			}
			key = k
		}
		if string(key) == "_entry" {
			var err error
			u.entry = u.entry[:0]
			if esc {
				u.entry, err = unescapeJSON(u.entry, val)
				if err != nil {
					return errJSONEscape
				}
			} else {
				u.entry = append(u.entry, val...)
			}
			packed = true
			return nil
		}
		// A stream label name is valid, so only a key that sanitising
		// leaves unchanged can collide with one.
		name := u.keys.get(key, func() string { return sanitizeLabelKey(string(key)) })
		if name == string(key) {
			name = lb.ParsedName(name)
		}
		u.pairs = append(u.pairs, name, unescapeValue(&u.buf, val, esc))
		return nil
	})
	if err != nil {
		lb.setError(JSONParserErr, err)
		return line, true
	}
	if !packed {
		return line, true
	}
	for i := 0; i+1 < len(u.pairs); i += 2 {
		if u.pairs[i] != "" {
			lb.Set(u.pairs[i], u.pairs[i+1])
		}
	}
	return u.entry, true
}
