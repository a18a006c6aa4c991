package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net/url"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/prompb"
)

// Differential workload: 30 minutes of samples 15 s apart, ending shortly
// before now (Prometheus 2.42 accepts only in-order samples inside its head
// window). Sample timestamps sit 7 s off the 15 s grid, and every query is
// evaluated on that grid (instant queries and range steps at :00/:15/:30/:45,
// subqueries only at :30), so no sample ever lies exactly on a range or
// lookback boundary: Prometheus 3.x (gmc's engine) treats those boundaries as
// left-open, 2.42 as closed — a known, intended difference we keep out of the
// comparison.
const (
	diffStep     = 15 * time.Second
	diffSpan     = 30 * time.Minute
	diffSkew     = 7 * time.Second
	diffRelTol   = 1e-9
	diffCounter  = "e2e_requests_total"
	diffGauge    = "e2e_queue_depth"
	diffHist     = "e2e_latency_seconds"
	diffInfo     = "e2e_service_info"
	diffNative   = "e2e_native_latency_seconds"
	diffSeed     = 20261125
	diffServices = 3
)

var (
	// diffServiceNames and diffTeams are read-only fixtures.
	diffServiceNames = [diffServices]string{"matching-engine", "order-gateway", "risk-engine"}
	diffTeams        = [diffServices]string{"core", "edge", "risk"}
	diffInstances    = [2]string{"a", "b"}
	diffBuckets      = []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1}
)

// diffData generates the workload: counters with resets, gauges, a classic
// histogram family and an info metric, for 3 services × 2 instances.
// Counters start high (as if their process had run for a while), so the
// extrapolation "to zero" of rate() never applies: Prometheus 2.50 changed
// when it applies, which would make 2.42 and 3.x differ on a fresh counter.
func diffData(startMs int64, n int) *prompb.WriteRequest {
	rng := rand.New(rand.NewPCG(diffSeed, 1))
	ts := func(k int) int64 { return startMs + int64(k)*diffStep.Milliseconds() }
	req := &prompb.WriteRequest{}
	add := func(ls []prompb.Label, vals []float64) {
		s := prompb.TimeSeries{Labels: ls, Samples: make([]prompb.Sample, len(vals))}
		for k, v := range vals {
			s.Samples[k] = prompb.Sample{Timestamp: ts(k), Value: v}
		}
		req.Timeseries = append(req.Timeseries, s)
	}
	for si, svc := range diffServiceNames {
		add(promLabels("__name__", diffInfo, "service", svc, "team", diffTeams[si]), constant(n, 1))
		for ii, inst := range diffInstances {
			// Counter: increments vary per step; resets at a different step per series.
			counter := make([]float64, n)
			c := 1000 + float64(rng.IntN(4000))
			resetAt := 20 + 25*si + 10*ii
			for k := range n {
				if k == resetAt {
					c = float64(rng.IntN(5))
				}
				c += float64(rng.IntN(40)) + 0.5*float64(si)
				counter[k] = c
			}
			add(promLabels("__name__", diffCounter, "service", svc, "instance", inst, "code", "200"), counter)

			// Gauge: a wave plus noise; distinct values, so topk has no ties.
			gauge := make([]float64, n)
			phase := rng.Float64() * 2 * math.Pi
			for k := range n {
				gauge[k] = 50 + 40*math.Sin(float64(k)/9+phase) + rng.Float64()*5 + float64(si*10+ii)
			}
			add(promLabels("__name__", diffGauge, "service", svc, "instance", inst), gauge)

			// Classic histogram: cumulative buckets, _sum and _count, warmed up.
			counts := make([]float64, len(diffBuckets)+1)
			var sum, count float64
			buckets := make([][]float64, len(counts))
			for b := range buckets {
				buckets[b] = make([]float64, n)
			}
			sums, cnts := make([]float64, n), make([]float64, n)
			mean := 0.004 * float64(si+1) * float64(ii+1)
			observe := func(obs int) {
				for range obs {
					v := rng.ExpFloat64() * mean
					sum += v
					count++
					for b, le := range diffBuckets {
						if v <= le {
							counts[b]++
						}
					}
					counts[len(diffBuckets)]++
				}
			}
			observe(2000)
			for k := range n {
				observe(20 + rng.IntN(60))
				for b := range counts {
					buckets[b][k] = counts[b]
				}
				sums[k], cnts[k] = sum, count
			}
			for b := range counts {
				le := "+Inf"
				if b < len(diffBuckets) {
					le = strconv.FormatFloat(diffBuckets[b], 'g', -1, 64)
				}
				add(promLabels("__name__", diffHist+"_bucket", "service", svc, "instance", inst, "le", le), buckets[b])
			}
			add(promLabels("__name__", diffHist+"_sum", "service", svc, "instance", inst), sums)
			add(promLabels("__name__", diffHist+"_count", "service", svc, "instance", inst), cnts)

			// Native histogram of the same kind of observations.
			nh := newNativeHist(3, 1e-4)
			for range 2000 {
				nh.observe(rng.ExpFloat64() * mean)
			}
			s := prompb.TimeSeries{Labels: promLabels("__name__", diffNative, "service", svc, "instance", inst)}
			for k := range n {
				for range 20 + rng.IntN(60) {
					nh.observe(rng.ExpFloat64() * mean)
				}
				s.Histograms = append(s.Histograms, prompb.FromIntHistogram(ts(k), nh.histogram()))
			}
			req.Timeseries = append(req.Timeseries, s)
		}
	}
	return req
}

