package main

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/performance"
	"github.com/chromedp/chromedp"
	"github.com/prometheus/procfs"
)

// browser is one headless Chromium; each measurement opens its own tabs.
type browser struct {
	ctx     context.Context
	cancel  func()
	userDir string
}

func newBrowser(ctx context.Context, bin string) (*browser, error) {
	dir, err := os.MkdirTemp("", "gmc-bench-dashboard-chromium-")
	if err != nil {
		return nil, err
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin),
		chromedp.NoSandbox,
		chromedp.Headless,
		chromedp.DisableGPU,
		chromedp.UserDataDir(dir),
		chromedp.WindowSize(1440, 1000),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-dev-shm-usage", true),
	)
	actx, cancelA := chromedp.NewExecAllocator(ctx, opts...)
	bctx, cancelB := chromedp.NewContext(actx)
	b := &browser{ctx: bctx, cancel: func() { cancelB(); cancelA() }, userDir: dir}
	if err := chromedp.Do(bctx); err != nil {
		b.close()
		return nil, fmt.Errorf("start chromium: %w", err)
	}
	return b, nil
}

func (b *browser) close() {
	b.cancel()
	_ = os.RemoveAll(b.userDir)
}

// probe runs in every document before the dashboard: it records when
// #page's data-refreshed (main.js counts completed refreshes in it) changes,
// in performance.now() milliseconds since the navigation started. The
// first completed refresh is the page drawn: every page draws its charts
// synchronously at the end of its refresh.
const probe = `(() => {
  const g = window.__gmcBench = {drawn: null, refreshes: [], errors: 0};
  new MutationObserver((ms) => {
    for (const m of ms) {
      if (m.target.id !== 'page') continue;
      if (m.attributeName === 'data-error') { if (m.target.dataset.error) g.errors++; continue; }
      if (Number(m.target.dataset.refreshed || 0) < 1) continue;
      const t = performance.now();
      if (g.drawn == null) {
        g.drawn = t;
        // The frame that shows it: its rendering (style, layout, paint)
        // runs after the rAF callbacks, and a message posted from one is
        // taken after that frame's main-thread work and any task queued
        // before it (raster and display on other threads follow).
        g.painted = null;
        requestAnimationFrame(() => {
          const ch = new MessageChannel();
          ch.port1.onmessage = () => { if (g.drawn === t) g.painted = performance.now(); };
          ch.port2.postMessage(0);
        });
        // In a -timeline trace: where the load ends (cpu.py-style readers sum the main thread up to it).
        performance.mark('gmc:drawn');
        // What the user sees then: the charts on the screen with data, and
        // those of them without their plot drawn (not made, or holding data
        // not drawn: chart.js Lazy). A page that left a chart on the screen
        // for later would be timed before it shows what it has; this says
        // so. (Read after t: its layout is the frame's, done earlier.)
        g.onScreen = 0;
        g.unseen = 0;
        for (const el of document.querySelectorAll('[data-chart]')) {
          const r = el.getBoundingClientRect();
          if (r.bottom <= 0 || r.top >= innerHeight || r.width === 0 || !(Number(el.dataset.points) > 0)) continue;
          g.onScreen++;
          const c = el.chart;
          if (c && (!c._u || c.pending || c.stale)) g.unseen++;
        }
        // And the table rows' sparklines (chart.js Sparks): those on the
        // screen, and those of them still a placeholder.
        g.sparks = 0;
        g.sparksUnseen = 0;
        for (const el of document.querySelectorAll('td[data-spark]')) {
          const r = el.getBoundingClientRect();
          if (r.bottom <= 0 || r.top >= innerHeight || r.width === 0) continue;
          g.sparks++;
          if (el.querySelector('.spark-wait')) g.sparksUnseen++;
        }
        // What the first refresh waited for: every request so far, in ms since navigation start.
        g.trace = performance.getEntriesByType('resource').map((e) => ({name: e.name, type: e.initiatorType, start: e.startTime, ttfb: e.responseStart, end: e.responseEnd, size: e.transferSize}));
        const nav = performance.getEntriesByType('navigation')[0];
        if (nav) g.trace.unshift({name: 'document', type: 'navigation', start: nav.startTime, ttfb: nav.responseStart, end: nav.domContentLoadedEventEnd, size: nav.transferSize});
      }
      g.refreshes.push(t);
      if (g.refreshes.length > 100000) g.refreshes.shift();
    }
  }).observe(document, {subtree: true, attributes: true, attributeFilter: ['data-refreshed', 'data-error']});
})();`

