// Package objkey names the objects kmlog keeps in a bucket.
//
// Every key starts with the tenant, then the UTC day, so that one tenant's
// data can be listed, measured, retained or deleted by prefix and a query
// shard lists one day only:
//
//	<tenant>/<YYYY-MM-DD>/data/<ULID>.parquet    a data file (format/datafile)
//	<tenant>/<YYYY-MM-DD>/index/<ULID>.idx       its index (format/index)
//
// A data file and its index share one ULID. ULIDs sort by creation time and
// carry 80 random bits, so a name never repeats: objects are immutable,
// caches keyed by name never need invalidation, and an upload that did not
// finish is never mistaken for another object. Other per-tenant objects
// (results cache, ruler state) live under <tenant>/<kind>/ with kinds that
// cannot be mistaken for a day.
package objkey

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/kubemate/kmlog/format/tenant"
)

// Kinds of object under a day.
const (
	KindData  = "data"
	KindIndex = "index"
)

// File extensions by kind.
const (
	ExtData  = ".parquet"
	ExtIndex = ".idx"
)

// ErrBadKey is wrapped by Parse errors.
var ErrBadKey = errors.New("not a kmlog object key")

// Day is a UTC calendar day, counted from 1970-01-01.
type Day int32

// DayOf returns the UTC day holding the Unix-nanosecond timestamp ns.
func DayOf(ns int64) Day {
	const nsPerDay = int64(24 * time.Hour)
	d := ns / nsPerDay
	if ns < 0 && ns%nsPerDay != 0 {
		d--
	}
	return Day(d)
}

// DayOfTime returns the UTC day holding t.
func DayOfTime(t time.Time) Day { return DayOf(t.UnixNano()) }

// Start returns the first instant of the day.
func (d Day) Start() time.Time { return time.Unix(int64(d)*86400, 0).UTC() }

// StartNano is Start as Unix nanoseconds.
func (d Day) StartNano() int64 { return int64(d) * int64(24*time.Hour) }

// EndNano is the first nanosecond of the next day.
func (d Day) EndNano() int64 { return (d + 1).StartNano() }

// String returns YYYY-MM-DD.
func (d Day) String() string { return d.Start().Format(time.DateOnly) }

// ParseDay reads YYYY-MM-DD.
func ParseDay(s string) (Day, error) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return 0, fmt.Errorf("parse day %q: %w", s, err)
	}
	return DayOfTime(t), nil
}

// TenantPrefix is the prefix of every object of a tenant.
func TenantPrefix(t tenant.ID) string { return string(t) + "/" }

// DayPrefix is the prefix of a tenant's objects for one day.
func DayPrefix(t tenant.ID, d Day) string { return string(t) + "/" + d.String() + "/" }

// IndexPrefix is the prefix of a tenant's index objects for one day.
func IndexPrefix(t tenant.ID, d Day) string { return DayPrefix(t, d) + KindIndex + "/" }

// DataPrefix is the prefix of a tenant's data files for one day.
func DataPrefix(t tenant.ID, d Day) string { return DayPrefix(t, d) + KindData + "/" }

// Data is the key of a data file.
func Data(t tenant.ID, d Day, id ULID) string { return DataPrefix(t, d) + id.String() + ExtData }

// Index is the key of an index object.
func Index(t tenant.ID, d Day, id ULID) string { return IndexPrefix(t, d) + id.String() + ExtIndex }

// Key is a parsed data or index key.
type Key struct {
	Tenant tenant.ID
	Day    Day
	Kind   string // KindData or KindIndex
	ID     ULID
}

// String returns the key text.
func (k Key) String() string {
	if k.Kind == KindIndex {
		return Index(k.Tenant, k.Day, k.ID)
	}
	return Data(k.Tenant, k.Day, k.ID)
}

