package bench

import (
	"context"
	"log/slog"
	"time"
)

// Scheduler runs the configured benchmarks on their schedules inside
// `gmc server`, one at a time (benchmarks running together would disturb
// each other), and regenerates the current week's report after each run.
type Scheduler struct {
	runner *Runner
	logger *slog.Logger
}

// NewScheduler schedules the benchmarks of runner's configuration.
func NewScheduler(r *Runner, logger *slog.Logger) *Scheduler {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Scheduler{runner: r, logger: logger}
}

// Next returns when s next fires strictly after t: t+every, or the next
// daily/weekly time of day (UTC). Zero when s is empty.
func (s Schedule) Next(t time.Time) time.Time {
	t = t.UTC()
	switch {
	case s.Every > 0:
		return t.Add(time.Duration(s.Every))
	case s.Daily != "":
		h, m, _ := parseClock(s.Daily)
		n := time.Date(t.Year(), t.Month(), t.Day(), h, m, 0, 0, time.UTC)
		if !n.After(t) {
			n = n.AddDate(0, 0, 1)
		}
		return n
	case s.Weekly != "":
		wd, h, m, _ := parseWeekly(s.Weekly)
		n := time.Date(t.Year(), t.Month(), t.Day(), h, m, 0, 0, time.UTC)
		n = n.AddDate(0, 0, (int(wd)-int(n.Weekday())+7)%7)
		if !n.After(t) {
			n = n.AddDate(0, 0, 7)
		}
		return n
	}
	return time.Time{}
}

// Run waits for each benchmark's next time, runs it, and regenerates the
// report, until ctx is done. A failing benchmark is logged, not fatal.
func (s *Scheduler) Run(ctx context.Context) error {
	now := s.runner.opts.Now
	next := map[string]time.Time{}
	for _, b := range s.runner.opts.Config.Suite {
		if !b.Schedule.IsZero() {
			next[b.Name] = b.Schedule.Next(now())
		}
	}
	if len(next) == 0 {
		<-ctx.Done()
		return nil
	}
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		var due Benchmark
		var at time.Time
		for _, b := range s.runner.opts.Config.Suite {
			if t, ok := next[b.Name]; ok && (at.IsZero() || t.Before(at)) {
				due, at = b, t
			}
		}
		timer.Reset(max(at.Sub(now()), 0))
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
		}
		run, err := s.runner.Run(ctx, due)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			s.logger.Error("scheduled benchmark failed", "benchmark", due.Name, "err", err)
		}
		if run != nil {
			if err := s.runner.UpdateReport(run.Start); err != nil {
				s.logger.Error("regenerate benchmark report", "err", err)
			}
		}
		next[due.Name] = due.Schedule.Next(now())
	}
}

// UpdateReport rebuilds and archives the report of the ISO week containing t.
func (r *Runner) UpdateReport(t time.Time) error {
	rep, err := BuildReport(r.opts.Archive, t, r.opts.Now())
	if err != nil {
		return err
	}
	return r.opts.Archive.SaveReport(rep)
}
