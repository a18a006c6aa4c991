package main

import (
	"cmp"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/gmc-dev/gmc/bench/internal/proc"
)

// The budgets of issue 13.
const (
	loadBudget     = 300 * time.Millisecond
	transferBudget = 200e3 // bytes/s of a Live service page
	cadenceBudget  = 1500 * time.Millisecond
)

type pageLoad struct {
	page string
	// tab: a new document in a new tab; same: a new document in a tab
	// already on the dashboard (reloaded at the page's address).
	tab, same *loads
	// nav: the same page opened from another page of the dashboard (a
	// hash change in an open document), hash change → charts drawn.
	nav []time.Duration
	// navPainted: per in-app move, charts drawn → the frame showing them.
	navPainted []time.Duration
	// navShown: the charts on the screen at drawn, over the in-app moves.
	navShown onScreen
	prof     *jsProfile
}

type sample struct {
	at   time.Time
	busy float64 // machine CPU seconds (all processes)
	load string
}

func machine() sample {
	s := sample{at: time.Now()}
	s.busy, _ = proc.MachineBusyCPU()
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		s.load = strings.Join(strings.Fields(string(b))[:3], " ")
	}
	return s
}

type report struct {
	url, service   string
	livePage       string
	services, tabs int
	loads          []pageLoad
	// floorTab, floorSame: an empty page's loads (floor.go).
	floorTab, floorSame *loads
	live                *transfer
	cadence             *cadenceResult
	cadenceErr          error
	before, after       sample
}

func verdict(ok bool) string {
	if ok {
		return "ok"
	}
	return "OVER"
}

func ms(d time.Duration) string { return fmt.Sprintf("%.0f ms", float64(d.Microseconds())/1000) }

func (r *report) print(w io.Writer) {
	fmt.Fprintf(w, "\nbench/dashboard: %s", r.url)
	if r.services > 0 {
		fmt.Fprintf(w, ", %d services pushing every second", r.services)
	}
	busy := (r.after.busy - r.before.busy) / r.after.at.Sub(r.before.at).Seconds()
	fmt.Fprintf(w, "\nmachine: load average %s → %s; all processes used %.0f%% CPU (of %d00%%) while measuring (this harness, Chromium and gmc included)\n\n",
		r.before.load, r.after.load, 100*busy, numCPU())

	if len(r.loads) > 0 {
		r.printLoads(w)
		r.printFloor(w)
	}
	r.printLive(w)
}

