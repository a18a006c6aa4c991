package bench

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"time"
)

// Scheduler runs the configured benchmarks on their schedules inside
// `gmc server`, one at a time (benchmarks running together would disturb
// each other), and regenerates the current week's report after each run.
//
// A run due while the host is saturated (see Runner.Saturated) would get no
// verdict and would take CPU from the host exactly when it has none to
// spare, so the scheduler postpones it, re-reading the load every
// PostponeStep for at most PostponeMax (and at most half the schedule's
// interval); if the host is still saturated then, the run is skipped and
// archived as skipped, with the reason (Run.Skipped).
type Scheduler struct {
	runner *Runner
	logger *slog.Logger
	// PostponeStep and PostponeMax bound the wait for an unsaturated host.
	PostponeStep, PostponeMax time.Duration
}

// Default bounds of the wait for an unsaturated host.
const (
	DefaultPostponeStep = 30 * time.Second
	DefaultPostponeMax  = 10 * time.Minute
)

// NewScheduler schedules the benchmarks of runner's configuration.
func NewScheduler(r *Runner, logger *slog.Logger) *Scheduler {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Scheduler{runner: r, logger: logger, PostponeStep: DefaultPostponeStep, PostponeMax: DefaultPostponeMax}
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
	var scheduled map[string]Schedule // the schedules next was computed for
	plan := func() {
		old := scheduled
		scheduled = map[string]Schedule{}
		for _, b := range s.runner.Config().Suite {
			if b.Schedule.IsZero() {
				continue
			}
			scheduled[b.Name] = b.Schedule
			if o, ok := old[b.Name]; !ok || o != b.Schedule {
				next[b.Name] = b.Schedule.Next(now())
			}
		}
		for name := range next {
			if _, ok := scheduled[name]; !ok {
				delete(next, name)
			}
		}
	}
	plan()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		var due Benchmark
		var at time.Time
		for _, b := range s.runner.Config().Suite {
			if t, ok := next[b.Name]; ok && (at.IsZero() || t.Before(at)) {
				due, at = b, t
			}
		}
		if at.IsZero() {
			timer.Stop() // nothing scheduled: wait for a reload
		} else {
			timer.Reset(max(at.Sub(now()), 0))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-s.runner.changed:
			plan()
			continue
		case <-timer.C:
		}
		if skipped := s.waitForHost(ctx, due, at); ctx.Err() != nil {
			return nil
		} else if skipped != nil {
			if _, err := s.runner.opts.Archive.SaveRun(skipped); err != nil {
				s.logger.Error("archive skipped benchmark", "benchmark", due.Name, "err", err)
			} else if err := s.runner.UpdateReport(skipped.Start); err != nil {
				s.logger.Error("regenerate benchmark report", "err", err)
			}
			next[due.Name] = due.Schedule.Next(now())
			continue
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

// waitForHost waits, within its bounds, until the host is not saturated.
// It returns nil when b may run now (or the load cannot be read: the run
// then says so itself), else the skipped run to archive.
func (s *Scheduler) waitForHost(ctx context.Context, b Benchmark, due time.Time) *Run {
	now := s.runner.opts.Now
	limit := s.PostponeMax
	if next := b.Schedule.Next(due); !next.IsZero() {
		limit = min(limit, next.Sub(due)/2)
	}
	step := max(s.PostponeStep, time.Second)
	log := s.logger.With("benchmark", b.Name)
	start := now()
	timer := time.NewTimer(step)
	defer timer.Stop()
	// Bounded: one read per step until the limit, plus the first.
	for i := 0; ; i++ {
		hl, why, err := s.runner.Saturated()
		if err != nil || why == "" {
			if i > 0 {
				log.Info("benchmark postponed until the host was not saturated", "waited", now().Sub(start).Round(time.Second))
			}
			return nil
		}
		waited := now().Sub(start)
		if waited >= limit || time.Duration(i)*step > limit {
			log.Warn("benchmark skipped", "reason", why, "waited", waited.Round(time.Second))
			host, _ := os.Hostname()
			return &Run{
				ID: newRunID(start, b.Name), Benchmark: b.Name, Kind: b.Kind, Labels: b.Labels,
				Start: start, End: now(), Host: host, GoVersion: runtime.Version(), HostLoad: &hl,
				Skipped: fmt.Sprintf("%s at %s, waited %s: not run", why, now().UTC().Format("15:04:05"), waited.Round(time.Second)),
			}
		}
		if i == 0 {
			log.Info("benchmark postponed", "reason", why, "up_to", limit)
		}
		timer.Reset(min(step, limit-waited))
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
		}
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
