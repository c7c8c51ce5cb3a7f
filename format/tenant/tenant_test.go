package tenant

import (
	"errors"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	good := []string{"fake", "tenant-financial", "a", "A.b_c-d!e*f'g(h)", strings.Repeat("x", MaxLength), "..."}
	for _, s := range good {
		if _, err := Parse(s); err != nil {
			t.Errorf("Parse(%q) = %v, want ok", s, err)
		}
	}
	bad := []string{"", ".", "..", "a/b", "../etc", "a b", "ü", "a\x00", strings.Repeat("x", MaxLength+1), "a\\b", "a|b"}
	for _, s := range bad {
		if _, err := Parse(s); !errors.Is(err, ErrInvalid) {
			t.Errorf("Parse(%q) = %v, want ErrInvalid", s, err)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add("fake")
	f.Add("../x")
	f.Fuzz(func(t *testing.T, s string) {
		id, err := Parse(s)
		if err != nil {
			return
		}
		if strings.ContainsAny(string(id), "/\\") || id == "." || id == ".." || len(id) > MaxLength || id == "" {
			t.Fatalf("accepted unsafe ID %q", id)
		}
	})
}
