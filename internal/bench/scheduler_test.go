package bench

import (
	"context"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// The scheduler runs an hourly benchmark on the hour and regenerates the
// week's report after each run; a daily one waits for its time of day.
func TestSchedulerRunsOnSchedule(t *testing.T) {
	dir := t.TempDir()
	synctest.Test(t, func(t *testing.T) {
		a, err := OpenArchive(dir)
		if err != nil {
			t.Fatal(err)
		}
		reg := NewRegistry()
		var mu sync.Mutex
		calls := map[string]int{}
		for _, name := range []string{"hourly", "daily"} {
			if err := reg.Register(name, func(b *B) {
				mu.Lock()
				calls[name]++
				mu.Unlock()
				time.Sleep(time.Duration(b.N) * time.Millisecond)
			}); err != nil {
				t.Fatal(err)
			}
		}
		hourly := funcBench("hourly", "hourly")
		hourly.Schedule = Schedule{Every: Duration(time.Hour)}
		daily := funcBench("daily", "daily")
		daily.Schedule = Schedule{Daily: "23:59"}
		unscheduled := funcBench("manual", "hourly")
		r, err := NewRunner(Options{Config: normalised(Config{Suite: []Benchmark{hourly, daily, unscheduled}}), Archive: a, Registry: reg, HostLoad: idleHost})
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { done <- NewScheduler(r, nil).Run(ctx) }()
		time.Sleep(3*time.Hour + 30*time.Minute)
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		runs, err := a.Runs(start, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		var hourlyRuns int
		for _, run := range runs {
			if run.Benchmark != "hourly" {
				t.Errorf("unexpected run of %s at %v", run.Benchmark, run.Start)
			}
			hourlyRuns++
		}
		if hourlyRuns != 3 {
			t.Errorf("hourly ran %d times in 3.5h, want 3", hourlyRuns)
		}
		if ids, _ := a.ReportIDs(); len(ids) != 1 || ids[0] != WeekID(runs[len(runs)-1].Start) {
			t.Errorf("reports %v, want the current week's", ids)
		}
		if files, _ := filepath.Glob(filepath.Join(dir, "bench", "reports", "*")); len(files) != 3 {
			t.Errorf("report files %v, want json, md, html", files)
		}
	})
}

// A run due while the host is saturated is postponed; if the load falls
// within the bounded wait it runs then (and is compared as usual); if it
// stays saturated the run is skipped, not measured: the benchmark function
// is never called, and the archive and the week's report say skipped and why.
func TestSchedulerPostponesOrSkipsOnSaturatedHost(t *testing.T) {
	dir := t.TempDir()
	synctest.Test(t, func(t *testing.T) {
		a, err := OpenArchive(dir)
		if err != nil {
			t.Fatal(err)
		}
		reg := NewRegistry()
		var calls atomic.Int64
		if err := reg.Register("fn", func(b *B) {
			calls.Add(1)
			time.Sleep(time.Duration(b.N) * time.Millisecond)
		}); err != nil {
			t.Fatal(err)
		}
		b := funcBench("orders", "fn")
		b.Schedule = Schedule{Every: Duration(time.Hour)}
		// Saturated (load 23 on 2 CPUs) during the first run's whole wait;
		// before the second it falls back after 2 minutes.
		var busyUntil atomic.Int64
		host := func() (HostLoad, error) {
			if time.Now().UnixNano() < busyUntil.Load() {
				return HostLoad{Load1: 23, CPUs: 2}, nil
			}
			return HostLoad{Load1: 0.4, CPUs: 2}, nil
		}
		start := time.Now()
		busyUntil.Store(start.Add(90 * time.Minute).UnixNano())
		r, err := NewRunner(Options{Config: normalised(Config{Suite: []Benchmark{b}}), Archive: a, Registry: reg, HostLoad: host})
		if err != nil {
			t.Fatal(err)
		}
		s := NewScheduler(r, nil)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { done <- s.Run(ctx) }()
		time.Sleep(time.Hour + 30*time.Minute) // first due at 1h: saturated
		time.Sleep(time.Millisecond)
		if n := calls.Load(); n != 0 {
			t.Errorf("benchmark function called %d times on a saturated host, want 0", n)
		}
		runs, err := a.Runs(start, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if len(runs) != 1 || runs[0].Skipped == "" || len(runs[0].Results) != 0 ||
			!strings.Contains(runs[0].Skipped, "host saturated: load average 23.00 on 2 CPUs") || !strings.Contains(runs[0].Skipped, "waited 10m0s") {
			t.Fatalf("archive after a saturated hour: %+v, want one skipped run saying why", runs)
		}
		rep, err := BuildReport(a, time.Now(), time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if rep.Runs != 0 || rep.Skipped != 1 || len(rep.Skips) != 1 || rep.Skips[0].Benchmark != "orders" || rep.Compared != 0 {
			t.Errorf("report: runs %d skipped %d skips %+v compared %d; want 0 runs, 1 skip of orders, nothing compared", rep.Runs, rep.Skipped, rep.Skips, rep.Compared)
		}
		if !strings.Contains(rep.Markdown(), "1 scheduled runs skipped") || !strings.Contains(rep.HTML(), "1 scheduled runs skipped") {
			t.Error("the report's Markdown and HTML do not say a run was skipped")
		}

		// Second due time: 2h after start (the first was rescheduled from
		// its skip at 1h10m, so 2h10m); busy until 2h12m: postponed 2m, then run.
		busyUntil.Store(start.Add(2*time.Hour + 12*time.Minute).UnixNano())
		time.Sleep(time.Hour)
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if calls.Load() == 0 {
			t.Fatal("the benchmark did not run once the host was idle within the wait")
		}
		runs, _ = a.Runs(start, time.Now())
		if len(runs) != 2 || runs[1].Skipped != "" || runs[1].Untrustworthy != "" || len(runs[1].Results) != 1 {
			t.Fatalf("runs %+v, want the skip then one measured, trustworthy run", runs)
		}
		if due := start.Add(2*time.Hour + 10*time.Minute); runs[1].Start.Before(due.Add(2*time.Minute)) || runs[1].Start.After(due.Add(3*time.Minute)) {
			t.Errorf("postponed run started at +%v, want +2h12m…2h13m", runs[1].Start.Sub(start))
		}
	})
}
