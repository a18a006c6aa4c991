package query

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/util/annotations"

	"github.com/gmc-dev/gmc/internal/storage"
)

func TestPlanShards(t *testing.T) {
	p := newParser()
	for _, c := range []struct {
		expr string
		ok   bool
		by   []string
	}{
		{`sum by (service) (rate(x[1m]))`, true, []string{"service"}},
		{`avg by (service, job) (max_over_time(x{a="b"}[5m] offset 1m))`, true, []string{"job", "service"}},
		{`(count by (service) ((x)))`, true, []string{"service"}},
		{`sum by (job) (rate(x[1m]) * 60)`, true, []string{"job"}},
		{`rate(x[1m])`, true, nil},
		{`max_over_time({__name__=~"a|b"}[1h])`, true, nil},
		{`x > 5`, true, nil},
		{`abs(delta(x[5m]))`, true, nil},
		{`sum(rate(x[1m]))`, false, nil},                // one group
		{`sum without (job) (rate(x[1m]))`, false, nil}, // without
		{`sum by (__name__) (x)`, false, nil},           // name dropped by the functions
		{`topk by (job) (3, x)`, false, nil},            // param
		{`sum by (job) (label_replace(x, "job", "a", "", ""))`, false, nil},
		{`sum by (job) (rate(x[1m]) / rate(y[1m]))`, false, nil}, // two selectors
		{`sum by (job) (sum by (job, i) (x))`, false, nil},       // nested aggregation
		{`sum by (job) (rate(x[5m:1m]))`, false, nil},            // subquery
		{`quantile_over_time(0.9, x[5m])`, false, nil},           // argument
		{`absent(x)`, false, nil},
		{`x or y`, false, nil},
		{`1 + 2`, false, nil},
	} {
		plan, ok := planShards(p, c.expr)
		if ok != c.ok || ok && !slices.Equal(plan.by, c.by) {
			t.Errorf("%s: plan %+v %v, want %v %v", c.expr, plan, ok, c.by, c.ok)
		}
	}
}

// TestShardedEqualsEngine is the differential test of series sharding: on
// random data (counters with resets and gaps, gauges, NaN, series that
// differ only by name), every shardable query's answer through evalRange
// (4 shards on 2 goroutines) equals the unsharded engine's bit for bit, in
// the same order, with the same annotations. One exception, the engine's
// own: an aggregation over arithmetic (`avg by (job) (rate(x[5m]) * 60)`)
// gets its members in the order of a Go map inside the engine, so the
// engine's avg, stddev and stdvar of it vary in the last bits from one run
// to the next; those are compared within 1e-12 (relative).
func TestShardedEqualsEngine(t *testing.T) {
	rng := seededRand(t, 17)
	st := shardFixture(t, rng)
	a, err := New(Options{Queryable: st, Registerer: prometheus.NewRegistry(), Parallelism: 2})
	if err != nil {
		t.Fatal(err)
	}
	funcs := []string{"rate", "increase", "irate", "delta", "idelta", "deriv", "resets", "changes",
		"avg_over_time", "min_over_time", "max_over_time", "sum_over_time", "count_over_time",
		"last_over_time", "present_over_time", "stddev_over_time", "stdvar_over_time"}
	aggs := []string{"sum", "avg", "min", "max", "count", "group", "stddev", "stdvar"}
	sels := []string{`req_total`, `lat`, `{__name__=~".+_total"}`, `{__name__=~".+"}`, `req_total{job!="j1"}`}
	bys := []string{"service", "job", "service, job", "i"}
	ranges := []string{"30s", "1m", "5m", "17m"}
	var exprs []string
	for range 120 {
		sel := sels[rng.IntN(len(sels))]
		inner := fmt.Sprintf("%s(%s[%s])", funcs[rng.IntN(len(funcs))], sel, ranges[rng.IntN(len(ranges))])
		switch rng.IntN(4) {
		case 0:
			inner = sel
		case 1:
			inner += " * 60"
		}
		if rng.IntN(4) > 0 {
			inner = fmt.Sprintf("%s by (%s) (%s)", aggs[rng.IntN(len(aggs))], bys[rng.IntN(len(bys))], inner)
		}
		exprs = append(exprs, inner)
	}
	ctx := context.Background()
	for _, expr := range exprs {
		if _, ok := planShards(a.parser, expr); !ok {
			t.Fatalf("%s: not sharded", expr)
		}
		start := time.UnixMilli(int64(rng.IntN(600_000)))
		step := []time.Duration{time.Second, 7 * time.Second, 15 * time.Second}[rng.IntN(3)]
		end := start.Add(step * time.Duration(minShardSteps+rng.IntN(400)))
		got, gotAnnos, release, err := a.evalRange(ctx, nil, expr, start, end, step)
		q, qerr := a.engine.NewRangeQuery(ctx, st, nil, expr, start, end, step)
		if qerr != nil {
			t.Fatal(qerr)
		}
		res := q.Exec(ctx)
		if (err != nil) != (res.Err != nil) {
			t.Fatalf("%s: sharded error %v, engine error %v", expr, err, res.Err)
		}
		if err != nil {
			q.Close()
			continue
		}
		want, _ := res.Matrix()
		// avg/stddev/stdvar over arithmetic sum in another order across
		// shards: the engine itself varies in the last bits there (a relative
		// 2.3e-12 was seen for a stddev of 7.7e-4).
		tol := 0.0
		if strings.Contains(expr, ") (") && strings.Contains(expr, " * 60") {
			tol = 1e-9
		}
		if d := matrixDiff(got, want, tol); d != "" {
			t.Errorf("%s over %s..%s step %s: %s", expr, start, end, step, d)
		}
		if d := annoDiff(gotAnnos, res.Warnings, expr); d != "" {
			t.Errorf("%s: %s", expr, d)
		}
		q.Close()
		release()
	}
}

