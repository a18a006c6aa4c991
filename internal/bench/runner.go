package bench

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"slices"
	"sync/atomic"
	"time"

	"github.com/shirou/gopsutil/v4/load"
)

// Options configure a Runner.
type Options struct {
	Config Config
	// Archive keeps the runs and reports; required.
	Archive *Archive
	// Registry offers the in-process benchmarks of kind func; may be nil.
	Registry *Registry
	// Recorder stores each run's figures as gmc_bench_* series; may be nil.
	Recorder Recorder
	Logger   *slog.Logger
	// Now is the clock of run times and of func benchmarks' timers;
	// nil: time.Now.
	Now func() time.Time
	// Progress, if set, is called with the benchmark name and the
	// fraction of it done (0…1), at most ~10 times a second.
	Progress func(name string, done float64)
	// HostLoad reads the host's load before each run; nil reads the 1-minute
	// load average (gopsutil) and the CPU count.
	HostLoad func() (HostLoad, error)
}

// Runner runs configured benchmarks one at a time, compares each with its
// baseline, archives it and records it.
type Runner struct {
	opts Options
	// cfg is the configuration in force, baseline its pinned run (nil:
	// none): SetConfig replaces both; changed tells the scheduler.
	cfg      atomic.Pointer[Config]
	baseline atomic.Pointer[Run]
	changed  chan struct{}
}

// NewRunner loads the pinned baseline, if any. opts.Config must be
// normalised and valid (Load, or Normalise then Validate); NewRunner does not
// check it again.
func NewRunner(opts Options) (*Runner, error) {
	if opts.Archive == nil {
		return nil, errors.New("bench runner: an archive is required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.HostLoad == nil {
		opts.HostLoad = readHostLoad
	}
	r := &Runner{opts: opts, changed: make(chan struct{}, 1)}
	if err := r.setConfig(opts.Config); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *Runner) setConfig(c Config) error {
	var baseline *Run
	if c.Baseline != "" {
		run, err := ReadRun(c.Baseline)
		if err != nil {
			return fmt.Errorf("benchmarks.baseline: %w", err)
		}
		baseline = run
	}
	r.baseline.Store(baseline)
	r.cfg.Store(&c)
	return nil
}

// SetConfig puts c in force (a reload): the suite, the schedules (the
// scheduler computes each changed or added benchmark's next time from now;
// a run in progress finishes), the verdicts' settings and the pinned
// baseline, read again. c must be normalised and valid; a baseline that
// cannot be read changes nothing.
func (r *Runner) SetConfig(c Config) error {
	if err := r.setConfig(c); err != nil {
		return err
	}
	select {
	case r.changed <- struct{}{}:
	default:
	}
	return nil
}

// Config returns the runner's configuration.
func (r *Runner) Config() Config { return *r.cfg.Load() }

// Archive returns the runner's archive.
func (r *Runner) Archive() *Archive { return r.opts.Archive }

// Lookup returns the configured benchmark called name.
func (r *Runner) Lookup(name string) (Benchmark, bool) {
	for _, b := range r.Config().Suite {
		if b.Name == name {
			return b, true
		}
	}
	return Benchmark{}, false
}

// RunAll runs every configured benchmark in order; it stops at the first
// cancellation, but a failed benchmark does not stop the others.
func (r *Runner) RunAll(ctx context.Context) ([]*Run, error) {
	var runs []*Run
	var errs []error
	for _, b := range r.Config().Suite {
		run, err := r.Run(ctx, b)
		if run != nil {
			runs = append(runs, run)
		}
		if err != nil {
			if ctx.Err() != nil {
				return runs, err
			}
			errs = append(errs, err)
		}
	}
	return runs, errors.Join(errs...)
}

// Run runs one benchmark, compares it with its baseline, archives it and
// records it. A failed benchmark is archived and recorded too (with
// Run.Error and gmc_bench_run_failed 1); the error is returned as well.
func (r *Runner) Run(ctx context.Context, b Benchmark) (*Run, error) {
	start := r.opts.Now()
	host, _ := os.Hostname()
	run := &Run{
		ID:        newRunID(start, b.Name),
		Benchmark: b.Name,
		Kind:      b.Kind,
		Labels:    b.Labels,
		Start:     start,
		Host:      host,
		GoVersion: runtime.Version(),
	}
	log := r.opts.Logger.With("benchmark", b.Name)
	if hl, saturated, err := r.Saturated(); err != nil {
		log.Warn("read host load", "err", err)
	} else {
		run.HostLoad = &hl
		if saturated != "" {
			run.Untrustworthy = saturated + " when the run began"
		}
	}
	log.Info("benchmark starting", "kind", b.Kind)
	results, runErr := r.measure(ctx, b)
	run.End = r.opts.Now()
	run.Results = results
	if runErr != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("benchmark %s: %w", b.Name, runErr)
		}
		run.Error = runErr.Error()
	}
	var errs []error
	if runErr != nil {
		errs = append(errs, fmt.Errorf("benchmark %s: %w", b.Name, runErr))
	}
	if err := r.Finish(ctx, run); err != nil {
		errs = append(errs, err)
	}
	log.Info("benchmark finished", "duration", run.End.Sub(run.Start), "regression", run.Regressed(), "failed", run.Error != "")
	return run, errors.Join(errs...)
}

