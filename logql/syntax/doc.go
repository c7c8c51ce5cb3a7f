// Package syntax parses LogQL, Loki's query language, into a tree, checks
// it as Loki does, and prints it back in a canonical form.
//
// # Using it
//
//	e, err := syntax.Parse(`sum by (app) (rate({env="prod"} |= "error" [5m]))`)
//
// Parse returns a *LogSelectorExpr for a log query and a SampleExpr for a
// metric query; every error is a *ParseError (wrapping ErrParse) whose text
// follows Loki's: "parse error at line 1, col 7: syntax error: unexpected }".
// String prints the canonical form and Parse(e.String()) yields an equal
// tree; CanonicalString also sorts selector matchers, for cache keys.
//
// # The tree, for engine authors
//
// Log queries: *LogSelectorExpr{Matchers, Pipeline}. Matchers are
// format/labels matchers (regexes fully anchored); at least one rejects the
// empty value. Pipeline stages run in order:
//
//   - *LineFilter: Op (|= != |~ !~ |> !>) and one or more Values; several
//     values are "or" alternatives (any matches for a positive operator,
//     none for a negated one). A value with IP set is an ip("…") pattern.
//     Line regexes are unanchored; patterns use <_> placeholders.
//   - parsers: *JSONParser, *LogfmtParser (Strict, KeepEmpty), each with
//     optional ExtractExprs (json paths parse with ParseJSONPath);
//     *RegexpParser, *PatternParser, *UnpackParser; *Decolorize.
//   - *LabelFilterStage{Filter}: a LabelFilter tree of *BinaryLabelFilter
//     (And / or), *StringLabelFilter (a matcher), *NumberLabelFilter,
//     *DurationLabelFilter, *BytesLabelFilter, *IPLabelFilter.
//   - *LineFormat, *LabelFormat: templates already checked with
//     CheckTemplate; the engine executes them with Loki's functions, whose
//     names TemplateFuncNames lists (__line__, __timestamp__, ToUpper, …).
//   - *Drop, *Keep: names or matchers.
//
// Metric queries (SampleExpr):
//
//   - *RangeAggregationExpr{Op, Param, Range, Grouping}: Range is a
//     *LogRange{Selector, Range, Offset, Unwrap}. Parse has already enforced
//     which operators need, allow or forbid unwrap and grouping, and that
//     only quantile_over_time has a Param.
//   - *VectorAggregationExpr{Op, Param (k of topk/bottomk), Grouping, Expr}.
//     A nil Grouping and "by ()" aggregate everything alike.
//   - *BinOpExpr{Op, LHS, RHS, ReturnBool, Matching}; no constant folding
//     is done, so 1+1 reaches the engine as a BinOpExpr of two literals.
//   - *LiteralExpr, *VectorExpr, *LabelReplaceExpr.
//
// Helpers: Walk visits every node; Selectors and Matchers collect the
// stream selectors; LineFilterLiterals gives the substrings every matching
// line must contain (for the token-filter index); IsLogQuery and
// IsMetricQuery classify a query.
//
// # Differences from Loki
//
// The grammar and the texts of errors follow Loki's; positions are always
// given (Loki has none for errors found after parsing), and "expecting"
// lists are given only where they are short and certain. Unary minus, as in
// Loki, applies only to number literals. Comma and white space between label
// filters mean "and" with the precedence of "and". Regexes, patterns, ip
// patterns, json paths and templates are checked at parse time. variants()
// and approx_topk are not supported.
package syntax
