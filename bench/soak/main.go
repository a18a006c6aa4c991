// Command soak runs a gmc server under a steady, realistic load for a bounded
// time and watches it for leaks: -services simulated services remote-write
// their metrics every -interval, a dashboard-like reader runs the Overview's
// kind of queries, and gmc evaluates its default rules plus a rule file over
// the services. Every -report it prints gmc's RSS (and its anonymous part:
// the rest is mapped files such as the head's chunk files), Go heap in use,
// goroutines, open file descriptors, head series and chunks, and the p99 of
// ingest and query requests in that interval; at the end, the drift per hour of each (a least-squares slope
// over the samples after the first fifth, the warm-up). Flat memory is the bar.
//
//	go run ./bench/soak                          # 2 minutes
//	go run ./bench/soak -duration 1h -report 1m  # a real soak
package main

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/golang/snappy"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/prompb"

	"github.com/gmc-dev/gmc/bench/internal/proc"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if spec := os.Getenv(heavyChildEnv); spec != "" {
		if err := heavyChild(spec); err != nil {
			fmt.Fprintln(os.Stderr, "bench/soak (heavy readers' child):", err)
			os.Exit(1)
		}
		return
	}
	if err := run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "bench/soak:", err)
		os.Exit(1)
	}
}

// ruleFile is the rule load besides gmc's default rules: recording rules
// over every service and alerts on them, evaluated every 5 s.
const ruleFile = `groups:
- name: soak
  interval: 5s
  rules:
  - record: service:soak_requests:rate1m
    expr: sum by (service) (rate(soak_requests_total[1m]))
  - record: service:soak_errors:ratio1m
    expr: sum by (service) (rate(soak_errors_total[1m])) / sum by (service) (rate(soak_requests_total[1m]))
  - record: service:soak_latency_seconds:p99_1m
    expr: histogram_quantile(0.99, sum by (service, le) (rate(soak_latency_seconds_bucket[1m])))
  - alert: SoakHighLatency
    expr: service:soak_latency_seconds:p99_1m > 0.25
    for: 30s
  - alert: SoakErrorRatio
    expr: service:soak_errors:ratio1m > 0.05
    for: 15s
`

// dashboardQueries are what a dashboard refresh asks, over the last hour.
var dashboardQueries = []string{
	`sum by (service) (rate(soak_requests_total[1m]))`,
	`histogram_quantile(0.99, sum by (service, le) (rate(soak_latency_seconds_bucket[1m])))`,
	`sum by (service) (rate(soak_errors_total[1m])) / sum by (service) (rate(soak_requests_total[1m]))`,
	`max by (service) (soak_queue_depth)`,
}

// latencies collects request durations of one kind between reports.
type latencies struct {
	mu      sync.Mutex
	d       []time.Duration
	errors  int
	lastErr string
	// onAdd, when set, is told each request instead (-heavy-proc's child
	// passes them to its parent).
	onAdd func(time.Duration, error)
}

