package query

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/timestamp"
	"github.com/prometheus/prometheus/promql"
	promqlparser "github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/util/annotations"

	"github.com/gmc-dev/gmc/internal/httpapi"
)

// result is what an endpoint produces; serve writes it.
type result struct {
	data     any
	annos    annotations.Annotations
	err      *httpapi.Error
	finalize func() // releases what data still points into (query, querier)
	header   http.Header
}

func fail(err *httpapi.Error) result { return result{err: err} }

// serve runs f and writes its answer: the success envelope, or the error one.
func (a *API) serve(w http.ResponseWriter, r *http.Request, f func(*http.Request) result) {
	res := f(r)
	if res.finalize != nil {
		defer res.finalize()
	}
	for k, v := range res.header {
		w.Header()[k] = v
	}
	if res.err != nil {
		httpapi.WriteError(w, res.err.Type, res.err.Err)
		return
	}
	a.respond(w, res.data, res.annos, r.FormValue("query"))
}

// serveGated is serve inside a slot of the request's query lane (lanes.go),
// from before evaluation until the answer is encoded and written: encoding a
// large answer costs as much memory and CPU as evaluating it. The request is
// classified first (laneOf), waits for a slot of its lane only, within its
// timeout, then gets 503.
func (a *API) serveGated(w http.ResponseWriter, r *http.Request, kind requestKind, f func(*http.Request) result) {
	if a.lanes != nil {
		if kind == rangeQuery {
			// heldFrom once, for the lane and the answer.
			r = r.WithContext(withHeldMemo(r.Context()))
		}
		wait := a.timeout
		if d, apiErr := queryTimeout(r); apiErr == nil && d > 0 {
			wait = d
		}
		ctx, cancel := context.WithTimeout(r.Context(), wait)
		l := a.laneOf(ctx, r, kind)
		err := l.acquire(ctx, sourceAPI)
		cancel()
		if err != nil {
			if r.Context().Err() != nil {
				httpapi.WriteError(w, httpapi.ErrCanceled, fmt.Errorf("query canceled in query queue (%s)", l.setting()))
				return
			}
			httpapi.WriteError(w, httpapi.ErrTimeout, fmt.Errorf("query timed out in query queue (%s)", l.setting()))
			return
		}
		defer l.release()
		r = r.WithContext(withAdmission(r.Context(), l))
		if nice := int(a.heavyNice.Load()); l == a.lanes.heavy && nice > 0 {
			// Evaluated and encoded on a thread the kernel serves after
			// gmc's others (ingest) and the machine's other work: see
			// Config.HeavyQueryNice.
			onNicedThread(nice, func() { a.serve(w, r, f) })
			return
		}
	}
	a.serve(w, r, f)
}

// requestKind is what a gated request asks for.
type requestKind int

const (
	instantQuery requestKind = iota
	rangeQuery
	metadataRequest // series, label names, label values
)

// laneOf classifies a request: a query by its selectors' series over its
// range (steps included); series and label requests by the series of their
// match[] (at their end); label requests without match[] read the index
// only and are small. A request whose parameters do not parse is small: it
// fails at once.
func (a *API) laneOf(ctx context.Context, r *http.Request, kind requestKind) *lane {
	if r.Form == nil {
		_ = r.ParseForm() // an error leaves Form empty: then small, and the handler answers it
	}
	switch {
	case kind != metadataRequest:
		sp, ok := a.requestSpan(r, kind)
		if !ok {
			return a.lanes.small
		}
		if kind == rangeQuery {
			return a.lanes.classifyRange(ctx, r.FormValue("query"), sp)
		}
		l, _ := a.lanes.classify(ctx, r.FormValue("query"), sp)
		return l
	case len(r.Form["match[]"]) > 0:
		end, err := httpapi.TimeParam(r, "end", a.now())
		if err != nil || end.After(a.now()) {
			end = a.now()
		}
		l, _ := a.lanes.classify(ctx, strings.Join(r.Form["match[]"], " or "), span{start: end, end: end})
		return l
	}
	return a.lanes.small
}

