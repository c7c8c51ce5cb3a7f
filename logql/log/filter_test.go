package log

import (
	"regexp"
	"testing"
)

func TestLineFilters(t *testing.T) {
	cases := []struct {
		name   string
		mt     LineMatchType
		values []string
		line   string
		want   bool
	}{
		{"contains", LineMatchEqual, []string{"error"}, "an error here", true},
		{"contains miss", LineMatchEqual, []string{"error"}, "an Error here", false},
		{"contains empty", LineMatchEqual, []string{""}, "x", true},
		{"not contains", LineMatchNotEqual, []string{"error"}, "all fine", true},
		{"not contains miss", LineMatchNotEqual, []string{"error"}, "an error", false},
		{"not empty drops all", LineMatchNotEqual, []string{""}, "x", false},
		{"or", LineMatchEqual, []string{"foo", "bar"}, "xbarx", true},
		{"or miss", LineMatchEqual, []string{"foo", "bar"}, "baz", false},
		{"not or means none", LineMatchNotEqual, []string{"foo", "bar"}, "xbarx", false},
		{"not or none", LineMatchNotEqual, []string{"foo", "bar"}, "baz", true},
		{"regexp", LineMatchRegexp, []string{"err.*timeout"}, "error: timeout", true},
		{"regexp miss", LineMatchRegexp, []string{"err.*timeout"}, "timeout error", false},
		{"regexp chain across newline", LineMatchRegexp, []string{"err.*timeout"}, "err\ntimeout", false},
		{"regexp chain second start", LineMatchRegexp, []string{"err.*timeout"}, "err\nerr timeout", true},
		{"regexp is unanchored", LineMatchRegexp, []string{"b+"}, "abbbc", true},
		{"regexp anchored", LineMatchRegexp, []string{"^abc"}, "xabc", false},
		{"regexp fold", LineMatchRegexp, []string{"(?i)ERROR"}, "an eRRor", true},
		{"regexp fold miss", LineMatchRegexp, []string{"(?i)ERROR"}, "an err", false},
		{"regexp fold non-ascii", LineMatchRegexp, []string{"(?i)ÉTÉ"}, "un été", true},
		{"regexp alternation", LineMatchRegexp, []string{"foo|bar|buzz"}, "a buzz", true},
		{"regexp alternation miss", LineMatchRegexp, []string{"foo|bar|buzz"}, "a bu", false},
		{"regexp prefix alternation", LineMatchRegexp, []string{"f(oo|aa)"}, "xfaa", true},
		{"regexp dot star wrap", LineMatchRegexp, []string{".*foo.*"}, "a foo b", true},
		{"regexp dot star alone", LineMatchRegexp, []string{".*"}, "", true},
		{"regexp dot plus empty", LineMatchRegexp, []string{".+"}, "", false},
		{"regexp class", LineMatchRegexp, []string{`status=5\d\d`}, "status=503", true},
		{"regexp class miss", LineMatchRegexp, []string{`status=5\d\d`}, "status=403", false},
		{"not regexp", LineMatchNotRegexp, []string{"debug|info"}, "warn", true},
		{"not regexp miss", LineMatchNotRegexp, []string{"debug|info"}, "info", false},
		{"regexp or", LineMatchRegexp, []string{"^a", "^b"}, "bx", true},
		{"pattern", LineMatchPattern, []string{"<_> error <_>"}, "x error y", true},
		{"pattern needs whole line", LineMatchPattern, []string{"<_> bar"}, "foo bar baz", false},
		{"pattern trailing literal", LineMatchPattern, []string{"<_> baz"}, "foo bar baz", true},
		{"pattern leading literal", LineMatchPattern, []string{"foo <_>"}, "foo bar baz", true},
		{"pattern leading literal elsewhere", LineMatchPattern, []string{"foo <_>"}, "xfoo bar", false},
		{"pattern empty capture", LineMatchPattern, []string{"<_> bar <_>"}, " bar ", false},
		{"pattern adjacent", LineMatchPattern, []string{"<_>bar<_>"}, " bar ", true},
		{"pattern named", LineMatchPattern, []string{`<ip> - <_>`}, "1.2.3.4 - x", true},
		{"not pattern", LineMatchNotPattern, []string{"<_> error <_>"}, "x error y", false},
		{"not pattern miss", LineMatchNotPattern, []string{"<_> error <_>"}, "all good", true},
		{"pattern literal only", LineMatchPattern, []string{"exact"}, "exact", true},
		{"pattern empty line", LineMatchPattern, []string{"<_>"}, "", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f, err := NewLineFilter(c.mt, c.values...)
			if err != nil {
				t.Fatal(err)
			}
			if got := f.Filter([]byte(c.line)); got != c.want {
				t.Errorf("%v %q on %q: got %v", c.mt, c.values, c.line, got)
			}
		})
	}
}

