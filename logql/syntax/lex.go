package syntax

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// tokKind is the kind of a lexical token.
type tokKind uint8

const (
	tEOF tokKind = iota
	tIdent
	tString
	tNumber
	tDuration
	tBytes
	tRange
	tFlag
	tFunc // a function name followed by "(" (or by/without and "("); text is lower case

	tLBrace
	tRBrace
	tLParen
	tRParen
	tComma
	tDot
	tEq          // =
	tNeq         // !=
	tRe          // =~
	tNre         // !~
	tNpa         // !>
	tPipeExact   // |=
	tPipeMatch   // |~
	tPipePattern // |>
	tPipe        // |
	tCmpEq       // ==
	tGT
	tGTE
	tLT
	tLTE
	tAdd
	tSub
	tMul
	tDiv
	tMod
	tPow

	// Keywords that are keywords wherever they appear, as in Loki.
	tBy
	tWithout
	tBool
	tAnd
	tOr
	tUnless
	tOffset
	tOn
	tIgnoring
	tGroupLeft
	tGroupRight
	tJSON
	tRegexp
	tLogfmt
	tUnpack
	tPattern
	tLabelFmt
	tLineFmt
	tUnwrap
	tDecolorize
	tDrop
	tKeep
)

// keywords are recognised case-insensitively and never serve as label names.
var keywords = map[string]tokKind{
	"by": tBy, "without": tWithout, "bool": tBool,
	"and": tAnd, "or": tOr, "unless": tUnless,
	"offset": tOffset, "on": tOn, "ignoring": tIgnoring,
	"group_left": tGroupLeft, "group_right": tGroupRight,
	"json": tJSON, "regexp": tRegexp, "logfmt": tLogfmt, "unpack": tUnpack, "pattern": tPattern,
	"label_format": tLabelFmt, "line_format": tLineFmt, "unwrap": tUnwrap,
	"decolorize": tDecolorize, "drop": tDrop, "keep": tKeep,
}

// functions are names that become tFunc tokens only when a "(" follows
// (possibly after "by (...)" or "without (...)"); elsewhere they are
// ordinary identifiers, so `{rate="x"}` and `| ip="1.2.3.4"` work.
var functions = map[string]bool{
	OpRangeRate: true, OpRangeRateCounter: true, OpRangeCount: true, OpRangeBytesRate: true,
	OpRangeBytes: true, OpRangeAvg: true, OpRangeSum: true, OpRangeMin: true, OpRangeMax: true,
	OpRangeStdvar: true, OpRangeStddev: true, OpRangeQuantile: true, OpRangeFirst: true,
	OpRangeLast: true, OpRangeAbsent: true,
	"vector": true, "label_replace": true,
	OpAggSum: true, OpAggAvg: true, OpAggMax: true, OpAggMin: true, OpAggCount: true,
	OpAggStddev: true, OpAggStdvar: true, OpAggBottomK: true, OpAggTopK: true,
	OpAggSort: true, OpAggSortDesc: true,
	ConvBytes: true, ConvDuration: true, ConvDurationSeconds: true,
	"ip": true,
}

var punct = map[tokKind]string{
	tLBrace: "{", tRBrace: "}", tLParen: "(", tRParen: ")", tComma: ",", tDot: ".",
	tEq: "=", tNeq: "!=", tRe: "=~", tNre: "!~", tNpa: "!>", tPipeExact: "|=", tPipeMatch: "|~",
	tPipePattern: "|>", tPipe: "|", tCmpEq: "==", tGT: ">", tGTE: ">=", tLT: "<", tLTE: "<=",
	tAdd: "+", tSub: "-", tMul: "*", tDiv: "/", tMod: "%", tPow: "^",
}

// kindName names a token kind in error messages the way Loki's grammar does.
func kindName(k tokKind) string {
	switch k {
	case tEOF:
		return "$end"
	case tIdent:
		return "IDENTIFIER"
	case tString:
		return "STRING"
	case tNumber:
		return "NUMBER"
	case tDuration:
		return "DURATION"
	case tBytes:
		return "BYTES"
	case tRange:
		return "RANGE"
	case tFlag:
		return "FUNCTION_FLAG"
	case tFunc:
		return "FUNCTION"
	}
	if s, ok := punct[k]; ok {
		return s
	}
	for s, kk := range keywords {
		if kk == k {
			return s
		}
	}
	return fmt.Sprintf("token(%d)", k)
}

