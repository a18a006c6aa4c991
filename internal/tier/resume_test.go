package tier

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	promstorage "github.com/prometheus/prometheus/storage"
)

// TestCounterResumedHigher: a counter sampled every 15 s that stops, and
// after a hole resumes, sampled every second, at a much higher value
// without a reset (a host's counter went on counting while its agent or
// gmc was down: t-user16 F9, node_cpu_seconds_total at the demo's join of
// backfilled history and live data). Where the hole began in the bucket
// before the one it resumed in, that bucket's end was the counter before
// the hole, and a window starting there read the jump over the hole as
// its increase, where raw data, no sample before the resumption in the
// window, do not: rate(x[1h]) and increase(x[1h]) through the 1h tier at
// the whole hour after a 72-minute gap read 1,573 times raw data's
// (+157,313 %), increase(x[2h]) an hour later +12,639 %; restarted from
// 900 (a reset), the counter's new value was read as increase: +35.9 %.
// With the job caught up at the end, and with it running during the hole
// (the resumption is then in a batch after the stop's). Also with the
// resumption 10 minutes into an hour and a gap of 3 minutes. Every tier
// forced on its grid (the 1h tier at whole hours) and the default read.
func TestCounterResumedHigher(t *testing.T) {
	c := labels.FromStrings("__name__", "c_total", "job", "node")
	end := t0.Add(rawSpan)
	for _, sc := range []struct {
		stop, back time.Duration
		value      float64 // the counter's first value after the hole
		during     bool    // the job ran during the hole: the resumption is in the next batch
	}{
		{102 * time.Minute, 174 * time.Minute, 5e6, false},
		{102 * time.Minute, 174 * time.Minute, 5e6, true},
		// Restarted from a small value (a reset): the tier's counter
		// carries the offset, and read the counter's whole new value as
		// the window's increase.
		{102 * time.Minute, 174 * time.Minute, 900, true},
		{118 * time.Minute, 190 * time.Minute, 5e6, false},
		{118 * time.Minute, 190 * time.Minute, 5e6, true},
		{171 * time.Minute, 174 * time.Minute, 5e6, false},
		{171 * time.Minute, 174 * time.Minute, 5e6, true},
	} {
		for _, hist := range []bool{false, true} {
			t.Run(fmt.Sprintf("stop %s back %s at %g job during the hole %v%s", sc.stop, sc.back, sc.value, sc.during, kindName(hist)), func(t *testing.T) {
				var samples []rawSample
				n := 1e6
				ts := t0.Add(5 * time.Second)
				for ; !ts.After(t0.Add(sc.stop)); ts = ts.Add(15 * time.Second) {
					n += 100 + float64(ts.Unix()%7)
					samples = append(samples, rawSample{c, ts, n})
				}
				n = sc.value // the host's counter went on while nothing sampled it
				for ts = t0.Add(sc.back).Add(46 * time.Second); !ts.After(end); ts = ts.Add(time.Second) {
					n += 7 + float64(ts.Unix()%3)
					samples = append(samples, rawSample{c, ts, n})
				}
				runs := []time.Time{end.Add(time.Second)}
				if sc.during {
					runs = append([]time.Time{t0.Add(sc.stop + 2*time.Minute)}, runs...)
				}
				f := counterFixtureOf(t, samples, hist, runs...)
				// Up to 1.5 raw intervals' increase (15 s) in windows holding
				// a stop's last minutes (TestCounterStopsInAMinuteTierWindow).
				for _, q := range []struct {
					expr string
					abs  float64
				}{
					{`rate(c_total%s[1h])`, 160.0 / 3600},
					{`increase(c_total%s[1h])`, 160},
					{`increase(c_total%s[2h])`, 160},
				} {
					from, expr := t0.Add(150*time.Minute), counterExpr(q.expr, hist)
					f.compareNear(t, expr, "", from, end, 10*time.Minute, 0.02, q.abs)
					f.compareNear(t, expr, "", t0.Add(2*time.Hour), end, time.Hour, 0.02, q.abs)
					f.compareNear(t, expr, `{__tier__="1m"}`, from, end, 10*time.Minute, 0.02, q.abs)
					f.compareNear(t, expr, `{__tier__="10m"}`, from, end, 10*time.Minute, 0.02, q.abs)
					f.compareNear(t, expr, `{__tier__="1h"}`, t0.Add(2*time.Hour), end, time.Hour, 0.02, q.abs)
				}
				if hist {
					// Its sum and buckets too, not only its count.
					f.compareNear(t, `histogram_sum(increase(c_total%s[1h]))`, `{__tier__="1h"}`, t0.Add(2*time.Hour), end, time.Hour, 0.02, 0.16)
					f.compareNear(t, `histogram_fraction(0, 1, increase(c_total%s[1h]))`, `{__tier__="1h"}`, t0.Add(2*time.Hour), end, time.Hour, 0.02, 0)
				}
			})
		}
	}
}

