// Package log implements the stages of a LogQL log pipeline — line
// filters, parsers, label filters, formatters — and the sample extractors
// of metric queries, with Loki's semantics and without the LogQL syntax:
// every constructor takes plain Go values, so the parser (logql/syntax)
// and this package do not know each other. Only format/labels is
// imported.
//
// # How the engine composes them
//
// The engine walks a query's pipeline expression and builds one Stage per
// step, in order:
//
//	|= "x", != "x", |~ "re", !~ "re", |> "p", !> "p"
//	        NewLineFilter(op, values...)  (values are the `or` alternatives)
//	|= ip("10.0.0.0/8")                   NewIPFilter(pattern, op)
//	        wrapped by NewLineFilterStage
//	| json                                NewJSONParser()
//	| json a="x.y[0]", b                  NewJSONExpressionParser([]LabelExtraction)
//	| logfmt [--strict] [--keep-empty]    NewLogfmtParser(strict, keepEmpty)
//	| logfmt a="x", b                     NewLogfmtExpressionParser(exprs, strict)
//	| regexp "(?P<a>...)"                 NewRegexpParser(re)
//	| pattern "<a> <_>"                   NewPatternParser(p)
//	| unpack                              NewUnpackParser()
//	| decolorize                          NewDecolorizer()
//	| a="x", a=~"x", ...                  NewStringLabelFilter(*labels.Matcher)
//	| a > 1.5                             NewNumericLabelFilter(op, name, v)
//	| a > 250ms                           NewDurationLabelFilter(op, name, d)
//	| a > 20MB                            NewBytesLabelFilter(op, name, ParseBytes("20MB"))
//	| a = ip("...")                       NewIPLabelFilter(pattern, name, equal)
//	| f1 and f2, f1 or f2                 NewAndLabelFilter, NewOrLabelFilter
//	| line_format "{{.a}}"                NewLineFormatter(tmpl)
//	| label_format a="{{.b}}", c=d        NewLabelsFormatter([]LabelFmt)
//	| drop a, b="x" / | keep a, b="x"     NewDropLabels / NewKeepLabels([]LabelMatch)
//
// Log queries run the stages with NewPipeline(stages...).Process, or per
// stream with ForStream(labels).Process. Metric queries split the stages
// at `unwrap`: NewLineSampleExtractor(CountValue|BytesValue, stages,
// grouping) for count_over_time, rate, bytes_over_time and bytes_rate;
// NewLabelSampleExtractor(label, conversion, stagesBefore, filtersAfter,
// grouping) for the unwrapped range functions.
//
// # Per-line state and speed
//
// A stream pipeline owns a LabelsBuilder that starts from the stream's
// labels and is reset for every line; stages edit it (Set, Del, SetErr).
// The output label set is hashed and interned per stream, so lines with
// the same labels share one *LabelsResult and allocate nothing; a line
// whose labels did not change returns the stream's cached result. A
// pipeline of line filters only never touches the builder. Filtered-out
// lines allocate nothing. Literal filters use bytes.Index; `|~` regexps
// are rewritten to literal searches where Loki does so (`foo`, `.*foo.*`,
// `foo|bar`, `(?i)foo`, `f(oo|aa)`) and otherwise guarded by a search for
// their required literals before the regexp runs.
//
// # Errors
//
// A stage that cannot read a line does not drop it: it sets __error__
// (JSONParserErr, LogfmtParserErr, LabelFilterErr, TemplateFormatErr,
// SampleExtractionErr) and __error_details__, which appear in the output
// labels. `| __error__=""` (a string label filter) drops such lines, and
// `| drop __error__` clears the error. Constructors return errors that
// wrap the sentinels of errors.go.
//
// # Known differences from Loki
//
//   - Error details of malformed JSON are this package's words (close to
//     those of Loki's JSON scanner), not byte-for-byte the same.
//   - A JSON field whose sanitised name is empty is skipped (Loki makes an
//     empty label name).
//   - Case-insensitive literals fold ASCII only; non-ASCII ones use the
//     regexp engine.
//   - Patterns with two captures in a row are rejected wherever they
//     appear (Loki only checks some positions); a `|>` pattern that starts
//     with a literal must match at the start of the line.
//   - Template date functions work in UTC rather than the local zone.
//   - Parser hints (extracting only the labels a query needs) are not
//     implemented: parsers always extract every field.
//
// Stages keep scratch buffers: a Stage, Pipeline or SampleExtractor is
// used by one goroutine at a time. Lines returned by Process may alias
// stage buffers and are valid until the next call.
package log
