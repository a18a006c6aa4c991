package rules

import (
	"context"
	"path/filepath"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestNotifyMinGap counts the evaluations a burst of Notify calls causes,
// under testing/synctest's fake clock (no timing is asserted: the bubble's
// clock only moves when the test sleeps). The TSDB lives outside the bubble;
// the manager and its goroutines inside.
func TestNotifyMinGap(t *testing.T) {
	db := openTSDB(t, filepath.Join(t.TempDir(), "tsdb"))
	names := []string{"gmc_queue_depth"}
	start := func(t *testing.T, gap time.Duration) (*Manager, func()) {
		m := newManager(t, db, Options{
			EvalInterval: time.Hour, MinNotifyGap: gap,
			Thresholds: []Threshold{{Name: "QueueDeep", Metric: "gmc_queue_depth", Op: ">", Value: 10}},
		})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- m.Run(ctx) }()
		synctest.Wait() // the first, regular evaluation is done
		return m, func() {
			cancel()
			if err := <-done; err != nil {
				t.Error(err)
			}
		}
	}
	triggered := func(m *Manager) int { return int(testutil.ToFloat64(m.metrics.triggered)) }

	t.Run("burst", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			m, stop := start(t, 50*time.Millisecond)
			defer stop()
			time.Sleep(time.Second)
			// 100 pushes at one instant: the first, a second after the
			// last evaluation, is evaluated at once (no added latency);
			// the rest coalesce into one evaluation held back by the gap
			// (one, not two: a trigger left during the gap is spent by
			// the evaluation that follows it).
			for range 100 {
				m.MetricsWritten(names)
				synctest.Wait()
			}
			if got := triggered(m); got != 1 {
				t.Fatalf("after a burst of 100 Notify calls at one instant: %d triggered evaluations, want 1", got)
			}
			time.Sleep(50 * time.Millisecond)
			synctest.Wait()
			if got := triggered(m); got != 2 {
				t.Fatalf("one gap after the burst: %d triggered evaluations, want 2", got)
			}
			time.Sleep(time.Second)
			synctest.Wait()
			if got := triggered(m); got != 2 {
				t.Fatalf("a quiet second later: %d triggered evaluations, want still 2", got)
			}
		})
	})

	// 500 pushes 1 ms apart: with a 50 ms gap the group is evaluated about
	// once per gap (500 ms / 50 ms = 10, +1 for the one after the last
	// push); without a gap, once per push.
	for _, tc := range []struct {
		name     string
		gap      time.Duration
		min, max int
	}{
		{"gap 50ms", 50 * time.Millisecond, 10, 11},
		{"no gap", -1, 500, 500},
	} {
		t.Run("stream/"+tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				m, stop := start(t, tc.gap)
				defer stop()
				time.Sleep(time.Second)
				for range 500 {
					m.MetricsWritten(names)
					time.Sleep(time.Millisecond)
				}
				time.Sleep(time.Second)
				synctest.Wait()
				if got := triggered(m); got < tc.min || got > tc.max {
					t.Fatalf("500 Notify calls 1 ms apart: %d triggered evaluations, want %d…%d", got, tc.min, tc.max)
				}
			})
		})
	}
}
