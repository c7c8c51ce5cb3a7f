package knative

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestInstancedBuildsOnStart(t *testing.T) {
	ctx := context.Background()
	var built map[string]string
	inner := newFn()
	f := Instanced(func(_ context.Context, cfg map[string]string) (http.Handler, error) {
		if cfg["KMLOG_TARGET"] == "" {
			return nil, errors.New("KMLOG_TARGET not set")
		}
		built = cfg
		return inner, nil
	})

	rec := httptest.NewRecorder()
	f.Handle(rec, httptest.NewRequest("GET", "/x", nil))
	if rec.Code != http.StatusServiceUnavailable {
		t.Errorf("Handle before Start = %d, want 503", rec.Code)
	}
	if ok, _ := f.Ready(ctx); ok {
		t.Error("Ready before Start")
	}
	if err := f.Start(ctx, map[string]string{}); err == nil {
		t.Error("Start with a bad config succeeded")
	}
	if err := f.Start(ctx, map[string]string{"KMLOG_TARGET": "querier"}); err != nil {
		t.Fatal(err)
	}
	if built["KMLOG_TARGET"] != "querier" {
		t.Errorf("built with %v", built)
	}
	rec = httptest.NewRecorder()
	f.Handle(rec, httptest.NewRequest("GET", "/x?y=1", nil))
	if rec.Code != 200 || rec.Body.String() != "GET /x?y=1" {
		t.Errorf("Handle = %d %q", rec.Code, rec.Body.String())
	}
	// Ready, Alive and Stop forward to the built handler.
	inner.ready.Store(false)
	inner.alive.Store(false)
	if ok, _ := f.Ready(ctx); ok {
		t.Error("Ready did not forward")
	}
	if ok, _ := f.Alive(ctx); ok {
		t.Error("Alive did not forward")
	}
	if err := f.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if ev := inner.Events(); len(ev) != 1 || ev[0] != "stop" {
		t.Errorf("inner events %v, want [stop]", ev)
	}
}

func TestFromHandler(t *testing.T) {
	ctx := context.Background()
	plain := FromHandler(http.NotFoundHandler())
	if ok, err := plain.Ready(ctx); !ok || err != nil {
		t.Errorf("plain Ready = %v %v", ok, err)
	}
	if ok, err := plain.Alive(ctx); !ok || err != nil {
		t.Errorf("plain Alive = %v %v", ok, err)
	}
	if err := plain.Stop(ctx); err != nil {
		t.Error(err)
	}
	rec := httptest.NewRecorder()
	plain.Handle(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != 404 {
		t.Errorf("Handle = %d", rec.Code)
	}
	inner := newFn()
	wrapped := FromHandler(inner)
	if err := wrapped.Stop(ctx); err != nil || len(inner.Events()) != 1 {
		t.Errorf("Stop did not forward: %v %v", err, inner.Events())
	}
}
