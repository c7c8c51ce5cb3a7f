package compactor

import (
	"bytes"
	"container/heap"
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"slices"
	"time"

	"github.com/kubemate/kmlog/format/bucket"
	"github.com/kubemate/kmlog/format/datafile"
	"github.com/kubemate/kmlog/format/index"
	"github.com/kubemate/kmlog/format/labels"
	"github.com/kubemate/kmlog/format/manifest"
	"github.com/kubemate/kmlog/format/objkey"
	"github.com/kubemate/kmlog/format/tenant"
	"github.com/kubemate/kmlog/logql/engine"
)

func (c *Compactor) readIndex(ctx context.Context, t tenant.ID, d objkey.Day, f manifest.File) (*index.Index, error) {
	key := f.IndexKey(t, d)
	b, err := bucket.ReadAll(ctx, c.bkt, key)
	if err != nil {
		return nil, fmt.Errorf("read index %s: %w", key, err)
	}
	ix, err := index.Decode(b)
	if err != nil {
		return nil, fmt.Errorf("decode index %s: %w", key, err)
	}
	return ix, nil
}

// round merges up to MaxFanIn live files of a day into outputs and
// commits the next generation. done reports that every live file was
// merged.
func (c *Compactor) round(ctx context.Context, now time.Time, st *dayState, lim *Limits, reqs *tenantDeletes, rep *Report) (done bool, err error) {
	start := time.Now()
	// A day with more live files than MaxFanIn is merged in rounds that
	// each merge MaxFanIn flushes into new outputs and keep the earlier
	// outputs (so each byte is rewritten about twice, not once per
	// round); a last round merges what is left.
	live := manifest.Resolve(&st.listing, st.m) // outputs first, then flushes by age
	inputs, carried := live, []manifest.Output(nil)
	if len(live) > c.cfg.MaxFanIn {
		var outputs, flushes []manifest.File
		for _, f := range live {
			if f.Compacted {
				outputs = append(outputs, f)
			} else {
				flushes = append(flushes, f)
			}
		}
		keep := outputs
		if len(flushes) >= 2 {
			inputs = flushes[:min(len(flushes), c.cfg.MaxFanIn)]
		} else {
			inputs, keep = live[:c.cfg.MaxFanIn], outputs[min(len(outputs), c.cfg.MaxFanIn):]
		}
		for _, f := range keep {
			for _, o := range st.m.Outputs {
				if o.ID == f.ID {
					carried = append(carried, o)
				}
			}
		}
	}
	done = len(inputs) == len(live)
	ixs := make([]*index.Index, len(inputs))
	var dr Report
	for i, f := range inputs {
		if ixs[i], err = c.readIndex(ctx, st.t, st.d, f); err != nil {
			return false, err
		}
		dr.FilesIn++
		dr.BytesIn += ixs[i].DataSize
	}
	applied := reqs.applicable(&st.listing, st.m, now, c.cfg.DeleteRequestCancelPeriod)
	del := &engine.Deleter{}
	for _, id := range applied {
		r := reqs.byID[id]
		if err := del.Add(r.Query, r.Start, r.End); err != nil {
			return false, err
		}
	}
	outs, err := c.merge(ctx, now, st, inputs, ixs, lim, del, &dr)
	if err != nil {
		return false, err
	}
	// The next generation: the outputs, every flush merged now or before
	// that is still listed, and the deletes applied to all live files.
	next := &manifest.Manifest{Gen: st.newest + 1, Created: now.UnixNano(), Outputs: append(carried, outs...)}
	for _, id := range st.listing.Flushes {
		if st.m != nil && st.m.HasReplaced(id) {
			next.Replaced = append(next.Replaced, id)
		}
	}
	for _, f := range inputs {
		if !f.Compacted {
			next.Replaced = append(next.Replaced, f.ID)
		}
	}
	if st.m != nil {
		for _, id := range st.listing.Deletes {
			if st.m.HasDelete(id) {
				next.Deletes = append(next.Deletes, id)
			}
		}
	}
	if done {
		next.Deletes = append(next.Deletes, applied...)
	}
	slices.SortFunc(next.Replaced, objkey.ULID.Compare)
	next.Replaced = slices.Compact(next.Replaced)
	slices.SortFunc(next.Deletes, objkey.ULID.Compare)
	next.Deletes = slices.Compact(next.Deletes)

	// A compaction older than half OrphanAge does not commit: a cleanup
	// elsewhere may already count its outputs as orphans.
	if time.Since(start) > c.cfg.OrphanAge/2 {
		c.removeOutputs(st, outs)
		return false, fmt.Errorf("compaction took %s, over half orphan_age: not committing", time.Since(start))
	}
	c.at("commit")
	key := objkey.Manifest(st.t, st.d, next.Gen)
	body := next.Encode()
	if err := c.create.PutIfAbsent(ctx, key, bytes.NewReader(body), int64(len(body))); err != nil {
		c.removeOutputs(st, outs)
		if errors.Is(err, bucket.ErrExist) {
			return false, fmt.Errorf("commit generation %d: %w", next.Gen, errLostRace)
		}
		return false, fmt.Errorf("commit %s: %w", key, err)
	}
	c.at("committed")
	rep.add(dr)
	c.logger.Info("compacted day", "tenant", string(st.t), "day", st.d.String(), "generation", next.Gen,
		"files_in", dr.FilesIn, "files_out", dr.FilesOut, "bytes_in", dr.BytesIn, "bytes_out", dr.BytesOut,
		"entries_in", dr.EntriesIn, "entries_out", dr.EntriesOut, "duplicates_removed", dr.Duplicates,
		"entries_deleted_by_requests", dr.DeletedEntries, "entries_deleted_by_retention", dr.RetentionEntries,
		"deletes_applied", len(applied), "duration_seconds", time.Since(start).Seconds())
	return done, nil
}

