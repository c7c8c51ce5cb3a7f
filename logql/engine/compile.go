package engine

import (
	"fmt"

	"github.com/kubemate/kmlog/logql/log"
	"github.com/kubemate/kmlog/logql/syntax"
)

// hoistLineFilters moves line filters ahead of the stages that do not
// change the line (parsers, label filters, label_format, drop, keep), so
// that cheap byte searches drop lines before any parsing. Results do not
// change: those stages never drop a line that a later line filter keeps
// for a different reason, and they leave the line itself untouched. A
// line filter never moves past a stage that rewrites the line:
// line_format, decolorize and unpack.
func hoistLineFilters(stages []syntax.Stage) []syntax.Stage {
	out := make([]syntax.Stage, 0, len(stages))
	barrier := 0 // out[barrier:] holds only stages a filter may pass
	for _, st := range stages {
		switch st.(type) {
		case *syntax.LineFilter:
			// Insert after the last barrier and after earlier filters.
			i := barrier
			for i < len(out) {
				if _, ok := out[i].(*syntax.LineFilter); !ok {
					break
				}
				i++
			}
			out = append(out, nil)
			copy(out[i+1:], out[i:])
			out[i] = st
		case *syntax.LineFormat, *syntax.Decolorize, *syntax.UnpackParser:
			out = append(out, st)
			barrier = len(out)
		default:
			out = append(out, st)
		}
	}
	return out
}

// compileStages builds the log stages of a pipeline.
func compileStages(stages []syntax.Stage) ([]log.Stage, error) {
	stages = hoistLineFilters(stages)
	out := make([]log.Stage, 0, len(stages))
	for _, st := range stages {
		s, err := compileStage(st)
		if err != nil {
			return nil, fmt.Errorf("compile stage %s: %w", st, err)
		}
		out = append(out, s)
	}
	return out, nil
}

func compileStage(st syntax.Stage) (log.Stage, error) {
	switch st := st.(type) {
	case *syntax.LineFilter:
		f, err := compileLineFilter(st)
		if err != nil {
			return nil, err
		}
		return log.NewLineFilterStage(f), nil
	case *syntax.JSONParser:
		if len(st.Exprs) == 0 {
			return log.NewJSONParser(), nil
		}
		return log.NewJSONExpressionParser(extractions(st.Exprs))
	case *syntax.LogfmtParser:
		if len(st.Exprs) == 0 {
			return log.NewLogfmtParser(st.Strict, st.KeepEmpty), nil
		}
		return log.NewLogfmtExpressionParser(extractions(st.Exprs), st.Strict)
	case *syntax.RegexpParser:
		return log.NewRegexpParser(st.Regex)
	case *syntax.PatternParser:
		return log.NewPatternParser(st.Pattern)
	case *syntax.UnpackParser:
		return log.NewUnpackParser(), nil
	case *syntax.Decolorize:
		return log.NewDecolorizer(), nil
	case *syntax.LabelFilterStage:
		return compileLabelFilter(st.Filter)
	case *syntax.LineFormat:
		return log.NewLineFormatter(st.Template)
	case *syntax.LabelFormat:
		fs := make([]log.LabelFmt, len(st.Items))
		for i, it := range st.Items {
			fs[i] = log.LabelFmt{Name: it.Dst, Value: it.Value, Rename: it.Rename}
		}
		return log.NewLabelsFormatter(fs)
	case *syntax.Drop:
		return log.NewDropLabels(labelMatches(st.Items)), nil
	case *syntax.Keep:
		return log.NewKeepLabels(labelMatches(st.Items)), nil
	}
	return nil, fmt.Errorf("%w: unsupported stage %T", ErrBadQuery, st)
}

func extractions(es []syntax.ExtractExpr) []log.LabelExtraction {
	out := make([]log.LabelExtraction, len(es))
	for i, e := range es {
		out[i] = log.LabelExtraction{Name: e.Label, Expression: e.Path}
	}
	return out
}

