package tier

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/promql"
	promstorage "github.com/prometheus/prometheus/storage"
)

// TestRangeStepsEqualInstants: every step of a range query over the tiers
// equals the instant query at its time, bit for bit, whatever the range
// query spans besides. A counter series holding a mark (its start, a stop,
// a resumption) anywhere in a read of 60 buckets and more got every
// bucket's edge, one without none: a range query spanning a series' start
// read each window's exact increase, the instant query of one window
// extrapolated over its first bucket (an SLA's 7h12m error ratio 4e-5
// apart, t-truth22's f7e25a2). Over random ranges, steps and windows, on
// whole buckets and off them (every step of a query off the grid, as
// rules evaluate), through the default reader (the coarsest tier that
// fits) and the SLAs' (the finest that keeps the range), before the
// tiers' watermarks and past them (raw data aggregated on the fly).
//
// Not compared: windows off the grid that end past a tier's watermark
// (the instant query's read ends inside the bucket its time is in, which
// is aggregated on the fly as a partial bucket stamped at its last raw
// sample, where a range query reading past it holds the whole bucket,
// stamped at its end, outside the window); and range queries whose steps
// are on the grid only some of the time (a 90 s step over the 1m tier):
// such a query is read as off the grid throughout, its steps on the grid
// as instant queries are read on it.
func TestRangeStepsEqualInstants(t *testing.T) {
	end := t0.Add(30 * time.Hour)
	rng := rand.New(rand.NewPCG(23, 17))
	var samples []rawSample
	series := func(name string, from, to time.Time, every time.Duration, step func(ts time.Time, v float64) float64) {
		lset := labels.FromStrings("__name__", "s_total", "i", name)
		v := 1e6 * rng.Float64()
		for ts := from; !ts.After(to); ts = ts.Add(every) {
			v = step(ts, v)
			samples = append(samples, rawSample{lset, ts.Add(time.Duration(rng.IntN(300)) * time.Millisecond), v})
		}
	}
	vary := func(ts time.Time, v float64) float64 { return v + float64(rng.IntN(1000+200*ts.Hour())) }
	series("steady", t0, end, 15*time.Second, vary)
	series("started", t0.Add(9*time.Hour+37*time.Minute+4*time.Second), end, 10*time.Second, vary)
	series("stops", t0, t0.Add(19*time.Hour+12*time.Minute+5*time.Second), 15*time.Second, vary)
	series("stops", t0.Add(20*time.Hour+3*time.Minute+31*time.Second), end, 15*time.Second, vary)
	series("resets", t0, end, 30*time.Second, func(ts time.Time, v float64) float64 {
		if rng.IntN(400) == 0 {
			return float64(rng.IntN(50))
		}
		return vary(ts, v)
	})
	stale := labels.FromStrings("__name__", "s_total", "i", "stale")
	series("stale", t0, t0.Add(13*time.Hour+20*time.Minute), 15*time.Second, vary)
	samples = append(samples, rawSample{stale, t0.Add(13*time.Hour + 20*time.Minute + 15*time.Second), math.Float64frombits(value.StaleNaN)})
	series("stale", t0.Add(14*time.Hour+2*time.Minute), end, 15*time.Second, vary)
	slices.SortStableFunc(samples, func(a, b rawSample) int { return a.ts.Compare(b.ts) })
	// The tiers' jobs an hour and a half behind the data: the last windows
	// read raw data past the watermarks.
	f := counterFixture(t, samples, end.Add(-90*time.Minute))
	var wm int64 = math.MaxInt64
	for _, tr := range f.set.Tiers() {
		wm = min(wm, tr.ReadableUntil())
	}
	readers := map[string]promstorage.Queryable{
		"default": f.set.Queryable(5 * 60 * 1000),
		"sla":     f.set.Queryable(5 * 60 * 1000).WithUnaligned(1440),
	}
	ranges := []time.Duration{20 * time.Minute, 30 * time.Minute, time.Hour, 80 * time.Minute, 2 * time.Hour,
		7*time.Hour + 12*time.Minute, 10 * time.Hour, 24 * time.Hour, 26 * time.Hour}
	steps := []time.Duration{time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute, 30 * time.Minute, time.Hour}
	compared, differ, otherTier, otherWorst := map[string]int{}, 0, 0, 0.0
	for round := range 60 {
		name := []string{"default", "sla"}[round%2]
		q := readers[name]
		r := ranges[rng.IntN(len(ranges))]
		step := steps[rng.IntN(len(steps))]
		fn := []string{"rate", "increase"}[rng.IntN(2)]
		expr := fmt.Sprintf("%s(s_total[%s])", fn, model.Duration(r))
		// From t0 plus the range (the first windows hold the series' start)
		// to the data's end, on the step's grid or off it by some ms.
		n := min(5+rng.IntN(40), int(end.Sub(t0.Add(r))/step/2))
		span := end.Sub(t0.Add(r)) - time.Duration(n)*step
		start := t0.Add(r).Add(time.Duration(rng.Int64N(int64(span/step))) * step).Truncate(step)
		off := round%3 == 2
		if off {
			start = start.Add(time.Duration(1+rng.IntN(59_999)) * time.Millisecond)
		}
		stop := start.Add(time.Duration(n-1) * step)
		var m promql.Matrix
		read := f.tierRead(t, func() { m = f.rangeQuery(t, q, expr, start, stop, step) })
		byStep := map[int64]map[string]float64{}
		for _, s := range m {
			for _, p := range s.Floats {
				if byStep[p.T] == nil {
					byStep[p.T] = map[string]float64{}
				}
				byStep[p.T][s.Metric.Get("i")] = p.F
			}
		}
		for ts := start; !ts.After(stop); ts = ts.Add(step) {
			if off && ts.Add(time.Hour).UnixMilli() > wm {
				continue // off the grid, near or past the watermark: a partial bucket
			}
			var want map[string]float64
			if f.tierRead(t, func() { want = instantFloats(t, f, q, expr, ts) }) != read {
				// Another tier (the default reader's instant query at a
				// whole hour reads the 1h tier, a range query at a
				// 5-minute step the 1m tier): within the aggregation's
				// precision, not bit for bit.
				otherTier++
				for i, w := range want {
					if g, ok := byStep[ts.UnixMilli()][i]; ok && w != 0 {
						otherWorst = max(otherWorst, math.Abs(g-w)/math.Abs(w))
					}
				}
				continue
			}
			got := byStep[ts.UnixMilli()]
			class := name + map[bool]string{false: " on the grid", true: " off it"}[off]
			compared[class]++
			for _, i := range []string{"steady", "started", "stops", "resets", "stale"} {
				w, okW := want[i]
				g, okG := got[i]
				if okW != okG || okW && math.Float64bits(w) != math.Float64bits(g) {
					differ++
					if differ <= 20 {
						t.Errorf("%s reader, %s over [%s, %s] every %s: step %s of %s: %v (%v), the instant query %v (%v)",
							name, expr, start.Format(time.DateTime+".000"), stop.Format(time.DateTime), step,
							ts.Format(time.DateTime+".000"), i, g, okG, w, okW)
					}
				}
			}
		}
	}
	t.Logf("steps compared: %v, %d values differ; %d steps read another tier as an instant query (at most %.2g apart)", compared, differ, otherTier, otherWorst)
}

