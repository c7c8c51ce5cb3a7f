package loggen

import (
	"strconv"
)

const hexDigits = "0123456789abcdef"

func appendHex(b []byte, x uint64, n int) []byte {
	for i := n - 1; i >= 0; i-- {
		b = append(b, hexDigits[(x>>(uint(i)*4))&0xf])
	}
	return b
}

// appendDec appends v/10^dec with dec decimals, e.g. 1234,2 → "12.34".
func appendDec(b []byte, v int, dec int) []byte {
	p := 1
	for range dec {
		p *= 10
	}
	b = strconv.AppendInt(b, int64(v/p), 10)
	if dec == 0 {
		return b
	}
	b = append(b, '.')
	f := v % p
	for p /= 10; p > 0; p /= 10 {
		b = append(b, byte('0'+f/p%10))
	}
	return b
}

// appendHashed appends s with each '#' replaced by a number.
func appendHashed(b []byte, r rng, s string) []byte {
	for i := 0; i < len(s); i++ {
		if s[i] == '#' {
			b = strconv.AppendInt(b, int64(100000+r.skewed(9_000_000)), 10)
			continue
		}
		b = append(b, s[i])
	}
	return b
}

// latencyTenths returns a latency in tenths of a millisecond, longer for
// worse levels.
func latencyTenths(r rng, lvl level) int {
	v := 2 + r.skewed(2500)
	switch lvl {
	case levelWarn:
		v += 5000 + r.intn(20000)
	case levelError:
		if r.chance(500) {
			v += 10000 + r.intn(290000)
		}
	}
	return v
}

func appendDuration(b []byte, tenths int) []byte {
	if tenths >= 10000 {
		b = appendDec(b, tenths/10, 3)
		return append(b, 's')
	}
	b = appendDec(b, tenths, 1)
	return append(b, "ms"...)
}

func statusFor(r rng, lvl level) int {
	switch lvl {
	case levelError:
		return [...]int{500, 502, 503, 504, 500}[r.intn(5)]
	case levelWarn:
		return [...]int{400, 401, 403, 404, 404, 409, 422, 429}[r.intn(8)]
	}
	if r.chance(60) {
		return [...]int{201, 204, 301, 302, 304}[r.intn(5)]
	}
	return 200
}

// appendPH appends a fresh value for p, unquoted.
func appendPH(b []byte, r rng, p ph, lvl level) []byte {
	switch p {
	case phUserID:
		return strconv.AppendInt(b, int64(100000+r.skewed(9_900_000)), 10)
	case phAccountID:
		return strconv.AppendInt(b, int64(10_000_000+r.skewed(89_999_999)), 10)
	case phOrderID:
		return strconv.AppendInt(b, int64(1_000_000_000+r.intn(999_999_999)), 10)
	case phTxID:
		b = append(b, "tx_"...)
		return appendHex(b, r.u64(), 16)
	case phAmount:
		cents := r.between(100, 999) * [...]int{1, 10, 10, 100, 100, 1000}[r.intn(6)]
		return appendDec(b, cents+r.intn(100), 2)
	case phCurrency:
		return append(b, pickStr(r, currencies)...)
	case phQty:
		return strconv.AppendInt(b, int64(1+r.skewed(500)), 10)
	case phPrice:
		return appendDec(b, r.between(100, 99999), 2)
	case phSymbol:
		return append(b, symbols[r.skewed(len(symbols))]...)
	case phSide:
		return append(b, pickStr(r, sides)...)
	case phLatencyMs:
		return appendDec(b, latencyTenths(r, lvl), 1)
	case phDuration:
		return appendDuration(b, latencyTenths(r, lvl))
	case phTimeoutMs:
		return strconv.AppendInt(b, int64(timeoutsMs[r.intn(len(timeoutsMs))]), 10)
	case phRetry:
		return strconv.AppendInt(b, int64(1+r.intn(5)), 10)
	case phCount:
		return strconv.AppendInt(b, int64(r.skewed(1000)), 10)
	case phStatus:
		return strconv.AppendInt(b, int64(statusFor(r, lvl)), 10)
	case phMethod:
		return append(b, pickStr(r, methods)...)
	case phPath:
		return appendHashed(b, r, nginxPaths[r.skewed(len(nginxPaths))])
	case phIP:
		return appendIP(b, 10, 42, r.intn(64), 2+r.intn(250))
	case phPort:
		return strconv.AppendInt(b, int64(ports[r.intn(len(ports))]), 10)
	case phBytes:
		return strconv.AppendInt(b, int64(40+r.skewed(60000)), 10)
	case phUUID:
		return appendUUID(b, r.u64(), r.u64())
	case phHex:
		return appendHex(b, r.u64(), 16)
	case phErr:
		return append(b, pickStr(r, errorMessages)...)
	case phErrCode:
		return append(b, pickStr(r, errorCodes)...)
	case phTopic:
		return append(b, pickStr(r, topics)...)
	case phGroup:
		return append(b, pickStr(r, groups)...)
	case phPartition:
		return strconv.AppendInt(b, int64(r.intn(12)), 10)
	case phOffset:
		return strconv.AppendInt(b, int64(10_000_000+r.intn(900_000_000)), 10)
	case phLag:
		return strconv.AppendInt(b, int64(100+r.skewed(50000)), 10)
	case phTable:
		return append(b, pickStr(r, tables)...)
	case phRows:
		return strconv.AppendInt(b, int64(r.skewed(100000)), 10)
	case phHost:
		return append(b, pickStr(r, dbHosts)...)
	case phQueue:
		return append(b, pickStr(r, queues)...)
	case phJob:
		return append(b, pickStr(r, jobs)...)
	case phRegion:
		return append(b, pickStr(r, regions)...)
	case phKey:
		return appendHashed(b, r, pickStr(r, cacheKeys))
	case phPoolActive:
		return strconv.AppendInt(b, int64(r.intn(10)), 10)
	case phPoolMax:
		return strconv.AppendInt(b, int64(poolMaxes[r.intn(len(poolMaxes))]), 10)
	case phCPU:
		return strconv.AppendInt(b, int64(1+r.intn(99)), 10)
	case phMemMB:
		return strconv.AppendInt(b, int64(64+r.intn(4032)), 10)
	case phPID:
		return strconv.AppendInt(b, int64(1+r.intn(32767)), 10)
	case phVersion:
		return append(b, pickStr(r, versions)...)
	case phCard:
		b = append(b, "****"...)
		return appendDec(b, 1000+r.intn(9000), 0)
	case phSession:
		return appendHex(b, r.u64(), 16)
	case phNode:
		b = append(b, "ip-10-0-"...)
		b = strconv.AppendInt(b, int64(r.intn(64)), 10)
		b = append(b, '-')
		b = strconv.AppendInt(b, int64(1+r.intn(254)), 10)
		return append(b, ".ec2.internal"...)
	case phMerchant:
		b = append(b, "MER"...)
		return strconv.AppendInt(b, int64(100000+r.skewed(900000)), 10)
	case phCountry:
		return append(b, pickStr(r, countries)...)
	case phEndpoint:
		return append(b, pickStr(r, endpoints)...)
	case phHitRatio:
		b = append(b, "0."...)
		return strconv.AppendInt(b, int64(10+r.intn(90)), 10)
	case phUser:
		return append(b, pickStr(r, users)...)
	case phProvider:
		return append(b, pickStr(r, providers)...)
	case phBatch:
		return strconv.AppendInt(b, int64(batchSizes[r.intn(len(batchSizes))]), 10)
	case phWorker:
		b = append(b, "worker-"...)
		return strconv.AppendInt(b, int64(r.intn(8)), 10)
	}
	panic("BUG: loggen: placeholder " + strconv.Itoa(int(p)) + " has no value")
}

