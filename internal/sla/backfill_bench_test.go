package sla

import (
	"context"
	"fmt"
	"math"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"

	"github.com/gmc-dev/gmc/internal/query"
	gmcstorage "github.com/gmc-dev/gmc/internal/storage"
	"github.com/gmc-dev/gmc/internal/tier"
)

// BenchmarkBackfillStore is the cost of backfilling an SLA added over 30
// days of stored data (BackfillStore: its raw group's recordings at 1-minute
// steps, one block a day, and their tier aggregates; "both" adds its slow
// group's at 5-minute steps, read from the tiers): a service of two
// instances pushing its order counters by result (success, reject) every
// 10 seconds, 1.04 M raw samples. Each op backfills a fresh copy of the
// store (the recordings it writes would make the next op a no-op).
// cpu-ms/op is the process's CPU (user and system) in BackfillStore.
func BenchmarkBackfillStore(b *testing.B) {
	const days, step = 30, 10 * time.Second
	end := time.Date(2026, 11, 20, 14, 7, 31, 0, time.UTC)
	for _, groups := range []string{"raw", "both"} {
		b.Run(groups, func(b *testing.B) { benchmarkBackfillStore(b, groups == "both", days, step, end) })
	}
}

func benchmarkBackfillStore(b *testing.B, slow bool, days int, step time.Duration, end time.Time) {
	ctx := context.Background()
	var cpu time.Duration // the process's, in BackfillStore
	defer func() { b.ReportMetric(float64(cpu.Microseconds())/1000/float64(b.N), "cpu-ms/op") }()
	for b.Loop() {
		b.StopTimer()
		dir := b.TempDir()
		db, err := gmcstorage.Open(gmcstorage.Options{Dir: dir, Registerer: prometheus.NewRegistry(), Retention: 60 * 24 * time.Hour})
		if err != nil {
			b.Fatal(err)
		}
		raw := 0
		var refs [4]storage.SeriesRef
		var vals [4]float64
		app := db.AppenderV2(ctx)
		for ts := end.Add(-time.Duration(days) * 24 * time.Hour); !ts.After(end); ts = ts.Add(step) {
			load := 100 * (1 + 0.5*math.Sin(2*math.Pi*float64(ts.Hour())/24))
			for i := range refs {
				inst, result := fmt.Sprint("gw-", i/2), []string{"success", "reject"}[i%2]
				vals[i] += math.Round(load * []float64{0.999, 0.001}[i%2] * step.Seconds())
				if refs[i], err = app.Append(refs[i], labels.FromStrings("__name__", "gmc_orders_total", "service", "gw", "instance", inst, "result", result),
					0, ts.UnixMilli(), vals[i], nil, nil, storage.AOptions{}); err != nil {
					b.Fatal(err)
				}
				if raw++; raw%100_000 == 0 {
					if err := app.Commit(); err != nil {
						b.Fatal(err)
					}
					app = db.AppenderV2(ctx)
				}
			}
		}
		if err := app.Commit(); err != nil {
			b.Fatal(err)
		}
		if err := db.Compact(ctx); err != nil {
			b.Fatal(err)
		}
		cfg := tier.Config{}
		cfg.Normalise()
		set, err := tier.Open(tier.Options{Config: cfg, Dir: dir, Raw: db, Now: func() time.Time { return end }})
		if err != nil {
			b.Fatal(err)
		}
		q, err := query.New(query.Options{Queryable: db, Registerer: prometheus.NewRegistry()})
		if err != nil {
			b.Fatal(err)
		}
		s := SLA{Name: "orders", Service: "gw", Objective: 99.9, Indicator: Indicator{Ratio: &Ratio{}}}
		s.Normalise()
		if err := s.Validate(); err != nil {
			b.Fatal(err)
		}
		o := BackfillStoreOptions{SLAs: []SLA{s}, Engine: q.Engine(), Raw: db, Dir: dir, Tiers: set, Now: func() time.Time { return end }}
		if slow {
			// The slow group reads the tiers: caught up first, as the
			// server waits for them.
			for _, tr := range set.Tiers() {
				for range 100_000 {
					if moved, err := set.Step(ctx, tr); err != nil {
						b.Fatal(err)
					} else if !moved {
						break
					}
				}
			}
			o.Slow = set.Queryable(query.DefaultLookbackDelta.Milliseconds()).WithUnaligned(TierEdgeBuckets)
		}
		b.StartTimer()
		cpu0 := cpuTime()
		n, err := BackfillStore(ctx, o)
		cpu += cpuTime() - cpu0
		b.StopTimer()
		if err != nil {
			b.Fatal(err)
		}
		if n < days*24*60 { // a few records a minute
			b.Fatalf("%d recordings written over %d days", n, days)
		}
		b.ReportMetric(float64(raw), "raw_samples")
		b.ReportMetric(float64(n), "recordings")
		set.Close()
		db.Close()
		b.StartTimer()
	}
}

// cpuTime is the CPU time (user and system) the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
