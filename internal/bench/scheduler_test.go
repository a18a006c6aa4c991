package bench

import (
	"context"
	"path/filepath"
	"sync"
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
