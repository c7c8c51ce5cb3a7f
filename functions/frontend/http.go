package frontend

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kubemate/kmlog/format/labels"
	"github.com/kubemate/kmlog/format/tenant"
	"github.com/kubemate/kmlog/functions/querier"
	"github.com/kubemate/kmlog/logql/engine"
	"github.com/kubemate/kmlog/logql/lokijson"
	"github.com/kubemate/kmlog/logql/syntax"
)

// HeaderOrgID carries the tenant, set by the gateway.
const HeaderOrgID = "X-Scope-OrgID"

// HeaderGetRequests is a query answer's header with the number of object
// store requests (GETs and ranged GETs) the query made; Loki's stats have
// no field for it.
const HeaderGetRequests = "X-Kmlog-Get-Requests"

// StatusClientClosedRequest is the status of a request its client gave up.
const StatusClientClosedRequest = 499

// Loki's texts for timeouts and cancellations.
const (
	msgDeadlineExceeded = "request timed out, decrease the duration of the request or add more label matchers (prefer exact match over regex match) to reduce the amount of data processed"
	msgClientCanceled   = "the request was cancelled by the client"
	msgInstantLogQuery  = "log queries are not supported as an instant query type, please change your query to a range query type"
)

// Handler serves the Loki query API:
//
//	/loki/api/v1/query, query_range, labels (and label), label/{name}/values,
//	series, index/stats, index/volume, index/volume_range, detected_labels,
//	detected_fields, format_query, status/buildinfo, tail (WebSocket)
//	/api/prom/label, /api/prom/label/{name}/values (legacy shapes)
//	/ready
//
// Every endpoint takes GET parameters or a POST form. Errors are plain
// text with Loki's status codes: 400 for bad parameters, queries and
// limits, 401 without X-Scope-OrgID, 499 when the client went away, 504
// after query_timeout, 500 otherwise.
func (f *Frontend) Handler() http.Handler {
	mux := http.NewServeMux()
	route := func(pattern string, h func(w http.ResponseWriter, r *http.Request) error) {
		mux.Handle(pattern, f.instrument(pattern, h))
	}
	const v1 = "/loki/api/v1/"
	route(v1+"query", f.serveQuery)
	route(v1+"query_range", f.serveQueryRange)
	route(v1+"labels", f.serveLabels)
	route(v1+"label", f.serveLabels)
	route(v1+"label/{name}/values", f.serveLabelValues)
	route(v1+"series", f.serveSeries)
	route(v1+"index/stats", f.serveIndexStats)
	route(v1+"index/volume", f.serveVolume)
	route(v1+"index/volume_range", f.serveVolumeRange)
	route(v1+"detected_labels", f.serveDetectedLabels)
	route(v1+"detected_fields", f.serveDetectedFields)
	route(v1+"format_query", f.serveFormatQuery)
	route(v1+"status/buildinfo", f.serveBuildInfo)
	route(v1+"tail", f.serveTail)
	route("/api/prom/label", f.serveLegacyLabels)
	route("/api/prom/label/{name}/values", f.serveLegacyLabelValues)
	route("/ready", func(w http.ResponseWriter, _ *http.Request) error {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, err := w.Write([]byte("ready\n"))
		return err
	})
	return mux
}

// statusWriter records the status code for the metrics.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.code == 0 {
		s.code = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.code == 0 {
		s.code = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController (and the WebSocket upgrade) reach
// the underlying writer.
func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

func (f *Frontend) instrument(route string, h func(w http.ResponseWriter, r *http.Request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t0 := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		err := r.ParseForm()
		if err != nil {
			err = badRequest(err.Error())
		} else {
			err = h(sw, r)
		}
		if err != nil {
			code, msg := errorStatus(err)
			if code >= 500 {
				f.log.Error("serve request", "route", route, "tenant", r.Header.Get(HeaderOrgID), "status", code, "err", err)
			}
			if sw.code == 0 {
				http.Error(sw, msg, code)
			}
		}
		code := sw.code
		if code == 0 {
			code = http.StatusOK
		}
		f.m.requests.WithLabelValues(route, strconv.Itoa(code)).Observe(time.Since(t0).Seconds())
	})
}