// nativeHist accumulates observations into an integer native histogram with
// an exponential schema (a counter: it only grows).
type nativeHist struct {
	schema        int32
	zeroThreshold float64
	zeroCount     uint64
	count         uint64
	sum           float64
	buckets       map[int32]uint64 // bucket index → count
}

func newNativeHist(schema int32, zeroThreshold float64) *nativeHist {
	return &nativeHist{schema: schema, zeroThreshold: zeroThreshold, buckets: map[int32]uint64{}}
}

// observe adds v ≥ 0: bucket i of schema s holds (2^((i-1)/2^s), 2^(i/2^s)].
func (h *nativeHist) observe(v float64) {
	h.count++
	h.sum += v
	if v <= h.zeroThreshold {
		h.zeroCount++
		return
	}
	h.buckets[int32(math.Ceil(math.Log2(v)*math.Exp2(float64(h.schema))))]++
}

// histogram is the current state: one span over all buckets, delta-encoded.
func (h *nativeHist) histogram() *histogram.Histogram {
	out := &histogram.Histogram{
		Schema: h.schema, ZeroThreshold: h.zeroThreshold, ZeroCount: h.zeroCount,
		Count: h.count, Sum: h.sum,
	}
	if len(h.buckets) == 0 {
		return out
	}
	lo, hi := int32(math.MaxInt32), int32(math.MinInt32)
	for i := range h.buckets {
		lo, hi = min(lo, i), max(hi, i)
	}
	out.PositiveSpans = []histogram.Span{{Offset: lo, Length: uint32(hi - lo + 1)}}
	var prev int64
	for i := lo; i <= hi; i++ {
		c := int64(h.buckets[i])
		out.PositiveBuckets = append(out.PositiveBuckets, c-prev)
		prev = c
	}
	return out
}

func constant(n int, v float64) []float64 {
	vals := make([]float64, n)
	for i := range vals {
		vals[i] = v
	}
	return vals
}