func (l *latencies) add(d time.Duration, err error) {
	if l.onAdd != nil {
		l.onAdd(d, err)
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if err != nil {
		l.errors++
		l.lastErr = err.Error()
		return
	}
	l.d = append(l.d, d)
}

// take returns the p99 (ms), the count and the errors since the last take.
func (l *latencies) take() (p99 float64, n, errs int, lastErr string) {
	l.mu.Lock()
	d, errs, lastErr := l.d, l.errors, l.lastErr
	l.d, l.errors, l.lastErr = nil, 0, ""
	l.mu.Unlock()
	if len(d) == 0 {
		return math.NaN(), 0, errs, lastErr
	}
	slices.Sort(d)
	return float64(d[min(len(d)-1, len(d)*99/100)]) / 1e6, len(d), errs, lastErr
}

// sample is one report line's figures.
type sample struct {
	at                                      time.Duration
	rss, anon, heap, goroutines, fds, heads float64
	chunks                                  float64
	ingestP99, queryP99                     float64
	ingestN, queryN, ingestErrs, queryErrs  int
}

func run(ctx context.Context) error {
	dur := flag.Duration("duration", 2*time.Minute, "how long to run (bounded; e.g. 1h)")
	report := flag.Duration("report", 10*time.Second, "how often to print a line")
	services := flag.Int("services", 50, "simulated services")
	interval := flag.Duration("interval", time.Second, "push interval of each service")
	queryEvery := flag.Duration("query-interval", 2*time.Second, "how often the dashboard refreshes (4 range queries + /system/status)")
	gmcBin := flag.String("gmc", "", "gmc binary (default: go build ./cmd/gmc into a temp dir)")
	addr := flag.String("addr", "", "address for gmc (default: a free loopback port)")
	keep := flag.String("keep", "", "keep gmc's data dir and log in this directory")
	backfill := flag.Duration("backfill", 0, "write this much history of every service first (e.g. 30m), at the push interval")
	block := flag.Duration("block-duration", 0, "gmc's storage.block_duration: the head is cut into a block every this much time (0: 2h); shorter to see several compaction cycles in a shorter soak")
	heavy := flag.Int("heavy", 0, "concurrent heavy range queries, run in a loop besides the dashboard (every series, the whole backfill, 1s step)")
	extra := flag.String("gmc-yaml", "", "more of gmc's config, appended to the harness's gmc.yml (e.g. 'query: {max_concurrency: 2}' for an A/B of one binary)")
	heavyProc := flag.Bool("heavy-proc", false, "with -heavy: run the heavy readers in a child process at nice 10, as a remote user's would be, instead of beside the pushers in this one (their reading of tens of MB per answer then takes no CPU of this process's from the pushers, and the kernel runs the pushers first)")
	traceFor := flag.Duration("trace", 0, "in every report interval, record gmc's runtime for this long (from 2 s into it; /debug/pprof/trace) and print where requests waited before its handlers: an HTTP connection's goroutine from woken (its bytes arrived) to running, those woken while every one of Go's Ps was held and by what (a heavy query's niced thread, a GC worker), and GC's mark time and pauses")
	toggle := flag.Duration("heavy-toggle", 0, "with -heavy: run the heavy queries only in every other window of this length (the first without), canceling those in flight at its end, and print one line a window; the end compares ingest p99 with and without them, measured in the same minutes")
	flag.Parse()
	if *traceFor < 0 || *traceFor > 0 && *traceFor+3*time.Second > max(*report, *toggle) {
		return fmt.Errorf("-trace %s: want 0 or at most the report interval less 3 s", *traceFor)
	}
	if *dur <= 0 || *dur > 48*time.Hour {
		return fmt.Errorf("-duration %s: want (0, 48h]", *dur)
	}
	if *toggle > 0 {
		if *heavy <= 0 {
			return errors.New("-heavy-toggle needs -heavy")
		}
		*report = *toggle
	}

	tmp, err := os.MkdirTemp("", "gmc-bench-soak-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	work := tmp
	if *keep != "" {
		work = *keep
		if err := os.MkdirAll(work, 0o755); err != nil {
			return err
		}
	}
	if *gmcBin == "" {
		if *gmcBin, err = proc.BuildGMC(ctx, tmp); err != nil {
			return err
		}
	}
	if *addr == "" {
		if *addr, err = proc.FreeAddr(); err != nil {
			return err
		}
	}
	rules := filepath.Join(work, "soak.rules.yml")
	if err := os.WriteFile(rules, []byte(ruleFile), 0o644); err != nil {
		return err
	}
	cfgPath := filepath.Join(work, "gmc.yml")
	cfg := fmt.Sprintf("server: {data_dir: %s}\nalerting: {evaluation_interval: 5s, rule_files: [%s]}\n", filepath.Join(work, "data"), rules)
	if *block > 0 {
		cfg += fmt.Sprintf("storage: {block_duration: %s}\n", model.Duration(*block))
	}
	if *extra != "" {
		cfg += *extra + "\n"
	}
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		return err
	}
	base := "http://" + *addr
	p, err := proc.Start(ctx, proc.Options{Name: "gmc", Bin: *gmcBin, LogPath: filepath.Join(work, "gmc.log"),
		Args:     []string{"server", "--config", cfgPath, "--web.listen-address", *addr},
		ReadyURL: base + "/-/ready"})
	if err != nil {
		return err
	}
	defer p.Stop()

	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: *services + 8}}
	gens := make([]*generator, *services)
	for i := range gens {
		gens[i] = newGenerator(i)
	}
	var ingest, query, heavyLat latencies
	var wg sync.WaitGroup
	start := time.Now()
	if *backfill > 0 {
		t0 := time.Now()
		n, err := backfillAll(ctx, client, base, gens, *backfill, *interval)
		if err != nil {
			return err
		}
		fmt.Printf("backfill: %d samples (%s of %d services) in %.1fs\n", n, *backfill, *services, time.Since(t0).Seconds())
		start = time.Now()
	}
	// -duration counts from here: the backfill (seconds to a minute on a
	// busy machine) is not part of it.
	rctx, cancel := context.WithTimeout(ctx, *dur)
	defer cancel()
	for s := range *services {
		wg.Go(func() { pushLoop(rctx, client, base, gens[s], *interval, &ingest) })
	}
	wg.Go(func() { queryLoop(rctx, client, base, *queryEvery, &query) })
	span := max(*backfill, 10*time.Minute)
	win := windows{start: start, every: *toggle}
	childPID := "" // -heavy-proc's child
	if *heavy > 0 && *heavyProc {
		pid, wait, err := startHeavyChild(rctx, base, span, win, *heavy, &heavyLat)
		if err != nil {
			return err
		}
		defer func() {
			if err := wait(); err != nil {
				fmt.Fprintln(os.Stderr, "bench/soak:", err)
			}
		}()
		childPID = strconv.Itoa(pid)
	} else {
		for range *heavy {
			wg.Go(func() { heavyLoop(rctx, client, base, span, win, &heavyLat) })
		}
	}

	fmt.Printf("gmc pid %d at %s; %d services every %s, dashboard every %s, for %s (machine load now %s)\n",
		p.PID(), base, *services, *interval, *queryEvery, *dur, loadAvg())
	if *toggle > 0 {
		fmt.Print("heavy")
	}
	fmt.Printf("%8s %9s %9s %9s %10s %5s %7s %8s %12s %12s %s\n", "elapsed", "RSS MiB", "anon MiB", "heap MiB", "goroutines", "fds", "series", "chunks", "ingest p99", "query p99", "load")
	var samples []sample
	var onP99, offP99 []float64 // ingest p99 of -heavy-toggle's windows
	var prevLanes map[string]laneFigures
	var prevMissed, prevEvals, prevPushEvals float64
	var prevMetrics map[string]float64
	var selfSched schedLatency
	selfSched.take()
	// -trace: one trace in each report interval, from 2 s into it.
	type traced struct {
		f   traceFigures
		err error
	}
	traces := make(chan traced, 1)
	startTrace := func() {
		if *traceFor <= 0 {
			return
		}
		go func() {
			select {
			case <-rctx.Done():
				traces <- traced{err: rctx.Err()}
				return
			case <-time.After(2 * time.Second):
			}
			f, err := traceGMC(rctx, client, base, *traceFor)
			traces <- traced{f, err}
		}()
	}
	var onTrace, offTrace []traceFigures // -trace's of -heavy-toggle's windows
	startTrace()
	prevGMC, prevSelf, prevChild, prevAt := cpuSeconds(strconv.Itoa(p.PID())), cpuSeconds("self"), cpuSeconds(childPID), time.Duration(0)
	tick := time.NewTicker(*report)
	defer tick.Stop()
	for done := false; !done; {
		select {
		case <-rctx.Done():
			done = true
		case <-tick.C:
		}
		if ctx.Err() != nil {
			break
		}
		if n := len(samples); done && n > 0 && time.Since(start)-samples[n-1].at < *report/2 {
			break // the last tick just reported
		}
		s := sample{at: time.Since(start)}
		if m, err := p.Memory(); err == nil {
			s.rss = float64(m.RSS) / (1 << 20)
			s.anon = float64(m.Anon) / (1 << 20)
		}
		s.fds = countFDs(p.PID())
		m := scrape(client, base)
		s.goroutines, s.heads = metric(m, "go_goroutines"), metric(m, "prometheus_tsdb_head_series")
		s.heap, s.chunks = metric(m, "go_memstats_heap_inuse_bytes")/(1<<20), metric(m, "prometheus_tsdb_head_chunks")
		lanes := lanesOf(m)
		missed := sumOf(m, "prometheus_rule_group_iterations_missed_total")
		evals, pushEvals := sumOf(m, "prometheus_rule_group_iterations_total"), sumOf(m, "gmc_rules_triggered_evaluations_total")
		var ie, qe string
		s.ingestP99, s.ingestN, s.ingestErrs, ie = ingest.take()
		s.queryP99, s.queryN, s.queryErrs, qe = query.take()
		hp99, hn, herrs, he := heavyLat.take()
		samples = append(samples, s)
		if *toggle > 0 {
			// The window this line closes (the tick is a little after its end).
			if win.on(start.Add(s.at - *toggle/2)) {
				onP99 = append(onP99, s.ingestP99)
				fmt.Print("on   ")
			} else {
				offP99 = append(offP99, s.ingestP99)
				fmt.Print("off  ")
			}
		}
		fmt.Printf("%8s %9.1f %9.1f %9.1f %10.0f %5.0f %7.0f %8.0f %9.1f ms %9.1f ms %s", s.at.Round(time.Second), s.rss, s.anon, s.heap,
			s.goroutines, s.fds, s.heads, s.chunks, s.ingestP99, s.queryP99, loadAvg())
		if *heavy > 0 {
			fmt.Printf("  heavy: %d answered, p99 %.0f ms, %d errors (%.120s)", hn, hp99, herrs, he)
		}
		// Per query lane (gmc_query_lane_*, absent before lanes existed):
		// queries admitted (of them gmc's own: rules, REST API), their mean
		// wait for a slot, and those that left the queue without one; rule
		// group iterations missed (a starved rule evaluation skips them).
		for _, name := range []string{"small", "heavy"} {
			cur, prev := lanes[name], prevLanes[name]
			if n := cur.waitCount - prev.waitCount; n > 0 {
				fmt.Printf("  %s lane: %.0f admitted (%.0f gmc's own), wait mean %.1f ms, %.0f timed out",
					name, cur.admitted-prev.admitted, cur.fromRules-prev.fromRules, (cur.waitSum-prev.waitSum)/n*1e3, cur.timeouts-prev.timeouts)
			}
		}
		// The p99 of the writes' time in gmc's handlers (body read,
		// decode, append, commit: gmc_ingest_request_duration_seconds),
		// as its bucket's upper bound: what of the ingest p99 above is
		// gmc's handling and what is getting to it (scheduling, the
		// connection, the harness).
		if prevMetrics != nil {
			fmt.Printf("  ingest p99 in gmc's handlers ≤ %s ms", bucketQuantile(m, prevMetrics, "gmc_ingest_request_duration_seconds", 0.99))
		}
		prevMetrics = m
		if *traceFor > 0 {
			select {
			case t := <-traces:
				switch {
				case t.err != nil:
					fmt.Printf("  trace: %v", t.err)
				case *toggle > 0 && win.on(start.Add(s.at-*toggle/2)):
					onTrace = append(onTrace, t.f)
					fmt.Printf("  %s", t.f)
				default:
					offTrace = append(offTrace, t.f)
					fmt.Printf("  %s", t.f)
				}
			case <-time.After(5 * time.Second):
				fmt.Print("  trace: none yet")
			}
			startTrace()
		}
		// The harness's own scheduling: how long its goroutines (the
		// pushers, the readers) waited for one of its Ps.
		fmt.Printf("  harness's scheduler latency %s", selfSched.take())
		fmt.Printf("  rule iterations missed: %.0f", missed-prevMissed)
		// Rule group evaluations per second, and of them those pushes
		// triggered (besides the groups' intervals).
		if el := (s.at - prevAt).Seconds(); el > 0 && prevEvals > 0 {
			fmt.Printf("  rule evals/s: %.1f (%.1f by pushes)", (evals-prevEvals)/el, (pushEvals-prevPushEvals)/el)
		}
		prevLanes, prevMissed, prevEvals, prevPushEvals = lanes, missed, evals, pushEvals
		// CPU of gmc and of this harness (its pushers, dashboard and heavy
		// readers share the machine with gmc), in cores over the interval.
		gmcCPU, selfCPU, childCPU := cpuSeconds(strconv.Itoa(p.PID())), cpuSeconds("self"), cpuSeconds(childPID)
		if el := (s.at - prevAt).Seconds(); el > 0 {
			fmt.Printf("  CPU cores: gmc %.2f, harness %.2f", (gmcCPU-prevGMC)/el, (selfCPU-prevSelf)/el)
			if childPID != "" {
				fmt.Printf(" (+ heavy readers' child at nice 10: %.2f)", (childCPU-prevChild)/el)
			}
		}
		prevGMC, prevSelf, prevChild, prevAt = gmcCPU, selfCPU, childCPU, s.at
		if s.ingestErrs+s.queryErrs > 0 {
			fmt.Printf("  errors: ingest %d (%s) query %d (%s)", s.ingestErrs, ie, s.queryErrs, qe)
		}
		fmt.Println()
	}
	cancel()
	wg.Wait()
	if len(samples) < 3 {
		return fmt.Errorf("only %d report lines: run longer than 3 × -report", len(samples))
	}
	steady := samples[len(samples)/5:]
	fmt.Printf("drift per hour over %s..%s (after the first fifth):", steady[0].at.Round(time.Second), steady[len(steady)-1].at.Round(time.Second))
	for _, d := range []struct {
		name, unit string
		f          func(sample) float64
	}{
		{"RSS", " MiB", func(s sample) float64 { return s.rss }},
		{"anon RSS", " MiB", func(s sample) float64 { return s.anon }},
		{"heap in use", " MiB", func(s sample) float64 { return s.heap }},
		{"head chunks", "", func(s sample) float64 { return s.chunks }},
		{"goroutines", "", func(s sample) float64 { return s.goroutines }},
		{"fds", "", func(s sample) float64 { return s.fds }},
		{"ingest p99", " ms", func(s sample) float64 { return s.ingestP99 }},
		{"query p99", " ms", func(s sample) float64 { return s.queryP99 }},
	} {
		fmt.Printf(" %s %+.1f%s;", d.name, slopePerHour(steady, d.f), d.unit)
	}
	var in, qn, ie, qe int
	for _, s := range samples {
		in, qn, ie, qe = in+s.ingestN, qn+s.queryN, ie+s.ingestErrs, qe+s.queryErrs
	}
	fmt.Printf("\nrequests: ingest %d (%d errors), query %d (%d errors)\n", in, ie, qn, qe)
	if *toggle > 0 && len(onP99) > 0 && len(offP99) > 0 {
		on, off := median(onP99), median(offP99)
		fmt.Printf("ingest p99 per %s window, median: %.1f ms with %d heavy queries (%d windows), %.1f ms without (%d windows): %.2fx\n",
			*toggle, on, *heavy, len(onP99), off, len(offP99), on/off)
	}
	if *toggle > 0 && len(onTrace) > 0 && len(offTrace) > 0 {
		fmt.Printf("in gmc's traces, with the heavy queries: %s\n", summarise(onTrace))
		fmt.Printf("in gmc's traces, without them:          %s\n", summarise(offTrace))
	}
	return nil
}