// errorStatus maps an error to Loki's status and text.
func errorStatus(err error) (int, string) {
	var se *StatusError
	if errors.As(err, &se) {
		return se.Code, se.Msg
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return http.StatusGatewayTimeout, msgDeadlineExceeded
	case errors.Is(err, context.Canceled):
		return StatusClientClosedRequest, msgClientCanceled
	case errors.Is(err, errNoOrgID):
		return http.StatusUnauthorized, err.Error()
	}
	// The client's mistakes: answer with the error's own text, without
	// the wrapping that tells which shard found it.
	var (
		pe  *syntax.ParseError
		sle *engine.SeriesLimitError
		ele *engine.EntriesLimitError
		qle *QueryLengthError
		ple *engine.PipelineError
	)
	switch {
	case errors.As(err, &pe):
		return http.StatusBadRequest, pe.Error()
	case errors.As(err, &sle):
		return http.StatusBadRequest, sle.Error()
	case errors.As(err, &ele):
		return http.StatusBadRequest, ele.Error()
	case errors.As(err, &qle):
		return http.StatusBadRequest, qle.Error()
	case errors.As(err, &ple):
		return http.StatusBadRequest, ple.Error()
	case errors.Is(err, engine.ErrBadQuery), errors.Is(err, engine.ErrLimit), errors.Is(err, syntax.ErrParse),
		errors.Is(err, tenant.ErrInvalid):
		return http.StatusBadRequest, err.Error()
	}
	return http.StatusInternalServerError, err.Error()
}

func tenantOf(r *http.Request) (tenant.ID, error) {
	v := r.Header.Get(HeaderOrgID)
	if v == "" {
		return "", errNoOrgID
	}
	t, err := tenant.Parse(v)
	if err != nil {
		return "", badRequest(err.Error())
	}
	return t, nil
}

func writeJSON(w http.ResponseWriter, b []byte) error {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	_, err := w.Write(b)
	return err
}

func (f *Frontend) serveQuery(w http.ResponseWriter, r *http.Request) error {
	ts, err := f.tenantsOf(r)
	if err != nil {
		return err
	}
	p, err := instantParams(r, f.now())
	if err != nil {
		return err
	}
	expr, err := syntax.Parse(p.Query)
	if err != nil {
		return err
	}
	if syntax.IsLogQuery(expr) {
		return badRequest(msgInstantLogQuery)
	}
	p.Expr = expr
	return f.answerQuery(w, r, ts, p)
}

func (f *Frontend) serveQueryRange(w http.ResponseWriter, r *http.Request) error {
	ts, err := f.tenantsOf(r)
	if err != nil {
		return err
	}
	p, err := rangeParams(r, f.now())
	if err != nil {
		return err
	}
	return f.answerQuery(w, r, ts, p)
}

func (f *Frontend) answerQuery(w http.ResponseWriter, r *http.Request, ts []tenant.ID, p engine.Params) error {
	t0 := time.Now()
	t := ts[0]
	res, err := f.QueryTenants(r.Context(), ts, p)
	if err != nil {
		return err
	}
	opt := lokijson.OptionsFromHeader(r.Header.Get(lokijson.HeaderEncodingFlags))
	opt.Direction = p.Direction
	wall := time.Since(t0)
	f.log.Debug("query", "tenant", string(t), "query", p.Query, "duration", wall, "shards", res.Stats.Shards,
		"invocations", res.Stats.Invocations, "cache_hits", res.Stats.CacheHits(), "cache_misses", res.Stats.Misses,
		"bytes_read", res.Stats.Querier.BytesRead)
	// Loki's stats have no field for store requests; kmlog bench reads them here.
	w.Header().Set(HeaderGetRequests, strconv.FormatInt(res.Stats.Querier.GetRequests, 10))
	return writeJSON(w, appendQueryResponse(nil, res, opt, wall))
}

