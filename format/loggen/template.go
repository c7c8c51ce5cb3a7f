package loggen

import (
	"strconv"
	"strings"
)

// ph names a variable part of a message: a placeholder in message text
// ("order {order_id} accepted") or a structured field after the message
// ("| user_id amount"). Each writes a fresh value on every use.
type ph uint8

const (
	phNone ph = iota
	phUserID
	phAccountID
	phOrderID
	phTxID
	phAmount
	phCurrency
	phQty
	phPrice
	phSymbol
	phSide
	phLatencyMs
	phDuration
	phTimeoutMs
	phRetry
	phCount
	phStatus
	phMethod
	phPath
	phIP
	phPort
	phBytes
	phUUID
	phHex
	phErr
	phErrCode
	phTopic
	phGroup
	phPartition
	phOffset
	phLag
	phTable
	phRows
	phHost
	phQueue
	phJob
	phRegion
	phKey
	phPoolActive
	phPoolMax
	phCPU
	phMemMB
	phPID
	phVersion
	phCard
	phSession
	phNode
	phMerchant
	phCountry
	phEndpoint
	phHitRatio
	phUser
	phProvider
	phBatch
	phWorker
	numPH
)

// phInfo describes a placeholder: its name in templates and in structured
// output, whether its value is a JSON number, and whether its value may
// hold spaces (logfmt must then quote it).
type phInfo struct {
	name   string
	num    bool
	spaces bool
}

var phInfos = [numPH]phInfo{
	phUserID:     {"user_id", true, false},
	phAccountID:  {"account_id", true, false},
	phOrderID:    {"order_id", true, false},
	phTxID:       {"tx_id", false, false},
	phAmount:     {"amount", true, false},
	phCurrency:   {"currency", false, false},
	phQty:        {"qty", true, false},
	phPrice:      {"price", true, false},
	phSymbol:     {"symbol", false, false},
	phSide:       {"side", false, false},
	phLatencyMs:  {"latency_ms", true, false},
	phDuration:   {"duration", false, false},
	phTimeoutMs:  {"timeout_ms", true, false},
	phRetry:      {"retry", true, false},
	phCount:      {"count", true, false},
	phStatus:     {"status", true, false},
	phMethod:     {"method", false, false},
	phPath:       {"path", false, false},
	phIP:         {"remote_addr", false, false},
	phPort:       {"port", true, false},
	phBytes:      {"bytes", true, false},
	phUUID:       {"request_id", false, false},
	phHex:        {"id", false, false},
	phErr:        {"error", false, true},
	phErrCode:    {"error_code", false, false},
	phTopic:      {"topic", false, false},
	phGroup:      {"group", false, false},
	phPartition:  {"partition", true, false},
	phOffset:     {"offset", true, false},
	phLag:        {"lag", true, false},
	phTable:      {"table", false, false},
	phRows:       {"rows", true, false},
	phHost:       {"host", false, false},
	phQueue:      {"queue", false, false},
	phJob:        {"job", false, false},
	phRegion:     {"region", false, false},
	phKey:        {"key", false, false},
	phPoolActive: {"active", true, false},
	phPoolMax:    {"max", true, false},
	phCPU:        {"cpu_pct", true, false},
	phMemMB:      {"mem_mb", true, false},
	phPID:        {"pid", true, false},
	phVersion:    {"version", false, false},
	phCard:       {"card", false, false},
	phSession:    {"session_id", false, false},
	phNode:       {"node", false, false},
	phMerchant:   {"merchant_id", false, false},
	phCountry:    {"country", false, false},
	phEndpoint:   {"endpoint", false, false},
	phHitRatio:   {"hit_ratio", true, false},
	phUser:       {"user", false, false},
	phProvider:   {"provider", false, false},
	phBatch:      {"batch_size", true, false},
	phWorker:     {"worker", false, false},
}

// seg is one piece of a compiled message: literal text, then a placeholder.
type seg struct {
	lit string
	ph  ph
}

// tmpl is a compiled message template.
type tmpl struct {
	msg    []seg
	fields []ph
	traced bool // part of a request: carries trace_id and span_id
	site   int  // a stable small number standing for the code location
}

// compile parses "[!]message with {placeholders} | field field". A leading
// "!" marks a message outside any request (startup, timers). It panics on a
// bad template: the templates are constants of this package.
func compile(s string, site int) tmpl {
	t := tmpl{traced: true, site: site}
	if strings.HasPrefix(s, "!") {
		t.traced, s = false, s[1:]
	}
	msg, fields, _ := strings.Cut(s, " | ")
	for msg != "" {
		i := strings.IndexByte(msg, '{')
		if i < 0 {
			t.msg = append(t.msg, seg{lit: msg})
			break
		}
		j := strings.IndexByte(msg[i:], '}')
		if j < 0 {
			panic("BUG: loggen: unclosed placeholder in " + strconv.Quote(s))
		}
		t.msg = append(t.msg, seg{lit: msg[:i], ph: lookupPH(msg[i+1:i+j], s)})
		msg = msg[i+j+1:]
	}
	for f := range strings.FieldsSeq(fields) {
		t.fields = append(t.fields, lookupPH(f, s))
	}
	return t
}

func lookupPH(name, tmplText string) ph {
	for p := ph(1); p < numPH; p++ {
		if phInfos[p].name == name {
			return p
		}
	}
	panic("BUG: loggen: unknown placeholder " + strconv.Quote(name) + " in " + strconv.Quote(tmplText))
}

func compileAll(src []string, siteBase int) []tmpl {
	out := make([]tmpl, len(src))
	for i, s := range src {
		out[i] = compile(s, siteBase+i)
	}
	return out
}