// median of xs (not empty), NaNs last.
func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if n := len(s); n%2 == 0 {
		return (s[n/2-1] + s[n/2]) / 2
	}
	return s[len(s)/2]
}

// windows are -heavy-toggle's: from start, every other window of length
// every (the second, fourth, ...) has the heavy queries; every 0: always.
type windows struct {
	start time.Time
	every time.Duration
}

func (w windows) on(t time.Time) bool { return w.every == 0 || int(t.Sub(w.start)/w.every)%2 == 1 }

// next is the start of the window after the one holding t.
func (w windows) next(t time.Time) time.Time {
	return w.start.Add((t.Sub(w.start)/w.every + 1) * w.every)
}

// slopePerHour is the least-squares slope of f over the samples, per hour;
// samples where f is NaN are skipped.
func slopePerHour(ss []sample, f func(sample) float64) float64 {
	var n, sx, sy, sxx, sxy float64
	for _, s := range ss {
		y := f(s)
		if math.IsNaN(y) {
			continue
		}
		x := s.at.Hours()
		n++
		sx, sy, sxx, sxy = sx+x, sy+y, sxx+x*x, sxy+x*y
	}
	if d := n*sxx - sx*sx; n >= 2 && d != 0 {
		return (n*sxy - sx*sy) / d
	}
	return math.NaN()
}

