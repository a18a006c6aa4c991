package tier

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	promstorage "github.com/prometheus/prometheus/storage"

	"github.com/gmc-dev/gmc/internal/storage"
)

// sparseSet is a raw store of n counters over span, a sample every every
// (staggered over every), and a Set whose 1m tier has caught up to 5
// minutes before the raw data's end (Settle 5m, its clock at the end): a
// query round aggregates the 5 minutes past the watermark, where each
// series has a sample. A series with a bucket at the watermark (dense ones)
// takes its counter offset from it (one read for all); one without (4 in 5
// of the sparse ones) looks up the tier's last bucket, one Select each.
func sparseSet(b *testing.B, n int, every, span time.Duration) (*Set, *Tier, []*labels.Matcher) {
	b.Helper()
	raw, dir := openRaw(b, storage.Options{})
	app := raw.AppenderV2(context.Background())
	end := t0.Add(span)
	for i := range n {
		l := labels.FromStrings("__name__", "sparse_total", "i", fmt.Sprint(i))
		v := 0.0
		// Staggered, so the series' last samples fall in different buckets.
		for ts := t0.Add(time.Duration(i) * every / time.Duration(n)); !ts.After(end); ts = ts.Add(every) {
			v += 10
			if _, err := app.Append(0, l, 0, ts.UnixMilli(), v, nil, nil, promstorage.AOptions{}); err != nil {
				b.Fatal(err)
			}
		}
	}
	if err := app.Commit(); err != nil {
		b.Fatal(err)
	}
	now := end
	cfg := Config{}
	cfg.Normalise()
	set, err := Open(Options{Dir: dir, Raw: raw, RawRetention: 15 * 24 * time.Hour, Now: func() time.Time { return now }, Settle: 5 * time.Minute, Config: cfg})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { set.Close() })
	tr := set.Tiers()[0]
	for range 100000 {
		moved, err := set.Step(context.Background(), tr)
		if err != nil {
			b.Fatal(err)
		}
		if !moved {
			break
		}
	}
	return set, tr, []*labels.Matcher{labels.MustNewMatcher(labels.MatchEqual, "__name__", "sparse_total")}
}

// BenchmarkLastBucketLookup: one query round's counter aggregation past the
// 1m tier's watermark (querier.onTheFly, as a rate over a range ending now
// reads it) over 200 series: dense ones (a sample every 15 s) take their
// counter offset from the tier's bucket at the watermark, sparse ones (every
// 5 min) mostly look up the tier's last bucket (160 of 200 Selects). The
// difference is the look-ups' cost per round; /lookup is one
// lastBuckets.read.
func BenchmarkLastBucketLookup(b *testing.B) {
	const n = 200
	for _, c := range []struct {
		name  string
		every time.Duration
	}{{"dense-15s", 15 * time.Second}, {"sparse-5m", 5 * time.Minute}} {
		b.Run("round/"+c.name, func(b *testing.B) {
			set, tr, ms := sparseSet(b, n, c.every, 4*time.Hour)
			q := &querier{q: set.Queryable(5 * time.Minute.Milliseconds())}
			wm := tr.Watermark()
			to := set.opts.Now().UnixMilli()
			b.ResetTimer()
			for range b.N {
				ss, err := q.onTheFly(context.Background(), tr, AggCounter, wm, wm, to, true, ms)
				if err != nil {
					b.Fatal(err)
				}
				for ss.Next() {
				}
				for _, o := range q.others {
					o.Close()
				}
				q.others = q.others[:0]
			}
		})
	}
	// One look-up reads the series' counter and last aggregates over the
	// tier's whole retention for the last one: its cost grows with the
	// buckets the series has (a series every minute for span).
	for _, span := range []time.Duration{4 * time.Hour, 3 * 24 * time.Hour} {
		b.Run(fmt.Sprintf("lookup/buckets-%d", int(span/time.Minute)), func(b *testing.B) {
			_, tr, _ := sparseSet(b, n, time.Minute, span)
			lb := &lastBuckets{t: tr, at: tr.Watermark()}
			defer lb.close()
			lsets := make([]labels.Labels, n)
			for i := range lsets {
				lsets[i] = labels.FromStrings("__name__", "sparse_total", "i", fmt.Sprint(i))
			}
			b.ResetTimer()
			for i := range b.N {
				if _, _, _, _, ok := lb.read(context.Background(), lsets[i%n]); !ok {
					b.Fatal("no last bucket")
				}
			}
		})
	}
}
