// Package distributor receives pushes: it validates each stream and entry
// as Loki does, applies the tenant's ingestion rate limit, and replicates
// every stream to ReplicationFactor ingesters chosen by the ring,
// answering success once a quorum (RF/2+1) of them has acknowledged every
// stream.
//
// A push is handled in one pass: decode (format/push), validate (valid
// entries are kept, the rest reported — Loki's partial accept), rate-limit
// the accepted bytes, group streams by ingester, send the groups in
// parallel and wait only until each stream has a quorum or can no longer
// reach one. A dead ingester fails fast; a slow one is not waited for once
// the others made quorum — its request finishes in the background under its
// own timeout. The quorum is counted from the replicas the ring returned
// for the stream (fewer than RF when the ring is smaller). An ingester's
// 4xx counts as an acknowledgement only when it says it stored the valid
// part (StoredRestHeader); any other 4xx is a failed replica.
//
// HTTP statuses are Loki's: 204 accepted; 400 some entries invalid (the
// valid ones were kept) or an undecodable body; 413 body too large; 415
// unknown content encoding; 422 no streams; 429 rate limited; 503 no quorum.
package distributor