// kindName names a test case's counter: a float, or a native histogram's.
func kindName(hist bool) string {
	if hist {
		return ", native histogram"
	}
	return ""
}

// counterExpr is expr over a float counter, or, with hist, over a native
// histogram counter (counterFixtureOf): its count, which is the float's
// value.
func counterExpr(expr string, hist bool) string {
	if hist {
		return "histogram_count(" + expr + ")"
	}
	return expr
}

// TestCounterResumedNextToItsStop: a counter sampled every 15 s that stops
// and resumes, after a hole, in the bucket right after the one it stopped
// in, at a much higher value (or restarted from 900, a reset), where either
// side of the hole is a single raw sample in its bucket. The stop bucket's
// last raw sample alone in it, and the job's batch ending at that bucket
// (as every batch does once the job has caught up: one bucket each): the
// next batch had no interval to judge the stop by, so the resumption was
// not marked, and a window starting at the stop bucket's end read the jump
// over the hole as its increase. The resumption's first raw sample alone
// in its bucket: it was not marked (a mark beside the bucket's end makes
// a window holding the two read 0), and the window holding only it read
// the jump where raw data, one sample, have no answer.
func TestCounterResumedNextToItsStop(t *testing.T) {
	c := labels.FromStrings("__name__", "c_total", "job", "node")
	end := t0.Add(rawSpan)
	for _, sc := range []struct {
		name       string
		stop, back time.Duration // the last raw sample before the hole, the first after
		step       time.Duration // the interval after the hole
		value      float64
		runs       []time.Duration // the job's runs before its last, at end
	}{
		// 01:42:05 alone in the 1m bucket ending 01:43 (its 55 s to
		// the end are more than two intervals: a stop), back at 01:43:46.
		{"stop alone, job to 01:43", 102*time.Minute + 5*time.Second, 103*time.Minute + 46*time.Second, time.Second, 5e6, []time.Duration{103*time.Minute + time.Second}},
		{"stop alone, job to 01:43, reset", 102*time.Minute + 5*time.Second, 103*time.Minute + 46*time.Second, time.Second, 900, []time.Duration{103*time.Minute + time.Second}},
		{"stop alone, job caught up", 102*time.Minute + 5*time.Second, 103*time.Minute + 46*time.Second, time.Second, 5e6, nil},
		// 01:43:50 alone in the 1m bucket ending 01:44 (15 s samples
		// on), the stop bucket (01:42:05, 01:42:20) two samples.
		{"back alone", 102*time.Minute + 20*time.Second, 103*time.Minute + 50*time.Second, 15 * time.Second, 5e6, nil},
		{"back alone, job to 01:43", 102*time.Minute + 20*time.Second, 103*time.Minute + 50*time.Second, 15 * time.Second, 5e6, []time.Duration{103*time.Minute + time.Second}},
		{"back alone, reset", 102*time.Minute + 20*time.Second, 103*time.Minute + 50*time.Second, 15 * time.Second, 900, nil},
		// The 1h tier: stop 01:42:05, back at 02:59:50, alone in the
		// bucket ending 03:00.
		{"back alone in the hour", 102*time.Minute + 5*time.Second, 179*time.Minute + 50*time.Second, 15 * time.Second, 5e6, nil},
		{"back alone in the hour, job during the hole", 102*time.Minute + 5*time.Second, 179*time.Minute + 50*time.Second, 15 * time.Second, 5e6, []time.Duration{150 * time.Minute}},
	} {
		for _, hist := range []bool{false, true} {
			t.Run(sc.name+kindName(hist), func(t *testing.T) {
				var samples []rawSample
				n := 1e6
				ts := t0.Add(5 * time.Second)
				for ; !ts.After(t0.Add(sc.stop)); ts = ts.Add(15 * time.Second) {
					n += 100 + float64(ts.Unix()%7)
					samples = append(samples, rawSample{c, ts, n})
				}
				n = sc.value
				for ts = t0.Add(sc.back); !ts.After(end); ts = ts.Add(sc.step) {
					n += 7 + float64(ts.Unix()%3)
					samples = append(samples, rawSample{c, ts, n})
				}
				var runs []time.Time
				for _, r := range sc.runs {
					runs = append(runs, t0.Add(r))
				}
				f := counterFixtureOf(t, samples, hist, append(runs, end.Add(time.Second))...)
				// Windows starting at the start of the 1m bucket the counter
				// resumed in (the stop bucket's end, 01:43) and after, at
				// 1-minute steps, within 2 % or 1.5 raw intervals'
				// increase (160). Not the earlier ones: those holding the
				// stop and the resumption read the jump as raw data do, but
				// raw data extrapolate it by their samples' average interval
				// (-2.5 % in a 10m window whose one sample after the hole is
				// 10 s before its end, before this change too), and one
				// holding only the stop's last raw sample has no answer from
				// raw data where the tier's, its edge and the sample, has one
				// (as for any window holding one raw sample: withEdges).
				first := t0.Add(sc.back).Truncate(time.Minute)
				f.compareNear(t, counterExpr(`increase(c_total%s[10m])`, hist), `{__tier__="1m"}`, first.Add(10*time.Minute), first.Add(30*time.Minute), time.Minute, 0.02, 160)
				f.compareNear(t, counterExpr(`increase(c_total%s[1h])`, hist), `{__tier__="1m"}`, first.Add(time.Hour), first.Add(80*time.Minute), time.Minute, 0.02, 160)
				f.compareNear(t, counterExpr(`rate(c_total%s[1h])`, hist), "", first.Add(time.Hour), first.Add(80*time.Minute), time.Minute, 0.02, 160.0/3600)
				f.compareNear(t, counterExpr(`increase(c_total%s[1h])`, hist), `{__tier__="10m"}`, t0.Add(2*time.Hour), end, 10*time.Minute, 0.02, 160)
				f.compareNear(t, counterExpr(`increase(c_total%s[1h])`, hist), `{__tier__="1h"}`, t0.Add(3*time.Hour), end, time.Hour, 0.02, 160)
				f.compareNear(t, counterExpr(`increase(c_total%s[2h])`, hist), `{__tier__="1h"}`, t0.Add(3*time.Hour), end, time.Hour, 0.02, 160)
			})
		}
	}
}