// diffQueries are compared between gmc and Prometheus 2.42. subquery marks
// queries whose inner steps (1m) would land on the outer range boundary when
// evaluated at a whole minute; they are evaluated only at :30.
var diffQueries = []struct {
	q        string
	subquery bool
}{
	{q: `rate(e2e_requests_total[5m])`},
	{q: `irate(e2e_requests_total[1m])`},
	{q: `sum by (service) (rate(e2e_requests_total[5m]))`},
	{q: `increase(e2e_requests_total[10m])`},
	{q: `resets(e2e_requests_total[30m])`},
	{q: `histogram_quantile(0.99, sum by (le) (rate(e2e_latency_seconds_bucket[5m])))`},
	{q: `histogram_quantile(0.5, sum by (service, le) (rate(e2e_latency_seconds_bucket[5m])))`},
	{q: `rate(e2e_latency_seconds_sum[5m]) / rate(e2e_latency_seconds_count[5m])`},
	{q: `e2e_queue_depth offset 10m`},
	{q: `e2e_queue_depth - e2e_queue_depth offset 5m`},
	{q: `max_over_time(rate(e2e_requests_total[1m])[10m:1m])`, subquery: true},
	{q: `avg_over_time(e2e_queue_depth[5m])`},
	{q: `quantile_over_time(0.9, e2e_queue_depth[10m])`},
	{q: `delta(e2e_queue_depth[5m])`},
	{q: `topk(3, e2e_queue_depth)`},
	{q: `bottomk(2, avg_over_time(e2e_queue_depth[5m]))`},
	{q: `count by (service) (e2e_queue_depth > 60)`},
	{q: `sum by (service) (rate(e2e_requests_total[5m])) * on (service) group_left (team) e2e_service_info`},
	{q: `sum(e2e_queue_depth) / scalar(count(e2e_queue_depth))`},
	{q: `absent(e2e_nonexistent{job="x"})`},
	{q: `absent(e2e_queue_depth)`},
	{q: `histogram_quantile(0.75, rate(e2e_latency_seconds_bucket[5m]))`},
	{q: `label_replace(e2e_queue_depth, "svc", "$1", "service", "(.*)-engine")`},
	{q: `stddev by (service) (e2e_queue_depth)`},
	{q: `quantile by (service) (0.5, e2e_queue_depth)`},
	{q: `sum without (instance, code) (increase(e2e_requests_total[5m]))`},
	{q: `changes(e2e_queue_depth[10m])`},
	{q: `timestamp(e2e_queue_depth)`},
	{q: `deriv(e2e_queue_depth[10m])`},
	{q: `predict_linear(e2e_queue_depth[10m], 600)`},
	{q: `min_over_time(sum by (service) (rate(e2e_requests_total[2m]))[10m:1m])`, subquery: true},
	{q: `e2e_queue_depth and on (service) e2e_service_info{team="core"}`},
	{q: `e2e_queue_depth unless on (service) e2e_service_info{team="core"}`},
	{q: `count_values("depth", round(e2e_queue_depth / 10))`},
	{q: `e2e_service_info or vector(0)`},
	// Native histograms, as stored and through functions whose semantics did
	// not change between 2.42 and 3.x. Intentionally left out:
	// histogram_quantile and histogram_fraction over native histograms, which
	// 3.x interpolates exponentially inside a bucket of an exponential schema
	// where 2.42 interpolates linearly (seen here: 0.01360 against 0.01361).
	{q: `e2e_native_latency_seconds`},
	{q: `histogram_count(rate(e2e_native_latency_seconds[5m]))`},
	{q: `histogram_sum(rate(e2e_native_latency_seconds[5m]))`},
	{q: `sum by (service) (rate(e2e_native_latency_seconds[5m]))`},
	{q: `histogram_count(e2e_native_latency_seconds offset 10m)`},
}

// TestDifferentialPromQL writes the same samples to gmc and to a real
// Prometheus 2.42 by remote-write, then checks that instant and range queries
// give the same answers from both.
func TestDifferentialPromQL(t *testing.T) {
	requirePeer(t, prometheusBinary, "prometheus")
	gmc := startGMC(t, t.TempDir(), "")
	prom := startPrometheus(t, "global:\n  scrape_interval: 1m\n", "--web.enable-remote-write-receiver", "--enable-feature=native-histograms")
	differential(t, prom, gmc)
}