// requestSpan is the span of a query or query_range request; false if its
// parameters do not parse.
func (a *API) requestSpan(r *http.Request, kind requestKind) (span, bool) {
	if kind == instantQuery {
		ts, err := httpapi.TimeParam(r, "time", a.now())
		return span{start: ts, end: ts}, err == nil
	}
	start, err1 := httpapi.ParseTime(r.FormValue("start"))
	end, err2 := httpapi.ParseTime(r.FormValue("end"))
	step, err3 := httpapi.ParseDuration(r.FormValue("step"))
	if err1 != nil || err2 != nil || err3 != nil || step <= 0 || end.Before(start) || end.Sub(start)/step > maxPointsPerSeries {
		return span{}, false
	}
	// The steps it will evaluate (heldFrom; an estimate: more may be
	// committed before it runs).
	if from, _ := a.heldFrom(r, r.FormValue("query"), start, step); from.After(end) {
		start = end
	} else if from.After(start) {
		start = from
	}
	return span{start: start, end: end, step: step}, true
}

// Query is GET|POST /api/v1/query: an instant query (query, time, timeout, limit).
func (a *API) Query(w http.ResponseWriter, r *http.Request) {
	a.serveGated(w, r, instantQuery, a.query)
}

// QueryRange is GET|POST /api/v1/query_range: a range query (query, start,
// end, step, timeout, limit).
func (a *API) QueryRange(w http.ResponseWriter, r *http.Request) {
	a.serveGated(w, r, rangeQuery, a.queryRange)
}

// Series is GET|POST /api/v1/series: the label sets matching match[].
func (a *API) Series(w http.ResponseWriter, r *http.Request) {
	a.serveGated(w, r, metadataRequest, a.series)
}

// Labels is GET|POST /api/v1/labels: label names, optionally of match[] series.
func (a *API) Labels(w http.ResponseWriter, r *http.Request) {
	a.serveGated(w, r, metadataRequest, a.labelNames)
}

// LabelValues is GET /api/v1/label/{name}/values; it reads r.PathValue("name").
func (a *API) LabelValues(w http.ResponseWriter, r *http.Request) {
	a.serveGated(w, r, metadataRequest, a.labelValues)
}

// BuildInfo is GET /api/v1/status/buildinfo.
func (a *API) BuildInfo(w http.ResponseWriter, r *http.Request) { a.serve(w, r, a.buildInfo) }

// RuntimeInfo is GET /api/v1/status/runtimeinfo.
func (a *API) RuntimeInfo(w http.ResponseWriter, r *http.Request) { a.serve(w, r, a.runtimeInfo) }

// QueryExemplars is GET|POST /api/v1/query_exemplars. gmc stores no
// exemplars: a valid query gets an empty list.
func (a *API) QueryExemplars(w http.ResponseWriter, r *http.Request) {
	a.serve(w, r, a.queryExemplars)
}

// FormatQuery is GET|POST /api/v1/format_query: the query, pretty-printed.
func (a *API) FormatQuery(w http.ResponseWriter, r *http.Request) {
	a.serve(w, r, func(r *http.Request) result {
		expr, err := a.parser.ParseExpr(r.FormValue("query"))
		if err != nil {
			return fail(httpapi.BadParam("query", err))
		}
		return result{data: expr.Pretty(0)}
	})
}

// queryTimeout reads the optional "timeout" parameter.
func queryTimeout(r *http.Request) (time.Duration, *httpapi.Error) {
	v := r.FormValue("timeout")
	if v == "" {
		return 0, nil
	}
	d, err := httpapi.ParseDuration(v)
	if err != nil {
		return 0, httpapi.BadParam("timeout", err)
	}
	if d <= 0 {
		return 0, httpapi.BadParam("timeout", fmt.Errorf("timeout must be positive, got %s", d))
	}
	return d, nil
}

// queryOpts reads the per-query options Prometheus accepts (lookback_delta).
func queryOpts(r *http.Request) (promql.QueryOpts, *httpapi.Error) {
	var lookback time.Duration
	if v := r.FormValue("lookback_delta"); v != "" {
		d, err := httpapi.ParseDuration(v)
		if err != nil {
			return nil, &httpapi.Error{Type: httpapi.ErrBadData, Err: fmt.Errorf("error parsing lookback delta duration: %w", err)}
		}
		lookback = d
	}
	return promql.NewPrometheusQueryOpts(false, lookback, nil), nil
}

