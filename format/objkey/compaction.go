package objkey

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/kubemate/kmlog/format/tenant"
)

// The compactor's objects. A day's compaction state sits beside the flush
// indexes under index/, so that the one listing a querier makes of a day
// sees all of it, and the frontend's generation digest of index/ changes
// with every commit, delete request and retired file:
//
//	<tenant>/<day>/index/<ULID>.cidx            index of a compaction output (its data: data/<ULID>.parquet)
//	<tenant>/<day>/index/gen-<20 digits>.manifest  a committed generation (format/manifest)
//	<tenant>/<day>/index/<ULID>.delete          a delete request (its ULID) that covers the day
//
// and per tenant:
//
//	<tenant>/deletes/<ULID>.json                a delete request (format/manifest.DeleteRequest)
//	<tenant>/deletes/<ULID>.done                its lines are gone from every day it covers
//	<tenant>/deletes/<ULID>.cancel              it was cancelled
//	<tenant>/compactor/<day>/<20 digits>        the day's compaction lease, by epoch
const (
	ExtCompactedIndex = ".cidx"
	ExtManifest       = ".manifest"
	ExtDeleteMarker   = ".delete"

	manifestPrefix = "gen-"
	kindDeletes    = "deletes"
	kindCompactor  = "compactor"
)

// Leaf kinds of DayObject.
const (
	LeafData           = "data"     // data/<ULID>.parquet
	LeafFlushIndex     = "index"    // index/<ULID>.idx
	LeafCompactedIndex = "cidx"     // index/<ULID>.cidx
	LeafManifest       = "manifest" // index/gen-<n>.manifest
	LeafDeleteMarker   = "delete"   // index/<ULID>.delete
	LeafOther          = "other"    // anything else under the day
)

// CompactedIndex is the key of a compaction output's index.
func CompactedIndex(t tenant.ID, d Day, id ULID) string {
	return IndexPrefix(t, d) + id.String() + ExtCompactedIndex
}

// Manifest is the key of generation gen of a day.
func Manifest(t tenant.ID, d Day, gen uint64) string {
	return IndexPrefix(t, d) + fmt.Sprintf("%s%020d%s", manifestPrefix, gen, ExtManifest)
}

// DeleteMarker is the key of a delete request's marker in a day.
func DeleteMarker(t tenant.ID, d Day, id ULID) string {
	return IndexPrefix(t, d) + id.String() + ExtDeleteMarker
}

// DeletesPrefix is the prefix of a tenant's delete requests.
func DeletesPrefix(t tenant.ID) string { return TenantPrefix(t) + kindDeletes + "/" }

// DeleteRequest is the key of a delete request; DeleteDone and
// DeleteCancel mark its end.
func DeleteRequest(t tenant.ID, id ULID) string { return DeletesPrefix(t) + id.String() + ".json" }

// DeleteDone marks a delete request processed.
func DeleteDone(t tenant.ID, id ULID) string { return DeletesPrefix(t) + id.String() + ".done" }

// DeleteCancel marks a delete request cancelled.
func DeleteCancel(t tenant.ID, id ULID) string { return DeletesPrefix(t) + id.String() + ".cancel" }

// LeasePrefix is the prefix of a day's compaction leases.
func LeasePrefix(t tenant.ID, d Day) string {
	return TenantPrefix(t) + kindCompactor + "/" + d.String() + "/"
}

// Lease is the key of a day's compaction lease of one epoch.
func Lease(t tenant.ID, d Day, epoch uint64) string {
	return LeasePrefix(t, d) + fmt.Sprintf("%020d", epoch)
}

// ParseLease reads the epoch of a lease key.
func ParseLease(key string) (uint64, error) {
	i := strings.LastIndexByte(key, '/')
	n, err := strconv.ParseUint(key[i+1:], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: lease %q", ErrBadKey, key)
	}
	return n, nil
}

// DayObject is a parsed key of any object under a day.
type DayObject struct {
	Tenant tenant.ID
	Day    Day
	Leaf   string // LeafData, LeafFlushIndex, ...
	ID     ULID   // data, indexes and delete markers
	Gen    uint64 // manifests
}

// ParseDayObject reads any key under <tenant>/<day>/. Keys of unknown
// shape under a day give LeafOther; keys not under a day are errors.
func ParseDayObject(key string) (DayObject, error) {
	parts := strings.Split(key, "/")
	if len(parts) < 3 {
		return DayObject{}, fmt.Errorf("%w: %q", ErrBadKey, key)
	}
	tid, day, err := parseTenantDay(key, parts[0], parts[1])
	if err != nil {
		return DayObject{}, err
	}
	o := DayObject{Tenant: tid, Day: day, Leaf: LeafOther}
	if len(parts) != 4 {
		return o, nil
	}
	name := parts[3]
	if parts[2] == KindData {
		if s, ok := strings.CutSuffix(name, ExtData); ok {
			if id, err := ParseULID(s); err == nil {
				o.Leaf, o.ID = LeafData, id
			}
		}
		return o, nil
	}
	if parts[2] != KindIndex {
		return o, nil
	}
	if s, ok := strings.CutPrefix(name, manifestPrefix); ok {
		if s, ok := strings.CutSuffix(s, ExtManifest); ok && len(s) == 20 {
			if g, err := strconv.ParseUint(s, 10, 64); err == nil {
				o.Leaf, o.Gen = LeafManifest, g
			}
		}
		return o, nil
	}
	for _, x := range []struct{ ext, leaf string }{
		{ExtIndex, LeafFlushIndex}, {ExtCompactedIndex, LeafCompactedIndex}, {ExtDeleteMarker, LeafDeleteMarker},
	} {
		if s, ok := strings.CutSuffix(name, x.ext); ok {
			if id, err := ParseULID(s); err == nil {
				o.Leaf, o.ID = x.leaf, id
			}
			return o, nil
		}
	}
	return o, nil
}