// differential writes the workload to want and got and compares their
// answers to every query of diffQueries.
func differential(t *testing.T, prom, gmc *proc) {
	t.Helper()

	// The data ends at the last whole minute at least one minute ago.
	end := time.Now().Truncate(time.Minute).Add(-time.Minute)
	start := end.Add(-diffSpan)
	n := int(diffSpan / diffStep)
	req := diffData(start.Add(diffSkew).UnixMilli(), n)

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	for _, target := range []*proc{prom, gmc} {
		code, body, err := remoteWrite(ctx, httpClient(), target.URL(), req)
		if err != nil || code/100 != 2 {
			t.Fatalf("remote-write %d series to %s: HTTP %d %v: %s", len(req.Timeseries), target.name, code, err, body)
		}
	}

	startMs, endMs := start.UnixMilli(), end.UnixMilli()
	half := (30 * time.Second).Milliseconds()
	instants := []int64{
		startMs + half, // windows reaching before the first sample
		startMs + (10 * time.Minute).Milliseconds() + half,
		endMs - half,
		endMs + (3 * time.Minute).Milliseconds() + half, // after the last sample, still in lookback
	}
	compared := 0
	for _, dq := range diffQueries {
		for _, at := range instants {
			want, err := instantQuery(ctx, prom.URL(), dq.q, at)
			if err != nil {
				t.Fatalf("prometheus: %v", err)
			}
			got, err := instantQuery(ctx, gmc.URL(), dq.q, at)
			if err != nil {
				t.Errorf("gmc: %v", err)
				continue
			}
			if err := sameResult(want, got, diffRelTol); err != nil {
				t.Errorf("instant %s at %s: gmc differs from prometheus: %v", dq.q, msTime(at), err)
			}
			compared++
		}
		// Range queries over the whole data and 5 minutes past it: at :30
		// every minute, and (except subqueries) every 15 s.
		ranges := [][3]int64{{startMs + half, endMs + 5*60_000 + half, 60_000}}
		if !dq.subquery {
			ranges = append(ranges, [3]int64{startMs, endMs + 5*60_000, diffStep.Milliseconds()})
		}
		for _, r := range ranges {
			want, err := rangeQuery(ctx, prom.URL(), dq.q, r[0], r[1], r[2])
			if err != nil {
				t.Fatalf("prometheus: %v", err)
			}
			got, err := rangeQuery(ctx, gmc.URL(), dq.q, r[0], r[1], r[2])
			if err != nil {
				t.Errorf("gmc: %v", err)
				continue
			}
			if err := sameResult(want, got, diffRelTol); err != nil {
				t.Errorf("range %s step %ds: gmc differs from prometheus: %v", dq.q, r[2]/1000, err)
			}
			if len(want.Series) == 0 && dq.q != `absent(e2e_queue_depth)` {
				t.Errorf("range %s: prometheus returned nothing; the query tests nothing", dq.q)
			}
			compared++
		}
	}
	compared += compareMetadataAPIs(ctx, t, prom, gmc, startMs, endMs)
	t.Logf("%d query results compared over %d series of %d samples", compared, len(req.Timeseries), n)
}

// compareMetadataAPIs compares /api/v1/series, /api/v1/labels and
// /api/v1/label/{name}/values between the two, as Grafana uses them.
func compareMetadataAPIs(ctx context.Context, t *testing.T, prom, gmc *proc, startMs, endMs int64) int {
	t.Helper()
	window := url.Values{"start": {msTime(startMs)}, "end": {msTime(endMs)}}
	with := func(kv ...string) string {
		v := url.Values{}
		for k, vs := range window {
			v[k] = vs
		}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Add(kv[i], kv[i+1])
		}
		return v.Encode()
	}
	paths := []string{
		"/api/v1/series?" + with("match[]", diffGauge, "match[]", diffInfo+`{team!="edge"}`),
		"/api/v1/series?" + with("match[]", `{__name__=~"e2e_latency_seconds_.*", service="risk-engine", le=~"0.0.*|"}`),
		"/api/v1/labels?" + with("match[]", `{__name__=~"e2e_.*"}`),
		"/api/v1/labels?" + with("match[]", diffInfo),
		"/api/v1/label/service/values?" + with("match[]", `{__name__=~"e2e_.*"}`),
		"/api/v1/label/le/values?" + with("match[]", diffHist+"_bucket"),
		"/api/v1/label/__name__/values?" + with("match[]", `{__name__=~"e2e_.*"}`),
	}
	for _, p := range paths {
		want, err := apiGet(ctx, prom.URL()+p)
		if err != nil {
			t.Fatalf("prometheus: %v", err)
		}
		got, err := apiGet(ctx, gmc.URL()+p)
		if err != nil {
			t.Errorf("gmc: %v", err)
			continue
		}
		w, err1 := canonicalJSONList(want)
		g, err2 := canonicalJSONList(got)
		if err := errors.Join(err1, err2); err != nil {
			t.Errorf("%s: %v", p, err)
			continue
		}
		if len(w) == 0 {
			t.Errorf("%s: prometheus returned nothing; the request tests nothing", p)
		}
		if !slices.Equal(w, g) {
			t.Errorf("%s: gmc answers %v, prometheus %v", p, g, w)
		}
	}
	return len(paths)
}

// canonicalJSONList decodes a JSON list (of strings or label maps) into its
// elements re-encoded canonically (maps with sorted keys) and sorted.
func canonicalJSONList(data json.RawMessage) ([]string, error) {
	var items []any
	if err := json.Unmarshal(data, &items); err != nil {
		return nil, fmt.Errorf("decode list %.200s: %w", data, err)
	}
	out := make([]string, len(items))
	for i, it := range items {
		b, err := json.Marshal(it) // encoding/json sorts map keys
		if err != nil {
			return nil, fmt.Errorf("encode %v: %w", it, err)
		}
		out[i] = string(b)
	}
	slices.Sort(out)
	return out, nil
}
