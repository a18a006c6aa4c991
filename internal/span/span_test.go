package span

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
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/storage"

	gmcstorage "github.com/gmc-dev/gmc/internal/storage"
)

// gappy returns the sample times of a series from..to every interval,
// with holes of the given lengths at random places.
func gappy(rng *rand.Rand, from, to, interval time.Duration, holes []time.Duration) []int64 {
	var ts []int64
	next := map[int64]time.Duration{} // a hole after the sample at this step
	span := int64((to - from) / interval)
	for _, h := range holes {
		next[rng.Int64N(span)] = h
	}
	for i, at := int64(0), from; at <= to; i, at = i+1, at+interval {
		ts = append(ts, at.Milliseconds())
		if h, ok := next[i]; ok {
			at += h
		}
	}
	return ts
}

// writeSeries appends the series (labels → sample times) in time order, as
// senders do, with increasing values.
func writeSeries(t testing.TB, db *gmcstorage.TSDB, series map[string][]int64) {
	t.Helper()
	type cursor struct {
		ls  labels.Labels
		ts  []int64
		ref storage.SeriesRef
		v   float64
	}
	var cs []*cursor
	for l, ts := range series {
		ls, err := parser.NewParser(parser.Options{}).ParseMetric(l)
		if err != nil {
			t.Fatal(err)
		}
		cs = append(cs, &cursor{ls: ls, ts: ts})
	}
	app := db.AppenderV2(context.Background())
	for n := 0; ; n++ {
		var next *cursor
		for _, c := range cs {
			if len(c.ts) > 0 && (next == nil || c.ts[0] < next.ts[0]) {
				next = c
			}
		}
		if next == nil {
			break
		}
		next.v++
		var err error
		if next.ref, err = app.Append(next.ref, next.ls, 0, next.ts[0], next.v, nil, nil, storage.AOptions{}); err != nil {
			t.Fatal(err)
		}
		next.ts = next.ts[1:]
		if n%100_000 == 99_999 {
			if err := app.Commit(); err != nil {
				t.Fatal(err)
			}
			app = db.AppenderV2(context.Background())
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
}

// TestChunkSpansEqualSampleSpans checks that the spans read from chunk
// time ranges equal those read from every sample, on a history with holes
// of every length around the lookback, in blocks and in the head, with
// out-of-order samples in a hole, a series deleted up to a time, a staleness marker,
// and a series too sparse for any chunk to be read without decoding, over
// windows whose edges fall anywhere (on samples, inside chunks, in holes).
func TestChunkSpansEqualSampleSpans(t *testing.T) {
	db, err := gmcstorage.Open(gmcstorage.Options{Dir: t.TempDir(), Registerer: prometheus.NewRegistry(), OutOfOrderWindow: 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	rng := rand.New(rand.NewPCG(1, 2))
	look := 5 * time.Minute
	holes := []time.Duration{30 * time.Second, look - time.Second, look - 999*time.Millisecond, look, look + time.Millisecond, look + time.Second, 7 * time.Minute, time.Hour, 3 * time.Hour}
	day := 24 * time.Hour
	total := func(inst string) labels.Labels {
		return labels.FromStrings("__name__", "gmc_orders_total", "service", "gw", "instance", inst)
	}
	writeSeries(t, db, map[string][]int64{
		total("a").String(): gappy(rng, 0, 3*day, time.Second, holes),
		total("b").String(): gappy(rng, 0, 3*day, 15*time.Second, holes),
		total("c").String(): gappy(rng, day, 3*day, 7*time.Minute, nil),
		// Another metric, which the selector must leave out, fills every hole.
		`other_total{service="gw"}`: gappy(rng, 0, 3*day, time.Minute, nil),
	})
	// Blocks for all but the last hours; the rest stays in the head.
	if err := db.Compact(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Out-of-order samples (into the head's past), a staleness marker, a
	// deleted range.
	app := db.AppenderV2(context.Background())
	for i := range 40 {
		at := (3*day - 10*time.Hour + time.Duration(i)*17*time.Second).Milliseconds()
		if _, err := app.Append(0, total("b"), 0, at+1, 1, nil, nil, storage.AOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := app.Append(0, total("c"), 0, (3*day + time.Hour).Milliseconds(), math.Float64frombits(value.StaleNaN), nil, nil, storage.AOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	// Deleted as the tiers' retention rules delete: everything up to a time.
	// (A range in the middle makes Prometheus v0.316.0's querier panic
	// when a query ends inside it: tombstones.Intervals.Add indexes past
	// the end when trimming to the query's end.)
	if err := db.Delete(context.Background(), math.MinInt64, (day + 5*time.Hour).Milliseconds(), labels.MustNewMatcher(labels.MatchEqual, "instance", "a")); err != nil {
		t.Fatal(err)
	}
	if st := db.Stats(); st.Blocks == 0 {
		t.Fatalf("no block was written: %+v", st)
	}

	// The union of the instances, and each instance alone (whose holes
	// the others do not fill).
	name := labels.MustNewMatcher(labels.MatchEqual, "__name__", "gmc_orders_total")
	selsets := [][][]*labels.Matcher{{{name, labels.MustNewMatcher(labels.MatchEqual, "service", "gw")}}}
	for _, inst := range []string{"a", "b", "c"} {
		selsets = append(selsets, [][]*labels.Matcher{{name, labels.MustNewMatcher(labels.MatchEqual, "instance", inst)}})
	}
	ctx := context.Background()
	windows := [][2]int64{{-1, (3*day + 2*time.Hour).Milliseconds()}, {day.Milliseconds(), (2 * day).Milliseconds()}}
	for range 30 {
		a, b := rng.Int64N((3*day + 2*time.Hour).Milliseconds()), rng.Int64N((3*day + 2*time.Hour).Milliseconds())
		windows = append(windows, [2]int64{min(a, b), max(a, b)})
	}
	holesSeen := 0
	for _, sels := range selsets {
		for _, w := range windows {
			want, err := fromSamples(ctx, db, sels, w[0], w[1], look.Milliseconds())
			if err != nil {
				t.Fatal(err)
			}
			got, err := fromChunks(ctx, db, sels, w[0], w[1], look.Milliseconds())
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, want) {
				t.Errorf("%v in (%d, %d]: spans from chunks\n%v\nfrom samples\n%v", sels, w[0], w[1], got, want)
			}
			if sels[0][1].Value == "a" {
				holesSeen = max(holesSeen, len(want)-1)
			}
		}
	}
	// Instance a has 7 holes longer than the lookback, about 40% of them in
	// its deleted start.
	if holesSeen < 3 {
		t.Errorf("at most %d holes in instance a's windows, want 3 or more: the history does not test what it should", holesSeen)
	}
}

// lookback is PromQL's default lookback, the reach the SLA coverage and
// the trends' partial hours give a sample.
const lookback = 5 * 60 * 1000

// BenchmarkCoverageSpans reads the spans of 30 days of one counter, from
// every sample and from chunk time ranges, at 1s and 15s intervals with a
// few holes, and by the series' cadence (ReadOwn, every sample decoded).
func BenchmarkCoverageSpans(b *testing.B) {
	for _, interval := range []time.Duration{time.Second, 15 * time.Second} {
		db, err := gmcstorage.Open(gmcstorage.Options{Dir: b.TempDir(), Registerer: prometheus.NewRegistry(), Retention: 60 * 24 * time.Hour})
		if err != nil {
			b.Fatal(err)
		}
		rng := rand.New(rand.NewPCG(3, 4))
		end := 30 * 24 * time.Hour
		writeSeries(b, db, map[string][]int64{`gmc_orders_total{service="gw"}`: gappy(rng, 0, end, interval, []time.Duration{10 * time.Minute, time.Hour, 6 * time.Hour})})
		if err := db.Compact(context.Background()); err != nil {
			b.Fatal(err)
		}
		sels := [][]*labels.Matcher{{labels.MustNewMatcher(labels.MatchEqual, "service", "gw")}}
		for _, way := range []struct {
			name  string
			spans func(context.Context, *gmcstorage.TSDB, [][]*labels.Matcher, int64, int64) ([][2]int64, error)
		}{
			{"samples", func(ctx context.Context, db *gmcstorage.TSDB, sels [][]*labels.Matcher, s, e int64) ([][2]int64, error) {
				return fromSamples(ctx, db, sels, s, e, lookback)
			}},
			{"chunks", func(ctx context.Context, db *gmcstorage.TSDB, sels [][]*labels.Matcher, s, e int64) ([][2]int64, error) {
				return fromChunks(ctx, db, sels, s, e, lookback)
			}},
			{"own", func(ctx context.Context, db *gmcstorage.TSDB, sels [][]*labels.Matcher, s, e int64) ([][2]int64, error) {
				return ReadOwn(ctx, db, sels, s, e, false)
			}},
		} {
			b.Run(fmt.Sprintf("interval=%s/%s", interval, way.name), func(b *testing.B) {
				for b.Loop() {
					sp, err := way.spans(context.Background(), db, sels, 0, end.Milliseconds())
					if err != nil || len(sp) != 4 {
						b.Fatalf("%d spans, %v", len(sp), err)
					}
				}
			})
		}
		db.Close()
	}
}

func TestCovered(t *testing.T) {
	spans := [][2]int64{{0, 10}, {20, 30}, {40, 50}}
	for _, c := range []struct{ from, to, want int64 }{
		{0, 50, 30}, {5, 25, 10}, {10, 20, 0}, {-100, 100, 30}, {45, 46, 1}, {50, 60, 0},
	} {
		if got := Covered(spans, c.from, c.to); got != c.want {
			t.Errorf("Covered(%v, %d, %d) = %d, want %d", spans, c.from, c.to, got, c.want)
		}
	}
}

// TestSpansEndAtTheLastSample: a run of samples covers from its first to
// its last, not the lookback after the last (that counted 5 minutes of
// data after every gap, t-user11 #6); samples at most the reach apart are
// one run; Extend takes the newest run on to now while its last sample is
// within the reach.
func TestSpansEndAtTheLastSample(t *testing.T) {
	db, err := gmcstorage.Open(gmcstorage.Options{Dir: t.TempDir(), Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	var ts []int64
	for at := int64(0); at <= 3600_000; at += 15_000 { // 0–60m every 15 s
		ts = append(ts, at)
	}
	for at := int64(4800_000); at <= 6000_000; at += 15_000 { // 80–100m, after a 20m gap
		ts = append(ts, at)
	}
	writeSeries(t, db, map[string][]int64{`gmc_orders_total{service="gw"}`: ts})
	sels := [][]*labels.Matcher{{labels.MustNewMatcher(labels.MatchEqual, "service", "gw")}}
	for _, read := range []func(context.Context, *gmcstorage.TSDB, [][]*labels.Matcher, int64, int64, int64) ([][2]int64, error){
		func(ctx context.Context, db *gmcstorage.TSDB, s [][]*labels.Matcher, a, b, r int64) ([][2]int64, error) {
			return fromSamples(ctx, db, s, a, b, r)
		},
		func(ctx context.Context, db *gmcstorage.TSDB, s [][]*labels.Matcher, a, b, r int64) ([][2]int64, error) {
			return fromChunks(ctx, db, s, a, b, r)
		},
	} {
		spans, err := read(context.Background(), db, sels, -1, 6060_000, lookback)
		if err != nil {
			t.Fatal(err)
		}
		if want := [][2]int64{{0, 3600_000}, {4800_000, 6000_000}}; !slices.Equal(spans, want) {
			t.Errorf("spans %v, want %v (the 5m after 60m is no data)", spans, want)
		}
		if got := Covered(spans, 0, 6060_000); got != 80*60_000 {
			t.Errorf("covered %v ms of 0–101m, want 80m", got)
		}
		if got := Covered(Extend(spans, 6060_000, lookback), 0, 6060_000); got != 81*60_000 {
			t.Errorf("covered %v ms of 0–101m with the newest run taken on to 101m, want 81m", got)
		}
		if got := Extend(spans, 6000_000+lookback+1, lookback); !slices.Equal(got, spans) {
			t.Errorf("Extend past the reach: %v, want the spans unchanged", got)
		}
	}
}

// TestReadOwnByCadence: a gap is data or a hole by the series' own cadence
// (Hole), not by PromQL's 5-minute lookback alone: gmc's own 1m52s outage
// in samples 1 s apart read as data (t-user16 F7: "over 22m 11s of data"
// where the samples covered 20m20s), and so did the minutes after a series
// stopped, or after a staleness marker. Each case's spans are spelled out
// from its sample times.
func TestReadOwnByCadence(t *testing.T) {
	const s, m = int64(1000), int64(60_000)
	every := func(from, to, step int64) []int64 {
		var ts []int64
		for at := from; at <= to; at += step {
			ts = append(ts, at)
		}
		return ts
	}
	cat := func(parts ...[]int64) []int64 { return slices.Concat(parts...) }
	for _, c := range []struct {
		name       string
		ts         []int64
		start, end int64
		extend     bool
		want       [][2]int64
		old        int64 // what span.Read with the 5m reach (and Extend) covered of (start, end]
		stale      int64 // a staleness marker's time, after the samples
	}{
		// The trial's shape: 1 s samples, a 112 s hole (gmc down), on.
		{"1s with a 112s hole", cat(every(0, 20*m, s), every(20*m+112*s, 30*m, s)), 0, 30 * m, false,
			[][2]int64{{0, 20 * m}, {20*m + 112*s, 30 * m}}, 30 * m, 0},
		// Two and three missed samples in a row at 1 s: a 3 s gap is data
		// (3·598 ≤ 1800), a 4 s one is a hole (4·597 > 1800).
		{"1s missing two, then three", cat(every(0, 20*m, s), every(20*m+3*s, 25*m, s), every(25*m+4*s, 30*m, s)), 0, 30 * m, false,
			[][2]int64{{0, 25 * m}, {25*m + 4*s, 30 * m}}, 30 * m, 0},
		// 15 s samples missing two in a row (a 45 s gap) are one run; a
		// 60 s gap (three missed) is a hole.
		{"15s missing two, then three", cat(every(0, 20*m, 15*s), every(20*m+45*s, 40*m, 15*s), every(41*m, 60*m, 15*s)), 0, 60 * m, false,
			[][2]int64{{0, 40 * m}, {41 * m, 60 * m}}, 60 * m, 0},
		// A series pushed every minute is covered between its pushes,
		// then 1 s samples right after (the demo's history joined by the
		// live desk): the cadence is the one the series had there.
		{"1m then 1s", cat(every(0, 60*m, m), every(60*m+s, 70*m, s)), 0, 70 * m, false,
			[][2]int64{{0, 70 * m}}, 70 * m, 0},
		// Every 10 minutes: over the lookback, no data between pushes.
		{"every 10m", every(0, 60*m, 10*m), 0, 60 * m, true,
			[][2]int64{{0, 0}, {10 * m, 10 * m}, {20 * m, 20 * m}, {30 * m, 30 * m}, {40 * m, 40 * m}, {50 * m, 50 * m}, {60 * m, 60 * m}}, 0, 0},
		// Stopped 4 minutes before end: not data still coming in.
		{"1s stopped 4m ago", every(0, 26*m, s), 0, 30 * m, true,
			[][2]int64{{0, 26 * m}}, 30 * m, 0},
		// 2 s since the last of samples 1 s apart: the next is not due.
		{"1s, last 2s ago", every(0, 30*m-2*s, s), 0, 30 * m, true,
			[][2]int64{{0, 30 * m}}, 30 * m, 0},
		// A staleness marker 1 s after the last sample (a scrape target
		// gone): the series ended there, though the next is not due.
		{"1s, then a staleness marker", every(0, 30*m-2*s, s), 0, 30 * m, true,
			[][2]int64{{0, 30*m - 2*s}}, 30 * m, 30*m - s},
		// A window starting after a run began: the run's cadence before
		// start is read too, so the hole just after start is one.
		{"hole right after start", cat(every(0, 20*m+5*s, s), every(20*m+65*s, 30*m, s)), 20 * m, 30 * m, false,
			[][2]int64{{0, 20*m + 5*s}, {20*m + 65*s, 30 * m}}, 10 * m, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			db, err := gmcstorage.Open(gmcstorage.Options{Dir: t.TempDir(), Registerer: prometheus.NewRegistry()})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			writeSeries(t, db, map[string][]int64{`gmc_orders_total{service="gw"}`: c.ts})
			if c.stale > 0 {
				app := db.AppenderV2(context.Background())
				if _, err := app.Append(0, labels.FromStrings("__name__", "gmc_orders_total", "service", "gw"), 0, c.stale, math.Float64frombits(value.StaleNaN), nil, nil, storage.AOptions{}); err != nil {
					t.Fatal(err)
				}
				if err := app.Commit(); err != nil {
					t.Fatal(err)
				}
			}
			sels := [][]*labels.Matcher{{labels.MustNewMatcher(labels.MatchEqual, "service", "gw")}}
			got, err := ReadOwn(context.Background(), db, sels, c.start, c.end, c.extend)
			if err != nil {
				t.Fatal(err)
			}
			// Samples before start are read for the cadence only: compare
			// the spans from start on.
			clip := func(sp [][2]int64) [][2]int64 {
				var out [][2]int64
				for _, x := range sp {
					if x[1] >= c.start {
						out = append(out, [2]int64{max(x[0], c.start), x[1]})
					}
				}
				return out
			}
			if !slices.Equal(clip(got), clip(c.want)) {
				t.Errorf("spans %v, want %v", got, c.want)
			}
			old, err := Read(context.Background(), db, sels, c.start-lookback, c.end, lookback)
			if err != nil {
				t.Fatal(err)
			}
			if c.extend {
				old = Extend(old, c.end, lookback)
			}
			oldCov, cov := Covered(old, c.start, c.end), Covered(got, c.start, c.end)
			if oldCov != c.old {
				t.Errorf("the 5m reach covered %d ms, the case says %d", oldCov, c.old)
			}
			t.Logf("covered %v of %v (the 5m reach: %v)", time.Duration(cov)*time.Millisecond, time.Duration(c.end-c.start)*time.Millisecond, time.Duration(oldCov)*time.Millisecond)
		})
	}
}