// TestCounterStoppedNextToItsBucketsEnd: a counter sampled every 15 s that
// stops within two raw intervals of its bucket's end (01:59:50, 10 s
// before the hour) and resumes, at a much higher value, in the next
// bucket however much later (02:50:46, sampled every second). The stop
// bucket's end was taken as the series running to it, so it got no
// closing mark, and the resumption, in the bucket right after it, was not
// marked: a window starting at the hour read the jump over the hole as its
// increase through the 1h tier (increase(x[1h]) and the default read's
// rate(x[1h]) at 03:00 3.96 M where raw data read 4,436: +89,057 %).
// With the job caught up at the end (the stop and the resumption in one
// batch), and with it run during the hole (the resumption in the batch
// after the stop bucket's, as in steady state, where every batch is one
// bucket); restarted from 900 too; and with the job stopped at the hour,
// the tiers read on the fly after it.
func TestCounterStoppedNextToItsBucketsEnd(t *testing.T) {
	end := t0.Add(rawSpan)
	for _, sc := range []struct {
		name  string
		value float64
		runs  []time.Duration // the job's runs before its last, at end
		fly   bool            // no last run: the tiers read after 02:00 on the fly
	}{
		{"job caught up", 5e6, nil, false},
		{"job during the hole", 5e6, []time.Duration{2*time.Hour + time.Second}, false},
		{"job during the hole, every 10 minutes", 5e6, []time.Duration{2*time.Hour + time.Second, 2*time.Hour + 10*time.Minute + time.Second, 2*time.Hour + 20*time.Minute + time.Second, 2*time.Hour + 30*time.Minute + time.Second, 2*time.Hour + 40*time.Minute + time.Second}, false},
		{"job during the hole, reset", 900, []time.Duration{2*time.Hour + time.Second}, false},
		// The job's last run at 02:00:01: the tiers' buckets after the
		// hour are aggregated on the fly, and the stop bucket's closing
		// mark with them (before the tier's end: concatIterator).
		{"job stopped at the hour", 5e6, []time.Duration{2*time.Hour + time.Second}, true},
	} {
		for _, hist := range []bool{false, true} {
			t.Run(sc.name+kindName(hist), func(t *testing.T) {
				var runs []time.Time
				for _, r := range sc.runs {
					runs = append(runs, t0.Add(r))
				}
				if !sc.fly {
					runs = append(runs, end.Add(time.Second))
				}
				f := counterFixtureOf(t, stoppedNextToTheHour(sc.value), hist, runs...)
				f.now = end.Add(time.Second)
				stoppedNextToTheHourAsRaw(t, f, hist)
			})
		}
	}
}