// heavyLoop runs the heaviest query a dashboard user can ask, again and
// again: every soak series over span at a 1 s step.
//
// With windows that toggle, it runs only in their "on" windows, and a query
// still running at the end of one is canceled (and not counted).
func heavyLoop(ctx context.Context, client *http.Client, base string, span time.Duration, win windows, lat *latencies) {
	for ctx.Err() == nil {
		now := time.Now()
		qctx, cancel := ctx, context.CancelFunc(func() {})
		if win.every > 0 {
			if !win.on(now) {
				select {
				case <-ctx.Done():
				case <-time.After(time.Until(win.next(now))):
				}
				continue
			}
			qctx, cancel = context.WithDeadline(ctx, win.next(now))
		}
		v := url.Values{"query": {`{__name__=~"soak_.+"}`}, "start": {strconv.FormatInt(now.Add(-span).Unix(), 10)},
			"end": {strconv.FormatInt(now.Unix(), 10)}, "step": {"1"}}
		timed(qctx, client, base+"/api/v1/query_range?"+v.Encode(), lat)
		cancel()
	}
}

// backfillAll writes span of history for every service, at interval, ending
// now; it returns the samples written.
func backfillAll(ctx context.Context, client *http.Client, base string, gens []*generator, span, interval time.Duration) (int, error) {
	end := time.Now()
	rounds := int(span / interval)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var total int
	var firstErr error
	sem := make(chan struct{}, 4)
	for _, g := range gens {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			var ts []prompb.TimeSeries
			flush := func() error {
				b, err := (&prompb.WriteRequest{Timeseries: ts}).Marshal()
				if err != nil {
					return err
				}
				mu.Lock()
				for _, s := range ts {
					total += len(s.Samples)
				}
				mu.Unlock()
				ts = ts[:0]
				return post(ctx, client, base+"/api/v1/write", snappy.Encode(nil, b))
			}
			for r := range rounds {
				ts = g.next(ts, end.Add(-time.Duration(rounds-r)*interval).UnixMilli())
				if len(ts) >= 2000 || r == rounds-1 {
					if err := flush(); err != nil {
						mu.Lock()
						firstErr = cmp.Or(firstErr, err)
						mu.Unlock()
						return
					}
				}
			}
		})
	}
	wg.Wait()
	return total, firstErr
}

