package web_test

import (
	"encoding/json"
	"math"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gmc-dev/gmc/internal/bench"
	"github.com/gmc-dev/gmc/internal/web/webtest"
)

// TestBrowserPolish reproduces findings 8, 10 and 12 of the user trial of
// `gmc demo` (notes/t-user.md) in headless Chromium, one subtest each.
func TestBrowserPolish(t *testing.T) {
	ctx := browser(t)
	now := time.Now()
	// Every benchmark's latest run on a saturated host, one run skipped.
	report := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		runs := webtest.Runs(now, 5*time.Minute)
		for _, r := range runs {
			r.Untrustworthy = "host saturated: load average 23.00 on 2 CPUs (limit 1.00 per CPU) when the run began"
			for i := range r.Results {
				r.Results[i].Comparison = nil
				if r.Results[i].Latency != nil {
					r.Results[i].SampleQuantile = 0.99
				}
			}
		}
		runs = append(runs, &bench.Run{ID: "skip", Benchmark: "db-query-latency", Start: now, End: now, Skipped: "host saturated: load average 23.00 on 2 CPUs (limit 1.00 per CPU) at 12:00:00, waited 10m0s: not run"})
		from, _ := bench.WeekBounds(now)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(bench.NewReport(runs, from, now))
	})
	st := startStack(t, 4, false, withHandler("GET /benchmark/report", report))
	dir := artifacts(t)

	// #12: "Regressions 0" in green while nothing was compared.
	t.Run("benchmarks-none-compared", func(t *testing.T) {
		load(t, ctx, st.URL+"/#/benchmarks?range=1h")
		if err := poll(ctx, 20*time.Second, `!!document.querySelector('[data-kpi="Regressions"]') && !!document.querySelector('tr[data-benchmark="db-query-latency"]')`); err != nil {
			t.Fatal(err)
		}
		cls := eval[string](t, ctx, `document.querySelector('[data-kpi="Regressions"]').className`)
		val := eval[string](t, ctx, `document.querySelector('[data-kpi="Regressions"] .kpi-value').textContent`)
		if strings.Contains(cls, "kpi-good") || val != "none compared" {
			t.Errorf("Regressions tile %q (class %q) with no run compared, want a neutral \"none compared\"", val, cls)
		}
		if sub := eval[string](t, ctx, `document.querySelector('[data-kpi="Regressions"] .kpi-sub').textContent`); !strings.Contains(sub, "· 1 run skipped (host saturated)") {
			t.Errorf("Regressions tile says %q, want the skipped run counted, in the singular", sub)
		}
		med := eval[string](t, ctx, `document.querySelector('tr[data-benchmark="db-query-latency"] [data-col="median"]').textContent`)
		if !strings.Contains(med, "median of per-window p99") {
			t.Errorf("db-query-latency median cell %q, want it to say it is the median of per-window p99s", med)
		}
		if li := eval[string](t, ctx, `document.querySelector('ul.skips li[data-benchmark="db-query-latency"]')?.textContent || ''`); !strings.Contains(li, "waited 10m0s: not run") {
			t.Errorf("skipped run listed as %q, want its reason", li)
		}
		if v := eval[string](t, ctx, `document.querySelector('tr[data-benchmark="db-query-latency"] [data-col="verdict"]').textContent`); v != "skipped" {
			t.Errorf("verdict after a skipped run %q, want skipped", v)
		}
		screenshot(t, ctx, dir, "polish-benchmarks")
	})

	// #12: the Hosts index gives each host its state, CPU, memory and load.
	t.Run("hosts-index", func(t *testing.T) {
		load(t, ctx, st.URL+"/#/host?range=1h")
		if err := poll(ctx, 20*time.Second, `document.querySelectorAll('tr[data-host]').length === 2`); err != nil {
			t.Fatal(err)
		}
		for _, host := range []string{"host-1", "host-2"} {
			row := `document.querySelector('tr[data-host="` + host + `"]')`
			state := eval[string](t, ctx, row+`.querySelector('[data-col="state"] .pill').textContent`)
			cpu := eval[string](t, ctx, row+`.querySelector('[data-col="cpu"]').textContent`)
			mem := eval[string](t, ctx, row+`.querySelector('[data-col="memory"]').textContent`)
			ld := eval[string](t, ctx, row+`.querySelector('[data-col="load"]').textContent`)
			if state != "up" || !strings.HasSuffix(cpu, "%") || !strings.HasSuffix(mem, "%") || !strings.Contains(ld, "CPUs") {
				t.Errorf("%s: state %q cpu %q memory %q load %q; want up and figures", host, state, cpu, mem, ld)
			}
		}
		screenshot(t, ctx, dir, "polish-hosts")
	})

	// #12: CPU by mode drew softirq and user in near-identical blues (by
	// palette index); each mode now has its own colour, far from the others.
	t.Run("cpu-modes-colours", func(t *testing.T) {
		load(t, ctx, st.URL+"/#/host/host-1?range=1h")
		if err := poll(ctx, 20*time.Second, `(document.querySelector('[data-chart="host-cpu-modes"]')?.dataset.points | 0) > 0`); err != nil {
			t.Fatal(err)
		}
		modes := evalAsync[map[string]string](t, ctx, `import('/assets/host.js').then((m) => m.MODE_COLORS)`)
		for _, m := range []string{"user", "system", "softirq", "irq", "iowait", "nice", "steal", "guest", "guest_nice"} {
			for _, o := range []string{"user", "system", "softirq", "irq", "iowait", "nice", "steal", "guest", "guest_nice"} {
				if m < o {
					if d := rgbDistance(modes[m], modes[o]); d < 60 {
						t.Errorf("CPU modes %s and %s drawn in %s and %s (distance %.0f): too alike", m, o, modes[m], modes[o], d)
					}
				}
			}
		}
		drawn := eval[map[string]string](t, ctx, `Object.fromEntries(document.querySelector('[data-chart="host-cpu-modes"]').chart.u.series.slice(1).map((s) => [s.label, s._stroke]))`)
		if drawn["user"] != modes["user"] || drawn["system"] != modes["system"] {
			t.Errorf("CPU by mode drawn in %v, want the modes' colours %v", drawn, modes)
		}
	})

	// #10: one linear p99 axis flattened µs order paths under seconds.
	t.Run("overview-p99-log", func(t *testing.T) {
		load(t, ctx, st.URL+"/#/overview?range=1h")
		if err := poll(ctx, 20*time.Second, `(document.querySelector('[data-chart="p99"]')?.dataset.points | 0) > 0`); err != nil {
			t.Fatal(err)
		}
		if d := eval[int](t, ctx, `document.querySelector('[data-chart="p99"]').chart.u.scales.y.distr`); d != 3 {
			t.Errorf("Overview p99 y scale distr %d, want 3 (log)", d)
		}
		if hidden := eval[bool](t, ctx, `getComputedStyle(document.getElementById('range')).display === 'none'`); hidden {
			t.Error("the range picker is hidden on the Overview")
		}
	})

	// #8: the trend chart's axis spans the chosen window; the range picker,
	// which does nothing there, is hidden.
	t.Run("trends-axis", func(t *testing.T) {
		spans := map[string]float64{}
		for _, win := range []string{"7d", "30d"} {
			load(t, ctx, st.URL+"/#/trends/"+webtest.Native+"?"+url.Values{"metric": {"gmc_orders_total"}, "window": {win}}.Encode())
			if err := poll(ctx, 30*time.Second, `!!document.querySelector('[data-chart="trend"]')?.chart?.u`); err != nil {
				t.Fatalf("%s: %v", win, err)
			}
			lo := eval[float64](t, ctx, `document.querySelector('[data-chart="trend"]').chart.u.scales.x.min`)
			hi := eval[float64](t, ctx, `document.querySelector('[data-chart="trend"]').chart.u.scales.x.max`)
			spans[win] = (hi - lo) / 86400
			if !eval[bool](t, ctx, `getComputedStyle(document.getElementById('range')).display === 'none'`) {
				t.Errorf("%s: the global range picker is shown on Trends", win)
			}
			screenshot(t, ctx, dir, "polish-trends-"+win)
		}
		if math.Abs(spans["7d"]-7) > 0.1 || math.Abs(spans["30d"]-30) > 0.1 {
			t.Errorf("trend x axis spans %.2f and %.2f days, want 7 and 30", spans["7d"], spans["30d"])
		}
		// The hour-of-day profile is labelled by each hour's start.
		got := evalAsync[[]float64](t, ctx, `import('/assets/trends.js').then((m) => m.byStart([{hour: 12, mean: 5}, {hour: 0, mean: 7}, {hour: 11, mean: 1}]).map((r) => [r.start, r.mean]).flat())`)
		if want := []float64{10, 1, 11, 5, 23, 7}; !slicesEqual(got, want) {
			t.Errorf("byStart = %v, want %v (bucket 12 holds 11:00–12:00)", got, want)
		}
	})

	// #12: a p99 tile was capped at the classic buckets' last edge ("> 1 s")
	// although the native histogram beside them gave 2.835 s: the edges the
	// pages cap at are those of services without a native histogram.
	t.Run("edges-only-classic", func(t *testing.T) {
		body := "gmc_order_latency_seconds_bucket{le=\"1\"} 5\ngmc_order_latency_seconds_bucket{le=\"+Inf\"} 9\ngmc_order_latency_seconds 1\n"
		postOK(t, st.URL+"/metrics/job/both", "text/plain", body)
		if n := instant(t, st, `count(gmc_order_latency_seconds_bucket{job="both"}) + count(gmc_order_latency_seconds{job="both"})`); n != 3 {
			t.Fatalf("pushed series: %v, want 3", n)
		}
		load(t, ctx, st.URL+"/#/overview?range=1h")
		count := func(sel string) int {
			return evalAsync[int](t, ctx, `import('/assets/queries.js').then((Q) => fetch('/api/v1/query?query=' + encodeURIComponent(Q.edges('gmc_order_latency_seconds', `+jsString(sel)+`))))
				.then((r) => r.json()).then((b) => b.data.result.length)`)
		}
		if n := count(`{job="both"}`); n != 0 {
			t.Errorf("edges of a service with a native histogram: %d, want none (no cap)", n)
		}
		if n := count(`{service="` + webtest.Classic + `"}`); n == 0 {
			t.Errorf("edges of classic-only %s: none, want its buckets' edges", webtest.Classic)
		}
	})

	// #8: with no service chosen, Trends opens on an entry service.
	t.Run("trends-default", func(t *testing.T) {
		load(t, ctx, st.URL+"/#/trends")
		if err := poll(ctx, 30*time.Second, `!!document.querySelector('select[name="service"]')`); err != nil {
			t.Fatal(err)
		}
		if svc := eval[string](t, ctx, `document.querySelector('select[name="service"]').value`); svc != webtest.Pushed {
			t.Errorf("Trends opens on %q, want the entry service %q", svc, webtest.Pushed)
		}
	})
}

func slicesEqual(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// rgbDistance is the Euclidean distance of two #rrggbb colours.
func rgbDistance(a, b string) float64 {
	p := func(s string) [3]float64 {
		var c [3]float64
		if len(s) != 7 {
			return c
		}
		for i := range 3 {
			var v int
			for _, ch := range s[1+2*i : 3+2*i] {
				v *= 16
				switch {
				case ch >= '0' && ch <= '9':
					v += int(ch - '0')
				case ch >= 'a' && ch <= 'f':
					v += int(ch-'a') + 10
				case ch >= 'A' && ch <= 'F':
					v += int(ch-'A') + 10
				}
			}
			c[i] = float64(v)
		}
		return c
	}
	x, y := p(a), p(b)
	return math.Sqrt((x[0]-y[0])*(x[0]-y[0]) + (x[1]-y[1])*(x[1]-y[1]) + (x[2]-y[2])*(x[2]-y[2]))
}