// tab opens a new tab with the probe installed.
func (b *browser) tab() (context.Context, context.CancelFunc, error) {
	tctx, cancel := chromedp.NewContext(b.ctx)
	_, err := chromedp.Call(tctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: probe})
	if err != nil {
		cancel()
		return nil, nil, fmt.Errorf("open a tab: %w", err)
	}
	return tctx, cancel, nil
}

// do runs one action with a timeout.
func do[T any](ctx context.Context, d time.Duration, a chromedp.Action[T]) (T, error) {
	c, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	return chromedp.Run(c, a)
}

// waitPainted waits for the frame after the charts were drawn (the
// probe's painted, see there) and returns its time (ms since navigation
// start), 0 when none came within 5 s (no frames: a hidden tab).
func waitPainted(ctx context.Context) float64 {
	p, err := do(ctx, 5*time.Second,
		chromedp.Poll[float64](`window.__gmcBench && window.__gmcBench.painted`, chromedp.WithPollingInterval(20*time.Millisecond), chromedp.WithPollingTimeout(0)))
	if err != nil {
		return 0
	}
	return p
}

// waitDrawn waits until the tab's page completed its first refresh and
// returns that time (ms since navigation start).
func waitDrawn(ctx context.Context) (float64, error) {
	var drawn float64
	var err error
	// A poll started while the tab still swapped documents loses its
	// context ("Cannot find context with specified id"): poll again.
	for range 3 {
		drawn, err = do(ctx, 60*time.Second,
			chromedp.Poll[float64](`window.__gmcBench && window.__gmcBench.drawn`, chromedp.WithPollingInterval(20*time.Millisecond), chromedp.WithPollingTimeout(0)))
		if err == nil || !strings.Contains(err.Error(), "Cannot find context") {
			break
		}
	}
	if err != nil {
		msg, _ := do(ctx, 5*time.Second, chromedp.Evaluate[string](`document.getElementById('page')?.dataset.error || ''`))
		return 0, fmt.Errorf("page not drawn within 60s (page error %q): %w", msg, err)
	}
	return drawn, nil
}

// traceEntry is one request a page made before its first refresh completed
// (Resource Timing, ms since navigation start); the document's entry ends
// at DOMContentLoaded.
type traceEntry struct {
	Name  string  `json:"name"`
	Type  string  `json:"type"`
	Start float64 `json:"start"`
	TTFB  float64 `json:"ttfb"`
	End   float64 `json:"end"`
	Size  float64 `json:"size"`
}

// loadMode is how a measured load opens its new document.
type loadMode int

const (
	// newTab: a new tab (a new DevTools target) per load, closed after it;
	// Chromium starts a renderer process for each (rendererStarts counts
	// them).
	newTab loadMode = iota
	// sameTab: one tab showing the dashboard; each load replaces its
	// address with the page's and reloads it (a new document in the same
	// renderer: a user's reload, or an address typed into a tab already on
	// gmc).
	sameTab
)

func (m loadMode) String() string {
	if m == newTab {
		return "new tab"
	}
	return "same tab"
}

