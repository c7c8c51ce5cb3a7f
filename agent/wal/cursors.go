package wal

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Pos is a position in the WAL: a segment and a byte offset in it.
type Pos struct {
	Segment uint64 `json:"segment"`
	Offset  int64  `json:"offset"`
}

// Less orders positions.
func (p Pos) Less(q Pos) bool {
	return p.Segment < q.Segment || (p.Segment == q.Segment && p.Offset < q.Offset)
}

type cursorKey struct{ client, tenant string }

type cursorsFile struct {
	Version int           `json:"version"`
	Cursors []cursorEntry `json:"cursors"`
}

type cursorEntry struct {
	Client string `json:"client"`
	Tenant string `json:"tenant"`
	Pos
}

const cursorsName = "cursors.json"

func readCursors(dir string) (map[cursorKey]Pos, error) {
	b, err := os.ReadFile(filepath.Join(dir, cursorsName))
	if errors.Is(err, fs.ErrNotExist) {
		return map[cursorKey]Pos{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read cursors: %w", err)
	}
	var f cursorsFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("read cursors: %w", err)
	}
	m := make(map[cursorKey]Pos, len(f.Cursors))
	for _, c := range f.Cursors {
		m[cursorKey{c.Client, c.Tenant}] = c.Pos
	}
	return m, nil
}

func encodeCursors(m map[cursorKey]Pos) ([]byte, error) {
	f := cursorsFile{Version: 1, Cursors: make([]cursorEntry, 0, len(m))}
	for k, p := range m {
		f.Cursors = append(f.Cursors, cursorEntry{Client: k.client, Tenant: k.tenant, Pos: p})
	}
	slices.SortFunc(f.Cursors, func(a, b cursorEntry) int {
		if c := strings.Compare(a.Client, b.Client); c != 0 {
			return c
		}
		return strings.Compare(a.Tenant, b.Tenant)
	})
	return json.MarshalIndent(&f, "", "  ")
}

// writeFileAtomic replaces name with b through a synced temporary file.
func writeFileAtomic(name string, b []byte) error {
	dir := filepath.Dir(name)
	f, err := os.CreateTemp(dir, "."+filepath.Base(name)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, name)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return err
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
