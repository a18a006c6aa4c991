// Command alerting measures push → notification latency side by side in one
// run: gmc (threshold rule evaluated when the push arrives, webhook
// receiver) against Prometheus 2.42 + Alertmanager 0.25 at their tightest
// settings (remote-write receiver, rule evaluated every 1 s or faster with
// for: 0s, Alertmanager group_wait 0s). Each iteration remote-writes a
// breaching sample of a new series, stops the clock when the harness's
// loopback webhook receives the firing notification, then writes a healthy
// sample (its resolve is timed too). Breaches start on an open-loop
// schedule, 150–350 ms apart, the same for every target.
//
//	go run ./bench/alerting                       # builds ./cmd/gmc, 200 breaches per target
//	go run ./bench/alerting -n 50 -prom-eval 1s   # quicker
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/gmc-dev/gmc/bench/internal/proc"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "bench/alerting:", err)
		os.Exit(1)
	}
}

type options struct {
	n                  int
	warmup             int
	gmcBin             string
	promBin, amBin     string
	gmcEval            time.Duration
	promEvals          []time.Duration
	pauseMin, pauseMax time.Duration
	timeout            time.Duration
	budget             time.Duration
	keep               string
	verbose            bool
}

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	fs := flag.NewFlagSet("alerting", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o := &options{}
	fs.IntVar(&o.n, "n", 200, "breaches measured per target")
	fs.IntVar(&o.warmup, "warmup", 3, "unmeasured breaches first (the first may wait for Prometheus to find Alertmanager)")
	fs.StringVar(&o.gmcBin, "gmc", "", "gmc binary (default: go build ./cmd/gmc into a temp dir)")
	fs.StringVar(&o.promBin, "prometheus", "/usr/bin/prometheus", "Prometheus 2.42 binary")
	fs.StringVar(&o.amBin, "alertmanager", "/usr/bin/prometheus-alertmanager", "Alertmanager 0.25 binary")
	fs.DurationVar(&o.gmcEval, "gmc-eval", time.Second, "gmc's regular evaluation interval (pushes trigger evaluations regardless)")
	promEvals := fs.String("prom-eval", "1s,100ms", "Prometheus evaluation intervals, one Prometheus + Alertmanager run each")
	fs.DurationVar(&o.pauseMin, "pause-min", 150*time.Millisecond, "least time between two breaches")
	fs.DurationVar(&o.pauseMax, "pause-max", 350*time.Millisecond, "greatest time between two breaches (uniform, same seeded sequence for every target)")
	fs.DurationVar(&o.timeout, "timeout", 10*time.Second, "wait for one firing notification at most this long (then it counts as missed)")
	fs.DurationVar(&o.budget, "budget", 90*time.Second, "stop starting a target's breaches after this long")
	fs.StringVar(&o.keep, "keep", "", "keep data dirs, configs and logs in this directory")
	fs.BoolVar(&o.verbose, "v", false, "print each target's 5 slowest breaches with their start offsets")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	for _, s := range strings.Split(*promEvals, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("-prom-eval: %q is not a positive duration", s)
		}
		o.promEvals = append(o.promEvals, d)
	}
	if o.n < 1 || o.pauseMin < 0 || o.pauseMax < o.pauseMin {
		return nil, errors.New("-n must be ≥ 1 and 0 ≤ -pause-min ≤ -pause-max")
	}
	return o, nil
}