// appendQueryResponse writes Loki's query answer with the frontend's
// stats: splits, the results cache, and the queriers' reads.
func appendQueryResponse(b []byte, res QueryResult, opt lokijson.Options, wall time.Duration) []byte {
	v := res.Value
	if v == nil {
		v = engine.Streams{}
	}
	b = append(b, `{"status":"success","data":{"resultType":"`...)
	b = append(b, v.Type()...)
	b = append(b, `","result":`...)
	b = lokijson.AppendValue(b, v, opt)
	b = append(b, `,"stats":`...)
	st, _ := json.Marshal(statsOf(res, wall))
	b = append(b, st...)
	if opt.CategorizeLabels && v.Type() == engine.TypeStreams {
		b = append(b, `,"encodingFlags":["categorize-labels"]`...)
	}
	return append(b, "}}"...)
}

func statsOf(res QueryResult, wall time.Duration) lokijson.Stats {
	out := lokijson.StatsFrom(res.Result.Stats)
	s := res.Stats
	sm := &out.Summary
	sm.ExecTime = wall.Seconds()
	if sm.ExecTime > 0 {
		sm.BytesProcessedPerSecond = int64(float64(sm.TotalBytesProcessed) / sm.ExecTime)
		sm.LinesProcessedPerSecond = int64(float64(sm.TotalLinesProcessed) / sm.ExecTime)
	}
	sm.Splits = s.Shards
	sm.Subqueries = s.Invocations
	c := &out.Cache.Result
	c.EntriesRequested = s.CacheHits() + s.Misses
	c.Requests = c.EntriesRequested
	c.EntriesFound = s.CacheHits()
	c.EntriesStored = s.Stored
	q := &out.Querier.Store
	q.TotalChunksRef = s.Querier.BlocksTotal
	q.TotalChunksDownloaded = s.Querier.BlocksTotal - s.Querier.BlocksSkipped
	q.Chunk.CompressedBytes = s.Querier.BytesRead
	out.Ingester.TotalLinesSent = s.Querier.IngesterEntries
	return out
}

func (f *Frontend) metaRequest(r *http.Request) (MetaRequest, error) {
	start, end, err := bounds(r, f.now(), defaultLabelsSince)
	if err != nil {
		return MetaRequest{}, err
	}
	return MetaRequest{Start: start, End: end, Query: r.Form.Get("query")}, nil
}

// appendStrings writes {"status":"success","data":[...]}.
func appendStrings(vs []string) []byte {
	if len(vs) == 0 {
		return []byte(`{"status":"success"}`) // Loki leaves out an empty data
	}
	data, _ := json.Marshal(vs)
	return append(append([]byte(`{"status":"success","data":`), data...), '}')
}

func (f *Frontend) serveLabels(w http.ResponseWriter, r *http.Request) error {
	vs, err := f.labels(r, "")
	if err != nil {
		return err
	}
	return writeJSON(w, appendStrings(vs))
}

func (f *Frontend) serveLabelValues(w http.ResponseWriter, r *http.Request) error {
	vs, err := f.labels(r, r.PathValue("name"))
	if err != nil {
		return err
	}
	return writeJSON(w, appendStrings(vs))
}

func (f *Frontend) serveLegacyLabels(w http.ResponseWriter, r *http.Request) error {
	vs, err := f.labels(r, "")
	if err != nil {
		return err
	}
	return writeLegacyValues(w, vs)
}

func (f *Frontend) serveLegacyLabelValues(w http.ResponseWriter, r *http.Request) error {
	vs, err := f.labels(r, r.PathValue("name"))
	if err != nil {
		return err
	}
	return writeLegacyValues(w, vs)
}

func writeLegacyValues(w http.ResponseWriter, vs []string) error {
	if vs == nil {
		vs = []string{}
	}
	data, _ := json.Marshal(struct {
		Values []string `json:"values"`
	}{vs})
	return writeJSON(w, data)
}