// Finish is what Run does with a measured run: it compares it with its
// baseline (unless it failed or its host was saturated), archives it and
// records it. A run measured elsewhere (the demo's backfilled history)
// is stored through it too, so its verdicts are the judge's; one without
// an ID gets one.
func (r *Runner) Finish(ctx context.Context, run *Run) error {
	if run.ID == "" {
		run.ID = newRunID(run.Start, run.Benchmark)
	}
	log := r.opts.Logger.With("benchmark", run.Benchmark)
	switch {
	case run.Error != "":
		// A failed run's figures (an exec run's times, its command
		// exiting non-zero) are no measure of the benchmark: no verdict,
		// and usable keeps them out of later baselines.
	case run.Untrustworthy != "":
		log.Warn("benchmark run not compared", "reason", run.Untrustworthy)
	default:
		if err := r.compare(run); err != nil {
			log.Warn("baseline comparison failed", "err", err)
		}
	}
	var errs []error
	if _, err := r.opts.Archive.SaveRun(run); err != nil {
		errs = append(errs, err)
	}
	if r.opts.Recorder != nil {
		if err := r.opts.Recorder.Record(ctx, run); err != nil {
			errs = append(errs, fmt.Errorf("record benchmark %s: %w", run.Benchmark, err))
		}
	}
	return errors.Join(errs...)
}

// Saturated reads the host's load and says why it is saturated (the load
// average per CPU at or above MaxHostLoad), or "" when it is not: a run
// begun then gets no verdict and joins no baseline.
func (r *Runner) Saturated() (HostLoad, string, error) {
	hl, err := r.opts.HostLoad()
	if err != nil {
		return HostLoad{}, "", err
	}
	if max := r.Config().MaxHostLoad; max > 0 && hl.PerCPU() >= max {
		return hl, fmt.Sprintf("host saturated: load average %.2f on %d CPUs (limit %.2f per CPU)", hl.Load1, hl.CPUs, max), nil
	}
	return hl, "", nil
}

func (r *Runner) measure(ctx context.Context, b Benchmark) ([]Result, error) {
	var progress func(float64)
	if r.opts.Progress != nil {
		progress = func(f float64) { r.opts.Progress(b.Name, f) }
	}
	one := func(res Result, err error) ([]Result, error) {
		if err != nil {
			return nil, err
		}
		return []Result{res}, nil
	}
	switch b.Kind {
	case KindHTTP:
		return one(runHTTP(ctx, b.Name, b.HTTP, progress))
	case KindExec:
		// A run whose command exited non-zero failed, but its times are
		// kept: the report shows the figures beside the failure.
		res, err := runExec(ctx, b.Name, b.Exec, progress)
		if err != nil && res.Name == "" {
			return nil, err
		}
		return []Result{res}, err
	case KindGoBench:
		return runGoBench(ctx, b.Name, b.GoBench, progress)
	case KindSQL:
		return one(runSQL(ctx, b.Name, b.SQL, progress))
	case KindFunc:
		return one(runFunc(ctx, r.opts.Now, b.Name, b.Func, r.opts.Registry, progress))
	default:
		return nil, fmt.Errorf("unknown kind %q", b.Kind)
	}
}

// readHostLoad is the 1-minute load average and the number of CPUs.
func readHostLoad() (HostLoad, error) {
	avg, err := load.Avg()
	if err != nil {
		return HostLoad{}, fmt.Errorf("read load average: %w", err)
	}
	return HostLoad{Load1: avg.Load1, CPUs: runtime.NumCPU()}, nil
}

// compare fills each result's Comparison (judge) from the pinned baseline
// or the runs of the baseline window before this run, which also hold the
// previous verdicts.
func (r *Runner) compare(run *Run) error {
	cfg := r.Config()
	window := time.Duration(cfg.BaselineWindow)
	runs, err := r.opts.Archive.Runs(run.Start.Add(-window), run.Start)
	if err != nil {
		return err
	}
	if run.Simulated == "" {
		// A measured run against drawn figures would get a verdict about
		// nothing measured (the demo's history, drawn from one run at
		// whatever load the demo started at).
		runs = slices.DeleteFunc(runs, func(o *Run) bool { return o.Simulated != "" })
	}
	judge(run, runs, r.baseline.Load(), cfg)
	return nil
}