// generator is one simulated service's metrics: 4 endpoints' request and
// error counters, a latency histogram per endpoint (8 buckets), a queue
// depth and a CPU gauge — 54 series.
type generator struct {
	rng  *rand.Rand
	name string
	reqs [4]float64
	errs [4]float64
	hist [4][9]float64 // cumulative, +Inf last
	sum  [4]float64
}

var (
	endpoints = []string{"submit", "cancel", "quote", "status"}
	buckets   = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1}
)

func newGenerator(svc int) *generator {
	return &generator{rng: rand.New(rand.NewPCG(uint64(svc), 7)), name: fmt.Sprintf("svc-%02d", svc)}
}

// next advances the service by one interval and appends its samples at t.
func (g *generator) next(ts []prompb.TimeSeries, t int64) []prompb.TimeSeries {
	add := func(v float64, kv ...string) {
		ls := []prompb.Label{{Name: "__name__", Value: kv[0]}}
		for i := 1; i+1 < len(kv); i += 2 {
			ls = append(ls, prompb.Label{Name: kv[i], Value: kv[i+1]})
		}
		ls = append(ls, prompb.Label{Name: "instance", Value: g.name + "-1"}, prompb.Label{Name: "service", Value: g.name})
		slices.SortFunc(ls, func(a, b prompb.Label) int { return strings.Compare(a.Name, b.Name) })
		ts = append(ts, prompb.TimeSeries{Labels: ls, Samples: []prompb.Sample{{Value: v, Timestamp: t}}})
	}
	for e, ep := range endpoints {
		n := 50 + g.rng.IntN(100)
		g.reqs[e] += float64(n)
		g.errs[e] += float64(g.rng.IntN(3))
		for range n {
			l := g.rng.ExpFloat64() * 0.02
			g.sum[e] += l
			for b, ub := range buckets {
				if l <= ub {
					g.hist[e][b]++
				}
			}
			g.hist[e][8]++
		}
		add(g.reqs[e], "soak_requests_total", "endpoint", ep)
		add(g.errs[e], "soak_errors_total", "endpoint", ep)
		for b, ub := range buckets {
			add(g.hist[e][b], "soak_latency_seconds_bucket", "endpoint", ep, "le", strconv.FormatFloat(ub, 'g', -1, 64))
		}
		add(g.hist[e][8], "soak_latency_seconds_bucket", "endpoint", ep, "le", "+Inf")
		add(g.hist[e][8], "soak_latency_seconds_count", "endpoint", ep)
		add(g.sum[e], "soak_latency_seconds_sum", "endpoint", ep)
	}
	add(float64(g.rng.IntN(50)), "soak_queue_depth")
	add(20+g.rng.Float64()*30, "soak_cpu_percent")
	return ts
}