// stoppedNextToTheHour is TestCounterStoppedNextToItsBucketsEnd's counter:
// sampled every 15 s up to 01:59:50, back at 02:50:46 at value (5e6 after
// about 1.05e6), sampled every second.
func stoppedNextToTheHour(value float64) []rawSample {
	c := labels.FromStrings("__name__", "c_total", "job", "node")
	var samples []rawSample
	n := 1e6
	ts := t0.Add(5 * time.Second)
	for ; !ts.After(t0.Add(119*time.Minute + 50*time.Second)); ts = ts.Add(15 * time.Second) {
		n += 100 + float64(ts.Unix()%7)
		samples = append(samples, rawSample{c, ts, n})
	}
	n = value
	for ts = t0.Add(170*time.Minute + 46*time.Second); !ts.After(t0.Add(rawSpan)); ts = ts.Add(time.Second) {
		n += 7 + float64(ts.Unix()%3)
		samples = append(samples, rawSample{c, ts, n})
	}
	return samples
}

// writtenBeforeTheMarks is stoppedNextToTheHour(5e6)'s fixture, caught up
// at the end, with the stop bucket's (ending 02:00) marks removed from
// every tier, as the job wrote them before d7162f9: checked to read the
// jump over the hole through the 1h tier.
func writtenBeforeTheMarks(t *testing.T, hist bool) *fixture {
	t.Helper()
	ctx := context.Background()
	end := t0.Add(rawSpan)
	stop := t0.Add(2 * time.Hour).UnixMilli()
	f := counterFixtureOf(t, stoppedNextToTheHour(5e6), hist, end.Add(time.Second))
	c := labels.MustNewMatcher(labels.MatchEqual, "__name__", "c_total")
	for _, tr := range f.set.Tiers() {
		if err := tr.db.FlushHead(ctx); err != nil {
			t.Fatal(err)
		}
		if err := tr.db.Delete(ctx, stop-tr.res+1, stop-1, c); err != nil {
			t.Fatal(err)
		}
		if err := tr.db.CleanTombstones(); err != nil {
			t.Fatal(err)
		}
	}
	expr := counterExpr(`increase(c_total%s[1h])`, hist)
	at := t0.Add(3 * time.Hour)
	want := f.rangeQuery(t, f.raw, fmt.Sprintf(expr, ""), at, at, time.Hour)
	got := f.rangeQuery(t, f.set.Queryable(5*60*1000), fmt.Sprintf(expr, `{__tier__="1h"}`), at, at, time.Hour)
	if len(want) != 1 || len(got) != 1 || got[0].Floats[0].F < 100*want[0].Floats[0].F {
		t.Fatalf("without the stop's marks %s through the 1h tier at 03:00 = %v, raw %v: the fixture does not have the tiers as written before", expr, got, want)
	}
	return f
}

