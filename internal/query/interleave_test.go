package query

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/promql"
)

// interleaveFixture is 20 minutes of 40 counters at about 1 s (jittered by
// up to 300 ms, some at 2–5 s, one at exactly 1 s), with counter resets,
// NaNs, staleness markers, counters that start or stop inside the span, a
// gap of a few seconds to a few minutes, and one native histogram series.
func interleaveFixture(t *testing.T, rng *rand.Rand) []sample {
	var ss []sample
	services := []string{"a", "b", "c", "d"}
	stale := math.Float64frombits(value.StaleNaN)
	for i := range 40 {
		name := []string{"req_total", "other_total"}[i%2]
		l := labels.FromStrings("__name__", name, "service", services[rng.IntN(len(services))], "i", fmt.Sprint(i))
		from, to := int64(0), int64(1_200_000)
		switch rng.IntN(5) {
		case 0:
			from = int64(rng.IntN(600_000))
		case 1:
			to = int64(600_000 + rng.IntN(600_000))
		}
		every := int64(1000)
		switch i % 4 {
		case 1:
			every = int64(2000 + rng.IntN(3000))
		}
		jitter := i%4 != 0
		v := float64(rng.IntN(3)) * 1e3 * rng.Float64()
		gapAt := int64(-1)
		if rng.IntN(3) == 0 {
			gapAt = int64(rng.IntN(1_200_000))
		}
		for ts := from; ts < to; ts += every {
			at := ts
			if jitter {
				at += int64(rng.IntN(300))
			}
			if gapAt >= 0 && ts >= gapAt && ts < gapAt+int64(2000+rng.IntN(200_000)) {
				gapAt = -1
				ts += int64(rng.IntN(200_000))
				continue
			}
			switch {
			case rng.IntN(400) == 0:
				v = 0 // a reset
			case rng.IntN(600) == 0:
				v /= 2 // a partial drop
			case rng.IntN(500) == 0:
				ss = append(ss, sample{lset: l, t: at, v: math.NaN()})
				continue
			case rng.IntN(500) == 0:
				ss = append(ss, sample{lset: l, t: at, v: stale})
				continue
			case rng.IntN(3) == 0:
				// flat
			default:
				v += rng.Float64() * 10
			}
			ss = append(ss, sample{lset: l, t: at, v: v})
		}
	}
	h := labels.FromStrings("__name__", "hist_total", "service", "a")
	for ts := int64(0); ts < 1_200_000; ts += 1000 {
		hh := testHistogram()
		hh.Count += 2 * uint64(ts/1000)
		hh.PositiveBuckets[0] += ts / 1000
		ss = append(ss, sample{lset: h, t: ts, h: hh})
	}
	slices.SortStableFunc(ss, func(a, b sample) int { return cmpInt64(a.t, b.t) })
	return ss
}

