package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/common/model"
	"github.com/shirou/gopsutil/v4/disk"
	"github.com/shirou/gopsutil/v4/mem"

	"github.com/gmc-dev/gmc/internal/agent"
	"github.com/gmc-dev/gmc/internal/bench"
	"github.com/gmc-dev/gmc/internal/config"
	"github.com/gmc-dev/gmc/internal/demo"
	"github.com/gmc-dev/gmc/internal/server"
)

// defaultGatewayAddress is where the demo's order gateway takes orders over
// HTTP (examples/bench/matching-engine-tps.yml benchmarks it); not 9901,
// the agent's /metrics.
const defaultGatewayAddress = "127.0.0.1:9910"

// defaultMarketDataAddress and defaultReceiverAddress are the simulated
// market-data service's and the console receiver's.
const (
	defaultMarketDataAddress = "127.0.0.1:9911"
	defaultReceiverAddress   = "127.0.0.1:9912"
)

// demoCommand runs gmc on a simulated trading system: gmc demo [flags].
type demoCommand struct {
	stdout, stderr io.Writer
	// getenv reads the environment; os.Getenv when nil.
	getenv func(string) string
	// backfill writes --history before gmc starts; backfillHistory when nil.
	backfill func(ctx context.Context, out io.Writer, logger *slog.Logger, cfg config.Config, span time.Duration, seed int64) (demo.HistoryResult, error)
}

// demoFlags are gmc demo's flags.
type demoFlags struct {
	*sharedFlags
	// Durations take gmc.yml's syntax (config.Duration: 1d, 1h30m, 500us).
	duration, incidentEvery, incidentLength, benchEvery, evalInterval config.Duration
	gatewayListen, marketDataListen, receiverListen, incidents        *string
	seed                                                              *int64
	history                                                           config.Duration
}

// flags declares gmc demo's flags. --storage.path holds the demo's gmc data
// (in DIR/gmc), spools and benchmark archive; ./demo-data by default, never
// a real server's ./data. --data-dir is its old spelling.
func (c *demoCommand) flags() (*flag.FlagSet, *demoFlags) {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	f := &demoFlags{sharedFlags: declareShared(fs, "demo", "data-dir")}
	f.incidentEvery, f.incidentLength = config.Duration(demo.DefaultIncidentEvery), config.Duration(demo.DefaultIncidentLength)
	f.benchEvery, f.evalInterval = config.Duration(2*time.Minute), config.Duration(5*time.Second)
	fs.Var(&f.duration, "duration", "stop this long after the simulated system starts serving; --history's backfill before it does not count (0: run until Ctrl-C)")
	f.gatewayListen = fs.String("gateway.listen-address", defaultGatewayAddress, "address of the simulated order gateway's HTTP front (POST /orders)")
	// Fixed addresses (they were 127.0.0.1:0): market-data's is its scrape
	// target's instance label, which a restart changed, leaving a second up
	// series (t-user12 F3).
	f.marketDataListen = fs.String("market-data.listen-address", defaultMarketDataAddress, "address of the simulated market-data service's /metrics, which gmc scrapes")
	f.receiverListen = fs.String("receiver.listen-address", defaultReceiverAddress, "address of the console receiver gmc sends its notifications to (webhook)")
	fs.Var(&f.incidentEvery, "incident-every", "pause before each injected incident (negative: none)")
	fs.Var(&f.incidentLength, "incident-length", "how long each incident lasts (a service-down incident alerts once silent for down_after, 8s, plus a few seconds)")
	f.incidents = fs.String("incidents", "latency,errors,down", "the cycle of incident kinds: latency, errors, down")
	fs.Var(&f.benchEvery, "bench-every", "how often the four standard benchmarks run")
	fs.Var(&f.evalInterval, "alerting.evaluation-interval", "rule evaluation interval (pushes also trigger evaluation)")
	f.seed = fs.Int64("seed", 1, "seed of the simulated order flow and prices")
	fs.Var(&f.history, "history", "backfill this much plausible history (e.g. 30d) before starting, so the 7- and 30-day views have data; once per data dir")
	fs.Usage = func() {
		out := fs.Output()
		fmt.Fprintln(out, "Usage of demo:")
		fs.PrintDefaults()
		fmt.Fprintln(out, "\nEnvironment (notifications always go to the console receiver as well):")
		for _, v := range demo.Environment() {
			fmt.Fprintf(out, "  %s\n    \t%s\n", v.Name, v.Doc)
		}
	}
	return fs, f
}

