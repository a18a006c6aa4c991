package tier

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	promstorage "github.com/prometheus/prometheus/storage"

	"github.com/gmc-dev/gmc/internal/httpapi"
	"github.com/gmc-dev/gmc/internal/query"
	"github.com/gmc-dev/gmc/internal/storage"
)

// newPanelFixture is newManyGaugesFixture's 40 gauges and, in group "2",
// gauges the engine's arithmetic is particular about: one near the
// largest float (avg's sum overflows and it switches to an incremental
// mean), one with NaNs, one with ±Inf, one silent for an hour (a
// staleness marker, then nothing), and one holding negative zeros.
func newPanelFixture(t *testing.T) *fixture {
	t.Helper()
	raw, dir := openRaw(t, storage.Options{})
	rng := rand.New(rand.NewPCG(3, 5))
	app := raw.AppenderV2(context.Background())
	add := func(ls labels.Labels, ts time.Time, v float64) {
		if _, err := app.Append(0, ls, 0, ts.UnixMilli(), v, nil, nil, promstorage.AOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 40 {
		ls := labels.FromStrings("__name__", "m", "g", fmt.Sprint(i%2), "i", fmt.Sprintf("i-%02d", i))
		scale := math.Pow(10, float64(i%7))
		for ts := t0.Add(15 * time.Second); !ts.After(t0.Add(rawSpan)); ts = ts.Add(15 * time.Second) {
			add(ls, ts, scale*(1+rng.Float64()))
		}
	}
	odd := func(i string) labels.Labels { return labels.FromStrings("__name__", "m", "g", "2", "i", i) }
	for ts := t0.Add(10 * time.Second); !ts.After(t0.Add(rawSpan)); ts = ts.Add(10 * time.Second) {
		m := int(ts.Sub(t0) / time.Minute)
		add(odd("huge"), ts, math.MaxFloat64*(0.5+rng.Float64()/4))
		nan := rng.Float64()
		if m%17 == 3 {
			nan = math.NaN()
		}
		add(odd("nan"), ts, nan)
		inf := rng.Float64()
		switch m % 23 {
		case 5:
			inf = math.Inf(1)
		case 11:
			inf = math.Inf(-1)
		}
		add(odd("inf"), ts, inf)
		zero := -rng.Float64()
		if m%5 == 0 {
			zero = math.Copysign(0, -1)
		}
		add(odd("zero"), ts, zero)
		switch gap := ts.Sub(t0); {
		case gap < 90*time.Minute || gap >= 150*time.Minute:
			add(odd("gap"), ts, rng.Float64()*100)
		case gap < 90*time.Minute+10*time.Second:
			add(odd("gap"), ts, math.Float64frombits(value.StaleNaN))
		}
	}
	// Counters, reset now and then, one under a name that is not a
	// counter's (rate notes it).
	for i := range 11 {
		ls := labels.FromStrings("__name__", "c_total", "g", fmt.Sprint(i%2), "i", fmt.Sprintf("c-%02d", i))
		if i == 10 {
			ls = labels.FromStrings("__name__", "cnt", "g", "3", "i", "c-10")
		}
		v := 0.0
		for ts := t0.Add(15 * time.Second); !ts.After(t0.Add(rawSpan)); ts = ts.Add(15 * time.Second) {
			if rng.IntN(400) == 0 {
				v = 0
			}
			v += math.Round(rng.Float64() * 100 * math.Pow(10, float64(i%4)))
			add(ls, ts, v)
		}
	}
	// Equal values, topk's ties: gauges of 1, 2 or NaN, and counters
	// rising by 10 (c-0, c-1) or 20 (c-2, c-3) every 15 s; and one
	// sampled every 4 minutes (a lookback of 2 finds nothing between).
	for ts := t0.Add(4 * time.Minute); !ts.After(t0.Add(rawSpan)); ts = ts.Add(4 * time.Minute) {
		add(labels.FromStrings("__name__", "tie", "g", "1", "i", "sparse"), ts, float64(1+rng.IntN(2)))
	}
	for i := range 4 {
		g, c := labels.FromStrings("__name__", "tie", "g", fmt.Sprint(i%2), "i", fmt.Sprintf("t-%d", i)),
			labels.FromStrings("__name__", "tie_total", "g", fmt.Sprint(i%2), "i", fmt.Sprintf("c-%d", i))
		v := 0.0
		for ts := t0.Add(15 * time.Second); !ts.After(t0.Add(rawSpan)); ts = ts.Add(15 * time.Second) {
			add(g, ts, []float64{1, 2, math.NaN()}[rng.IntN(3)])
			v += float64(10 * (1 + i/2))
			add(c, ts, v)
		}
	}
	// Twins: m{g="0",i="i-00"} and c_total{g="0",i="c-00"} under other
	// names, alike once a function drops the name.
	for ts := t0.Add(15 * time.Second); !ts.After(t0.Add(rawSpan)); ts = ts.Add(15 * time.Second) {
		add(labels.FromStrings("__name__", "twin", "g", "0", "i", "i-00"), ts, rng.Float64())
		add(labels.FromStrings("__name__", "twin_total", "g", "0", "i", "c-00"), ts, float64(ts.Sub(t0)/time.Second))
	}
	// A gauge that stops without a staleness marker at 2h03m30s and
	// comes back at 2h31m: at the steps of the 10 minutes after it
	// stopped, its last sample is further back than the lookback.
	for ts := t0.Add(15 * time.Second); !ts.After(t0.Add(rawSpan)); ts = ts.Add(15 * time.Second) {
		if d := ts.Sub(t0); d <= 2*time.Hour+3*time.Minute+30*time.Second || d >= 2*time.Hour+31*time.Minute {
			add(labels.FromStrings("__name__", "stop", "g", "1", "i", "s"), ts, rng.Float64())
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	return caughtUp(t, raw, dir)
}

// A panel evaluated directly (EvalPanel) equals the engine's answer on
// the same tiers bit for bit, over random shapes, ranges, offsets, steps
// and starts, on and off the tiers' grids; a panel no tier answers, or
// whose shape EvalPanel does not take, is left to the engine.
func TestPanelEqualsEngine(t *testing.T) {
	f := newPanelFixture(t)
	tq := f.set.Queryable(5 * 60 * 1000)
	end := t0.Add(rawSpan)
	rng := rand.New(rand.NewPCG(17, 19))
	aggs := []string{"sum", "avg", "max", "min", "count"}
	bys := []string{"", " by (g)", " by (i)", " by (g, i)", " by (nothing)", " without (i)", " without (g, nothing)", " without ()"}
	fns := []string{"max_over_time", "min_over_time", "sum_over_time", "avg_over_time", "rate", "increase", "rate"}
	sels := []string{"m", `m{g="2"}`, `m{g=~"0|2"}`, `{__name__="m",i=~"i-0.*|huge|nan"}`, "c_total", `{__name__=~"c_total|cnt"}`, `c_total{g="1"}`}
	ranges := []time.Duration{time.Minute, 10 * time.Minute, 30 * time.Minute, time.Hour, 2 * time.Hour, 90 * time.Second}
	offsets := []string{"", " offset 10m", " offset 1h", " offset -10m"}
	steps := []time.Duration{time.Minute, 5 * time.Minute, 10 * time.Minute, 30 * time.Minute, time.Hour, 7 * time.Minute}
	done, rates, noted := 0, 0, 0
	for n := range 400 {
		expr := fmt.Sprintf("%s%s (%s(%s[%s]%s))", aggs[rng.IntN(len(aggs))], bys[rng.IntN(len(bys))], fns[rng.IntN(len(fns))],
			sels[rng.IntN(len(sels))], promqlDuration(ranges[rng.IntN(len(ranges))]), offsets[rng.IntN(len(offsets))])
		step := steps[rng.IntN(len(steps))]
		qend := end.Add(-time.Duration(rng.IntN(4)) * 10 * time.Minute)
		if n%5 == 0 {
			qend = qend.Add(-time.Duration(rng.IntN(60)) * time.Second) // off every grid
		}
		qstart := qend.Add(-time.Duration(1+rng.IntN(40)) * step)
		want, wantNotes := f.rangeQueryNotes(t, tq, expr, qstart, qend, step)
		e, err := panelParser.ParseExpr(expr)
		if err != nil {
			t.Fatal(err)
		}
		got, notes, ok, err := tq.EvalPanel(context.Background(), e, qstart, qend, step, 5*time.Minute, 50_000_000, nil)
		if err != nil {
			t.Fatalf("%s: %v", expr, err)
		}
		if !ok {
			continue
		}
		done++
		if w, i := notes.AsStrings(expr, 0, 0); !slices.Equal(sorted(append(w, i...)), wantNotes) {
			t.Fatalf("%s: notes %q, the engine's %q", expr, append(w, i...), wantNotes)
		}
		if len(wantNotes) > 0 {
			noted++
		}
		if strings.Contains(expr, "rate(") || strings.Contains(expr, "increase(") {
			rates++
		}
		slices.SortFunc(got, func(a, b promql.Series) int { return labels.Compare(a.Metric, b.Metric) })
		if d := bitsDiffer(want, got); d != "" {
			t.Fatalf("%s from %s to %s at %s: the engine's answer, then the direct one: %s", expr,
				qstart.Format(time.TimeOnly), qend.Format(time.TimeOnly), step, d)
		}
	}
	if done < 150 || rates < 20 || noted == 0 {
		t.Errorf("%d of 400 panels evaluated directly (%d rates or increases, %d with a note), want at least 150 (20, 1)", done, rates, noted)
	}
	t.Logf("%d of 400 panels evaluated directly (%d rates or increases, %d with a note)", done, rates, noted)

	// Left to the engine: shapes it does not take, raw data, a forced tier.
	for _, expr := range []string{
		`sum(irate(m[1h]))`, `group(max_over_time(m[1h]))`, `stddev without (i) (max_over_time(m[1h]))`,
		`sum by (__name__) (max_over_time(m[1h]))`, `sum(max_over_time(m[1h] @ 1000))`,
		`sum(avg_over_time({i="huge"}[1h]))`, `sum(max_over_time(m{__tier__="1m"}[1h]))`, `sum(max_over_time(m[1h])) * 2`,
	} {
		e, err := panelParser.ParseExpr(expr)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, ok, _ := tq.EvalPanel(context.Background(), e, end.Add(-time.Hour), end, 10*time.Minute, 5*time.Minute, 50_000_000, nil); ok {
			t.Errorf("%s: evaluated directly, want the engine", expr)
		}
	}
	e, _ := panelParser.ParseExpr(`sum(max_over_time(m[1h]))`)
	if _, _, ok, _ := tq.EvalPanel(context.Background(), e, end.Add(-time.Hour), end, 15*time.Second, 5*time.Minute, 50_000_000, nil); ok {
		t.Error("a 15 s step (raw data) evaluated directly, want the engine")
	}
	if _, _, ok, _ := tq.EvalPanel(context.Background(), e, end.Add(-time.Hour), end, 10*time.Minute, 5*time.Minute, 100, nil); ok {
		t.Error("past the samples limit: evaluated directly, want the engine (which refuses)")
	}
}

// Aggregations of a plain selector (the tier's last values, looked back
// as the engine looks back, a staleness marker ending a series), count,
// topk and bottomk (the engine's heaps: the same picks among equal values
// and NaNs), by or without labels, evaluated directly equal the engine's
// answer on the same tiers bit for bit, at the engine's lookback and at
// others a query asks for.
func TestPanelPlainAndTopkEqualsEngine(t *testing.T) {
	f := newPanelFixture(t)
	tq := f.set.Queryable(5 * 60 * 1000)
	end := t0.Add(rawSpan)
	rng := rand.New(rand.NewPCG(23, 29))
	aggs := []string{"sum", "avg", "max", "min", "count", "topk", "topk", "topk", "bottomk", "bottomk"}
	ks := []int{1, 2, 3, 50}
	bys := []string{"", " by (g)", " by (i)", " by (nothing)", " without (i)", " without (g)"}
	args := []string{"m", `m{g="2"}`, "tie", `{__name__=~"tie|m",g=~"0|2"}`, "c_total offset 10m", "tie offset -10m",
		"rate(tie_total[%s])", "increase(tie_total[%s] offset 1h)", "max_over_time(tie[%s])", "rate(c_total[%s])",
		"avg_over_time(tie[%s])", "sum_over_time(m[%s])"}
	ranges := []time.Duration{30 * time.Minute, time.Hour, 2 * time.Hour}
	lookbacks := []time.Duration{0, 2 * time.Minute, 10 * time.Minute}
	steps := []time.Duration{time.Minute, 5 * time.Minute, 10 * time.Minute, time.Hour, 7 * time.Minute}
	done, plain, topk, bottomk, without := 0, 0, 0, 0, 0
	for n := range 400 {
		arg := args[rng.IntN(len(args))]
		if strings.Contains(arg, "%s") {
			arg = fmt.Sprintf(arg, promqlDuration(ranges[rng.IntN(len(ranges))]))
		}
		agg, by := aggs[rng.IntN(len(aggs))], bys[rng.IntN(len(bys))]
		expr := fmt.Sprintf("%s%s (%s)", agg, by, arg)
		if agg == "topk" || agg == "bottomk" {
			expr = fmt.Sprintf("%s%s (%d, %s)", agg, by, ks[rng.IntN(len(ks))], arg)
		}
		step := steps[rng.IntN(len(steps))]
		qend := end.Add(-time.Duration(rng.IntN(4)) * 10 * time.Minute)
		if n%5 == 0 {
			qend = qend.Add(-time.Duration(rng.IntN(60)) * time.Second) // off every grid
		}
		qstart := qend.Add(-time.Duration(1+rng.IntN(40)) * step)
		lookback := lookbacks[rng.IntN(len(lookbacks))]
		qry, err := f.eng.NewRangeQuery(context.Background(), tq, promql.NewPrometheusQueryOpts(false, lookback, nil), expr, qstart, qend, step)
		if err != nil {
			t.Fatal(err)
		}
		Prepare(qry, tq)
		res := qry.Exec(context.Background())
		if res.Err != nil {
			t.Fatalf("%s: %v", expr, res.Err)
		}
		want, err := res.Matrix()
		if err != nil {
			t.Fatal(err)
		}
		w, i := res.Warnings.AsStrings(expr, 0, 0)
		wantNotes := sorted(append(w, i...))
		e, err := panelParser.ParseExpr(expr)
		if err != nil {
			t.Fatal(err)
		}
		got, notes, ok, err := tq.EvalPanel(context.Background(), e, qstart, qend, step, cmp.Or(lookback, 5*time.Minute), 50_000_000, nil)
		if err != nil {
			t.Fatalf("%s: %v", expr, err)
		}
		if !ok {
			qry.Close()
			continue
		}
		done++
		if !strings.Contains(arg, "[") {
			plain++
		}
		switch agg {
		case "topk":
			topk++
		case "bottomk":
			bottomk++
		}
		if strings.Contains(by, "without") {
			without++
		}
		if w, i := notes.AsStrings(expr, 0, 0); !slices.Equal(sorted(append(w, i...)), wantNotes) {
			t.Fatalf("%s: notes %q, the engine's %q", expr, append(w, i...), wantNotes)
		}
		slices.SortFunc(got, func(a, b promql.Series) int { return labels.Compare(a.Metric, b.Metric) })
		if d := bitsDiffer(want, got); d != "" {
			t.Fatalf("%s from %s to %s at %s, lookback %s: the engine's answer, then the direct one: %s", expr,
				qstart.Format(time.TimeOnly), qend.Format(time.TimeOnly), step, lookback, d)
		}
		qry.Close()
	}
	if done < 150 || plain < 30 || topk < 30 || bottomk < 20 || without < 30 {
		t.Errorf("%d of 400 panels evaluated directly (%d of a plain selector, %d topk, %d bottomk, %d without), want at least 150 (30, 30, 20, 30)",
			done, plain, topk, bottomk, without)
	}
	t.Logf("%d of 400 panels evaluated directly (%d of a plain selector, %d topk, %d bottomk, %d without)", done, plain, topk, bottomk, without)

	// Left to the engine: topk's other parameters, other aggregations of a
	// plain selector, a plain selector no tier answers (the 10m step's is
	// the 10m tier, over a fifth of the lookback).
	for _, c := range []struct {
		expr string
		step time.Duration
	}{
		{`topk(0, m)`, 10 * time.Minute}, {`topk(-1, m)`, 10 * time.Minute}, {`topk(NaN, m)`, 10 * time.Minute},
		{`topk(scalar(m{i="huge"}), m)`, 10 * time.Minute}, {`bottomk(0, m)`, 10 * time.Minute},
		{`stddev(m)`, 10 * time.Minute}, {`quantile(0.5, m)`, 10 * time.Minute}, {`sum(m)`, 15 * time.Second},
		{`sum without (__name__) (m)`, 10 * time.Minute},
	} {
		e, err := panelParser.ParseExpr(c.expr)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, ok, _ := tq.EvalPanel(context.Background(), e, end.Add(-time.Hour), end, c.step, 5*time.Minute, 50_000_000, nil); ok {
			t.Errorf("%s at %s: evaluated directly, want the engine", c.expr, c.step)
		}
	}
}

// A native histogram met by a panel's read leaves the panel to the engine
// (a tier keeps a histogram's last and counter only: its sum and count are
// read from raw data). A histogram's max_over_time from a tier reads no
// series, as the engine does.
func TestPanelWithHistogramsLeftToEngine(t *testing.T) {
	f := newUnevenFixture(t, t0.Add(unevenSpan+time.Second))
	tq := f.set.Queryable(5 * 60 * 1000)
	end := t0.Add(unevenSpan)
	start := end.Add(-3 * time.Hour)
	for _, c := range []struct {
		expr   string
		direct bool
	}{
		{`sum(sum_over_time(lat[1h]))`, false},
		{`avg(avg_over_time(lat[1h]))`, false},
		{`sum by (i) (sum_over_time({__name__=~"u|lat"}[1h]))`, false},
		{`max(max_over_time({__name__=~"u|lat"}[1h]))`, true},
		{`avg by (i) (avg_over_time(u[1h]))`, true},
	} {
		e, _ := panelParser.ParseExpr(c.expr)
		got, _, ok, err := tq.EvalPanel(context.Background(), e, start, end, 10*time.Minute, 5*time.Minute, 50_000_000, nil)
		if ok != c.direct || err != nil {
			t.Errorf("%s: evaluated directly %v (%v), want %v", c.expr, ok, err, c.direct)
			continue
		}
		if ok {
			slices.SortFunc(got, func(a, b promql.Series) int { return labels.Compare(a.Metric, b.Metric) })
			if d := bitsDiffer(f.rangeQuery(t, tq, c.expr, start, end, 10*time.Minute), got); d != "" {
				t.Errorf("%s: the engine's answer, then the direct one: %s", c.expr, d)
			}
		}
	}
}

// A panel whose function drops the name of two series alike but for it
// (m and twin, c_total and twin_total) is left to the engine (distinct):
// topk's answer would hold two series of one labelset, which the engine
// refuses ("vector cannot contain metrics with the same labelset"), where
// without the check the direct path answered 21 series. (sum, max and
// the rest answered as the engine does without the check: the engine
// drops the name after aggregating; they are left to it all the same.)
// The same selectors without a function keep their names and are
// evaluated directly, as the engine evaluates them.
func TestPanelNameDroppedTwinsLeftToEngine(t *testing.T) {
	f := newPanelFixture(t)
	tq := f.set.Queryable(5 * 60 * 1000)
	end := t0.Add(rawSpan)
	start := end.Add(-3 * time.Hour)
	for _, c := range []struct {
		expr   string
		direct bool
	}{
		{`topk(50, max_over_time({__name__=~"m|twin",g="0"}[1h]))`, false},
		{`topk by (i) (1, rate({__name__=~"c_total|twin_total",g="0"}[1h]))`, false},
		{`sum by (i) (max_over_time({__name__=~"m|twin",g="0"}[1h]))`, false},
		{`max(increase({__name__=~"c_total|twin_total"}[1h]))`, false},
		{`topk(50, {__name__=~"m|twin",g="0"})`, true},
		{`sum by (i) ({__name__=~"m|twin",g="0"})`, true},
	} {
		e, err := panelParser.ParseExpr(c.expr)
		if err != nil {
			t.Fatal(err)
		}
		got, _, ok, err := tq.EvalPanel(context.Background(), e, start, end, 10*time.Minute, 5*time.Minute, 50_000_000, nil)
		if err != nil {
			t.Fatalf("%s: %v", c.expr, err)
		}
		qry, err := f.eng.NewRangeQuery(context.Background(), tq, nil, c.expr, start, end, 10*time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		Prepare(qry, tq)
		res := qry.Exec(context.Background())
		if ok {
			slices.SortFunc(got, func(a, b promql.Series) int { return labels.Compare(a.Metric, b.Metric) })
			if res.Err != nil {
				t.Errorf("%s: evaluated directly (%d series), the engine's answer is an error: %v", c.expr, len(got), res.Err)
			} else if want, _ := res.Matrix(); bitsDiffer(want, got) != "" {
				t.Errorf("%s: the engine's answer, then the direct one: %s", c.expr, bitsDiffer(want, got))
			}
		}
		qry.Close()
		if ok != c.direct {
			t.Errorf("%s: evaluated directly %v, want %v", c.expr, ok, c.direct)
		}
	}
}

// rangeQueryNotes is rangeQuery's answer and the engine's notes about it,
// sorted.
func (f *fixture) rangeQueryNotes(t *testing.T, q promstorage.Queryable, expr string, start, end time.Time, step time.Duration) (promql.Matrix, []string) {
	t.Helper()
	qry, err := f.eng.NewRangeQuery(context.Background(), q, nil, expr, start, end, step)
	if err != nil {
		t.Fatal(err)
	}
	defer qry.Close()
	Prepare(qry, q)
	res := qry.Exec(context.Background())
	if res.Err != nil {
		t.Fatalf("%s: %v", expr, res.Err)
	}
	w, i := res.Warnings.AsStrings(expr, 0, 0)
	return f.rangeQuery(t, q, expr, start, end, step), sorted(append(w, i...))
}

// sorted is s sorted.
func sorted(s []string) []string {
	slices.Sort(s)
	return s
}

// promqlDuration writes d as PromQL does.
func promqlDuration(d time.Duration) string {
	return fmt.Sprint(int64(d/time.Second)) + "s"
}

// panelParser parses the tests' queries as gmc's engine does.
var panelParser = parser.NewParser(parser.Options{})

// A panel served by the query API is evaluated directly: its answer is
// the engine's, and it counts in the engine's metrics as the engine's
// queries do (prometheus_engine_query_duration_seconds' slices, the
// queries gauge back to 0), but reads no samples through the engine
// (prometheus_engine_query_samples_total does not move, where the
// engine's evaluation of the same panel adds to it).
func TestPanelServedInEngineMetrics(t *testing.T) {
	f := newPanelFixture(t)
	tq := f.set.Queryable(5 * 60 * 1000)
	reg := prometheus.NewRegistry()
	a, err := query.New(query.Options{Queryable: tq, Registerer: reg, Now: func() time.Time { return f.now }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	var served http.Handler
	for _, r := range a.Routes() {
		if r.Method == http.MethodGet && r.Path == "/api/v1/query_range" {
			served = r.Handler
		}
	}
	end := t0.Add(rawSpan)
	start := end.Add(-3 * time.Hour)
	metric := func(name, slice string) float64 {
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			for _, m := range mf.GetMetric() {
				if mf.GetName() != name {
					continue
				}
				if slice == "" {
					return m.GetGauge().GetValue() + m.GetCounter().GetValue()
				}
				for _, l := range m.GetLabel() {
					if l.GetName() == "slice" && l.GetValue() == slice {
						return float64(m.GetSummary().GetSampleCount())
					}
				}
			}
		}
		return 0
	}
	const samples, duration = "prometheus_engine_query_samples_total", "prometheus_engine_query_duration_seconds"
	// A plain selector looks back as the request asks (lookback_delta):
	// tie{i="sparse"} has a sample every 4 minutes.
	for _, c := range []struct {
		expr     string
		lookback time.Duration
	}{
		{`avg by (g) (avg_over_time(m[1h]))`, 0}, {`max(max_over_time(m[30m] offset 10m))`, 0}, {`avg(tie)`, 0},
		{`max by (i) (tie{i="sparse"} offset 1m)`, 2 * time.Minute}, {`topk(2, rate(tie_total[1h]))`, 0},
	} {
		expr := c.expr
		read, evals := metric(samples, ""), metric(duration, "inner_eval")
		params := url.Values{"query": {expr}, "start": {strconv.FormatInt(start.Unix(), 10)},
			"end": {strconv.FormatInt(end.Unix(), 10)}, "step": {"600"}, "nocache": {"1"}}
		if c.lookback > 0 {
			params.Set("lookback_delta", c.lookback.String())
		}
		req := httptest.NewRequest(http.MethodGet, "/api/v1/query_range?"+params.Encode(), nil)
		req.RemoteAddr = "127.0.0.1:40000"
		w := httptest.NewRecorder()
		served.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			t.Fatalf("%s: %d %s", expr, w.Code, w.Body)
		}
		answer, err := httpapi.DecodeMatrix(w.Body.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		qry, err := f.eng.NewRangeQuery(context.Background(), tq, promql.NewPrometheusQueryOpts(false, c.lookback, nil), expr, start, end, 10*time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		Prepare(qry, tq)
		res := qry.Exec(context.Background())
		want, err := res.Matrix()
		if err != nil {
			t.Fatal(err)
		}
		defer qry.Close()
		if len(answer) != len(want) {
			t.Fatalf("%s: %d series served, the engine %d", expr, len(answer), len(want))
		}
		for i, s := range want {
			got := answer[i]
			if !labels.Equal(labels.FromMap(got.Metric), s.Metric) || len(got.Values) != len(s.Floats) {
				t.Fatalf("%s: served %v (%d points), the engine %s (%d)", expr, got.Metric, len(got.Values), s.Metric, len(s.Floats))
			}
			for j, p := range s.Floats {
				if v := got.Values[j].V; v != strconv.FormatFloat(p.F, 'f', -1, 64) {
					t.Fatalf("%s: %s at %d served %v, the engine %v", expr, s.Metric, p.T, v, p.F)
				}
			}
		}
		if got := metric(duration, "inner_eval"); got != evals+1 {
			t.Errorf("%s: %s{slice=\"inner_eval\"} count %v after the query, want %v", expr, duration, got, evals+1)
		}
		if got := metric(samples, ""); got != read {
			t.Errorf("%s: %s %v after the query, was %v: the engine evaluated it", expr, samples, got, read)
		}
		if got := metric("prometheus_engine_queries", ""); got != 0 {
			t.Errorf("%s: prometheus_engine_queries %v after the query, want 0", expr, got)
		}
	}
}
