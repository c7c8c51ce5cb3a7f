package lokijson

import (
	"bytes"
	"flag"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/kubemate/kmlog/format/labels"
	"github.com/kubemate/kmlog/logql/engine"
)

var update = flag.Bool("update", false, "rewrite golden files")

func sampleResults() map[string]struct {
	res engine.Result
	opt Options
} {
	lbl := labels.FromStrings("app", "api", "status", "500", "trace_id", "abc")
	streams := engine.Streams{
		{Labels: labels.FromStrings("app", "api"), Entries: []engine.StreamEntry{
			{Timestamp: 1700000000123456789, Line: "plain \"quoted\" line\twith tab"},
		}},
		{Labels: lbl, Entries: []engine.StreamEntry{
			{Timestamp: 1700000001000000000, Line: `{"status":500}`, StructuredMetadata: labels.FromStrings("trace_id", "abc"), Parsed: labels.FromStrings("status", "500")},
			{Timestamp: 1700000000000000000, Line: "ünïcode <html> & \x01", StructuredMetadata: labels.FromStrings("trace_id", "abc"), Parsed: labels.FromStrings("status", "500")},
		}},
	}
	return map[string]struct {
		res engine.Result
		opt Options
	}{
		"streams":             {engine.Result{Value: streams, Stats: engine.Stats{EntriesScanned: 10, BytesScanned: 400, EntriesReturned: 3, PostFilterLines: 3}}, Options{}},
		"streams_categorized": {engine.Result{Value: streams}, Options{CategorizeLabels: true, Direction: engine.Backward}},
		"matrix": {engine.Result{Value: engine.Matrix{
			{Labels: labels.FromStrings("level", "error"), Points: []engine.Point{{T: 1700000000000, V: 1}, {T: 1700000000120, V: 0.1}, {T: 1700000060123, V: 2.5e-7}}},
			{Labels: labels.FromStrings("level", "info"), Points: []engine.Point{{T: 1700000000000, V: math.Inf(1)}, {T: 1700000060000, V: math.Inf(-1)}, {T: 1700000120000, V: 123456789012}}},
		}}, Options{}},
		"vector": {engine.Result{Value: engine.Vector{
			{Labels: labels.Labels{}, T: 1700000000001, V: 3},
			{Labels: labels.FromStrings("a", "b"), T: 1700000000001, V: -1.5},
		}}, Options{}},
		"scalar": {engine.Result{Value: engine.Scalar{T: 1700000000500, V: 2}}, Options{}},
		"empty":  {engine.Result{Value: engine.Streams{}}, Options{}},
	}
}

func TestGolden(t *testing.T) {
	for name, tc := range sampleResults() {
		t.Run(name, func(t *testing.T) {
			got := AppendResponse(nil, tc.res, tc.opt)
			path := filepath.Join("testdata", name+".golden.json")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("encoding differs from %s:\n got %s\nwant %s", path, got, want)
			}
			// Round trip: decode and encode again gives the same bytes.
			resp, err := Decode(got)
			if err != nil {
				t.Fatal(err)
			}
			if resp.CategorizeLabels != tc.opt.CategorizeLabels {
				t.Fatalf("categorize flag lost")
			}
			again := AppendResponse(nil, engine.Result{Value: resp.Value, Stats: tc.res.Stats}, Options{CategorizeLabels: resp.CategorizeLabels, Direction: tc.opt.Direction})
			if !bytes.Equal(again, got) {
				t.Fatalf("round trip differs:\n got %s\nwant %s", again, got)
			}
			if !tc.opt.CategorizeLabels {
				if diff := cmp.Diff(tc.res.Value, resp.Value, cmpopts.EquateEmpty(), cmpopts.EquateNaNs(), cmpopts.IgnoreFields(engine.StreamEntry{}, "StructuredMetadata", "Parsed")); diff != "" {
					t.Fatalf("decoded value differs (-want +got):\n%s", diff)
				}
			}
		})
	}
}

func TestCategorizeRegroups(t *testing.T) {
	ss := sampleResults()["streams_categorized"].res.Value.(engine.Streams)
	got := Categorize(ss, engine.Backward)
	if len(got) != 1 || len(got[0].Entries) != 3 {
		t.Fatalf("want one stream {app=\"api\"} with 3 entries, got %+v", got)
	}
	if got[0].Entries[0].Timestamp != 1700000001000000000 {
		t.Fatalf("entries not in backward order: %+v", got[0].Entries)
	}
}

func TestAppendTime(t *testing.T) {
	for ms, want := range map[int64]string{0: "0", 1: "0.001", 1500: "1.5", 1700000000123: "1700000000.123", 1700000000120: "1700000000.12", -1500: "-1.5"} {
		if got := string(AppendTime(nil, ms)); got != want {
			t.Errorf("AppendTime(%d) = %s, want %s", ms, got, want)
		}
		back, err := parseSeconds(want)
		if err != nil || back != ms {
			t.Errorf("parseSeconds(%s) = %d, %v", want, back, err)
		}
	}
}

func TestOptionsFromHeader(t *testing.T) {
	if !OptionsFromHeader("foo, categorize-labels").CategorizeLabels || OptionsFromHeader("foo").CategorizeLabels {
		t.Fatal("flag parsing")
	}
}

func FuzzDecode(f *testing.F) {
	for _, tc := range sampleResults() {
		f.Add(AppendResponse(nil, tc.res, tc.opt))
	}
	f.Add([]byte(`{"status":"success","data":{"resultType":"scalar","result":[1e400,"1"]}}`))
	f.Add([]byte(`{"status":"success","data":{"resultType":"streams","result":[{"stream":{},"values":[["x","y",{}]]}]}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		resp, err := Decode(data)
		if err != nil {
			return
		}
		enc := AppendResponse(nil, engine.Result{Value: resp.Value}, Options{CategorizeLabels: resp.CategorizeLabels})
		resp2, err := Decode(enc)
		if err != nil {
			t.Fatalf("re-decode: %v\n%s", err, enc)
		}
		enc2 := AppendResponse(nil, engine.Result{Value: resp2.Value}, Options{CategorizeLabels: resp2.CategorizeLabels})
		if !bytes.Equal(enc, enc2) {
			t.Fatalf("not stable:\n%s\n%s", enc, enc2)
		}
	})
}
