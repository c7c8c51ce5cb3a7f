package log

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
)

// jsonPathElem is one step of a JSON path: a field name or an index.
type jsonPathElem struct {
	key   string
	index int // -1 for a key step
}

// parseJSONPath parses `a.b[0]["c d"]`: fields separated by dots,
// [n] array indices and ["name"] fields with any characters.
func parseJSONPath(s string) ([]jsonPathElem, error) {
	bad := func(why string) ([]jsonPathElem, error) {
		return nil, fmt.Errorf("parse json path %q: %s: %w", s, why, ErrInvalidExpression)
	}
	var out []jsonPathElem
	i := 0
	expectField := true
	for i < len(s) {
		c := s[i]
		switch {
		case c == '[':
			j := i + 1
			if j < len(s) && s[j] == '"' {
				k := j + 1
				for k < len(s) && s[k] != '"' {
					if s[k] == '\\' {
						k++
					}
					k++
				}
				if k+1 >= len(s) || s[k+1] != ']' {
					return bad("unterminated [\"...\"]")
				}
				name, err := strconv.Unquote(s[j : k+1])
				if err != nil {
					return bad("bad quoted field")
				}
				out = append(out, jsonPathElem{key: name, index: -1})
				i = k + 2
			} else {
				k := j
				for k < len(s) && isDigit(s[k]) {
					k++
				}
				if k == j || k >= len(s) || s[k] != ']' {
					return bad("bad index")
				}
				n, err := strconv.Atoi(s[j:k])
				if err != nil {
					return bad("bad index")
				}
				out = append(out, jsonPathElem{index: n})
				i = k + 1
			}
			expectField = false
		case c == '.':
			if expectField {
				return bad("empty field")
			}
			expectField = true
			i++
		default:
			if !expectField {
				return bad("missing '.'")
			}
			k := i
			for k < len(s) && !isPathSpecial(s[k]) {
				k++
			}
			if k == i {
				return bad("unexpected character")
			}
			out = append(out, jsonPathElem{key: s[i:k], index: -1})
			i = k
			expectField = false
		}
	}
	if len(out) == 0 || expectField {
		return bad("empty path")
	}
	return out, nil
}

func isPathSpecial(c byte) bool {
	switch c {
	case '.', '[', ']', '"', ' ', '\t', '\n', '\r':
		return true
	}
	return false
}

// JSONExpressionParser is `| json a="x.y[0]", b="z"`: each label gets
// the value at its path. Strings are unescaped, numbers and booleans keep
// their text, objects and arrays their JSON text, null and missing paths
// give "". A line that does not start with '{', '[' or '"' sets
// __error__=JSONParserErr.
type JSONExpressionParser struct {
	names []string
	paths [][]jsonPathElem
	buf   []byte
	key   []byte
}

// NewJSONExpressionParser compiles the `| json a="path", ...` stage.
func NewJSONExpressionParser(exprs []LabelExtraction) (*JSONExpressionParser, error) {
	p := &JSONExpressionParser{}
	for _, e := range exprs {
		path, err := parseJSONPath(e.Expression)
		if err != nil {
			return nil, fmt.Errorf("compile json parser: %w", err)
		}
		if !validLabelName(e.Name) {
			return nil, fmt.Errorf("compile json parser: %q: %w", e.Name, ErrInvalidLabelName)
		}
		p.names = append(p.names, e.Name)
		p.paths = append(p.paths, path)
	}
	return p, nil
}

var errStopWalk = errors.New("stop")

// Process implements Stage.
func (j *JSONExpressionParser) Process(_ int64, line []byte, lb *LabelsBuilder) ([]byte, bool) {
	if len(line) == 0 {
		return line, true
	}
	switch line[0] {
	case '{', '[', '"':
	default:
		lb.SetErr(JSONParserErr)
		return line, true
	}
	for i, path := range j.paths {
		val, typ, esc, found, err := j.lookup(line, path)
		if err != nil {
			lb.setError(JSONParserErr, err)
			continue
		}
		name := lb.ParsedName(j.names[i])
		if !found {
			if _, ok := lb.Get(j.names[i]); !ok {
				lb.Set(j.names[i], "")
			}
			continue
		}
		switch typ {
		case jsonNull:
			lb.Set(name, "")
		case jsonObject:
			lb.Set(name, cleanValue(val))
		case jsonArray:
			lb.Set(name, unescapeValue(&j.buf, val, bytes.IndexByte(val, '\\') >= 0))
		default:
			lb.Set(name, unescapeValue(&j.buf, val, esc))
		}
	}
	return line, true
}

// lookup walks path from the document d.
func (j *JSONExpressionParser) lookup(d []byte, path []jsonPathElem) (val []byte, typ jsonType, esc bool, found bool, err error) {
	val, typ = d, jsonObject
	if i := skipWS(d, 0); i < len(d) && d[i] == '[' {
		typ = jsonArray
	}
	for _, step := range path {
		if step.index >= 0 {
			if typ != jsonArray {
				return nil, 0, false, false, nil
			}
			val, typ, esc, found, err = arrayIndex(val, 0, step.index)
			if err != nil || !found {
				return nil, 0, false, false, err
			}
			continue
		}
		if typ != jsonObject {
			return nil, 0, false, false, nil
		}
		found = false
		_, err = objectEach(val, 0, func(k []byte, kesc bool, v []byte, t jsonType, e bool) error {
			if kesc {
				var uerr error
				j.key, uerr = unescapeJSON(j.key[:0], k)
				if uerr != nil {
					return uerr
				}
				k = j.key
			}
			if string(k) != step.key {
				return nil
			}
			val, typ, esc, found = v, t, e, true
			return errStopWalk
		})
		if err != nil && err != errStopWalk {
			return nil, 0, false, false, err
		}
		if !found {
			return nil, 0, false, false, nil
		}
	}
	return val, typ, esc, true, nil
}
