package log

import (
	"testing"

	"github.com/kubemate/kmlog/format/labels"
)

// runStages runs stages over one line of stream (text form) and returns
// the output line, the output labels in text form and whether the line
// was kept.
func runLine(t *testing.T, stream, line string, stages ...Stage) (string, string, bool) {
	t.Helper()
	lbs, err := labels.Parse(stream)
	if err != nil {
		t.Fatalf("parse %s: %v", stream, err)
	}
	out, res, ok := NewPipeline(stages...).Process(0, []byte(line), lbs, nil)
	if !ok {
		return "", "", false
	}
	return string(out), res.String(), true
}

func must[T any](v T, err error) T {
	if err != nil {
		panic("BUG: " + err.Error())
	}
	return v
}

func filterStage(mt LineMatchType, values ...string) Stage {
	return NewLineFilterStage(must(NewLineFilter(mt, values...)))
}
