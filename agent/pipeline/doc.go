// Package pipeline runs Promtail's pipeline_stages over log entries, so
// that the kmlog agent reads existing Promtail configs unchanged.
//
// # Use
//
//	p, err := pipeline.New(cfg.PipelineStages, pipeline.Options{Logger: l, Registerer: reg})
//	out = p.Process(ctx, pipeline.Entry{Labels: ls, Timestamp: t, Line: raw}, out[:0])
//	out = p.Flush(ctx, time.Now(), out[:0]) // every p.FlushInterval()
//	out = p.FlushAll(ctx, out[:0])          // at shutdown
//
// or p.Run(ctx, in, out) with channels. Entry.Origin is the caller's mark
// (the agent: file and offset); Held reports the Origin of every held
// entry, so the caller knows which lines have fully come out. Process appends zero or more
// entries: zero when a stage dropped the entry or holds it (multiline
// blocks, partial CRI lines), several when held entries are released. A
// Pipeline keeps per-stream state (keyed by the label set) and serialises
// calls.
//
// # Stages
//
// cri, docker, multiline, json, logfmt, regex, labels, labeldrop,
// labelallow, static_labels, structured_metadata, replace, template,
// timestamp, output, match, drop, limit, tenant, metrics, pack,
// decolorize and sampling, each in stage_<name>.go (several small ones
// share a file) with its rules in the type's comment. As in Promtail,
// every entry starts with its labels copied into the extracted map, and
// stages communicate through that map.
//
// # Configuration
//
// New takes the items of a pipeline_stages list as yaml.Node values. Each
// stage's keys are checked strictly: an unknown key, a value of the wrong
// type or an invalid value is a *ConfigError naming the stage's path
// (pipeline_stages[2].json, pipeline_stages[0].match.stages[1].regex), the
// key and the YAML line. testdata/*.bad.yaml pin the messages.
//
// # Drops
//
// Dropped entries are counted in kmlog_agent_dropped_entries_total{reason}
// with Promtail's reasons: drop_stage, match_stage, sampling_stage (or a
// stage's drop_counter_reason) and ratelimit_drop_stage; json's
// drop_malformed counts json_malformed, which Promtail does not count.
// limit with by_label_name also counts
// kmlog_agent_dropped_entries_by_label_total{label_name,label_value}.
//
// # JSON and JMESPath
//
// The json stage evaluates JMESPath with github.com/jmespath/go-jmespath,
// the library and version Promtail uses, so functions, filters, slices,
// pipes, multi-selects and literals work as there. An expression that
// does not compile fails when the pipeline is built; one that fails to
// evaluate on a line leaves its name unset.
//
// # Known differences from Promtail
//
//   - The tenant stage sets Entry.Tenant instead of a __tenant_id__ label
//     (the agent's dry run prints it as __tenant_id__, as Promtail does).
//   - A label set to an empty value is kept, as in Promtail, but the agent
//     does not send it (Loki treats it as absent).
//   - Structured metadata is a set: a name given twice keeps one value
//     (Promtail can append duplicates), and multiline blocks keep the
//     start line's metadata (Promtail drops it).
//   - Stages run in label-name or key order where Promtail iterates a Go
//     map, so the output is deterministic; json renders objects with
//     sorted keys.
//   - Values are decoded by YAML types, not mapstructure's weak decoding:
//     rate: "10" (a quoted number) is an error.
//   - max_partial_line_size_truncate without max_partial_line_size is an
//     error (Promtail truncates every partial line to nothing).
//   - FlushAll releases held partial CRI lines; Promtail loses them at
//     shutdown (FlushEnd, for dry runs, drops them as Promtail does).
//   - The fudge memory of timestamp stages and the per-value buckets of
//     limit start afresh when full instead of evicting the least recently
//     used stream.
//   - Templates have Promtail's own functions and the common Sprig string
//     functions listed in funcs.go, not all of Sprig.
//   - geoip, eventlogmessage and windowsevent are not supported.
package pipeline
