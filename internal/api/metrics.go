package api

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/tsdb/chunkenc"

	"github.com/gmc-dev/gmc/internal/httpapi"
	"github.com/gmc-dev/gmc/internal/tier"
)

// Latest is the newest sample of one series.
type Latest struct {
	// Value is set for float samples, Histogram for native histograms.
	Value       *Float     `json:"value,omitempty"`
	Histogram   *Histogram `json:"histogram,omitempty"`
	TimestampMs int64      `json:"timestamp_ms"`
	Timestamp   string     `json:"timestamp"`
	// Labels are the series' labels besides __name__, service and instance.
	Labels map[string]string `json:"labels"`
}

// ServiceMetricsResponse is the body of GET /metrics/{service}.
type ServiceMetricsResponse struct {
	Service string `json:"service"`
	TimeMs  int64  `json:"time_ms"`
	Time    string `json:"time"`
	// LookbackSeconds: samples older than this before Time are not reported.
	LookbackSeconds float64 `json:"lookback_seconds"`
	// Instances maps instance → metric name → one entry per series (a metric
	// has several series when it has extra labels), sorted by labels.
	// Series without an instance label are under "".
	Instances map[string]map[string][]Latest `json:"instances"`
}

// ServiceMetrics is GET /metrics/{service}: the latest value of every metric
// of the service, per instance, within the lookback window. A series whose
// newest sample is a staleness marker has ended and is left out.
func (a *API) ServiceMetrics(w http.ResponseWriter, r *http.Request) {
	svc := r.PathValue("service")
	if svc == "" {
		badParam(w, "service", errors.New("must not be empty"))
		return
	}
	ctx := r.Context()
	names, err := a.serviceMetricNames(ctx, svc)
	if err != nil {
		internalError(w, "read service", err)
		return
	}
	if len(names) == 0 {
		notKnown(w, svc)
		return
	}
	now := a.opts.Now()
	nowMs := now.UnixMilli()
	q, err := a.opts.Queryable.Querier(nowMs-a.opts.Lookback.Milliseconds(), nowMs)
	if err != nil {
		internalError(w, "open querier", err)
		return
	}
	defer q.Close()
	resp := ServiceMetricsResponse{
		Service:         svc,
		TimeMs:          nowMs,
		Time:            rfc3339(nowMs),
		LookbackSeconds: a.opts.Lookback.Seconds(),
		Instances:       map[string]map[string][]Latest{},
	}
	set := q.Select(ctx, true, nil, serviceMatcher(svc))
	var it chunkenc.Iterator
	for set.Next() {
		s := set.At()
		it = s.Iterator(it)
		l, ok := lastSample(it)
		if !ok {
			continue
		}
		l.Labels = extraLabels(s.Labels())
		inst := s.Labels().Get("instance")
		name := s.Labels().Get(model.MetricNameLabel)
		if resp.Instances[inst] == nil {
			resp.Instances[inst] = map[string][]Latest{}
		}
		resp.Instances[inst][name] = append(resp.Instances[inst][name], l)
	}
	if err := set.Err(); err != nil {
		internalError(w, fmt.Sprintf("read series of service %q", svc), err)
		return
	}
	a.writeJSON(w, resp)
}

// lastSample reads it to its end and returns the newest sample, unless that
// is a staleness marker.
func lastSample(it chunkenc.Iterator) (Latest, bool) {
	var (
		l  Latest
		ok bool
	)
	for typ := it.Next(); typ != chunkenc.ValNone; typ = it.Next() {
		switch typ {
		case chunkenc.ValFloat:
			t, v := it.At()
			if value.IsStaleNaN(v) {
				ok = false
				continue
			}
			f := Float(v)
			l, ok = Latest{Value: &f, TimestampMs: t}, true
		case chunkenc.ValHistogram, chunkenc.ValFloatHistogram:
			t, fh := it.AtFloatHistogram(nil)
			if value.IsStaleNaN(fh.Sum) {
				ok = false
				continue
			}
			l, ok = Latest{Histogram: &Histogram{Count: Float(fh.Count), Sum: Float(fh.Sum)}, TimestampMs: t}, true
		}
	}
	if ok {
		l.Timestamp = rfc3339(l.TimestampMs)
	}
	return l, ok && it.Err() == nil
}

// HistorySeries is one series of a metric over the history range.
type HistorySeries struct {
	Instance string            `json:"instance"`
	Labels   map[string]string `json:"labels"`
	// Points are [unix_seconds, value] pairs, value a number (or "NaN",
	// "+Inf", "-Inf"), one per step where the series had a sample within
	// the lookback window.
	Points [][2]any `json:"points"`
	// Histograms are [unix_seconds, {"count","sum"}] for native histograms.
	Histograms [][2]any `json:"histograms,omitempty"`
}

// ServiceHistoryResponse is the body of GET /metrics/history/{service}.
type ServiceHistoryResponse struct {
	Service     string  `json:"service"`
	Start       string  `json:"start"`
	End         string  `json:"end"`
	StepSeconds float64 `json:"step_seconds"`
	// Metrics maps metric name → its series. A requested metric without
	// data in the range maps to an empty list.
	Metrics map[string][]HistorySeries `json:"metrics"`
}

