package compat

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
)

// OTLP cases: each testdata/otlp/*.json request is sent as OTLP/JSON to
// tenant otlp-json and, encoded as protobuf by otlpProto, to tenant
// otlp-proto; then otlpQueries read back what was stored.
const (
	otlpJSONTenant  = "otlp-json"
	otlpProtoTenant = "otlp-proto"
)

// otlpQueries are asked of both tenants (paths; {+D} as in cases.txt).
var otlpQueries = []string{
	`/loki/api/v1/query_range?direction=forward&limit=1000&start={0s}&end={2h}&query={service_name=~".%2B"}`,
	`cat /loki/api/v1/query_range?direction=forward&limit=1000&start={0s}&end={2h}&query={service_name=~".%2B"}`,
	`/loki/api/v1/query_range?direction=forward&limit=1000&start={0s}&end={2h}&query={service_name="checkout"}%20%7C%20severity_text%3D%22ERROR%22`,
	`cat /loki/api/v1/query_range?direction=forward&limit=1000&start={0s}&end={2h}&query={deployment_environment="staging"}`,
	`/loki/api/v1/series?start={0s}&end={2h}&match[]={service_name=~".%2B"}`,
	`/loki/api/v1/labels?start={0s}&end={2h}`,
}

func otlpRequests(t testing.TB) map[string][]byte {
	t.Helper()
	files, err := filepath.Glob("testdata/otlp/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no OTLP requests: %v", err)
	}
	out := map[string][]byte{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out[filepath.Base(f)] = b
	}
	return out
}

// pushOTLP sends every request to base, as JSON and as protobuf.
func pushOTLP(t testing.TB, base string) {
	t.Helper()
	reqs := otlpRequests(t)
	names := sortedKeys(reqs)
	for _, n := range names {
		postOTLP(t, base, otlpJSONTenant, "application/json", reqs[n])
		postOTLP(t, base, otlpProtoTenant, "application/x-protobuf", otlpProto(t, reqs[n]))
	}
}

func postOTLP(t testing.TB, base, org, ctype string, body []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, base+"/otlp/v1/logs", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", ctype)
	req.Header.Set("X-Scope-OrgID", org)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var msg bytes.Buffer
	msg.ReadFrom(resp.Body)
	if resp.StatusCode/100 != 2 {
		t.Fatalf("OTLP push (%s): %s: %s", ctype, resp.Status, msg.String())
	}
}

// otlpCases are the queries for both tenants as qcases.
func otlpCases(t testing.TB) []qcase {
	t.Helper()
	var out []qcase
	for _, org := range []string{otlpJSONTenant, otlpProtoTenant} {
		for _, q := range otlpQueries {
			cat := false
			if len(q) > 4 && q[:4] == "cat " {
				cat, q = true, q[4:]
			}
			c, err := parseCase("get org=" + org + " :: " + q)
			if err != nil {
				t.Fatal(err)
			}
			c.Cat = cat
			if cat {
				c.Text = "cat " + c.Text
			}
			out = append(out, c)
		}
	}
	return out
}

// otlpProto encodes an OTLP/JSON ExportLogsServiceRequest as protobuf
// (opentelemetry-proto field numbers), for sending the same request both
// ways.
func otlpProto(t testing.TB, js []byte) []byte {
	t.Helper()
	var v map[string]any
	d := json.NewDecoder(bytes.NewReader(js))
	d.UseNumber()
	if err := d.Decode(&v); err != nil {
		t.Fatal(err)
	}
	e := protoEnc{t: t}
	var b []byte
	for _, rl := range list(v["resourceLogs"]) {
		b = e.msg(b, 1, e.resourceLogs(obj(rl)))
	}
	return b
}

type protoEnc struct{ t testing.TB }

func obj(v any) map[string]any { m, _ := v.(map[string]any); return m }
func list(v any) []any         { l, _ := v.([]any); return l }

func (e protoEnc) msg(b []byte, num protowire.Number, m []byte) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendBytes(b, m)
}

func (e protoEnc) str(b []byte, num protowire.Number, s any) []byte {
	if s, _ := s.(string); s != "" {
		b = protowire.AppendTag(b, num, protowire.BytesType)
		b = protowire.AppendString(b, s)
	}
	return b
}

func (e protoEnc) uint(v any) uint64 {
	var s string
	switch x := v.(type) {
	case nil:
		return 0
	case json.Number:
		s = x.String()
	case string:
		s = x
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		e.t.Fatalf("number %v: %v", v, err)
	}
	return n
}

func (e protoEnc) resourceLogs(m map[string]any) []byte {
	var b, res []byte
	for _, kv := range list(obj(m["resource"])["attributes"]) {
		res = e.msg(res, 1, e.kv(obj(kv)))
	}
	b = e.msg(b, 1, res)
	for _, sl := range list(m["scopeLogs"]) {
		b = e.msg(b, 2, e.scopeLogs(obj(sl)))
	}
	return b
}