// labels answers label names (name == "") or the values of name.
func (f *Frontend) labels(r *http.Request, name string) ([]string, error) {
	ts, err := f.tenantsOf(r)
	if err != nil {
		return nil, err
	}
	mr, err := f.metaRequest(r)
	if err != nil {
		return nil, err
	}
	if name != "" && !labels.ValidName(name) {
		return nil, badRequestf("invalid label name: %s", name)
	}
	if len(ts) > 1 && name == querier.TenantLabel {
		return tenantStrings(ts), nil
	}
	var out []string
	for _, t := range ts {
		var vs []string
		if name == "" {
			vs, _, err = f.Labels(r.Context(), t, mr)
		} else {
			vs, _, err = f.LabelValues(r.Context(), t, name, mr)
		}
		if err != nil {
			return nil, err
		}
		out = append(out, vs...)
	}
	if len(ts) > 1 {
		// A multi-tenant query's streams all carry __tenant_id__.
		if name == "" {
			out = append(out, querier.TenantLabel)
		}
		slices.Sort(out)
		out = slices.Compact(out)
	}
	return out, nil
}

func tenantStrings(ts []tenant.ID) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = string(t)
	}
	return out
}

// tenantsOf reads the tenants of a query: one, or several joined by '|'
// (Loki's multi-tenant query; sorted, duplicates removed) when every one
// of them has multi_tenant_queries_enabled.
func (f *Frontend) tenantsOf(r *http.Request) ([]tenant.ID, error) {
	v := r.Header.Get(HeaderOrgID)
	if !strings.Contains(v, "|") {
		t, err := tenantOf(r)
		if err != nil {
			return nil, err
		}
		return []tenant.ID{t}, nil
	}
	var ts []tenant.ID
	for _, s := range strings.Split(v, "|") {
		t, err := tenant.Parse(s)
		if err != nil {
			return nil, badRequest(err.Error())
		}
		ts = append(ts, t)
	}
	slices.Sort(ts)
	ts = slices.Compact(ts)
	for _, t := range ts {
		if !f.Limits(t).MultiTenantQueriesEnabled {
			return nil, badRequest(msgMultipleOrgIDs)
		}
	}
	return ts, nil
}

// msgMultipleOrgIDs is Loki's answer to "a|b" where multi-tenant queries
// are off.
const msgMultipleOrgIDs = "multiple org IDs present"

func (f *Frontend) serveSeries(w http.ResponseWriter, r *http.Request) error {
	t, err := tenantOf(r)
	if err != nil {
		return err
	}
	mr, err := f.metaRequest(r)
	if err != nil {
		return err
	}
	sels := r.Form["match[]"]
	if len(sels) == 0 {
		sels = r.Form["match"]
	}
	// Without match[] Loki lists every series of the range.
	series, _, err := f.Series(r.Context(), t, sels, mr)
	if err != nil {
		return err
	}
	b := []byte(`{"status":"success","data":[`)
	for i, ls := range series {
		if i > 0 {
			b = append(b, ',')
		}
		m, _ := json.Marshal(ls.Map())
		b = append(b, m...)
	}
	return writeJSON(w, append(b, "]}"...))
}

func (f *Frontend) serveIndexStats(w http.ResponseWriter, r *http.Request) error {
	t, err := tenantOf(r)
	if err != nil {
		return err
	}
	mr, err := f.metaRequest(r)
	if err != nil {
		return err
	}
	st, _, err := f.IndexStats(r.Context(), t, mr)
	if err != nil {
		return err
	}
	data, _ := json.Marshal(st)
	return writeJSON(w, data)
}

func (f *Frontend) volumeRequest(r *http.Request) (tenant.ID, VolumeRequest, error) {
	t, err := tenantOf(r)
	if err != nil {
		return "", VolumeRequest{}, err
	}
	start, end, err := bounds(r, f.now(), defaultSince)
	if err != nil {
		return "", VolumeRequest{}, err
	}
	vr := VolumeRequest{MetaRequest: MetaRequest{Start: start, End: end, Query: r.Form.Get("query")},
		AggregateBy: r.Form.Get("aggregateBy")}
	if vr.Limit, err = parseLimit(r, DefaultVolumeLimit); err != nil {
		return "", VolumeRequest{}, err
	}
	if tl := r.Form.Get("targetLabels"); tl != "" {
		for l := range strings.SplitSeq(tl, ",") {
			if l = strings.TrimSpace(l); l != "" {
				vr.TargetLabels = append(vr.TargetLabels, l)
			}
		}
	}
	return t, vr, nil
}

