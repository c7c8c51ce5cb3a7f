package manifest

import (
	"slices"

	"github.com/kubemate/kmlog/format/objkey"
	"github.com/kubemate/kmlog/format/tenant"
)

// Listing is what one listing of a day's index/ prefix found.
type Listing struct {
	Flushes   []objkey.ULID // index/<ULID>.idx
	Compacted []objkey.ULID // index/<ULID>.cidx
	Gens      []uint64      // index/gen-<n>.manifest
	Deletes   []objkey.ULID // index/<ULID>.delete
}

// Add sorts one listed key into the listing; other keys are ignored.
func (l *Listing) Add(o objkey.DayObject) {
	switch o.Leaf {
	case objkey.LeafFlushIndex:
		l.Flushes = append(l.Flushes, o.ID)
	case objkey.LeafCompactedIndex:
		l.Compacted = append(l.Compacted, o.ID)
	case objkey.LeafManifest:
		l.Gens = append(l.Gens, o.Gen)
	case objkey.LeafDeleteMarker:
		l.Deletes = append(l.Deletes, o.ID)
	}
}

// Newest returns the highest generation listed, 0 when none.
func (l *Listing) Newest() uint64 {
	if len(l.Gens) == 0 {
		return 0
	}
	return slices.Max(l.Gens)
}

// File is one live data file of a day.
type File struct {
	ID        objkey.ULID
	Compacted bool // index/<ULID>.cidx, else index/<ULID>.idx
}

// IndexKey is the key of the file's index.
func (f File) IndexKey(t tenant.ID, d objkey.Day) string {
	if f.Compacted {
		return objkey.CompactedIndex(t, d, f.ID)
	}
	return objkey.Index(t, d, f.ID)
}

// Resolve returns the live files of a listing whose newest manifest is m
// (nil when the listing has none): m's outputs, then the flushes m does
// not replace, in ULID order.
func Resolve(l *Listing, m *Manifest) []File {
	var out []File
	if m != nil {
		for _, o := range m.Outputs {
			out = append(out, File{ID: o.ID, Compacted: true})
		}
	}
	flushes := slices.Clone(l.Flushes)
	slices.SortFunc(flushes, objkey.ULID.Compare)
	for _, id := range flushes {
		if m == nil || !m.HasReplaced(id) {
			out = append(out, File{ID: id})
		}
	}
	return out
}

// PendingDeletes returns the listed delete markers m has not applied.
func PendingDeletes(l *Listing, m *Manifest) []objkey.ULID {
	var out []objkey.ULID
	for _, id := range l.Deletes {
		if m == nil || !m.HasDelete(id) {
			out = append(out, id)
		}
	}
	return out
}