// tierRead is what answered the one selector read runs: a tier's name or
// RawTier (gmc_tier_selects_total).
func (f *fixture) tierRead(t *testing.T, read func()) string {
	t.Helper()
	names := []string{RawTier}
	for _, tr := range f.set.Tiers() {
		names = append(names, tr.Name())
	}
	before := map[string]float64{}
	for _, n := range names {
		before[n] = testutil.ToFloat64(f.set.selects.WithLabelValues(n))
	}
	read()
	which := ""
	for _, n := range names {
		if d := testutil.ToFloat64(f.set.selects.WithLabelValues(n)) - before[n]; d > 0 {
			which += n
		}
	}
	return which
}

// instantFloats is expr's value for each series (by its label i) at ts on
// q, prepared as every reader over the tiers does.
func instantFloats(t *testing.T, f *fixture, q promstorage.Queryable, expr string, ts time.Time) map[string]float64 {
	t.Helper()
	qry, err := f.eng.NewInstantQuery(context.Background(), q, nil, expr, ts)
	if err != nil {
		t.Fatal(err)
	}
	defer qry.Close()
	Prepare(qry, q)
	res := qry.Exec(context.Background())
	if res.Err != nil {
		t.Fatalf("%s at %s: %v", expr, ts, res.Err)
	}
	v, err := res.Vector()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, s := range v {
		out[s.Metric.Get("i")] = s.F
	}
	return out
}
