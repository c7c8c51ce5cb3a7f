package loggen

import "time"

// clock formats an entry's timestamp in the styles the line kinds use. It
// caches the calendar fields of the current second, so formatting costs a
// few byte copies per line.
type clock struct {
	sec  int64
	ns   int      // nanoseconds within sec
	date [10]byte // 2026-11-25
	hms  [8]byte  // 10:00:00
	year int
	mon  time.Month
	day  int
}

func (c *clock) set(unixNano int64) {
	sec, ns := unixNano/1e9, int(unixNano%1e9)
	if ns < 0 {
		sec, ns = sec-1, ns+1e9
	}
	c.ns = ns
	if sec == c.sec && c.year != 0 {
		return
	}
	c.sec = sec
	t := time.Unix(sec, 0).UTC()
	y, mo, d := t.Date()
	h, mi, s := t.Clock()
	c.year, c.mon, c.day = y, mo, d
	put4(c.date[0:], y)
	c.date[4] = '-'
	put2(c.date[5:], int(mo))
	c.date[7] = '-'
	put2(c.date[8:], d)
	put2(c.hms[0:], h)
	c.hms[2] = ':'
	put2(c.hms[3:], mi)
	c.hms[5] = ':'
	put2(c.hms[6:], s)
}

func put2(b []byte, v int) { b[0], b[1] = byte('0'+v/10%10), byte('0'+v%10) }

func put4(b []byte, v int) {
	put2(b[0:], v/100)
	put2(b[2:], v%100)
}

// appendFrac appends digits (3 or 6) of the fraction of a second.
func appendFrac(b []byte, ns, digits int) []byte {
	var tmp [9]byte
	for i := 8; i >= 0; i-- {
		tmp[i] = byte('0' + ns%10)
		ns /= 10
	}
	return append(b, tmp[:digits]...)
}

// rfc3339 appends 2026-11-25T10:00:00.123Z with 3 or 6 fraction digits.
func (c *clock) rfc3339(b []byte, digits int) []byte {
	b = append(b, c.date[:]...)
	b = append(b, 'T')
	b = append(b, c.hms[:]...)
	b = append(b, '.')
	b = appendFrac(b, c.ns, digits)
	return append(b, 'Z')
}

// spaced appends 2026-11-25 10:00:00<sep>123 (PostgreSQL, Python logging).
func (c *clock) spaced(b []byte, sep byte) []byte {
	b = append(b, c.date[:]...)
	b = append(b, ' ')
	b = append(b, c.hms[:]...)
	b = append(b, sep)
	return appendFrac(b, c.ns, 3)
}

var monthAbbr = [...]string{"", "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}

// nginx appends 25/Nov/2026:10:00:00 +0000.
func (c *clock) nginx(b []byte) []byte {
	b = append(b, c.date[8:10]...)
	b = append(b, '/')
	b = append(b, monthAbbr[c.mon]...)
	b = append(b, '/')
	b = append(b, c.date[0:4]...)
	b = append(b, ':')
	b = append(b, c.hms[:]...)
	return append(b, " +0000"...)
}

// klog appends the klog header time, 1125 10:00:00.123456 (after the
// severity letter).
func (c *clock) klog(b []byte) []byte {
	b = append(b, c.date[5:7]...)
	b = append(b, c.date[8:10]...)
	b = append(b, ' ')
	b = append(b, c.hms[:]...)
	b = append(b, '.')
	return appendFrac(b, c.ns, 6)
}

// redis appends 25 Nov 2026 10:00:00.123.
func (c *clock) redis(b []byte) []byte {
	b = append(b, c.date[8:10]...)
	b = append(b, ' ')
	b = append(b, monthAbbr[c.mon]...)
	b = append(b, ' ')
	b = append(b, c.date[0:4]...)
	b = append(b, ' ')
	b = append(b, c.hms[:]...)
	b = append(b, '.')
	return appendFrac(b, c.ns, 3)
}