// removeOutputs deletes outputs that were never committed (best effort:
// cleanup removes what is left once it is older than OrphanAge).
func (c *Compactor) removeOutputs(st *dayState, outs []manifest.Output) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, o := range outs {
		_ = c.bkt.Delete(ctx, objkey.CompactedIndex(st.t, st.d, o.ID))
		_ = c.bkt.Delete(ctx, objkey.Data(st.t, st.d, o.ID))
	}
}

// cursor is one input file of the merge, read a row group at a time.
type cursor struct {
	next func() (datafile.Entry, error, bool)
	stop func()
	gids []int32 // file stream id -> gid
	e    datafile.Entry
	gid  int32
}

func (cu *cursor) advance() (bool, error) {
	e, err, ok := cu.next()
	if !ok {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	cu.e, cu.gid = e, cu.gids[e.Stream]
	return true, nil
}

type cursorHeap []*cursor

func (h cursorHeap) Len() int { return len(h) }
func (h cursorHeap) Less(i, j int) bool {
	if h[i].gid != h[j].gid {
		return h[i].gid < h[j].gid
	}
	return h[i].e.Timestamp < h[j].e.Timestamp
}
func (h cursorHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *cursorHeap) Push(x any)   { *h = append(*h, x.(*cursor)) }
func (h *cursorHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// fileRows reads a data file one row group at a time, so that a read
// holds one row group's pages, not the up to 16 MiB a whole-file read
// fetches at once.
func (c *Compactor) fileRows(ctx context.Context, key string, ix *index.Index) iter.Seq2[datafile.Entry, error] {
	return func(yield func(datafile.Entry, error) bool) {
		ra := bucket.NewReaderAt(ctx, c.bkt, key, ix.DataSize)
		rd, err := datafile.Open(ctx, ra, ix.DataSize, datafile.OpenOptions{Tail: ix.Tail})
		if err != nil {
			yield(datafile.Entry{}, fmt.Errorf("open %s: %w", key, err))
			return
		}
		byRG := make([][]datafile.Block, len(ix.RowGroups))
		for id, s := range ix.Streams {
			for _, b := range s.Blocks {
				if b.RowGroup >= 0 && b.RowGroup < len(byRG) {
					byRG[b.RowGroup] = append(byRG[b.RowGroup], datafile.Block{RowGroup: b.RowGroup, Stream: uint32(id)})
				}
			}
		}
		for _, blocks := range byRG {
			if len(blocks) == 0 {
				continue
			}
			for e, err := range rd.Read(ctx, datafile.Selection{Blocks: blocks, Columns: datafile.AllColumns}) {
				if err != nil {
					err = fmt.Errorf("read %s: %w", key, err)
				}
				if !yield(e, err) || err != nil {
					return
				}
			}
		}
	}
}

// grouped is one row of a group of rows with equal stream and time.
type grouped struct {
	line, md []byte // in the group's arena
}

// merge streams the inputs, in (stream, time) order, into outputs of
// about TargetFileBytes, dropping duplicates and deleted entries.
func (c *Compactor) merge(ctx context.Context, now time.Time, st *dayState, inputs []manifest.File, ixs []*index.Index, lim *Limits, del *engine.Deleter, rep *Report) (outs []manifest.Output, err error) {
	// One stream table for all inputs: gids number label sets in label
	// order, so comparing gids is comparing labels.
	byKey := map[string]int32{}
	var streams []labels.Labels
	for _, ix := range ixs {
		for _, s := range ix.Streams {
			k := s.Labels.String()
			if _, ok := byKey[k]; !ok {
				byKey[k] = int32(len(streams))
				streams = append(streams, s.Labels)
			}
		}
	}
	order := make([]int32, len(streams))
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortFunc(order, func(a, b int32) int { return labels.Compare(streams[a], streams[b]) })
	gidOf := make([]int32, len(streams))
	sorted := make([]labels.Labels, len(streams))
	for g, i := range order {
		gidOf[i] = int32(g)
		sorted[g] = streams[i]
	}
	// Retention cutoff of each stream (MinInt64: keep).
	cutoff := make([]int64, len(sorted))
	for g, ls := range sorted {
		cutoff[g] = -1 << 63
		if p := lim.period(ls); p > 0 {
			cutoff[g] = now.Add(-p).UnixNano()
		}
	}

	h := make(cursorHeap, 0, len(inputs))
	defer func() {
		for _, cu := range h {
			cu.stop()
		}
	}()
	for i, f := range inputs {
		cu := &cursor{gids: make([]int32, len(ixs[i].Streams))}
		for id, s := range ixs[i].Streams {
			cu.gids[id] = gidOf[byKey[s.Labels.String()]]
		}
		cu.next, cu.stop = iter.Pull2(c.fileRows(ctx, objkey.Data(st.t, st.d, f.ID), ixs[i]))
		ok, err := cu.advance()
		if err != nil {
			cu.stop()
			return nil, err
		}
		if !ok {
			cu.stop()
			continue
		}
		h = append(h, cu)
	}
	heap.Init(&h)

	w := &outputWriter{c: c, st: st}
	defer w.abort()
	var (
		group []grouped
		arena []byte
		md    labels.Labels
	)
	for len(h) > 0 {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		gid, ts := h[0].gid, h[0].e.Timestamp
		group, arena = group[:0], arena[:0]
		for len(h) > 0 && h[0].gid == gid && h[0].e.Timestamp == ts {
			cu := h[0]
			for {
				start := len(arena)
				arena = append(arena, cu.e.Line...)
				mid := len(arena)
				arena = datafile.AppendMetadata(arena, cu.e.Metadata)
				group = append(group, grouped{line: arena[start:mid:mid], md: arena[mid:len(arena):len(arena)]})
				ok, err := cu.advance()
				if err != nil {
					return nil, err
				}
				if !ok {
					cu.stop()
					heap.Pop(&h)
					break
				}
				if cu.gid != gid || cu.e.Timestamp != ts {
					heap.Fix(&h, 0)
					break
				}
			}
		}
		// The arena may have moved while growing: re-slice is not needed,
		// as each grouped row holds its own slice header into the arena
		// it was appended to, and those arrays stay alive.
		rep.EntriesIn += int64(len(group))
		if len(group) > 1 {
			slices.SortFunc(group, func(a, b grouped) int {
				if c := bytes.Compare(a.line, b.line); c != 0 {
					return c
				}
				return bytes.Compare(a.md, b.md)
			})
		}
		for i, g := range group {
			if i > 0 && bytes.Equal(g.line, group[i-1].line) && bytes.Equal(g.md, group[i-1].md) {
				rep.Duplicates++
				continue
			}
			if ts < cutoff[gid] {
				rep.RetentionEntries++
				continue
			}
			md, err = datafile.DecodeMetadata(md[:0], g.md)
			if err != nil {
				return nil, fmt.Errorf("decode metadata: %w", err)
			}
			if !del.Empty() && del.Deleted(sorted[gid], ts, g.line, md) {
				rep.DeletedEntries++
				continue
			}
			if err := w.append(ctx, sorted[gid], ts, g.line, md); err != nil {
				return nil, err
			}
			rep.EntriesOut++
		}
	}
	outs, err = w.finish(ctx)
	if err != nil {
		return nil, err
	}
	for _, o := range outs {
		rep.FilesOut++
		rep.BytesOut += o.DataSize
	}
	return outs, nil
}

// outputWriter writes outputs to temporary files and uploads each when
// it reaches TargetFileBytes.
type outputWriter struct {
	c    *Compactor
	st   *dayState
	f    *os.File
	cw   countingWriter
	w    *datafile.Writer
	outs []manifest.Output
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

func (o *outputWriter) append(ctx context.Context, ls labels.Labels, ts int64, line []byte, md labels.Labels) error {
	if o.w == nil {
		f, err := os.CreateTemp(o.c.cfg.TempDir, "kmlog-compact-*.parquet")
		if err != nil {
			return fmt.Errorf("create output: %w", err)
		}
		o.f = f
		o.cw = countingWriter{w: f}
		o.w = datafile.NewWriter(&o.cw, o.c.cfg.DataFile)
	}
	if err := o.w.Append(ls, ts, string(line), md); err != nil {
		return fmt.Errorf("write output: %w", err)
	}
	if o.cw.n >= o.c.cfg.TargetFileBytes {
		return o.upload(ctx)
	}
	return nil
}

// upload closes the current output and stores it: data, then index.
func (o *outputWriter) upload(ctx context.Context) error {
	sum, err := o.w.Close()
	o.w = nil
	if err != nil {
		return fmt.Errorf("write output: %w", err)
	}
	defer o.closeFile()
	if _, err := o.f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("rewind output: %w", err)
	}
	id, err := objkey.NewULID(time.Now(), nil)
	if err != nil {
		return err
	}
	dataKey := objkey.Data(o.st.t, o.st.d, id)
	o.c.at("output-data")
	if err := o.c.bkt.Put(ctx, dataKey, o.f, sum.Size); err != nil {
		return fmt.Errorf("upload %s: %w", dataKey, err)
	}
	o.outs = append(o.outs, manifest.Output{ID: id, DataSize: sum.Size, Rows: sum.Rows})
	idx := index.Build(sum, o.c.cfg.Index).Encode()
	o.c.at("output-index")
	idxKey := objkey.CompactedIndex(o.st.t, o.st.d, id)
	if err := o.c.bkt.Put(ctx, idxKey, bytes.NewReader(idx), int64(len(idx))); err != nil {
		return fmt.Errorf("upload %s: %w", idxKey, err)
	}
	return nil
}

func (o *outputWriter) closeFile() {
	if o.f != nil {
		_ = o.f.Close()
		_ = os.Remove(o.f.Name())
		o.f = nil
	}
}

func (o *outputWriter) finish(ctx context.Context) ([]manifest.Output, error) {
	if o.w != nil {
		if err := o.upload(ctx); err != nil {
			return nil, err
		}
	}
	outs := o.outs
	o.outs = nil
	return outs, nil
}

// abort removes what an unfinished merge left: the temporary file, and
// uploaded outputs no manifest will name.
func (o *outputWriter) abort() {
	if o.w != nil {
		_, _ = o.w.Close()
		o.w = nil
	}
	o.closeFile()
	if len(o.outs) > 0 {
		o.c.removeOutputs(o.st, o.outs)
	}
}