// pushLoop is one service remote-writing its metrics every interval (after
// a backfill, its counters go on from there).
func pushLoop(ctx context.Context, client *http.Client, base string, g *generator, interval time.Duration, lat *latencies) {
	// Services start spread over the interval, as real ones do.
	select {
	case <-ctx.Done():
		return
	case <-time.After(time.Duration(g.rng.Int64N(int64(interval)))):
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		ts := g.next(nil, time.Now().UnixMilli())
		b, err := (&prompb.WriteRequest{Timeseries: ts}).Marshal()
		if err == nil {
			t0 := time.Now()
			err = post(ctx, client, base+"/api/v1/write", snappy.Encode(nil, b))
			if ctx.Err() != nil {
				return
			}
			lat.add(time.Since(t0), err)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func post(ctx context.Context, client *http.Client, u string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Encoding", "snappy")
	req.Header.Set("Content-Type", "application/x-protobuf")
	return do(client, req, http.StatusNoContent)
}

func do(client *http.Client, req *http.Request, want int) error {
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != want {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
		return fmt.Errorf("%s %s: %d %s", req.Method, req.URL.Path, resp.StatusCode, b)
	}
	// Read to the end, keeping nothing: holding each heavy answer (~60 MB
	// of JSON) made the harness's own collector compete with gmc for CPU.
	_, err = io.Copy(io.Discard, resp.Body)
	return err
}

// cpuSeconds is the CPU time (user + system) process pid has used; NaN if
// unreadable. "self" is this process.
func cpuSeconds(pid string) float64 {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return math.NaN()
	}
	// Fields after the command name (in parentheses): utime and stime are
	// the 12th and 13th, in clock ticks (100 a second on Linux).
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(f) < 13 {
		return math.NaN()
	}
	u, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (u + st) / 100
}

// queryLoop refreshes a dashboard every interval: the range queries of
// dashboardQueries over the last hour at a 15 s step, then /system/status;
// each request's latency counts on its own.
func queryLoop(ctx context.Context, client *http.Client, base string, interval time.Duration, lat *latencies) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		now := time.Now()
		for _, q := range dashboardQueries {
			v := url.Values{"query": {q}, "start": {strconv.FormatInt(now.Add(-time.Hour).Unix(), 10)},
				"end": {strconv.FormatInt(now.Unix(), 10)}, "step": {"15"}}
			timed(ctx, client, base+"/api/v1/query_range?"+v.Encode(), lat)
		}
		timed(ctx, client, base+"/system/status", lat)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func timed(ctx context.Context, client *http.Client, u string, lat *latencies) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return
	}
	t0 := time.Now()
	err = do(client, req, http.StatusOK)
	if ctx.Err() == nil {
		lat.add(time.Since(t0), err)
	}
}

