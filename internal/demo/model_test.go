package demo

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/gmc-dev/gmc/sdk"
)

// joinFamily is one latency family of the live desk as the history
// stores it: a selector of its histogram and whether it has the native
// one (pushed with the SDK) or only classic buckets (market-data,
// scraped).
type joinFamily struct {
	family, metric, sel string
	native              bool
	steady              bool // its rate does not follow the desk's day (a replay, the feed)
}

func joinFamilies() []joinFamily {
	fs := []joinFamily{
		{requestFamily(ServiceGateway, endpointCancel), sdk.MetricRequestLatency, `{service="order-gateway", endpoint="cancel"}`, true, false},
		{requestFamily(ServiceBacktester, endpointReplayDay), sdk.MetricRequestLatency, `{service="backtester", endpoint="replay-day"}`, true, true},
		{requestFamily(ServiceMarketData, endpointBatch), sdk.MetricRequestLatency, `{service="market-data", endpoint="batch"}`, false, true},
		{feedFamily, feedLatencyMetric, `{service="market-data"}`, false, true},
	}
	for _, svc := range []string{ServiceGateway, ServiceEngine, ServiceRisk, "strategy-momentum", "strategy-mean-reversion", "strategy-market-making"} {
		fs = append(fs, joinFamily{orderFamily(svc), sdk.MetricOrderLatency, fmt.Sprintf(`{service=%q}`, svc), true, false})
	}
	return fs
}

// TestHistoryJoinsTheLiveLatency: the history's latencies were a table
// fitted on another machine (its order p50 1.5-2x and p99 1.7x the live
// desk's at the join on this one, t-user7 and this sitting's demo), and it
// had no cancel, feed, batch or replay-day latency, which the live
// services measure (their charts began at the join). Backfill now draws
// every family from the live desk's own measurement (Calibrate: `gmc demo
// --history` runs the desk, unconnected, for 10 s before writing). The
// desk runs for 4 s, a day of history is written from what it measured,
// and for every family the history's last hour agrees with the live run:
// p50 and p90 within 10 % and p99 within 20 % where the family has a
// native histogram (pushed), the mean within 10 % where it has classic
// buckets only (market-data, scraped), and the rate of observations
// within 5 %. (A later live run differs from this one by what the machine
// does meanwhile: two 4 s runs at load ~20 here differed by up to 1.7x
// in an order p90 and 3.8x in the feed's lateness, which is the machine's
// scheduling delay.)
func TestHistoryJoinsTheLiveLatency(t *testing.T) {
	ctx := context.Background()
	live, err := Calibrate(ctx, 4*time.Second, 1)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	end := time.Now().Truncate(time.Minute)
	if _, err := Backfill(ctx, HistoryOptions{Dir: dir, End: end, Span: 24 * time.Hour, Seed: 1, Host: "h1", Model: live}); err != nil {
		t.Fatal(err)
	}
	_, query := openHistory(t, dir)
	one := func(expr string) float64 {
		t.Helper()
		v := query(expr, end)
		if len(v) != 1 {
			t.Fatalf("history: %s: %v, want one value (the family is missing)", expr, v)
		}
		return v[0].F
	}
	ratio := func(a, b float64) float64 { return math.Max(a/b, b/a) }
	var hourLoad float64
	for i := range 60 {
		hourLoad += deskLoad(end.Add(-time.Duration(i)*time.Minute), end) / deskLoad(end, end) / 60
	}
	for _, f := range joinFamilies() {
		lm, ok := live.latency[f.family].(*measured)
		if !ok {
			t.Errorf("%s: the live desk measured no latency", f.family)
			continue
		}
		if f.native {
			for _, q := range []struct {
				q, tol float64
			}{{0.5, 1.10}, {0.9, 1.10}, {0.99, 1.20}} {
				h := one(fmt.Sprintf(`histogram_quantile(%g, sum(rate(%s%s[1h])))`, q.q, f.metric, f.sel))
				if l := lm.quantile(q.q); ratio(h, l) > q.tol {
					t.Errorf("%s: p%g %.3g s in the history's last hour, %.3g s live: %.2fx apart, want within %.2fx", f.family, 100*q.q, h, l, ratio(h, l), q.tol)
				}
			}
		} else {
			h := one(fmt.Sprintf(`sum(rate(%s_sum%s[1h])) / sum(rate(%s_count%s[1h]))`, f.metric, f.sel, f.metric, f.sel))
			if l := lm.mean(1); ratio(h, l) > 1.10 {
				t.Errorf("%s: mean %.3g s in the history's last hour, %.3g s live: %.2fx apart, want within 1.10x", f.family, h, l, ratio(h, l))
			}
		}
		// The history's rate follows the desk's day (deskLoad), ending at the
		// live rate: over its last hour it is the live rate times that hour's
		// mean load over the load at its end (the clean-clone CI run at 06:50
		// UTC, inside the 06:30-07:30 ramp: 2613/s beside 2992/s live, the
		// hour's load 0.87 of the end's); a replay's and the feed's rates are steady.
		n := live.observedRate(f.family)
		if !f.steady {
			n *= hourLoad
		}
		if h := one(fmt.Sprintf(`sum(rate(%s_count%s[1h]))`, f.metric, f.sel)); ratio(h, n) > 1.05 {
			t.Errorf("%s: %.4g a second in the history's last hour, %.4g expected from the live rate and the desk's day: want within 5 %%", f.family, h, n)
		}
	}
	if g := one(`sum(increase(` + feedGapsMetric + `{service="market-data"}[1d]))`); g != 0 {
		t.Errorf("history: %v feed gaps in a day, want none (live has none)", g)
	}
}