// result is one target's figures.
type result struct {
	name     string
	fire     []time.Duration // push → firing notification
	resolve  []time.Duration // healthy push → resolved notification
	missed   int
	resolveN int // healthy pushes sent
	// cores used over the measured breaches by the target's processes and
	// by every other process of the machine (a busy machine lengthens the
	// tails of every target)
	targetCPU, otherCPU float64
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	dir := o.keep
	if dir == "" {
		if dir, err = os.MkdirTemp("", "gmc-bench-alerting-"); err != nil {
			return err
		}
		defer os.RemoveAll(dir)
	}
	if o.gmcBin == "" {
		fmt.Fprintln(stderr, "building ./cmd/gmc …")
		if o.gmcBin, err = proc.BuildGMC(ctx, dir); err != nil {
			return err
		}
	}
	hook, err := startHook()
	if err != nil {
		return fmt.Errorf("start webhook listener: %w", err)
	}
	defer hook.close()

	type target struct {
		name  string
		start func(dir, hookURL string) (*system, error)
	}
	targets := []target{{
		name: "gmc",
		start: func(d, u string) (*system, error) {
			return startGMC(ctx, o.gmcBin, d, u, o.gmcEval)
		},
	}}
	_, errProm := os.Stat(o.promBin)
	_, errAM := os.Stat(o.amBin)
	for _, ev := range o.promEvals {
		if errProm != nil || errAM != nil {
			fmt.Fprintf(stderr, "skipping Prometheus + Alertmanager: %v %v (apt-get install prometheus prometheus-alertmanager)\n", errProm, errAM)
			break
		}
		targets = append(targets, target{
			name: "prometheus+alertmanager eval " + promDuration(ev),
			start: func(d, u string) (*system, error) {
				return startPrometheusAM(ctx, o.promBin, o.amBin, d, u, ev)
			},
		})
	}

	var results []*result
	for k, t := range targets {
		tdir := filepath.Join(dir, fmt.Sprintf("%d-%s", k, strings.Fields(t.name)[0]))
		if err := os.MkdirAll(tdir, 0o755); err != nil {
			return err
		}
		url, rec := hook.register(fmt.Sprint(k))
		fmt.Fprintf(stderr, "%s: starting …\n", t.name)
		sys, err := t.start(tdir, url)
		if err != nil {
			return fmt.Errorf("%s: %w", t.name, err)
		}
		r, err := measure(ctx, o, t.name, sys, rec, stderr)
		sys.stop()
		if err != nil {
			return fmt.Errorf("%s: %w", t.name, err)
		}
		results = append(results, r)
	}
	report(stdout, o, results)
	return nil
}

// measure runs the warm-up (one breach at a time) and then the measured
// breaches on an open-loop schedule: breach i is pushed at a fixed offset
// from the start, gaps drawn uniformly from [pause-min, pause-max] with the
// same seed for every target, whatever the target's latency. So each breach
// falls at a random phase of a target's evaluation tick. (A closed loop —
// push, wait for the notification, pause, push — would lock the breaches
// to Prometheus's tick: each breach would come a fixed pause after the tick
// that fired the previous one.) Each breach waits for its firing
// notification, then pushes the healthy value and times the resolve.
func measure(ctx context.Context, o *options, name string, sys *system, rec *recorder, stderr io.Writer) (*result, error) {
	p := newPusher(sys.pushAddr)
	// healthy writes the healthy value at least 1 ms after the breach, so it
	// is a new sample of the series.
	healthy := func(i int, breach time.Time) (time.Time, error) {
		for time.Now().UnixMilli() <= breach.UnixMilli() {
			time.Sleep(200 * time.Microsecond)
		}
		return p.push(ctx, i, 10)
	}
	const warmBase = 1_000_000
	for w := range o.warmup {
		i := warmBase + w
		sent, err := p.push(ctx, i, 5000)
		if err != nil {
			return nil, err
		}
		if _, ok := rec.wait(i, false, sent.Add(60*time.Second)); !ok {
			return nil, fmt.Errorf("warm-up breach %d: no firing notification within 60s%s", w, sys.diagnose())
		}
		hs, err := healthy(i, sent)
		if err != nil {
			return nil, err
		}
		if _, ok := rec.wait(i, true, hs.Add(30*time.Second)); !ok {
			return nil, fmt.Errorf("warm-up breach %d: no resolved notification within 30s", w)
		}
	}

	type outcome struct {
		fire, resolve   time.Duration
		offset          time.Duration
		fired, resolved bool
		err             error
	}
	out := make([]outcome, o.n)
	rng := rand.New(rand.NewPCG(4, 2))
	cpu0 := snapshot(sys)
	var wg sync.WaitGroup
	start := time.Now()
	next := start
	sent := 0
	for i := range o.n {
		if i > 0 {
			next = next.Add(o.pauseMin + time.Duration(rng.Int64N(int64(o.pauseMax-o.pauseMin)+1)))
		}
		if next.Sub(start) > o.budget {
			fmt.Fprintf(stderr, "%s: budget %s spent after %d breaches\n", name, o.budget, i)
			break
		}
		select {
		case <-ctx.Done():
			wg.Wait()
			return nil, ctx.Err()
		case <-time.After(time.Until(next)):
		}
		sent++
		wg.Go(func() {
			oc := &out[i]
			t0, err := p.push(ctx, i, 5000)
			oc.offset = t0.Sub(start)
			if err != nil {
				oc.err = err
				return
			}
			fired, ok := rec.wait(i, false, t0.Add(o.timeout))
			if ok {
				oc.fire, oc.fired = fired.Sub(t0), true
			}
			hs, err := healthy(i, t0)
			if err != nil {
				oc.err = err
				return
			}
			if res, ok := rec.wait(i, true, hs.Add(o.timeout)); ok {
				oc.resolve, oc.resolved = res.Sub(hs), true
			}
		})
		if (i+1)%50 == 0 {
			fmt.Fprintf(stderr, "%s: %d breaches\n", name, i+1)
		}
	}
	wg.Wait()
	r := &result{name: name, resolveN: sent}
	r.targetCPU, r.otherCPU = usage(cpu0, snapshot(sys))
	for _, oc := range out[:sent] {
		if oc.err != nil {
			return nil, oc.err
		}
		if oc.fired {
			r.fire = append(r.fire, oc.fire)
		} else {
			r.missed++
		}
		if oc.resolved {
			r.resolve = append(r.resolve, oc.resolve)
		}
	}
	if o.verbose {
		idx := make([]int, sent)
		for i := range idx {
			idx[i] = i
		}
		slices.SortFunc(idx, func(a, b int) int { return int(out[b].fire - out[a].fire) })
		for _, i := range idx[:min(5, len(idx))] {
			fmt.Fprintf(stderr, "%s: breach %d at +%s took %s\n", name, i, out[i].offset.Round(time.Millisecond), ms(out[i].fire))
		}
	}
	if n := rec.badPayloads(); n > 0 {
		fmt.Fprintf(stderr, "%s: %d webhook payloads did not decode\n", name, n)
	}
	return r, nil
}