func (c *demoCommand) Run(ctx context.Context, args []string) error {
	fs, f := c.flags()
	if err := fs.Parse(args); err != nil {
		return err
	}
	std := func(d config.Duration) *time.Duration { v := time.Duration(d); return &v }
	duration, listen, gatewayListen, dataDir, logLevel := std(f.duration), f.listen, f.gatewayListen, f.storagePath, f.logLevel
	incidentEvery, incidentLength, incidents := std(f.incidentEvery), std(f.incidentLength), f.incidents
	benchEvery, evalInterval, seed, history := std(f.benchEvery), std(f.evalInterval), f.seed, f.history
	if fs.NArg() > 0 {
		return fmt.Errorf("demo: unexpected argument %q", fs.Arg(0))
	}
	if *duration < 0 {
		return fmt.Errorf("--duration %v: must not be negative", *duration)
	}
	if *benchEvery < time.Second {
		return fmt.Errorf("--bench-every %v: must be at least 1s", *benchEvery)
	}
	kinds, err := demo.ParseIncidents(*incidents)
	if err != nil {
		return fmt.Errorf("--incidents: %w", err)
	}
	logger, err := newLogger(c.stderr, *logLevel)
	if err != nil {
		return err
	}
	getenv := c.getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	// SIGINT and SIGTERM stop every command (main); the demo runs in a
	// terminal, so its hang-up (the terminal closed, the ssh session
	// gone) stops it the same way: Go's default for SIGHUP is to exit on
	// the spot, the WAL left open and nothing printed.
	ctx, stopHUP := signal.NotifyContext(ctx, syscall.SIGHUP)
	defer stopHUP()

	// The console receiver: gmc's notifications arrive at it as webhooks.
	out := &lockedWriter{w: c.stdout}
	recvLn, err := net.Listen("tcp", *f.receiverListen)
	if err != nil {
		return fmt.Errorf("--receiver.listen-address: listen for the console notification receiver: %w", err)
	}
	recv := &http.Server{Handler: demo.ConsoleReceiver(out, logger), ReadHeaderTimeout: 5 * time.Second}

	// market-data is scraped, so its address must be in gmc's config.
	mdLn, err := net.Listen("tcp", *f.marketDataListen)
	if err != nil {
		recvLn.Close()
		return fmt.Errorf("--market-data.listen-address: listen for market-data: %w", err)
	}
	// The order gateway's HTTP front is a benchmark target, so its
	// address must be in gmc's config too.
	gwLn, err := net.Listen("tcp", *gatewayListen)
	if err != nil {
		recvLn.Close()
		mdLn.Close()
		return fmt.Errorf("--gateway.listen-address: listen for the order gateway: %w", err)
	}
	gatewayURL := "http://" + gwLn.Addr().String() + demo.OrdersPath
	closeListeners := func() { recvLn.Close(); mdLn.Close(); gwLn.Close() }

	pgDSN := getenv(demo.EnvPGDSN)
	cfg, channels, err := demo.Config(demo.ConfigParams{
		Listen: *listen, DataDir: filepath.Join(*dataDir, "gmc"), MarketData: mdLn.Addr().String(),
		ReceiverURL: "http://" + recvLn.Addr().String() + "/", BenchEvery: *benchEvery,
		EvalInterval: *evalInterval, PGDSN: pgDSN, GatewayURL: gatewayURL, Getenv: getenv,
	})
	if err != nil {
		closeListeners()
		return err
	}
	var startPnL map[string]float64
	cfg.Storage.Retention = historyRetention(cfg.Server.DataDir, time.Duration(history), cfg.Storage.Retention)
	if history > 0 {
		backfill := c.backfill
		if backfill == nil {
			backfill = backfillHistory
		}
		res, err := backfill(ctx, out, logger, cfg, time.Duration(history), *seed)
		if err != nil {
			closeListeners()
			return err
		}
		// The live strategies' PnL continues where the history's ended.
		startPnL = res.PnL
	}
	benchmarks := bench.NewRegistry()
	if err := demo.RegisterBenchmarks(benchmarks); err != nil {
		closeListeners()
		return err
	}
	// The benchmarks run in this process beside the simulated services:
	// on a thread of their own at the lowest priority, with one scheduler
	// slot more than the CPUs, so that a running benchmark neither holds
	// a slot the services need nor takes a CPU from them when they want it;
	// so do heavy queries (heavyProcs).
	benchmarks.SetNice(19)
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(runtime.NumCPU() + 1 + heavyProcs(cfg)))
	if err := os.MkdirAll(*dataDir, 0o755); err != nil {
		closeListeners()
		return fmt.Errorf("create data dir: %w", err)
	}
	srv, err := server.New(server.Options{Config: cfg, Logger: logger.With("component", "gmc"), Version: buildVersion(), Benchmarks: benchmarks})
	if err != nil {
		closeListeners()
		return err
	}
	base := "http://" + srv.Addr()
	// Started again on its data dir, the desk's PnL continues from the
	// newest it stored (else from the history's end, or 0).
	if last, err := demo.LastPnL(ctx, srv.Handler()); err != nil {
		logger.Warn("the desk's PnL starts from the history's end, not from the stored PnL", "err", err)
	} else if len(last) > 0 {
		if startPnL == nil {
			startPnL = map[string]float64{}
		}
		maps.Copy(startPnL, last)
	}
	// stopServer releases what server.New opened when the demo cannot start.
	stopServer := func() {
		if err := srv.Close(); err != nil {
			logger.Error("stop gmc server", "err", err)
		}
	}

	acfg := agent.DefaultConfig()
	acfg.GMCURL = base
	acfg.Spool.Dir = filepath.Join(*dataDir, "spool", "agent")
	acfg.Web.ListenAddress = ""
	pidFile := filepath.Join(*dataDir, "gmc-demo.pid")
	if err := os.WriteFile(pidFile, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		closeListeners()
		stopServer()
		return fmt.Errorf("write pid file: %w", err)
	}
	acfg.Processes = []agent.Process{{Service: "gmc-demo", PIDFile: pidFile}}
	ag, err := agent.New(agent.Options{Config: acfg, Logger: logger.With("component", "agent")})
	if err != nil {
		closeListeners()
		stopServer()
		return err
	}
	sim, err := demo.New(demo.Options{
		GMCURL: base, Logger: logger.With("component", "demo"), Seed: *seed,
		IncidentEvery: *incidentEvery, IncidentLength: *incidentLength, Incidents: kinds,
		MarketDataListener: mdLn, GatewayListener: gwLn, SpoolDir: filepath.Join(*dataDir, "spool"),
		StartPnL: startPnL,
	})
	if err != nil {
		recvLn.Close()
		stopServer()
		return err
	}

	printBanner(out, bannerInfo{
		base: base, gatewayURL: sim.GatewayURL(), services: sim.Services(), channels: channels, dbStandIn: pgDSN == "",
		benchEvery: *benchEvery, incidentEvery: *incidentEvery, incidentLength: *incidentLength,
		incidents: kinds, duration: *duration, pid: os.Getpid(), pidFile: pidFile,
	})

	// Start in dependency order, stop in reverse: the simulated services
	// flush to gmc before gmc stops, and the console receiver hears the
	// last notifications.
	return runParts(ctx, out, *duration, []partSpec{
		{"console receiver", func(ctx context.Context) error { return serveUntil(ctx, recv, recvLn) }},
		{"gmc server", srv.Run},
		{"agent", ag.Run},
		{"simulated trading system", sim.Run},
	})
}