// TestHistoryDrawsTheModel: the history's latency histograms are the
// model's distribution, exactly enough to chart: from a measured model
// (a native histogram of a known log-normal mix) the history's native
// quantiles over its last hour are the model's within 3 %, and the share
// under every classic bucket bound within 0.01, for a pushed family
// (native and classic) and a scraped one (classic only).
func TestHistoryDrawsTheModel(t *testing.T) {
	shape := latencyShape{30e-6, 0.6, 0.05, 8, 0.9}
	h := nativeOf(shape, 200_000)
	m := fromNative(h)
	if m == nil {
		t.Fatal("no model from the histogram")
	}
	model := &LiveModel{latency: map[string]latencyModel{
		requestFamily(ServiceGateway, endpointCancel):   m,
		requestFamily(ServiceMarketData, endpointBatch): m,
	}}
	dir := t.TempDir()
	end := time.Date(2026, 12, 5, 4, 0, 0, 0, time.UTC) // a Saturday night: the load flat over the last hour
	if _, err := Backfill(context.Background(), HistoryOptions{Dir: dir, End: end, Span: 6 * time.Hour, Seed: 1, Host: "h1", Model: model}); err != nil {
		t.Fatal(err)
	}
	_, query := openHistory(t, dir)
	get := single(t, query)
	for _, q := range []float64{0.5, 0.9, 0.99} {
		got := get(fmt.Sprintf(`histogram_quantile(%g, sum(rate(gmc_request_latency_seconds{service="order-gateway", endpoint="cancel"}[1h])))`, q), end)
		if want := m.quantile(q); math.Abs(got/want-1) > 0.03 {
			t.Errorf("cancel p%g: history %.4g s, model %.4g s", 100*q, got, want)
		}
	}
	for _, sel := range []string{`service="order-gateway", endpoint="cancel"`, `service="market-data", endpoint="batch"`} {
		for _, b := range sdk.DefaultLatencyBuckets() {
			got := get(fmt.Sprintf(`sum(rate(gmc_request_latency_seconds_bucket{%s, le="%s"}[1h])) / sum(rate(gmc_request_latency_seconds_count{%s}[1h]))`,
				sel, strconv.FormatFloat(b, 'g', -1, 64), sel), end)
			if want := m.cdf(b, 1); math.Abs(got-want) > 0.01 {
				t.Errorf("{%s}: share under %g s %.4f in the history, %.4f in the model", sel, b, got, want)
			}
		}
	}
}

// nativeOf is the SDK's native histogram (bucket factor and limit) of n
// latencies drawn from shape.
func nativeOf(shape latencyShape, n int) *dto.Histogram {
	hist := prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "x", Help: "x", NativeHistogramBucketFactor: sdk.DefaultLatencyBucketFactor, NativeHistogramMaxBucketNumber: sdk.DefaultLatencyMaxBuckets,
	})
	rng := rand.New(rand.NewPCG(1, 2))
	for range n {
		lx := math.Log(shape.median) + shape.sigma*rng.NormFloat64()
		if rng.Float64() < shape.tail {
			lx = math.Log(shape.median*shape.tailRatio) + shape.tailSigma*rng.NormFloat64()
		}
		hist.Observe(math.Exp(lx))
	}
	var m dto.Metric
	if err := hist.Write(&m); err != nil {
		panic(err)
	}
	return m.GetHistogram()
}
