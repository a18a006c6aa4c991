package tier

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	promrules "github.com/prometheus/prometheus/rules"
	promstorage "github.com/prometheus/prometheus/storage"

	"github.com/gmc-dev/gmc/internal/storage"
)

// newManyGaugesFixture is a raw TSDB of rawSpan of 15 s samples of 40
// gauges m{g="0"|"1", i} whose values span six orders of magnitude (so a
// sum's last bits depend on the order it adds them in), and the default
// tiers caught up over it.
func newManyGaugesFixture(t *testing.T) *fixture {
	t.Helper()
	raw, dir := openRaw(t, storage.Options{})
	rng := rand.New(rand.NewPCG(3, 5))
	app := raw.AppenderV2(context.Background())
	for i := range 40 {
		ls := labels.FromStrings("__name__", "m", "g", fmt.Sprint(i%2), "i", fmt.Sprintf("i-%02d", i))
		scale := math.Pow(10, float64(i%7))
		for ts := t0.Add(15 * time.Second); !ts.After(t0.Add(rawSpan)); ts = ts.Add(15 * time.Second) {
			if _, err := app.Append(0, ls, 0, ts.UnixMilli(), scale*(1+rng.Float64()), nil, nil, promstorage.AOptions{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	return caughtUp(t, raw, dir)
}

// An aggregation over avg_over_time answered from the tiers gives the same
// bits every time it is evaluated. The tiers answer avg_over_time as a sum
// over a count (PrepareQuery); written as the division of two
// sum_over_time, the engine's binary operation made its answer's series in
// a map's order, different from one evaluation to the next, and the
// aggregation above added them in that order: the panel
// `avg by (service) (avg_over_time(x[1h]))` changed in its last digit from
// one refresh to the next.
func TestAvgOverTimeAggregatedIsDeterministic(t *testing.T) {
	f := newManyGaugesFixture(t)
	end := t0.Add(rawSpan)
	tq := f.set.Queryable(5 * 60 * 1000)
	for _, c := range []struct {
		expr string
		step time.Duration
	}{
		{`avg by (g) (avg_over_time(m[1h]))`, 10 * time.Minute},
		{`sum by (g) (avg_over_time(m[1h]))`, 10 * time.Minute},
		{`avg(avg_over_time(m[30m] offset 10m))`, time.Minute},
		{`stddev by (g) (avg_over_time(m[1h]))`, time.Hour},
	} {
		if c.expr[:3] == "avg" {
			f.compare(t, c.expr, end.Add(-2*time.Hour), end, c.step, 1e-12) // and the answer is raw data's
		}
		first := f.rangeQuery(t, tq, c.expr, end.Add(-2*time.Hour), end, c.step)
		if len(first) == 0 {
			t.Fatalf("%s: no answer", c.expr)
		}
		for range 20 {
			again := f.rangeQuery(t, tq, c.expr, end.Add(-2*time.Hour), end, c.step)
			if d := bitsDiffer(first, again); d != "" {
				t.Fatalf("%s: evaluated twice, two answers: %s", c.expr, d)
			}
		}
	}
	// An instant query, as a rule evaluates it (the engine kept its
	// division's order there: this one checks the selector standing for it).
	query := promrules.EngineQueryFunc(Engine(f.eng), tq)
	expr := `avg by (g) (avg_over_time(m[1h]))`
	first, err := query(context.Background(), expr, end)
	if err != nil || len(first) != 2 {
		t.Fatalf("%s: %v, %v", expr, first, err)
	}
	for range 20 {
		again, err := query(context.Background(), expr, end)
		if err != nil {
			t.Fatal(err)
		}
		for i := range first {
			if !labels.Equal(first[i].Metric, again[i].Metric) || math.Float64bits(first[i].F) != math.Float64bits(again[i].F) {
				t.Fatalf("%s: evaluated twice, %s %v then %s %v", expr, first[i].Metric, first[i].F, again[i].Metric, again[i].F)
			}
		}
	}
}

// bitsDiffer describes the first difference between a and b, two answers
// of a range query, bit for bit; "" if none.
func bitsDiffer(a, b promql.Matrix) string {
	if len(a) != len(b) {
		return fmt.Sprintf("%d series, then %d", len(a), len(b))
	}
	for i := range a {
		if !labels.Equal(a[i].Metric, b[i].Metric) || len(a[i].Floats) != len(b[i].Floats) {
			return fmt.Sprintf("series %d: %s (%d points), then %s (%d)", i, a[i].Metric, len(a[i].Floats), b[i].Metric, len(b[i].Floats))
		}
		for j, p := range a[i].Floats {
			if q := b[i].Floats[j]; p.T != q.T || math.Float64bits(p.F) != math.Float64bits(q.F) {
				return fmt.Sprintf("%s at %d: %v, then %v at %d", a[i].Metric, p.T, p.F, q.F, q.T)
			}
		}
	}
	return ""
}

// The engine that answers an avg_over_time from the tiers keeps the query
// engine's limit of samples (Options.MaxSamples, the server's
// query.max_samples): it had Prometheus's default 50,000,000 whatever
// gmc.yml said.
func TestAvgOverTimeKeepsTheLimit(t *testing.T) {
	f := newManyGaugesFixture(t)
	end := t0.Add(rawSpan)
	expr := `avg by (g) (avg_over_time(m[1h]))`
	run := func() promql.Result {
		tq := f.set.Queryable(5 * 60 * 1000)
		qry, err := f.eng.NewRangeQuery(context.Background(), tq, nil, expr, end.Add(-2*time.Hour), end, 10*time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		defer qry.Close()
		Prepare(qry, tq)
		return *qry.Exec(context.Background())
	}
	if res := run(); res.Err != nil {
		t.Fatalf("%s within the default limit: %v", expr, res.Err)
	}
	f.set.opts.MaxSamples = 100 // the division reads 40 series' hour of minute buckets
	if res := run(); res.Err == nil || !strings.Contains(res.Err.Error(), "too many samples") {
		t.Fatalf("%s with max_samples 100: %v, want the engine's too-many-samples error", expr, res.Err)
	}
}

// A query that writes the __avg__ label itself is refused, not evaluated:
// the division it carries would run in the tier querier's own engine,
// outside the query lanes' admission (and nested, once per level). Only
// the values PrepareQuery signed are answered.
func TestAvgLabelWrittenByAQueryRefused(t *testing.T) {
	f := newManyGaugesFixture(t)
	end := t0.Add(rawSpan)
	tq := f.set.Queryable(5 * 60 * 1000)
	for _, v := range []string{
		fmt.Sprintf("%d:%d:0:sum_over_time(m[1h]) / sum_over_time(m{__agg__=\"count\"}[1h])", end.UnixMilli(), end.UnixMilli()),
		fmt.Sprintf("%d:%d:0:%064x:sum_over_time(m[1h])", end.UnixMilli(), end.UnixMilli(), 0),
	} {
		expr := fmt.Sprintf("sum({%s=%q})", AvgLabel, v)
		qry, err := f.eng.NewInstantQuery(context.Background(), tq, nil, expr, end)
		if err != nil {
			t.Fatal(err)
		}
		Prepare(qry, tq)
		res := qry.Exec(context.Background())
		qry.Close()
		if res.Err == nil || !strings.Contains(res.Err.Error(), "not one a query may write") {
			t.Errorf("%s: %v, %v; want it refused", expr, res.Value, res.Err)
		}
	}
	// The rewrite's own selectors are still answered.
	if got := f.rangeQuery(t, tq, `avg by (g) (avg_over_time(m[1h]))`, end.Add(-time.Hour), end, 10*time.Minute); len(got) != 2 {
		t.Fatalf("the rewrite: %v", got)
	}
}
