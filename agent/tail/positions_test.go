package tail

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestPositionsPromtailFile(t *testing.T) {
	dir := t.TempDir()
	name := filepath.Join(dir, "positions.yaml")
	promtail := "positions:\n  /var/log/pods/a/0.log: \"1234\"\n  journal-job: \"s=abc;i=1\"\n"
	if err := os.WriteFile(name, []byte(promtail), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := OpenPositions(PositionsConfig{Filename: name}, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, ok := p.Get("/var/log/pods/a/0.log")
	if !ok || got != (Position{Offset: 1234}) {
		t.Fatalf("Get = %v, %v", got, ok)
	}
	id := Identity{Dev: 2049, Ino: 77}
	p.Commit("/var/log/pods/b/0.log", id, 99)
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(name)
	for _, want := range []string{`/var/log/pods/a/0.log: "1234"`, `/var/log/pods/b/0.log: "99"`, `/var/log/pods/b/0.log: 2049:77`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("file lacks %q:\n%s", want, b)
		}
	}
	p2, err := OpenPositions(PositionsConfig{Filename: name}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := p2.Get("/var/log/pods/b/0.log"); got != (Position{ID: id, Offset: 99}) {
		t.Fatalf("reopened Get = %v", got)
	}
	p2.Remove("/var/log/pods/a/0.log")
	if err := p2.Sync(); err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Fatalf("temporary files left: %v", ents)
	}
}

func TestPositionsInvalid(t *testing.T) {
	name := filepath.Join(t.TempDir(), "positions.yaml")
	if err := os.WriteFile(name, []byte("positions: [::"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenPositions(PositionsConfig{Filename: name}, nil); err == nil {
		t.Fatal("invalid file opened")
	}
	p, err := OpenPositions(PositionsConfig{Filename: name, IgnoreInvalidYAML: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := p.Get("x"); ok {
		t.Fatal("position from invalid file")
	}
}

func TestPositionsRun(t *testing.T) {
	name := filepath.Join(t.TempDir(), "positions.yaml")
	p, err := OpenPositions(PositionsConfig{Filename: name, SyncPeriod: time.Millisecond}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error)
	go func() { done <- p.Run(ctx) }()
	p.Commit("/a", Identity{}, 5)
	waitFor(t, "periodic write", func() bool { _, err := os.Stat(name); return err == nil })
	p.Commit("/a", Identity{}, 6)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(name)
	if !strings.Contains(string(b), `/a: "6"`) {
		t.Fatalf("final write missing:\n%s", b)
	}
}

func FuzzParsePositions(f *testing.F) {
	f.Add([]byte("positions:\n  /a: \"12\"\nidentities:\n  /a: \"1:2\"\n"))
	f.Add([]byte("positions:\n  /a: \"x\"\n"))
	f.Add([]byte("identities:\n  /a: \"1:\"\n"))
	f.Add([]byte("{}"))
	f.Fuzz(func(t *testing.T, b []byte) {
		pos, err := parsePositions(b)
		if err != nil {
			return
		}
		enc, err := encodePositions(pos)
		if err != nil {
			t.Fatal(err)
		}
		again, err := parsePositions(enc)
		if err != nil {
			t.Fatalf("re-parse: %v\n%s", err, enc)
		}
		if diff := cmp.Diff(pos, again); diff != "" {
			t.Fatalf("round trip (-first +second):\n%s", diff)
		}
	})
}

// FuzzSplit feeds random bytes in random chunk sizes and checks the lines
// against a direct split, truncation included.
func FuzzSplit(f *testing.F) {
	f.Add([]byte("a\nbb\n\nccc"), uint8(3), uint8(2))
	f.Add([]byte("0123456789abcdef\nx\n"), uint8(1), uint8(4))
	f.Fuzz(func(t *testing.T, data []byte, chunk, maxLen uint8) {
		if chunk == 0 || maxLen == 0 {
			return
		}
		tl := New("x", nil, Config{MaxLineSize: int(maxLen)}, nil, nil)
		for b := data; len(b) > 0; {
			n := min(len(b), int(chunk))
			tl.split(b[:n])
			b = b[n:]
		}
		parts := strings.Split(string(data), "\n")
		parts = parts[:len(parts)-1] // the unterminated rest stays pending
		if len(tl.lines) != len(parts) {
			t.Fatalf("%d lines, want %d", len(tl.lines), len(parts))
		}
		off := int64(0)
		for i, p := range parts {
			off += int64(len(p) + 1)
			want := Line{Text: p, Offset: off}
			if len(p) > int(maxLen) {
				want.Text, want.Truncated = p[:maxLen], true
			}
			if tl.lines[i] != want {
				t.Fatalf("line %d = %+v, want %+v", i, tl.lines[i], want)
			}
		}
		if tl.off != int64(len(data)) {
			t.Fatalf("offset %d, want %d", tl.off, len(data))
		}
	})
}