// loads is what loadTimes measured: each load's navigation start →
// charts drawn, the requests of the last load (see traceEntry), how many
// renderer processes Chromium started during the measured loads and, with
// a timeline, the last load's main-thread CPU.
type loads struct {
	times          []time.Duration
	trace          []traceEntry
	rendererStarts int
	// cpu, cpuAfter: each measured load's main-thread CPU to charts drawn
	// and in the second after (-timeline: every measured load is traced).
	cpu, cpuAfter []time.Duration
	// cpuDrawing: each measured load's thread time of the task that drew
	// it, up to drawn (recorder.mainCPU).
	cpuDrawing []time.Duration
	// painted: each measured load's drawn → the end of the frame showing
	// it (the main thread's style, layout and paint of that frame).
	painted []time.Duration
	// shown: the charts on the screen at drawn, over every measured load.
	shown onScreen
}

// onScreen counts, over loads, the charts with data on the screen when a
// page was drawn (charts) and those of them whose plot was not drawn then
// (unseen): the load time of a page that leaves them for later ends before
// the user sees them; the same of table sparklines (sparks, sparksUnseen:
// a placeholder where its line is not drawn yet).
type onScreen struct{ charts, unseen, sparks, sparksUnseen int }

func (o *onScreen) add(p onScreen) {
	o.charts += p.charts
	o.unseen += p.unseen
	o.sparks += p.sparks
	o.sparksUnseen += p.sparksUnseen
}

// chartsAtDrawn reads the probe's count of charts on the screen at drawn.
func chartsAtDrawn(ctx context.Context) onScreen {
	v, err := do(ctx, 10*time.Second, chromedp.Evaluate[[]int](`[window.__gmcBench.onScreen || 0, window.__gmcBench.unseen || 0, window.__gmcBench.sparks || 0, window.__gmcBench.sparksUnseen || 0]`))
	if err != nil || len(v) != 4 {
		return onScreen{}
	}
	return onScreen{charts: v[0], unseen: v[1], sparks: v[2], sparksUnseen: v[3]}
}