// matrixDiff describes the first difference between two matrices ("" for
// none): series order, labels, timestamps and the bits of every value, or
// with tol > 0 each value within tol of the other (relative).
func matrixDiff(got, want promql.Matrix, tol float64) string {
	if len(got) != len(want) {
		return fmt.Sprintf("%d series, engine %d", len(got), len(want))
	}
	for i := range got {
		g, w := got[i], want[i]
		if !labels.Equal(g.Metric, w.Metric) {
			return fmt.Sprintf("series %d is %s, engine %s", i, g.Metric, w.Metric)
		}
		if len(g.Floats) != len(w.Floats) || len(g.Histograms) != len(w.Histograms) {
			return fmt.Sprintf("%s: %d points, engine %d", g.Metric, len(g.Floats), len(w.Floats))
		}
		for j := range g.Floats {
			gf, wf := g.Floats[j].F, w.Floats[j].F
			same := math.Float64bits(gf) == math.Float64bits(wf) ||
				tol > 0 && math.Abs(gf-wf) <= tol*math.Max(math.Abs(wf), 1e-300)
			if g.Floats[j].T != w.Floats[j].T || !same {
				return fmt.Sprintf("%s: point %d is %v, engine %v", g.Metric, j, g.Floats[j], w.Floats[j])
			}
		}
	}
	return ""
}

// annoDiff describes how the annotations got differ from the engine's
// want over expr ("" for none): their warnings and their infos as text,
// each in any order.
func annoDiff(got, want annotations.Annotations, expr string) string {
	gw, gi := got.AsStrings(expr, 0, 0)
	ww, wi := want.AsStrings(expr, 0, 0)
	for _, s := range [][]string{gw, gi, ww, wi} {
		slices.Sort(s)
	}
	if slices.Equal(gw, ww) && slices.Equal(gi, wi) {
		return ""
	}
	return fmt.Sprintf("annotations %v %v, engine %v %v", gw, gi, ww, wi)
}

// shardFixture is an hour of 60 series of req_total, lat and other_total
// (counters with resets, gauges with NaNs), at irregular intervals with
// gaps past the lookback, some series without a service label.
func shardFixture(t *testing.T, rng *rand.Rand) *storage.TSDB {
	var ss []sample
	services := []string{"a", "b", "c", "d", "e", "f", "g"}
	for i := range 60 {
		name := []string{"req_total", "lat", "other_total"}[i%3]
		l := labels.FromStrings("__name__", name, "service", services[rng.IntN(len(services))],
			"job", fmt.Sprintf("j%d", rng.IntN(3)), "i", fmt.Sprint(i/3))
		if rng.IntN(10) == 0 {
			l = labels.FromStrings("__name__", name, "i", fmt.Sprint(i/3)) // no service label
		}
		v := 0.0
		for ts := int64(0); ts < 3600_000; ts += int64(5_000 + rng.IntN(20_000)) {
			if rng.IntN(40) == 0 {
				ts += 600_000 // a gap longer than the lookback
			}
			switch {
			case name == "lat":
				v = rng.NormFloat64() * 100
				if rng.IntN(200) == 0 {
					v = math.NaN()
				}
			case rng.IntN(150) == 0:
				v = 0 // a reset
			default:
				v += rng.Float64() * 10
			}
			ss = append(ss, sample{lset: l, t: ts, v: v})
		}
	}
	return openStore(t, ss)
}

