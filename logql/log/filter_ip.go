package log

import (
	"bytes"
	"fmt"
	"net/netip"
	"strings"
	"unsafe"
)

// ipMatcher is one ip("...") argument: an address, a CIDR prefix or an
// inclusive range "from-to" of one address family.
type ipMatcher struct {
	addr     netip.Addr
	prefix   netip.Prefix
	from, to netip.Addr
	kind     byte // 'a' addr, 'p' prefix, 'r' range
}

func parseIPMatcher(pattern string) (*ipMatcher, error) {
	if a, err := netip.ParseAddr(pattern); err == nil {
		return &ipMatcher{addr: a, kind: 'a'}, nil
	}
	if p, err := netip.ParsePrefix(pattern); err == nil {
		return &ipMatcher{prefix: p, kind: 'p'}, nil
	}
	if from, to, ok := strings.Cut(pattern, "-"); ok {
		f, err1 := netip.ParseAddr(from)
		t, err2 := netip.ParseAddr(to)
		if err1 == nil && err2 == nil && f.Is4() == t.Is4() && f.Zone() == "" && t.Zone() == "" && f.Compare(t) <= 0 {
			return &ipMatcher{from: f, to: t, kind: 'r'}, nil
		}
	}
	return nil, fmt.Errorf("parse ip(%q): %w", pattern, ErrInvalidIP)
}

func (m *ipMatcher) contains(ip netip.Addr) bool {
	switch m.kind {
	case 'a':
		return m.addr.Compare(ip) == 0
	case 'p':
		return m.prefix.Contains(ip)
	case 'r':
		return ip.Is4() == m.from.Is4() && ip.Zone() == "" && m.from.Compare(ip) <= 0 && ip.Compare(m.to) <= 0
	}
	return false
}

var (
	ipv4Chars = charset("0123456789.")
	ipv6Chars = charset("0123456789abcdefABCDEF:.")
)

func charset(s string) (t [256]bool) {
	for i := 0; i < len(s); i++ {
		t[s[i]] = true
	}
	return t
}

// find reports whether any IP-looking token of line is matched. Like
// Loki it looks for IPv4 hints (a digit, then a dot within three bytes)
// and IPv6 hints (hex digits then a colon, or "::" then a hex digit),
// takes the longest run of address characters and parses it.
func (m *ipMatcher) find(line []byte) bool {
	n := len(line)
	for i := 0; i < n; i++ {
		var set *[256]bool
		switch {
		case i+3 < n && isDigit(line[i]) && (line[i+1] == '.' || line[i+2] == '.' || line[i+3] == '.'):
			set = &ipv4Chars
		case i+4 < n && ipv6Hint(line[i:i+5]):
			set = &ipv6Chars
		default:
			continue
		}
		j := i
		for j < n && set[line[j]] {
			j++
		}
		if !plausibleIP(line[i:j], set == &ipv4Chars) {
			i = j
			continue
		}
		// The parsed address does not outlive this iteration, so the
		// token need not be copied.
		if ip, err := netip.ParseAddr(unsafe.String(&line[i], j-i)); err == nil && m.contains(ip) {
			return true
		}
		i = j
	}
	return false
}

// plausibleIP rejects tokens that cannot parse before netip.ParseAddr
// builds (and allocates) an error for them: an IPv4 address has three
// dots and at most 15 bytes, an IPv6 one at least two colons.
func plausibleIP(tok []byte, v4 bool) bool {
	if v4 {
		return len(tok) <= 15 && bytes.Count(tok, []byte{'.'}) == 3
	}
	return bytes.Count(tok, []byte{':'}) >= 2
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isHex(c byte) bool {
	return isDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

func ipv6Hint(p []byte) bool {
	if p[0] == ':' && p[1] == ':' && isHex(p[2]) {
		return true
	}
	if !isHex(p[0]) {
		return false
	}
	for k := 1; k <= 4; k++ {
		if p[k] == ':' {
			return true
		}
		if !isHex(p[k]) {
			return false
		}
	}
	return false
}

// ipFilter is `|= ip("...")`.
type ipFilter struct{ m *ipMatcher }

func (f ipFilter) Filter(line []byte) bool { return f.m.find(line) }

// NewIPFilter compiles `|= ip("pattern")` or `!= ip("pattern")`. The
// pattern is an address ("192.168.0.1", "::1"), a CIDR ("10.0.0.0/8") or
// a range ("10.0.0.1-10.0.0.9"); the line matches when any address in it
// does.
func NewIPFilter(pattern string, mt LineMatchType) (Filterer, error) {
	if mt != LineMatchEqual && mt != LineMatchNotEqual {
		return nil, fmt.Errorf("compile ip filter %v: %w", mt, ErrInvalidOperation)
	}
	m, err := parseIPMatcher(pattern)
	if err != nil {
		return nil, err
	}
	if mt == LineMatchNotEqual {
		return NewNotFilter(ipFilter{m}), nil
	}
	return ipFilter{m}, nil
}