// reaggregateAll runs tr's re-aggregation until it clears its late mark
// (at most 10 rounds) and fails if it did not.
func reaggregateAll(t *testing.T, f *fixture, tr *Tier) {
	t.Helper()
	for range 10 {
		cleared, err := f.set.reaggregate(context.Background(), tr)
		if err != nil {
			t.Fatal(err)
		}
		if cleared {
			break
		}
	}
	if from, _ := tr.lateMark(); from != math.MaxInt64 {
		t.Fatalf("tier %s still late from %s", tr.Name(), fmtMS(from))
	}
}

// stoppedNextToTheHourAsRaw checks, after the hour, TestCounterStoppedNextToItsBucketsEnd's
// reads: the default one and every tier forced, within 2 % or 1.5 raw
// intervals' increase.
func stoppedNextToTheHourAsRaw(t *testing.T, f *fixture, hist bool) {
	t.Helper()
	end := t0.Add(rawSpan)
	for _, q := range []struct {
		expr string
		abs  float64
	}{
		{`rate(c_total%s[1h])`, 160.0 / 3600},
		{`increase(c_total%s[1h])`, 160},
		{`increase(c_total%s[2h])`, 160},
	} {
		expr := counterExpr(q.expr, hist)
		f.compareNear(t, expr, "", t0.Add(130*time.Minute), end, 10*time.Minute, 0.02, q.abs)
		f.compareNear(t, expr, `{__tier__="1m"}`, t0.Add(130*time.Minute), end, 10*time.Minute, 0.02, q.abs)
		f.compareNear(t, expr, `{__tier__="10m"}`, t0.Add(130*time.Minute), end, 10*time.Minute, 0.02, q.abs)
		f.compareNear(t, expr, `{__tier__="1h"}`, t0.Add(3*time.Hour), end, time.Hour, 0.02, q.abs)
	}
}

