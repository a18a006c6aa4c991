package rules

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"

	"github.com/gmc-dev/gmc/internal/sla"
)

// BenchmarkPushToNotification measures the sub-second path: a sample is
// committed to a real TSDB, Notify is called with its metric name (as
// ingest's commit hook does), and the clock stops when the sink receives the
// alert's new state. Values alternate above and below the threshold, so
// every iteration is a firing or a resolved notification. The default rules
// and an SLA are loaded too, so the evaluation includes the groups a real
// server has (ServiceSilent reads every gmc_* push). The regular interval is
// 1h so that only Notify drives evaluations, and MinNotifyGap is off: pushes
// follow each other back to back here, and the benchmark measures the
// evaluation path, not the gap (which adds at most MinNotifyGap to a push
// arriving that soon after the previous evaluation). Reports p50/p99 in ms.
func BenchmarkPushToNotification(b *testing.B) {
	db := openTSDB(b, filepath.Join(b.TempDir(), "tsdb"))
	got := make(chan []*model.Alert, 1024)
	m := newManager(b, db, Options{
		History: openHistory(b, b.TempDir()), DefaultRules: true, EvalInterval: time.Hour, MinNotifyGap: -1,
		Thresholds: []Threshold{{Name: "QueueDeep", Metric: "gmc_queue_depth", Op: ">", Value: 10, Service: "gateway"}},
		SLAs:       []sla.SLA{{Name: "orders", Service: "gateway", Objective: 99.9, Indicator: sla.Indicator{Ratio: &sla.Ratio{}}}},
		Sink:       func(as []*model.Alert) { got <- as },
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	defer func() { cancel(); <-done }()
	ls := labels.FromStrings("__name__", "gmc_queue_depth", "service", "gateway")
	names := []string{"gmc_queue_depth"}
	var ref storage.SeriesRef
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		firing := i%2 == 0
		v := 0.0
		if firing {
			v = 20
		}
		start := time.Now()
		app := db.AppenderV2(ctx)
		r, err := app.Append(ref, ls, 0, start.UnixMilli(), v, nil, nil, storage.AOptions{})
		if err != nil {
			b.Fatal(err)
		}
		ref = r
		if err := app.Commit(); err != nil {
			b.Fatal(err)
		}
		m.MetricsWritten(names)
		timeout := time.After(10 * time.Second)
	wait:
		for {
			select {
			case as := <-got:
				for _, a := range as {
					if a.Labels["alertname"] != "QueueDeep" {
						continue
					}
					// Firing: EndsAt in the future; resolved: EndsAt is the
					// resolve time, after this push.
					if firing == a.EndsAt.After(time.Now()) && !a.EndsAt.Before(start.Truncate(time.Millisecond)) {
						break wait
					}
				}
			case <-timeout:
				b.Fatalf("iteration %d: no notification within 10s", i)
			}
		}
		lat = append(lat, time.Since(start))
		// Keep samples 1ms apart so each push is a new sample.
		for time.Now().UnixMilli() == start.UnixMilli() {
			time.Sleep(100 * time.Microsecond)
		}
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}