// partSpec is a component of the demo to run: its name and its Run.
type partSpec struct {
	name string
	run  func(context.Context) error
}

// runParts starts specs in order and runs them until ctx ends, one of them
// exits or, if d is positive, d has passed since they started (so
// --duration counts the live system's time, not the history's backfill
// before it); then it stops them in reverse order.
func runParts(ctx context.Context, out io.Writer, d time.Duration, specs []partSpec) error {
	if d > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, d, fmt.Errorf("--duration %s passed", d))
		defer cancel()
	}
	parts := make([]*part, len(specs))
	for i, s := range specs {
		parts[i] = startPart(s.name, ctx, s.run)
	}
	exited := make(chan struct{}, len(parts))
	for _, p := range parts {
		go func() { <-p.done; exited <- struct{}{} }()
	}
	select {
	case <-ctx.Done():
		// Say why the demo stops (the signal, or --duration): each part
		// then says it stopped, and the demo last.
		fmt.Fprintf(out, "Stopping: %v…\n", context.Cause(ctx))
	case <-exited: // one part failed: stop the others
	}
	var errs []error
	for _, p := range slices.Backward(parts) {
		p.cancel()
		<-p.done
		if p.err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", p.name, p.err))
		}
	}
	fmt.Fprintln(out, "gmc demo stopped.")
	return errors.Join(errs...)
}

