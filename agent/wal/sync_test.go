package wal

import (
	"testing"
	"time"
)

// TestSync: with sync "interval" an Append is not covered by an fsync
// until Sync (or the interval); Sync covers it.
func TestSync(t *testing.T) {
	cfg := testConfig(t.TempDir())
	cfg.Sync, cfg.SyncInterval = SyncInterval, time.Hour
	w := mustOpen(t, cfg, "c")
	defer w.Close()
	if err := w.Append(t.Context(), "t", batch("t", 1, 3)); err != nil {
		t.Fatal(err)
	}
	if st := w.Stats(); st.Unsynced != 1 {
		t.Errorf("before Sync: %d appends unsynced, want 1", st.Unsynced)
	}
	if err := w.Sync(); err != nil {
		t.Fatal(err)
	}
	if st := w.Stats(); st.Unsynced != 0 {
		t.Errorf("after Sync: %d appends unsynced, want 0", st.Unsynced)
	}
}
