// Package ship sends what the agent wrote to its WAL to a Loki push
// endpoint (kmlog's gateway, or any Loki): one Client per entry of the
// Promtail-style `clients:` list, with Promtail's field names.
//
// # Delivery
//
// A Client reads the WAL, never memory: for every tenant that has records
// it runs one sender with its own WAL cursor (agent/wal.Reader). A sender
// gathers records into a batch until Config.BatchSize bytes or
// Config.BatchWait after the batch's first record, merges entries of equal
// streams, adds Config.ExternalLabels (a stream's own label wins on a name
// clash, as in Promtail), and POSTs it as snappy-compressed protobuf
// (format/push.EncodeProto) to Config.URL. The tenant goes in X-Scope-OrgID:
// the record's tenant (set by the pipeline's tenant stage) or, when empty,
// Config.TenantID; with neither, no header is sent.
//
// Answers:
//
//   - 2xx: the batch is acknowledged to the WAL; its segments can go.
//   - 429, 5xx, or a network error (connection refused or reset, timeout):
//     the same batch is retried after a jittered exponential backoff
//     (backoff_config: min_period doubling up to max_period, each wait drawn
//     uniformly from its upper half; a Retry-After header lengthens the
//     wait, up to max_period). Promtail drops a batch after max_retries; we
//     do not, because the WAL exists so that nothing is lost: after
//     max_retries attempts the batch is counted in
//     kmlog_agent_ship_retries_exhausted_total and logged, and retrying
//     goes on at max_period. With drop_rate_limited_batches a 429 drops the
//     batch at once, as in Promtail.
//   - any other 4xx: the batch can never succeed; it is dropped, counted in
//     kmlog_agent_dropped_entries_total{reason="http_4xx"} (or "rate_limited"
//     for a dropped 429) and acknowledged.
//
// One tenant's failures only hold that tenant's sender; one endpoint's
// failures only hold that Client. Both hold the WAL segments they have not
// acknowledged, and when the WAL is full its full policy applies
// (agent/wal).
//
// # Guarantee
//
// Delivery is at-least-once, as with any HTTP shipper: when a 2xx is lost
// on the way back (connection reset after the server accepted the batch)
// the batch is sent again, and after a crash the records acknowledged
// since the last cursor write are sent again. Loki's and kmlog's ingesters
// drop an entry equal to one already stored (same stream, timestamp and
// line), so query results show every line exactly once end to end.
//
// # Wiring
//
//	w, _ := wal.Open(walCfg, []string{cfg.ClientName()}, wal.Options{...})
//	c, _ := ship.New(cfg, w, ship.Options{Logger: l, Registerer: reg})
//	go c.Run(ctx) // until ctx ends; cancel it before w.Close()
package ship