// scrape reads gmc's own /metrics: every sample by its series as written
// (name{labels}); nil when unreadable.
func scrape(client *http.Client, base string) map[string]float64 {
	resp, err := client.Get(base + "/metrics")
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	m := map[string]float64{}
	for _, line := range strings.Split(string(b), "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
			m[line[:i]] = v
		}
	}
	return m
}

// bucketQuantile is the q-quantile of histogram name's observations between
// the scrapes prev and cur (summed over its label sets), as the upper bound
// of the bucket it falls in, in ms ("?" without observations).
func bucketQuantile(cur, prev map[string]float64, name string, q float64) string {
	counts := map[float64]float64{}
	for k, v := range cur {
		rest, ok := strings.CutPrefix(k, name+"_bucket{")
		if !ok {
			continue
		}
		_, le, ok := strings.Cut(rest, `le="`)
		if !ok {
			continue
		}
		le, _, _ = strings.Cut(le, `"`)
		bound, err := strconv.ParseFloat(le, 64)
		if err != nil {
			continue
		}
		counts[bound] += v - prev[k]
	}
	bounds := slices.Sorted(maps.Keys(counts))
	if len(bounds) == 0 || counts[bounds[len(bounds)-1]] <= 0 {
		return "?"
	}
	total := counts[bounds[len(bounds)-1]]
	for _, b := range bounds {
		if counts[b] >= q*total {
			return strconv.FormatFloat(b*1000, 'g', 3, 64)
		}
	}
	return "?"
}

