package tail

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestTruncatedAndRegrown: a file truncated in place (copytruncate) that
// grows past the old read offset before the next poll is read from its
// start again, not from the old offset (which would lose the new lines
// before it and cut one in half).
func TestTruncatedAndRegrown(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.log")
	write := func(flag int, prefix string, n int) []string {
		f, err := os.OpenFile(path, flag|os.O_WRONLY|os.O_CREATE, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		var out []string
		for i := range n {
			l := fmt.Sprintf("%s line %02d of some length", prefix, i)
			fmt.Fprintln(f, l)
			out = append(out, l)
		}
		return out
	}
	want := write(os.O_APPEND, "old", 5)
	tl := New(path, nil, testConfig(), nil, nil)
	defer tl.close()
	c := &collector{}
	if err := tl.open(); err != nil {
		t.Fatal(err)
	}
	if err := tl.poll(t.Context(), c.handle); err != nil {
		t.Fatal(err)
	}
	// Truncated and written again between two polls, past the old size.
	want = append(want, write(os.O_TRUNC, "new", 8)...)
	for range 2 {
		if err := tl.poll(t.Context(), c.handle); err != nil {
			t.Fatal(err)
		}
	}
	if diff := cmp.Diff(want, c.texts()); diff != "" {
		t.Errorf("lines (-want +got):\n%s", diff)
	}
}