// loadTimes loads u once to warm the cache, then n times more, each a new
// document opened as mode says. from is the page a same-tab load starts on.
func (b *browser) loadTimes(ctx context.Context, mode loadMode, u, from string, n int, prof *jsProfile, timeline string) (*loads, error) {
	out := &loads{}
	var tctx context.Context
	if mode == sameTab {
		c, cancel, err := b.tab()
		if err != nil {
			return nil, err
		}
		defer cancel()
		tctx = c
		if _, err := do(tctx, 30*time.Second, chromedp.Navigate(from)); err != nil {
			return nil, err
		}
		if _, err := waitDrawn(tctx); err != nil {
			return nil, err
		}
	}
	for i := 0; i <= n; i++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		before, _ := b.renderers()
		if mode == newTab {
			c, cancel, err := b.tab()
			if err != nil {
				return nil, err
			}
			defer cancel()
			tctx = c
		}
		if prof != nil && i > 0 {
			if err := startProfile(tctx); err != nil {
				return nil, err
			}
		}
		var rec *recorder
		var err error
		if timeline != "" && i > 0 {
			if rec, err = startTimeline(tctx); err != nil {
				return nil, err
			}
		}
		if mode == newTab {
			_, err = do(tctx, 30*time.Second, chromedp.Navigate(u))
		} else {
			// The address becomes u without a hash change the page would
			// follow, then the tab reloads it.
			_, err = do(tctx, 30*time.Second, chromedp.Steps(
				chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`history.replaceState(null, '', %q)`, u)),
				chromedp.Reload(),
			))
		}
		if err != nil {
			return nil, err
		}
		ms, err := waitDrawn(tctx)
		if err != nil {
			return nil, err
		}
		pm := waitPainted(tctx)
		if prof != nil && i > 0 {
			if err := prof.stopProfile(tctx); err != nil {
				return nil, err
			}
		}
		if rec != nil {
			// The second after the charts are drawn is traced too: work a
			// page leaves for later (charts off the screen) shows there.
			time.Sleep(time.Second)
			file := ""
			if i == n {
				file = timeline
			}
			if err := rec.stop(tctx, file); err != nil {
				return nil, err
			}
			if c, after, drawing, ok := rec.mainCPU(ms); ok {
				out.cpu = append(out.cpu, c)
				out.cpuAfter = append(out.cpuAfter, after)
				out.cpuDrawing = append(out.cpuDrawing, drawing)
			}
		}
		if i > 0 {
			out.shown.add(chartsAtDrawn(tctx))
			out.times = append(out.times, time.Duration(ms*float64(time.Millisecond)))
			if pm > 0 {
				out.painted = append(out.painted, time.Duration((pm-ms)*float64(time.Millisecond)))
			}
			after, _ := b.renderers()
			for pid := range after {
				if !before[pid] {
					out.rendererStarts++
				}
			}
		}
		if i == n {
			if out.trace, err = do(tctx, 10*time.Second, chromedp.Evaluate[[]traceEntry](`window.__gmcBench.trace || []`)); err != nil {
				return nil, err
			}
		}
		if mode == newTab && i < n {
			// Close it now: a tab per load left open would pile up renderers.
			if err := chromedp.Cancel(tctx); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// navTimes opens from in a tab, then n+1 times goes to to by the
// dashboard's own navigation (a hash change, as a click in its menu does:
// same document, no new renderer) and back, and returns each move's
// hash-change → charts-drawn time after the first (warm-up) one.
func (b *browser) navTimes(ctx context.Context, base, from, to string, n int) (times, painted []time.Duration, shown onScreen, err error) {
	tctx, cancel, err := b.tab()
	if err != nil {
		return nil, nil, shown, err
	}
	defer cancel()
	if _, err := do(tctx, 30*time.Second, chromedp.Navigate(base+"/#/"+from)); err != nil {
		return nil, nil, shown, err
	}
	if _, err := waitDrawn(tctx); err != nil {
		return nil, nil, shown, err
	}
	// go resets the probe and changes the hash in one task, so no refresh
	// of the page left can land in between; it returns the start time.
	const goJS = `((h) => { const g = window.__gmcBench; g.drawn = null; const t = performance.now(); location.hash = h; return t; })(%q)`
	for i := 0; i <= n; i++ {
		if err := ctx.Err(); err != nil {
			return nil, nil, shown, err
		}
		t0, err := do(tctx, 10*time.Second, chromedp.Evaluate[float64](fmt.Sprintf(goJS, "#/"+to)))
		if err != nil {
			return nil, nil, shown, err
		}
		drawn, err := waitDrawn(tctx)
		if err != nil {
			return nil, nil, shown, fmt.Errorf("%s after %s: %w", to, from, err)
		}
		pm := waitPainted(tctx)
		if i > 0 {
			shown.add(chartsAtDrawn(tctx))
			times = append(times, time.Duration((drawn-t0)*float64(time.Millisecond)))
			if pm > 0 {
				painted = append(painted, time.Duration((pm-drawn)*float64(time.Millisecond)))
			}
		}
		if _, err := do(tctx, 10*time.Second, chromedp.Evaluate[float64](fmt.Sprintf(goJS, "#/"+from))); err != nil {
			return nil, nil, shown, err
		}
		if _, err := waitDrawn(tctx); err != nil {
			return nil, nil, shown, fmt.Errorf("back to %s: %w", from, err)
		}
	}
	return times, painted, shown, nil
}

// transfer is what a page moved over the network in a window.
type transfer struct {
	window    time.Duration
	bytes     int64 // encoded bytes (headers + bodies as sent on the wire)
	requests  int
	refreshes int
	byKind    map[string]*kind
}

type kind struct {
	requests int
	bytes    int64
}

// requestKind groups requests by endpoint: query_range, query, labels,
// status, events, …
func requestKind(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "other"
	}
	p := u.Path
	switch {
	case strings.HasPrefix(p, "/api/v1/label/"):
		return "label values"
	case strings.HasPrefix(p, "/api/v1/"):
		return strings.TrimPrefix(p, "/api/v1/")
	case p == "/api/ui/events":
		return "event stream"
	}
	return p
}

