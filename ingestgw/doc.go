// Package ingestgw is the long-lived tier of kmlog: the gateway (TLS,
// JWT→tenant, routing), the distributor (validation, limits, replication to
// ingesters with a quorum), the ring that places streams on ingesters, and
// the ingesters themselves (WAL, in-memory heads, flush to the bucket,
// recent-data queries). Each lives in a subpackage; this one holds nothing.
package ingestgw
