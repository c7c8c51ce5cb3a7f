// Package tail follows log files the way kubelet and logrotate rotate them,
// and remembers how far each file has been durably handed on.
//
// # Tailer
//
// A Tailer follows one path (for Kubernetes,
// /var/log/pods/<ns>_<pod>_<uid>/<container>/0.log). It polls: every
// Config.PollInterval it reads what was appended, splits it on '\n' and
// hands the complete lines, in order, to a Handler. Each Line carries the
// Identity (device and inode) of the file it came from and the offset just
// past its newline, which is what Positions.Commit records.
//
// Rotation is detected two ways:
//
//   - rename and create (kubelet, logrotate's default): the path names a
//     different inode, or no file at all. The Tailer keeps the old file
//     open and reads it to its end; it switches to the new file only after
//     the old one has produced no new bytes for Config.RotateGrace (the
//     writer may still hold the old descriptor for a moment), so no line
//     written before or just after the rename is lost.
//   - copytruncate: the same inode is now shorter than the read offset. The
//     Tailer reads it again from 0. (Lines written between the copy and the
//     truncation are lost by copytruncate itself; no reader can see them.)
//
// Limits of polling: a file rotated twice before the Tailer saw the first
// rotation (within one poll interval) is skipped, and a copytruncate
// followed by writes past the old offset within one poll interval looks
// like growth. Kubelet rotates at most every 10 s, far above both.
//
// A partial last line (no newline yet) is held until its newline arrives.
// When the file it belongs to is rotated away or truncated, the held bytes
// are emitted as a line of their own, since nothing will complete them.
// Lines longer than Config.MaxLineSize are cut to that size and flagged
// Truncated; the rest, up to the newline, is skipped and the cut is counted
// in kmlog_agent_truncated_lines_total. A cut line is emitted when its
// newline arrives, so its offset is always a line boundary.
//
// # Positions
//
// Positions is the positions file, in Promtail's format so that an existing
// Promtail positions.yaml is read as is:
//
//	positions:
//	  /var/log/pods/ns_pod_uid/app/0.log: "5120"
//	identities:
//	  /var/log/pods/ns_pod_uid/app/0.log: "2049:1835011"   # dev:inode, kmlog only
//
// A recorded offset never moves on its own: it changes only through
// Commit, which the caller makes once every line up to that offset is
// durably in the WAL. A crash therefore re-reads (and re-ships) at most the
// lines after the last commit, and never skips one. The file is written
// atomically (temporary file, fsync, rename, fsync of the directory) every
// sync period and on Close.
//
// On restart a Tailer resumes at the committed offset when the path still
// names the committed inode. When it names another one, the file was
// rotated while the agent was down: the Tailer looks for the committed inode
// among the path's siblings (0.log.20240101-120000), finishes that file
// from the committed offset, then reads the new file from 0. A position
// without an identity (from a Promtail file) is trusted when the file is at
// least that long, as Promtail does. A path with no position at all is read
// from the start, also as Promtail does, unless Config.ReadFromEnd is set.
//
// # Wiring
//
//	pos, _ := tail.OpenPositions(tail.PositionsConfig{Filename: ...}, logger)
//	go pos.Run(ctx)
//	t := tail.New(path, pos, cfg, metrics, logger)
//	go t.Run(ctx, func(ctx context.Context, lines []tail.Line) error {
//		// pipeline → wal.Append(ctx, ...) (blocks when the WAL is full)
//		last := lines[len(lines)-1]
//		pos.Commit(path, last.ID, last.Offset) // only after Append returned nil
//		return nil
//	})
//
// When a target goes away (its pod was deleted), call Drain instead of
// cancelling ctx: Run reads the file to its end, hands on a partial last
// line and returns, so the pod's last lines are not lost.
//
// When a pipeline holds lines back (multiline, partial CRI lines), commit
// only the offset of the last line whose entry has been appended, never the
// offset of a line still held.
package tail