// Parse reads a data or index key.
func Parse(key string) (Key, error) {
	parts := strings.Split(key, "/")
	if len(parts) != 4 {
		return Key{}, fmt.Errorf("%w: %q", ErrBadKey, key)
	}
	tid, day, err := parseTenantDay(key, parts[0], parts[1])
	if err != nil {
		return Key{}, err
	}
	var ext string
	switch parts[2] {
	case KindData:
		ext = ExtData
	case KindIndex:
		ext = ExtIndex
	default:
		return Key{}, fmt.Errorf("%w: %q: unknown kind %q", ErrBadKey, key, parts[2])
	}
	name, ok := strings.CutSuffix(parts[3], ext)
	if !ok {
		return Key{}, fmt.Errorf("%w: %q: want extension %s", ErrBadKey, key, ext)
	}
	id, err := ParseULID(name)
	if err != nil {
		return Key{}, fmt.Errorf("%w: %q: %v", ErrBadKey, key, err)
	}
	return Key{Tenant: tid, Day: day, Kind: parts[2], ID: id}, nil
}

// parseTenantDay reads the first two segments of a day's key.
func parseTenantDay(key, t, d string) (tenant.ID, Day, error) {
	tid, err := tenant.Parse(t)
	if err != nil {
		return "", 0, fmt.Errorf("%w: %q: %v", ErrBadKey, key, err)
	}
	day, err := ParseDay(d)
	if err != nil {
		return "", 0, fmt.Errorf("%w: %q: %v", ErrBadKey, key, err)
	}
	return tid, day, nil
}

// ULID is a 128-bit identifier: 48 bits of Unix milliseconds, then 80
// random bits, written as 26 characters of Crockford base32.
type ULID [16]byte

const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// NewULID makes a ULID for time t with entropy from r (crypto/rand when nil).
func NewULID(t time.Time, r io.Reader) (ULID, error) {
	var u ULID
	ms := uint64(t.UnixMilli())
	for i := 5; i >= 0; i-- {
		u[i] = byte(ms)
		ms >>= 8
	}
	if r == nil {
		r = rand.Reader
	}
	if _, err := io.ReadFull(r, u[6:]); err != nil {
		return ULID{}, fmt.Errorf("read ULID entropy: %w", err)
	}
	return u, nil
}

// MustNewULID is NewULID(time.Now(), nil); crypto/rand does not fail.
func MustNewULID() ULID {
	u, err := NewULID(time.Now(), nil)
	if err != nil {
		panic("BUG: " + err.Error())
	}
	return u
}

// Time returns the millisecond timestamp in the ULID.
func (u ULID) Time() time.Time {
	var ms uint64
	for i := 0; i < 6; i++ {
		ms = ms<<8 | uint64(u[i])
	}
	return time.UnixMilli(int64(ms)).UTC()
}

// String returns the 26-character text form.
func (u ULID) String() string {
	hi := binary.BigEndian.Uint64(u[:8])
	lo := binary.BigEndian.Uint64(u[8:])
	var out [26]byte
	for j := 25; j >= 0; j-- {
		out[j] = crockford[lo&31]
		lo = lo>>5 | hi<<59
		hi >>= 5
	}
	return string(out[:])
}

// ParseULID reads the 26-character text form.
func ParseULID(s string) (ULID, error) {
	if len(s) != 26 {
		return ULID{}, fmt.Errorf("ULID %q: want 26 characters", s)
	}
	var v [26]byte
	for i := 0; i < 26; i++ {
		idx := strings.IndexByte(crockford, s[i])
		if idx < 0 {
			return ULID{}, fmt.Errorf("ULID %q: bad character %q", s, s[i])
		}
		v[i] = byte(idx)
	}
	if v[0] > 7 {
		return ULID{}, fmt.Errorf("ULID %q: overflows 128 bits", s)
	}
	var u ULID
	var acc uint64
	bits := 0
	k := 0
	for i := 0; i < 26; i++ {
		acc = acc<<5 | uint64(v[i])
		bits += 5
		if i == 0 {
			bits -= 2 // the two pad bits
			acc &= 7
		}
		for bits >= 8 && k < 16 {
			bits -= 8
			u[k] = byte(acc >> bits)
			k++
		}
	}
	return u, nil
}

// Compare orders ULIDs by time, then by randomness.
func (u ULID) Compare(o ULID) int {
	for i := range u {
		if u[i] != o[i] {
			if u[i] < o[i] {
				return -1
			}
			return 1
		}
	}
	return 0
}