// constructionError maps an error building a query: a bad query is bad data.
func constructionError(err error) *httpapi.Error {
	var (
		eqt promql.ErrQueryTimeout
		eqc promql.ErrQueryCanceled
	)
	switch {
	case errors.As(err, &eqt) || errors.As(err, &eqc):
		return engineError(err)
	case errors.Is(err, context.DeadlineExceeded):
		// The engine waits for a slot under query.max_concurrency while
		// building the query.
		return &httpapi.Error{Type: httpapi.ErrTimeout, Err: fmt.Errorf("query timed out in query queue (query.max_concurrency): %w", err)}
	case errors.Is(err, context.Canceled):
		return &httpapi.Error{Type: httpapi.ErrCanceled, Err: fmt.Errorf("query canceled in query queue: %w", err)}
	}
	return httpapi.BadParam("query", err)
}

func (a *API) query(r *http.Request) result {
	limit, err := parseLimit(r.FormValue("limit"))
	if err != nil {
		return fail(httpapi.BadParam("limit", err))
	}
	ts, err := httpapi.TimeParam(r, "time", a.now())
	if err != nil {
		return fail(httpapi.BadParam("time", err))
	}
	return a.exec(r, limit, func(ctx context.Context, opts promql.QueryOpts) (promql.Query, error) {
		qry, err := a.engine.NewInstantQuery(ctx, a.yielding(), opts, r.FormValue("query"), ts)
		if err == nil {
			a.prepare(qry)
		}
		return qry, err
	})
}

func (a *API) queryRange(r *http.Request) result {
	limit, err := parseLimit(r.FormValue("limit"))
	if err != nil {
		return fail(httpapi.BadParam("limit", err))
	}
	start, err := httpapi.ParseTime(r.FormValue("start"))
	if err != nil {
		return fail(httpapi.BadParam("start", err))
	}
	end, err := httpapi.ParseTime(r.FormValue("end"))
	if err != nil {
		return fail(httpapi.BadParam("end", err))
	}
	if end.Before(start) {
		return fail(httpapi.BadParam("end", errors.New("end timestamp must not be before start time")))
	}
	step, err := httpapi.ParseDuration(r.FormValue("step"))
	if err != nil {
		return fail(httpapi.BadParam("step", err))
	}
	if step <= 0 {
		return fail(httpapi.BadParam("step", errors.New("zero or negative query resolution step widths are not accepted. Try a positive integer")))
	}
	if end.Sub(start)/step > maxPointsPerSeries {
		return fail(&httpapi.Error{Type: httpapi.ErrBadData, Err: errors.New("exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)")})
	}
	expr := r.FormValue("query")
	from, mark := a.heldFrom(r, expr, start, step)
	var res result
	if from.After(end) {
		res = a.shape(limit, promql.Matrix{}, nil, nil) // every step held and unchanged
	} else {
		res = a.rangeQuery(r, limit, expr, from, end, step)
	}
	if mark != "" {
		res.header = heldHeaders(mark, from)
	}
	return res
}

