package log

import (
	"errors"
	"unicode/utf16"
	"unicode/utf8"
)

// A small JSON scanner over []byte that never allocates on valid input:
// enough to walk objects, find values and unescape strings. Like the
// scanner Loki uses, it validates the objects it walks but skips the
// inside of arrays and of objects it is not asked to enter by bracket
// counting, and it takes a number as the token up to the next delimiter.
// The error texts are those Loki reports in __error_details__.

var (
	errJSONMalformed   = errors.New("Malformed JSON error")
	errJSONString      = errors.New("Value is string, but can't find closing '\"' symbol")
	errJSONArray       = errors.New("Value is array, but can't find closing ']' symbol")
	errJSONObject      = errors.New("Value looks like object, but can't find closing '}' symbol")
	errJSONValue       = errors.New("Value looks like Number/Boolean/None, but can't find its end: ',' or '}' symbol")
	errJSONUnknownType = errors.New("Unknown value type")
	errJSONEscape      = errors.New("Encountered an invalid escape sequence in a string")
	errJSONDepth       = errors.New("Malformed JSON error: nesting too deep")
)

// jsonType is the type of a JSON value.
type jsonType byte

const (
	jsonString jsonType = iota + 1
	jsonNumber
	jsonBool
	jsonNull
	jsonObject
	jsonArray
)

// maxJSONDepth bounds recursion on hostile input.
const maxJSONDepth = 256