func (f *Frontend) serveVolume(w http.ResponseWriter, r *http.Request) error {
	t, vr, err := f.volumeRequest(r)
	if err != nil {
		return err
	}
	vols, _, err := f.Volume(r.Context(), t, vr)
	if err != nil {
		return err
	}
	ms := vr.End.UnixMilli()
	vec := make(engine.Vector, len(vols))
	for i, v := range vols {
		vec[i] = engine.Sample{Labels: labels.FromMap(v.Labels), T: ms, V: float64(v.Bytes)}
	}
	b := []byte(`{"status":"success","data":{"resultType":"vector","result":`)
	b = lokijson.AppendValue(b, vec, lokijson.Options{})
	return writeJSON(w, append(b, "}}"...))
}

func (f *Frontend) serveVolumeRange(w http.ResponseWriter, r *http.Request) error {
	t, vr, err := f.volumeRequest(r)
	if err != nil {
		return err
	}
	step := defaultStep(vr.Start, vr.End)
	if v := r.Form.Get("step"); v != "" {
		if step, err = parseSecondsOrDuration(v); err != nil {
			return badRequest(err.Error())
		}
	}
	if step <= 0 {
		return errNegativeStep
	}
	if vr.End.Sub(vr.Start)/step > maxPoints {
		return errStepTooSmall
	}
	m, _, err := f.VolumeRange(r.Context(), t, vr, step)
	if err != nil {
		return err
	}
	b := []byte(`{"status":"success","data":{"resultType":"matrix","result":`)
	b = lokijson.AppendValue(b, m, lokijson.Options{})
	return writeJSON(w, append(b, "}}"...))
}

func (f *Frontend) serveDetectedLabels(w http.ResponseWriter, r *http.Request) error {
	t, err := tenantOf(r)
	if err != nil {
		return err
	}
	mr, err := f.metaRequest(r)
	if err != nil {
		return err
	}
	dl, _, err := f.DetectedLabels(r.Context(), t, mr)
	if err != nil {
		return err
	}
	data, _ := json.Marshal(struct {
		DetectedLabels []DetectedLabel `json:"detectedLabels"`
	}{dl})
	return writeJSON(w, data)
}

func (f *Frontend) serveDetectedFields(w http.ResponseWriter, r *http.Request) error {
	t, err := tenantOf(r)
	if err != nil {
		return err
	}
	mr, err := f.metaRequest(r)
	if err != nil {
		return err
	}
	limit, err := parseLimit(r, DefaultDetectedFieldsLimit)
	if err != nil {
		return err
	}
	lineLimit := DefaultDetectedFieldsLineLimit
	if v := r.Form.Get("line_limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			return badRequestf("invalid line_limit %q", v)
		}
		lineLimit = n
	}
	fs, _, err := f.DetectedFields(r.Context(), t, mr, limit, lineLimit)
	if err != nil {
		return err
	}
	data, _ := json.Marshal(struct {
		Fields []DetectedField `json:"fields"`
		Limit  int             `json:"limit"`
	}{fs, limit})
	return writeJSON(w, data)
}

func (f *Frontend) serveFormatQuery(w http.ResponseWriter, r *http.Request) error {
	expr, err := syntax.Parse(r.Form.Get("query"))
	if err != nil {
		// Loki answers a query it cannot parse here in JSON, not as text.
		data, _ := json.Marshal(struct {
			Status string `json:"status"`
			Error  string `json:"error"`
		}{"invalid-query", err.Error()})
		w.Header().Set("Content-Type", "application/json; charset=UTF-8")
		w.WriteHeader(http.StatusBadRequest)
		_, err := w.Write(data)
		return err
	}
	data, _ := json.Marshal(struct {
		Status string `json:"status"`
		Data   string `json:"data"`
	}{"success", expr.String()})
	return writeJSON(w, data)
}

func (f *Frontend) serveBuildInfo(w http.ResponseWriter, _ *http.Request) error {
	data, _ := json.Marshal(f.cfg.BuildInfo)
	return writeJSON(w, data)
}
