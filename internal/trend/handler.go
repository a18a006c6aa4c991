package trend

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb/chunkenc"

	"github.com/gmc-dev/gmc/internal/httpapi"
	"github.com/gmc-dev/gmc/internal/span"
	"github.com/gmc-dev/gmc/internal/tier"
)

// Step is the resolution of the analysed series: one value per hour.
const Step = time.Hour

// Windows are the analysis windows GET /trends accepts.
var windows = map[string]time.Duration{"7d": 7 * 24 * time.Hour, "30d": 30 * 24 * time.Hour}

// Options configure the handler.
type Options struct {
	// Queryable and Engine run the hourly range httpapi. Required.
	Queryable storage.Queryable
	Engine    *promql.Engine
	// Raw is the raw samples, whose chunk time ranges tell the partial
	// hours (span.Read); nil means Queryable.
	Raw    storage.Queryable
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Handler serves GET /trends/{service}. Safe for concurrent use.
type Handler struct{ opts Options }

// NewHandler returns the trends handler.
func NewHandler(opts Options) *Handler {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Handler{opts: opts}
}

// Response is the body of GET /trends/{service}; docs/history.md describes
// every field.
type Response struct {
	Service string `json:"service"`
	Metric  string `json:"metric"`
	Window  string `json:"window"`
	// Kind is "counter" (the series is the per-second rate, summed over the
	// service's series), "gauge" (the hourly average, combined by Agg) or
	// "p99" (a histogram, a classic one's _bucket metric or a native one:
	// the worst one-minute p99 within each hour, KindP99).
	Kind string `json:"kind"`
	Agg  string `json:"agg"`
	// Expr is the PromQL the hourly values come from, evaluated at Step
	// over [Start, End] (Unix seconds; End is the last whole hour).
	Expr        string  `json:"expr"`
	Start       float64 `json:"start"`
	End         float64 `json:"end"`
	StepSeconds float64 `json:"step_seconds"`
	// Coverage is the share of the window's hours that have a value.
	Coverage float64 `json:"coverage"`
	// Series is the hourly values of the window: [unix seconds, value].
	Series [][2]float64 `json:"series"`
	// CurrentHour is the hour in progress (after End): the same figure over
	// the part of it that has passed (and has data); nil when that part
	// has no value.
	CurrentHour *CurrentHour `json:"current_hour"`
	// PartialHours are the window's hours (Unix seconds, the hour's end)
	// whose raw samples span less than HourMinCoverage of the hour: they
	// are in Series but not in the profiles and peaks.
	PartialHours []float64 `json:"partial_hours"`
	// Note says in words what the answer covers when not every hour of the
	// window has a value (a young install, a gap); empty otherwise.
	Note string `json:"note,omitempty"`
	// FirstBucket is a classic histogram's lowest finite bucket bound (le):
	// a p99 at or below it says only that the p99 is at most it
	// (histogram_quantile interpolates inside the bucket from 0: a desk
	// whose orders all took 2-4 µs read 9.91 µs every hour with le=10 µs,
	// t-user12 F8). Nil for a native histogram and other kinds.
	FirstBucket *float64 `json:"first_bucket,omitempty"`
	Analysis
}

// CurrentHour is the figure of the hour in progress, from Start (the last
// whole hour, or the first sample after it when the data begin later) to
// End (the request's time): a counter's rate or a gauge's average over
// those Seconds, from Expr evaluated at End. It is not part of the
// analysis, which compares whole hours.
type CurrentHour struct {
	Start   float64 `json:"start"`
	End     float64 `json:"end"`
	Seconds float64 `json:"seconds"`
	Expr    string  `json:"expr"`
	Value   float64 `json:"value"`
}

// Routes lists the handler's one endpoint.
func (h *Handler) Routes() []httpapi.Route {
	return []httpapi.Route{{Method: http.MethodGet, Path: "/trends/{service}", Handler: h.ServeHTTP}}
}

// ServeHTTP answers GET /trends/{service}?metric=&window=7d|30d[&agg=][&kind=][&limit=][&limit_kind=].
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	svc := r.PathValue("service")
	if svc == "" {
		badParam(w, "service", errors.New("must not be empty"))
		return
	}
	metric := r.FormValue("metric")
	if metric == "" {
		badParam(w, "metric", errors.New("is required: the metric name to analyse"))
		return
	}
	if !model.UTF8Validation.IsValidMetricName(metric) {
		badParam(w, "metric", fmt.Errorf("%q is not a valid metric name", metric))
		return
	}
	wname := r.FormValue("window")
	if wname == "" {
		wname = "7d"
	}
	window, ok := windows[wname]
	if !ok {
		badParam(w, "window", fmt.Errorf("%q: must be 7d or 30d", wname))
		return
	}
	kind := r.FormValue("kind")
	switch kind {
	case "", "counter", "gauge", KindP99:
	default:
		badParam(w, "kind", fmt.Errorf("%q: must be counter, gauge or %s", kind, KindP99))
		return
	}
	now := h.opts.Now()
	end := now.Truncate(Step)
	// Week-over-week needs two weeks even when the window is one.
	span := max(window, 2*week)
	start := end.Add(-span + Step)
	// One querier over the span answers which label names the service,
	// whether the series are native histograms and their first bucket.
	mint, maxt := start.Add(-Step).UnixMilli()+1, now.UnixMilli()
	q, err := h.opts.Queryable.Querier(mint, maxt)
	if err != nil {
		httpapi.WriteError(w, httpapi.ErrInternal, fmt.Errorf("open querier: %w", err))
		return
	}
	defer q.Close()
	label, err := serviceLabel(r.Context(), q, svc, metric)
	if err != nil {
		httpapi.WriteError(w, httpapi.ErrInternal, err)
		return
	}
	// A native histogram is read as its p99, as a classic one's _bucket
	// metric (the picker offered it and the trend said "no data": its
	// samples are no floats, t-user12 F7).
	native, err := isNative(r.Context(), q, mint, maxt, label, svc, metric)
	if err != nil {
		httpapi.WriteError(w, httpapi.ErrInternal, err)
		return
	}
	switch {
	case kind == "" && native:
		kind = KindP99
	case kind == "":
		kind = KindOf(metric)
		if kind == "counter" && !strings.HasSuffix(metric, "_total") {
			// _count and _sum are a histogram's or summary's when the
			// other is there; alone, a gauge that ends so
			// (gmc_process_count read as a counter: "0/s", t-user13 F5).
			twin, err := hasTwin(r.Context(), q, label, svc, metric)
			if err != nil {
				httpapi.WriteError(w, httpapi.ErrInternal, err)
				return
			}
			if !twin {
				kind = "gauge"
			}
		}
	case kind == KindP99 && !native && !strings.HasSuffix(metric, "_bucket"):
		badParam(w, "kind", fmt.Errorf("%q: needs a classic histogram's _bucket metric or a native histogram", kind))
		return
	}
	agg := r.FormValue("agg")
	switch agg {
	case "":
		agg = "avg"
		switch kind {
		case "counter":
			agg = "sum"
		case KindP99:
			agg = "max" // the worst minute's (agg is not applied: see exprOver)
		}
	case "sum", "avg", "max", "min":
	default:
		badParam(w, "agg", fmt.Errorf("%q: must be sum, avg, max or min", agg))
		return
	}
	limit := DefaultLimit(metric)
	if v := r.FormValue("limit"); v != "" {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			badParam(w, "limit", fmt.Errorf("%q is not a finite number", v))
			return
		}
		limit = &f
	}
	// What the limit is: the caller's word, else a floor for free-space
	// metrics (DefaultLimit's) and a ceiling for any other (an order rate's
	// capacity, CPU, disk used): told by the fitted mean, a capacity the
	// desk's busy hours were past read as a floor moved away from
	// ("not_approaching", t-user18 F3).
	limitKind := r.FormValue("limit_kind")
	switch limitKind {
	case LimitCeiling, LimitFloor:
	case "":
		limitKind = LimitCeiling
		if freeSpace(metric) {
			limitKind = LimitFloor
		}
	default:
		badParam(w, "limit_kind", fmt.Errorf("%q: must be ceiling or floor", limitKind))
		return
	}

	var cur *CurrentHour
	expr := Expr(label, svc, metric, kind, agg)
	points, err := h.hourly(r.Context(), expr, start, end)
	if err == nil && len(points) > 0 {
		err = h.markPartial(r.Context(), label, svc, metric, points)
	}
	if err == nil {
		cur, err = h.currentHour(r.Context(), label, svc, metric, kind, agg, end, now)
	}
	if err != nil {
		var qe *httpapi.Error
		if errors.As(err, &qe) {
			httpapi.WriteError(w, qe.Type, qe.Err)
			return
		}
		httpapi.WriteError(w, httpapi.ErrInternal, err)
		return
	}
	if len(points) == 0 && cur == nil {
		httpapi.WriteError(w, httpapi.ErrNotFound, fmt.Errorf("no data for metric %q with service or job %q in the last %s (up to %s UTC)",
			metric, svc, spanName(span), now.UTC().Format("2006-01-02 15:04:05")))
		return
	}
	resp := Response{
		Service: svc, Metric: metric, Window: wname, Kind: kind, Agg: agg, Expr: expr,
		Start:        float64(end.Add(-window + Step).Unix()),
		End:          float64(end.Unix()),
		StepSeconds:  Step.Seconds(),
		Series:       [][2]float64{},
		PartialHours: []float64{},
		Analysis:     Analyze(points, end, window, limit, limitKind),
	}
	for _, p := range points {
		if p.T.After(end.Add(-window)) {
			resp.Series = append(resp.Series, [2]float64{float64(p.T.Unix()), p.V})
			if p.Partial {
				resp.PartialHours = append(resp.PartialHours, float64(p.T.Unix()))
			}
		}
	}
	resp.Coverage = float64(len(resp.Series)) / float64(window/Step)
	if kind == KindP99 && strings.HasSuffix(metric, "_bucket") {
		first, err := firstBucket(r.Context(), q, label, svc, metric)
		if err != nil {
			httpapi.WriteError(w, httpapi.ErrInternal, err)
			return
		}
		resp.FirstBucket = first
		resp.censor()
	}
	resp.CurrentHour = cur
	hours := int(window / Step)
	switch {
	case len(resp.Series) == 0 && cur != nil:
		resp.Note = fmt.Sprintf("no whole hour of the window has data yet, so the analysis is empty; current_hour has the %s since %s UTC",
			time.Duration(cur.Seconds*float64(time.Second)).Round(time.Second), time.UnixMilli(int64(cur.Start*1000)).UTC().Format("15:04:05"))
	case len(resp.Series) == 0:
		resp.Note = "no whole hour of the window has data; only the week before it has (week_over_week)"
	case len(resp.Series) < hours:
		resp.Note = fmt.Sprintf("%d of the window's %d whole hours have data (the first at %s UTC): profiles, peaks and forecast use those only",
			len(resp.Series), hours, time.Unix(int64(resp.Series[0][0]), 0).UTC().Format("2006-01-02 15:04"))
	}
	if n := len(resp.PartialHours); n > 0 {
		if resp.Note != "" {
			resp.Note += "; "
		}
		resp.Note += fmt.Sprintf("%d of the hourly values (partial_hours) come from less than %.0f%% of their hour and are left out of the profiles and peaks",
			n, 100*HourMinCoverage)
	}
	if n := resp.inFirstBucket(); n > 0 {
		if resp.Note != "" {
			resp.Note += "; "
		}
		resp.Note += fmt.Sprintf("%d of the hourly p99s are in the histogram's first bucket: at most %g, how much less the buckets do not tell", n, *resp.FirstBucket)
	}
	b, err := json.Marshal(resp)
	if err != nil {
		httpapi.WriteError(w, httpapi.ErrInternal, fmt.Errorf("encode trends: %w", err))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(b)
}

