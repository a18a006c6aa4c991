package tier

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	promstorage "github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
)

// TestEdgeReadsTheExactIncrease: a counter sampled on whole minutes, read
// through a tier over windows of a few whole buckets (the dashboards' 24h,
// 7d and 30d rate windows), reads the exact increase between the windows'
// edges over the window's length, which here is also what raw data hold:
// both edges are samples. The tier's edge sample sits 1 ms after a window's
// start and the engine extrapolated that 1 ms (t-trend19: an exact
// 1,000/s counter read 1000.000138889 through the 7d page's 2 h windows,
// 1000.0000347 through the 30d page's 8 h ones, 1000.00083 through 20
// minutes of the 1m tier). settleEdges makes it exact: an exact 1,000/s
// counter reads 1000 through every tier, and a counter whose rate changes
// every minute reads (v(T) - v(T-r)) / r, as does one that started 30
// minutes before the read (whose mark gives its windows of 60 buckets
// edges too), both to float rounding (under
// 1e-10 of the increase).
func TestEdgeReadsTheExactIncrease(t *testing.T) {
	exact := labels.FromStrings("__name__", "e_total", "i", "exact")
	varied := labels.FromStrings("__name__", "e_total", "i", "varied")
	end := t0.Add(48 * time.Hour)
	rng := rand.New(rand.NewPCG(3, 4))
	started := labels.FromStrings("__name__", "e_total", "i", "started")
	from := t0.Add(24 * time.Hour)
	begins := from.Add(-30*time.Minute + 17*time.Second)
	values := map[string]map[int64]float64{"exact": {}, "varied": {}, "started": {}}
	samples := []rawSample{{started, begins, 1e6}}
	values["started"][begins.UnixMilli()] = 1e6
	v := 5e6
	for ts := t0; !ts.After(end); ts = ts.Add(time.Minute) {
		e := float64(ts.Sub(t0).Milliseconds()) + 1e6 // 1,000 a second
		v += float64(rng.IntN(60_000 + 1_000*ts.Hour()))
		samples = append(samples, rawSample{exact, ts, e}, rawSample{varied, ts, v})
		values["exact"][ts.UnixMilli()], values["varied"][ts.UnixMilli()] = e, v
		if ts.After(begins) {
			s := 1e6 + float64(ts.Sub(begins).Milliseconds())
			samples = append(samples, rawSample{started, ts, s})
			values["started"][ts.UnixMilli()] = s
		}
	}
	slices.SortStableFunc(samples, func(a, b rawSample) int { return a.ts.Compare(b.ts) })
	f := counterFixture(t, samples, end.Add(10*time.Minute))
	q := f.set.Queryable(5 * 60 * 1000)
	for _, c := range []struct {
		fn, force string
		rng, step time.Duration
		tier      string
		extrap    bool // unmarked series extrapolate over the first bucket
	}{
		{"rate", "1m", 20 * time.Minute, 5 * time.Minute, "1m", false},
		{"increase", "1m", 20 * time.Minute, 5 * time.Minute, "1m", false},
		{"rate", "1m", time.Minute, time.Minute, "1m", false},
		// Over 60 buckets and more only a series holding a mark in the
		// read (here where it started) has edges (nearMarksSet); the
		// others extrapolate over their first bucket (exact for the
		// steady one, within 1/60 of how far that bucket's rate is from
		// the window's for the other: see docs/history.md).
		{"rate", "", time.Hour, 5 * time.Minute, "1m", true},
		{"rate", "", 2 * time.Hour, 30 * time.Minute, "10m", false}, // the 7d page
		{"increase", "", 2 * time.Hour, 30 * time.Minute, "10m", false},
		{"rate", "", 8 * time.Hour, 2 * time.Hour, "1h", false}, // the 30d page
		{"increase", "", 8 * time.Hour, 2 * time.Hour, "1h", false},
	} {
		sel := ""
		if c.force != "" {
			sel = fmt.Sprintf("{%s=%q}", TierLabel, c.force)
		}
		expr := fmt.Sprintf("%s(e_total%s[%s])", c.fn, sel, model.Duration(c.rng))
		h := promstorage.SelectHints{Func: c.fn, Range: c.rng.Milliseconds(), Step: c.step.Milliseconds(), End: end.UnixMilli()}
		if tr, _ := q.Choose(&h, c.force); tierName(tr) != c.tier {
			t.Fatalf("%s at a %s step reads %s, want the %s tier", expr, c.step, tierName(tr), c.tier)
		}
		got := f.rangeQuery(t, q, expr, from, end, c.step)
		if len(got) != 3 {
			t.Fatalf("%s: %d series, want 3", expr, len(got))
		}
		worst := 0.0
		for _, s := range got {
			vs := values[s.Metric.Get("i")]
			if c.extrap && s.Metric.Get("i") == "varied" {
				continue
			}
			if want := int(end.Sub(from)/c.step) + 1; len(s.Floats) != want && s.Metric.Get("i") != "started" {
				t.Fatalf("%s %s: %d points, want %d", expr, s.Metric, len(s.Floats), want)
			}
			for _, p := range s.Floats {
				before, ok := vs[p.T-c.rng.Milliseconds()]
				if !ok {
					continue // the window holds the series' start
				}
				want := vs[p.T] - before
				if c.fn == "rate" {
					want /= c.rng.Seconds()
				}
				d := math.Abs(p.F-want) / want
				worst = max(worst, d)
				// Float rounding: the counters' values are up to 1e8, a
				// minute's increase a few thousand (1.3e-11 measured);
				// the 1 ms extrapolated was 3.5e-8 at the least (8h).
				if d > 1e-10 {
					t.Errorf("%s %s at %s: %.9f, the exact increase's %.9f (%.3g relative)", expr, s.Metric.Get("i"), time.UnixMilli(p.T).UTC().Format(time.DateTime), p.F, want, d)
					break
				}
			}
		}
		t.Logf("%s: worst relative difference from the exact increase %.3g", expr, worst)
	}
}