// quantile is the nearest-rank q-quantile of sorted ds.
func quantile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	k := int(float64(len(ds))*q+0.999999) - 1
	return ds[max(0, min(k, len(ds)-1))]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }

func report(w io.Writer, o *options, rs []*result) {
	fmt.Fprintf(w, "\npush → notification latency (remote-write of a breaching sample → webhook receives the firing notification), %d breaches per target\n\n", o.n)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "target\tn\tmedian\tp99\tmax\tmissed\tresolve median\tresolve p99\tresolved\ttarget CPU\tother CPU\t")
	for _, r := range rs {
		slices.Sort(r.fire)
		slices.Sort(r.resolve)
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%d\t%s\t%s\t%d/%d\t%.0f%%\t%.0f%%\t\n", r.name, len(r.fire),
			ms(quantile(r.fire, 0.5)), ms(quantile(r.fire, 0.99)), ms(quantile(r.fire, 1)), r.missed,
			ms(quantile(r.resolve, 0.5)), ms(quantile(r.resolve, 0.99)), len(r.resolve), r.resolveN,
			100*r.targetCPU, 100*r.otherCPU)
	}
	tw.Flush()
	fmt.Fprintln(w, "\nCPU: 100% = one core, over the measured breaches; other CPU above a few % means the machine was busy and the tails are not the targets' own.")
	if len(rs) < 2 || len(rs[0].fire) == 0 {
		return
	}
	g := rs[0]
	fmt.Fprintln(w)
	for _, r := range rs[1:] {
		if len(r.fire) == 0 {
			continue
		}
		ratio := func(q float64) float64 {
			return float64(quantile(r.fire, q)) / float64(max(quantile(g.fire, q), time.Microsecond))
		}
		fmt.Fprintf(w, "%s / gmc: median ×%.3g, p99 ×%.3g, max ×%.3g\n", r.name, ratio(0.5), ratio(0.99), ratio(1))
	}
	fmt.Fprintf(w, "\ngmc goal (issue 4): p99 ≤ 250 ms; measured p99 %s\n", ms(quantile(g.fire, 0.99)))
}
