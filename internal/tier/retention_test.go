package tier

import (
	"context"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/storage"

	"github.com/gmc-dev/gmc/internal/duration"
)

func TestRetentionRules(t *testing.T) {
	f := newFixture(t)
	f.set.Close()
	// Keep g's raw samples 2h and c_total's 1m aggregates 1h; everything
	// else keeps the defaults (far longer than the fixture's 4h).
	f.opts.Config.Retention = []RetentionRule{
		{Match: `{__name__="g"}`, Keep: map[string]duration.Duration{RawTier: duration.Duration(2 * time.Hour)}},
		{Match: `{__name__="c_total"}`, Keep: map[string]duration.Duration{"1m": duration.Duration(time.Hour)}},
	}
	f.open(t)
	for _, tr := range f.set.Tiers() {
		f.catchUp(t, tr)
	}
	if err := f.set.Sweep(context.Background()); err != nil {
		t.Fatal(err)
	}
	oldest := func(t *testing.T, tr *Tier, ms ...*labels.Matcher) int64 {
		t.Helper()
		var from storage.Queryable = f.raw
		if tr != nil {
			from = tr.db
		}
		q, err := from.Querier(math.MinInt64, math.MaxInt64)
		if err != nil {
			t.Fatal(err)
		}
		defer q.Close()
		first := int64(math.MaxInt64)
		ss := q.Select(context.Background(), false, nil, ms...)
		for ss.Next() {
			it := ss.At().Iterator(nil)
			if it.Next() != 0 {
				first = min(first, it.AtT())
			}
		}
		return first
	}
	name := func(n string) *labels.Matcher { return labels.MustNewMatcher(labels.MatchEqual, "__name__", n) }
	now := f.now
	m1 := f.set.Tiers()[0]
	for _, c := range []struct {
		what   string
		tier   *Tier
		metric string
		keep   time.Duration // 0: nothing deleted
	}{
		{"raw g (rule: 2h)", nil, "g", 2 * time.Hour},
		{"raw c_total (default 15d)", nil, "c_total", 0},
		{"1m c_total (rule: 1h)", m1, "c_total", time.Hour},
		{"1m g (default 90d)", m1, "g", 0},
	} {
		got := time.UnixMilli(oldest(t, c.tier, name(c.metric))).UTC()
		if c.keep == 0 {
			if got.After(t0.Add(time.Minute)) {
				t.Errorf("%s: oldest sample %s, want the data's start %s kept", c.what, got, t0)
			}
			continue
		}
		limit := now.Add(-c.keep)
		if got.Before(limit) || got.After(limit.Add(time.Minute)) {
			t.Errorf("%s: oldest sample %s, want just after %s", c.what, got, limit)
		}
	}
}

func TestStaleMarkerEndsTheSeriesInTheTier(t *testing.T) {
	var got []bucket
	a := &aggregator{res: 60_000, from: 0, emit: func(b bucket) { got = append(got, b) }}
	a.add(10_000, 5, nil)
	a.add(20_000, 7, nil)
	a.add(30_000, math.Float64frombits(value.StaleNaN), nil)
	a.add(70_000, math.Float64frombits(value.StaleNaN), nil)
	a.flush()
	// First the counter's start: the series' first sample.
	if len(got) == 0 || !got[0].Start || got[0].End != 10_000 || got[0].Counter != 5 {
		t.Fatalf("emitted %+v, want the counter's start (10000, 5) first", got)
	}
	got = got[1:]
	// Then the marks of a counter the marker stopped 40 s before the
	// bucket's end (see aggregator.flush): its second raw sample (the
	// first is the start, not marked twice), its value held every 10 s
	// (its interval), and 1 ms before the bucket's end, that last mark
	// its last value too. The held counter went on by half the last
	// interval's increase (aggregator.pastStop): 8.
	var marks []int64
	for len(got) > 0 && got[0].Start {
		counter := 8.0
		if got[0].End == 20_000 {
			counter = 7 // the raw sample's own
		}
		if got[0].Counter != counter || got[0].Last != 7 || got[0].WithLast != (len(got) > 1 && !got[1].Start) {
			t.Errorf("mark %+v", got[0])
		}
		marks, got = append(marks, got[0].End), got[1:]
	}
	if !slices.Equal(marks, []int64{20_000, 30_000, 40_000, 50_000, 59_999}) {
		t.Errorf("marks at %v, want 20000, 30000, 40000, 50000, 59999", marks)
	}
	if len(got) != 2 {
		t.Fatalf("%d buckets, want 2", len(got))
	}
	b := got[0]
	if b.End != 60_000 || b.value(AggMax) != 7 || b.value(AggMin) != 5 || b.value(AggAvg) != 6 || !value.IsStaleNaN(b.value(AggLast)) {
		t.Errorf("first bucket %+v: max %v min %v avg %v last %v; want 7, 5, 6 and a staleness marker",
			b, b.value(AggMax), b.value(AggMin), b.value(AggAvg), b.value(AggLast))
	}
	for _, agg := range aggs {
		if v := got[1].value(agg); !value.IsStaleNaN(v) {
			t.Errorf("marker-only bucket: %s = %v, want a staleness marker", agg, v)
		}
	}
}

// TestStaleMarkerAfterAResumption: a counter that resumes after a hole
// and is stopped by a staleness marker in the bucket it resumed in gets
// each mark once (its resumed samples were marked as they came, and its
// last raw sample was marked again before the bucket), its value held to
// 1 ms before the bucket's end, that last mark its last value too.
func TestStaleMarkerAfterAResumption(t *testing.T) {
	var marks []bucket
	a := &aggregator{res: 60_000, emit: func(b bucket) {
		if b.Start {
			marks = append(marks, b)
		}
	}}
	a.add(10_000, 5, nil)
	a.add(50_000, 6, nil)
	// Two buckets without a sample, then back at 190 s, gone at 210 s.
	a.add(190_000, 7, nil)
	a.add(200_000, 8, nil)
	a.add(210_000, math.Float64frombits(value.StaleNaN), nil)
	a.flush()
	var at []int64
	for i, m := range marks {
		at = append(at, m.End)
		if i > 0 && m.End <= marks[i-1].End {
			t.Errorf("mark at %d after one at %d", m.End, marks[i-1].End)
		}
		// The counter went on by half its last interval's increase past
		// its last stop (aggregator.pastStop); the raw sample after the
		// first stop (7) is above what it went on to there (6.5).
		if last := i == len(marks)-1; m.WithLast != last || last && (m.Last != 8 || m.Counter != 8.5) {
			t.Errorf("mark %+v", m)
		}
	}
	// The start and the raw samples of its bucket, 1 ms before that
	// bucket's end (the counter stopped in it: no sample in the bucket
	// after), the resumed samples, the last value held every 10 s (the
	// series' interval) from 210 s, and 1 ms before the end.
	if want := []int64{10_000, 50_000, 59_999, 190_000, 200_000, 210_000, 220_000, 230_000, 239_999}; !slices.Equal(at, want) {
		t.Errorf("marks at %v, want %v", at, want)
	}
}
