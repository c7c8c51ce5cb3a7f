package knative

import (
	"context"
	"net/http"
	"sync/atomic"
)

// Instance is a function instance: the one method every function has.
// Handle is called concurrently, once per request, and only after Start
// (when the instance has it) has returned nil.
type Instance interface {
	Handle(w http.ResponseWriter, r *http.Request)
}

// Starter is implemented by instances that need their configuration before
// serving. cfg holds the process environment (name → value). A Start error
// ends Serve with that error before any request reaches Handle.
type Starter interface {
	Start(ctx context.Context, cfg map[string]string) error
}

// Stopper is implemented by instances that release resources at shutdown.
// Stop runs once, after the last in-flight request has finished or the
// drain timeout has passed, with a context bounded by Config.StopTimeout.
type Stopper interface {
	Stop(ctx context.Context) error
}

// ReadyChecker is implemented by instances that can be temporarily unable
// to serve. Ready is called for every readiness probe; false or an error
// answers 503.
type ReadyChecker interface {
	Ready(ctx context.Context) (bool, error)
}

// AliveChecker is implemented by instances that can detect they are beyond
// repair (Knative then restarts the container). Alive is called for every
// liveness probe; false or an error answers 503.
type AliveChecker interface {
	Alive(ctx context.Context) (bool, error)
}

// BuildFunc builds a function from its configuration: the environment map
// that Start receives. The returned handler may also implement Stopper,
// ReadyChecker and AliveChecker; Func forwards to them.
type BuildFunc func(ctx context.Context, cfg map[string]string) (http.Handler, error)

// Func gives a function built from its configuration the instanced shape of
// the Knative Functions Go template: a constructor without arguments
// (Instanced, or a package's New calling it), then Start, Handle, Ready,
// Alive and Stop. It is safe for concurrent use.
type Func struct {
	build BuildFunc
	h     atomic.Pointer[http.Handler]
}

// Compile-time checks: Func has every method of the func template.
var (
	_ Instance     = (*Func)(nil)
	_ Starter      = (*Func)(nil)
	_ Stopper      = (*Func)(nil)
	_ ReadyChecker = (*Func)(nil)
	_ AliveChecker = (*Func)(nil)
)

// Instanced returns a Func that builds its handler with build when started.
func Instanced(build BuildFunc) *Func {
	if build == nil {
		panic("BUG: knative.Instanced with a nil BuildFunc")
	}
	return &Func{build: build}
}

// FromHandler returns an Instance serving h, already started. Stop, Ready
// and Alive forward to h when it implements Stopper, ReadyChecker or
// AliveChecker.
func FromHandler(h http.Handler) *Func {
	if h == nil {
		panic("BUG: knative.FromHandler with a nil handler")
	}
	f := &Func{build: func(context.Context, map[string]string) (http.Handler, error) { return h, nil }}
	f.h.Store(&h)
	return f
}

// Start builds the handler from cfg. Calling it again rebuilds it.
func (f *Func) Start(ctx context.Context, cfg map[string]string) error {
	h, err := f.build(ctx, cfg)
	if err != nil {
		return err
	}
	if h == nil {
		panic("BUG: knative BuildFunc returned a nil handler and no error")
	}
	f.h.Store(&h)
	return nil
}

// Handle serves r with the built handler, or answers 503 before Start.
func (f *Func) Handle(w http.ResponseWriter, r *http.Request) {
	h := f.h.Load()
	if h == nil {
		http.Error(w, "function not started", http.StatusServiceUnavailable)
		return
	}
	(*h).ServeHTTP(w, r)
}

// Stop stops the built handler when it is a Stopper.
func (f *Func) Stop(ctx context.Context) error {
	if h := f.h.Load(); h != nil {
		if s, ok := (*h).(Stopper); ok {
			return s.Stop(ctx)
		}
	}
	return nil
}

// Ready is false before Start, then the handler's own answer when it is a
// ReadyChecker, else true.
func (f *Func) Ready(ctx context.Context) (bool, error) {
	h := f.h.Load()
	if h == nil {
		return false, nil
	}
	if rc, ok := (*h).(ReadyChecker); ok {
		return rc.Ready(ctx)
	}
	return true, nil
}

// Alive is the handler's own answer when it is an AliveChecker, else true.
func (f *Func) Alive(ctx context.Context) (bool, error) {
	if h := f.h.Load(); h != nil {
		if ac, ok := (*h).(AliveChecker); ok {
			return ac.Alive(ctx)
		}
	}
	return true, nil
}
