package log

import (
	"runtime"
	"syscall"
	"testing"

	"github.com/kubemate/kmlog/format/labels"
	"github.com/kubemate/kmlog/format/loggen"
)

// benchEntries returns about 2 MB of generated lines of one mix.
func benchEntries(b *testing.B, mix loggen.Mix) []loggen.Entry {
	b.Helper()
	cfg := loggen.DefaultConfig()
	cfg.Mix = mix
	return loggen.New(cfg).TakeBytes(2 << 20)
}

var (
	mixAll    = loggen.Mix{JSON: 40, Logfmt: 25, Nginx: 20, JavaStack: 5, Plain: 10}
	mixJSON   = loggen.Mix{JSON: 100}
	mixLogfmt = loggen.Mix{Logfmt: 100}
	mixNginx  = loggen.Mix{Nginx: 100}
)

// benchPipeline runs one line per b.Loop iteration through the stream
// pipeline of its entry, so allocs/op are per line and MB/s is over the
// line bytes.
func benchPipeline(b *testing.B, mix loggen.Mix, stages ...Stage) {
	entries := benchEntries(b, mix)
	p := NewPipeline(stages...)
	sps := make([]*StreamPipeline, len(entries))
	lines := make([][]byte, len(entries))
	var total int64
	for i, e := range entries {
		sps[i] = p.ForStream(e.Labels)
		lines[i] = []byte(e.Line)
		total += int64(len(e.Line))
	}
	avg := total / int64(len(entries))
	b.SetBytes(avg)
	b.ReportAllocs()
	// The machine is shared: besides wall-clock MB/s, report throughput
	// over this thread's own CPU time.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	cpu0 := threadCPU()
	kept, i := 0, 0
	for b.Loop() {
		if _, _, ok := sps[i].Process(entries[i].Timestamp, lines[i], entries[i].Metadata); ok {
			kept++
		}
		if i++; i == len(entries) {
			i = 0
		}
	}
	if cpu := threadCPU() - cpu0; cpu > 0 {
		b.ReportMetric(float64(avg)*float64(b.N)/float64(cpu)*1e3, "cpuMB/s")
	}
	b.ReportMetric(float64(kept)/float64(b.N), "kept/line")
}

// threadCPU returns the CPU time of the calling OS thread in nanoseconds.
func threadCPU() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(1 /* RUSAGE_THREAD */, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

func BenchmarkContains(b *testing.B) {
	benchPipeline(b, mixAll, filterStage(LineMatchEqual, "connection reset"))
}

func BenchmarkNotContainsOr(b *testing.B) {
	benchPipeline(b, mixAll, filterStage(LineMatchNotEqual, "DEBUG", "debug", "kube-probe"))
}

func BenchmarkRegexpChain(b *testing.B) {
	benchPipeline(b, mixAll, filterStage(LineMatchRegexp, "err.*timeout"))
}

func BenchmarkRegexpFold(b *testing.B) {
	benchPipeline(b, mixAll, filterStage(LineMatchRegexp, "(?i)timeout"))
}

func BenchmarkRegexpGeneral(b *testing.B) {
	benchPipeline(b, mixAll, filterStage(LineMatchRegexp, `status[=:]\s*5\d\d`))
}

func BenchmarkIPFilter(b *testing.B) {
	benchPipeline(b, mixNginx, NewLineFilterStage(must(NewIPFilter("10.0.0.0/8", LineMatchEqual))))
}

func BenchmarkJSONLevelError(b *testing.B) {
	benchPipeline(b, mixJSON, NewJSONParser(),
		NewStringLabelFilter(labels.MustNewMatcher(labels.MatchEqual, "level", "error")))
}

func BenchmarkJSON(b *testing.B) {
	benchPipeline(b, mixJSON, NewJSONParser())
}

func BenchmarkJSONExpression(b *testing.B) {
	benchPipeline(b, mixJSON, must(NewJSONExpressionParser([]LabelExtraction{{"level", "level"}, {"msg", "message"}})))
}

func BenchmarkLogfmt(b *testing.B) {
	benchPipeline(b, mixLogfmt, NewLogfmtParser(false, false))
}

func BenchmarkLogfmtDurationFilter(b *testing.B) {
	benchPipeline(b, mixLogfmt, NewLogfmtParser(false, false),
		NewDurationLabelFilter(LabelFilterGreaterThan, "duration", 100e6))
}

func BenchmarkPattern(b *testing.B) {
	benchPipeline(b, mixNginx, must(NewPatternParser(`<ip> - <_> [<_>] "<method> <uri> <_>" <status> <size> <_>`)))
}

func BenchmarkRegexpParser(b *testing.B) {
	benchPipeline(b, mixNginx, must(NewRegexpParser(`^(?P<ip>\S+) \S+ \S+ \[[^\]]+\] "(?P<method>\S+) (?P<uri>\S+)`)))
}

func BenchmarkLineFormat(b *testing.B) {
	benchPipeline(b, mixLogfmt, NewLogfmtParser(false, false), must(NewLineFormatter(`{{.level}} {{.msg | ToUpper}}`)))
}
