package rules

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/prometheus/model/labels"
	promrules "github.com/prometheus/prometheus/rules"
	"github.com/prometheus/prometheus/storage"
)

// slowQueryable makes every Select take delay: under testing/synctest's fake
// clock, an evaluation that reads the TSDB then lasts delay.
type slowQueryable struct {
	storage.Queryable
	delay time.Duration
}

func (q slowQueryable) Querier(mint, maxt int64) (storage.Querier, error) {
	in, err := q.Queryable.Querier(mint, maxt)
	return slowQuerier{in, q.delay}, err
}

type slowQuerier struct {
	storage.Querier
	delay time.Duration
}

func (q slowQuerier) Select(ctx context.Context, sorted bool, h *storage.SelectHints, ms ...*labels.Matcher) storage.SeriesSet {
	time.Sleep(q.delay)
	return q.Querier.Select(ctx, sorted, h, ms...)
}

// pushEvals is the push-triggered evaluations of the group named name.
func pushEvals(m *Manager, file, name string) int {
	return int(testutil.ToFloat64(m.metrics.pushEvals.WithLabelValues(promrules.GroupKey(file, name))))
}

// runInBubble starts m.Run inside a synctest bubble and waits for the first,
// regular evaluations; the returned func stops it.
func runInBubble(t *testing.T, m *Manager) func() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	synctest.Wait()
	return func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}

// TestPushGapGrowsWithEvaluationTime: a group whose evaluation takes 100 ms
// (fake clock) under a stream of pushes every 10 ms for 5 s is re-evaluated
// at most once per 10 × 100 ms, bounded by MaxNotifyGap, and the gap shows
// in gmc_rules_push_gap_seconds. With the 50 ms MinNotifyGap alone it was
// evaluated back to back (~50 times); a cheap group keeps MinNotifyGap
// (TestNotifyMinGap).
func TestPushGapGrowsWithEvaluationTime(t *testing.T) {
	db := openTSDB(t, filepath.Join(t.TempDir(), "tsdb"))
	names := []string{"gmc_queue_depth"}
	for _, tc := range []struct {
		name     string
		maxGap   time.Duration
		wantGap  time.Duration
		min, max int
	}{
		// 10 × 100 ms = 1 s, within the default bound: one evaluation
		// per second of pushes, +1 for the first push.
		{"default bound", 0, time.Second, 5, 7},
		// Bounded to 300 ms: ~5 s / 300 ms.
		{"bound 300ms", 300 * time.Millisecond, 300 * time.Millisecond, 15, 19},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				m := newManager(t, db, Options{
					EvalInterval: time.Hour, MaxNotifyGap: tc.maxGap, Queryable: slowQueryable{db, 100 * time.Millisecond},
					Thresholds: []Threshold{{Name: "QueueDeep", Metric: "gmc_queue_depth", Op: ">", Value: 10}},
				})
				stop := runInBubble(t, m)
				defer stop()
				time.Sleep(time.Second)
				for range 500 {
					m.MetricsWritten(names)
					time.Sleep(10 * time.Millisecond)
				}
				time.Sleep(2 * time.Second)
				synctest.Wait()
				got := pushEvals(m, ThresholdsFile, "threshold:QueueDeep")
				if got < tc.min || got > tc.max {
					t.Errorf("500 pushes 10 ms apart to a group evaluating in 100 ms: %d push-triggered evaluations, want %d…%d", got, tc.min, tc.max)
				}
				gap := testutil.ToFloat64(m.metrics.pushGap.WithLabelValues(promrules.GroupKey(ThresholdsFile, "threshold:QueueDeep")))
				if gap != tc.wantGap.Seconds() {
					t.Errorf("gmc_rules_push_gap_seconds = %v, want %v", gap, tc.wantGap.Seconds())
				}
				spent := testutil.ToFloat64(m.metrics.pushSeconds.WithLabelValues(promrules.GroupKey(ThresholdsFile, "threshold:QueueDeep")))
				if want := float64(got) * 0.1; spent < want-1e-6 || spent > want+1e-6 {
					t.Errorf("gmc_rules_push_evaluation_seconds_total = %v, want %d × 0.1 s", spent, got)
				}
			})
		})
	}
}