// TestCounterStoppedNextToItsBucketsEndRebuilt: the job's batches end at
// the stop bucket's end (02:00, the job run at 02:00:01: no closing mark
// yet), then every tier is stuck (a sample a day past its watermark, as
// the old job's batches left the 1h tier: TestStuckHourTierRebuilt), so
// Open rebuilds it from what it holds up to 02:00 and the job goes on from
// there: its first batch, in the new TSDB, is the one that looks back at
// the stop bucket (aggregator.closeBefore) and writes its marks before its
// start. Without them the window starting at 02:00 read the jump over the
// hole (+89,057 % through the 1h tier).
func TestCounterStoppedNextToItsBucketsEndRebuilt(t *testing.T) {
	ctx := context.Background()
	end := t0.Add(rawSpan)
	for _, hist := range []bool{false, true} {
		t.Run("counter"+kindName(hist), func(t *testing.T) {
			f := counterFixtureOf(t, stoppedNextToTheHour(5e6), hist, t0.Add(2*time.Hour+time.Second))
			bogus := labels.FromStrings("__name__", "bogus", AggLabel, AggLast)
			for _, tr := range f.set.Tiers() {
				if wm := tr.Watermark(); wm != t0.Add(2*time.Hour).UnixMilli() {
					t.Fatalf("tier %s at %s, want 02:00", tr.Name(), fmtMS(wm))
				}
				app := tr.db.AppenderV2(ctx)
				if _, err := app.Append(0, bogus, 0, t0.Add(28*time.Hour).UnixMilli(), 1, nil, nil, promstorage.AOptions{}); err != nil {
					t.Fatal(err)
				}
				if err := app.Commit(); err != nil {
					t.Fatal(err)
				}
			}
			var logs bytes.Buffer
			f.opts.Logger = slog.New(slog.NewTextHandler(&logs, nil))
			if err := f.set.Close(); err != nil {
				t.Fatal(err)
			}
			f.open(t)
			if n := strings.Count(logs.String(), "stuck tier rebuilt"); n != len(f.set.Tiers()) {
				t.Fatalf("%d tiers rebuilt, want %d; log:\n%s", n, len(f.set.Tiers()), logs.String())
			}
			f.now = end.Add(time.Second)
			for _, tr := range f.set.Tiers() {
				f.catchUp(t, tr)
			}
			stoppedNextToTheHourAsRaw(t, f, hist)
		})
	}
}

// TestCounterStoppedNextToItsBucketsEndReaggregated: tiers whose stop
// bucket (ending 02:00) holds none of the marks of a stop, as the job
// wrote them before d7162f9 (the marks removed here), re-aggregated from
// 02:00 (a late sample's mark there: Tier.markLate), into the head and as
// a block. The re-aggregation's downsample starts at the stop bucket's end
// and looks back at it (aggregator.closeBefore): the marks written before
// its start, the window starting at 02:00 reads what raw data read.
// Before, the tiers read the jump over the hole (+89,057 % through the 1h
// tier), which the test checks first.
func TestCounterStoppedNextToItsBucketsEndReaggregated(t *testing.T) {
	stop := t0.Add(2 * time.Hour).UnixMilli()
	for _, block := range []bool{false, true} {
		for _, hist := range []bool{false, true} {
			t.Run(fmt.Sprintf("block %v%s", block, kindName(hist)), func(t *testing.T) {
				if block {
					defer func(w time.Duration) { headRewriteWindow = w }(headRewriteWindow)
					headRewriteWindow = time.Hour // (02:00, 04:00] is older than the head takes
				}
				f := writtenBeforeTheMarks(t, hist)
				for _, tr := range f.set.Tiers() {
					if err := tr.markLate(stop + tr.res); err != nil {
						t.Fatal(err)
					}
					if from, _ := tr.lateMark(); from != stop {
						t.Fatalf("tier %s late from %s, want 02:00", tr.Name(), fmtMS(from))
					}
					reaggregateAll(t, f, tr)
				}
				stoppedNextToTheHourAsRaw(t, f, hist)
			})
		}
	}
}

