package tier

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/labels"
	promstorage "github.com/prometheus/prometheus/storage"

	"github.com/gmc-dev/gmc/internal/query"
	"github.com/gmc-dev/gmc/internal/storage"
)

// TestEndsDrawnAfterAnOlderGmc: a 1m tier written up to 2:00 by a gmc
// whose buckets held the counter at their last raw sample (before c69f35d:
// its state file has no ends_drawn_after_ms) is taken over by this one,
// which draws each bucket's end to the next raw sample (aggregator.toEnd).
// Its first batch goes on from the older bucket at 2:00 as it is, the
// counter at its last raw sample (ends_drawn_after_ms, read as that
// watermark: aggregator.drawn), not as a drawn end less its line: windows
// starting in the older buckets and ending in the new read the increase
// from the last raw sample at or before their start to their end (the
// older buckets' lag), those after 2:00 the exact increase. Taken for
// drawn, the counter after 2:00 went on 2 s of its count lower (the 7 s
// series' lag at 2:00), and windows across it read that less. The state
// kept says so across a restart after the first batches: saved without
// it, the next start took its watermark for it and the counter went on
// from a drawn end as if not drawn, higher by its line.
func TestEndsDrawnAfterAnOlderGmc(t *testing.T) {
	e := labels.FromStrings("__name__", "e_total", "i", "7s")
	wm, end := t0.Add(2*time.Hour), t0.Add(4*time.Hour)
	raws := map[int64]float64{} // a 1,000/s counter every 7 s, 2 s past the hour
	var times []int64
	dir := t.TempDir()
	raw, err := storage.Open(storage.Options{Dir: dir, Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	app := raw.AppenderV2(context.Background())
	for ts := t0.Add(2 * time.Second); !ts.After(end); ts = ts.Add(7 * time.Second) {
		ms, v := ts.UnixMilli(), float64(ts.Sub(t0).Milliseconds())
		raws[ms] = v
		times = append(times, ms)
		if _, err := app.Append(0, e, 0, ms, v, nil, nil, promstorage.AOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	// lastAt is the counter at the last raw sample at or before ms.
	lastAt := func(ms int64) float64 {
		v := math.NaN()
		for _, ts := range times {
			if ts > ms {
				break
			}
			v = raws[ts]
		}
		return v
	}
	// The older gmc's 1m tier: every aggregate of each bucket up to wm,
	// the counter at its last raw sample and a start mark, and its state.
	cfg := Config{}
	cfg.Normalise()
	tiersDir := filepath.Join(dir, "tiers")
	older, err := openTier(filepath.Join(tiersDir, "tiers", cfg.Tiers[0].Name()), cfg.Tiers[0], 0, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if older.res != time.Minute.Milliseconds() {
		t.Fatalf("first tier %s, want the 1m tier", cfg.Tiers[0].Name())
	}
	tapp := older.db.AppenderV2(context.Background())
	put := func(agg string, ms int64, v float64) {
		if _, err := tapp.Append(0, withAgg(e, agg), 0, ms, v, nil, nil, promstorage.AOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	put(AggCounter, times[0], raws[times[0]]) // the counter's start
	for be := t0.Add(time.Minute).UnixMilli(); be <= wm.UnixMilli(); be += older.res {
		var b bucket
		for _, ts := range times {
			if ts > be-older.res && ts <= be {
				v := raws[ts]
				if b.Count == 0 {
					b.Min, b.Max = v, v
				}
				b.Min, b.Max, b.Sum, b.Count, b.Last, b.Counter = min(b.Min, v), max(b.Max, v), b.Sum+v, b.Count+1, v, v
			}
		}
		for _, agg := range aggs {
			put(agg, be, b.value(agg))
		}
	}
	if err := tapp.Commit(); err != nil {
		t.Fatal(err)
	}
	file := fmt.Sprintf(`{"watermark_ms":%d,"watermark":%q,"late_audited_samples":0,"late_samples_missed":0,"aggregation":1}`,
		wm.UnixMilli(), wm.Format(time.RFC3339))
	if err := os.WriteFile(filepath.Join(older.dir, watermarkFile), []byte(file), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := older.db.Close(); err != nil {
		t.Fatal(err)
	}

	q, err := query.New(query.Options{Queryable: raw, Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{raw: raw, now: wm.Add(30 * time.Minute), dir: dir, eng: q.Engine()}
	f.opts = Options{Dir: tiersDir, Raw: raw, RawRetention: 15 * 24 * time.Hour, Now: func() time.Time { return f.now }, Settle: time.Nanosecond}
	f.open(t)
	if tr := f.set.Tiers()[0]; tr.Name() != "1m" || tr.Watermark() != wm.UnixMilli() {
		t.Fatalf("tier %s at %d, want the older 1m tier at %d", tr.Name(), tr.Watermark(), wm.UnixMilli())
	}
	for _, tr := range f.set.Tiers() {
		f.catchUp(t, tr)
	}
	// The state says where drawn ends begin, across a restart.
	b, err := os.ReadFile(filepath.Join(f.set.Tiers()[0].dir, watermarkFile))
	if err != nil {
		t.Fatal(err)
	}
	var st state
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	if st.Watermark <= wm.UnixMilli() || st.DrawnAfter == nil || *st.DrawnAfter != wm.UnixMilli() {
		t.Fatalf("state %s, want the watermark past %d and ends drawn after it", b, wm.UnixMilli())
	}
	if err := f.set.Close(); err != nil {
		t.Fatal(err)
	}
	f.now = end
	f.open(t)
	for _, tr := range f.set.Tiers() {
		f.catchUp(t, tr)
	}

	// rate(e_total[20m]) at every minute read through the 1m tier.
	got := f.rangeQuery(t, f.set.Queryable(5*60*1000), `rate(e_total{__tier__="1m"}[20m])`, wm.Add(-10*time.Minute), end.Add(-10*time.Minute), time.Minute)
	if len(got) != 1 || len(got[0].Floats) != 121 {
		t.Fatalf("rate through the 1m tier: %d series, %d points, want 121", len(got), len(got[0].Floats))
	}
	for _, p := range got[0].Floats {
		start := p.T - 20*time.Minute.Milliseconds()
		// From the older buckets, the counter at the last raw sample at
		// or before the window's start; from the new, at its end.
		want := (float64(p.T-t0.UnixMilli()) - lastAt(start)) / 1200
		if start > wm.UnixMilli() {
			want = 1000
		}
		if p.T <= wm.UnixMilli() {
			want = (lastAt(p.T) - lastAt(start)) / 1200
		}
		if math.Abs(p.F-want) > 1e-9*want {
			t.Errorf("rate at %s: %v, want %v (%+.3g)", time.UnixMilli(p.T).UTC().Format(time.TimeOnly), p.F, want, p.F/want-1)
		}
	}
}
