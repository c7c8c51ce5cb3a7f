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
//
// # The tenant segment
//
// <tenant> is the tenant ID as it is, except where the ID holds what a
// bucket key may not (format/bucket.ValidateKey): a segment may not start
// with a dot, and Loki accepts tenant IDs such as ".tmp". Such bytes are
// written as '%' and two upper-case hex digits ("%2Etmp"). A tenant ID
// never holds '%', so the encoding is reversible and an ordinary ID such as
// "tenant-financial" is its own segment, as it always was. Every key and
// prefix that names a tenant goes through TenantSegment; ParseTenantSegment
// reads one back and accepts only the one encoding TenantSegment writes.
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

// TenantSegment returns the key segment that names tenant t (see the
// package doc): t itself unless t holds a byte that needs escaping.
func TenantSegment(t tenant.ID) string {
	s := string(t)
	if !needsEscape(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 4)
	for i := 0; i < len(s); i++ {
		if escapeByte(s, i) {
			b.WriteByte('%')
			b.WriteByte(upperHex[s[i]>>4])
			b.WriteByte(upperHex[s[i]&15])
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

const upperHex = "0123456789ABCDEF"

// escapeByte reports whether s[i] is written escaped: a leading dot, which
// no key segment may start with, and the escape byte itself (no valid
// tenant ID holds one; it is escaped all the same so that any string
// round-trips).
func escapeByte(s string, i int) bool {
	c := s[i]
	return (i == 0 && c == '.') || c == '%' || c < 0x20 || c >= 0x7f || c == '/' || c == '\\'
}

func needsEscape(s string) bool {
	for i := 0; i < len(s); i++ {
		if escapeByte(s, i) {
			return true
		}
	}
	return false
}

// ErrBadTenantSegment is wrapped by ParseTenantSegment errors.
var ErrBadTenantSegment = errors.New("not a tenant key segment")

// ParseTenantSegment reads a segment written by TenantSegment back into a
// valid tenant ID. It refuses any other spelling of the same ID (a literal
// leading dot, lower-case hex, an escaped byte that needs no escape), so a
// tenant has one prefix only.
func ParseTenantSegment(seg string) (tenant.ID, error) {
	if !strings.Contains(seg, "%") {
		if seg != "" && seg[0] == '.' {
			return "", fmt.Errorf("%w: %q starts with a dot", ErrBadTenantSegment, seg)
		}
		t, err := tenant.Parse(seg)
		if err != nil {
			return "", fmt.Errorf("%w: %q: %v", ErrBadTenantSegment, seg, err)
		}
		return t, nil
	}
	var b strings.Builder
	for i := 0; i < len(seg); i++ {
		if seg[i] != '%' {
			b.WriteByte(seg[i])
			continue
		}
		if i+2 >= len(seg) {
			return "", fmt.Errorf("%w: %q: escape cut short", ErrBadTenantSegment, seg)
		}
		hi, lo := strings.IndexByte(upperHex, seg[i+1]), strings.IndexByte(upperHex, seg[i+2])
		if hi < 0 || lo < 0 {
			return "", fmt.Errorf("%w: %q: bad escape %q", ErrBadTenantSegment, seg, seg[i:i+3])
		}
		b.WriteByte(byte(hi<<4 | lo))
		i += 2
	}
	t, err := tenant.Parse(b.String())
	if err != nil {
		return "", fmt.Errorf("%w: %q: %v", ErrBadTenantSegment, seg, err)
	}
	if TenantSegment(t) != seg {
		return "", fmt.Errorf("%w: %q: not the canonical spelling %q", ErrBadTenantSegment, seg, TenantSegment(t))
	}
	return t, nil
}

// TenantPrefix is the prefix of every object of a tenant.
func TenantPrefix(t tenant.ID) string { return TenantSegment(t) + "/" }

// DayPrefix is the prefix of a tenant's objects for one day.
func DayPrefix(t tenant.ID, d Day) string { return TenantPrefix(t) + d.String() + "/" }

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
	tid, err := ParseTenantSegment(parts[0])
	if err != nil {
		return Key{}, fmt.Errorf("%w: %q: %v", ErrBadKey, key, err)
	}
	day, err := ParseDay(parts[1])
	if err != nil {
		return Key{}, fmt.Errorf("%w: %q: %v", ErrBadKey, key, err)
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

// parseTenantDay reads the first two segments of a day's key.
func parseTenantDay(key, t, d string) (tenant.ID, Day, error) {
	tid, err := ParseTenantSegment(t)
	if err != nil {
		return "", 0, fmt.Errorf("%w: %q: %v", ErrBadKey, key, err)
	}
	day, err := ParseDay(d)
	if err != nil {
		return "", 0, fmt.Errorf("%w: %q: %v", ErrBadKey, key, err)
	}
	return tid, day, nil
}