// TestCounterStoppedAtACatchUpBatchsEnd: in a catch-up the 1h tier's
// batches spanned a day, its TSDB's out-of-order window (23 h now:
// batchSpan), and a batch commits every commitEvery samples, series after
// series (lowered here to a commit after every series, as a store of some
// thousand series does every ~1,200). A commit moves the tier's newest
// sample to the batch's end, and the marks the batch then writes before
// its start for a later series that stopped next to it
// (aggregator.closeBefore) were older than the window behind it:
// ErrTooOldSample, and the job retried the same batch for ever.
func TestCounterStoppedAtACatchUpBatchsEnd(t *testing.T) {
	defer func(n int) { commitEvery = n }(commitEvery)
	commitEvery = 1
	a := labels.FromStrings("__name__", "a_total") // read before c_total
	c := labels.FromStrings("__name__", "c_total")
	end := t0.Add(48 * time.Hour)
	var samples []rawSample
	for ts := t0.Add(30 * time.Second); !ts.After(end); ts = ts.Add(time.Minute) {
		samples = append(samples, rawSample{a, ts, float64(ts.Unix() - t0.Unix())})
	}
	// c_total stops 10 s before the 1h tier's first batch ends (its raw
	// data start at 00:00:05) and resumes 51 minutes later, much higher.
	first := t0.Add(time.Duration((&Tier{res: time.Hour.Milliseconds()}).batchSpan()) * time.Millisecond)
	n := 1e6
	for ts := t0.Add(5 * time.Second); !ts.After(first.Add(-10 * time.Second)); ts = ts.Add(15 * time.Second) {
		n += 100 + float64(ts.Unix()%7)
		samples = append(samples, rawSample{c, ts, n})
	}
	n = 5e6
	for ts := first.Add(50*time.Minute + 46*time.Second); !ts.After(end); ts = ts.Add(15 * time.Second) {
		n += 100 + float64(ts.Unix()%7)
		samples = append(samples, rawSample{c, ts, n})
	}
	f := counterFixture(t, samples, end.Add(time.Second))
	for _, q := range []struct {
		expr string
		abs  float64
	}{
		{`increase(c_total%s[1h])`, 160},
		{`increase(c_total%s[2h])`, 160},
	} {
		f.compareNear(t, q.expr, `{__tier__="1h"}`, first.Add(time.Hour), end, time.Hour, 0.02, q.abs)
		f.compareNear(t, q.expr, `{__tier__="10m"}`, first.Add(time.Hour), end, time.Hour, 0.02, q.abs)
	}
}

// TestCounterStoppedADayBeforeReaggregated: a re-aggregation from the end
// of a stop bucket whose marks are missing (as the job wrote them before
// d7162f9; removed here), a day behind the 1h tier's newest sample, with
// a commit after every series (commitEvery, as in
// TestCounterStoppedAtACatchUpBatchsEnd). The late span starts within the
// tier's out-of-order window, so it was rewritten into the head, but the
// marks written before its start (aggregator.closeBefore) were older than
// the window behind the first commit's newest sample: ErrTooOldSample, and
// the job retried the re-aggregation every minute, the tier late for ever.
// A span whose bucket before is not within the window is written as a
// block.
func TestCounterStoppedADayBeforeReaggregated(t *testing.T) {
	defer func(n int) { commitEvery = n }(commitEvery)
	commitEvery = 1
	ctx := context.Background()
	a := labels.FromStrings("__name__", "a_total") // read before c_total
	c := labels.FromStrings("__name__", "c_total")
	end := t0.Add(48 * time.Hour)
	var samples []rawSample
	for ts := t0.Add(30 * time.Second); !ts.After(end); ts = ts.Add(time.Minute) {
		samples = append(samples, rawSample{a, ts, float64(ts.Unix() - t0.Unix())})
	}
	stop := t0.Add(24 * time.Hour)
	n := 1e6
	for ts := t0.Add(5 * time.Second); !ts.After(stop.Add(-10 * time.Second)); ts = ts.Add(15 * time.Second) {
		n += 100 + float64(ts.Unix()%7)
		samples = append(samples, rawSample{c, ts, n})
	}
	n = 5e6
	for ts := stop.Add(50*time.Minute + 46*time.Second); !ts.After(end); ts = ts.Add(15 * time.Second) {
		n += 100 + float64(ts.Unix()%7)
		samples = append(samples, rawSample{c, ts, n})
	}
	f := counterFixture(t, samples, end.Add(time.Second))
	tr := f.set.Tiers()[len(f.set.Tiers())-1]
	if tr.Name() != "1h" {
		t.Fatalf("last tier %s, want 1h", tr.Name())
	}
	if err := tr.db.FlushHead(ctx); err != nil {
		t.Fatal(err)
	}
	if err := tr.db.Delete(ctx, stop.UnixMilli()-tr.res+1, stop.UnixMilli()-1, labels.MustNewMatcher(labels.MatchEqual, "__name__", "c_total")); err != nil {
		t.Fatal(err)
	}
	if err := tr.db.CleanTombstones(); err != nil {
		t.Fatal(err)
	}
	at := stop.Add(time.Hour)
	want := f.rangeQuery(t, f.raw, `increase(c_total[1h])`, at, at, time.Hour)
	got := f.rangeQuery(t, f.set.Queryable(5*60*1000), `increase(c_total{__tier__="1h"}[1h])`, at, at, time.Hour)
	if len(want) != 1 || len(got) != 1 || got[0].Floats[0].F < 100*want[0].Floats[0].F {
		t.Fatalf("without the stop's marks increase(c_total[1h]) through the 1h tier = %v, raw %v: the fixture does not have the tier as written before", got, want)
	}
	if err := tr.markLate(stop.UnixMilli() + tr.res); err != nil {
		t.Fatal(err)
	}
	for range 10 {
		cleared, err := f.set.reaggregate(ctx, tr)
		if err != nil {
			t.Fatal(err)
		}
		if cleared {
			break
		}
	}
	if from, _ := tr.lateMark(); from != math.MaxInt64 {
		t.Fatalf("tier %s still late from %s", tr.Name(), fmtMS(from))
	}
	f.compareNear(t, `increase(c_total%s[1h])`, `{__tier__="1h"}`, stop.Add(time.Hour), end, time.Hour, 0.02, 160)
	f.compareNear(t, `increase(c_total%s[2h])`, `{__tier__="1h"}`, stop.Add(time.Hour), end, time.Hour, 0.02, 160)
}