func (r *report) printLoads(w io.Writer) {
	fmt.Fprintf(w, "Load → charts drawn (navigation start → the page's first completed refresh), three ways:\n"+
		"- new tab: a new tab per load (Chromium starts a renderer process for it: counted below);\n"+
		"- same tab: a tab on another dashboard page, its address replaced by the page's and reloaded, then reloaded again for each measured load (a new document in the same renderer, leaving the page itself);\n"+
		"- in-app: a menu link inside the open dashboard (a hash change; no new document).\n\n")
	fmt.Fprintf(w, "| page | new tab, median | max | renderers started | same tab, median | max | renderers started | in-app, median | max | budget |\n|---|---|---|---|---|---|---|---|---|---|\n")
	for _, l := range r.loads {
		t, s, n := median(l.tab.times), median(l.same.times), median(l.nav)
		fmt.Fprintf(w, "| %s | %s %s | %s | %d of %d loads | %s %s | %s | %d of %d loads | %s %s | %s | ≤ %s |\n", l.page,
			ms(t), verdict(t <= loadBudget), ms(slices.Max(l.tab.times)), l.tab.rendererStarts, len(l.tab.times),
			ms(s), verdict(s <= loadBudget), ms(slices.Max(l.same.times)), l.same.rendererStarts, len(l.same.times),
			ms(n), verdict(n <= loadBudget), ms(slices.Max(l.nav)), ms(loadBudget))
	}
	// Drawn is the page's word: the charts on the screen then must have
	// their plots, or the figure ends before the user sees them.
	var all onScreen
	var late, lateSparks []string
	for _, l := range r.loads {
		for _, x := range []struct {
			how string
			o   onScreen
		}{{"new tab", l.tab.shown}, {"same tab", l.same.shown}, {"in-app", l.navShown}} {
			all.add(x.o)
			if x.o.unseen > 0 {
				late = append(late, fmt.Sprintf("%s %s: %d of %d", l.page, x.how, x.o.unseen, x.o.charts))
			}
			if x.o.sparksUnseen > 0 {
				lateSparks = append(lateSparks, fmt.Sprintf("%s %s: %d of %d", l.page, x.how, x.o.sparksUnseen, x.o.sparks))
			}
		}
	}
	if all.unseen == 0 {
		fmt.Fprintf(w, "\nCharts on the screen at drawn: %d with data over every measured load, each with its plot drawn (charts below the screen may be made later: not seen, not timed).\n", all.charts)
	} else {
		fmt.Fprintf(w, "\n**Charts on the screen without their plot at drawn: %d of %d** (these loads end before the user sees them): %s.\n", all.unseen, all.charts, strings.Join(late, "; "))
	}
	if all.sparksUnseen == 0 {
		fmt.Fprintf(w, "Table sparklines on the screen at drawn: %d over every measured load, each drawn (rows below the screen may get theirs later).\n", all.sparks)
	} else {
		fmt.Fprintf(w, "**Table sparklines on the screen not drawn at drawn: %d of %d**: %s.\n", all.sparksUnseen, all.sparks, strings.Join(lateSparks, "; "))
	}
	// What the user sees is the frame after the refresh: its style, layout
	// and paint run after the page's code (raster and display follow on
	// other threads, not counted).
	fmt.Fprintf(w, "\nCharts drawn → the first task after the frame that shows them (that frame's style, layout and paint on the main thread, and any task queued before it), median (max); not in the times above, which end when the page's code has drawn:\n\n")
	fmt.Fprintf(w, "| page | new tab | same tab | in-app |\n|---|---|---|---|\n")
	pm := func(ds []time.Duration) string {
		if len(ds) == 0 {
			return "–"
		}
		return fmt.Sprintf("%s (%s)", ms(median(ds)), ms(slices.Max(ds)))
	}
	for _, l := range r.loads {
		fmt.Fprintf(w, "| %s | %s | %s | %s |\n", l.page, pm(l.tab.painted), pm(l.same.painted), pm(l.navPainted))
	}
	if slices.ContainsFunc(r.loads, func(l pageLoad) bool { return len(l.tab.cpu)+len(l.same.cpu) > 0 }) {
		fmt.Fprintf(w, "\nMain-thread CPU per load (-timeline: every measured load traced), median (max), navigation start → charts drawn, in the second after, and of the task that drew the page (its start → drawn: the page's code and uPlot after its last answer); thread time, so less the scheduler's than the load times:\n\n")
		fmt.Fprintf(w, "| page | new tab, to drawn | after | drawing task | same tab, to drawn | after | drawing task |\n|---|---|---|---|---|---|---|\n")
		cpu := func(ds []time.Duration) string {
			if len(ds) == 0 {
				return "–"
			}
			return fmt.Sprintf("%s (%s)", ms(median(ds)), ms(slices.Max(ds)))
		}
		for _, l := range r.loads {
			fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s |\n", l.page, cpu(l.tab.cpu), cpu(l.tab.cpuAfter), cpu(l.tab.cpuDrawing),
				cpu(l.same.cpu), cpu(l.same.cpuAfter), cpu(l.same.cpuDrawing))
		}
	}
	for _, l := range r.loads {
		if l.tab.trace != nil {
			printTrace(w, l.page, "new-tab", l.tab, r.url)
		}
		if l.same != nil && l.same.trace != nil {
			printTrace(w, l.page, "same-tab", l.same, r.url)
		}
		l.prof.print(w, l.page, 15)
	}

}

