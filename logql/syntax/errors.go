package syntax

import (
	"errors"
	"fmt"
)

// ErrParse is wrapped by every error that Parse returns, so callers can map
// any query syntax problem to HTTP 400 with errors.Is.
var ErrParse = errors.New("parse error")

// Pos is a position in the query text. Line and Col start at 1; Col counts
// characters (runes), not bytes, as Loki's scanner does. Offset is in bytes.
type Pos struct {
	Offset int
	Line   int
	Col    int
}

// ParseError is a syntax or validation error with the position of the token
// where it was found. Its text follows Loki's:
//
//	parse error at line 1, col 7: syntax error: unexpected }
type ParseError struct {
	Pos Pos
	Msg string
}

func (e *ParseError) Error() string {
	if e.Pos.Line == 0 {
		return "parse error : " + e.Msg
	}
	return fmt.Sprintf("parse error at line %d, col %d: %s", e.Pos.Line, e.Pos.Col, e.Msg)
}

// Unwrap makes errors.Is(err, ErrParse) true.
func (e *ParseError) Unwrap() error { return ErrParse }

// noPos is a ParseError without a position: Loki reports the errors it
// finds in checking a parsed expression (grouping, unwrap, parameters,
// regexp and template validity) so, as "parse error : ...".
func noPos(format string, args ...any) *ParseError {
	return &ParseError{Msg: fmt.Sprintf(format, args...)}
}