type token struct {
	kind  tokKind
	pos   Pos
	text  string // source text; lower-cased name for tFunc and keywords
	str   string // decoded value of tString
	dur   time.Duration
	bytes uint64
}

// describe is how an unexpected token is named in "syntax error: unexpected X".
func (t token) describe() string {
	switch t.kind {
	case tFunc:
		// Loki's yacc names function tokens after their token constants
		// (SUM, COUNT_OVER_TIME, BYTES_CONV); label_replace and ip are
		// also keywords there and keep their text.
		switch t.text {
		case "label_replace", "ip":
			return t.text
		case "bytes", "duration", "duration_seconds":
			return strings.ToUpper(t.text) + "_CONV"
		}
		return strings.ToUpper(t.text)
	}
	return kindName(t.kind)
}

type lexer struct {
	src  string
	off  int
	line int
	col  int // characters consumed on the current line
	toks []token
}

const maxInputSize = 128 << 10 // bytes, as Loki

func lex(src string) ([]token, *ParseError) {
	if len(src) >= maxInputSize {
		return nil, &ParseError{Msg: fmt.Sprintf("input size too long (%d > %d)", len(src), maxInputSize)}
	}
	l := &lexer{src: src, line: 1}
	for {
		t, err := l.next()
		if err != nil {
			return nil, err
		}
		l.toks = append(l.toks, t)
		if t.kind == tEOF {
			return l.toks, nil
		}
	}
}

func (l *lexer) pos() Pos { return Pos{Offset: l.off, Line: l.line, Col: l.col + 1} }

func (l *lexer) errAt(p Pos, format string, args ...any) *ParseError {
	return &ParseError{Pos: p, Msg: fmt.Sprintf(format, args...)}
}