func TestLineFilterErrors(t *testing.T) {
	for _, c := range []struct {
		mt LineMatchType
		v  string
	}{
		{LineMatchRegexp, "(unclosed"},
		{LineMatchPattern, "<a><b>"},
		{LineMatchType(99), "x"},
	} {
		if _, err := NewLineFilter(c.mt, c.v); err == nil {
			t.Errorf("%v %q: want error", c.mt, c.v)
		}
	}
	if _, err := NewLineFilter(LineMatchEqual); err == nil {
		t.Error("no values: want error")
	}
}

// The simplified regexp filters must agree with the regexp engine on
// lines without newlines.
func TestRegexpSimplificationAgrees(t *testing.T) {
	res := []string{
		"foo", "(?i)foo", "foo|bar", "(foo|bar)", "f(oo|aa)", "f(?:oo|)", ".*foo", "foo.*", ".*foo.*",
		"(?i)f(oo|aa)", "err.*timeout", "a.*b.*c", `\d+`, "fo+", "(?i)straße", "b(ar|uzz)?", "(?s)a.*b",
		"^foo", "foo$", "", ".+", ".*",
	}
	lines := []string{
		"", "foo", "FOO", "xfooy", "bar", "faa", "fo", "err then timeout", "timeout err", "abc", "cba",
		"123", "STRASSE", "straße", "Straße", "b", "buzz", "a b", "fooo",
	}
	for _, re := range res {
		f := must(NewFilter(re, LineMatchRegexp))
		rx := regexp.MustCompile(re)
		for _, l := range lines {
			if got, want := f.Filter([]byte(l)), rx.MatchString(l); got != want {
				t.Errorf("%q on %q: got %v want %v", re, l, got, want)
			}
		}
	}
}

func TestContainsFoldASCII(t *testing.T) {
	f := NewContainsFilter([]byte("TimeOut"), true)
	for line, want := range map[string]bool{
		"timeout": true, "TIMEOUT": true, "a time out": false, "tiMEoutx": true, "": false,
		"ttttimeout": true, "timeou": false, "TTTTTTTTTTTTTTTTTTT": false,
	} {
		if got := f.Filter([]byte(line)); got != want {
			t.Errorf("%q: got %v", line, got)
		}
	}
	g := NewContainsFilter([]byte("42"), true)
	if !g.Filter([]byte("x42")) || g.Filter([]byte("4 2")) {
		t.Error("non-letter needle")
	}
}

func TestIPFilter(t *testing.T) {
	cases := []struct {
		pattern, line string
		want          bool
	}{
		{"192.168.0.1", "from 192.168.0.1:80 ok", true},
		{"192.168.0.1", "from 192.168.0.10 ok", false},
		{"192.168.0.1", "from 192.168.0.11 and 192.168.0.1", true},
		{"192.168.0.1", "x192.168.0.1", true},
		{"10.0.0.0/8", "client=10.20.30.40 ", true},
		{"10.0.0.0/8", "client=11.20.30.40 ", false},
		{"10.0.0.1-10.0.0.9", "ip 10.0.0.5", true},
		{"10.0.0.1-10.0.0.9", "ip 10.0.0.10", false},
		{"10.0.0.1-10.0.0.9", "ip 10.0.0.9", true},
		{"::1", "addr ::1 here", true},
		{"2001:db8::/32", "req from 2001:db8::68 done", true},
		{"2001:db8::/32", "req from 2001:db9::68 done", false},
		{"2001:db8::1-2001:db8::ff", "x 2001:db8::a0 y", true},
		{"fe80::1", "fe80::1", true},
		{"1.2.3.4", "version 1.2.3.4.5", false},
		{"1.2.3.4", "", false},
		{"1.2.3.4", "no ip here", false},
		{"192.168.0.0/16", "a 192.168.255.255", true},
		{"0.0.0.0/0", "1.1.1.1", true},
		{"0.0.0.0/0", "::1 only", false},
	}
	for _, c := range cases {
		f := must(NewIPFilter(c.pattern, LineMatchEqual))
		if got := f.Filter([]byte(c.line)); got != c.want {
			t.Errorf("ip(%q) on %q: got %v want %v", c.pattern, c.line, got, c.want)
		}
		nf := must(NewIPFilter(c.pattern, LineMatchNotEqual))
		if got := nf.Filter([]byte(c.line)); got == c.want {
			t.Errorf("!= ip(%q) on %q: got %v", c.pattern, c.line, got)
		}
	}
	for _, bad := range []string{"", "300.1.1.1", "1.2.3.4/40", "10.0.0.9-10.0.0.1", "1.2.3.4-::1", "host"} {
		if _, err := NewIPFilter(bad, LineMatchEqual); err == nil {
			t.Errorf("ip(%q): want error", bad)
		}
	}
	if _, err := NewIPFilter("1.2.3.4", LineMatchRegexp); err == nil {
		t.Error("ip with |~: want error")
	}
}