// part is one running component of the demo.
type part struct {
	name   string
	cancel context.CancelFunc
	done   chan struct{}
	err    error
}

// startPart runs run in a goroutine with a context of its own, detached
// from parent's cancellation so that parts stop one by one.
func startPart(name string, parent context.Context, run func(context.Context) error) *part {
	ctx, cancel := context.WithCancel(context.WithoutCancel(parent))
	p := &part{name: name, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		p.err = run(ctx)
	}()
	return p
}

// serveUntil serves srv on ln until ctx ends.
func serveUntil(ctx context.Context, srv *http.Server, ln net.Listener) error {
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err := srv.Shutdown(sctx)
	if serr := <-errc; !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	return err
}

// lockedWriter serializes writes from the banner, the console receiver and
// the shutdown message.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

type bannerInfo struct {
	base, gatewayURL                          string
	services, channels                        []string
	dbStandIn                                 bool
	benchEvery, incidentEvery, incidentLength time.Duration
	incidents                                 []demo.Incident
	duration                                  time.Duration
	pid                                       int
	pidFile                                   string
}

func printBanner(w io.Writer, b bannerInfo) {
	var s strings.Builder
	fmt.Fprintf(&s, "\ngmc demo — a simulated trading desk reporting to gmc\n\n")
	fmt.Fprintf(&s, "  Dashboard       %s/\n", b.base)
	fmt.Fprintf(&s, "  System status   %s/system/status\n", b.base)
	fmt.Fprintf(&s, "  Alerts          %s/api/v1/alerts   history: %s/alerts/history\n", b.base, b.base)
	fmt.Fprintf(&s, "  SLAs            %s/sla\n", b.base)
	fmt.Fprintf(&s, "  Benchmarks      %s/benchmark/report?format=html   (first report about %s after start)\n", b.base, b.benchEvery+10*time.Second)
	fmt.Fprintf(&s, "  PromQL          %s/api/v1/query   (Grafana: a Prometheus data source at %s)\n", b.base, b.base)
	fmt.Fprintf(&s, "  Order gateway   POST %s   e.g. %s\n\n", b.gatewayURL, demo.GatewayBenchBody)
	fmt.Fprintf(&s, "Services: %s (market-data is scraped, the others push with the SDK), and this host through the agent.\n", strings.Join(b.services, ", "))
	fmt.Fprintf(&s, "SLAs: matching-latency (99%% of matching-engine orders within 500µs), order-success (order-gateway ≥ 99.99%%).\n")
	if b.incidentEvery >= 0 {
		fmt.Fprintf(&s, "Incidents: one of %v for %s after each %s pause (one every %s) —\n", b.incidents, b.incidentLength, b.incidentEvery, b.incidentEvery+b.incidentLength)
		fmt.Fprintf(&s, "  latency: the matching engine slows (ServiceLatencyHigh fires, the matching-latency budget burns);\n")
		fmt.Fprintf(&s, "  errors:  the gateway fails 5%% of orders (the order-success SLA burns, its burn-rate alert pages);\n")
		fmt.Fprintf(&s, "  down:    market-data or the backtester stops (TargetDown / ServiceSilent fire, then resolve).\n")
	}
	fmt.Fprintf(&s, "Notifications are printed below as they are delivered (channels: %s).\n", strings.Join(b.channels, ", "))
	if b.dbStandIn {
		fmt.Fprintf(&s, "DB query latency: no PostgreSQL given, so the benchmark %q is an in-process stand-in, not a database\n", demo.BenchDBStandIn)
		fmt.Fprintf(&s, "  (set %s=postgres://user@127.0.0.1:5432/db to measure a real one).\n", demo.EnvPGDSN)
	}
	if b.duration > 0 {
		fmt.Fprintf(&s, "Stopping after %s; ", b.duration)
	}
	// The PID to signal: a wrapper's (a shell, a supervisor) is not the
	// demo's, and stopping it leaves the demo running (t-user3's trial
	// killed its wrapper: the demo ran on and was ended uncleanly).
	fmt.Fprintf(&s, "Ctrl-C, or kill %d (gmc's PID, also in %s), stops everything cleanly.\n\n", b.pid, b.pidFile)
	io.WriteString(w, s.String())
}

