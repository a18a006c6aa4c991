package sdk

import (
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/snappy"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/prompb"
)

// encodeRegistry gathers reg and encodes it as the Pusher does, then decodes
// it with prompb.
func encodeRegistry(t *testing.T, reg prometheus.Gatherer, ext map[string]string, classic bool) *prompb.WriteRequest {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var e encoder
	for k, v := range ext {
		e.external = append(e.external, label{k, v})
	}
	e.appendFamilies(mfs, 1_700_000_000_123, classic)
	raw, err := snappy.Decode(nil, snappy.Encode(nil, e.buf))
	if err != nil {
		t.Fatal(err)
	}
	var wr prompb.WriteRequest
	if err := wr.Unmarshal(raw); err != nil {
		t.Fatalf("prompb cannot decode the SDK's request: %v", err)
	}
	if len(wr.Timeseries) != e.nSeries {
		t.Fatalf("decoded %d series, encoded %d", len(wr.Timeseries), e.nSeries)
	}
	return &wr
}

func labelMap(ts prompb.TimeSeries) map[string]string {
	m := map[string]string{}
	for _, l := range ts.Labels {
		m[l.Name] = l.Value
	}
	return m
}

func TestEncodeMatchesPrompb(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := NewMetrics(MetricsOptions{Service: "matching-engine", Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	latencies := []time.Duration{120 * time.Microsecond, 300 * time.Microsecond, 450 * time.Microsecond}
	for _, d := range latencies {
		m.ObserveOrder(d, ResultSuccess)
	}
	m.ObserveOrder(2*time.Millisecond, ResultReject)
	m.ObserveRequest("/orders", 80*time.Microsecond)
	m.SetPnL("acc-1", "momo", -1234.5)
	m.SetExposure("acc-1", "momo", 1e6, -2.5e5)
	m.SetLimit("acc-1", "momo", ExposureGross, 4e6)
	m.SetAccount("acc-1", "EUR", AccountPaper)
	m.SetAccount("acc-1", "USD", AccountLive) // replaces the first
	sum := prometheus.NewSummary(prometheus.SummaryOpts{Name: "queue_wait_seconds", Help: "h", Objectives: map[float64]float64{0.5: 0.01}})
	sum.Observe(2)
	reg.MustRegister(sum)

	wr := encodeRegistry(t, reg, map[string]string{"instance": "host-1", "service": "not-used"}, true)

	byKey := map[string]prompb.TimeSeries{}
	for _, ts := range wr.Timeseries {
		names := make([]string, len(ts.Labels))
		for i, l := range ts.Labels {
			names[i] = l.Name
		}
		if !slices.IsSorted(names) || len(slices.Compact(slices.Clone(names))) != len(names) {
			t.Errorf("labels not sorted and unique: %v", names)
		}
		lm := labelMap(ts)
		if lm["instance"] != "host-1" {
			t.Errorf("series %v lacks the external label instance", lm)
		}
		if lm["service"] != "matching-engine" && lm["__name__"] != "queue_wait_seconds" && !strings.HasPrefix(lm["__name__"], "queue_wait_seconds") {
			t.Errorf("series %v: service label %q, want the metric's own", lm, lm["service"])
		}
		key := lm["__name__"] + "|" + lm["result"] + lm["le"] + lm["kind"] + lm["quantile"] + lm["currency"] + lm["mode"]
		byKey[key] = ts
	}

	floats := []struct {
		key  string
		want float64
	}{
		{"gmc_orders_total|success", 3},
		{"gmc_orders_total|reject", 1},
		{"gmc_orders_total|error", 0},
		{"gmc_requests_total|", 1},
		{"gmc_pnl|", -1234.5},
		{"gmc_risk_exposure|gross", 1e6},
		{"gmc_risk_exposure|net", -2.5e5},
		{"gmc_risk_limit|gross", 4e6},
		{"gmc_account_info|USDlive", 1},
		{"gmc_order_latency_seconds_count|", 4},
		{"gmc_order_latency_seconds_bucket|0.0003", 2},
		{"gmc_order_latency_seconds_bucket|0.0005", 3},
		{"gmc_order_latency_seconds_bucket|+Inf", 4},
		{"queue_wait_seconds|0.5", 2},
		{"queue_wait_seconds_sum|", 2},
		{"queue_wait_seconds_count|", 1},
	}
	if _, ok := byKey["gmc_account_info|EURpaper"]; ok {
		t.Error("SetAccount kept the account's earlier currency and mode beside the new ones")
	}
	for _, f := range floats {
		ts, ok := byKey[f.key]
		if !ok {
			t.Errorf("series %s missing", f.key)
			continue
		}
		if len(ts.Samples) != 1 || ts.Samples[0].Value != f.want || ts.Samples[0].Timestamp != 1_700_000_000_123 {
			t.Errorf("series %s: samples %v, want one of value %v at 1700000000123", f.key, ts.Samples, f.want)
		}
	}
	if got := byKey["gmc_order_latency_seconds_sum|"].Samples[0].Value; math.Abs(got-0.00287) > 1e-12 {
		t.Errorf("latency sum %v, want 0.00287", got)
	}

	nh, ok := byKey["gmc_order_latency_seconds|"]
	if !ok || len(nh.Histograms) != 1 || len(nh.Samples) != 0 {
		t.Fatalf("native histogram series: %+v", nh)
	}
	if nh.Histograms[0].Timestamp != 1_700_000_000_123 {
		t.Errorf("native histogram timestamp %d", nh.Histograms[0].Timestamp)
	}
	h := nh.Histograms[0].ToIntHistogram()
	if err := h.Validate(); err != nil {
		t.Fatalf("native histogram invalid: %v", err)
	}
	if h.Count != 4 || h.Schema != 5 || math.Abs(h.Sum-0.00287) > 1e-12 {
		t.Errorf("native histogram count %d schema %d sum %v, want 4, 5, 0.00287", h.Count, h.Schema, h.Sum)
	}
	// Each observation lies in a populated bucket no wider than the schema allows.
	observed := []float64{120e-6, 300e-6, 450e-6, 2e-3}
	var total uint64
	for it := h.PositiveBucketIterator(); it.Next(); {
		b := it.At()
		total += b.Count
		if b.Upper/b.Lower > math.Pow(2, 1.0/32)+1e-12 {
			t.Errorf("bucket (%g, %g] wider than schema 5", b.Lower, b.Upper)
		}
		n := 0
		for _, v := range observed {
			if v > b.Lower && v <= b.Upper {
				n++
			}
		}
		if uint64(n) != b.Count {
			t.Errorf("bucket (%g, %g] holds %d, want %d", b.Lower, b.Upper, b.Count, n)
		}
	}
	if total != 4 {
		t.Errorf("native buckets hold %d observations, want 4", total)
	}
}

func TestEncodeWithoutClassic(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := NewMetrics(MetricsOptions{Service: "s", Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	m.ObserveOrder(time.Millisecond, ResultSuccess)
	wr := encodeRegistry(t, reg, nil, false)
	for _, ts := range wr.Timeseries {
		if n := seriesName(ts); strings.HasPrefix(n, "gmc_order_latency_seconds_") {
			t.Errorf("classic series %s sent with classic histograms off", n)
		}
	}
	// An empty native histogram (no observations yet) is still valid.
	for _, ts := range wr.Timeseries {
		if seriesName(ts) == "gmc_request_latency_seconds" {
			t.Errorf("a histogram vector without children produced a series")
		}
		for _, hp := range ts.Histograms {
			if err := hp.ToIntHistogram().Validate(); err != nil {
				t.Errorf("%s: %v", seriesName(ts), err)
			}
		}
	}
}

func TestEncodeClassicOnlyHistogram(t *testing.T) {
	reg := prometheus.NewRegistry()
	h := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "h_seconds", Help: "h", Buckets: []float64{1, 2}})
	h.Observe(1.5)
	reg.MustRegister(h)
	wr := encodeRegistry(t, reg, nil, false)
	var got []string
	for _, ts := range wr.Timeseries {
		if len(ts.Histograms) > 0 {
			t.Errorf("classic-only histogram sent as native")
		}
		got = append(got, labelMap(ts)["__name__"]+"{"+labelMap(ts)["le"]+"}="+formatFloat(ts.Samples[0].Value))
	}
	want := []string{"h_seconds_bucket{1}=0", "h_seconds_bucket{2}=1", "h_seconds_bucket{+Inf}=1", "h_seconds_sum{}=1.5", "h_seconds_count{}=1"}
	if !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

// TestStageLabel: MetricsOptions.Stage labels every metric of the service
// (the dashboard counts the desk's orders at stage="entry"); unset, no
// stage label.
func TestStageLabel(t *testing.T) {
	for _, stage := range []string{StageEntry, ""} {
		reg := prometheus.NewRegistry()
		m, err := NewMetrics(MetricsOptions{Service: "gw", Stage: stage, Registerer: reg})
		if err != nil {
			t.Fatal(err)
		}
		m.ObserveOrder(time.Millisecond, ResultSuccess)
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			for _, met := range mf.GetMetric() {
				got, has := "", false
				for _, l := range met.GetLabel() {
					if l.GetName() == "stage" {
						got, has = l.GetValue(), true
					}
				}
				if got != stage || has != (stage != "") {
					t.Errorf("Stage %q: %s has stage %q (set %v)", stage, mf.GetName(), got, has)
				}
			}
		}
	}
}