func (r *report) printLive(w io.Writer) {
	if t := r.live; t != nil {
		rate := float64(t.bytes) / t.window.Seconds()
		fmt.Fprintf(w, "\nLive page #/%s over %s: %.1f KB/s (budget ≤ %.0f KB/s: %s), %.1f requests/s, %d refreshes",
			r.livePage, t.window, rate/1e3, transferBudget/1e3, verdict(rate <= transferBudget), float64(t.requests)/t.window.Seconds(), t.refreshes)
		// Per refresh: the figure that holds when a busy machine misses the 1 s cadence.
		if t.refreshes > 0 {
			fmt.Fprintf(w, " (%.1f KB and %.1f requests per refresh)", float64(t.bytes)/float64(t.refreshes)/1e3, float64(t.requests)/float64(t.refreshes))
		}
		fmt.Fprintln(w)
		fmt.Fprintf(w, "| requests of | per second | KB/s |\n|---|---|---|\n")
		for _, k := range t.kinds() {
			c := t.byKind[k]
			fmt.Fprintf(w, "| %s | %.1f | %.1f |\n", k, float64(c.requests)/t.window.Seconds(), float64(c.bytes)/t.window.Seconds()/1e3)
		}
	}

	if r.cadenceErr != nil {
		fmt.Fprintf(w, "\n%d tabs on Live: %v\n1 s cadence: OVER\n", r.tabs, r.cadenceErr)
	}
	if c := r.cadence; c != nil {
		worst := slices.Max(append(slices.Clone(c.intervals), c.tails...))
		p95 := quantile(c.intervals, 0.95)
		fmt.Fprintf(w, "\n%d tabs on Live (%d of them visible, as headless Chromium shows every tab) over %s: refresh interval median %s, p95 %s, worst %s (incl. time since each tab's last refresh); refreshes per tab %v\n",
			c.tabs, c.visible, c.window, ms(median(c.intervals)), ms(p95), ms(worst), c.refreshes)
		fmt.Fprintf(w, "1 s cadence (p95 interval ≤ %s): %s\n", ms(cadenceBudget), verdict(len(c.intervals) > 0 && p95 <= cadenceBudget))
		// CPU per completed refresh: what a refresh costs, whatever the machine's load.
		if n := len(c.intervals) + len(c.tails); n > 0 && c.chromiumCPU > 0 {
			refreshes := 0
			for _, x := range c.refreshes {
				refreshes += x
			}
			served := c.gmcCPU - c.gmcIdle*c.window.Seconds()
			fmt.Fprintf(w, "CPU while the tabs ran: Chromium %.0f%%, gmc %.0f%% of a core (%.0f%% with no tab open: ingest and rules); per refresh (%d in all) Chromium %.0f ms, gmc %.0f ms beyond its no-tab share\n",
				100*c.chromiumCPU/c.window.Seconds(), 100*c.gmcCPU/c.window.Seconds(), 100*c.gmcIdle, refreshes,
				1000*c.chromiumCPU/float64(max(1, refreshes)), 1000*served/float64(max(1, refreshes)))
			kinds := make([]string, 0, len(c.chromiumBy))
			for k := range c.chromiumBy {
				kinds = append(kinds, k)
			}
			slices.SortFunc(kinds, func(a, b string) int { return cmp.Compare(c.chromiumBy[b], c.chromiumBy[a]) })
			fmt.Fprintf(w, "Chromium's CPU per refresh by process:")
			for _, k := range kinds {
				fmt.Fprintf(w, " %s %.0f ms", k, 1000*c.chromiumBy[k]/float64(max(1, refreshes)))
			}
			fmt.Fprintln(w)
			if n := float64(max(1, c.refreshes[0])); c.main["TaskDuration"] > 0 {
				task, script, layout, style := c.main["TaskDuration"], c.main["ScriptDuration"], c.main["LayoutDuration"], c.main["RecalcStyleDuration"]
				fmt.Fprintf(w, "The first tab's main thread per refresh (Performance metrics, thread time): tasks %.1f ms: script %.1f, layout %.1f, style %.1f, the rest (paint, parsing answers, …) %.1f\n",
					1000*task/n, 1000*script/n, 1000*layout/n, 1000*style/n, 1000*(task-script-layout-style)/n)
			}
			c.prof.print(w, "the first Live tab, per refresh", 25)
			if t := c.traced; t != nil {
				fmt.Fprintf(w, "\nTraced window (-timeline; tracing adds its own cost): CPU by thread, ms per second (the traced tab refreshed %d times, all tabs %d):\n", c.refreshes[0], refreshes)
				fmt.Fprintf(w, "| process / thread | ms per second |\n|---|---|\n")
				for i, x := range t.threads {
					if i == 16 {
						break
					}
					fmt.Fprintf(w, "| %s | %.1f |\n", x.name, float64(x.cpu.Microseconds())/1000/t.window.Seconds())
				}
				fmt.Fprintf(w, "\nThe traced tab's main thread: %.1f ms per refresh of it, self time by event:\n| event | ms per refresh |\n|---|---|\n",
					float64(t.mainTotal.Microseconds())/1000/float64(max(1, c.refreshes[0])))
				for i, x := range t.main {
					if i == 16 {
						break
					}
					fmt.Fprintf(w, "| %s | %.1f |\n", x.name, float64(x.cpu.Microseconds())/1000/float64(max(1, c.refreshes[0])))
				}
			}
		}
	}
}

func numCPU() int { return runtime.NumCPU() }

// printTrace lists what a page's last measured load (of one kind: new-tab,
// same-tab) waited for: the document, its assets and every request sent
// before the charts were drawn.
func printTrace(w io.Writer, page, kind string, l *loads, base string) {
	fmt.Fprintf(w, "\n%s, last %s load drawn at %s: requests before it (ms since navigation start)\n", page, kind, ms(l.times[len(l.times)-1]))
	fmt.Fprintf(w, "| request | start | first byte | end | bytes |\n|---|---|---|---|---|\n")
	for _, e := range l.trace {
		name := strings.TrimPrefix(e.Name, base)
		if len(name) > 90 {
			name = name[:87] + "…"
		}
		fmt.Fprintf(w, "| %s %s | %.0f | %.0f | %.0f | %.0f |\n", e.Type, name, e.Start, e.TTFB, e.End, e.Size)
	}
}