// rangeQuery runs a range query (sharded where evalRange shards it) and
// shapes its answer; through the step cache unless nocache=1 (as
// VictoriaMetrics' parameter) or its steps depend on the query's range.
func (a *API) rangeQuery(r *http.Request, limit int, expr string, start, end time.Time, step time.Duration) result {
	timeout, apiErr := queryTimeout(r)
	if apiErr != nil {
		return fail(apiErr)
	}
	opts, apiErr := queryOpts(r)
	if apiErr != nil {
		return fail(apiErr)
	}
	ctx := r.Context()
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	// The answers point into the engine's pools until written: released
	// then (the step cache copies what it keeps).
	var releases []func()
	release := func() {
		for _, f := range releases {
			f()
		}
	}
	run := func(ctx context.Context, from, to time.Time) (promql.Matrix, annotations.Annotations, error) {
		m, annos, rel, err := a.evalRange(ctx, opts, expr, from, to, step)
		if rel != nil {
			releases = append(releases, rel)
		}
		return m, annos, err
	}
	var (
		m     promql.Matrix
		annos annotations.Annotations
		err   error
	)
	if cache := a.cache.Load(); cache != nil && r.FormValue("nocache") != "1" && cacheable(a.parser, expr) {
		m, annos, err = cache.Range(ctx, cacheKey(expr, start, end, step, r.FormValue("lookback_delta")), start, end, step, a.now(), run)
	} else {
		m, annos, err = run(ctx, start, end)
	}
	var be buildError
	switch {
	case errors.As(err, &be):
		release()
		return fail(constructionError(be.err))
	case err != nil:
		release()
		return fail(engineError(err))
	}
	if m == nil {
		m = promql.Matrix{}
	}
	return a.shape(limit, m, annos, release)
}

// exec builds a query with build, runs it and shapes the answer.
func (a *API) exec(r *http.Request, limit int, build func(context.Context, promql.QueryOpts) (promql.Query, error)) result {
	timeout, apiErr := queryTimeout(r)
	if apiErr != nil {
		return fail(apiErr)
	}
	opts, apiErr := queryOpts(r)
	if apiErr != nil {
		return fail(apiErr)
	}
	ctx := r.Context()
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	qry, err := build(ctx, opts)
	if err != nil {
		return fail(constructionError(err))
	}
	res := qry.Exec(ctx)
	if res.Err != nil {
		qry.Close()
		return fail(engineError(res.Err))
	}
	return a.shape(limit, res.Value, res.Warnings, qry.Close)
}

// shape applies the series bound and the limit parameter to an answer;
// finalize (may be nil) releases it once written.
func (a *API) shape(limit int, value promqlparser.Value, annos annotations.Annotations, finalize func()) result {
	if finalize == nil {
		finalize = func() {}
	}
	res := struct{ Value promqlparser.Value }{value}
	if n, maxSeries := seriesCount(res.Value), int(a.maxSeries.Load()); limit <= 0 && maxSeries > 0 && n > maxSeries {
		finalize()
		return fail(&httpapi.Error{Type: httpapi.ErrExec, Err: fmt.Errorf(
			"query returned %d series, more than query.max_series %d: narrow the selector or pass limit=", n, maxSeries)})
	}
	if limit > 0 {
		switch v := res.Value.(type) {
		case promql.Matrix:
			if len(v) > limit {
				res.Value = v[:limit]
				annos = annos.Add(errors.New("results truncated due to limit"))
			}
		case promql.Vector:
			if len(v) > limit {
				res.Value = v[:limit]
				annos = annos.Add(errors.New("results truncated due to limit"))
			}
		}
	}
	return result{
		data:     queryData{resultType: res.Value.Type(), result: res.Value},
		annos:    annos,
		finalize: finalize,
	}
}

// seriesCount is how many series a query result holds.
func seriesCount(v promqlparser.Value) int {
	switch v := v.(type) {
	case promql.Matrix:
		return len(v)
	case promql.Vector:
		return len(v)
	}
	return 0
}

// timeRange reads the optional start and end of a metadata query.
func timeRange(r *http.Request) (start, end time.Time, apiErr *httpapi.Error) {
	start, err := httpapi.TimeParam(r, "start", httpapi.MinTime())
	if err != nil {
		return start, end, httpapi.BadParam("start", err)
	}
	end, err = httpapi.TimeParam(r, "end", httpapi.MaxTime())
	if err != nil {
		return start, end, httpapi.BadParam("end", err)
	}
	return start, end, nil
}

