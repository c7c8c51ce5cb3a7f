package pipeline

import (
	"errors"
	"fmt"

	"github.com/jmespath/go-jmespath"
)

// ErrJMESPath is returned for an expression the json stage cannot compile.
var ErrJMESPath = errors.New("could not compile JMES expression")

// jmesPath is a compiled JMESPath expression: the same library and version
// Promtail uses (github.com/jmespath/go-jmespath), so every expression
// Promtail accepts works here, with the same results.
type jmesPath struct {
	src string
	jp  *jmespath.JMESPath
}

func compileJMESPath(src string) (*jmesPath, error) {
	jp, err := jmespath.Compile(src)
	if err != nil {
		return nil, fmt.Errorf("%w %q: %v", ErrJMESPath, src, err)
	}
	return &jmesPath{src: src, jp: jp}, nil
}

// search evaluates the expression on data. An evaluation error (a function
// given the wrong types, say) reports ok false: Promtail then leaves the
// name unset. A panic inside the library is turned into ok false as well,
// so no input can stop the agent.
func (j *jmesPath) search(data any) (v any, ok bool) {
	defer func() {
		if recover() != nil {
			v, ok = nil, false
		}
	}()
	v, err := j.jp.Search(data)
	if err != nil {
		return nil, false
	}
	return v, true
}