// metric is m's value of series, NaN when absent.
func metric(m map[string]float64, series string) float64 {
	if v, ok := m[series]; ok {
		return v
	}
	return math.NaN()
}

// sumOf is the sum of m's series whose name is name and whose labels
// contain every one of match (e.g. `lane="small"`); 0 when none.
func sumOf(m map[string]float64, name string, match ...string) float64 {
	var sum float64
	for k, v := range m {
		rest, ok := strings.CutPrefix(k, name)
		if !ok || (rest != "" && rest[0] != '{') {
			continue
		}
		all := true
		for _, want := range match {
			all = all && strings.Contains(rest, want)
		}
		if all {
			sum += v
		}
	}
	return sum
}

// laneFigures are one query lane's figures over a report interval, from
// gmc_query_lane_* counters (deltas between two scrapes).
type laneFigures struct {
	admitted, fromRules, timeouts, waitSum, waitCount float64
}

func lanesOf(m map[string]float64) map[string]laneFigures {
	out := map[string]laneFigures{}
	for _, lane := range []string{"small", "heavy"} {
		l := `lane="` + lane + `"`
		out[lane] = laneFigures{
			admitted:  sumOf(m, "gmc_query_lane_admitted_total", l),
			fromRules: sumOf(m, "gmc_query_lane_admitted_total", l, `source="gmc"`),
			timeouts:  sumOf(m, "gmc_query_lane_queue_timeouts_total", l),
			waitSum:   sumOf(m, "gmc_query_lane_wait_seconds_sum", l),
			waitCount: sumOf(m, "gmc_query_lane_wait_seconds_count", l),
		}
	}
	return out
}

// countFDs is the number of open file descriptors of pid.
func countFDs(pid int) float64 {
	ents, err := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/fd")
	if err != nil {
		return math.NaN()
	}
	return float64(len(ents))
}

// loadAvg is the machine's 1-minute load average, to read the figures by.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Fields(string(b))[0]
}
