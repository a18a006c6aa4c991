package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/gmc-dev/gmc/internal/bench"
)

// benchCommand runs benchmarks and compares their results:
//
//	gmc bench run --config bench.yml [--storage.path DIR] [--gmc.url URL] [--only NAME,...]
//	gmc bench compare OLD.json NEW.json
type benchCommand struct {
	stdout, stderr io.Writer
	// registry offers in-process benchmarks (kind func); may be nil.
	registry *bench.Registry
}

const benchUsage = `usage:
  gmc bench run --config bench.yml [--storage.path DIR] [--gmc.url URL] [--only NAME,...] [--fail-on-regression]
  gmc bench compare [--threshold 0.05] [--alpha 0.05] OLD.json NEW.json
`

func (c *benchCommand) Run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		fmt.Fprint(c.stderr, benchUsage)
		return flag.ErrHelp
	}
	switch args[0] {
	case "run":
		return c.run(ctx, args[1:])
	case "compare":
		return c.compare(args[1:])
	case "-h", "--help", "help":
		fmt.Fprint(c.stdout, benchUsage)
		return nil
	default:
		fmt.Fprint(c.stderr, benchUsage)
		return fmt.Errorf("bench: unknown subcommand %q (want run or compare)", args[0])
	}
}

// benchRunFlags are gmc bench run's flags.
type benchRunFlags struct {
	*sharedFlags
	configFile, gmcURL, only *string
	failOnRegression         *bool
}

