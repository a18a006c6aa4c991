package query

import (
	"sort"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/promql"
)

// EngineMetrics are the engine's own metrics (prometheus_engine_*), kept
// as NewEngine registers them (EngineOptions.Metrics), so that a query
// evaluated outside the engine (direct.go) counts in them as the engine's
// own do: a panel of prometheus_engine_query_duration_seconds or
// prometheus_engine_queries left out every dashboard's sum-by-rate query.
// A nil *EngineMetrics, or one whose engine registered nothing (no
// Registerer), counts nothing.
type EngineMetrics struct {
	queries   prometheus.Gauge       // prometheus_engine_queries
	summary   *prometheus.SummaryVec // prometheus_engine_query_duration_seconds{slice}
	histogram *prometheus.HistogramVec
}

// Engine metric names (promql.NewEngine's, v0.316).
const (
	engineQueries   = "prometheus_engine_queries"
	engineSummary   = "prometheus_engine_query_duration_seconds"
	engineHistogram = "prometheus_engine_query_duration_histogram_seconds"
)

// keep takes c when it is one of the engine's metrics EngineMetrics holds.
func (m *EngineMetrics) keep(c prometheus.Collector) {
	switch v := c.(type) {
	case *prometheus.SummaryVec:
		if metricName(c) == engineSummary {
			m.summary = v
		}
	case *prometheus.HistogramVec:
		if metricName(c) == engineHistogram {
			m.histogram = v
		}
	case prometheus.Gauge:
		if metricName(c) == engineQueries {
			m.queries = v
		}
	}
}

// metricName is the fully-qualified name of c's first metric, from its
// Desc's String (client_golang exports no accessor): "" if none.
func metricName(c prometheus.Collector) string {
	ch := make(chan *prometheus.Desc, 16)
	go func() { c.Describe(ch); close(ch) }()
	var first *prometheus.Desc
	for d := range ch {
		if first == nil {
			first = d
		}
	}
	if first == nil {
		return ""
	}
	_, rest, ok := strings.Cut(first.String(), `fqName: "`)
	if !ok {
		return ""
	}
	name, _, _ := strings.Cut(rest, `"`)
	return name
}

// running counts a query in prometheus_engine_queries until the returned
// func is called.
func (m *EngineMetrics) running() func() {
	if m == nil || m.queries == nil {
		return func() {}
	}
	m.queries.Inc()
	return m.queries.Dec
}

// observe records d as the engine's slice (prepare_time, inner_eval,
// result_sort) of one query.
func (m *EngineMetrics) observe(slice string, d time.Duration) {
	if m == nil {
		return
	}
	if m.summary != nil {
		m.summary.WithLabelValues(slice).Observe(d.Seconds())
	}
	if m.histogram != nil {
		m.histogram.WithLabelValues(slice).Observe(d.Seconds())
	}
}

// answered sorts out, the answer of a query evaluated outside the engine,
// as the engine sorts a range query's, and records its slices as the
// engine's: prepare_time from began to prepared, inner_eval from there to
// now, result_sort the sort.
func (m *EngineMetrics) answered(out promql.Matrix, began, prepared time.Time) {
	evaluated := time.Now()
	sort.Sort(out)
	m.observe("prepare_time", prepared.Sub(began))
	m.observe("inner_eval", evaluated.Sub(prepared))
	m.observe("result_sort", time.Since(evaluated))
}

// capturingRegisterer registers on its Registerer and keeps the engine's
// metrics in m.
type capturingRegisterer struct {
	prometheus.Registerer
	m *EngineMetrics
}

func (r capturingRegisterer) Register(c prometheus.Collector) error {
	if err := r.Registerer.Register(c); err != nil {
		return err
	}
	r.m.keep(c)
	return nil
}

func (r capturingRegisterer) MustRegister(cs ...prometheus.Collector) {
	r.Registerer.MustRegister(cs...)
	for _, c := range cs {
		r.m.keep(c)
	}
}