func (a *API) series(r *http.Request) result {
	if err := r.ParseForm(); err != nil {
		return fail(&httpapi.Error{Type: httpapi.ErrBadData, Err: fmt.Errorf("error parsing form values: %w", err)})
	}
	if len(r.Form["match[]"]) == 0 {
		return fail(&httpapi.Error{Type: httpapi.ErrBadData, Err: errors.New("no match[] parameter provided")})
	}
	limit, err := parseLimit(r.FormValue("limit"))
	if err != nil {
		return fail(httpapi.BadParam("limit", err))
	}
	start, end, apiErr := timeRange(r)
	if apiErr != nil {
		return fail(apiErr)
	}
	sets, err := a.parseMatchers(r.Form["match[]"])
	if err != nil {
		return fail(httpapi.BadParam("match[]", err))
	}
	q, err := a.queryable.Querier(timestamp.FromTime(start), timestamp.FromTime(end))
	if err != nil {
		return fail(engineError(err))
	}
	hints := &storage.SelectHints{
		Start: timestamp.FromTime(start),
		End:   timestamp.FromTime(end),
		Func:  "series", // no samples needed
		Limit: hintLimit(limit),
	}
	ctx := r.Context()
	var set storage.SeriesSet
	if len(sets) > 1 {
		ss := make([]storage.SeriesSet, 0, len(sets))
		for _, ms := range sets {
			ss = append(ss, q.Select(ctx, true, hints, ms...))
		}
		set = storage.NewMergeSeriesSet(ss, 0, storage.ChainedSeriesMerge)
	} else {
		set = q.Select(ctx, false, hints, sets[0]...)
	}
	res := result{data: nil, finalize: func() { q.Close() }}
	metrics := []labels.Labels{}
	for i := 0; set.Next(); i++ {
		if i%128 == 127 {
			if err := ctx.Err(); err != nil {
				res.err = engineError(err)
				return res
			}
		}
		metrics = append(metrics, set.At().Labels())
		if limit > 0 && len(metrics) > limit {
			metrics = metrics[:limit]
			res.annos = res.annos.Add(errors.New("results truncated due to limit"))
			break
		}
	}
	res.annos.Merge(set.Warnings())
	if err := set.Err(); err != nil {
		res.err = engineError(err)
		return res
	}
	res.data = metrics
	return res
}

func (a *API) labelNames(r *http.Request) result {
	limit, err := parseLimit(r.FormValue("limit"))
	if err != nil {
		return fail(httpapi.BadParam("limit", err))
	}
	start, end, apiErr := timeRange(r)
	if apiErr != nil {
		return fail(apiErr)
	}
	sets, err := a.parseMatchers(r.Form["match[]"])
	if err != nil {
		return fail(&httpapi.Error{Type: httpapi.ErrBadData, Err: err})
	}
	q, err := a.queryable.Querier(timestamp.FromTime(start), timestamp.FromTime(end))
	if err != nil {
		return fail(engineError(err))
	}
	defer q.Close()
	names, annos, err := collectStrings(sets, func(ms ...*labels.Matcher) ([]string, annotations.Annotations, error) {
		return q.LabelNames(r.Context(), &storage.LabelHints{Limit: hintLimit(limit)}, ms...)
	})
	if err != nil {
		return fail(&httpapi.Error{Type: httpapi.ErrExec, Err: err})
	}
	if limit > 0 && len(names) > limit {
		names = names[:limit]
		annos = annos.Add(errors.New("results truncated due to limit"))
	}
	return result{data: names, annos: annos}
}

func (a *API) labelValues(r *http.Request) result {
	name := r.PathValue("name")
	if strings.HasPrefix(name, "U__") {
		name = model.UnescapeName(name, model.ValueEncodingEscaping)
	}
	if !model.UTF8Validation.IsValidLabelName(name) {
		return fail(&httpapi.Error{Type: httpapi.ErrBadData, Err: fmt.Errorf("invalid label name: %q", name)})
	}
	limit, err := parseLimit(r.FormValue("limit"))
	if err != nil {
		return fail(httpapi.BadParam("limit", err))
	}
	start, end, apiErr := timeRange(r)
	if apiErr != nil {
		return fail(apiErr)
	}
	sets, err := a.parseMatchers(r.Form["match[]"])
	if err != nil {
		return fail(&httpapi.Error{Type: httpapi.ErrBadData, Err: err})
	}
	q, err := a.queryable.Querier(timestamp.FromTime(start), timestamp.FromTime(end))
	if err != nil {
		return fail(&httpapi.Error{Type: httpapi.ErrExec, Err: err})
	}
	defer q.Close()
	vals, annos, err := collectStrings(sets, func(ms ...*labels.Matcher) ([]string, annotations.Annotations, error) {
		return q.LabelValues(r.Context(), name, &storage.LabelHints{Limit: hintLimit(limit)}, ms...)
	})
	if err != nil {
		return fail(&httpapi.Error{Type: httpapi.ErrExec, Err: err})
	}
	if limit > 0 && len(vals) > limit {
		vals = vals[:limit]
		annos = annos.Add(errors.New("results truncated due to limit"))
	}
	return result{data: vals, annos: annos}
}