// runFlags declares gmc bench run's flags; --out is the old spelling of
// --storage.path.
func (c *benchCommand) runFlags() (*flag.FlagSet, *benchRunFlags) {
	fs := flag.NewFlagSet("bench run", flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	f := &benchRunFlags{sharedFlags: declareShared(fs, "bench run", "out")}
	f.configFile = fs.String("config", "", "benchmark configuration (YAML with a benchmarks: section); required")
	f.gmcURL = fs.String("gmc.url", "", "gmc server to record gmc_bench_* series to by remote-write, e.g. http://127.0.0.1:9900")
	f.only = fs.String("only", "", "comma-separated benchmark names to run (default: all)")
	f.failOnRegression = fs.Bool("fail-on-regression", false, "exit non-zero when a run regressed against its baseline, or was worse beyond its noise in this run alone")
	return fs, f
}

func (c *benchCommand) run(ctx context.Context, args []string) error {
	fs, f := c.runFlags()
	if err := fs.Parse(args); err != nil {
		return err
	}
	configFile, out, logLevel, gmcURL, only, failOnRegression := f.configFile, f.storagePath, f.logLevel, f.gmcURL, f.only, f.failOnRegression
	if *configFile == "" || fs.NArg() > 0 {
		fmt.Fprint(c.stderr, benchUsage)
		return errors.New("bench run: --config is required and takes no arguments")
	}
	cfg, err := bench.LoadFile(*configFile)
	if err != nil {
		return err
	}
	if *only != "" {
		var suite []bench.Benchmark
		for _, name := range strings.Split(*only, ",") {
			found := false
			for _, b := range cfg.Suite {
				if b.Name == strings.TrimSpace(name) {
					suite, found = append(suite, b), true
				}
			}
			if !found {
				return fmt.Errorf("bench run: --only: no benchmark %q in %s", name, *configFile)
			}
		}
		cfg.Suite = suite
	}
	if len(cfg.Suite) == 0 {
		return fmt.Errorf("bench run: %s has no benchmarks (benchmarks.suite)", *configFile)
	}
	logger, err := newLogger(c.stderr, *logLevel)
	if err != nil {
		return err
	}
	archive, err := bench.OpenArchive(*out)
	if err != nil {
		return err
	}
	opts := bench.Options{
		Config:   cfg,
		Archive:  archive,
		Registry: c.registry,
		Logger:   logger,
	}
	if *gmcURL != "" {
		opts.Recorder = &bench.RemoteWriteRecorder{URL: *gmcURL}
	}
	var bar *progressBar
	if isTerminal(c.stdout) {
		bar = &progressBar{w: c.stdout}
		opts.Progress = bar.update
	}
	runner, err := bench.NewRunner(opts)
	if err != nil {
		return err
	}
	var runs []*bench.Run
	var errs []error
	for _, b := range cfg.Suite {
		run, err := runner.Run(ctx, b)
		bar.finish()
		if run != nil {
			runs = append(runs, run)
			fmt.Fprintf(c.stdout, "%s: archived %s\n", b.Name, run.ID)
		}
		if err != nil {
			fmt.Fprintf(c.stderr, "gmc: %v\n", err)
			if ctx.Err() != nil {
				return err
			}
			errs = append(errs, err)
		}
	}
	if len(runs) > 0 {
		if err := runner.UpdateReport(runs[len(runs)-1].Start); err != nil {
			errs = append(errs, err)
		}
	}
	printRuns(c.stdout, runs)
	if *failOnRegression {
		for _, r := range runs {
			if r.Worsened() {
				errs = append(errs, fmt.Errorf("benchmark %s regressed against its baseline", r.Benchmark))
			}
		}
	}
	return errors.Join(errs...)
}

// printRuns prints one line per result: the compared metric and the verdict.
func printRuns(w io.Writer, runs []*bench.Run) {
	tw := tabwriter.NewWriter(w, 0, 4, 3, ' ', 0)
	fmt.Fprintln(tw, "\nbenchmark\tmedian ± 95% CI\tthroughput\terrors\tlatency p50 / p99 / p99.9 / max\tvs baseline")
	for _, run := range runs {
		if run.Error != "" {
			fmt.Fprintf(tw, "%s\tFAILED: %s\t\t\t\t\n", run.Benchmark, run.Error)
		}
		for _, r := range run.Results {
			lat := "—"
			if l := r.Latency; l != nil {
				lat = fmt.Sprintf("%s / %s / %s / %s", bench.FormatValue(l.P50, "s"), bench.FormatValue(l.P99, "s"), bench.FormatValue(l.P999, "s"), bench.FormatValue(l.Max, "s"))
			}
			tput := "—"
			if r.Throughput > 0 {
				tput = fmt.Sprintf("%.1f/s", r.Throughput)
			}
			verdict := "no baseline"
			if run.Untrustworthy != "" {
				verdict = "not compared: " + run.Untrustworthy
			}
			if cmp := r.Comparison; cmp != nil {
				verdict = fmt.Sprintf("%s (p=%.3f n=%d+%d)", cmp.Delta(), cmp.P, cmp.Base.N, cmp.New.N)
				switch v, why := cmp.Outcome(); v {
				case bench.VerdictRegression:
					verdict += " REGRESSION"
				case bench.VerdictWorse:
					verdict += " WORSE (unconfirmed: a regression if the next run is worse too)"
				case bench.VerdictImprovement:
					verdict += " improved"
				case bench.VerdictNone:
					verdict += " no verdict: " + why
				default:
					if why != "" {
						verdict += " (" + why + ")"
					}
				}
			}
			fmt.Fprintf(tw, "%s\t%s ± %s\t%s\t%d\t%s\t%s\n", r.Name, bench.FormatValue(r.Summary.Median, r.Unit), r.Summary.PctRange(), tput, r.Errors, lat, verdict)
		}
	}
	_ = tw.Flush()
}

func (c *benchCommand) compare(args []string) error {
	fs := flag.NewFlagSet("bench compare", flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	threshold := fs.Float64("threshold", bench.DefaultRegressionThreshold, "smallest worse change flagged as a regression (0.05 = 5%)")
	alpha := fs.Float64("alpha", bench.DefaultAlpha, "significance level of the Mann-Whitney U test")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 2 {
		fmt.Fprint(c.stderr, benchUsage)
		return errors.New("bench compare: want OLD.json NEW.json")
	}
	old, err := bench.ReadRun(fs.Arg(0))
	if err != nil {
		return err
	}
	cur, err := bench.ReadRun(fs.Arg(1))
	if err != nil {
		return err
	}
	rows := bench.CompareRuns(old, cur, *alpha, *threshold)
	if len(rows) == 0 {
		return fmt.Errorf("bench compare: %s and %s have no result name in common", fs.Arg(0), fs.Arg(1))
	}
	return bench.WriteCompareTable(c.stdout, fs.Arg(0), fs.Arg(1), rows)
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// progressBar draws "name [#####.....]  45%" on one terminal line.
type progressBar struct {
	mu   sync.Mutex
	w    io.Writer
	last time.Time
	name string
	on   bool
}

func (p *progressBar) update(name string, done float64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	if name == p.name && done < 1 && now.Sub(p.last) < 100*time.Millisecond {
		return
	}
	p.last, p.name, p.on = now, name, true
	const width = 30
	n := int(done * width)
	fmt.Fprintf(p.w, "\r%-24.24s [%s%s] %3.0f%%", name, strings.Repeat("#", n), strings.Repeat(".", width-n), done*100)
}

func (p *progressBar) finish() {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.on {
		fmt.Fprintln(p.w)
		p.on = false
	}
}
