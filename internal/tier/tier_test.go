package tier

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/promql"
	promstorage "github.com/prometheus/prometheus/storage"

	"github.com/gmc-dev/gmc/internal/duration"
	"github.com/gmc-dev/gmc/internal/query"
	"github.com/gmc-dev/gmc/internal/storage"
)

// t0 is the start of the raw data: a whole hour.
var t0 = time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)

const rawSpan = 4 * time.Hour

// fixture is a raw TSDB holding 4h of one-second samples of
//   - c_total{i="a"|"b"}: counters with a rate that varies, reset to 0 at
//     random seconds (about every 20 minutes)
//   - g{i="a"|"b"}: a noisy random walk
//   - young_total{i="a"|"b"}: a counter that starts 2h30m in, inside the
//     windows of the tests' last hour
//
// and a Set of the default tiers over it, with its clock at now.
type fixture struct {
	raw  *storage.TSDB
	set  *Set
	now  time.Time
	eng  *promql.Engine
	dir  string
	opts Options
	// cache is the decoded-sample cache queries read the raw data and the
	// tiers through, as the server's (server.openTiers).
	cache *storage.DecodedCache
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	// The raw store takes samples up to an hour late, as gmc's does by default.
	raw, dir := openRaw(t, storage.Options{OutOfOrderWindow: time.Hour})
	rng := rand.New(rand.NewPCG(1, 2))
	app := raw.AppenderV2(context.Background())
	for _, inst := range []string{"a", "b"} {
		c := labels.FromStrings("__name__", "c_total", "i", inst)
		g := labels.FromStrings("__name__", "g", "i", inst)
		y := labels.FromStrings("__name__", "young_total", "i", inst)
		var cv, gv, yv float64
		for ts := t0.Add(time.Second); !ts.After(t0.Add(rawSpan)); ts = ts.Add(time.Second) {
			if rng.IntN(1200) == 0 {
				cv = 0
			}
			cv += float64(rng.IntN(10 + ts.Minute()))
			gv += rng.NormFloat64()
			ms := ts.UnixMilli()
			if _, err := app.Append(0, c, 0, ms, cv, nil, nil, promstorage.AOptions{}); err != nil {
				t.Fatal(err)
			}
			if _, err := app.Append(0, g, 0, ms, gv, nil, nil, promstorage.AOptions{}); err != nil {
				t.Fatal(err)
			}
			if ts.After(t0.Add(150 * time.Minute)) {
				yv += float64(rng.IntN(20))
				if _, err := app.Append(0, y, 0, ms, yv, nil, nil, promstorage.AOptions{}); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	return fixtureOver(t, raw, dir, t0.Add(rawSpan+time.Second))
}

// openRaw opens a raw TSDB with opts in a temporary directory of the
// test's (opts.Dir) with a registry of its own, closed when the test ends,
// and returns it and the directory (the tiers' go beside it).
func openRaw(tb testing.TB, opts storage.Options) (*storage.TSDB, string) {
	tb.Helper()
	opts.Dir, opts.Registerer = tb.TempDir(), prometheus.NewRegistry()
	raw, err := storage.Open(opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { raw.Close() })
	return raw, opts.Dir
}

// minuteAndHour are the tiers without the 10m one: what tests of how the
// 1m tier's buckets are merged on a 10-minute step grid read.
var minuteAndHour = []Level{
	{Resolution: duration.Duration(time.Minute), Retention: duration.Duration(90 * 24 * time.Hour)},
	{Resolution: duration.Duration(time.Hour), Retention: duration.Duration(2 * 365 * 24 * time.Hour)},
}

// fixtureOver opens tiers (the default ones if none) in dir over raw, with
// their clock at now, read through a decoded-sample cache as the server
// reads them, and an engine.
func fixtureOver(t *testing.T, raw *storage.TSDB, dir string, now time.Time, tiers ...Level) *fixture {
	t.Helper()
	f := &fixture{raw: raw, now: now, dir: dir, cache: storage.NewDecodedCache(query.DefaultDecodedCacheMaxBytes, nil)}
	f.opts = Options{Dir: dir, Raw: raw, RawRead: f.cache.Queryable(raw), Decoded: f.cache, RawRetention: 15 * 24 * time.Hour,
		Now: func() time.Time { return f.now }, Settle: time.Nanosecond}
	f.opts.Config.Tiers = tiers
	f.open(t)
	q, err := query.New(query.Options{Queryable: raw, Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	f.eng = q.Engine()
	return f
}

// caughtUp is the fixture over raw (in dir) a second after rawSpan, its
// default tiers caught up.
func caughtUp(t *testing.T, raw *storage.TSDB, dir string) *fixture {
	t.Helper()
	f := fixtureOver(t, raw, dir, t0.Add(rawSpan+time.Second))
	for _, tr := range f.set.Tiers() {
		f.catchUp(t, tr)
	}
	return f
}

func (f *fixture) open(t *testing.T) {
	t.Helper()
	f.opts.Config.Normalise() // as config.Load does: Open trusts its input
	if err := f.opts.Config.Validate(); err != nil {
		t.Fatal(err)
	}
	set, err := Open(f.opts)
	if err != nil {
		t.Fatal(err)
	}
	f.set = set
	t.Cleanup(func() { set.Close() })
}

// catchUp runs the job until the tier's watermark stops moving.
func (f *fixture) catchUp(t *testing.T, tr *Tier) {
	t.Helper()
	for range 1000 {
		moved, err := f.set.Step(context.Background(), tr)
		if err != nil {
			t.Fatal(err)
		}
		if !moved {
			return
		}
	}
	t.Fatal("the job never caught up")
}

// rangeQuery evaluates expr over [start, end] at step on queryable.
func (f *fixture) rangeQuery(t *testing.T, q promstorage.Queryable, expr string, start, end time.Time, step time.Duration) promql.Matrix {
	t.Helper()
	qry, err := f.eng.NewRangeQuery(context.Background(), q, nil, expr, start, end, step)
	if err != nil {
		t.Fatal(err)
	}
	defer qry.Close()
	Prepare(qry, q) // as every reader over the tiers does
	res := qry.Exec(context.Background())
	if res.Err != nil {
		t.Fatalf("%s: %v", expr, res.Err)
	}
	m, err := res.Matrix()
	if err != nil {
		t.Fatal(err)
	}
	// Close recycles the points: keep a copy.
	out := make(promql.Matrix, len(m))
	for i, s := range m {
		out[i] = promql.Series{Metric: s.Metric, Floats: append([]promql.FPoint(nil), s.Floats...)}
	}
	return out
}

// compare checks that expr on the tiers equals expr on raw data within rel.
func (f *fixture) compare(t *testing.T, expr string, start, end time.Time, step time.Duration, rel float64) {
	t.Helper()
	want := f.rangeQuery(t, f.raw, expr, start, end, step)
	got := f.rangeQuery(t, f.set.Queryable(5*60*1000), expr, start, end, step)
	if len(want) == 0 || len(got) != len(want) {
		t.Fatalf("%s: %d series from tiers, %d from raw", expr, len(got), len(want))
	}
	worst := 0.0
	for i := range want {
		if !labels.Equal(got[i].Metric, want[i].Metric) || len(got[i].Floats) != len(want[i].Floats) {
			t.Fatalf("%s: series %d: %s with %d points from tiers, %s with %d from raw", expr, i, got[i].Metric, len(got[i].Floats), want[i].Metric, len(want[i].Floats))
		}
		for j, w := range want[i].Floats {
			g := got[i].Floats[j]
			if g.T != w.T {
				t.Fatalf("%s: point %d at %d, want %d", expr, j, g.T, w.T)
			}
			d := math.Abs(g.F-w.F) / math.Max(math.Abs(w.F), 1e-9)
			if math.IsNaN(g.F) && math.IsNaN(w.F) {
				d = 0
			}
			worst = math.Max(worst, d)
			if d > rel || math.IsNaN(d) {
				t.Errorf("%s at %s: %v from tiers, %v from raw (%.3g relative)", expr, time.UnixMilli(w.T).UTC().Format(time.TimeOnly), g.F, w.F, d)
				return
			}
		}
	}
	t.Logf("%s: worst relative difference %.3g", expr, worst)
}

func TestTieredReadsMatchRaw(t *testing.T) {
	f := newFixture(t)
	for _, tr := range f.set.Tiers() {
		f.catchUp(t, tr)
	}
	if wm := f.set.Tiers()[0].Watermark(); wm != t0.Add(rawSpan).UnixMilli() {
		t.Fatalf("1m watermark %s, want %s", time.UnixMilli(wm).UTC(), t0.Add(rawSpan))
	}
	start, end := t0.Add(time.Hour), t0.Add(rawSpan)
	// Steps and ranges on whole minutes: the buckets cover the windows exactly.
	for _, c := range []struct {
		expr string
		rel  float64
	}{
		{"max_over_time(g[30m])", 0},
		{"min_over_time(g[30m])", 0},
		{"sum_over_time(g[30m])", 1e-9},
		{"avg_over_time(g[30m])", 1e-9},
		{"last_over_time(g[30m])", 0},
		// rate over buckets: the exact increase between the bucket ends,
		// extrapolated over the range's first bucket (1/60 of a 1h range),
		// so the error is at most 1/60 of how far the first minute's rate
		// is from the range's mean. This counter's rate jumps 7× at every
		// hour (IntN(10 + minute)): up to 3%. The resets (about one per 20
		// minutes per series) lose nothing.
		{"rate(c_total[1h])", 0.03},
		{"increase(c_total[90m])", 0.03},
		{"sum(rate(c_total[1h]))", 0.03},
		{"g", 0},
	} {
		f.compare(t, c.expr, start, end, 5*time.Minute, c.rel)
	}
	// A 1h step reads the 1h tier (TestTierIsReadAndRawCanBeForced): max,
	// min, sum and last over whole buckets are exact from one bucket on,
	// and a rate over one or two buckets reads the counter at both edges.
	for _, c := range []struct {
		expr string
		rel  float64
	}{
		{"max_over_time(g[1h])", 0},
		{"min_over_time(g[2h])", 0},
		{"sum_over_time(g[1h])", 1e-9},
		{"avg_over_time(g[1h])", 1e-9},
		{"rate(c_total[1h])", 0.01},
		{"increase(c_total[2h])", 0.01},
	} {
		f.compare(t, c.expr, t0.Add(2*time.Hour), end, time.Hour, c.rel)
	}
}

// A counter that starts inside the range: its first raw sample is kept as
// the tier counter's start, so the tiers count what raw samples count (they
// lost its first bucket: 1 of the 1m tier's 30 minutes here, the whole
// first half hour through the 1h tier).
func TestCounterStartingInsideTheRange(t *testing.T) {
	end := t0.Add(rawSpan)
	for _, onTheFly := range []bool{false, true} {
		f := newFixture(t)
		if onTheFly { // the job stopped before the counter began
			f.now = t0.Add(2 * time.Hour)
		}
		for _, tr := range f.set.Tiers() {
			f.catchUp(t, tr)
		}
		f.now = end.Add(time.Second)
		f.compare(t, "increase(young_total[1h])", end.Add(-30*time.Minute), end, 5*time.Minute, 0.01)
		f.compare(t, "increase(young_total[2h])", end, end, time.Hour, 0.01)
	}
}

func TestTierIsReadAndRawCanBeForced(t *testing.T) {
	f := newFixture(t)
	for _, tr := range f.set.Tiers() {
		f.catchUp(t, tr)
	}
	q := f.set.Queryable(5 * 60 * 1000)
	at := t0.Add(rawSpan)
	one := func(expr string) float64 {
		m := f.rangeQuery(t, q, expr, at, at, time.Minute)
		if len(m) != 1 || len(m[0].Floats) != 1 {
			t.Fatalf("%s: %v, want one point", expr, m)
		}
		return m[0].Floats[0].F
	}
	// count_over_time always reads raw; forced to the 1m tier it counts buckets.
	if n := one(`count_over_time(g{i="a"}[30m])`); n != 1800 {
		t.Errorf("count_over_time from raw = %v, want 1800", n)
	}
	if n := one(`count_over_time(g{i="a",__tier__="1m"}[30m])`); n != 30 {
		t.Errorf("count_over_time of the 1m tier = %v, want 30 buckets", n)
	}
	if n := one(`sum_over_time(g{i="a",__tier__="1m",__agg__="count"}[1h])`); n != 3600 {
		t.Errorf("the 1m tier's counts over 1h sum to %v, want 3600", n)
	}
	if n := one(`count_over_time(g{i="a",__tier__="1h"}[4h])`); n != 4 {
		t.Errorf("count_over_time of the 1h tier = %v, want 4 buckets", n)
	}
	cases := []struct {
		hints promstorage.SelectHints
		force string
		tier  string
		agg   string
	}{
		{promstorage.SelectHints{Func: "max_over_time", Range: 30 * 60e3, Step: 60e3, End: at.UnixMilli()}, "", "1m", AggMax},
		{promstorage.SelectHints{Func: "rate", Range: 72 * 3600e3, Step: 3600e3, End: at.UnixMilli()}, "", "1h", AggCounter},
		{promstorage.SelectHints{Func: "rate", Range: 3600e3, Step: 3600e3, End: at.UnixMilli()}, "", "1h", AggCounter},      // one bucket, read with its edges
		{promstorage.SelectHints{Func: "max_over_time", Range: 3600e3, Step: 3600e3, End: at.UnixMilli()}, "", "1h", AggMax}, // exact from one bucket
		// avg_over_time reads raw data unless PrepareQuery rewrote it into
		// sums over counts (TestAvgOverTimeExactOverUnevenBuckets); a forced
		// tier answers it with its buckets' means.
		{promstorage.SelectHints{Func: "avg_over_time", Range: 2 * 3600e3, Step: 3600e3, End: at.UnixMilli()}, "", "", ""},
		{promstorage.SelectHints{Func: "avg_over_time", Range: 2 * 3600e3, Step: 3600e3, End: at.UnixMilli()}, "1h", "1h", AggAvg},
		{promstorage.SelectHints{Func: "rate", Range: 3600e3, Step: 3600e3, End: at.UnixMilli() + 1000}, "", "", ""}, // not aligned: 60 < 500 1m buckets
		{promstorage.SelectHints{Func: "rate", Range: 5 * 60e3, Step: 60e3, End: at.UnixMilli()}, "", "", ""},        // range too short
		{promstorage.SelectHints{Func: "rate", Range: 30 * 60e3, Step: 15e3, End: at.UnixMilli()}, "", "", ""},       // step too fine
		{promstorage.SelectHints{Func: "quantile_over_time", Range: 3600e3, Step: 3600e3, End: at.UnixMilli()}, "", "", ""},
		{promstorage.SelectHints{Func: "sum", Step: 60e3, End: at.UnixMilli()}, "", "1m", AggLast},   // plain selector
		{promstorage.SelectHints{Func: "sum", Step: 3600e3, End: at.UnixMilli()}, "", "1m", AggLast}, // not the 1h tier: lookback 5m
		{promstorage.SelectHints{Func: "sum", End: at.UnixMilli()}, "", "", ""},                      // instant plain selector: raw
		{promstorage.SelectHints{Func: "max_over_time", Range: 30 * 60e3, Step: 60e3, End: at.UnixMilli()}, "raw", "", ""},
		{promstorage.SelectHints{Func: "max_over_time", Range: 30 * 60e3, Step: 60e3, End: at.Add(7 * time.Hour).UnixMilli()}, "", "", ""}, // tiers far behind
	}
	for i, c := range cases {
		tr, agg := q.Choose(&c.hints, c.force)
		name := ""
		if tr != nil {
			name = tr.Name()
		}
		if name != c.tier || agg != c.agg {
			t.Errorf("case %d (%s range %d step %d force %q): tier %q agg %q, want %q %q", i, c.hints.Func, c.hints.Range, c.hints.Step, c.force, name, agg, c.tier, c.agg)
		}
	}
}

func TestRawPastTheWatermarkAndRestart(t *testing.T) {
	f := newFixture(t)
	// The job is 80 minutes behind: the newest part is aggregated on the fly.
	f.now = t0.Add(rawSpan - 80*time.Minute)
	for _, tr := range f.set.Tiers() {
		f.catchUp(t, tr)
	}
	f.now = t0.Add(rawSpan + time.Second)
	start, end := t0.Add(time.Hour), t0.Add(rawSpan)
	f.compare(t, "max_over_time(g[30m])", start, end, 5*time.Minute, 0)
	f.compare(t, "rate(c_total[1h])", start, end, 5*time.Minute, 0.03)
	// Restart: the watermark survives and the job continues from it.
	wm := f.set.Tiers()[0].Watermark()
	if err := f.set.Close(); err != nil {
		t.Fatal(err)
	}
	f.open(t)
	if got := f.set.Tiers()[0].Watermark(); got != wm {
		t.Fatalf("watermark after restart %d, want %d", got, wm)
	}
	for _, tr := range f.set.Tiers() {
		f.catchUp(t, tr)
	}
	if got := f.set.Tiers()[0].Watermark(); got != end.UnixMilli() {
		t.Fatalf("watermark %s, want %s", time.UnixMilli(got).UTC(), end)
	}
	// The counter aggregate continues across the batch boundary.
	f.compare(t, "rate(c_total[1h])", start, end, 5*time.Minute, 0.03)
	f.compare(t, "increase(c_total[3h])", end, end, time.Minute, 0.03)
	// The stored counter never drops where the raw counter reset.
	q := f.set.Queryable(5 * 60 * 1000)
	for _, c := range []struct {
		q    promstorage.Queryable
		expr string
		want func(float64) bool
	}{
		{f.raw, `sum(resets(c_total[4h]))`, func(v float64) bool { return v >= 10 }},
		{q, `sum(resets(c_total{__tier__="1m",__agg__="counter"}[4h]))`, func(v float64) bool { return v == 0 }},
		{q, `sum(resets(c_total{__tier__="1h",__agg__="counter"}[4h]))`, func(v float64) bool { return v == 0 }},
	} {
		m := f.rangeQuery(t, c.q, c.expr, end, end, time.Minute)
		if len(m) != 1 || !c.want(m[0].Floats[0].F) {
			t.Errorf("%s = %v", c.expr, m)
		}
	}
}

// A native histogram's counter aggregate is read back when the next batch
// continues it; reading it as a float panicked the server's tier job.
func TestNativeHistogramAcrossBatches(t *testing.T) {
	f := newFixture(t)
	app := f.raw.AppenderV2(context.Background())
	h := labels.FromStrings("__name__", "lat_seconds", "i", "a")
	// Only the last hour: the head takes no older samples.
	for i := int((rawSpan-time.Hour)/time.Second) + 1; i <= int(rawSpan/time.Second); i++ {
		fh := &histogram.FloatHistogram{
			Count: float64(i), Sum: float64(i) / 1000, Schema: 0,
			PositiveSpans: []histogram.Span{{Offset: 0, Length: 1}}, PositiveBuckets: []float64{float64(i)},
		}
		if _, err := app.Append(0, h, 0, t0.Add(time.Duration(i)*time.Second).UnixMilli(), 0, nil, fh, promstorage.AOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	// Two runs of the job: the second continues the first's aggregates.
	f.now = t0.Add(rawSpan - 30*time.Minute)
	for _, tr := range f.set.Tiers() {
		f.catchUp(t, tr)
	}
	f.now = t0.Add(rawSpan + time.Second)
	for _, tr := range f.set.Tiers() {
		f.catchUp(t, tr)
	}
	end := t0.Add(rawSpan)
	m := f.rangeQuery(t, f.set.Queryable(5*60*1000), `count(lat_seconds{__tier__="1m"})`, end, end, time.Minute)
	if len(m) != 1 || m[0].Floats[0].F < 1 {
		t.Fatalf("no 1m aggregate of the native histogram: %v", m)
	}
}

// countingRaw counts the raw queriers opened.
type countingRaw struct {
	*storage.TSDB
	opened int
}

func (c *countingRaw) Querier(mint, maxt int64) (promstorage.Querier, error) {
	c.opened++
	return c.TSDB.Querier(mint, maxt)
}

// A query the tiers answer alone opens no raw querier; one that reads raw
// data opens one.
func TestRawQuerierOpenedOnlyWhenRead(t *testing.T) {
	f := newFixture(t)
	for _, tr := range f.set.Tiers() {
		f.catchUp(t, tr)
	}
	raw := &countingRaw{TSDB: f.raw}
	f.opts.Raw, f.opts.RawRead = raw, raw
	if err := f.set.Close(); err != nil {
		t.Fatal(err)
	}
	f.open(t)
	end := t0.Add(rawSpan)
	q := f.set.Queryable(5 * 60 * 1000)
	f.rangeQuery(t, q, "max_over_time(g[1h])", end.Add(-2*time.Hour), end, time.Hour)
	if raw.opened != 0 {
		t.Errorf("a query answered from the 1h tier opened %d raw queriers, want 0", raw.opened)
	}
	f.rangeQuery(t, q, "count_over_time(g[1h])", end.Add(-2*time.Hour), end, time.Hour)
	if raw.opened != 1 {
		t.Errorf("a query of raw data opened %d raw queriers, want 1", raw.opened)
	}
}

// A native histogram counter reset inside a bucket: the tier's counter
// aggregate keeps what was counted before it, across the job's batches, so
// increase() over the tier matches the raw samples' (it lost the bucket's
// pre-reset part when the tier kept only the bucket's last histogram).
func TestNativeHistogramResetInsideABucket(t *testing.T) {
	f := newFixture(t)
	app := f.raw.AppenderV2(context.Background())
	h := labels.FromStrings("__name__", "lat_seconds", "i", "a")
	var n float64
	for i := int((rawSpan-time.Hour)/time.Second) + 1; i <= int(rawSpan/time.Second); i++ {
		at := t0.Add(time.Duration(i) * time.Second)
		if at.Minute()%15 == 0 && at.Second() == 30 { // resets at :00:30, :15:30, :30:30, :45:30
			n = 0
		}
		n += 10
		fh := &histogram.FloatHistogram{
			Count: n, Sum: n / 1000, Schema: 0,
			PositiveSpans: []histogram.Span{{Offset: 0, Length: 1}}, PositiveBuckets: []float64{n},
		}
		if _, err := app.Append(0, h, 0, at.UnixMilli(), 0, nil, fh, promstorage.AOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	// Two runs of the job, the second continuing the first's offset.
	f.now = t0.Add(rawSpan - 20*time.Minute)
	for _, tr := range f.set.Tiers() {
		f.catchUp(t, tr)
	}
	f.now = t0.Add(rawSpan + time.Second)
	for _, tr := range f.set.Tiers() {
		f.catchUp(t, tr)
	}
	end := t0.Add(rawSpan)
	f.compare(t, `histogram_count(increase(lat_seconds[1h]))`, end, end, time.Minute, 0.02)
	f.compare(t, `histogram_count(increase(lat_seconds[1h]))`, end, end, time.Hour, 0.02)
}

// A counter reset, then a hole that spans a batch boundary of the job (the
// 1m tier's batches end at 2h and 4h here; the hole is 1h30m–2h40m): the
// tier's counter continues across the hole as the raw one does, for a
// native histogram as for a float. The batch after the hole had no bucket
// at its start, so the counter's offset (what was counted before the
// reset) restarted at 0 and the tier saw a reset the raw data has not:
// increase over 3h at 3h was 33 % off raw, the float and the native
// histogram alike.
func TestCounterHoleAcrossABatch(t *testing.T) {
	raw, dir := openRaw(t, storage.Options{})
	app := raw.AppenderV2(context.Background())
	h := labels.FromStrings("__name__", "lat_seconds", "i", "a")
	c := labels.FromStrings("__name__", "c_total", "i", "a")
	holeFrom, holeTo := t0.Add(90*time.Minute), t0.Add(160*time.Minute)
	var n, fast float64
	rng := rand.New(rand.NewPCG(3, 4))
	for ts := t0.Add(7 * time.Second); !ts.After(t0.Add(rawSpan)); ts = ts.Add(10 * time.Second) {
		if ts.Equal(t0.Add(time.Hour + 7*time.Second)) {
			n, fast = 0, 0 // a reset
		}
		d := float64(50 + rng.IntN(50))
		n += d
		fast += math.Floor(d * 0.9)
		if ts.After(holeFrom) && ts.Before(holeTo) {
			continue
		}
		fh := &histogram.FloatHistogram{
			Count: n, Sum: n / 100,
			PositiveSpans:   []histogram.Span{{Offset: -4, Length: 3}},
			PositiveBuckets: []float64{fast, 0, n - fast},
		}
		ms := ts.UnixMilli()
		if _, err := app.Append(0, h, 0, ms, 0, nil, fh, promstorage.AOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := app.Append(0, c, 0, ms, n, nil, nil, promstorage.AOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	q, err := query.New(query.Options{Queryable: raw, Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	end := t0.Add(rawSpan)
	// The job caught up, and the job stopped inside the hole (the rest is
	// aggregated from raw samples as the query runs).
	for i, stop := range []time.Time{end, t0.Add(150 * time.Minute)} {
		f := &fixture{raw: raw, now: stop.Add(time.Second), dir: dir, eng: q.Engine()}
		f.opts = Options{Dir: filepath.Join(dir, fmt.Sprint(i)), Raw: raw, RawRetention: 15 * 24 * time.Hour, Now: func() time.Time { return f.now }, Settle: time.Nanosecond}
		f.open(t)
		for _, tr := range f.set.Tiers() {
			f.catchUp(t, tr)
		}
		f.now = end.Add(time.Second)
		for _, expr := range []string{
			`increase(c_total[3h])`,
			`histogram_count(increase(lat_seconds[3h]))`,
			`histogram_fraction(0, 0.0625, increase(lat_seconds[3h]))`,
		} {
			f.compare(t, expr, end.Add(-time.Hour), end, 5*time.Minute, 1e-3)
		}
	}
}

// TestForcedTierMinuteRates: a rate over one bucket of a forced tier, in a
// subquery stepping by that bucket (its steps are whole minutes), is each
// minute's exact increase per second: the dashboard's worst 1-minute
// quantile within a long range's step reads the 1m tier so. Without the
// buckets' edges each one-minute window held one sample and gave no rate.
// Raw samples over 61 s hold both ends of the minute (a sample a second),
// so raw rate() reads the same increase.
func TestForcedTierMinuteRates(t *testing.T) {
	f := newFixture(t)
	for _, tr := range f.set.Tiers() {
		f.catchUp(t, tr)
	}
	start, end := t0.Add(time.Hour), t0.Add(rawSpan)
	for _, c := range []struct{ tier, raw string }{
		{`max_over_time(rate(c_total{__tier__="1m"}[1m])[30m:1m])`, `max_over_time(rate(c_total[61s])[30m:1m])`},
		{`sum by (i) (rate(c_total{__tier__="1m"}[1m]))`, `sum by (i) (rate(c_total[61s]))`},
	} {
		step := 5 * time.Minute
		want := f.rangeQuery(t, f.raw, c.raw, start, end, step)
		got := f.rangeQuery(t, f.set.Queryable(5*60*1000), c.tier, start, end, step)
		if len(want) != 2 || len(got) != len(want) {
			t.Fatalf("%s: %d series from the tier, %d from raw (%s)", c.tier, len(got), len(want), c.raw)
		}
		worst := 0.0
		for i := range want {
			if len(got[i].Floats) != len(want[i].Floats) {
				t.Fatalf("%s: series %s: %d points from the tier, %d from raw", c.tier, want[i].Metric, len(got[i].Floats), len(want[i].Floats))
			}
			for j, w := range want[i].Floats {
				d := math.Abs(got[i].Floats[j].F-w.F) / math.Max(math.Abs(w.F), 1e-9)
				worst = max(worst, d)
				// Float rounding: the edge 1 ms after the bucket's start
				// is settled so the minute reads its exact increase (it
				// read 60 s / 59.999 s of it, 1.7e-5 over, before).
				if d > 1e-10 {
					t.Errorf("%s at %s: %v from the tier, %v from raw", c.tier, time.UnixMilli(w.T).UTC().Format(time.TimeOnly), got[i].Floats[j].F, w.F)
					break
				}
			}
		}
		t.Logf("%s: worst relative difference %.3g", c.tier, worst)
	}
}

// The 10m tier answers the 7-day dashboard's panels (a 10-minute step over
// [1h] windows) in place of the 1m tier, six buckets a window. Its answers
// against raw samples: max, min, sum, last and avg (a sum over a count)
// over whole buckets exact; rate and increase over six buckets read with
// their edges (withEdges), so each window's increase is exact between the
// counter's values at its two edges, where raw samples extrapolate the
// first second's increase from the window's mean: within 1/3600 of how far
// that second's rate is from the mean (this counter's rate jumps 7× at
// every hour's turn and it resets about every 20 minutes: 3.3e-4 at most;
// the 1m tier, extrapolating over its first of 60 buckets, is up to 3 %
// off, TestTieredReadsMatchRaw). A counter starting inside the window
// counts from its first sample (the tier keeps it), which the tier's two
// samples in the window extrapolate to zero and raw samples by half an
// interval: they differ by about the first sample's value, 0.25 % here.
// The same with the job stopped 80 minutes before the end (the tier's
// part, then raw samples aggregated on the fly).
func TestTenMinuteTierMatchesRaw(t *testing.T) {
	end := t0.Add(rawSpan)
	for _, onTheFly := range []bool{false, true} {
		t.Run(fmt.Sprintf("on the fly %v", onTheFly), func(t *testing.T) {
			f := newFixture(t)
			if onTheFly {
				f.now = end.Add(-80 * time.Minute)
			}
			for _, tr := range f.set.Tiers() {
				f.catchUp(t, tr)
			}
			f.now = end.Add(time.Second)
			q := f.set.Queryable(5 * 60 * 1000)
			for _, fn := range []string{"rate", "increase", "max_over_time", "min_over_time", "sum_over_time"} {
				h := promstorage.SelectHints{Func: fn, Range: 3600e3, Step: 600e3, End: end.UnixMilli()}
				if tr, _ := q.Choose(&h, ""); tr == nil || tr.Name() != "10m" {
					t.Fatalf("%s[1h] at a 10m step reads %s, want the 10m tier", fn, tierName(tr))
				}
			}
			start, step := t0.Add(time.Hour), 10*time.Minute
			for _, c := range []struct {
				expr string
				rel  float64
			}{
				{"max_over_time(g[1h])", 0},
				{"min_over_time(g[30m])", 0},
				{"sum_over_time(g[1h])", 1e-9},
				{"avg_over_time(g[1h])", 1e-9},
				{"avg_over_time(g[20m])", 1e-9},
				{"last_over_time(g[1h])", 0},
				{"rate(c_total[1h])", 0.002},
				{"increase(c_total[1h])", 0.002},
				{"sum by (i) (rate(c_total[1h]))", 0.002},
				{"rate(c_total[2h])", 0.002},
				{"increase(young_total[1h])", 0.005},
			} {
				f.compare(t, c.expr, start, end, step, c.rel)
			}
		})
	}
}

// tierName is a tier's name, "raw" for none.
func tierName(t *Tier) string {
	if t == nil {
		return RawTier
	}
	return t.Name()
}

// TestCounterAfterAStaleMarker: a scraped target down once ends a bucket
// with a staleness marker, whose counter aggregate is the marker. The next
// batch took it as the counter to go on from: the offset became NaN and
// every later bucket's counter NaN, so rate and increase over the tiers
// answered NaN for good (t-user13 F11: an SLA on a scraped service "no
// data" for 1d/7d/30d). With a reset before the outage (an offset to carry)
// and the target back two minutes later, the tiers' increase equals the
// raw data's after the outage too.
func TestCounterAfterAStaleMarker(t *testing.T) {
	for _, hist := range []bool{false, true} {
		t.Run("counter"+kindName(hist), func(t *testing.T) { counterAfterAStaleMarker(t, hist) })
	}
}

func counterAfterAStaleMarker(t *testing.T, hist bool) {
	c := labels.FromStrings("__name__", "c_total", "job", "scraped")
	downAt, backAt := t0.Add(90*time.Minute+25*time.Second), t0.Add(92*time.Minute+5*time.Second)
	var samples []rawSample
	var n float64
	// A minute past the read's end: its last window is no series' last
	// (there the tier reads the counter up to its last sample, raw data
	// extrapolate past it).
	for ts := t0.Add(5 * time.Second); !ts.After(t0.Add(rawSpan + time.Minute)); ts = ts.Add(10 * time.Second) {
		if ts.Equal(t0.Add(30*time.Minute + 5*time.Second)) {
			n = 0 // a reset before the outage: an offset to carry
		}
		n += 100
		v := n
		switch {
		case ts.Equal(downAt):
			v = math.Float64frombits(value.StaleNaN) // the first failed scrape
		case ts.After(downAt) && ts.Before(backAt):
			continue
		}
		samples = append(samples, rawSample{c, ts, v})
	}
	// The job runs up to the outage's bucket, then on to the end: the
	// batch after it starts at a bucket that ended with the marker.
	end := t0.Add(rawSpan)
	f := counterFixtureOf(t, samples, hist, downAt.Add(40*time.Second), end.Add(time.Second))
	// (Windows that start right at the outage differ by up to 3 %: its
	// bucket, ended by the marker, has no counter, so the tiers' first
	// sample in them is minutes in, as after any start of a series.)
	for _, expr := range []string{`increase(c_total%s[3h])`, `rate(c_total%s[77m])`} {
		f.compare(t, fmt.Sprintf(counterExpr(expr, hist), ""), end.Add(-time.Hour), end, 5*time.Minute, 1e-3)
	}
}

// rawSample is one raw float sample of a counterFixture.
type rawSample struct {
	lset labels.Labels
	ts   time.Time
	v    float64
}

// counterFixture is a raw store holding samples and tiers over it whose job
// has caught up at each of runs in turn (a run inside an outage makes the
// next batch start there).
func counterFixture(t *testing.T, samples []rawSample, runs ...time.Time) *fixture {
	t.Helper()
	return counterFixtureOf(t, samples, false, runs...)
}

// counterHistogram is a native histogram counter whose count is v: two
// buckets, 30 % and 70 % of it (each never decreasing where v does not).
func counterHistogram(v float64) *histogram.FloatHistogram {
	low := math.Floor(0.3 * v)
	return &histogram.FloatHistogram{
		Count: v, Sum: v / 1000,
		PositiveSpans: []histogram.Span{{Offset: 0, Length: 2}}, PositiveBuckets: []float64{low, v - low},
	}
}

// counterFixtureOf is counterFixture, whose samples are native histogram
// counters (counterHistogram of their values) with hist.
func counterFixtureOf(t *testing.T, samples []rawSample, hist bool, runs ...time.Time) *fixture {
	t.Helper()
	raw, dir := openRaw(t, storage.Options{})
	app := raw.AppenderV2(context.Background())
	for _, s := range samples {
		v, fh := s.v, (*histogram.FloatHistogram)(nil)
		switch {
		case hist && value.IsStaleNaN(s.v):
			v, fh = 0, &histogram.FloatHistogram{Sum: s.v} // a native histogram's staleness marker
		case hist:
			v, fh = 0, counterHistogram(s.v)
		}
		if _, err := app.Append(0, s.lset, 0, s.ts.UnixMilli(), v, nil, fh, promstorage.AOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	q, err := query.New(query.Options{Queryable: raw, Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{raw: raw, now: runs[0], dir: dir, eng: q.Engine()}
	f.opts = Options{Dir: filepath.Join(dir, "tiers"), Raw: raw, RawRetention: 15 * 24 * time.Hour, Now: func() time.Time { return f.now }, Settle: time.Nanosecond}
	f.open(t)
	for _, now := range runs {
		f.now = now
		for _, tr := range f.set.Tiers() {
			f.catchUp(t, tr)
		}
	}
	return f
}

// TestCounterResumedAfterAGap: a counter silent for 72 minutes (a process
// or gmc down; the demo's history and its live run) that comes back
// restarted from 0. The tiers' buckets after the gap held its counter, but
// nothing marked where it resumed: a window holding only the first bucket
// after the gap had one sample (increase(x[1h]) at the next whole hour
// from the 1h tier answered nothing where raw data held 8.4M orders,
// t-user14 F4), and windows over the first minutes lost the orders before
// the first bucket's end. The tiers mark the counter's first raw sample
// after a hole, as at a series' start.
func TestCounterResumedAfterAGap(t *testing.T) {
	c := labels.FromStrings("__name__", "c_total", "job", "pushed")
	stopAt, backAt := t0.Add(118*time.Minute), t0.Add(190*time.Minute)
	var samples []rawSample
	n, restarted := 1e6, false // a counter with history
	for ts := t0.Add(5 * time.Second); !ts.After(t0.Add(rawSpan)); ts = ts.Add(10 * time.Second) {
		if ts.After(stopAt) && ts.Before(backAt) {
			continue
		}
		if !ts.Before(backAt) && !restarted {
			n, restarted = 0, true // it comes back restarted
		}
		n += 100 + float64(ts.Unix()%7)
		samples = append(samples, rawSample{c, ts, n})
	}
	// The job runs during the gap, then on to the end: the batch after it
	// starts in the hole.
	end := t0.Add(rawSpan)
	f := counterFixture(t, samples, stopAt.Add(30*time.Minute), end.Add(time.Second))
	// The next whole hour's [1h] holds only the first bucket after the gap
	// (the 1h tier); [2h] the gap's empty bucket too.
	f.compare(t, `increase(c_total[1h])`, end, end, time.Hour, 0.03)
	f.compare(t, `increase(c_total[2h])`, end, end, time.Hour, 0.03)
	// The 10m tier: the first window after the gap holds the bucket it
	// resumed in alone.
	f.compare(t, `increase(c_total[10m])`, backAt.Add(10*time.Minute), end, 10*time.Minute, 0.03)
	// The first minutes after it (the 1m and 10m tiers): the resumed
	// counter's first sample is 5 s after a bucket's start, so a window's
	// extrapolation differs from raw data's (as after any series' start).
	f.compare(t, `rate(c_total[10m])`, backAt.Add(5*time.Minute), backAt.Add(30*time.Minute), time.Minute, 0.1)
	f.compare(t, `rate(c_total[30m])`, backAt.Add(30*time.Minute), end, 10*time.Minute, 0.03)
}

// TestCounterStoppedInsideAWindow: a counter that stops 13 minutes into
// an hour (a service stopped, a target gone, any series before a gap) was
// read from the tiers as running to its last bucket's end, and rate's
// extrapolation, taking a bucket as the series' interval, stretched it
// one more bucket (t-user15 F3: increase(x[2h]) at the whole hour through
// the 1h tier +93 %; rate(x[1h]) at 10-minute steps through the 10m tier
// +29 %). The tiers mark the counter's raw samples in the bucket it
// stopped in, as in the one it resumes in.
func TestCounterStoppedInsideAWindow(t *testing.T) {
	c := labels.FromStrings("__name__", "c_total", "job", "pushed")
	stopAt := t0.Add(73 * time.Minute)
	var samples []rawSample
	n := 1e6
	for ts := t0.Add(5 * time.Second); !ts.After(stopAt); ts = ts.Add(10 * time.Second) {
		n += 100 + float64(ts.Unix()%7)
		samples = append(samples, rawSample{c, ts, n})
	}
	end := t0.Add(rawSpan)
	f := counterFixture(t, samples, end.Add(time.Second))
	// The 1h tier: [2h] at the whole hours after the stop holds its last
	// 13 minutes, [1h] the hour it stopped in.
	f.compare(t, `increase(c_total[2h])`, t0.Add(3*time.Hour), t0.Add(3*time.Hour), time.Hour, 0.01)
	f.compare(t, `increase(c_total[1h])`, t0.Add(2*time.Hour), t0.Add(2*time.Hour), time.Hour, 0.03)
	// The 10m tier: windows holding the stop at 10-minute steps. Those
	// holding only its last 3 minutes read 2 % under raw data while the
	// tier held the counter at the last raw sample, where raw data's rate
	// extrapolates half an interval (5 s) past it: the tier's counter goes
	// on by that now (aggregator.pastStop), and they read 0.8 % over (the
	// engine's own extrapolation past the tier's held marks, half their
	// average interval).
	f.compare(t, `rate(c_total[1h])`, t0.Add(80*time.Minute), t0.Add(130*time.Minute), 10*time.Minute, 0.01)
	f.compare(t, `increase(c_total[30m])`, t0.Add(80*time.Minute), t0.Add(100*time.Minute), 10*time.Minute, 0.01)
}

// TestCounterStoppedByAStaleMarker: a scraped counter whose target
// disappears 13 minutes into an hour ends with a staleness marker. The
// bucket the marker ended was left unmarked (TestCounterStoppedInsideAWindow
// marks the others): its counter is the marker, so through the 1h tier
// increase(x[1h]) and increase(x[2h]) at the whole hours after the stop
// answered nothing where raw data held the last 13 minutes' 8,034, and
// through the 10m tier rate(x[1h]) at the whole hour read +15 % and nothing
// ten minutes later (raw 1,852). The bucket is marked as the others now,
// and its last mark is the last value too: last_over_time there had no
// answer either. TestCounterAfterAStaleMarker checks that the tier's
// counter still goes on after such a bucket.
func TestCounterStoppedByAStaleMarker(t *testing.T) {
	c := labels.FromStrings("__name__", "c_total", "job", "scraped")
	stopAt, backAt, end := t0.Add(73*time.Minute), t0.Add(200*time.Minute), t0.Add(rawSpan)
	for _, sc := range []struct {
		name string
		run  time.Time // the job caught up to it
		back bool      // the target comes back at backAt, restarted
	}{
		{"caught up", end.Add(time.Second), false},
		// The tiers' buckets after an hour are aggregated from raw samples
		// as the query runs.
		{"job stopped before", t0.Add(time.Hour), false},
		// The bucket the marker ended is flushed by the next raw sample,
		// in the same batch: the marks are judged by the last raw sample
		// before the marker, not the one after.
		{"target back", end.Add(time.Second), true},
	} {
		for _, hist := range []bool{false, true} {
			t.Run(sc.name+kindName(hist), func(t *testing.T) {
				var samples []rawSample
				n := 1e6
				ts := t0.Add(5 * time.Second)
				for ; !ts.After(stopAt); ts = ts.Add(10 * time.Second) {
					n += 100 + float64(ts.Unix()%7)
					samples = append(samples, rawSample{c, ts, n})
				}
				samples = append(samples, rawSample{c, ts, math.Float64frombits(value.StaleNaN)}) // the first failed scrape
				for ts, n = backAt.Add(5*time.Second), 0; sc.back && !ts.After(end); ts = ts.Add(10 * time.Second) {
					n += 100
					samples = append(samples, rawSample{c, ts, n})
				}
				f := counterFixtureOf(t, samples, hist, sc.run)
				f.now = end.Add(time.Second)
				stoppedByAStaleMarker(t, f, hist)
			})
		}
	}
}

func stoppedByAStaleMarker(t *testing.T, f *fixture, hist bool) {
	e := func(expr string) string { return counterExpr(expr, hist) }
	// The 1h tier: [2h] at the whole hours after the stop holds its last
	// 13 minutes, [1h] the hour it stopped in.
	f.compare(t, e(`increase(c_total[2h])`), t0.Add(3*time.Hour), t0.Add(3*time.Hour), time.Hour, 0.01)
	f.compare(t, e(`increase(c_total[1h])`), t0.Add(2*time.Hour), t0.Add(2*time.Hour), time.Hour, 0.01)
	f.compare(t, e(`last_over_time(c_total[1h])`), t0.Add(2*time.Hour), t0.Add(2*time.Hour), time.Hour, 0)
	// The 10m tier: windows holding the stop at 10-minute steps (0.8 %
	// over where they hold only its last 3 minutes: see
	// TestCounterStoppedInsideAWindow; a native histogram's counter does
	// not go on past its stop, and reads as much over as before).
	f.compare(t, e(`rate(c_total[1h])`), t0.Add(80*time.Minute), t0.Add(130*time.Minute), 10*time.Minute, 0.01)
	f.compare(t, e(`increase(c_total[2h])`), t0.Add(140*time.Minute), t0.Add(190*time.Minute), 10*time.Minute, 0.01)
	f.compare(t, e(`last_over_time(c_total[1h])`), t0.Add(80*time.Minute), t0.Add(130*time.Minute), 10*time.Minute, 0)
	// Every tier forced, at its own steps.
	for _, tr := range []string{"10m", "1h"} {
		step := 10 * time.Minute
		if tr == "1h" {
			step = time.Hour
		}
		for _, q := range []string{`increase(c_total%s[1h])`, `rate(c_total%s[1h])`, `increase(c_total%s[2h])`} {
			q = e(q)
			want := f.rangeQuery(t, f.raw, fmt.Sprintf(q, ""), t0.Add(2*time.Hour), t0.Add(3*time.Hour), step)
			got := f.rangeQuery(t, f.set.Queryable(5*60*1000), fmt.Sprintf(q, `{__tier__="`+tr+`"}`), t0.Add(2*time.Hour), t0.Add(3*time.Hour), step)
			if len(want) != 1 || len(got) != 1 || len(got[0].Floats) != len(want[0].Floats) {
				t.Fatalf("%s through the %s tier: %v, raw %v", fmt.Sprintf(q, ""), tr, got, want)
			}
			for i, w := range want[0].Floats {
				if g := got[0].Floats[i]; g.T != w.T || math.Abs(g.F-w.F) > 0.01*w.F { // as above
					t.Errorf("%s through the %s tier at %s: %v, raw %v", fmt.Sprintf(q, ""), tr, time.UnixMilli(w.T).UTC().Format(time.TimeOnly), g.F, w.F)
				}
			}
		}
	}
}

// compareNear checks that expr through the tiers (with forced, a
// __tier__ matcher, put in for its %s) equals expr on raw data within rel,
// or within abs where that is more: a point missing on either side fails.
func (f *fixture) compareNear(t *testing.T, expr, forced string, start, end time.Time, step time.Duration, rel, abs float64) {
	t.Helper()
	want := f.rangeQuery(t, f.raw, fmt.Sprintf(expr, ""), start, end, step)
	got := f.rangeQuery(t, f.set.Queryable(5*60*1000), fmt.Sprintf(expr, forced), start, end, step)
	name := fmt.Sprintf(expr, forced)
	if len(want) != 1 || len(got) != 1 {
		t.Fatalf("%s: %d series from the tiers, %d from raw", name, len(got), len(want))
	}
	at := map[int64]float64{}
	for _, p := range got[0].Floats {
		at[p.T] = p.F
	}
	worst := 0.0
	for _, w := range want[0].Floats {
		g, ok := at[w.T]
		when := time.UnixMilli(w.T).UTC().Format(time.TimeOnly)
		if !ok {
			t.Errorf("%s at %s: no answer from the tiers, %v from raw", name, when, w.F)
			continue
		}
		delete(at, w.T)
		d := math.Abs(g - w.F)
		worst = max(worst, d/w.F)
		if d > max(rel*w.F, abs) {
			t.Errorf("%s at %s: %v from the tiers, %v from raw (%+.2f%%)", name, when, g, w.F, 100*(g-w.F)/w.F)
		}
	}
	for ts, g := range at {
		t.Errorf("%s at %s: %v from the tiers, no answer from raw", name, time.UnixMilli(ts).UTC().Format(time.TimeOnly), g)
	}
	t.Logf("%s: worst relative difference %.3g", name, worst)
}

// TestCounterStopsInAMinuteTierWindow: rate(x[1h]) at 1-minute steps (a
// 24h dashboard's panel) reads the 1m tier without a __tier__ matcher, 60
// buckets a window, which read no edges: each extrapolates over its first
// bucket. For a counter that stopped, the windows holding only its last
// minutes read that wrong: with the stop within two raw intervals of a
// minute's end (no marks then) the window holding its last minute had one
// sample and no answer, and the others extrapolated half a bucket past it
// (+16.6 % at 02:10 forced at 10-minute steps, +24.8 % at 02:11); with the
// stop 30 s into a minute (marks in its bucket, about a raw interval
// apart), the first bucket's increase was lost (-61.5 % at 02:12). Now the
// bucket is marked when the bucket after it has no raw sample, and a
// range of 60 buckets and more reads the edges near marks. What is left is
// rate's extrapolation at the stop, which reads the tier's average
// interval where raw data read the series' own: up to 1.5 of its raw
// intervals' increase (7 % of the last window's 1.7 intervals here), 1 %
// once the window holds 40 minutes of it. With or without a staleness
// marker, with the job caught up or behind (buckets aggregated on the fly).
func TestCounterStopsInAMinuteTierWindow(t *testing.T) {
	c := labels.FromStrings("__name__", "c_total", "job", "scraped")
	end := t0.Add(rawSpan)
	for _, sc := range []struct {
		stop  time.Duration
		stale bool
		run   time.Time
	}{
		{73 * time.Minute, false, end.Add(time.Second)},
		{73 * time.Minute, true, end.Add(time.Second)},
		{73*time.Minute + 30*time.Second, false, end.Add(time.Second)},
		{73*time.Minute + 30*time.Second, true, end.Add(time.Second)},
		{73 * time.Minute, false, t0.Add(time.Hour)},
		{73*time.Minute + 30*time.Second, true, t0.Add(time.Hour)},
	} {
		t.Run(fmt.Sprintf("stop %s stale %v job to %s", sc.stop, sc.stale, sc.run.Format(time.TimeOnly)), func(t *testing.T) {
			var samples []rawSample
			n := 1e6
			ts := t0.Add(5 * time.Second)
			for ; !ts.After(t0.Add(sc.stop)); ts = ts.Add(10 * time.Second) {
				n += 100 + float64(ts.Unix()%7)
				samples = append(samples, rawSample{c, ts, n})
			}
			if sc.stale {
				samples = append(samples, rawSample{c, ts, math.Float64frombits(value.StaleNaN)})
			}
			f := counterFixture(t, samples, sc.run)
			f.now = end.Add(time.Second)
			h := promstorage.SelectHints{Func: "rate", Range: 3600e3, Step: 60e3, End: t0.Add(134 * time.Minute).UnixMilli()}
			if tr, _ := f.set.Queryable(5*60*1000).Choose(&h, ""); tierName(tr) != "1m" {
				t.Fatalf("rate[1h] at 1-minute steps reads %s, want the 1m tier", tierName(tr))
			}
			// One raw interval's increase is 100-106.
			f.compareNear(t, `rate(c_total%s[1h])`, "", t0.Add(74*time.Minute), t0.Add(134*time.Minute), time.Minute, 0.01, 160.0/3600)
			f.compareNear(t, `rate(c_total%s[1h])`, `{__tier__="1m"}`, t0.Add(80*time.Minute), t0.Add(130*time.Minute), 10*time.Minute, 0.01, 160.0/3600)
			f.compareNear(t, `increase(c_total%s[2h])`, "", t0.Add(74*time.Minute), t0.Add(194*time.Minute), time.Minute, 0.01, 160)
		})
	}
}

// TestCounterStartsInAShortWindow: a counter that starts with a large
// value (a long-running process newly scraped) got one mark at its first
// sample, and a window holding it and its bucket's end had two samples a
// bucket apart: rate's extrapolation took the bucket as the series'
// interval and counted half a bucket before the series began.
// increase(x[2h]) at 01:00 through the 1h tier read +99.7 %, through the
// 10m tier increase(x[1h]) at 00:10 +47.5 %, through the 1m tier at 00:01
// +25 % (+38 % where the first sample was on a minute, which got no mark
// at all). The raw samples of the bucket it starts in are marked now, as
// after a hole (and those of the bucket after, when the first is on a
// bucket's end). What is left: the tier's extrapolation before the first
// sample reads an interval of res/60 or the series' own, and raw data the
// series' own: 1.3 % through the 1h tier, 1.2 % through the 10m tier, and
// up to 1.5 raw intervals' increase through the 1m tier (22 % of the first
// minute's 3 intervals where the series began 35 s into it).
func TestCounterStartsInAShortWindow(t *testing.T) {
	c := labels.FromStrings("__name__", "c_total", "job", "scraped")
	end := t0.Add(rawSpan)
	for _, sc := range []struct {
		first time.Duration
		run   time.Time
	}{
		{5 * time.Second, end.Add(time.Second)},
		{35 * time.Second, end.Add(time.Second)},
		{25 * time.Minute, end.Add(time.Second)},
		// Late in the 1h tier's bucket: few raw samples in it, so the
		// next bucket's are marked too.
		{55 * time.Minute, end.Add(time.Second)},
		// Alone in the bucket it starts in: the windows holding it alone
		// have no answer, as on raw data.
		{59*time.Minute + 55*time.Second, end.Add(time.Second)},
		{5 * time.Second, t0.Add(30 * time.Minute)},
		{55 * time.Minute, t0.Add(30 * time.Minute)},
	} {
		t.Run(fmt.Sprintf("first %s job to %s", sc.first, sc.run.Format(time.TimeOnly)), func(t *testing.T) {
			var samples []rawSample
			n := 1e6
			for ts := t0.Add(sc.first); !ts.After(end); ts = ts.Add(10 * time.Second) {
				n += 100 + float64(ts.Unix()%7)
				samples = append(samples, rawSample{c, ts, n})
			}
			f := counterFixture(t, samples, sc.run)
			f.now = end.Add(time.Second)
			// The 1h tier.
			f.compareNear(t, `increase(c_total%s[2h])`, "", t0.Add(time.Hour), t0.Add(2*time.Hour), time.Hour, 0.015, 0)
			f.compareNear(t, `increase(c_total%s[1h])`, "", t0.Add(time.Hour), t0.Add(2*time.Hour), time.Hour, 0.015, 0)
			// The 10m tier.
			f.compareNear(t, `increase(c_total%s[1h])`, "", t0.Add(10*time.Minute), t0.Add(2*time.Hour), 10*time.Minute, 0.015, 0)
			f.compareNear(t, `increase(c_total%s[2h])`, "", t0.Add(10*time.Minute), t0.Add(2*time.Hour), 10*time.Minute, 0.015, 0)
			// The 1m tier, read as is and forced at 10-minute steps.
			f.compareNear(t, `increase(c_total%s[1h])`, "", t0.Add(time.Minute), t0.Add(2*time.Hour), time.Minute, 0.015, 160)
			f.compareNear(t, `increase(c_total%s[1h])`, `{__tier__="1m"}`, t0.Add(10*time.Minute), t0.Add(2*time.Hour), 10*time.Minute, 0.015, 160)
		})
	}
}

// TestAggregatorWritesInTimeOrder: a counter that resumes after a hole
// within one read had its first mark after the hole written before the
// bucket it stopped in (its marks and its end): the job appends them out
// of order, and a read aggregating raw samples on the fly handed the
// engine a series going back in time.
func TestAggregatorWritesInTimeOrder(t *testing.T) {
	var at []int64
	a := &aggregator{res: 60_000, emit: func(b bucket) { at = append(at, b.End) }}
	for _, ts := range []int64{10_000, 20_000, 30_000, 190_000, 200_000} {
		a.add(ts, float64(ts), nil)
	}
	a.flush()
	if !slices.IsSorted(at) {
		t.Errorf("written at %v, not in time order", at)
	}
}

// TestOutageOfASecondSeries: a counter sampled every second, down 100 s
// (a scrape target restarted), with and without a staleness marker. The
// 1m tier's windows of 60 buckets and more read no edges, and the marks
// of the stop and the resumption shortened the average interval the
// engine extrapolates the first bucket by: increase(x[2h]) at 1-minute
// steps -0.63 %, rate(x[1h]) -1.4 %. Read with the edges near the marks:
// 0.17 % and 0.28 %.
func TestOutageOfASecondSeries(t *testing.T) {
	c := labels.FromStrings("__name__", "c_total", "job", "scraped")
	downAt, backAt := t0.Add(90*time.Minute+25*time.Second), t0.Add(92*time.Minute+5*time.Second)
	for _, stale := range []bool{false, true} {
		var samples []rawSample
		var n float64
		for ts := t0.Add(time.Second); !ts.After(t0.Add(rawSpan)); ts = ts.Add(time.Second) {
			n += 10 + float64(ts.Unix()%7)
			v := n
			switch {
			case ts.Equal(downAt) && stale:
				v = math.Float64frombits(value.StaleNaN)
			case !ts.Before(downAt) && ts.Before(backAt):
				continue
			}
			samples = append(samples, rawSample{c, ts, v})
		}
		end := t0.Add(rawSpan)
		f := counterFixture(t, samples, end.Add(time.Second))
		f.compareNear(t, `increase(c_total%s[2h])`, "", t0.Add(92*time.Minute), t0.Add(210*time.Minute), time.Minute, 0.003, 0)
		f.compareNear(t, `increase(c_total%s[3h])`, "", end.Add(-time.Hour), end, 5*time.Minute, 0.003, 0)
		f.compareNear(t, `rate(c_total%s[1h])`, "", t0.Add(92*time.Minute), t0.Add(160*time.Minute), time.Minute, 0.004, 0)
	}
}

// TestCounterGoesOnPastItsStop: a counter that stops 5 s before a bucket's
// end (its last raw sample at 1:19:55, every 10 s) and comes back 40 s
// later. Raw data's rate extrapolates a window's last sample half an
// interval past it (5 s: 50 of the counter), so the tier's stopped bucket
// holds the counter half its last interval's increase on
// (aggregator.pastStop): it held the counter at the last raw sample, and
// through the 1m tier rate(x[20m]) read 0.4 % under raw data at 1:20.
// Where the series comes back, its counter goes on from its raw value
// (windows holding the stop and the resumption read raw data's increase
// across them, where the counter counted meanwhile: "counting"), but not
// below the held counter ("flat", which did not count: started again from
// its raw value, the resumption read as a drop of 50, a reset, and windows
// holding it read the whole counter, 1e6, as their increase; it reads at
// most those 50 more than raw data). The job reads each batch's next raw
// sample past its end (aggregator.peek), so a job caught up minute by
// minute, whose batch ends at 1:20, marks the stop as one run past it.
func TestCounterGoesOnPastItsStop(t *testing.T) {
	lastAt, backAt, end := t0.Add(79*time.Minute+55*time.Second), t0.Add(80*time.Minute+35*time.Second), t0.Add(3*time.Hour)
	var samples []rawSample
	for _, i := range []string{"counting", "flat"} {
		c := labels.FromStrings("__name__", "c_total", "i", i)
		n := 1e6
		for ts := t0.Add(5 * time.Second); !ts.After(end); ts = ts.Add(10 * time.Second) {
			if i == "counting" || !ts.After(lastAt) || ts.After(backAt) {
				n += 100
			}
			if !ts.After(lastAt) || !ts.Before(backAt) {
				samples = append(samples, rawSample{c, ts, n})
			}
		}
	}
	slices.SortStableFunc(samples, func(a, b rawSample) int { return a.ts.Compare(b.ts) })
	for _, caughtUp := range []bool{false, true} {
		t.Run(fmt.Sprintf("caught up %v", caughtUp), func(t *testing.T) {
			var f *fixture
			if !caughtUp {
				f = counterFixture(t, samples, end.Add(time.Second))
			} else {
				start := t0.Add(time.Hour)
				i := 0
				for ; i < len(samples) && !samples[i].ts.After(start); i++ {
				}
				f = counterFixture(t, samples[:i], start)
				for now := start.Add(time.Minute); !now.After(end); now = now.Add(time.Minute) {
					app := f.raw.AppenderV2(context.Background())
					for ; i < len(samples) && !samples[i].ts.After(now); i++ {
						if _, err := app.Append(0, samples[i].lset, 0, samples[i].ts.UnixMilli(), samples[i].v, nil, nil, promstorage.AOptions{}); err != nil {
							t.Fatal(err)
						}
					}
					if err := app.Commit(); err != nil {
						t.Fatal(err)
					}
					f.now = now
					for _, tr := range f.set.Tiers() {
						f.catchUp(t, tr)
					}
				}
			}
			// Windows holding the stop, up to those starting at its
			// bucket's end (there raw data extrapolate 5 s of the 35 s
			// before the first sample back, the tier the whole 35 s:
			// TestCounterResumedNextToItsStop's extrapolation).
			f.compare(t, `rate(c_total{i="counting"}[20m])`, t0.Add(70*time.Minute), t0.Add(99*time.Minute), time.Minute, 1e-4)
			f.compare(t, `increase(c_total{i="counting"}[1h])`, t0.Add(80*time.Minute), t0.Add(130*time.Minute), 10*time.Minute, 1e-4)
			f.compareNear(t, `increase(c_total{i="flat"%s}[20m])`, "", t0.Add(70*time.Minute), t0.Add(80*time.Minute), time.Minute, 1e-4, 0)
			// Holding the resumption too: the held 50 more than the
			// counter's increase, raw data's 3.4 less (its extrapolation
			// over the 40 s without samples).
			f.compareNear(t, `increase(c_total{i="flat"%s}[20m])`, "", t0.Add(81*time.Minute), t0.Add(99*time.Minute), time.Minute, 1e-4, 55)
			f.compareNear(t, `increase(c_total{i="flat"%s}[1h])`, "", t0.Add(90*time.Minute), t0.Add(130*time.Minute), 10*time.Minute, 1e-4, 55)
		})
	}
}
