// Package agent assembles the node agent from its parts and runs it over a
// loaded config (agent/config):
//
//	static_configs ─┐
//	kube (Discover) ─┴─> discovery ──> one tail.Tailer per file
//	   └─> handler: pipeline.Process ──> group by (tenant, stream) ──> wal.Append
//	                                                                    └─> ship.Client per clients: entry
//
// plus an HTTP server on server.http_listen_port with /ready, /metrics and
// /targets (the active files as JSON).
//
// # Positions
//
// A file's position is committed only once every line before it is in the
// WAL. Pipelines hold lines back (multiline blocks, partial CRI lines), so
// each line enters the pipeline with an Origin: the file generation (one
// per file identity, so a rotated file is told from its successor) and the
// offset of the line's first byte. Once a second, under the lock that also
// covers Process, the agent collects the Origins the pipelines still hold
// (pipeline.Held) and those of entries on their way to the WAL, and commits
// for each file the oldest of them, or the end of the last line read when
// there is none, after an fsync of the WAL (which with wal sync "interval"
// an Append does not wait for). A crash, even of the machine, therefore
// re-reads a few lines at most, and the ingesters drop the exact
// duplicates this ships again (same stream, CRI timestamp and line).
//
// An entry too large for one WAL record on its own (above MaxRecordSize
// or half of wal max_size_bytes: a huge multiline block) is dropped and
// counted in kmlog_agent_too_large_entries_total, so that its file goes on.
//
// # Targets coming and going
//
// One Tailer follows a path, whatever the number of targets naming it
// (their labels: the smallest target key wins, and a label change is
// applied in place). When the last target of a path goes, its Tailer is
// drained (tail.Tailer.Drain: read to the end, so a deleted pod's last
// lines are kept); once nothing of the file is held any more its final
// position is committed, and removed when the file is gone. A path that
// comes back meanwhile gets a new Tailer after that.
//
// # Shutdown
//
// Run stops in reverse: discovery and tailers, then every pipeline is
// flushed into the WAL (pipeline.FlushAll) and positions committed, then
// the shipping clients stop, the WAL and the positions file are closed.
// What the clients had not delivered stays in the WAL for the next start.
//
// # Not implemented
//
// limits_config's readline rate limit and max_streams, a scrape config's
// encoding, and the positions file's readonly mode are accepted and logged
// as not applied; a line longer than max_line_size is always truncated.
package agent
