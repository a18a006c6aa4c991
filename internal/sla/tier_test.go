package sla

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"

	"github.com/gmc-dev/gmc/internal/query"
	gmcstorage "github.com/gmc-dev/gmc/internal/storage"
	"github.com/gmc-dev/gmc/internal/tier"
)

// tierHistory writes 12 days of 10-second samples ending at end into db:
//   - service gw on instances a and b: gmc_orders_total by result (success,
//     reject) and a classic latency histogram (lat_seconds_bucket{le="0.05"},
//     lat_seconds_count) and the same as a native histogram (nat_seconds),
//     traffic following the hour of day with noise, an
//     error ratio of ~0.5 % with a 2-hour incident at 8 % on day 3 and 3 %
//     for an hour on day 9, and 40 % in the last 90 seconds;
//   - instance b restarts every ~2.5 days (every counter back to 0), its
//     reject counter first appears on its first error; instance a has
//     holes of 2 h (day 5), 30 min and 7 min (the last day);
//   - service young (instance a) starts 20 hours before end.
func tierHistory(t testing.TB, db *gmcstorage.TSDB, end time.Time) {
	t.Helper()
	const step = 10 * time.Second
	from := end.Add(-12 * 24 * time.Hour)
	rng := rand.New(rand.NewPCG(7, 8))
	type inst struct {
		svc, name   string
		start       time.Time
		holes       [][2]time.Duration // from, to, after from
		resetEvery  time.Duration
		nextReset   time.Time
		ok, bad     float64
		fast, count float64
		badSeen     bool
		refs        [5]storage.SeriesRef
		ls          [5]labels.Labels
	}
	mk := func(svc, name string, start time.Time) *inst {
		in := &inst{svc: svc, name: name, start: start}
		in.ls[0] = labels.FromStrings("__name__", "gmc_orders_total", "service", svc, "instance", name, "result", "success")
		in.ls[1] = labels.FromStrings("__name__", "gmc_orders_total", "service", svc, "instance", name, "result", "reject")
		in.ls[2] = labels.FromStrings("__name__", "lat_seconds_bucket", "service", svc, "instance", name, "le", "0.05")
		in.ls[3] = labels.FromStrings("__name__", "lat_seconds_count", "service", svc, "instance", name)
		in.ls[4] = labels.FromStrings("__name__", "nat_seconds", "service", svc, "instance", name)
		return in
	}
	a, b := mk("gw", "a", from), mk("gw", "b", from.Add(3*time.Minute))
	a.holes = [][2]time.Duration{{5*24*time.Hour + 7*time.Hour, 5*24*time.Hour + 9*time.Hour}, {11*24*time.Hour + 16*time.Hour, 11*24*time.Hour + 16*time.Hour + 30*time.Minute}, {11*24*time.Hour + 21*time.Hour, 11*24*time.Hour + 21*time.Hour + 7*time.Minute}}
	b.resetEvery, b.nextReset = 60*time.Hour, from.Add(37*time.Hour+13*time.Minute)
	young := mk("young", "a", end.Add(-20*time.Hour))
	insts := []*inst{a, b, young}
	app := db.AppenderV2(context.Background())
	n := 0
	for ts := from; !ts.After(end); ts = ts.Add(step) {
		d := ts.Sub(from)
		ratio := 0.005
		switch {
		case d >= 3*24*time.Hour+10*time.Hour && d < 3*24*time.Hour+12*time.Hour:
			ratio = 0.08
		case d >= 9*24*time.Hour+4*time.Hour && d < 9*24*time.Hour+5*time.Hour:
			ratio = 0.03
		case end.Sub(ts) < 90*time.Second:
			ratio = 0.4
		}
		load := 50 * (1 + 0.8*math.Sin(2*math.Pi*float64(ts.Hour())/24))
		for _, in := range insts {
			if ts.Before(in.start) {
				continue
			}
			hole := false
			for _, h := range in.holes {
				hole = hole || d >= h[0] && d < h[1]
			}
			if hole {
				continue
			}
			if in.resetEvery > 0 && !ts.Before(in.nextReset) {
				in.ok, in.bad, in.fast, in.count = 0, 0, 0, 0
				in.badSeen = false
				in.nextReset = in.nextReset.Add(in.resetEvery)
			}
			events := load * step.Seconds() * (0.5 + rng.Float64())
			bad := math.Round(events * ratio * 2 * rng.Float64())
			in.ok += events - bad
			in.bad += bad
			in.count += events
			in.fast += events - math.Round(events*ratio*2*rng.Float64())
			in.badSeen = in.badSeen || bad > 0
			for i, v := range []float64{in.ok, in.bad, in.fast, in.count} {
				if i == 1 && !in.badSeen {
					continue
				}
				var err error
				if in.refs[i], err = app.Append(in.refs[i], in.ls[i], 0, ts.UnixMilli(), v, nil, nil, storage.AOptions{}); err != nil {
					t.Fatal(err)
				}
				n++
			}
			// The same latencies as a native histogram: the fast ones in
			// (1/32, 1/16] s, the slow ones in (1/8, 1/4] s.
			fh := &histogram.FloatHistogram{
				Count: in.count, Sum: in.fast*0.05 + (in.count-in.fast)*0.2,
				PositiveSpans:   []histogram.Span{{Offset: -4, Length: 3}},
				PositiveBuckets: []float64{in.fast, 0, in.count - in.fast},
			}
			var err error
			if in.refs[4], err = app.Append(in.refs[4], in.ls[4], 0, ts.UnixMilli(), 0, nil, fh, storage.AOptions{}); err != nil {
				t.Fatal(err)
			}
			n++
		}
		if n >= 100_000 {
			if err := app.Commit(); err != nil {
				t.Fatal(err)
			}
			app, n = db.AppenderV2(context.Background()), 0
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
}

// TestTierRatiosEqualRaw checks that the error ratios the reporter reads
// from the 1-minute tier over 1d, 3d, 7d and 30d (clipped to the 12 days of
// data) equal those of the raw samples within 0.1 % relative, for a ratio
// SLA, a classic latency SLA and an SLA of a service that started 20 hours
// ago, at four times, each with the tier caught up as its job leaves it
// (2 minutes behind: the newest samples are aggregated as the query runs,
// and the last 90 seconds' errors must count), and a native latency SLA
// (its 7d ratio was 0.94 % off raw when the tier's counter lost its reset
// offset across instance a's 2-hour hole: tier.TestCounterHoleAcrossABatch).
func TestTierRatiosEqualRaw(t *testing.T) {
	dir := t.TempDir()
	db, err := gmcstorage.Open(gmcstorage.Options{Dir: dir, Registerer: prometheus.NewRegistry(), Retention: 60 * 24 * time.Hour, MinBlockDuration: testBlock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	end := time.Date(2026, 11, 20, 14, 7, 31, 0, time.UTC)
	tierHistory(t, db, end)
	now := end
	set := openTiers(t, db, dir, func() time.Time { return now })
	t.Cleanup(func() { set.Close() })
	q, err := query.New(query.Options{Queryable: db, Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	wins := []Duration{Duration(time.Hour), Duration(24 * time.Hour), Duration(7 * 24 * time.Hour), Duration(30 * 24 * time.Hour)}
	slas := []SLA{
		{Name: "orders", Service: "gw", Objective: 99, Windows: wins, Indicator: Indicator{Ratio: &Ratio{}}},
		{Name: "fast", Service: "gw", Objective: 99, Windows: wins, Indicator: Indicator{Latency: &Latency{Metric: "lat_seconds", Threshold: Duration(50 * time.Millisecond), Buckets: "classic"}}},
		{Name: "young", Service: "young", Objective: 99, Windows: wins, Indicator: Indicator{Ratio: &Ratio{}}},
		{Name: "native", Service: "gw", Objective: 99, Windows: wins, Indicator: Indicator{Latency: &Latency{Metric: "nat_seconds", Threshold: Duration(62500 * time.Microsecond)}}},
	}
	opts := ReporterOptions{SLAs: slas, Engine: q.Engine(), Queryable: db, Now: func() time.Time { return now }}
	raw := NewReporter(opts)
	opts.Tiers = set
	tiered := NewReporter(opts)
	ctx := context.Background()
	worst, read := 0.0, 0
	for _, at := range []time.Duration{3*time.Hour + 17*time.Minute + 13500*time.Millisecond, time.Hour + 7250*time.Millisecond, 23*time.Minute + 41900*time.Millisecond, 0} {
		now = end.Add(-at)
		catchUpTiers(t, set)
		if lag := now.UnixMilli() - set.Tiers()[0].Watermark(); lag < 2*60*1000 || lag > 3*60*1000 {
			t.Fatalf("1m tier %d ms behind, want 2-3 minutes", lag)
		}
		for _, s := range slas {
			want, err := raw.ErrorRatios(ctx, s, now)
			if err != nil {
				t.Fatal(err)
			}
			got, err := tiered.ErrorRatios(ctx, s, now)
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range s.RecordedWindows() {
				k := FormatWindow(w)
				name := ""
				if tr := tiered.ratioTier(w, now); tr != nil {
					name = tr.Name()
				}
				if (name == "1m") != (w >= tierMinWindow) {
					t.Fatalf("%s over %s read tier %q", s.Name, k, name)
				}
				if name != "" {
					read++
				}
				g, okG := got[k]
				wv, okW := want[k]
				if okG != okW {
					t.Fatalf("%s over %s at %s: tier %v (%v), raw %v (%v)", s.Name, k, now.Format(time.TimeOnly), g, okG, wv, okW)
				}
				d := math.Abs(g-wv) / math.Max(wv, 1e-12)
				worst = math.Max(worst, d)
				if d > 0.001 || name == "" && g != wv {
					t.Errorf("%s over %s at %s: tier %.9g, raw %.9g (%.2g relative)", s.Name, k, now.Format(time.TimeOnly), g, wv, d)
				}
			}
		}
	}
	// The last 90 seconds' burst moves the 1d ratio: the tier must have
	// read them (they are past its watermark).
	before, err := raw.ErrorRatios(ctx, slas[0], end.Add(-2*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	after, err := tiered.ErrorRatios(ctx, slas[0], end)
	if err != nil {
		t.Fatal(err)
	}
	if after["1d"] < 1.02*before["1d"] {
		t.Errorf("1d error ratio %v at the end, %v two minutes before: the last minutes' errors are not counted", after["1d"], before["1d"])
	}
	t.Logf("%d ratios read from the 1m tier, worst relative difference from raw %.2g; 1d ratio %.5g two minutes before the end, %.5g at it", read, worst, before["1d"], after["1d"])
}

// BenchmarkErrorRatios computes an SLA's error ratios over all its
// recorded windows (5m … 30d) from 30 days of a per-second order counter
// and its error counter (1 % errors), from raw samples and with the tiers
// caught up as their job leaves them.
func BenchmarkErrorRatios(b *testing.B) {
	dir := b.TempDir()
	db, err := gmcstorage.Open(gmcstorage.Options{Dir: dir, Registerer: prometheus.NewRegistry(), Retention: 60 * 24 * time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	end := time.Date(2026, 11, 20, 14, 7, 31, 0, time.UTC)
	ok := labels.FromStrings("__name__", "gmc_orders_total", "service", "gw", "result", "success")
	bad := labels.FromStrings("__name__", "gmc_orders_total", "service", "gw", "result", "reject")
	var refs [2]storage.SeriesRef
	app := db.AppenderV2(context.Background())
	n := 0
	for ts, v := end.Add(-30*24*time.Hour), 0.0; !ts.After(end); ts, v = ts.Add(time.Second), v+100 {
		for i, s := range []struct {
			ls labels.Labels
			v  float64
		}{{ok, 99 * v / 100}, {bad, v / 100}} {
			if refs[i], err = app.Append(refs[i], s.ls, 0, ts.UnixMilli(), s.v, nil, nil, storage.AOptions{}); err != nil {
				b.Fatal(err)
			}
		}
		if n++; n%100_000 == 0 {
			if err := app.Commit(); err != nil {
				b.Fatal(err)
			}
			app = db.AppenderV2(context.Background())
		}
	}
	if err := app.Commit(); err != nil {
		b.Fatal(err)
	}
	if err := db.Compact(context.Background()); err != nil {
		b.Fatal(err)
	}
	cfg := tier.Config{}
	cfg.Normalise()
	set, err := tier.Open(tier.Options{Config: cfg, Dir: dir, Raw: db, Now: func() time.Time { return end }})
	if err != nil {
		b.Fatal(err)
	}
	defer set.Close()
	for _, tr := range set.Tiers() {
		for range 100_000 {
			if moved, err := set.Step(context.Background(), tr); err != nil {
				b.Fatal(err)
			} else if !moved {
				break
			}
		}
	}
	q, err := query.New(query.Options{Queryable: db, Registerer: prometheus.NewRegistry()})
	if err != nil {
		b.Fatal(err)
	}
	s := SLA{Name: "orders", Service: "gw", Objective: 99, Indicator: Indicator{Ratio: &Ratio{}},
		Windows: []Duration{Duration(time.Hour), Duration(24 * time.Hour), Duration(7 * 24 * time.Hour), Duration(30 * 24 * time.Hour)}}
	for _, way := range []struct {
		name  string
		tiers *tier.Set
	}{{"raw", nil}, {"tiers", set}} {
		r := NewReporter(ReporterOptions{SLAs: []SLA{s}, Engine: q.Engine(), Queryable: db, Tiers: way.tiers, Now: func() time.Time { return end }})
		b.Run(way.name, func(b *testing.B) {
			for b.Loop() {
				ratios, err := r.ErrorRatios(context.Background(), s, end)
				if err != nil || math.Abs(ratios["30d"]-0.01) > 1e-4 {
					b.Fatalf("30d ratio %v, %v", ratios["30d"], err)
				}
			}
		})
	}
}

// TestCoverageFromTier: a store keeps its raw samples 10 days and the 1m
// tier 31 (the default raw retention is 15 days, the 1m tier's 90), with a
// 2-day hole 25 days ago in the raw data and so in the tier. A 20d window,
// whose ratio reads the tier, is covered by the tier's data and judged (the
// raw samples alone cover 10d of it: "not judged"); the 30d window is
// covered 28 days of 30, the hole counted as uncovered, and not judged; the
// 1h window reads and counts raw samples.
func TestCoverageFromTier(t *testing.T) {
	dir := t.TempDir()
	db, err := gmcstorage.Open(gmcstorage.Options{Dir: dir, Registerer: prometheus.NewRegistry(), Retention: 60 * 24 * time.Hour, MinBlockDuration: testBlock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	end := time.Date(2026, 11, 20, 14, 7, 31, 0, time.UTC)
	holeFrom, holeTo := end.Add(-25*24*time.Hour), end.Add(-23*24*time.Hour)
	ok := labels.FromStrings("__name__", "gmc_orders_total", "service", "gw", "result", "success")
	bad := labels.FromStrings("__name__", "gmc_orders_total", "service", "gw", "result", "reject")
	var refs [2]storage.SeriesRef
	app := db.AppenderV2(context.Background())
	for ts, v := end.Add(-31*24*time.Hour), 0.0; !ts.After(end); ts, v = ts.Add(time.Minute), v+10_000 {
		if !ts.Before(holeFrom) && ts.Before(holeTo) {
			continue
		}
		for i, x := range []float64{0.9995 * v, 0.0005 * v} {
			if refs[i], err = app.Append(refs[i], []labels.Labels{ok, bad}[i], 0, ts.UnixMilli(), x, nil, nil, storage.AOptions{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	set := openTiers(t, db, dir, func() time.Time { return end })
	t.Cleanup(func() { set.Close() })
	ctx := context.Background()
	catchUpTiers(t, set, set.Tiers()[0]) // 1m: the 1h tier serves no window under 60 days
	// The raw samples older than 10 days go, as retention would delete them.
	if err := db.Delete(ctx, 0, end.Add(-10*24*time.Hour).UnixMilli(), labels.MustNewMatcher(labels.MatchEqual, "__name__", "gmc_orders_total")); err != nil {
		t.Fatal(err)
	}
	q, err := query.New(query.Options{Queryable: db, Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	s := SLA{Name: "gw", Service: "gw", Objective: 99.9, Indicator: Indicator{Ratio: &Ratio{}},
		Windows: []Duration{Duration(time.Hour), Duration(20 * 24 * time.Hour), Duration(30 * 24 * time.Hour)}}
	s.Normalise()
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	opts := ReporterOptions{SLAs: []SLA{s}, Engine: q.Engine(), Queryable: db, Now: func() time.Time { return end }}
	rawCov, err := NewReporter(opts).Coverage(ctx, s, end)
	if err != nil {
		t.Fatal(err)
	}
	if c := rawCov["20d"]; c < 0.49 || c > 0.51 {
		t.Fatalf("raw coverage of 20d = %v, want 10d of 20 (the older raw samples are deleted)", c)
	}
	opts.Tiers = set
	tiered := NewReporter(opts)
	st := tiered.StatusContext(ctx)[0]
	if st.Error != "" {
		t.Fatal(st.Error)
	}
	want := map[string]float64{"1h": 1, "20d": 1, "30d": 28.0 / 30}
	for _, ws := range st.Windows {
		w := want[ws.Window]
		if ws.Coverage == nil || math.Abs(*ws.Coverage-w) > 0.002 {
			t.Errorf("coverage over %s: %v, want %v", ws.Window, ws.Coverage, w)
		}
		judged := w >= MinCoverage
		if (ws.Met != nil) != judged || ws.Achievement == nil || math.Abs(*ws.Achievement-99.95) > 0.001 {
			t.Errorf("over %s: met %v, achievement %v, note %q; want judged %v, 99.95 %%", ws.Window, ws.Met, ws.Achievement, ws.Note, judged)
		}
	}
	if st.State != "ok" {
		t.Errorf("state %s (%s), want ok", st.State, st.Reason)
	}
	t.Logf("coverage from the tier 20d %.4f, 30d %.4f (raw samples alone: %.4f, %.4f); %s", *st.Windows[1].Coverage, *st.Windows[2].Coverage, rawCov["20d"], rawCov["30d"], st.Windows[2].Note)
}

// testBlock is the least block of the raw TSDBs and the tiers of the tests
// that hold days of data (gmcstorage.Options.MinBlockDuration,
// tier.Options.BlockDuration): a block a day, not one every 2 hours. The
// TSDBs' cutting and compacting of 372 two-hour blocks each was most of
// TestCoverageFromTier's time (44 s, 26 s of CPU, at load 11; 4.7 s with
// daily blocks); what the tests check does not depend on it.
const testBlock = 24 * time.Hour

// openTiers opens the default tiers beside db in dir (blocks of
// testBlock) on the clock now; the caller closes them.
func openTiers(t testing.TB, db *gmcstorage.TSDB, dir string, now func() time.Time) *tier.Set {
	t.Helper()
	cfg := tier.Config{}
	cfg.Normalise()
	set, err := tier.Open(tier.Options{BlockDuration: testBlock, Config: cfg, Dir: dir, Raw: db, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	return set
}

// catchUpTiers steps each of trs (every tier of set when none is named)
// until it has nothing left to aggregate, 10 000 steps at most.
func catchUpTiers(t testing.TB, set *tier.Set, trs ...*tier.Tier) {
	t.Helper()
	if len(trs) == 0 {
		trs = set.Tiers()
	}
	for _, tr := range trs {
		for range 10_000 {
			moved, err := set.Step(context.Background(), tr)
			if err != nil {
				t.Fatal(err)
			}
			if !moved {
				break
			}
		}
	}
}
