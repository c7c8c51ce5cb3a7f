// Package logql is the LogQL conformance suite: promqltest-style scripts
// under testdata/*.test, run against logql/engine by TestConformance.
//
// # Script language
//
// Lines starting with # are comments; a blank line ends a block.
//
//	clear                          forget loaded entries and options
//	set max_series 2               engine limits: max_series, max_entries
//	load {app="a", level="error"}  then one entry per line:
//	  30s some line text           <offset from the epoch> <line>
//	  1m-5m/1m repeated line       one entry at 1m, 2m, … 5m
//	  40s line @meta {trace_id="x"}  structured metadata
//
//	eval instant at 10m <query>    then the expected vector, one sample
//	  {level="error"} 3            per line in result order, or a bare
//	                               number for a scalar; nothing = empty
//	eval range from 0 to 10m step 1m <query>
//	  {level="error"} 1 2 _ 4x3 0+1x2   one value per step; _ is no
//	                               value; vxN is N copies; a+bxN is a,
//	                               a+b, … (N+1 values), as in promqltest
//	eval logs from 0 to 10m [limit N] [forward|backward] [interval D] <query>
//	  {app="a"} 30s some line text   expected lines, streams in result
//	                               order and each stream's entries in
//	                               direction order
//	eval_fail instant at 10m <query>   (or range/logs forms)
//	  expected_error <substring>
//
// Values compare with a relative tolerance of 1e-6 (NaN equals NaN).
// Every eval whose query Shardable accepts is also run split into
// one-minute shards, each encoded and decoded, then merged, and must give
// the same answer.
package logql
