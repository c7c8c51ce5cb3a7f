package loggen

import (
	"strconv"
	"strings"

	"github.com/kubemate/kmlog/format/labels"
)

var klogFiles = []string{"proxier.go", "controller.go", "scale_up.go", "reflector.go", "endpoints.go", "scraper.go", "static_autoscaler.go"}

var goFiles = []string{"http/handler.go", "http/middleware.go", "store/postgres.go", "store/redis.go", "client/upstream.go", "worker/consumer.go", "auth/jwt.go", "server/server.go", "cache/cache.go", "service/service.go"}

// jsonLine writes a JVM service's JSON log line.
func (g *Generator) jsonLine(b []byte, s *source, lvl level, idNum, long bool) ([]byte, labels.Labels) {
	r := g.r
	ts := g.javaTmpl[lvl]
	t := &ts[r.skewed(len(ts))] // the first templates are the most common
	b = append(b, `{"ts":"`...)
	b = g.clk.rfc3339(b, 3)
	b = append(b, `","level":"`...)
	b = append(b, levelNames[lvl]...)
	b = append(b, `","logger":"com.kubemate.`...)
	b = append(b, s.app.pkg...)
	b = append(b, '.')
	b = append(b, javaLayers[t.site*7%len(javaLayers)]...)
	b = append(b, '.')
	b = append(b, javaClasses[t.site%len(javaClasses)]...)
	b = append(b, `","thread":"`...)
	if t.traced {
		b = append(b, "http-nio-8080-exec-"...)
		b = strconv.AppendInt(b, int64(1+r.intn(200)), 10)
	} else {
		b = append(b, threads[t.site%len(threads)]...)
	}
	b = append(b, `","msg":"`...)
	var rd rendered
	b = appendMsgRec(b, r, t, lvl, &rd)
	b = append(b, '"')
	var meta labels.Labels
	if t.traced {
		var id string
		id, meta = g.request(s)
		b = append(b, `,"trace_id":"`...)
		b = append(b, id...)
		b = append(b, `","span_id":"`...)
		b = appendHex(b, r.u64(), 16)
		b = append(b, '"')
	}
	for _, f := range t.fields {
		info := &phInfos[f]
		b = append(b, `,"`...)
		b = append(b, info.name...)
		b = append(b, `":`...)
		if info.num {
			b = appendField(b, r, f, lvl, &rd)
			continue
		}
		b = append(b, '"')
		b = appendField(b, r, f, lvl, &rd)
		b = append(b, '"')
	}
	if idNum {
		b = append(b, `,"id_number":"`...)
		b = appendIDNumber(b, r)
		b = append(b, '"')
	}
	if long {
		b = append(b, `,"items":[`...)
		n := r.between(40, 250)
		for i := range n {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"sku":"SKU-`...)
			b = strconv.AppendInt(b, int64(10000+r.intn(90000)), 10)
			b = append(b, `","qty":`...)
			b = strconv.AppendInt(b, int64(1+r.skewed(10)), 10)
			b = append(b, `,"price":`...)
			b = appendDec(b, r.between(100, 99999), 2)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	return append(b, '}'), meta
}

// logfmtLine writes a Go service's logfmt line.
func (g *Generator) logfmtLine(b []byte, s *source, lvl level, idNum, long bool) []byte {
	r := g.r
	ts := g.goTmpl[lvl]
	t := &ts[r.skewed(len(ts))] // the first templates are the most common
	b = append(b, "ts="...)
	b = g.clk.rfc3339(b, 6)
	b = append(b, " level="...)
	b = append(b, levelNames[lvl]...)
	b = append(b, " caller="...)
	b = append(b, goFiles[t.site%len(goFiles)]...)
	b = append(b, ':')
	b = strconv.AppendInt(b, int64(20+t.site*37%480), 10)
	b = append(b, ` msg="`...)
	var rd rendered
	b = appendMsgRec(b, r, t, lvl, &rd)
	b = append(b, '"')
	if t.traced {
		id, _ := g.request(s)
		b = append(b, " trace_id="...)
		b = append(b, id...)
	}
	for _, f := range t.fields {
		info := &phInfos[f]
		b = append(b, ' ')
		b = append(b, info.name...)
		b = append(b, '=')
		if info.spaces {
			b = append(b, '"')
			b = appendField(b, r, f, lvl, &rd)
			b = append(b, '"')
			continue
		}
		b = appendField(b, r, f, lvl, &rd)
	}
	if idNum {
		b = append(b, " id_number="...)
		b = appendIDNumber(b, r)
	}
	if long {
		b = append(b, ` query="SELECT id, status, amount FROM orders WHERE id IN (`...)
		n := r.between(200, 1200)
		for i := range n {
			if i > 0 {
				b = append(b, ", "...)
			}
			b = strconv.AppendInt(b, int64(1_000_000_000+r.intn(999_999_999)), 10)
		}
		b = append(b, `)"`...)
	}
	return b
}

// nginxLine writes an ingress-nginx access line (its default log format:
// combined plus request length, request time, upstream and request ID).
func (g *Generator) nginxLine(b []byte, s *source, lvl level, idNum, long bool) []byte {
	r := g.r
	ip := g.clientIPs[r.skewed(len(g.clientIPs))]
	b = appendIP(b, int(ip>>24), int(ip>>16&0xff), int(ip>>8&0xff), int(ip&0xff))
	b = append(b, " - - ["...)
	b = g.clk.nginx(b)
	b = append(b, `] "`...)
	path := nginxPaths[r.skewed(len(nginxPaths))]
	method := "GET"
	if strings.HasPrefix(path, "/api/") {
		method = pickStr(r, methods)
	}
	b = append(b, method...)
	b = append(b, ' ')
	b = appendHashed(b, r, path)
	sep := byte('?')
	if strings.IndexByte(path, '?') >= 0 {
		sep = '&'
	}
	if idNum {
		b = append(b, sep)
		b = append(b, "id_number="...)
		b = appendIDNumber(b, r)
		sep = '&'
	}
	if long {
		b = append(b, sep)
		b = append(b, "ids="...)
		for i := range r.between(300, 1000) {
			if i > 0 {
				b = append(b, "%2C"...)
			}
			b = strconv.AppendInt(b, int64(100000+r.intn(900000)), 10)
		}
	}
	b = append(b, ` HTTP/`...)
	if r.chance(300) {
		b = append(b, "2.0"...)
	} else {
		b = append(b, "1.1"...)
	}
	status := statusFor(r, lvl)
	b = append(b, `" `...)
	b = strconv.AppendInt(b, int64(status), 10)
	size := 0
	if status != 204 && status != 304 {
		size = 20 + r.skewed(80000)
	}
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(size), 10)
	b = append(b, ` "`...)
	b = append(b, pickStr(r, referers)...)
	b = append(b, `" "`...)
	b = append(b, userAgents[r.skewed(len(userAgents))]...)
	b = append(b, `" `...)
	b = strconv.AppendInt(b, int64(200+r.intn(1800)), 10)
	lat := latencyTenths(r, lvl)
	b = append(b, ' ')
	b = appendDec(b, lat/10, 3)
	b = append(b, " ["...)
	b = append(b, s.ns...)
	b = append(b, '-')
	b = append(b, upstreamServices[r.intn(len(upstreamServices))]...)
	b = append(b, "] [] "...)
	b = appendIP(b, 10, 42, r.intn(64), 2+r.intn(250))
	b = append(b, ":8080 "...)
	b = strconv.AppendInt(b, int64(size), 10)
	b = append(b, ' ')
	b = appendDec(b, max(lat/10-1, 0), 3)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, ' ')
	return appendHex(appendHex(b, r.u64(), 16), r.u64(), 16)
}