func appendIP(b []byte, a, c, d, e int) []byte {
	b = strconv.AppendInt(b, int64(a), 10)
	b = append(b, '.')
	b = strconv.AppendInt(b, int64(c), 10)
	b = append(b, '.')
	b = strconv.AppendInt(b, int64(d), 10)
	b = append(b, '.')
	return strconv.AppendInt(b, int64(e), 10)
}

func appendUUID(b []byte, hi, lo uint64) []byte {
	hi = hi&^0xf000 | 0x4000     // version 4
	lo = lo&^(0xc<<60) | 0x8<<60 // RFC 4122 variant
	b = appendHex(b, hi>>32, 8)
	b = append(b, '-')
	b = appendHex(b, hi>>16, 4)
	b = append(b, '-')
	b = appendHex(b, hi, 4)
	b = append(b, '-')
	b = appendHex(b, lo>>48, 4)
	b = append(b, '-')
	return appendHex(b, lo, 12)
}

// appendMsg renders a template's message text.
func appendMsg(b []byte, r rng, t *tmpl, lvl level) []byte {
	return appendMsgRec(b, r, t, lvl, nil)
}

// rendered records where the values of a message's placeholders are in the
// buffer, so that a field of the same name repeats the value.
type rendered struct {
	n          int
	ph         [4]ph
	start, end [4]int
}

func (rd *rendered) lookup(p ph) (start, end int, ok bool) {
	for i := range rd.n {
		if rd.ph[i] == p {
			return rd.start[i], rd.end[i], true
		}
	}
	return 0, 0, false
}

// appendField appends the value of field p: the message's value for the
// same placeholder if it has one, else a fresh value.
func appendField(b []byte, r rng, p ph, lvl level, rd *rendered) []byte {
	if start, end, ok := rd.lookup(p); ok {
		return append(b, b[start:end]...)
	}
	return appendPH(b, r, p, lvl)
}

func appendMsgRec(b []byte, r rng, t *tmpl, lvl level, rd *rendered) []byte {
	for _, s := range t.msg {
		b = append(b, s.lit...)
		if s.ph != phNone {
			start := len(b)
			b = appendPH(b, r, s.ph, lvl)
			if rd != nil && rd.n < len(rd.ph) {
				rd.ph[rd.n], rd.start[rd.n], rd.end[rd.n] = s.ph, start, len(b)
				rd.n++
			}
		}
	}
	return b
}

// appendIDNumber appends an 18-character mainland China resident ID number
// with a valid ISO 7064 MOD 11-2 check character, e.g. 11010519491231002X.
func appendIDNumber(b []byte, r rng) []byte {
	var d [18]byte
	copy(d[:6], idRegions[r.intn(len(idRegions))])
	y, m, day := 1950+r.intn(56), 1+r.intn(12), 1+r.intn(28)
	put4(d[6:], y)
	put2(d[10:], m)
	put2(d[12:], day)
	seq := r.intn(1000)
	d[14], d[15], d[16] = byte('0'+seq/100), byte('0'+seq/10%10), byte('0'+seq%10)
	d[17] = idCheck(d[:17])
	return append(b, d[:]...)
}

// idCheck computes the check character of the first 17 digits.
func idCheck(d []byte) byte {
	weights := [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}
	s := 0
	for i, w := range weights {
		s += int(d[i]-'0') * w
	}
	return "10X98765432"[s%11]
}