func (e protoEnc) scopeLogs(m map[string]any) []byte {
	var b, sc []byte
	s := obj(m["scope"])
	sc = e.str(sc, 1, s["name"])
	sc = e.str(sc, 2, s["version"])
	for _, kv := range list(s["attributes"]) {
		sc = e.msg(sc, 3, e.kv(obj(kv)))
	}
	b = e.msg(b, 1, sc)
	for _, r := range list(m["logRecords"]) {
		b = e.msg(b, 2, e.record(obj(r)))
	}
	return b
}

var severityNames = map[string]uint64{"SEVERITY_NUMBER_INFO": 9, "SEVERITY_NUMBER_WARN": 13, "SEVERITY_NUMBER_ERROR": 17, "SEVERITY_NUMBER_DEBUG": 5}

func (e protoEnc) record(m map[string]any) []byte {
	var b []byte
	if n := e.uint(m["timeUnixNano"]); n != 0 {
		b = protowire.AppendTag(b, 1, protowire.Fixed64Type)
		b = protowire.AppendFixed64(b, n)
	}
	if s, ok := m["severityNumber"].(string); ok {
		b = protowire.AppendTag(b, 2, protowire.VarintType)
		b = protowire.AppendVarint(b, severityNames[s])
	} else if n := e.uint(m["severityNumber"]); n != 0 {
		b = protowire.AppendTag(b, 2, protowire.VarintType)
		b = protowire.AppendVarint(b, n)
	}
	b = e.str(b, 3, m["severityText"])
	if body := obj(m["body"]); body != nil {
		b = e.msg(b, 5, e.any(body))
	}
	for _, kv := range list(m["attributes"]) {
		b = e.msg(b, 6, e.kv(obj(kv)))
	}
	if n := e.uint(m["droppedAttributesCount"]); n != 0 {
		b = protowire.AppendTag(b, 7, protowire.VarintType)
		b = protowire.AppendVarint(b, n)
	}
	if n := e.uint(m["flags"]); n != 0 {
		b = protowire.AppendTag(b, 8, protowire.Fixed32Type)
		b = protowire.AppendFixed32(b, uint32(n))
	}
	for num, key := range map[protowire.Number]string{9: "traceId", 10: "spanId"} {
		if s, _ := m[key].(string); s != "" {
			raw, err := hex.DecodeString(s)
			if err != nil {
				e.t.Fatal(err)
			}
			b = protowire.AppendTag(b, num, protowire.BytesType)
			b = protowire.AppendBytes(b, raw)
		}
	}
	if n := e.uint(m["observedTimeUnixNano"]); n != 0 {
		b = protowire.AppendTag(b, 11, protowire.Fixed64Type)
		b = protowire.AppendFixed64(b, n)
	}
	b = e.str(b, 12, m["eventName"])
	return b
}

func (e protoEnc) kv(m map[string]any) []byte {
	var b []byte
	b = e.str(b, 1, m["key"])
	return e.msg(b, 2, e.any(obj(m["value"])))
}

func (e protoEnc) any(m map[string]any) []byte {
	var b []byte
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := m[k]
		switch k {
		case "stringValue":
			s, _ := v.(string)
			b = protowire.AppendTag(b, 1, protowire.BytesType)
			b = protowire.AppendString(b, s)
		case "boolValue":
			x := uint64(0)
			if v == true {
				x = 1
			}
			b = protowire.AppendTag(b, 2, protowire.VarintType)
			b = protowire.AppendVarint(b, x)
		case "intValue":
			var s string
			switch x := v.(type) {
			case json.Number:
				s = x.String()
			case string:
				s = x
			}
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				e.t.Fatal(err)
			}
			b = protowire.AppendTag(b, 3, protowire.VarintType)
			b = protowire.AppendVarint(b, uint64(n))
		case "doubleValue":
			f, err := strconv.ParseFloat(v.(json.Number).String(), 64)
			if err != nil {
				e.t.Fatal(err)
			}
			b = protowire.AppendTag(b, 4, protowire.Fixed64Type)
			b = protowire.AppendFixed64(b, math.Float64bits(f))
		case "arrayValue":
			var arr []byte
			for _, x := range list(obj(v)["values"]) {
				arr = e.msg(arr, 1, e.any(obj(x)))
			}
			b = e.msg(b, 5, arr)
		case "kvlistValue":
			var kvl []byte
			for _, x := range list(obj(v)["values"]) {
				kvl = e.msg(kvl, 1, e.kv(obj(x)))
			}
			b = e.msg(b, 6, kvl)
		case "bytesValue":
			raw, err := base64.StdEncoding.DecodeString(v.(string))
			if err != nil {
				e.t.Fatal(err)
			}
			b = protowire.AppendTag(b, 7, protowire.BytesType)
			b = protowire.AppendBytes(b, raw)
		}
	}
	return b
}
