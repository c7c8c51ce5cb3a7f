// Package manifest is a day's compaction state in the bucket: which data
// files a querier reads, and the delete requests that hide lines. This
// comment is its specification.
//
// # Objects
//
// A tenant's day holds flush files (data/<ULID>.parquet with
// index/<ULID>.idx), written by ingesters at any time, and compaction
// outputs (data/<ULID>.parquet with index/<ULID>.cidx), written by the
// compactor. A compaction commits by creating the manifest of the next
// generation, index/gen-<n>.manifest (format/objkey), with a create-only
// put: of two compactors racing on one day, exactly one commits a
// generation, so a generation never has two contents.
//
// # The view
//
// A reader lists index/ once and resolves the day (Resolve):
//
//   - without a manifest, every flush index is live (as before any
//     compaction);
//   - with manifests, the one of the highest generation counts alone: its
//     outputs are live, and so is every listed flush whose ULID it does
//     not name in Replaced. Compaction outputs of other generations, and
//     .cidx objects no manifest names (a compaction still running, or one
//     killed before its commit), are never read.
//
// Creating the manifest is the one atomic step that moves readers from
// the old set of files to the new one: a listing before it sees the old
// set, a listing after it the new set, never both, never neither. The
// compactor writes outputs (data, then index) before the manifest, and
// deletes the files a generation replaced only after a grace period longer
// than any query, so that a reader that listed before the commit finds
// every file it resolved.
//
// Replaced is cumulative: a generation names every flush it or an earlier
// generation merged that is still listed, so a flush merged long ago stays
// hidden until it is deleted.
//
// # Deletes
//
// A delete request (Loki's delete API) is stored as
// <tenant>/deletes/<ULID>.json (DeleteRequest), and a marker
// index/<ULID>.delete with the same content is put in every day it covers
// (up to the day it was made). A reader hides the lines a marker selects
// at once; the compactor removes them from the files when it next merges
// the day and lists the request in the manifest's Deletes, after which
// readers of that generation need not apply it.
//
// # Encoding
//
// Manifests and delete requests are JSON objects (Encode, Decode,
// EncodeDelete, DecodeDelete); decoding checks every field.
package manifest