// TestDayPageRatesReadTheMinuteTier: the 24h dashboard steps at 300 s
// with 20-minute rate windows (api.js: four steps), which read raw data:
// a tier's rate needed an hour (minRateRange). Now rate and increase over
// 20 whole minutes read the 1m tier, its 20 buckets with their edges: each
// window's exact increase between its edges, to float rounding, where raw
// samples extrapolate from the first second's (this counter's rate climbs
// within each hour and it resets about every 20 minutes: raw data's rate
// is up to 0.27 % off it). A counter starting inside a window is read as
// the tier reads any window a series starts in (from its first sample, as
// raw data do, but extrapolated otherwise: 0.5 % here).
func TestDayPageRatesReadTheMinuteTier(t *testing.T) {
	f := newFixture(t)
	for _, tr := range f.set.Tiers() {
		f.catchUp(t, tr)
	}
	q := f.set.Queryable(5 * 60 * 1000)
	end := t0.Add(rawSpan)
	for _, fn := range []string{"rate", "increase"} {
		h := promstorage.SelectHints{Func: fn, Range: 1200e3, Step: 300e3, End: end.UnixMilli()}
		if tr, _ := q.Choose(&h, ""); tierName(tr) != "1m" {
			t.Fatalf("%s[1200s] at a 300 s step reads %s, want the 1m tier", fn, tierName(tr))
		}
	}
	count := func() float64 { return testutil.ToFloat64(f.set.selects.WithLabelValues("1m")) }
	before := count()
	start, step := t0.Add(time.Hour), 300*time.Second
	for _, c := range []struct {
		expr string
		rate bool
	}{
		{"rate(c_total[1200s])", true},
		{"increase(c_total[20m])", false},
		{`rate(c_total{__tier__="raw"}[1200s])`, true},
	} {
		got := f.rangeQuery(t, q, c.expr, start, end, step)
		if len(got) != 2 {
			t.Fatalf("%s: %d series, want 2", c.expr, len(got))
		}
		worst := 0.0
		for _, s := range got {
			for _, p := range s.Floats {
				want := exactIncrease(t, f, s.Metric.Get("i"), p.T-1200e3, p.T)
				if c.rate {
					want /= 1200
				}
				worst = max(worst, math.Abs(p.F-want)/want)
			}
		}
		t.Logf("%s: worst relative difference from the exact increase %.3g", c.expr, worst)
		if !strings.Contains(c.expr, "raw") && worst > 1e-12 {
			t.Errorf("%s: %.3g from the exact increase", c.expr, worst)
		}
	}
	f.compare(t, "rate(young_total[1200s])", start, end, step, 0.01)
	if n := count() - before; n != 3 {
		t.Errorf("the 1m tier answered %v selectors of the 3 queries that may read it, want 3", n)
	}
}