// serviceLabel is the label svc names: service when a series of metric
// has service=svc in q's range (a look at the index, no samples read),
// else job (host metrics from the gmc agent or node_exporter carry job,
// not service).
func serviceLabel(ctx context.Context, q storage.Querier, svc, metric string) (string, error) {
	vals, _, err := q.LabelValues(ctx, ServiceLabel, nil,
		labels.MustNewMatcher(labels.MatchEqual, model.MetricNameLabel, metric),
		labels.MustNewMatcher(labels.MatchEqual, ServiceLabel, svc))
	if err != nil {
		return "", fmt.Errorf("look up series of %s with service %q: %w", metric, svc, err)
	}
	if len(vals) > 0 {
		return ServiceLabel, nil
	}
	return JobLabel, nil
}

// firstBucket is the lowest finite, positive le of the classic histogram's
// series in q's range; nil when none has one.
func firstBucket(ctx context.Context, q storage.Querier, label, svc, metric string) (*float64, error) {
	les, _, err := q.LabelValues(ctx, model.BucketLabel, nil,
		labels.MustNewMatcher(labels.MatchEqual, model.MetricNameLabel, metric),
		labels.MustNewMatcher(labels.MatchEqual, label, svc))
	if err != nil {
		return nil, fmt.Errorf("look up the buckets of %s: %w", metric, err)
	}
	var first *float64
	for _, s := range les {
		v, err := strconv.ParseFloat(s, 64)
		if err != nil || v <= 0 || math.IsInf(v, 0) || math.IsNaN(v) {
			continue
		}
		if first == nil || v < *first {
			first = &v
		}
	}
	return first, nil
}