// ServiceHistory is GET /metrics/history/{service}?metric=&start=&end=&step=:
// the service's metrics (all, or the comma-separated list in metric) over
// [start, end] at step, through a PromQL range query. Defaults: end now,
// start an hour before end, step so that a series has at most 500 points
// (at least 1s).
func (a *API) ServiceHistory(w http.ResponseWriter, r *http.Request) {
	svc := r.PathValue("service")
	if svc == "" {
		badParam(w, "service", errors.New("must not be empty"))
		return
	}
	start, end, step, ok := a.historyRange(w, r)
	if !ok {
		return
	}
	var wanted []string
	for _, m := range strings.Split(r.FormValue("metric"), ",") {
		if m = strings.TrimSpace(m); m == "" {
			continue
		}
		if !model.UTF8Validation.IsValidMetricName(m) {
			badParam(w, "metric", fmt.Errorf("%q is not a valid metric name", m))
			return
		}
		wanted = append(wanted, m)
	}
	ctx := r.Context()
	names, err := a.serviceMetricNames(ctx, svc)
	if err != nil {
		internalError(w, "read service", err)
		return
	}
	if len(names) == 0 {
		notKnown(w, svc)
		return
	}
	for _, m := range wanted {
		if _, found := slices.BinarySearch(names, m); !found {
			httpapi.WriteError(w, httpapi.ErrNotFound, fmt.Errorf("metric %q of service %q is not known: no series has __name__=%q, service=%q", m, svc, m, svc))
			return
		}
	}
	sel := fmt.Sprintf("{%s=%s}", ServiceLabel, strconv.Quote(svc))
	if len(wanted) > 0 {
		quoted := make([]string, len(wanted))
		for i, m := range wanted {
			quoted[i] = regexp.QuoteMeta(m)
		}
		sel = fmt.Sprintf("{%s=%s,__name__=~%s}", ServiceLabel, strconv.Quote(svc), strconv.Quote(strings.Join(quoted, "|")))
	}
	qry, err := tier.Engine(a.opts.Engine).NewRangeQuery(ctx, a.opts.Queryable, nil, sel, start, end, step)
	if err != nil {
		internalError(w, "build history query", err)
		return
	}
	defer qry.Close()
	res := qry.Exec(ctx)
	if res.Err != nil {
		httpapi.WriteError(w, httpapi.ErrExec, fmt.Errorf("run history query %s: %w", sel, res.Err))
		return
	}
	matrix, err := res.Matrix()
	if err != nil {
		internalError(w, "read history result", err)
		return
	}
	resp := ServiceHistoryResponse{
		Service:     svc,
		Start:       start.UTC().Format(time.RFC3339Nano),
		End:         end.UTC().Format(time.RFC3339Nano),
		StepSeconds: step.Seconds(),
		Metrics:     map[string][]HistorySeries{},
	}
	for _, m := range wanted {
		resp.Metrics[m] = []HistorySeries{}
	}
	for _, s := range matrix {
		hs := HistorySeries{
			Instance: s.Metric.Get("instance"),
			Labels:   extraLabels(s.Metric),
			Points:   make([][2]any, 0, len(s.Floats)),
		}
		for _, p := range s.Floats {
			hs.Points = append(hs.Points, [2]any{unixSeconds(p.T), Float(p.F)})
		}
		for _, p := range s.Histograms {
			hs.Histograms = append(hs.Histograms, [2]any{unixSeconds(p.T), Histogram{Count: Float(p.H.Count), Sum: Float(p.H.Sum)}})
		}
		name := s.Metric.Get(model.MetricNameLabel)
		resp.Metrics[name] = append(resp.Metrics[name], hs)
	}
	a.writeJSON(w, resp)
}

// historyRange reads start, end and step with their defaults; on a bad
// parameter it answers 400 and returns false.
func (a *API) historyRange(w http.ResponseWriter, r *http.Request) (start, end time.Time, step time.Duration, ok bool) {
	end = a.opts.Now()
	if v := r.FormValue("end"); v != "" {
		t, err := httpapi.ParseTime(v)
		if err != nil {
			badParam(w, "end", err)
			return start, end, step, false
		}
		end = t
	}
	start = end.Add(-time.Hour)
	if v := r.FormValue("start"); v != "" {
		t, err := httpapi.ParseTime(v)
		if err != nil {
			badParam(w, "start", err)
			return start, end, step, false
		}
		start = t
	}
	if end.Before(start) {
		badParam(w, "end", errors.New("end must not be before start"))
		return start, end, step, false
	}
	if v := r.FormValue("step"); v != "" {
		d, err := httpapi.ParseDuration(v)
		if err != nil {
			badParam(w, "step", err)
			return start, end, step, false
		}
		if d <= 0 {
			badParam(w, "step", errors.New("must be positive"))
			return start, end, step, false
		}
		if end.Sub(start)/d > maxPointsPerSeries {
			badParam(w, "step", fmt.Errorf("%s gives more than %d points per series over %s; use a larger step", d, maxPointsPerSeries, end.Sub(start)))
			return start, end, step, false
		}
		return start, end, d, true
	}
	return start, end, defaultStep(end.Sub(start)), true
}

// defaultStep is the smallest whole-second step giving at most
// MaxHistoryPoints points over span (both ends included), at least 1s.
func defaultStep(span time.Duration) time.Duration {
	secs := math.Ceil(span.Seconds() / (MaxHistoryPoints - 1))
	return time.Duration(max(secs, 1)) * time.Second
}

// unixSeconds is a millisecond timestamp as Unix seconds.
func unixSeconds(ms int64) float64 { return float64(ms) / 1000 }