// historyRetention is the raw retention of a demo over dir: at least a day
// more than the history it backfills now or backfilled on an earlier run
// (a restart without --history fell back to the 15d default and deleted
// half of a 30d history, t-user6 #4).
func historyRetention(dir string, history time.Duration, retention config.Duration) config.Duration {
	if prev, ok := demo.WrittenHistory(dir); ok {
		history = max(history, prev.End.Sub(prev.Start))
	}
	if keep := config.Duration(history + 24*time.Hour); history > 0 && retention < keep {
		return keep
	}
	return retention
}

// historyGap is how long before the demo's start the backfilled history
// stops: more than ServiceSilent's look-back (a 1h subquery plus the 5m
// lookback, internal/rules), so the gap between the history and the live
// services pages nobody.
const historyGap = time.Hour + 10*time.Minute

// calibrateFor is how long the live desk runs, unconnected, before the
// history is written, to measure its latencies (demo.Calibrate): some
// 140 backtest days, 1,000 feed batches and 30,000 orders.
const calibrateFor = 10 * time.Second

// backfillHistory writes span of the simulated system's history into gmc's
// data dir before the server opens it, with this host's root filesystem and
// memory as the host series' end points.
func backfillHistory(ctx context.Context, out io.Writer, logger *slog.Logger, cfg config.Config, span time.Duration, seed int64) (demo.HistoryResult, error) {
	dir := cfg.Server.DataDir
	// The SLAs' recording rules are backfilled over the history too.
	now := time.Now()
	o := demo.HistoryOptions{Dir: dir, End: now.Add(-historyGap), Span: span, Seed: seed, Logger: logger.With("component", "demo-history"), SLAs: cfg.SLAs}
	o.Host, _ = os.Hostname()
	if u, err := disk.UsageWithContext(ctx, "/"); err == nil {
		// As the agent reports them: avail is u.Free, free u.Total - u.Used.
		o.RootAvail, o.RootFree, o.RootSize, o.RootFSType = float64(u.Free), float64(u.Total-u.Used), float64(u.Total), u.Fstype
	}
	// The host's CPU, network and disk counters, memory and load average
	// now, as the agent reports them: the history's end at them, its
	// counters at their rates between a reading before the desk's
	// calibration and one after it (with the desk running, as live).
	o.HostNow = agent.HostGatherer(logger)
	o.HostBefore = demo.ReadHost(o.HostNow)
	if parts, err := disk.PartitionsWithContext(ctx, true); err == nil {
		for _, p := range parts {
			if p.Mountpoint == "/" {
				o.RootDevice, o.RootFSType = p.Device, p.Fstype
			}
		}
	}
	if m, err := mem.VirtualMemoryWithContext(ctx); err == nil {
		o.MemAvailable, o.MemTotal = float64(m.Available), float64(m.Total)
	}
	// The history's latencies are the live desk's as its services measure
	// them on this machine (a table fitted on another machine was 1.4-2x
	// the live desk's at the join), so the desk runs unconnected first.
	_, written := demo.WrittenHistory(dir)
	if !written {
		fmt.Fprintf(out, "Measuring the live desk's latencies for %s…\n", calibrateFor)
		m, err := demo.Calibrate(ctx, calibrateFor, seed)
		if err != nil {
			return demo.HistoryResult{}, fmt.Errorf("--history: %w", err)
		}
		o.Model = m
	}
	// Said only when it will be written (a restart printed it, then that
	// it was not, t-user12 F2).
	if !written {
		fmt.Fprintf(out, "Writing %s of history into %s…\n", model.Duration(span), dir)
	}
	// The benchmarks' history too (the Benchmarks page was empty at 30d,
	// and on a busy machine every live run is skipped): each in-process
	// benchmark run once now, as the scheduler runs it, gives its level.
	if !written {
		o.Bench = &demo.BenchHistory{Config: cfg.Benchmarks}
		fmt.Fprintf(out, "Running the in-process benchmarks once for their history…\n")
	}
	started := time.Now()
	o.Now = started
	res, err := demo.Backfill(ctx, o)
	if err != nil {
		return res, fmt.Errorf("--history: %w", err)
	}
	if res.Skipped {
		fmt.Fprintf(out, "History already written (%s to %s); not written again.\n", res.Start.Format(time.DateOnly), res.End.Format(time.DateOnly))
		return res, nil
	}
	fmt.Fprintf(out, "History written: %d samples of %d series and %d benchmark runs, %s to %s, in %.1fs.\n", res.Samples, res.Series,
		res.BenchRuns, res.Start.Format(time.DateOnly), res.End.Format(time.DateOnly), time.Since(started).Seconds())
	return res, nil
}
