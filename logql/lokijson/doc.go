// Package lokijson writes and reads query results in the JSON shapes of
// Loki's HTTP API (/loki/api/v1/query and /query_range), so that Grafana
// and logcli read kmlog's answers unchanged.
//
//	{"status":"success","data":{"resultType":"streams","result":[...],"stats":{...}}}
//
// Result shapes, by resultType:
//
//   - streams: [{"stream":{"app":"a"},"values":[["<unix ns>","<line>"],...]}]
//     With the categorize-labels encoding flag (request header
//     X-Loki-Response-Encoding-Flags: categorize-labels) each stream keeps
//     only its stream labels, every value gains a third element
//     {"structuredMetadata":{...},"parsed":{...}} (empty members omitted),
//     and data gains "encodingFlags":["categorize-labels"].
//   - matrix:  [{"metric":{...},"values":[[<unix s>,"<value>"],...]}]
//   - vector:  [{"metric":{...},"value":[<unix s>,"<value>"]}]
//   - scalar:  [<unix s>,"<value>"]
//
// Times of samples are seconds as a JSON number with millisecond
// precision and no trailing zeros (1700000000.12); values are strings in
// Prometheus's format (strconv 'f' -1, "+Inf", "-Inf", "NaN"). Label
// objects list names in sorted order. data.stats has the sections of
// Loki's stats (summary, querier, ingester, cache, index) with the fields
// kmlog does not track left at zero, because Grafana reads them.
//
// Decode reads all four shapes back; it never panics on input.
package lokijson
