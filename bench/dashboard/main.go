// Command dashboard measures gmc's web dashboard against the budgets of
// issue 13 in headless Chromium (the Debian package chromium, driven over
// the DevTools protocol with chromedp, as internal/web's browser tests are):
//
//   - load to charts drawn, per page, with 50 services pushing (≤ 300 ms on
//     an idle machine);
//   - the bytes per second a Live service page transfers (≤ 200 KB/s);
//   - whether Live keeps its 1 s cadence with 10 tabs open (the intervals
//     between the tabs' completed refreshes).
//
// It starts gmc (built from ./cmd/gmc unless -gmc is given) on a free
// loopback port with a temp data dir, seeds 15 minutes of data for
// -services services (internal/web/webtest, the browser tests' data) and
// keeps pushing one step a second while it measures. With -url it measures
// a gmc already running instead (gmc demo, say) and pushes nothing.
//
// Figures on a shared machine are noisy; the report prints the load
// average and how busy the other processes kept the cores.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/gmc-dev/gmc/bench/internal/proc"
	"github.com/gmc-dev/gmc/internal/web/webtest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "bench/dashboard:", err)
		os.Exit(1)
	}
}

type options struct {
	gmc, url, chromium, service string
	livePage                    string
	services, tabs, loads       int
	live, cadence               time.Duration
	pages                       string
	keep                        string
	trace, profile, loadsOnly   bool
	cadenceOnly                 bool
	floor                       bool
	hold                        time.Duration
	timeline                    string
}

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("dashboard", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.gmc, "gmc", "", "gmc binary (default: build ./cmd/gmc)")
	fs.StringVar(&o.url, "url", "", "measure the gmc at this URL (e.g. http://127.0.0.1:9900 of gmc demo) instead of starting one; nothing is pushed")
	fs.StringVar(&o.chromium, "chromium", "", "Chromium binary (default: chromium, chromium-browser or google-chrome on PATH)")
	fs.StringVar(&o.service, "service", webtest.Native, "the service whose page the Live figures are taken on")
	fs.StringVar(&o.livePage, "live-page", "", "the hash route whose Live transfer and tabs are measured (default: service/<-service>?range=live; e.g. overview?range=live)")
	fs.IntVar(&o.services, "services", 50, "simulated services pushing (without -url)")
	fs.IntVar(&o.tabs, "tabs", 10, "tabs open on Live pages for the cadence figure")
	fs.IntVar(&o.loads, "loads", 5, "measured loads per page (after one warm-up load)")
	fs.DurationVar(&o.live, "live", 20*time.Second, "how long the Live page's transfer is measured")
	fs.DurationVar(&o.cadence, "cadence", 20*time.Second, "how long the tabs' refresh intervals are measured")
	fs.StringVar(&o.pages, "pages", "", "comma-separated hash routes to time (default: every page of the dashboard)")
	fs.StringVar(&o.keep, "keep", "", "keep gmc's data dir and log in this directory")
	fs.BoolVar(&o.trace, "trace", false, "print, per page, the requests its last new-tab and last same-tab load made before its charts were drawn (start, first byte, end)")
	fs.BoolVar(&o.profile, "profile", false, "profile the main thread of the measured loads (V8's sampler; slows them) and print each page's top functions by self time")
	fs.BoolVar(&o.floor, "floor", true, "also time an empty page (served from loopback, nothing fetched or drawn) in a new tab and the same tab: the browser's own share of a load")
	fs.BoolVar(&o.cadenceOnly, "cadence-only", false, "no page loads: the Live page's transfer and the tabs' cadence only (with -timeline, the cadence window is traced into DIR/live-cadence.json)")
	fs.BoolVar(&o.loadsOnly, "loads-only", false, "time the page loads only (new tab, same tab, in-app navigation): no Live transfer or cadence figures")
	fs.StringVar(&o.timeline, "timeline", "", "trace every measured load (the report gives each page's main-thread CPU per load) and write the last one's Chrome trace into this directory (DevTools' Performance panel opens it)")
	fs.DurationVar(&o.hold, "hold", 0, "measure nothing: seed, keep pushing and hold gmc up this long (for DevTools or /debug/pprof), then stop")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if o.tabs < 1 || o.loads < 1 || o.live < time.Second || o.cadence < time.Second {
		return nil, errors.New("-tabs and -loads must be ≥ 1, -live and -cadence ≥ 1s")
	}
	return o, nil
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	o, err := parseFlags(args, os.Stderr)
	if err != nil {
		return err
	}
	if o.chromium == "" {
		for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
			if p, err := exec.LookPath(name); err == nil {
				o.chromium = p
				break
			}
		}
		if o.chromium == "" {
			return errors.New("chromium not found (apt-get install chromium, or -chromium PATH)")
		}
	}
	base := strings.TrimRight(o.url, "/")
	services := o.services
	var gmcCPU func() (float64, error)
	if base == "" {
		work := o.keep
		if work == "" {
			if work, err = os.MkdirTemp("", "gmc-bench-dashboard-"); err != nil {
				return err
			}
			defer os.RemoveAll(work)
		} else if err := os.MkdirAll(work, 0o755); err != nil {
			return err
		}
		if o.gmc == "" {
			if o.gmc, err = proc.BuildGMC(ctx, work); err != nil {
				return err
			}
		}
		addr, err := proc.FreeAddr()
		if err != nil {
			return err
		}
		gmc, err := proc.Start(ctx, proc.Options{
			Name: "gmc", Bin: o.gmc,
			Args:     []string{"server", "--web.listen-address", addr, "--storage.path", filepath.Join(work, "data"), "--log.level", "warn"},
			LogPath:  filepath.Join(work, "gmc.log"),
			ReadyURL: "http://" + addr + "/-/ready",
		})
		if err != nil {
			return err
		}
		defer gmc.Stop()
		gmcCPU = gmc.CPUSeconds
		base = "http://" + addr
		fmt.Fprintf(stdout, "bench/dashboard: gmc %s on %s, seeding 15m of %d services…\n", o.gmc, addr, o.services)
		data, err := webtest.Seed(ctx, base, webtest.Options{Services: o.services, Span: 15 * time.Minute, Step: 5 * time.Second})
		if err != nil {
			return err
		}
		pctx, stopPush := context.WithCancel(ctx)
		pushErr := make(chan error, 1)
		go func() { pushErr <- data.Live(pctx, base, time.Second) }()
		defer func() {
			stopPush()
			if err := <-pushErr; err != nil {
				fmt.Fprintln(os.Stderr, "bench/dashboard: pushing:", err)
			}
		}()
		if o.hold > 0 {
			fmt.Fprintf(stdout, "bench/dashboard: gmc at %s, %d services pushing; holding for %s (Ctrl-C stops)\n", base, o.services, o.hold)
			select {
			case <-ctx.Done():
			case <-time.After(o.hold):
			}
			return nil
		}
	} else {
		services = 0
	}

	b, err := newBrowser(ctx, o.chromium)
	if err != nil {
		return err
	}
	defer b.close()

	rep := &report{services: services, url: base, service: o.service, tabs: o.tabs}
	rep.before = machine()
	pages := defaultPages(o.service)
	if o.pages != "" {
		pages = strings.Split(o.pages, ",")
	}
	if o.cadenceOnly {
		pages = nil
	}
	if o.floor && len(pages) > 0 {
		if rep.floorTab, rep.floorSame, err = b.floorLoads(ctx, o.loads); err != nil {
			return err
		}
	}
	for _, p := range pages {
		var prof *jsProfile
		if o.profile {
			prof = &jsProfile{}
		}
		tl := func(mode string) string {
			if o.timeline == "" {
				return ""
			}
			return filepath.Join(o.timeline, strings.NewReplacer("/", "_", "?", "_", "=", "_").Replace(p)+"."+mode+".json")
		}
		// In the dashboard a page is opened from another by a hash change:
		// from the Overview, or to it from the SLA page. A same-tab load
		// starts there too.
		from := "overview?range=1h"
		if strings.HasPrefix(p, "overview") {
			from = "sla?range=1h"
		}
		tab, err := b.loadTimes(ctx, newTab, base+"/#/"+p, "", o.loads, prof, tl("newtab"))
		if err != nil {
			return fmt.Errorf("load %s in a new tab: %w", p, err)
		}
		same, err := b.loadTimes(ctx, sameTab, base+"/#/"+p, base+"/#/"+from, o.loads, nil, tl("sametab"))
		if err != nil {
			return fmt.Errorf("load %s in the same tab: %w", p, err)
		}
		nav, navPainted, navShown, err := b.navTimes(ctx, base, from, p, o.loads)
		if err != nil {
			return fmt.Errorf("navigate to %s: %w", p, err)
		}
		pl := pageLoad{page: p, tab: tab, same: same, nav: nav, navPainted: navPainted, navShown: navShown, prof: prof}
		if !o.trace {
			pl.tab.trace = nil
			pl.same.trace = nil
		}
		rep.loads = append(rep.loads, pl)
	}
	if o.loadsOnly {
		rep.after = machine()
		rep.print(stdout)
		return nil
	}
	if o.livePage == "" {
		o.livePage = "service/" + o.service + "?range=live"
	}
	rep.livePage = o.livePage
	liveURL := base + "/#/" + o.livePage
	if rep.live, err = b.liveTransfer(ctx, liveURL, o.live); err != nil {
		return fmt.Errorf("live transfer: %w", err)
	}
	urls := make([]string, o.tabs)
	for i := range urls {
		urls[i] = liveURL
	}
	// A failure here is a figure too (tabs that never drew): reported, not fatal.
	cadenceTrace := ""
	if o.timeline != "" {
		cadenceTrace = filepath.Join(o.timeline, "live-cadence.json")
	}
	var cprof *jsProfile
	if o.profile {
		cprof = &jsProfile{}
	}
	if rep.cadence, err = b.cadence(ctx, urls, o.cadence, gmcCPU, cadenceTrace, cprof); err != nil {
		rep.cadenceErr = err
	}
	rep.after = machine()
	rep.print(stdout)
	return nil
}

// defaultPages are the dashboard's pages with the range each opens with.
func defaultPages(service string) []string {
	return []string{
		"overview?range=1h",
		"service/" + service + "?range=1h",
		"service/" + webtest.Classic + "?range=1h",
		"host/host-1?range=1h",
		"trading?range=1h",
		"sla?range=1h",
		"alerts?range=1h",
		"benchmarks?range=30d",
		"overview?range=live",
		"service/" + service + "?range=live",
	}
}

// median of durations (0 for none).
func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// quantile by nearest rank.
func quantile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(q*float64(len(s))+0.5) - 1
	return s[max(0, min(i, len(s)-1))]
}