// hasTwin reports whether metric, ending in _count or _sum, has its twin
// (_sum or _count) with the same service or job in q's range.
func hasTwin(ctx context.Context, q storage.Querier, label, svc, metric string) (bool, error) {
	twin := strings.TrimSuffix(metric, "_count") + "_sum"
	if strings.HasSuffix(metric, "_sum") {
		twin = strings.TrimSuffix(metric, "_sum") + "_count"
	}
	vals, _, err := q.LabelValues(ctx, model.MetricNameLabel, nil,
		labels.MustNewMatcher(labels.MatchEqual, model.MetricNameLabel, twin),
		labels.MustNewMatcher(labels.MatchEqual, label, svc))
	if err != nil {
		return false, fmt.Errorf("look up %s: %w", twin, err)
	}
	return len(vals) > 0, nil
}

// censor withholds the week-over-week change and the forecast when most
// hourly p99s are in the classic histogram's first bucket: there
// histogram_quantile interpolates from 0, so their level and slope are the
// interpolation's (a 9.94 µs p99 "−0.00111 ns / day ± 0.0005", R² 0.195,
// where the native histogram gave 3.4–4.2 µs, t-user13 F3).
func (r *Response) censor() {
	n, in := len(r.Series), r.inFirstBucket()
	if r.FirstBucket == nil || n == 0 || 2*in <= n {
		return
	}
	why := fmt.Sprintf("%d of the window's %d hourly p99s are in the histogram's first bucket (at most %g), where the quantile is interpolated from 0: not a measurement", in, n, *r.FirstBucket)
	a := &r.Analysis
	a.WeekOverWeek.Change, a.WeekOverWeek.Reason = nil, why
	f := &a.Forecast
	f.Status, f.Reason = ForecastNotMeasurable, why
	f.SlopePerDay, f.Current, f.RMSE, f.SlopeStdErr, f.R2 = 0, 0, 0, 0, 0
	f.ReachesAt, f.ReachesEarliest, f.ReachesLatest = nil, nil, nil
}