// advance consumes n bytes, keeping line and column up to date.
func (l *lexer) advance(n int) {
	end := l.off + n
	for l.off < end {
		r, w := utf8.DecodeRuneInString(l.src[l.off:])
		l.off += w
		if r == '\n' {
			l.line++
			l.col = 0
		} else {
			l.col++
		}
	}
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func (l *lexer) next() (token, *ParseError) {
	// Skip white space and # comments.
	for l.off < len(l.src) {
		c := l.src[l.off]
		if isSpace(c) {
			l.advance(1)
			continue
		}
		if c == '#' {
			i := strings.IndexByte(l.src[l.off:], '\n')
			if i < 0 {
				i = len(l.src) - l.off
			}
			l.advance(i)
			continue
		}
		break
	}
	p := l.pos()
	if l.off >= len(l.src) {
		return token{kind: tEOF, pos: p}, nil
	}
	rest := l.src[l.off:]
	c := rest[0]
	switch {
	case c == '"' || c == '`':
		return l.lexString(p)
	case c == '[':
		return l.lexRange(p)
	case isDecimal(c) || (c == '.' && len(rest) > 1 && isDecimal(rest[1])):
		return l.lexNumber(p)
	case c == '-':
		if strings.HasPrefix(rest, "--") {
			if f, ok := scanFlag(rest); ok {
				l.advance(len(f))
				return token{kind: tFlag, pos: p, text: f}, nil
			}
		}
		if n, d, ok := scanDuration(rest, 1); ok {
			l.advance(n)
			return token{kind: tDuration, pos: p, text: rest[:n], dur: d}, nil
		}
	}
	if r, _ := utf8.DecodeRuneInString(rest); r == '_' || unicode.IsLetter(r) {
		return l.lexIdent(p), nil
	}
	if len(rest) >= 2 {
		if k, ok := twoChar[rest[:2]]; ok {
			l.advance(2)
			return token{kind: k, pos: p, text: rest[:2]}, nil
		}
	}
	if k, ok := oneChar[c]; ok {
		l.advance(1)
		return token{kind: k, pos: p, text: rest[:1]}, nil
	}
	r, _ := utf8.DecodeRuneInString(rest)
	if r == utf8.RuneError {
		return token{}, l.errAt(p, "invalid UTF-8 encoding")
	}
	return token{}, l.errAt(p, "syntax error: unexpected character %q", r)
}

var twoChar = map[string]tokKind{
	"!=": tNeq, "=~": tRe, "!~": tNre, "!>": tNpa, "|=": tPipeExact, "|~": tPipeMatch,
	"|>": tPipePattern, "==": tCmpEq, ">=": tGTE, "<=": tLTE,
}

var oneChar = map[byte]tokKind{
	'{': tLBrace, '}': tRBrace, '(': tLParen, ')': tRParen, ',': tComma, '.': tDot,
	'=': tEq, '|': tPipe, '>': tGT, '<': tLT, '+': tAdd, '-': tSub, '*': tMul, '/': tDiv,
	'%': tMod, '^': tPow,
}

func (l *lexer) lexIdent(p Pos) token {
	rest := l.src[l.off:]
	n := 0
	for n < len(rest) {
		r, w := utf8.DecodeRuneInString(rest[n:])
		if r == '_' || unicode.IsLetter(r) || (n > 0 && unicode.IsDigit(r)) {
			n += w
			continue
		}
		break
	}
	text := rest[:n]
	l.advance(n)
	lower := strings.ToLower(text)
	if functions[lower] {
		if isFunctionCall(l.src[l.off:]) {
			return token{kind: tFunc, pos: p, text: lower}
		}
		return token{kind: tIdent, pos: p, text: text}
	}
	if k, ok := keywords[lower]; ok {
		return token{kind: k, pos: p, text: lower}
	}
	return token{kind: tIdent, pos: p, text: text}
}

// isFunctionCall reports whether s, the text after a function name, starts
// with "(" or with "by"/"without" and then "(", ignoring white space.
func isFunctionCall(s string) bool {
	s = strings.TrimLeft(s, " \t\r\n")
	if strings.HasPrefix(s, "(") {
		return true
	}
	for _, kw := range []string{"by", "without"} {
		if len(s) >= len(kw) && strings.EqualFold(s[:len(kw)], kw) {
			return strings.HasPrefix(strings.TrimLeft(s[len(kw):], " \t\r\n"), "(")
		}
	}
	return false
}

// scanFlag recognises the parser flags --strict and --keep-empty.
func scanFlag(s string) (string, bool) {
	n := 2
	for n < len(s) {
		r, w := utf8.DecodeRuneInString(s[n:])
		if !unicode.IsLetter(r) && r != '-' {
			break
		}
		n += w
	}
	switch f := s[:n]; f {
	case FlagStrict, FlagKeepEmpty:
		return f, true
	}
	return "", false
}

func (l *lexer) lexString(p Pos) (token, *ParseError) {
	rest := l.src[l.off:]
	q := rest[0]
	if q == '`' {
		i := strings.IndexByte(rest[1:], '`')
		if i < 0 {
			return token{}, l.errAt(p, "literal not terminated")
		}
		text := rest[:i+2]
		if !utf8.ValidString(text) {
			return token{}, l.errAt(p, "invalid UTF-8 rune")
		}
		l.advance(len(text))
		return token{kind: tString, pos: p, text: text, str: text[1 : len(text)-1]}, nil
	}
	i := 1
	for {
		if i >= len(rest) || rest[i] == '\n' {
			return token{}, l.errAt(p, "literal not terminated")
		}
		if rest[i] == '"' {
			break
		}
		if rest[i] == '\\' {
			n, ok := escapeLen(rest[i:])
			if !ok {
				return token{}, l.errAt(p, "invalid char escape")
			}
			i += n
			continue
		}
		i++
	}
	text := rest[:i+1]
	if !utf8.ValidString(text) {
		return token{}, l.errAt(p, "invalid UTF-8 rune")
	}
	v, err := strconv.Unquote(text)
	if err != nil {
		return token{}, l.errAt(p, "%s", err.Error())
	}
	l.advance(len(text))
	return token{kind: tString, pos: p, text: text, str: v}, nil
}

// escapeLen returns the length of the escape sequence at the start of s
// (which begins with a backslash) inside a double-quoted string.
func escapeLen(s string) (int, bool) {
	if len(s) < 2 {
		return 0, false
	}
	digits := func(n, base int) (int, bool) {
		if len(s) < 2+n {
			return 0, false
		}
		for _, c := range []byte(s[2 : 2+n]) {
			if digitVal(c) >= base {
				return 0, false
			}
		}
		return 2 + n, true
	}
	switch s[1] {
	case 'a', 'b', 'f', 'n', 'r', 't', 'v', '\\', '"':
		return 2, true
	case '0', '1', '2', '3', '4', '5', '6', '7':
		if len(s) < 4 {
			return 0, false
		}
		for _, c := range []byte(s[1:4]) {
			if digitVal(c) >= 8 {
				return 0, false
			}
		}
		return 4, true
	case 'x':
		return digits(2, 16)
	case 'u':
		return digits(4, 16)
	case 'U':
		return digits(8, 16)
	}
	return 0, false
}

func digitVal(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c-'a') + 10
	case 'A' <= c && c <= 'F':
		return int(c-'A') + 10
	}
	return 16
}