// TestTimeSplitEqualsEngine: range queries that cannot be split by series
// (aggregations without by, topk, quantile, binary operations between
// selectors, subqueries, functions of several arguments, absent, time) are
// split by time on 2 workers where what their first step looks back over is
// at most half a run, and answer as the engine does over the whole range:
// the same series in the same order, every point's time and the bits of its
// value, and the same annotations.
func TestTimeSplitEqualsEngine(t *testing.T) {
	rng := seededRand(t, 18)
	st := &countingQueryable{Queryable: shardFixture(t, rng)}
	a, err := New(Options{Queryable: st, Registerer: prometheus.NewRegistry(), Parallelism: 2})
	if err != nil {
		t.Fatal(err)
	}
	a.noInterleave, a.noDirect = true, true // interleave_test.go, direct_test.go
	exprs := []string{
		`sum(rate(req_total[1m]))`, `sum without (i) (rate(req_total[1m]))`, `avg(lat)`, `stddev(lat)`,
		`count(lat > 50)`, `quantile(0.9, lat)`, `topk(3, rate(req_total[5m]))`, `bottomk(2, lat)`,
		`count_values("v", changes(req_total[5m]))`, `sum(lat) / count(lat)`,
		`rate(req_total[1m]) / on(i) rate(other_total[1m])`, `lat > on(i) group_left lat`,
		`max_over_time(sum(rate(req_total[1m]))[5m:30s])`, `predict_linear(req_total[2m], 60)`,
		`absent(nonexistent)`, `vector(1)`, `time()`, `scalar(sum(lat))`, `sum(lat offset 1m)`,
		`label_replace(sum by (service) (lat), "s", "$1", "service", "(.*)")`, `timestamp(lat)`,
		`sort_desc(sum by (service) (lat))`, `histogram_quantile(0.9, sum by (job) (rate(req_total[1m])))`,
		`sum(rate(req_total[17m]))`, `sum(lat @ 600)`, `sum(rate(req_total[1m] @ end()))`,
	}
	ctx := context.Background()
	splits := 0
	for _, expr := range exprs {
		if _, ok := planShards(a.parser, expr); ok {
			t.Fatalf("%s: sharded by series", expr)
		}
		for range 3 {
			start := time.UnixMilli(int64(rng.IntN(600_000)))
			step := []time.Duration{time.Second, 7 * time.Second, 15 * time.Second}[rng.IntN(3)]
			end := start.Add(step*time.Duration(minShardSteps+rng.IntN(400)) + time.Duration(rng.IntN(1000))*time.Millisecond)
			split := a.splittable(expr, start, end, step)
			if split {
				splits++
			}
			st.opened.Store(0)
			got, gotAnnos, release, err := a.evalRange(ctx, nil, expr, start, end, step)
			if want := map[bool]int64{true: 2, false: 1}[split]; st.opened.Load() != want {
				t.Errorf("%s: %d queries run, want %d (split %v)", expr, st.opened.Load(), want, split)
			}
			q, qerr := a.engine.NewRangeQuery(ctx, st, nil, expr, start, end, step)
			if qerr != nil {
				t.Fatal(qerr)
			}
			res := q.Exec(ctx)
			if (err != nil) != (res.Err != nil) {
				t.Fatalf("%s: split error %v, engine error %v", expr, err, res.Err)
			}
			if err != nil {
				q.Close()
				continue
			}
			want, _ := res.Matrix()
			if d := matrixDiff(got, want, 0); d != "" {
				t.Errorf("%s over %s..%s step %s (split %v): %s", expr, start, end, step, split, d)
			}
			if d := annoDiff(gotAnnos, res.Warnings, expr); d != "" {
				t.Errorf("%s: %s", expr, d)
			}
			q.Close()
			release()
		}
	}
	t.Logf("%d of %d queries split by time", splits, 3*len(exprs))
	if splits < len(exprs) {
		t.Errorf("%d of %d queries split by time, want at least %d", splits, 3*len(exprs), len(exprs))
	}
	for _, expr := range []string{`sum(lat @ 600)`, `sum(rate(req_total[1m] @ end()))`, `sum(rate(req_total[17m]))`,
		`max_over_time(sum(rate(req_total[1m]))[5m:1m])`, `max_over_time(sum(rate(req_total[1m]))[5m:])`,
		`sum(rate(req_total{__tier__="1m"}[5m]))`} {
		if a.splittable(expr, time.Unix(0, 0), time.Unix(3600, 0), time.Second) {
			t.Errorf("%s: split by time over an hour", expr)
		}
	}
}