// ForecastNotMeasurable is the forecast's status when its values are
// below what the histogram's buckets measure (Response.censor).
const ForecastNotMeasurable = "not_measurable"

// inFirstBucket counts the hourly values at or below FirstBucket.
func (r Response) inFirstBucket() int {
	if r.FirstBucket == nil {
		return 0
	}
	n := 0
	for _, p := range r.Series {
		if p[1] <= *r.FirstBucket*(1+1e-9) {
			n++
		}
	}
	return n
}

// isNative reports whether the selected series hold native histograms:
// the first sample of the first series in [mint, maxt] (q's range) is one.
func isNative(ctx context.Context, q storage.Querier, mint, maxt int64, label, svc, metric string) (bool, error) {
	ss := q.Select(ctx, false, &storage.SelectHints{Start: mint, End: maxt},
		labels.MustNewMatcher(labels.MatchEqual, model.MetricNameLabel, metric),
		labels.MustNewMatcher(labels.MatchEqual, label, svc))
	var it chunkenc.Iterator
	for ss.Next() {
		it = ss.At().Iterator(it)
		switch it.Seek(mint) {
		case chunkenc.ValHistogram, chunkenc.ValFloatHistogram:
			return true, nil
		case chunkenc.ValFloat:
			return false, nil
		}
		if err := it.Err(); err != nil {
			return false, fmt.Errorf("read %s: %w", metric, err)
		}
	}
	return false, ss.Err()
}

// hourly evaluates expr at every whole hour in [start, end].
func (h *Handler) hourly(ctx context.Context, expr string, start, end time.Time) ([]Point, error) {
	q, err := tier.Engine(h.opts.Engine).NewRangeQuery(ctx, h.opts.Queryable, nil, expr, start, end, Step)
	var m promql.Matrix
	if err := run(ctx, expr, q, err, func(res *promql.Result) (err error) { m, err = res.Matrix(); return err }); err != nil {
		return nil, err
	}
	var out []Point
	for _, s := range m {
		for _, p := range s.Floats {
			if math.IsNaN(p.F) || math.IsInf(p.F, 0) {
				continue
			}
			out = append(out, Point{T: time.UnixMilli(p.T).UTC(), V: p.F})
		}
	}
	return out, nil
}