// liveTransfer opens u (a Live page), waits for two refreshes and counts
// the bytes of every response that completes during d.
func (b *browser) liveTransfer(ctx context.Context, u string, d time.Duration) (*transfer, error) {
	tctx, cancel, err := b.tab()
	if err != nil {
		return nil, err
	}
	defer cancel()
	var mu sync.Mutex
	on := false
	t := &transfer{window: d, byKind: map[string]*kind{}}
	urls := map[network.RequestID]string{}
	add := func(id network.RequestID, n int64, newRequest bool) {
		k := requestKind(urls[id])
		if t.byKind[k] == nil {
			t.byKind[k] = &kind{}
		}
		t.byKind[k].bytes += n
		t.bytes += n
		if newRequest {
			t.byKind[k].requests++
			t.requests++
		}
	}
	err = chromedp.Listen(tctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch e := ev.(type) {
		case *network.EventRequestWillBeSent:
			urls[e.RequestID] = e.Request.URL
			if e.Type == network.ResourceTypeEventSource {
				urls[e.RequestID] = "/api/ui/events"
			}
		case *network.EventDataReceived:
			// The event stream never finishes: count its chunks.
			if on && requestKind(urls[e.RequestID]) == "event stream" {
				add(e.RequestID, e.EncodedDataLength, false)
			}
		case *network.EventLoadingFinished:
			if on && requestKind(urls[e.RequestID]) != "event stream" {
				add(e.RequestID, int64(e.EncodedDataLength), true)
			}
			delete(urls, e.RequestID)
		}
	})
	if err != nil {
		return nil, err
	}
	if _, err := chromedp.Call(tctx, network.Enable, network.EnableParams{}); err != nil {
		return nil, err
	}
	if _, err := do(tctx, 30*time.Second, chromedp.Navigate(u)); err != nil {
		return nil, err
	}
	if _, err := waitDrawn(tctx); err != nil {
		return nil, err
	}
	if _, err := do(tctx, 30*time.Second, chromedp.Poll[chromedp.Void](`window.__gmcBench.refreshes.length >= 2`)); err != nil {
		return nil, err
	}
	n0, err := do(tctx, 10*time.Second, chromedp.Evaluate[int](`window.__gmcBench.refreshes.length`))
	if err != nil {
		return nil, err
	}
	mu.Lock()
	on = true
	mu.Unlock()
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-time.After(d):
	}
	mu.Lock()
	on = false
	mu.Unlock()
	n1, err := do(tctx, 10*time.Second, chromedp.Evaluate[int](`window.__gmcBench.refreshes.length`))
	if err != nil {
		return nil, err
	}
	mu.Lock()
	defer mu.Unlock()
	t.refreshes = n1 - n0
	return t, nil
}

// kinds lists the request kinds by bytes, largest first.
func (t *transfer) kinds() []string {
	ks := make([]string, 0, len(t.byKind))
	for k := range t.byKind {
		ks = append(ks, k)
	}
	sort.Slice(ks, func(i, j int) bool { return t.byKind[ks[i]].bytes > t.byKind[ks[j]].bytes })
	return ks
}

// cadenceResult is the intervals between completed refreshes of every tab.
type cadenceResult struct {
	tabs      int
	window    time.Duration
	intervals []time.Duration
	refreshes []int           // per tab, within the window
	tails     []time.Duration // per tab, last refresh → end of the window
	visible   int             // tabs whose document.visibilityState was "visible" at the end
	// CPU seconds over the window (0 when not known: gmc given by -url)
	chromiumCPU, gmcCPU float64
	chromiumBy          map[string]float64 // Chromium's CPU seconds by process type
	gmcIdle             float64            // gmc's CPU seconds per second with no tab open
	// traced: with -timeline, every thread's CPU over the window (the
	// first tab's trace: Chromium traces all its processes) and where the
	// first tab's main thread spent it.
	traced *cadenceTrace
	// main: the first tab's main-thread seconds over the window (thread
	// time) by DevTools' Performance metric: TaskDuration, ScriptDuration,
	// LayoutDuration, RecalcStyleDuration.
	main map[string]float64
	// prof: with -profile, the first tab's main thread over the window
	// (V8's sampler), per refresh of it.
	prof *jsProfile
}