// exactIncrease is c_total{i=inst}'s increase over (from, to] from its raw
// samples, at every second: the sum of the differences of successive
// samples, a sample lower than the one before counted whole (a reset).
func exactIncrease(t *testing.T, f *fixture, inst string, from, to int64) float64 {
	t.Helper()
	q, err := f.raw.Querier(from, to)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	ss := q.Select(context.Background(), false, nil, labels.MustNewMatcher(labels.MatchEqual, "__name__", "c_total"), labels.MustNewMatcher(labels.MatchEqual, "i", inst))
	if !ss.Next() {
		t.Fatalf("no c_total{i=%q} in (%d, %d]", inst, from, to)
	}
	it := ss.At().Iterator(nil)
	var inc, prev float64
	if it.Next() == chunkenc.ValNone {
		t.Fatal("no samples")
	}
	if ts, v := it.At(); ts != from {
		t.Fatalf("c_total{i=%q}'s first sample at %d, want one at %d", inst, ts, from)
	} else {
		prev = v
	}
	for it.Next() != chunkenc.ValNone {
		_, v := it.At()
		if v < prev {
			inc += v
		} else {
			inc += v - prev
		}
		prev = v
	}
	return inc
}

// TestBucketEndLag: a bucket's end holds the counter at its last raw
// sample, so a tier's rate is off the mean rate by how much the samples
// before its two edges lag them, over the window: nothing for a series
// sampled at a fixed phase of the minute (every 15 s, 3 s past), its
// jitter (up to 22 ms) over the window otherwise, and up to one raw
// interval over it where the interval does not divide the minute (every
// 7 s). An exact 1,000/s counter, at the dashboards' windows and steps
// (docs/history.md gives these figures).
func TestBucketEndLag(t *testing.T) {
	end := t0.Add(48 * time.Hour)
	var samples []rawSample
	add := func(inst string, first time.Time, every time.Duration, jitter func(int) time.Duration) {
		lset := labels.FromStrings("__name__", "e_total", "i", inst)
		for k, ts := 0, first; !ts.After(end); k, ts = k+1, ts.Add(every) {
			at := ts.Add(jitter(k))
			samples = append(samples, rawSample{lset, at, float64(at.Sub(t0).Milliseconds())})
		}
	}
	none := func(int) time.Duration { return 0 }
	add("phase", t0.Add(3*time.Second), 15*time.Second, none)
	add("jitter", t0.Add(3*time.Second), 15*time.Second, func(k int) time.Duration { return time.Duration(k*37%23) * time.Millisecond })
	add("seven", t0.Add(2*time.Second), 7*time.Second, none)
	slices.SortStableFunc(samples, func(a, b rawSample) int { return a.ts.Compare(b.ts) })
	f := counterFixture(t, samples, end.Add(10*time.Minute))
	q := f.set.Queryable(5 * 60 * 1000)
	bound := map[string]time.Duration{"phase": time.Microsecond, // float rounding
		"jitter": 22 * time.Millisecond, "seven": 7 * time.Second}
	for _, c := range []struct{ rng, step time.Duration }{
		{20 * time.Minute, 5 * time.Minute}, {time.Hour, 5 * time.Minute}, {2 * time.Hour, 30 * time.Minute}, {8 * time.Hour, 2 * time.Hour},
	} {
		expr := fmt.Sprintf("rate(e_total[%s])", model.Duration(c.rng))
		got := f.rangeQuery(t, q, expr, t0.Add(24*time.Hour), end, c.step)
		if len(got) != 3 {
			t.Fatalf("%s: %d series, want 3", expr, len(got))
		}
		for _, s := range got {
			inst := s.Metric.Get("i")
			lo, hi := math.Inf(1), math.Inf(-1)
			for _, p := range s.Floats {
				lo, hi = min(lo, p.F/1000-1), max(hi, p.F/1000-1)
			}
			t.Logf("%s %s: %+.3g to %+.3g of the rate", expr, inst, lo, hi)
			if b := bound[inst].Seconds() / c.rng.Seconds(); -lo > b || hi > b {
				t.Errorf("%s %s: %+.3g to %+.3g of the rate, over the bound %.3g (%s over the window)", expr, inst, lo, hi, b, bound[inst])
			}
		}
	}
}