// TestServiceSilentPushedOnlyWhileActive: a push can only resolve
// ServiceSilent (a new sample makes its service's newest sample newer), so
// pushes do not re-evaluate it while nothing is silent; once a service is
// silent, its next push resolves the alert at once, without waiting for the
// regular evaluation.
func TestServiceSilentPushedOnlyWhileActive(t *testing.T) {
	db := openTSDB(t, filepath.Join(t.TempDir(), "tsdb"))
	synctest.Test(t, func(t *testing.T) {
		var got sink
		m := newManager(t, db, Options{DefaultRules: true, EvalInterval: 10 * time.Second, Sink: got.send})
		ls := labels.FromStrings("__name__", "gmc_orders_total", "service", "gw")
		names := []string{"gmc_orders_total"}
		push := func() {
			appendFloat(t, db, ls, time.Now(), 1)
			m.MetricsWritten(names)
			synctest.Wait()
		}
		push()
		stop := runInBubble(t, m)
		defer stop()
		for range 5 {
			time.Sleep(time.Second)
			push()
		}
		if n := pushEvals(m, ServiceSilentFile, serviceSilentGroupName); n != 0 {
			t.Fatalf("5 pushes while no service is silent: %d push-triggered ServiceSilent evaluations, want 0", n)
		}
		ignored := testutil.ToFloat64(m.metrics.pushIgnored.WithLabelValues(promrules.GroupKey(ServiceSilentFile, serviceSilentGroupName)))
		if ignored != 6 { // the push before Run too
			t.Fatalf("gmc_rules_push_ignored_total = %v, want 6", ignored)
		}
		// Silent for 15 s: the regular evaluation at 10 s sees 9 s+ of silence.
		time.Sleep(15 * time.Second)
		synctest.Wait()
		if f := active(t, m, "ServiceSilent", "firing"); len(f) != 1 || f[0] != "gw" {
			t.Fatalf("after 15 s of silence ServiceSilent fires for %v, want [gw]", f)
		}
		got.take()
		time.Sleep(time.Second) // not at a regular evaluation
		push()
		if n := pushEvals(m, ServiceSilentFile, serviceSilentGroupName); n != 1 {
			t.Fatalf("a push while ServiceSilent fires: %d push-triggered evaluations, want 1", n)
		}
		if f := active(t, m, "ServiceSilent", "firing"); len(f) != 0 {
			t.Fatalf("right after gw's push ServiceSilent still fires for %v", f)
		}
		resolved := false
		for _, b := range got.take() {
			for _, a := range b {
				resolved = resolved || (a.Labels["alertname"] == "ServiceSilent" && !a.EndsAt.After(time.Now()))
			}
		}
		if !resolved {
			t.Fatal("the push did not send ServiceSilent's resolution")
		}
		// Resolved: pushes are ignored again.
		push()
		if n := pushEvals(m, ServiceSilentFile, serviceSilentGroupName); n != 1 {
			t.Fatalf("a push after the resolution: %d push-triggered evaluations, want still 1", n)
		}
	})
}

// TestRecordingOnlyGroupNotPushed: a push changes no alert of a group of
// recording rules only, so it is left to its interval; a group with an
// alert reading the same metric is triggered.
func TestRecordingOnlyGroupNotPushed(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "rules.yml")
	if err := os.WriteFile(file, []byte(`groups:
- name: rec
  rules:
  - record: job:gmc_queue_depth:max
    expr: max(gmc_queue_depth)
- name: mixed
  rules:
  - record: job:gmc_queue_depth:sum
    expr: sum(gmc_queue_depth)
  - alert: Deep
    expr: job:gmc_queue_depth:sum > 10 or gmc_queue_depth > 5
`), 0o644); err != nil {
		t.Fatal(err)
	}
	db := openTSDB(t, filepath.Join(dir, "tsdb"))
	m := newManager(t, db, Options{Files: []string{file}})
	m.MetricsWritten([]string{"gmc_queue_depth"})
	for _, gr := range m.list() {
		want := map[string]int{"rec": 0, "mixed": 1}[gr.g.Name()]
		if got := len(gr.trigger); got != want {
			t.Errorf("group %s: %d pending triggers after a push of a metric it reads, want %d", gr.g.Name(), got, want)
		}
	}
	if got := m.readers([]string{"gmc_queue_depth"}); len(got) != 2 {
		t.Errorf("readers = %v, want both groups (rec reads it, and is left to its interval)", got)
	}
}