// cadence opens one tab per URL, waits until each has drawn, then records
// every tab's completed refreshes for d. With timeline set it traces the
// window (written to that file).
func (b *browser) cadence(ctx context.Context, urls []string, d time.Duration, gmcCPU func() (float64, error), timeline string, prof *jsProfile) (*cadenceResult, error) {
	// gmc's CPU with no tab open (ingest, rules): taken off its share below.
	var idle float64
	if gmcCPU != nil {
		a, _ := gmcCPU()
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(3 * time.Second):
		}
		b, _ := gmcCPU()
		idle = (b - a) / 3
	}
	tabs := make([]context.Context, len(urls))
	for i, u := range urls {
		tctx, cancel, err := b.tab()
		if err != nil {
			return nil, err
		}
		defer cancel()
		if _, err := do(tctx, 30*time.Second, chromedp.Navigate(u)); err != nil {
			return nil, fmt.Errorf("tab %d of %d did not load: %w", i+1, len(urls), err)
		}
		tabs[i] = tctx
	}
	for i, tctx := range tabs {
		if _, err := waitDrawn(tctx); err != nil {
			return nil, fmt.Errorf("tab %d of %d: %w", i+1, len(urls), err)
		}
	}
	var rec *recorder
	if timeline != "" {
		var err error
		if rec, err = startTimeline(tabs[0]); err != nil {
			return nil, err
		}
	}
	if prof != nil {
		if err := startProfile(tabs[0]); err != nil {
			return nil, err
		}
	}
	// The first tab's main thread in thread time (DevTools' Performance
	// metrics: task, script, layout, style), cheap enough to be always on.
	if _, err := chromedp.Call(tabs[0], performance.Enable, performance.EnableParams{TimeDomain: performance.EnableTimeDomainThreadTicks}); err != nil {
		return nil, err
	}
	metrics := func() map[string]float64 {
		m := map[string]float64{}
		if res, err := chromedp.Call(tabs[0], performance.GetMetrics, cdp.Empty{}); err == nil {
			for _, x := range res.Metrics {
				m[x.Name] = x.Value
			}
		}
		return m
	}
	m0 := metrics()
	starts := make([]float64, len(tabs))
	for i, tctx := range tabs {
		var err error
		// (The first tab's mark names its main thread in a trace.)
		js := `performance.now()`
		if i == 0 {
			js = `(performance.mark('gmc:cadence'), performance.now())`
		}
		if starts[i], err = do(tctx, 10*time.Second, chromedp.Evaluate[float64](js)); err != nil {
			return nil, err
		}
	}
	// CPU time over the window: Chromium's (every tab) and gmc's, when known.
	type cpuAt struct {
		chromium map[string]float64
		gmc      float64
	}
	cpu := func() (c cpuAt) {
		c.chromium, _ = b.cpuSeconds()
		if gmcCPU != nil {
			c.gmc, _ = gmcCPU()
		}
		return c
	}
	c0 := cpu()
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-time.After(d):
	}
	c1 := cpu()
	m1 := metrics()
	if prof != nil {
		if err := prof.stopProfile(tabs[0]); err != nil {
			return nil, err
		}
	}
	r := &cadenceResult{tabs: len(tabs), window: d, gmcCPU: c1.gmc - c0.gmc, gmcIdle: idle, chromiumBy: map[string]float64{}, main: map[string]float64{}}
	for _, k := range []string{"TaskDuration", "ScriptDuration", "LayoutDuration", "RecalcStyleDuration"} {
		r.main[k] = m1[k] - m0[k]
	}
	for k, v := range c1.chromium {
		r.chromiumBy[k] = v - c0.chromium[k]
		r.chromiumCPU += v - c0.chromium[k]
	}
	for i, tctx := range tabs {
		got, err := do(tctx, 10*time.Second, chromedp.Evaluate[struct {
			Now     float64   `json:"now"`
			TS      []float64 `json:"ts"`
			Visible string    `json:"visible"`
		}](`({now: performance.now(), ts: window.__gmcBench.refreshes, visible: document.visibilityState})`))
		if err != nil {
			return nil, err
		}
		if got.Visible == "visible" {
			r.visible++
		}
		ts := got.TS
		// The interval into the window counts too: a tab stuck before it shows.
		prev := -1.0
		n := 0
		for _, x := range ts {
			if x >= starts[i] {
				n++
				if prev >= 0 {
					r.intervals = append(r.intervals, time.Duration((x-prev)*float64(time.Millisecond)))
				}
			}
			prev = x
		}
		// So is the time since the last one: a tab that stopped shows.
		if prev >= 0 {
			r.tails = append(r.tails, time.Duration((got.Now-prev)*float64(time.Millisecond)))
		}
		r.refreshes = append(r.refreshes, n)
	}
	if prof != nil {
		// Per refresh of the profiled tab.
		prof.loads = max(1, r.refreshes[0])
		r.prof = prof
	}
	if rec != nil {
		if err := rec.stop(tabs[0], timeline); err != nil {
			return nil, err
		}
		r.traced = rec.cadence("gmc:cadence", d)
	}
	return r, nil
}

