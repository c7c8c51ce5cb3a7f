package tail

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestFirstPositionWrittenSoon: a path seen for the first time gets its
// position (identity, offset 0) at once, and the positions file is written
// within a moment, not at the next sync period. Without it an agent killed
// before its first commit knew nothing of the path on restart, read only
// the file then at the path, and lost the unread rest of a file rotated
// meanwhile (tests/e2e TestAgentKilledMidStream on a loaded machine).
func TestFirstPositionWrittenSoon(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "0.log")
	if err := os.WriteFile(path, []byte("a\nb\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	posFile := filepath.Join(dir, "positions.yaml")
	pos, err := OpenPositions(PositionsConfig{Filename: posFile, SyncPeriod: time.Hour}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go func() { _ = pos.Run(ctx) }()
	tl := New(path, pos, Config{PollInterval: 10 * time.Millisecond}, nil, nil)
	go func() { _ = tl.Run(ctx, func(context.Context, []Line) error { return nil }) }()

	deadline := time.Now().Add(time.Minute)
	for {
		p2, err := OpenPositions(PositionsConfig{Filename: posFile}, nil)
		if err == nil {
			if p, ok := p2.Get(path); ok && !p.ID.IsZero() && p.Offset == 0 {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("the new path's position was not written within a minute (sync period: an hour)")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
