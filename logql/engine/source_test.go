package engine

import (
	"context"
	"testing"
	"time"

	"github.com/kubemate/kmlog/format/labels"
)

// TestWithLabel: a multi-tenant query sees __tenant_id__ on every stream,
// can select and group by it, and a matcher on it that fails reads nothing.
func TestWithLabel(t *testing.T) {
	a := labels.FromStrings("app", "api")
	src := WithLabel(NewMemSource([]Entry{
		{Labels: a, Timestamp: 1, Line: []byte("x")},
		{Labels: a, Timestamp: 2, Line: []byte("y")},
	}), "__tenant_id__", "t1")
	eng := New(Opts{})
	run := func(q string) Value {
		t.Helper()
		res, err := eng.Query(context.Background(), src, Params{Query: q, Start: time.Unix(0, 0), End: time.Unix(0, 10), Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		return res.Value
	}
	ss := run(`{app="api"}`).(Streams)
	if len(ss) != 1 || ss[0].Labels.String() != `{__tenant_id__="t1", app="api"}` || len(ss[0].Entries) != 2 {
		t.Fatalf("streams %v", ss)
	}
	if ss := run(`{app="api", __tenant_id__="t1"}`).(Streams); len(ss) != 1 {
		t.Errorf("matching tenant: %v", ss)
	}
	if ss := run(`{app="api", __tenant_id__="t2"}`).(Streams); len(ss) != 0 {
		t.Errorf("other tenant: %v", ss)
	}
}