// TestCounterBeforeItStopsInAMinuteTierWindow: rate(x[1h]) at 1-minute
// steps (a 24h panel) reads the 1m tier without a __tier__ matcher, 60
// buckets a window. A counter with marks in the read (it stopped, started
// or resumed there) had edges only in the buckets within the range of a
// mark: every window ending in the hour before a 15 s counter stopped
// held edges in its later buckets and none in its first ones, the
// engine's average interval was about half a bucket, and it extrapolated
// the window's start by that, not by the whole first bucket: -1.0 % to
// -1.26 % (45 s of increase, 3 raw intervals), where the counter ran
// steadily through the window. Also where the stop is next to its
// bucket's end (held marks from the bucket before too), and through the
// 1m tier forced.
func TestCounterBeforeItStopsInAMinuteTierWindow(t *testing.T) {
	c := labels.FromStrings("__name__", "c_total", "job", "node")
	for _, stop := range []time.Duration{113 * time.Minute, 113*time.Minute + 30*time.Second, 119*time.Minute + 50*time.Second} {
		t.Run(fmt.Sprint(stop), func(t *testing.T) {
			var samples []rawSample
			n := 1e6
			for ts := t0.Add(5 * time.Second); !ts.After(t0.Add(stop)); ts = ts.Add(15 * time.Second) {
				n += 100 + float64(ts.Unix()%7)
				samples = append(samples, rawSample{c, ts, n})
			}
			f := counterFixture(t, samples, t0.Add(rawSpan+time.Second))
			// A read over the stop (its marks in it): within 0.1 %, or 1.5
			// raw intervals' increase in the windows holding the stop
			// (TestCounterStopsInAMinuteTierWindow).
			f.compareNear(t, `rate(c_total%s[1h])`, "", t0.Add(65*time.Minute), t0.Add(150*time.Minute), time.Minute, 0.001, 160.0/3600)
			f.compareNear(t, `rate(c_total%s[1h])`, `{__tier__="1m"}`, t0.Add(65*time.Minute), t0.Add(150*time.Minute), time.Minute, 0.001, 160.0/3600)
		})
	}
}