// collectStrings calls get once per matcher set (once without matchers when
// there are none) and returns the sorted union, never nil.
func collectStrings(sets [][]*labels.Matcher, get func(...*labels.Matcher) ([]string, annotations.Annotations, error)) ([]string, annotations.Annotations, error) {
	if len(sets) <= 1 {
		var ms []*labels.Matcher
		if len(sets) == 1 {
			ms = sets[0]
		}
		vals, annos, err := get(ms...)
		if err != nil {
			return nil, annos, err
		}
		if vals == nil {
			vals = []string{}
		}
		// Storage returns them sorted; copy, as the slice may be the querier's.
		vals = slices.Clone(vals)
		slices.Sort(vals)
		return vals, annos, nil
	}
	var annos annotations.Annotations
	seen := map[string]struct{}{}
	for _, ms := range sets {
		vals, callAnnos, err := get(ms...)
		if err != nil {
			return nil, annos, err
		}
		annos.Merge(callAnnos)
		for _, v := range vals {
			seen[v] = struct{}{}
		}
	}
	out := make([]string, 0, len(seen))
	for v := range seen {
		out = append(out, v)
	}
	slices.Sort(out)
	return out, annos, nil
}

func (a *API) queryExemplars(r *http.Request) result {
	start, end, apiErr := timeRange(r)
	if apiErr != nil {
		return fail(apiErr)
	}
	if end.Before(start) {
		return fail(&httpapi.Error{Type: httpapi.ErrBadData, Err: errors.New("end timestamp must not be before start timestamp")})
	}
	if _, err := a.parser.ParseExpr(r.FormValue("query")); err != nil {
		return fail(&httpapi.Error{Type: httpapi.ErrBadData, Err: err})
	}
	return result{data: []any{}}
}

// buildInfo mirrors Prometheus's PrometheusVersion.
type buildInfo struct {
	Version   string `json:"version"`
	Revision  string `json:"revision"`
	Branch    string `json:"branch"`
	BuildUser string `json:"buildUser"`
	BuildDate string `json:"buildDate"`
	GoVersion string `json:"goVersion"`
}

func (a *API) buildInfo(*http.Request) result {
	return result{data: buildInfo{
		Version:   PrometheusVersion,
		Revision:  "gmc-" + a.version,
		Branch:    "gmc",
		GoVersion: runtime.Version(),
	}}
}

// runtimeInfo mirrors the parts of Prometheus's RuntimeInfo gmc can fill.
type runtimeInfo struct {
	StartTime      time.Time `json:"startTime"`
	CWD            string    `json:"CWD"`
	Hostname       string    `json:"hostname"`
	ServerTime     time.Time `json:"serverTime"`
	GoroutineCount int       `json:"goroutineCount"`
	GOMAXPROCS     int       `json:"GOMAXPROCS"`
	GOGC           string    `json:"GOGC"`
	GODEBUG        string    `json:"GODEBUG"`
}

func (a *API) runtimeInfo(*http.Request) result {
	cwd, _ := os.Getwd()
	host, _ := os.Hostname()
	return result{data: runtimeInfo{
		StartTime:      a.started,
		CWD:            cwd,
		Hostname:       host,
		ServerTime:     a.now().UTC(),
		GoroutineCount: runtime.NumGoroutine(),
		GOMAXPROCS:     runtime.GOMAXPROCS(0),
		GOGC:           os.Getenv("GOGC"),
		GODEBUG:        os.Getenv("GODEBUG"),
	}}
}
