package sdk

import (
	"math"
	"strconv"

	dto "github.com/prometheus/client_model/go"
)

// appendFamilies encodes gathered metric families as remote-write series, all
// stamped ts (milliseconds) unless a metric carries its own timestamp. It
// follows what a Prometheus scrape of the same families stores:
//   - counters, gauges, untyped: one float series each;
//   - summaries: name{quantile=…}, name_sum, name_count;
//   - histograms: a native histogram series under name when the histogram has
//     native buckets, and, when it has classic buckets and classic is true,
//     name_bucket{le=…} (cumulative, with le="+Inf"), name_sum and name_count.
func (e *encoder) appendFamilies(mfs []*dto.MetricFamily, ts int64, classic bool) {
	for _, mf := range mfs {
		name := mf.GetName()
		for _, m := range mf.GetMetric() {
			t := ts
			if m.TimestampMs != nil {
				t = m.GetTimestampMs()
			}
			lps := m.GetLabel()
			switch mf.GetType() {
			case dto.MetricType_COUNTER:
				e.floatSeries(name, lps, m.GetCounter().GetValue(), t)
			case dto.MetricType_GAUGE:
				e.floatSeries(name, lps, m.GetGauge().GetValue(), t)
			case dto.MetricType_UNTYPED:
				e.floatSeries(name, lps, m.GetUntyped().GetValue(), t)
			case dto.MetricType_SUMMARY:
				s := m.GetSummary()
				for _, q := range s.GetQuantile() {
					e.floatSeries(name, lps, q.GetValue(), t, label{"quantile", formatFloat(q.GetQuantile())})
				}
				e.floatSeries(name+"_sum", lps, s.GetSampleSum(), t)
				e.floatSeries(name+"_count", lps, float64(s.GetSampleCount()), t)
			case dto.MetricType_HISTOGRAM, dto.MetricType_GAUGE_HISTOGRAM:
				h := m.GetHistogram()
				gauge := mf.GetType() == dto.MetricType_GAUGE_HISTOGRAM
				native := isNativeHistogram(h)
				if native {
					e.nativeHistogramSeries(name, lps, h, gauge, t)
				}
				if !native || (classic && len(h.GetBucket()) > 0) {
					e.classicHistogram(name, lps, h, t)
				}
			}
		}
	}
}

// classicHistogram encodes the classic buckets of h.
func (e *encoder) classicHistogram(name string, lps []*dto.LabelPair, h *dto.Histogram, t int64) {
	count := float64(h.GetSampleCount())
	if h.SampleCountFloat != nil {
		count = h.GetSampleCountFloat()
	}
	sawInf := false
	for _, b := range h.GetBucket() {
		v := float64(b.GetCumulativeCount())
		if b.CumulativeCountFloat != nil {
			v = b.GetCumulativeCountFloat()
		}
		if math.IsInf(b.GetUpperBound(), +1) {
			sawInf = true
		}
		e.floatSeries(name+"_bucket", lps, v, t, label{"le", formatFloat(b.GetUpperBound())})
	}
	if !sawInf {
		e.floatSeries(name+"_bucket", lps, count, t, label{"le", "+Inf"})
	}
	e.floatSeries(name+"_sum", lps, h.GetSampleSum(), t)
	e.floatSeries(name+"_count", lps, count, t)
}

// formatFloat formats le and quantile values the way Prometheus's text format does.
func formatFloat(f float64) string {
	switch {
	case math.IsInf(f, +1):
		return "+Inf"
	case math.IsInf(f, -1):
		return "-Inf"
	case math.IsNaN(f):
		return "NaN"
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}
