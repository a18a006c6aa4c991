package tier

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/labels"
	promstorage "github.com/prometheus/prometheus/storage"

	"github.com/gmc-dev/gmc/internal/storage"
)

// BenchmarkJobMinute is the tier job's work in one minute once caught up:
// 2,000 counters sampled every 15 s (staggered over the interval, so every
// bucket's end lies between two raw samples), the raw samples of the
// minute appended, then every tier stepped until its watermark stops (the
// 1m tier's one batch each minute, the 10m tier's every ten, the 1h tier's
// every hour), the default Settle (2 minutes) behind the clock. cpu-ms/op
// is the process's CPU time (user and system) in those steps: a batch
// reads its series' raw samples past its end for each one's next sample
// (aggregator.peek), up to a minute for the 1m tier and 5 for the others.
func BenchmarkJobMinute(b *testing.B) {
	const n, every = 2000, 15 * time.Second
	dir := b.TempDir()
	raw, err := storage.Open(storage.Options{Dir: dir, Registerer: prometheus.NewRegistry()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { raw.Close() })
	lsets := make([]labels.Labels, n)
	refs := make([]promstorage.SeriesRef, n)
	for i := range lsets {
		lsets[i] = labels.FromStrings("__name__", "job_total", "i", fmt.Sprint(i))
	}
	next := t0 // samples up to next are in
	appendTo := func(to time.Time) {
		app := raw.AppenderV2(context.Background())
		for ; !next.After(to); next = next.Add(time.Second) {
			for i := range n {
				if off := time.Duration(i) * every / n; next.Sub(t0)%every != off.Truncate(time.Second) {
					continue
				}
				if refs[i], err = app.Append(refs[i], lsets[i], 0, next.UnixMilli(), float64(next.Sub(t0)/time.Second)*10, nil, nil, promstorage.AOptions{}); err != nil {
					b.Fatal(err)
				}
			}
		}
		if err := app.Commit(); err != nil {
			b.Fatal(err)
		}
	}
	now := t0.Add(3 * time.Hour)
	appendTo(now)
	cfg := Config{}
	cfg.Normalise()
	set, err := Open(Options{Dir: dir, Raw: raw, RawRetention: 15 * 24 * time.Hour, Now: func() time.Time { return now }, Config: cfg})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { set.Close() })
	step := func() {
		for _, tr := range set.Tiers() {
			for range 100000 {
				moved, err := set.Step(context.Background(), tr)
				if err != nil {
					b.Fatal(err)
				}
				if !moved {
					break
				}
			}
		}
	}
	step()
	var cpu time.Duration
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		now = now.Add(time.Minute)
		appendTo(now)
		before := cpuTime()
		b.StartTimer()
		step()
		b.StopTimer()
		cpu += cpuTime() - before
	}
	b.ReportMetric(float64(cpu.Microseconds())/1000/float64(b.N), "cpu-ms/op")
}
