// Command ingest is gmc's side-by-side remote-write ingest benchmark: it starts
// gmc, Prometheus and VictoriaMetrics one at a time on loopback, drives each
// with the same remote-write load and prints samples/s, CPU, peak RSS and
// bytes on disk per sample, with gmc's ratio to each peer. See bench/README.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gmc-dev/gmc/bench/internal/proc"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "bench/ingest:", err)
		os.Exit(1)
	}
}

type options struct {
	gmc, prometheus, victoria string
	targets                   []string
	series, protocols         []int
	rw2Peers                  bool
	duration                  time.Duration
	senders, batch            int
	startOffset, idleWait     time.Duration
	out, profileDir, keepDir  string
	print                     string
}

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	fs := flag.NewFlagSet("ingest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o := &options{}
	fs.StringVar(&o.gmc, "gmc", "", "gmc binary (default: go build ./cmd/gmc into a temp dir)")
	fs.StringVar(&o.prometheus, "prometheus", "/usr/bin/prometheus", "Prometheus 2.42 binary")
	fs.StringVar(&o.victoria, "victoria-metrics", "/usr/bin/victoria-metrics", "VictoriaMetrics 1.79 binary")
	targets := fs.String("targets", "gmc,prometheus,victoria-metrics", "comma-separated targets to run")
	series := fs.String("series", "10000,100000", "comma-separated active-series counts, one run per target each")
	protocols := fs.String("protocols", "1,2", "remote-write versions to send (1: 1.0, 2: 2.0); 2.0 goes to gmc only, as Prometheus 2.42 and VictoriaMetrics 1.79 do not receive it")
	fs.BoolVar(&o.rw2Peers, "rw2-peers", false, "send remote-write 2.0 to the peers too (they answer 2xx and store nothing: queryable 0)")
	fs.DurationVar(&o.duration, "duration", 20*time.Second, "measured window per run (after the warm-up)")
	fs.IntVar(&o.senders, "senders", 8, "concurrent senders, each owning a fixed share of the series")
	fs.IntVar(&o.batch, "batch", 2000, "samples per remote-write request")
	fs.DurationVar(&o.startOffset, "start-offset", 2*time.Hour, "sample time of round 0 is now minus this; rounds advance 1 s each however fast they go, so keep it above rounds reached (a fast target at 10k series reaches ~4000 in 20 s) and below 3h (head compaction)")
	fs.DurationVar(&o.idleWait, "idle-wait", 30*time.Second, "before each run, wait up to this long for other processes to leave the cores idle")
	fs.StringVar(&o.out, "out", "", "also write the results as JSON to this file")
	fs.StringVar(&o.print, "print", "", "print the table of a JSON file written by -out, and exit")
	fs.StringVar(&o.profileDir, "profile", "", "fetch a CPU profile of the measured window from each target's /debug/pprof into this dir")
	fs.StringVar(&o.keepDir, "keep", "", "keep data dirs and logs under this dir instead of a removed temp dir")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	for _, t := range strings.Split(*targets, ",") {
		switch t = strings.TrimSpace(t); t {
		case "gmc", "prometheus", "victoria-metrics":
			o.targets = append(o.targets, t)
		case "":
		default:
			return nil, fmt.Errorf("flag -targets: unknown target %q (want gmc, prometheus, victoria-metrics)", t)
		}
	}
	for _, s := range strings.Split(*series, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("flag -series: %q is not a positive count", s)
		}
		o.series = append(o.series, n)
	}
	for _, p := range strings.Split(*protocols, ",") {
		switch p = strings.TrimSpace(p); p {
		case "1", "2":
			o.protocols = append(o.protocols, int(p[0]-'0'))
		case "":
		default:
			return nil, fmt.Errorf("flag -protocols: %q is not 1 or 2", p)
		}
	}
	switch {
	case len(o.protocols) == 0:
		return nil, errors.New("flag -protocols: empty")
	case o.duration <= 0 || o.duration > 10*time.Minute:
		return nil, fmt.Errorf("flag -duration: %v is outside (0, 10m]", o.duration)
	case o.senders <= 0 || o.senders > 256:
		return nil, fmt.Errorf("flag -senders: %d is outside [1, 256]", o.senders)
	case o.batch <= 0 || o.batch > 100_000:
		return nil, fmt.Errorf("flag -batch: %d is outside [1, 100000]", o.batch)
	}
	return o, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	if o.print != "" {
		rep, err := readReport(o.print)
		if err != nil {
			return err
		}
		rep.computeRatios()
		rep.print(stdout)
		return nil
	}
	work := o.keepDir
	if work == "" {
		if work, err = os.MkdirTemp("", "gmc-bench-ingest-"); err != nil {
			return fmt.Errorf("create work dir: %w", err)
		}
		defer os.RemoveAll(work)
	}
	logf := func(format string, a ...any) { fmt.Fprintf(stderr, format+"\n", a...) }

	var targets []target
	for _, name := range o.targets {
		switch name {
		case "gmc":
			bin := o.gmc
			if bin == "" {
				logf("building gmc (go build -trimpath ./cmd/gmc)...")
				if bin, err = proc.BuildGMC(ctx, work); err != nil {
					logf("skipping gmc: %v", err)
					continue
				}
			}
			targets = append(targets, gmcTarget(bin))
		case "prometheus":
			targets = append(targets, prometheusTarget(o.prometheus))
		case "victoria-metrics":
			targets = append(targets, victoriaMetricsTarget(o.victoria))
		}
	}
	var present []target
	for _, t := range targets {
		if _, err := exec.LookPath(t.bin); err != nil {
			logf("skipping %s: binary %s not found (%s)", t.name, t.bin, installHint(t.name))
			continue
		}
		present = append(present, t)
	}
	if len(present) == 0 {
		return errors.New("no target to run")
	}

	rep := &report{
		Started:  time.Now().UTC(),
		CPUs:     runtime.NumCPU(),
		Duration: o.duration.String(),
		Senders:  o.senders,
		Batch:    o.batch,
	}
	for _, n := range o.series {
	protocols:
		for _, proto := range o.protocols {
			t0 := time.Now()
			wl, err := newWorkload(n, o.senders, o.batch, proto)
			if err != nil {
				return err
			}
			logf("built the remote-write %s request stream for %d series in %.1fs", protoName(proto), n, time.Since(t0).Seconds())
			for _, t := range present {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				if proto == 2 && t.name != "gmc" && !o.rw2Peers {
					logf("%s, %d series, remote-write 2.0: skipped: %s", t.name, n, noRW2(t.name))
					continue
				}
				if err := runTarget(ctx, t, wl, o, work, rep, logf); err != nil {
					break protocols
				}
			}
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	rep.computeRatios()
	rep.print(stdout)
	if o.out != "" {
		if err := rep.writeJSON(o.out); err != nil {
			return err
		}
		logf("wrote %s", o.out)
	}
	return nil
}

// protoName is the remote-write version proto (1 or 2) as the spec names it.
func protoName(proto int) string {
	if proto == 2 {
		return "2.0"
	}
	return "1.0"
}

// noRW2 says why a peer gets no remote-write 2.0 load.
func noRW2(name string) string {
	peer := "VictoriaMetrics 1.79"
	if name == "prometheus" {
		peer = "Prometheus 2.42"
	}
	return peer + " does not receive remote-write 2.0: it reads the body as a 1.0 WriteRequest, answers 2xx and stores nothing (see bench/README.md; -rw2-peers sends it anyway)"
}

// runTarget measures one target under wl and appends the result to rep; it
// returns an error only when ctx is done.
func runTarget(ctx context.Context, t target, wl *workload, o *options, work string, rep *report, logf func(string, ...any)) error {
	n := wl.series
	if busy := waitIdle(ctx, o.idleWait); busy >= 0.25 {
		logf("the machine is still busy (%.0f%% of a core used by other processes after waiting %v): figures will be disturbed", 100*busy, o.idleWait)
	}
	proto := protoName(wl.proto)
	logf("%s, %d series, remote-write %s: warm-up, then %v of load...", t.name, n, proto, o.duration)
	r, err := runOne(ctx, t, wl, o, filepath.Join(work, fmt.Sprintf("%s-%d-rw%d", t.name, n, wl.proto)))
	if err != nil {
		logf("%s, %d series, remote-write %s: %v", t.name, n, proto, err)
		r = &runResult{Target: t.name, Series: n, Error: err.Error()}
	} else {
		logf("%s, %d series, remote-write %s: %.0f samples/s, peer CPU %.0f%%, generator CPU %.0f%%",
			t.name, n, proto, r.SamplesPerSec, r.PeerCPUPercent, r.GenCPUPercent)
	}
	r.Protocol = proto
	rep.Runs = append(rep.Runs, r)
	return ctx.Err()
}

// runOne starts t with a fresh data dir, drives it, measures it and stops it.
func runOne(ctx context.Context, t target, wl *workload, o *options, dir string) (*runResult, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create run dir: %w", err)
	}
	p, err := t.start(ctx, dir)
	if err != nil {
		return nil, err
	}
	defer p.Stop()
	url := "http://" + p.addr + "/api/v1/write"
	startMs := time.Now().Add(-o.startOffset).Truncate(time.Second).UnixMilli()

	var cpu0, busy0 float64
	profDone := make(chan error, 1)
	onWindow := func(open bool) error {
		c, err := p.CPUSeconds()
		if err != nil {
			return err
		}
		b, err := proc.MachineBusyCPU()
		if err != nil {
			return err
		}
		if open {
			cpu0, busy0 = c, b
			if o.profileDir != "" {
				go func() {
					profDone <- fetchProfile(ctx, p.addr, o.duration, filepath.Join(o.profileDir, fmt.Sprintf("%s-%d.cpu.pprof", t.name, wl.series)))
				}()
			}
		} else {
			cpu0, busy0 = c-cpu0, b-busy0
		}
		return nil
	}
	lr, err := wl.drive(ctx, url, startMs, o.duration, onWindow)
	if err != nil {
		return nil, err
	}
	lr.PeerCPU = cpu0
	lr.OtherCPU = max(0, busy0-cpu0-lr.GenCPUSeconds)
	mem, err := p.Memory()
	if err != nil {
		return nil, err
	}
	found, err := countSeries(ctx, p.addr, startMs, wl.series)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", t.name, err)
		found = -1
	}
	if o.profileDir != "" {
		if err := <-profDone; err != nil {
			fmt.Fprintf(os.Stderr, "%s: no CPU profile: %v\n", t.name, err)
		}
	}
	p.Stop() // a clean shutdown, so the data dir holds what the target keeps
	alloc, apparent, err := diskUsage(p.dataDir)
	if err != nil {
		return nil, err
	}
	r := newRunResult(t.name, wl.series, lr, mem.PeakRSS, alloc, apparent)
	r.SeriesFound = found
	return r, nil
}

// fetchProfile saves a CPU profile of the window from addr's /debug/pprof.
func fetchProfile(ctx context.Context, addr string, d time.Duration, path string) error {
	secs := max(1, int(d.Seconds())-1)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", addr, secs), nil)
	if err != nil {
		return err
	}
	resp, err := (&http.Client{Timeout: d + 30*time.Second}).Do(req)
	if err != nil {
		return fmt.Errorf("fetch profile: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("fetch profile: HTTP %d", resp.StatusCode)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("create profile dir: %w", err)
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("create profile file: %w", err)
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return fmt.Errorf("write profile %s: %w", path, err)
	}
	return f.Close()
}

func installHint(target string) string {
	switch target {
	case "gmc":
		return "pass -gmc PATH or leave it empty to build one"
	case "victoria-metrics":
		return "apt-get install victoria-metrics"
	default:
		return "apt-get install prometheus"
	}
}