func isDecimal(c byte) bool { return '0' <= c && c <= '9' }

func (l *lexer) lexRange(p Pos) (token, *ParseError) {
	rest := l.src[l.off:]
	i := strings.IndexByte(rest, ']')
	if i < 0 {
		return token{}, l.errAt(p, "missing closing ']' in duration")
	}
	d, err := parsePromDuration(rest[1:i])
	if err != nil {
		return token{}, l.errAt(p, "%s", err.Error())
	}
	l.advance(i + 1)
	return token{kind: tRange, pos: p, text: rest[:i+1], dur: d}, nil
}

// lexNumber scans a Go-syntax number, then, as Loki does, tries to read it
// together with the characters that follow as a duration (250ms, 1m30s)
// and then as a byte size (20MB, 1KiB).
func (l *lexer) lexNumber(p Pos) (token, *ParseError) {
	rest := l.src[l.off:]
	n, msg := scanNumber(rest)
	if msg != "" {
		return token{}, l.errAt(p, "%s", msg)
	}
	if m, d, ok := scanDuration(rest, n); ok {
		l.advance(m)
		return token{kind: tDuration, pos: p, text: rest[:m], dur: d}, nil
	}
	if m, b, ok := scanBytes(rest, n); ok {
		l.advance(m)
		return token{kind: tBytes, pos: p, text: rest[:m], bytes: b}, nil
	}
	l.advance(n)
	return token{kind: tNumber, pos: p, text: rest[:n]}, nil
}

// scanNumber returns the length of the number at the start of s, or an
// error message as Go's text/scanner would report it.
func scanNumber(s string) (int, string) {
	i := 0
	base := 10
	prefix := byte(0)
	digitsSeen := false
	if s[0] == '0' && len(s) > 1 {
		switch s[1] | 0x20 {
		case 'x':
			base, prefix, i = 16, 'x', 2
		case 'o':
			base, prefix, i = 8, 'o', 2
		case 'b':
			if len(s) > 2 && !isSpace(s[2]) {
				base, prefix, i = 2, 'b', 2
			}
		}
	}
	digits := func() {
		for i < len(s) {
			c := s[i]
			if c == '_' || isDecimal(c) || (base == 16 && digitVal(c) < 16) {
				if c != '_' {
					digitsSeen = true
				}
				i++
				continue
			}
			break
		}
	}
	digits()
	isFloat := false
	if i < len(s) && s[i] == '.' {
		isFloat = true
		i++
		if prefix == 'o' || prefix == 'b' {
			return 0, "invalid radix point in literal"
		}
		digits()
	}
	if !digitsSeen {
		return 0, "number has no digits"
	}
	if i < len(s) {
		e := s[i] | 0x20
		if (e == 'e' && base == 10) || (e == 'p' && prefix == 'x') {
			isFloat = true
			i++
			if i < len(s) && (s[i] == '+' || s[i] == '-') {
				i++
			}
			start := i
			for i < len(s) && (isDecimal(s[i]) || s[i] == '_') {
				i++
			}
			if i == start {
				return 0, "exponent has no digits"
			}
		}
	}
	if prefix == 'x' && isFloat && !strings.ContainsAny(s[:i], "pP") {
		return 0, "hexadecimal mantissa requires a 'p' exponent"
	}
	return i, ""
}

func isDurationRune(r rune) bool {
	switch r {
	case 'n', 'u', 'µ', 'm', 's', 'h', 'd', 'w', 'y':
		return true
	}
	return false
}

func isBytesRune(r rune) bool {
	switch r {
	case 'B', 'i', 'k', 'K', 'M', 'G', 'T', 'P':
		return true
	}
	return false
}

// suffixLen returns how far past from the run of digits, '.' and runes
// accepted by ok extends, stopping at white space.
func suffixLen(s string, from int, ok func(rune) bool) int {
	i := from
	for i < len(s) {
		r, w := utf8.DecodeRuneInString(s[i:])
		if unicode.IsSpace(r) || !(unicode.IsNumber(r) || r == '.' || ok(r)) {
			break
		}
		i += w
	}
	return i
}

// scanDuration reads s[:from] plus the suffix of duration characters after
// it as a duration, Prometheus syntax first, then Go's.
func scanDuration(s string, from int) (int, time.Duration, bool) {
	end := suffixLen(s, from, isDurationRune)
	if end == from {
		return 0, 0, false
	}
	d, err := parseDuration(s[:end])
	if err != nil {
		return 0, 0, false
	}
	return end, d, true
}