// plainLine writes a line in the app's text style.
func (g *Generator) plainLine(b []byte, s *source, lvl level, idNum, long bool) []byte {
	r := g.r
	style := s.app.style
	ts := g.plainTmpl[style][lvl]
	t := &ts[r.skewed(len(ts))] // the first templates are the most common
	switch style {
	case styleKlog:
		b = append(b, "IIWE"[lvl]) // klog has no debug severity; verbose lines are I
		b = g.clk.klog(b)
		b = append(b, "       1 "...)
		b = append(b, klogFiles[t.site%len(klogFiles)]...)
		b = append(b, ':')
		b = strconv.AppendInt(b, int64(20+t.site*37%480), 10)
		b = append(b, "] "...)
	case stylePostgres:
		b = g.clk.spaced(b, '.')
		b = append(b, " UTC ["...)
		b = strconv.AppendInt(b, int64(100+r.skewed(30000)), 10)
		b = append(b, "] "...)
	case styleRedis:
		b = append(b, "1:M "...)
		b = g.clk.redis(b)
		b = append(b, ' ')
	case styleText:
		b = g.clk.spaced(b, ',')
		b = append(b, ' ')
	}
	b = appendMsg(b, r, t, lvl)
	if idNum {
		b = append(b, " id_number="...)
		b = appendIDNumber(b, r)
	}
	if long {
		b = append(b, " ids=["...)
		for i := range r.between(400, 1500) {
			if i > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendInt(b, int64(100000+r.intn(900000)), 10)
		}
		b = append(b, ']')
	}
	return b
}