// renderers are the PIDs of Chromium's renderer processes now.
func (b *browser) renderers() (map[int]bool, error) {
	procs, err := procfs.AllProcs()
	if err != nil {
		return nil, err
	}
	out := map[int]bool{}
	for _, p := range procs {
		args, err := p.CmdLine()
		if err != nil {
			continue
		}
		// Chromium rewrites its processes' titles: the arguments may be one
		// string joined by spaces.
		cmd := " " + strings.Join(args, " ") + " "
		mine := strings.Contains(cmd, " --user-data-dir="+b.userDir+" ")
		renderer := strings.Contains(cmd, " --type=renderer ")
		if renderer && mine {
			out[p.PID] = true
		}
	}
	return out, nil
}

// cpuSeconds is the CPU time Chromium has used: its browser process (the
// one started with this browser's user data dir) and every process under
// it (renderers, GPU, network, zygotes), by process type (the --type=
// argument: renderer, gpu-process, utility, zygote; "browser" for the
// root).
func (b *browser) cpuSeconds() (map[string]float64, error) {
	procs, err := procfs.AllProcs()
	if err != nil {
		return nil, err
	}
	parent := map[int]int{}
	cpu := map[int]float64{}
	kind := map[int]string{}
	root := 0
	for _, p := range procs {
		st, err := p.Stat()
		if err != nil {
			continue // gone meanwhile
		}
		parent[p.PID] = st.PPID
		cpu[p.PID] = st.CPUTime()
		args, err := p.CmdLine()
		if err != nil {
			continue
		}
		// Chromium rewrites its processes' titles: the arguments may be
		// one string joined by spaces.
		fields := strings.Fields(strings.Join(args, " "))
		kind[p.PID] = "browser"
		for _, a := range fields {
			if t, ok := strings.CutPrefix(a, "--type="); ok {
				kind[p.PID] = t
			}
		}
		if root == 0 && kind[p.PID] == "browser" && !strings.HasPrefix(st.Comm, "go") && slices.Contains(fields, "--user-data-dir="+b.userDir) {
			root = p.PID
		}
	}
	if root == 0 {
		return nil, fmt.Errorf("no Chromium process with --user-data-dir=%s", b.userDir)
	}
	out := map[string]float64{}
	for pid, c := range cpu {
		for q := pid; q > 1; q = parent[q] {
			if q == root {
				out[kind[pid]] += c
				break
			}
		}
	}
	return out, nil
}
