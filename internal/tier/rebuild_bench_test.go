package tier

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/labels"
	promstorage "github.com/prometheus/prometheus/storage"

	"github.com/gmc-dev/gmc/internal/duration"
	"github.com/gmc-dev/gmc/internal/storage"
)

// BenchmarkRebuildStuckTier: opening a stuck 1h tier of 30 days of 300
// series (every aggregate of every hour: 1.51 M samples, 25 days of them up
// to the watermark, 5 past it as the old job's batches left them) and
// rebuilding it: the copy of the 25 days kept. The job's catch-up from the
// raw data after it is the job's usual cost, not counted.
func BenchmarkRebuildStuckTier(b *testing.B) {
	const series, days, kept = 300, 30, 25
	cfg := Config{Tiers: []Level{{Resolution: duration.Duration(time.Hour), Retention: duration.Duration(2 * 365 * 24 * time.Hour)}}}
	start := t0.Add(-days * 24 * time.Hour)
	ctx := context.Background()
	for range b.N {
		b.StopTimer()
		dir := b.TempDir()
		raw, err := storage.Open(storage.Options{Dir: dir, Registerer: prometheus.NewRegistry(), Retention: 30 * 24 * time.Hour, OutOfOrderWindow: 30 * 24 * time.Hour})
		if err != nil {
			b.Fatal(err)
		}
		// One raw sample inside the stuck span: the job has to write there.
		app := raw.AppenderV2(ctx)
		if _, err := app.Append(0, labels.FromStrings("__name__", "many_total", "i", "0"), 0, start.Add((kept+1)*24*time.Hour).UnixMilli(), 1, nil, nil, promstorage.AOptions{}); err != nil {
			b.Fatal(err)
		}
		if err := app.Commit(); err != nil {
			b.Fatal(err)
		}
		set, err := Open(Options{Config: cfg, Dir: dir, Raw: raw, Now: func() time.Time { return t0 }})
		if err != nil {
			b.Fatal(err)
		}
		tr := set.Tiers()[0]
		n := 0
		lsets := make([]labels.Labels, 0, series*len(aggs))
		for i := range series {
			for _, a := range aggs {
				lsets = append(lsets, withAgg(labels.FromStrings("__name__", "many_total", "i", fmt.Sprint(i)), a))
			}
		}
		refs := make([]promstorage.SeriesRef, len(lsets))
		// In time order (the TSDB takes samples within 24h of its newest).
		for h := range days * 24 {
			app := tr.db.AppenderV2(ctx)
			for j, ls := range lsets {
				if refs[j], err = app.Append(refs[j], ls, 0, start.Add(time.Duration(h+1)*time.Hour).UnixMilli(), float64(h), nil, nil, promstorage.AOptions{}); err != nil {
					b.Fatal(err)
				}
				n++
			}
			if err := app.Commit(); err != nil {
				b.Fatal(err)
			}
		}
		if err := tr.setWatermark(start.Add(kept * 24 * time.Hour).UnixMilli()); err != nil {
			b.Fatal(err)
		}
		if err := set.Close(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		set, err = Open(Options{Config: cfg, Dir: dir, Raw: raw, Now: func() time.Time { return t0 }})
		b.StopTimer()
		if err != nil {
			b.Fatal(err)
		}
		if got := set.Tiers()[0].db.Stats().Blocks; got == 0 {
			b.Fatalf("%d samples written, not rebuilt: %d blocks", n, got)
		}
		set.Close()
		raw.Close()
	}
}