func skipWS(d []byte, i int) int {
	for i < len(d) {
		switch d[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// scanString expects d[i] == '"' and returns the index after the closing
// quote and whether the content has escapes.
func scanString(d []byte, i int) (int, bool, error) {
	esc := false
	for j := i + 1; j < len(d); j++ {
		switch d[j] {
		case '\\':
			esc = true
			j++
		case '"':
			return j + 1, esc, nil
		}
	}
	return 0, false, errJSONString
}

// scanBlock expects d[i] to be '{' or '[' and returns the index after the
// matching close bracket, counting only that bracket kind and skipping
// strings.
func scanBlock(d []byte, i int) (int, error) {
	open := d[i]
	closeB := byte('}')
	errB := errJSONObject
	if open == '[' {
		closeB, errB = ']', errJSONArray
	}
	level := 0
	for j := i; j < len(d); j++ {
		switch d[j] {
		case '"':
			end, _, err := scanString(d, j)
			if err != nil {
				return 0, err
			}
			j = end - 1
		case open:
			level++
		case closeB:
			level--
			if level == 0 {
				return j + 1, nil
			}
		}
	}
	return 0, errB
}

// tokenEnd returns the end of a bare token (number, true, false, null).
func tokenEnd(d []byte, i int) int {
	for j := i; j < len(d); j++ {
		switch d[j] {
		case ' ', '\n', '\r', '\t', ',', '}', ']':
			return j
		}
	}
	return len(d)
}

// scanValue reads the value at d[i] (whitespace skipped). For a string it
// returns the content between the quotes.
func scanValue(d []byte, i int) (val []byte, typ jsonType, esc bool, end int, err error) {
	i = skipWS(d, i)
	if i >= len(d) {
		return nil, 0, false, 0, errJSONMalformed
	}
	switch c := d[i]; {
	case c == '"':
		end, esc, err = scanString(d, i)
		if err != nil {
			return nil, 0, false, 0, err
		}
		return d[i+1 : end-1], jsonString, esc, end, nil
	case c == '{' || c == '[':
		end, err = scanBlock(d, i)
		if err != nil {
			return nil, 0, false, 0, err
		}
		typ = jsonObject
		if c == '[' {
			typ = jsonArray
		}
		return d[i:end], typ, false, end, nil
	case c == '-' || isDigit(c):
		end = tokenEnd(d, i)
		return d[i:end], jsonNumber, false, end, nil
	case c == 't' || c == 'f' || c == 'n':
		end = tokenEnd(d, i)
		tok := string(d[i:end]) // no allocation: only compared
		switch tok {
		case "true", "false":
			return d[i:end], jsonBool, false, end, nil
		case "null":
			return d[i:end], jsonNull, false, end, nil
		}
		return nil, 0, false, 0, errJSONValue
	}
	return nil, 0, false, 0, errJSONUnknownType
}

// objectEach calls fn for each member of the object at d[i] (whitespace
// skipped) in document order. Keys are given raw (still escaped) with
// their escape flag. fn may stop the walk by returning an error.
func objectEach(d []byte, i int, fn func(key []byte, keyEsc bool, val []byte, typ jsonType, esc bool) error) (int, error) {
	i = skipWS(d, i)
	if i >= len(d) || d[i] != '{' {
		return 0, errJSONObject
	}
	i = skipWS(d, i+1)
	if i < len(d) && d[i] == '}' {
		return i + 1, nil
	}
	for {
		if i >= len(d) {
			return 0, errJSONObject
		}
		if d[i] != '"' {
			return 0, errJSONMalformed
		}
		kend, kesc, err := scanString(d, i)
		if err != nil {
			// An unterminated key is jsonparser's (Loki's) malformed JSON,
			// not an unterminated string value.
			return 0, errJSONMalformed
		}
		key := d[i+1 : kend-1]
		i = skipWS(d, kend)
		if i >= len(d) || d[i] != ':' {
			return 0, errJSONMalformed
		}
		val, typ, esc, end, err := scanValue(d, i+1)
		if err != nil {
			return 0, err
		}
		if err := fn(key, kesc, val, typ, esc); err != nil {
			return 0, err
		}
		i = skipWS(d, end)
		if i >= len(d) {
			return 0, errJSONObject
		}
		switch d[i] {
		case ',':
			i = skipWS(d, i+1)
		case '}':
			return i + 1, nil
		default:
			return 0, errJSONObject
		}
	}
}

// arrayIndex returns the element n of the array at d[i].
func arrayIndex(d []byte, i, n int) (val []byte, typ jsonType, esc bool, found bool, err error) {
	i = skipWS(d, i)
	if i >= len(d) || d[i] != '[' {
		return nil, 0, false, false, nil
	}
	i = skipWS(d, i+1)
	if i < len(d) && d[i] == ']' {
		return nil, 0, false, false, nil
	}
	for k := 0; ; k++ {
		val, typ, esc, end, err := scanValue(d, i)
		if err != nil {
			return nil, 0, false, false, err
		}
		if k == n {
			return val, typ, esc, true, nil
		}
		i = skipWS(d, end)
		if i >= len(d) {
			return nil, 0, false, false, errJSONArray
		}
		switch d[i] {
		case ',':
			i++
		case ']':
			return nil, 0, false, false, nil
		default:
			return nil, 0, false, false, errJSONArray
		}
	}
}

// unescapeJSON appends the unescaped content of a JSON string to dst.
func unescapeJSON(dst, s []byte) ([]byte, error) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' {
			dst = append(dst, c)
			continue
		}
		i++
		if i >= len(s) {
			return dst, errJSONEscape
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
				return dst, errJSONEscape
			}
			i += n
			if utf16.IsSurrogate(r) {
				r2, n2 := -1, 0
				if i+2 < len(s) && s[i+1] == '\\' && s[i+2] == 'u' {
					var rr rune
					rr, n2 = decodeU(s[i+3:])
					r2 = int(rr)
				}
				if n2 > 0 {
					if dec := utf16.DecodeRune(r, rune(r2)); dec != utf8.RuneError {
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
			return dst, errJSONEscape
		}
	}
	return dst, nil
}

// decodeU decodes four hex digits; n is 4, or 0 when malformed.
func decodeU(s []byte) (rune, int) {
	if len(s) < 4 {
		return 0, 0
	}
	var r rune
	for _, c := range s[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, 0
		}
		r = r*16 + rune(c)
	}
	return r, 4
}