// markPartial sets Partial on the points whose hour the raw samples of the
// selected series cover less than HourMinCoverage of, from sample to
// sample at most PromQL's lookback (5m) apart, as the SLA coverage counts
// (span.Read: chunk time ranges, so a month of per-second samples is not
// decoded): 4 minutes of samples cover 4 minutes of their hour, and a
// hole longer than the lookback is uncovered. Hours the raw samples do not reach at all
// (older than the raw data's retention: the values come from a
// downsampled tier) are taken as whole.
func (h *Handler) markPartial(ctx context.Context, label, svc, metric string, points []Point) error {
	hour, look := Step.Milliseconds(), lookback.Milliseconds()
	raw := h.opts.Raw
	if raw == nil {
		raw = h.opts.Queryable
	}
	sels := [][]*labels.Matcher{{
		labels.MustNewMatcher(labels.MatchEqual, model.MetricNameLabel, metric),
		labels.MustNewMatcher(labels.MatchEqual, label, svc),
	}}
	// A sample up to a lookback before the first hour covers its start.
	spans, err := span.Read(ctx, raw, sels, points[0].T.UnixMilli()-hour-look, points[len(points)-1].T.UnixMilli(), look)
	if err != nil {
		return fmt.Errorf("read the spans of %s: %w", metric, err)
	}
	spans = span.Extend(spans, points[len(points)-1].T.UnixMilli(), look)
	for i := range points {
		e := points[i].T.UnixMilli()
		if c := float64(span.Covered(spans, e-hour, e)) / float64(hour); c > 0 && c < HourMinCoverage {
			points[i].Partial = true
		}
	}
	return nil
}

// lookback is PromQL's default lookback: how long a sample covers after it.
const lookback = 5 * time.Minute

// currentHour evaluates the hour in progress at now: Expr's figure over
// (from, now], from the last whole hour or, when the data begin later (a
// young install), from the first sample in the hour, so a rate is not
// diluted by the minutes before the data. Nil when the hour has no value
// yet (a counter needs two samples in it).
func (h *Handler) currentHour(ctx context.Context, label, svc, metric, kind, agg string, end, now time.Time) (*CurrentHour, error) {
	if !now.After(end) {
		return nil, nil
	}
	first, ok, err := h.firstSample(ctx, label, svc, metric, end, now)
	if err != nil || !ok {
		return nil, err
	}
	// Ranges are open on the left: start 1 ms before the first sample.
	from := end
	if f := first.Add(-time.Millisecond); f.After(end) {
		from = f
	}
	rng := now.Sub(from).Milliseconds()
	expr := exprOver(label, svc, metric, kind, agg, strconv.FormatInt(rng, 10)+"ms")
	q, err := tier.Engine(h.opts.Engine).NewInstantQuery(ctx, h.opts.Queryable, nil, expr, now)
	var v promql.Vector
	if err := run(ctx, expr, q, err, func(res *promql.Result) (err error) { v, err = res.Vector(); return err }); err != nil {
		return nil, err
	}
	if len(v) == 0 || v[0].H != nil || math.IsNaN(v[0].F) || math.IsInf(v[0].F, 0) {
		return nil, nil
	}
	return &CurrentHour{Start: float64(from.UnixMilli()) / 1000, End: float64(now.UnixMilli()) / 1000,
		Seconds: float64(rng) / 1000, Expr: expr, Value: v[0].F}, nil
}

// run executes q, built from expr (err: the engine's error building it),
// and hands its result to read before q is closed. A query that does not
// parse is bad data; one that fails to run, an execution error.
func run(ctx context.Context, expr string, q promql.Query, err error, read func(*promql.Result) error) error {
	if err != nil {
		return &httpapi.Error{Type: httpapi.ErrBadData, Err: fmt.Errorf("parse %s: %w", expr, err)}
	}
	defer q.Close()
	res := q.Exec(ctx)
	if res.Err != nil {
		return &httpapi.Error{Type: httpapi.ErrExec, Err: fmt.Errorf("run %s: %w", expr, res.Err)}
	}
	if err := read(res); err != nil {
		return fmt.Errorf("read result of %s: %w", expr, err)
	}
	return nil
}