func parseDuration(s string) (time.Duration, error) {
	if d, err := parsePromDuration(s); err == nil {
		return d, nil
	}
	return time.ParseDuration(s)
}

func scanBytes(s string, from int) (int, uint64, bool) {
	end := suffixLen(s, from, isBytesRune)
	if end == from {
		return 0, 0, false
	}
	b, err := parseBytes(s[:end])
	if err != nil {
		return 0, 0, false
	}
	return end, b, true
}

var byteUnits = map[string]uint64{
	"b": 1, "": 1,
	"kib": 1 << 10, "ki": 1 << 10, "kb": 1e3, "k": 1e3,
	"mib": 1 << 20, "mi": 1 << 20, "mb": 1e6, "m": 1e6,
	"gib": 1 << 30, "gi": 1 << 30, "gb": 1e9, "g": 1e9,
	"tib": 1 << 40, "ti": 1 << 40, "tb": 1e12, "t": 1e12,
	"pib": 1 << 50, "pi": 1 << 50, "pb": 1e15, "p": 1e15,
}

// parseBytes parses a size such as 20MB, 1.5KiB or 300b the way the
// go-humanize package that Loki uses does (units are case-insensitive).
func parseBytes(s string) (uint64, error) {
	i := 0
	for i < len(s) && (isDecimal(s[i]) || s[i] == '.') {
		i++
	}
	f, err := strconv.ParseFloat(s[:i], 64)
	if err != nil {
		return 0, err
	}
	m, ok := byteUnits[strings.ToLower(s[i:])]
	if !ok {
		return 0, fmt.Errorf("unhandled size name: %v", s[i:])
	}
	f *= float64(m)
	if f >= math.MaxUint64 {
		return 0, fmt.Errorf("too large: %v", s)
	}
	return uint64(f), nil
}

var promUnits = []struct {
	name string
	d    time.Duration
}{
	{"y", 365 * 24 * time.Hour},
	{"w", 7 * 24 * time.Hour},
	{"d", 24 * time.Hour},
	{"h", time.Hour},
	{"m", time.Minute},
	{"s", time.Second},
	{"ms", time.Millisecond},
}

// parsePromDuration parses a Prometheus duration: integers with the units
// y, w, d, h, m, s, ms in that order, such as 1h30m; "0" is zero.
func parsePromDuration(s string) (time.Duration, error) {
	switch s {
	case "0":
		return 0, nil
	case "":
		return 0, fmt.Errorf("empty duration string")
	}
	var total time.Duration
	next := 0 // index in promUnits of the smallest unit still allowed
	orig := s
	for s != "" {
		i := 0
		for i < len(s) && isDecimal(s[i]) {
			i++
		}
		if i == 0 {
			return 0, fmt.Errorf("not a valid duration string: %q", orig)
		}
		n, err := strconv.ParseInt(s[:i], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("not a valid duration string: %q", orig)
		}
		s = s[i:]
		j := 0
		for j < len(s) && !isDecimal(s[j]) && s[j] != '.' {
			j++
		}
		if j == 0 {
			return 0, fmt.Errorf("not a valid duration string: %q", orig)
		}
		unit := s[:j]
		s = s[j:]
		k := -1
		for idx, u := range promUnits {
			if u.name == unit {
				k = idx
			}
		}
		if k < 0 {
			return 0, fmt.Errorf("unknown unit %q in duration %q", unit, orig)
		}
		if k < next {
			return 0, fmt.Errorf("not a valid duration string: %q", orig)
		}
		next = k + 1
		u := promUnits[k].d
		if n > int64(math.MaxInt64/u) {
			return 0, fmt.Errorf("duration out of range")
		}
		v := time.Duration(n) * u
		if total > math.MaxInt64-v {
			return 0, fmt.Errorf("duration out of range")
		}
		total += v
	}
	return total, nil
}

// formatDuration prints d so that the lexer reads it back unchanged:
// Prometheus units when d is a positive whole number of milliseconds,
// Go's notation otherwise.
func formatDuration(d time.Duration) string {
	if d == 0 {
		return "0s"
	}
	if d < 0 || d%time.Millisecond != 0 {
		return d.String()
	}
	var sb strings.Builder
	for _, u := range promUnits {
		if d >= u.d {
			sb.WriteString(strconv.FormatInt(int64(d/u.d), 10))
			sb.WriteString(u.name)
			d %= u.d
		}
	}
	return sb.String()
}
