package ingester

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/kubemate/kmlog/format/objkey"
	"github.com/kubemate/kmlog/format/push"
)

// A head whose upload failed permanently is written to the quarantine
// directory as one file (a WAL record: tenant and push protobuf of all its
// entries) and dropped from memory, so that it pins neither memory nor
// the WAL segments other tenants' data shares with it. The next start
// loads each file as a sealed head and tries again (a new release may have
// fixed the cause); the file is removed once that head is uploaded.

const quarantineExt = ".head"

// quarantine moves h to the quarantine directory, or returns why it could
// not (h then stays queued and is retried).
func (ing *Ingester) quarantine(h *head, u *upload, cause error) error {
	file := u.file
	if file == "" {
		var err error
		if file, err = ing.writeQuarantine(h); err != nil {
			return err
		}
		ing.m.quarantineNow.Inc()
	}
	ing.mu.Lock()
	ing.release(h)
	u.state, u.err = HeadQuarantined, cause
	u.attempts++
	close(u.done)
	ing.mu.Unlock()
	ing.m.quarantined.Inc()
	entries := 0
	for _, s := range h.streams {
		entries += len(s.entries)
	}
	ing.logger.Error("upload head failed permanently: quarantined; retried on the next start",
		"tenant", h.tenant, "day", h.day, "entries", entries, "raw_bytes", h.bytes, "file", file, "err", cause)
	ing.trimWAL()
	return nil
}

// writeQuarantine writes h to a new file in the quarantine directory,
// durably, and returns its path.
func (ing *Ingester) writeQuarantine(h *head) (string, error) {
	dir := ing.cfg.quarantineDir()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("create quarantine dir: %w", err)
	}
	var req push.Request
	for _, s := range h.sortedStreams() {
		ps := push.Stream{Labels: s.labels.String(), Entries: make([]push.Entry, len(s.entries))}
		for i, e := range s.entries {
			ps.Entries[i] = push.Entry{Timestamp: e.ts, Line: e.line, Metadata: e.md}
		}
		req.Streams = append(req.Streams, ps)
	}
	id, err := objkey.NewULID(time.Now(), nil)
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, h.day.String()+"-"+id.String()+quarantineExt)
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return "", fmt.Errorf("write quarantine file: %w", err)
	}
	_, err = f.Write(encodeRecord(h.tenant, &req))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return "", fmt.Errorf("write quarantine file: %w", err)
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	return path, nil
}

// loadQuarantine loads every quarantined head as a sealed head queued for
// upload and returns how many it loaded. Called by Start before ready.
func (ing *Ingester) loadQuarantine() (int, error) {
	dir := ing.cfg.quarantineDir()
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	} else if err != nil {
		return 0, fmt.Errorf("list quarantine dir: %w", err)
	}
	var names []string
	for _, e := range ents {
		if e.Type().IsRegular() && strings.HasSuffix(e.Name(), quarantineExt) {
			names = append(names, e.Name())
		}
	}
	slices.Sort(names)
	now := ing.now()
	for _, name := range names {
		path := filepath.Join(dir, name)
		raw, err := os.ReadFile(path)
		if err != nil {
			return 0, fmt.Errorf("read quarantine file: %w", err)
		}
		t, req, err := decodeRecord(raw)
		if err != nil {
			// Keep it for a human; say so on every start.
			ing.logger.Error("skip undecodable quarantine file", "file", path, "err", err)
			continue
		}
		var h *head
		for i := range req.Streams {
			s := &req.Streams[i]
			ls, err := s.ParseLabels()
			if err != nil {
				ing.logger.Error("skip quarantine file with bad labels", "file", path, "err", err)
				h = nil
				break
			}
			ls = cloneLabels(ls)
			for _, e := range s.Entries {
				if h == nil {
					h = newHead(t, objkey.DayOf(e.Timestamp), now, 0)
				}
				h.add(ls.String(), ls, e.Timestamp, e.Line, e.Metadata)
			}
		}
		if h == nil {
			continue
		}
		for _, s := range h.streams {
			sortStream(s)
		}
		ing.mu.Lock()
		h.firstSeg = ing.curSeg // it needs no WAL segment
		ing.memBytes += h.memBytes()
		ing.m.memory.Set(float64(ing.memBytes))
		u := newUpload(ing.cfg.RetryMin)
		u.file = path
		ing.uploads[h] = u
		ing.flushing = append(ing.flushing, h)
		ing.queue = append(ing.queue, h)
		ing.mu.Unlock()
		ing.m.quarantineNow.Inc()
	}
	return len(names), nil
}