// firstSample is the time of the first sample of the selected series in
// (from, to]; false when there is none.
func (h *Handler) firstSample(ctx context.Context, label, svc, metric string, from, to time.Time) (time.Time, bool, error) {
	mint, maxt := from.UnixMilli()+1, to.UnixMilli()
	q, err := h.opts.Queryable.Querier(mint, maxt)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("open querier: %w", err)
	}
	defer q.Close()
	ss := q.Select(ctx, false, &storage.SelectHints{Start: mint, End: maxt},
		labels.MustNewMatcher(labels.MatchEqual, model.MetricNameLabel, metric),
		labels.MustNewMatcher(labels.MatchEqual, label, svc))
	first, found := int64(math.MaxInt64), false
	var it chunkenc.Iterator
	for ss.Next() {
		it = ss.At().Iterator(it)
		if it.Seek(mint) != chunkenc.ValNone {
			if t := it.AtT(); t <= maxt && t < first {
				first, found = t, true
			}
		}
		if err := it.Err(); err != nil {
			return time.Time{}, false, fmt.Errorf("read %s: %w", metric, err)
		}
	}
	if err := ss.Err(); err != nil {
		return time.Time{}, false, fmt.Errorf("read %s: %w", metric, err)
	}
	return time.UnixMilli(first), found, nil
}

// KindP99 is the kind of a classic histogram's _bucket metric (and of a
// native histogram's metric): each hourly
// value is the worst one-minute p99 within the hour (from the 1m tier), so
// a one-minute latency incident is its hour's value, where the p99 over
// the hour (or the buckets' summed rates, the counter reading) left it out.
const KindP99 = "p99"

// KindOf guesses a metric's kind from its name, by Prometheus's naming
// conventions: counters end in _total, _count or _sum; a classic
// histogram's _bucket metric is read as its p99 (KindP99).
func KindOf(metric string) string {
	if strings.HasSuffix(metric, "_bucket") {
		return KindP99
	}
	for _, suf := range []string{"_total", "_count", "_sum"} {
		if strings.HasSuffix(metric, suf) {
			return "counter"
		}
	}
	return "gauge"
}

// DefaultLimit is the level a resource's forecast aims at when the request
// names none: 0 for free space (node_filesystem_avail_bytes,
// node_memory_MemAvailable_bytes and the like: the disk or memory is full).
func DefaultLimit(metric string) *float64 {
	if freeSpace(metric) {
		zero := 0.0
		return &zero
	}
	return nil
}

// freeSpace tells a metric of free space (bytes available), whose limit is
// a floor.
func freeSpace(metric string) bool {
	for _, s := range []string{"_avail_bytes", "_free_bytes", "_available_bytes", "MemAvailable_bytes", "MemFree_bytes"} {
		if strings.HasSuffix(metric, s) {
			return true
		}
	}
	return false
}

// The labels naming what a trend is of: service first, then job (host
// metrics from the agent or node_exporter have no service label).
const (
	ServiceLabel = "service"
	JobLabel     = "job"
)

// Expr is the PromQL of the hourly values: a counter's per-second rate over
// each hour, a gauge's average over each hour, combined over the series
// whose label (service or job) is svc with agg.
func Expr(label, svc, metric, kind, agg string) string {
	return exprOver(label, svc, metric, kind, agg, "1h")
}

// exprOver is Expr over a range other than the hour.
func exprOver(label, svc, metric, kind, agg, rng string) string {
	sel := fmt.Sprintf("{__name__=%s,%s=%s}", strconv.Quote(metric), label, strconv.Quote(svc))
	if kind == KindP99 {
		// Each whole minute's p99 over the service's series (agg does not
		// apply: one quantile of their merged buckets), read from the 1m
		// tier (a subquery at 1m is on whole minutes), the worst of them.
		// A native histogram (no _bucket metric) merges without le.
		tsel := fmt.Sprintf("{__name__=%s,%s=%s,__tier__=\"1m\"}", strconv.Quote(metric), label, strconv.Quote(svc))
		by := "by (le) "
		if !strings.HasSuffix(metric, "_bucket") {
			by = ""
		}
		return fmt.Sprintf("max_over_time(histogram_quantile(0.99, sum %s(rate(%s[1m])))[%s:1m])", by, tsel, rng)
	}
	fn := "avg_over_time"
	if kind == "counter" {
		fn = "rate"
	}
	return fmt.Sprintf("%s(%s(%s[%s]))", agg, fn, sel, rng)
}

func spanName(d time.Duration) string { return strconv.Itoa(int(d/(24*time.Hour))) + "d" }

func badParam(w http.ResponseWriter, name string, err error) {
	httpapi.WriteError(w, httpapi.ErrBadData, fmt.Errorf("invalid parameter %q: %w", name, err))
}
