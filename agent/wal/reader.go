package wal

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"slices"

	"github.com/kubemate/kmlog/format/push"
)

// Record is one Append read back.
type Record struct {
	Tenant  string
	Streams []push.Stream
	Entries int
	// Size is the record's size on disk.
	Size int
	// End is the position just past the record: Ack it once the record
	// is delivered.
	End Pos
}

// Reader reads the records of one tenant for one client, from that pair's
// acknowledged cursor on. It belongs to one goroutine.
type Reader struct {
	w              *WAL
	client, tenant string
	pos            Pos
	f              *os.File
	fseg           uint64
	hdr            [recordHeaderLen]byte
	body           []byte
}

// NewReader returns a Reader for (client, tenant) starting at its last
// acknowledged position, or at the oldest segment when it has none.
func (w *WAL) NewReader(client, tenant string) (*Reader, error) {
	if !slices.Contains(w.clients, client) {
		return nil, fmt.Errorf("new wal reader %q: %w", client, ErrUnknownClient)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil, ErrClosed
	}
	p, ok := w.cursors[cursorKey{client, tenant}]
	if !ok {
		p = Pos{Segment: w.segs[0].index, Offset: headerLen}
	}
	return &Reader{w: w, client: client, tenant: tenant, pos: p}, nil
}

// Pos returns the position after the last record Next returned or skipped.
func (r *Reader) Pos() Pos { return r.pos }

// Ack records that everything of this tenant before p was delivered.
// Acknowledging backwards is a no-op.
func (r *Reader) Ack(p Pos) { r.w.ack(r.client, r.tenant, p) }

// Close releases the Reader's file.
func (r *Reader) Close() error {
	if r.f == nil {
		return nil
	}
	err := r.f.Close()
	r.f = nil
	return err
}

// Next returns the next record of the Reader's tenant, waiting for one to
// be appended. It returns ctx's error when ctx ends first (the Reader
// stays usable) and ErrClosed after the WAL is closed.
func (r *Reader) Next(ctx context.Context) (Record, error) {
	w := r.w
	for {
		w.mu.Lock()
		if w.closed {
			w.mu.Unlock()
			return Record{}, ErrClosed
		}
		i, _ := slices.BinarySearchFunc(w.segs, r.pos.Segment, func(s *segment, idx uint64) int { return cmpUint(s.index, idx) })
		if i == len(w.segs) {
			i-- // past the head: cannot happen with valid positions
		}
		s := w.segs[i]
		if s.index != r.pos.Segment {
			r.pos = Pos{Segment: s.index, Offset: headerLen}
		}
		r.pos.Offset = max(r.pos.Offset, headerLen)
		head := i == len(w.segs)-1
		limit := s.size
		if !head && (r.pos.Offset >= limit || s.tenants[r.tenant].last == 0) {
			r.pos = Pos{Segment: w.segs[i+1].index, Offset: headerLen}
			w.mu.Unlock()
			continue
		}
		if r.pos.Offset >= limit {
			appended := w.appended
			w.mu.Unlock()
			select {
			case <-ctx.Done():
				return Record{}, ctx.Err()
			case <-w.done:
				return Record{}, ErrClosed
			case <-appended:
			}
			continue
		}
		w.mu.Unlock()
		rec, err := r.read(s.index, r.pos.Offset, limit)
		if errors.Is(err, fs.ErrNotExist) {
			continue // dropped meanwhile (drop_oldest): look again
		}
		if err != nil {
			if head || !errors.Is(err, ErrCorrupt) {
				return Record{}, err
			}
			w.logger.Error("skipping rest of corrupt wal segment", "segment", s.index, "offset", r.pos.Offset, "err", err)
			r.pos = Pos{Segment: s.index + 1, Offset: headerLen}
			continue
		}
		r.pos = rec.End
		if rec.Tenant == r.tenant {
			return rec, nil
		}
	}
}

// read reads the record at off of segment seg, whose valid bytes end at
// limit. A record of another tenant comes back with nil Streams.
func (r *Reader) read(seg uint64, off, limit int64) (Record, error) {
	if r.f == nil || r.fseg != seg {
		_ = r.Close()
		f, err := os.Open(r.w.segPath(seg))
		if err != nil {
			return Record{}, fmt.Errorf("read wal: %w", err)
		}
		r.f, r.fseg = f, seg
	}
	if limit-off < recordHeaderLen {
		return Record{}, fmt.Errorf("%w: short record header at %d", ErrCorrupt, off)
	}
	if _, err := r.f.ReadAt(r.hdr[:], off); err != nil {
		return Record{}, fmt.Errorf("read wal: %w", readErr(err))
	}
	n, err := recordLen(r.hdr[:])
	if err != nil {
		return Record{}, err
	}
	if limit-off-recordHeaderLen < int64(n) {
		return Record{}, fmt.Errorf("%w: short record at %d", ErrCorrupt, off)
	}
	r.body = slices.Grow(r.body[:0], n)[:n]
	if _, err := r.f.ReadAt(r.body, off+recordHeaderLen); err != nil {
		return Record{}, fmt.Errorf("read wal: %w", readErr(err))
	}
	if crc32.Checksum(r.body, castagnoli) != binary.LittleEndian.Uint32(r.hdr[4:]) {
		return Record{}, fmt.Errorf("%w: crc mismatch at %d", ErrCorrupt, off)
	}
	end := Pos{Segment: seg, Offset: off + recordHeaderLen + int64(n)}
	tenant, entries, payload, err := parseBody(r.body)
	if err != nil {
		return Record{}, err
	}
	rec := Record{Tenant: tenant, Entries: entries, Size: recordHeaderLen + n, End: end}
	if tenant != r.tenant {
		return rec, nil
	}
	req, err := push.DecodeProto(payload)
	if err != nil {
		return Record{}, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	rec.Streams = req.Streams
	if rec.Streams == nil {
		rec.Streams = []push.Stream{}
	}
	return rec, nil
}

func readErr(err error) error {
	if errors.Is(err, io.EOF) {
		return fmt.Errorf("%w: unexpected end of segment", ErrCorrupt)
	}
	return err
}
