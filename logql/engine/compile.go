package engine

import (
	"fmt"

	"github.com/kubemate/kmlog/logql/log"
	"github.com/kubemate/kmlog/logql/syntax"
)

// hoistLineFilters reorders stages as Loki does before it runs them:
// within each run of stages between label filters, line_format and
// unpack, the line filters move ahead of the other stages (parsers,
// label_format, drop, keep and also decolorize), so that cheap byte
// searches drop lines before any parsing. Because decolorize is not a
// barrier, a line filter written after it sees the line with its colour
// codes, as in Loki. line_format and unpack stay ahead of the filters
// that follow them.
func hoistLineFilters(stages []syntax.Stage) []syntax.Stage {
	out := make([]syntax.Stage, 0, len(stages))
	var filters, others []syntax.Stage
	flush := func() {
		out = append(out, filters...)
		out = append(out, others...)
		filters, others = filters[:0], others[:0]
	}
	for _, st := range stages {
		switch st.(type) {
		case *syntax.LineFilter:
			filters = append(filters, st)
		case *syntax.LabelFilterStage:
			flush()
			out = append(out, st)
		case *syntax.LineFormat, *syntax.UnpackParser:
			others = append(others, st)
			flush()
		default:
			others = append(others, st)
		}
	}
	flush()
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
		return log.NewNumericLabelFilter(cmpType(f.Op), f.Name, f.Value), nil
	case *syntax.DurationLabelFilter:
		return log.NewDurationLabelFilter(cmpType(f.Op), f.Name, f.Value), nil
	case *syntax.BytesLabelFilter:
		return log.NewBytesLabelFilter(cmpType(f.Op), f.Name, f.Value), nil
	case *syntax.IPLabelFilter:
		return log.NewIPLabelFilter(f.Pattern, f.Name, f.Op != syntax.CmpNeq)
	}
	return nil, fmt.Errorf("%w: unsupported label filter %T", ErrBadQuery, f)
}