func labelMatches(items []syntax.NamedMatcher) []log.LabelMatch {
	out := make([]log.LabelMatch, len(items))
	for i, it := range items {
		out[i] = log.LabelMatch{Name: it.Name, Matcher: it.Matcher}
	}
	return out
}

func compileLineFilter(st *syntax.LineFilter) (log.Filterer, error) {
	var pos log.LineMatchType
	switch st.Op {
	case syntax.LineContains, syntax.LineNotContains:
		pos = log.LineMatchEqual
	case syntax.LineMatchRegexp, syntax.LineNotRegexp:
		pos = log.LineMatchRegexp
	case syntax.LineMatchPattern, syntax.LineNotPattern:
		pos = log.LineMatchPattern
	default:
		return nil, fmt.Errorf("%w: line filter %v", ErrBadQuery, st.Op)
	}
	plain := make([]string, 0, len(st.Values))
	var fs []log.Filterer
	for _, v := range st.Values {
		if !v.IP {
			plain = append(plain, v.Value)
			continue
		}
		f, err := log.NewIPFilter(v.Value, log.LineMatchEqual)
		if err != nil {
			return nil, err
		}
		fs = append(fs, f)
	}
	if len(plain) > 0 {
		f, err := log.NewLineFilter(pos, plain...)
		if err != nil {
			return nil, err
		}
		fs = append(fs, f)
	}
	f := log.NewOrFilter(fs...)
	if st.Op.Negated() {
		f = log.NewNotFilter(f)
	}
	return f, nil
}

func cmpType(op syntax.CmpOp) log.LabelFilterType {
	switch op {
	case syntax.CmpNeq:
		return log.LabelFilterNotEqual
	case syntax.CmpGT:
		return log.LabelFilterGreaterThan
	case syntax.CmpGTE:
		return log.LabelFilterGreaterThanOrEqual
	case syntax.CmpLT:
		return log.LabelFilterLesserThan
	case syntax.CmpLTE:
		return log.LabelFilterLesserThanOrEqual
	}
	return log.LabelFilterEqual
}

func compileLabelFilter(f syntax.LabelFilter) (log.Stage, error) {
	switch f := f.(type) {
	case *syntax.BinaryLabelFilter:
		l, err := compileLabelFilter(f.Left)
		if err != nil {
			return nil, err
		}
		r, err := compileLabelFilter(f.Right)
		if err != nil {
			return nil, err
		}
		if f.And {
			return log.NewAndLabelFilter(l, r), nil
		}
		return log.NewOrLabelFilter(l, r), nil
	case *syntax.StringLabelFilter:
		return log.NewStringLabelFilter(f.Matcher), nil
	case *syntax.NumberLabelFilter:
		return passErrors(log.NewNumericLabelFilter(cmpType(f.Op), f.Name, f.Value)), nil
	case *syntax.DurationLabelFilter:
		return passErrors(log.NewDurationLabelFilter(cmpType(f.Op), f.Name, f.Value)), nil
	case *syntax.BytesLabelFilter:
		return passErrors(log.NewBytesLabelFilter(cmpType(f.Op), f.Name, f.Value)), nil
	case *syntax.IPLabelFilter:
		return log.NewIPLabelFilter(f.Pattern, f.Name, f.Op != syntax.CmpNeq)
	}
	return nil, fmt.Errorf("%w: unsupported label filter %T", ErrBadQuery, f)
}

// passErrors makes a typed label filter keep lines that already carry an
// error, as Loki's numeric, duration and bytes filters do ("if there's an
// error only the string matchers can filter it out"); logql/log's filters
// do not, so the engine adds it.
func passErrors(s log.Stage) log.Stage {
	return log.StageFunc(func(ts int64, line []byte, lb *log.LabelsBuilder) ([]byte, bool) {
		if lb.HasErr() {
			return line, true
		}
		return s.Process(ts, line, lb)
	})
}