// TestInterleaveEqualsEngine: rate and increase at steps under their range
// are dealt out to ⌈range/step⌉ queries whose windows are thinned to their
// first and last samples where the engine's answer cannot change, and the
// answer equals the engine's over the whole range: the same series in the
// same order, every point's time and the bits of its value, the same
// annotations; and the engine walks fewer samples.
func TestInterleaveEqualsEngine(t *testing.T) {
	rng := seededRand(t, 17)
	st := &countingQueryable{Queryable: openStore(t, interleaveFixture(t, rng))}
	a, err := New(Options{Queryable: st, Registerer: prometheus.NewRegistry(), Parallelism: 2})
	if err != nil {
		t.Fatal(err)
	}
	a.thinAnyDensity = true // the 2-5 s series and short ranges hold few samples per window
	exprs := []string{
		`sum by (service) (rate(req_total[1m]))`, `sum(rate(req_total[1m]))`, `rate(req_total[1m])`,
		`increase(other_total[30s])`, `sum by (service) (increase({__name__=~"(req|other)_total"}[2m]))`,
		`rate(req_total[1m] offset 17s) / on (i) rate(other_total[45s])`, `sum(rate(req_total[10s]))`,
		`topk(3, rate(req_total[1m]))`, `rate(req_total[1m]) * 60 > 5`, `sum by (service) (rate(req_total[90s] offset -10s))`,
		`histogram_quantile(0.9, sum by (service) (rate(req_total[1m])))`,
		`group by (service) (increase(req_total{service!="a"}[1m]))`, // matchers handed over in another order
		`rate(hist_total[1m])`, // a native histogram: run as before
	}
	ctx := context.Background()
	interleaved := 0
	for _, expr := range exprs {
		for range 3 {
			start := time.UnixMilli(int64(rng.IntN(300_000)))
			step := []time.Duration{time.Second, 2 * time.Second, 5 * time.Second, 1500 * time.Millisecond}[rng.IntN(4)]
			end := start.Add(step*time.Duration(1000+rng.IntN(200)) + time.Duration(rng.IntN(1000))*time.Millisecond)
			sels, m, planned := a.planInterleave(expr, start, end, step)
			if !planned {
				t.Fatalf("%s at %s: not interleaved", expr, step)
			}
			q, err := a.engine.NewRangeQuery(ctx, st, nil, expr, start, end, step)
			if err != nil {
				t.Fatal(err)
			}
			res := q.Exec(ctx)
			wantErr, wantAnnos, wantRelease := res.Err, res.Warnings, q.Close
			wantM, _ := res.Matrix()
			got, gotAnnos, release, done, err := a.evalInterleaved(ctx, nil, expr, sels, m, start, end, step)
			if expr == `rate(hist_total[1m])` {
				if done {
					t.Errorf("%s: interleaved over a native histogram", expr)
				}
				wantRelease()
				continue
			}
			if !done {
				t.Fatalf("%s: not interleaved", expr)
			}
			interleaved++
			if (err != nil) != (wantErr != nil) {
				t.Fatalf("%s: interleaved error %v, engine error %v", expr, err, wantErr)
			}
			if err != nil {
				continue
			}
			if d := matrixDiff(got, wantM, 0); d != "" {
				t.Errorf("%s over %d..%d step %s (%d queries): %s", expr, start.UnixMilli(), end.UnixMilli(), step, m, d)
			}
			if d := annoDiff(gotAnnos, wantAnnos, expr); d != "" {
				t.Errorf("%s: %s", expr, d)
			}
			release()
			wantRelease()
		}
	}
	if interleaved == 0 {
		t.Fatal("nothing interleaved")
	}
	// Fewer samples walked: the engine's own count.
	walked := func(noInterleave bool) int64 {
		a.noInterleave = noInterleave
		defer func() { a.noInterleave = false }()
		expr := `sum by (service) (rate(req_total[1m]))`
		start, end := time.UnixMilli(120_000), time.UnixMilli(1_100_000)
		var total int64
		if sels, m, ok := a.planInterleave(expr, start, end, time.Second); ok {
			store := &thinStore{sets: map[string]*thinSet{}, maxBytes: DefaultRateMaxDecodedBytes, anyDensity: true}
			for _, sel := range sels {
				if err := store.load(ctx, st, sel, start.UnixMilli(), end.UnixMilli(), 1000); err != nil {
					t.Fatal(err)
				}
			}
			defer store.close()
			for k := range m {
				from := start.Add(time.Duration(k) * time.Second)
				q, err := a.engine.NewRangeQuery(ctx, thinQueryable{s: store, start: from.UnixMilli()}, promql.NewPrometheusQueryOpts(true, 0, nil), expr, from, end, time.Duration(m)*time.Second)
				if err != nil {
					t.Fatal(err)
				}
				if res := q.Exec(ctx); res.Err != nil {
					t.Fatal(res.Err)
				}
				total += q.Stats().Samples.TotalSamples
				q.Close()
			}
			return total
		}
		q, err := a.engine.NewRangeQuery(ctx, st, promql.NewPrometheusQueryOpts(true, 0, nil), expr, start, end, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if res := q.Exec(ctx); res.Err != nil {
			t.Fatal(res.Err)
		}
		defer q.Close()
		return q.Stats().Samples.TotalSamples
	}
	whole, thinned := walked(true), walked(false)
	t.Logf("samples walked: %d whole, %d interleaved and thinned", whole, thinned)
	if thinned*2 > whole {
		t.Errorf("interleaved queries walked %d samples, the whole query %d: want under half", thinned, whole)
	}
}

// BenchmarkInterleaveDensity: `sum by (service) (rate(x[R]))` at a 1 s
// step over 1 h of 200 counters scraped every 1, 2 or 5 s, on one
// goroutine without yields, dealt out to interleaved queries (the density
// guard off) and whole: where thinning stops paying (minWindowSamples).
func BenchmarkInterleaveDensity(b *testing.B) {
	for _, c := range []struct {
		every int64
		rng   string
	}{{1, "1m"}, {1, "5m"}, {2, "1m"}, {5, "1m"}} {
		var ss []sample
		for i := range 200 {
			l := labels.FromStrings("__name__", "x_total", "service", fmt.Sprint(i%20), "i", fmt.Sprint(i))
			v := 0.0
			for ts := int64(0); ts < 3600; ts += c.every {
				v += float64(1 + (i*7+int(ts))%13)
				ss = append(ss, sample{lset: l, t: ts * 1000, v: v})
			}
		}
		slices.SortStableFunc(ss, func(a, b sample) int { return cmpInt64(a.t, b.t) })
		st := openStore(b, ss)
		a, err := New(Options{Queryable: st, Registerer: prometheus.NewRegistry(), Parallelism: 1})
		if err != nil {
			b.Fatal(err)
		}
		a.noYield, a.thinAnyDensity = true, true
		expr := "sum by (service) (rate(x_total[" + c.rng + "]))"
		start, end := time.Unix(300, 0), time.Unix(3599, 0)
		for _, whole := range []bool{false, true} {
			name := fmt.Sprintf("every=%ds/range=%s/interleaved", c.every, c.rng)
			if whole {
				name = fmt.Sprintf("every=%ds/range=%s/whole", c.every, c.rng)
			}
			b.Run(name, func(b *testing.B) {
				ctx := context.Background()
				a.noInterleave = whole
				defer func() { a.noInterleave = false }()
				defer reportCPU(b)()
				for b.Loop() {
					_, _, release, err := a.evalRange(ctx, nil, expr, start, end, time.Second)
					if err != nil {
						b.Fatal(err)
					}
					release()
				}
			})
		}
	}
}
