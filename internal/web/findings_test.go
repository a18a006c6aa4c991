package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/gmc-dev/gmc/internal/web"
	"github.com/gmc-dev/gmc/internal/web/webtest"
)

// The tests of this file each reproduce one finding of issue 13 ("a
// dashboard a trading desk can put on the wall") in headless Chromium.

// instant runs an instant query against the stack and returns its single value.
func instant(t *testing.T, st *stack, expr string) float64 {
	t.Helper()
	resp, err := http.Get(st.URL + "/api/v1/query?" + url.Values{"query": {expr}}.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var body struct {
		Data struct {
			Result []struct {
				Value [2]any `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal(b, &body); err != nil || len(body.Data.Result) != 1 {
		t.Fatalf("%s: %s (%v)", expr, b, err)
	}
	f, err := strconv.ParseFloat(body.Data.Result[0].Value[1].(string), 64)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// evalAsync evaluates a JS expression giving a promise and waits for it.
func evalAsync[T any](t *testing.T, ctx context.Context, js string) T {
	t.Helper()
	v, err := run(ctx, 10*time.Second, chromedp.Evaluate[T](js, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("%s: %v", js, err)
	}
	return v
}

func near(a, b, rel float64) bool { return math.Abs(a-b) <= rel*math.Max(math.Abs(a), math.Abs(b)) }

// TestBrowserDisconnected: with the server gone, every page says so within
// 3 s ("Disconnected … stale since HH:MM:SS", greyed figures) and comes
// back by itself when the server does (finding "blind but green").
func TestBrowserDisconnected(t *testing.T) {
	ctx := browser(t)
	st := startStack(t, 4, true)
	dir := artifacts(t)
	for _, page := range []string{"#/overview?range=live", "#/service/" + webtest.Native + "?range=live", "#/sla?range=24h", "#/benchmarks?range=30d"} {
		t.Run(strings.Split(strings.TrimPrefix(page, "#/"), "?")[0], func(t *testing.T) {
			load(t, ctx, st.URL+"/"+page)
			if s := eval[string](t, ctx, `document.getElementById('conn').dataset.state`); s != "ok" {
				t.Fatalf("connection state %q before the outage, want ok", s)
			}
			st.setDown(true)
			start := time.Now()
			if err := poll(ctx, 3*time.Second, `document.getElementById('conn').dataset.state === 'down'`); err != nil {
				st.setDown(false)
				t.Fatalf("no disconnected state within 3s: %v", err)
			}
			t.Logf("disconnected shown after %v", time.Since(start).Round(10*time.Millisecond))
			text := eval[string](t, ctx, `document.getElementById('conn').textContent`)
			if !strings.Contains(text, "Disconnected") || !regexpClock.MatchString(text) {
				t.Errorf("status %q, want Disconnected … stale since HH:MM:SS", text)
			}
			if !eval[bool](t, ctx, `document.body.classList.contains('stale') && getComputedStyle(document.getElementById('page')).opacity < 0.9`) {
				t.Error("page not greyed out while disconnected")
			}
			if strings.HasPrefix(page, "#/overview") {
				screenshot(t, ctx, dir, "disconnected")
			}
			refreshed := evalInt(t, ctx, `Number(document.getElementById('page').dataset.refreshed)`)
			st.setDown(false)
			if err := poll(ctx, 5*time.Second, `document.getElementById('conn').dataset.state === 'ok' && !document.body.classList.contains('stale') && Number(document.getElementById('page').dataset.refreshed) > `+strconv.Itoa(refreshed)); err != nil {
				t.Fatalf("did not recover by itself: %v (state %q)", err, eval[string](t, ctx, `document.getElementById('conn').dataset.state`))
			}
		})
	}
}

// TestBrowserRangeEndsAtNow: every range's queries end now, not at the
// last step boundary (7d lost up to 33 minutes, 30d 2.4 hours), and 7d
// shows data that is minutes old (finding "long ranges drop the newest data").
func TestBrowserRangeEndsAtNow(t *testing.T) {
	ctx := browser(t)
	st := startStack(t, 3, false)
	for _, r := range []string{"7d", "30d", "24h", "live"} {
		t.Run(r, func(t *testing.T) {
			load(t, ctx, st.URL+"/#/overview?range="+r)
			// Each query_range's end against the wall clock when it was sent.
			worst := eval[float64](t, ctx, `Math.max(...performance.getEntriesByType('resource')
				.filter(e => e.name.includes('/api/v1/query_range') && e.name.includes('range_probe') === false)
				.slice(-4)
				.map(e => Math.abs((performance.timeOrigin + e.startTime) / 1000 - Number(new URL(e.name).searchParams.get('end')))))`)
			if worst > 2 {
				t.Errorf("a query ends %.0fs away from the time it was sent; want now", worst)
			}
			if got := points(t, ctx); got["tps"] == 0 {
				t.Errorf("range %s: the orders chart drew nothing of the last 15 minutes' data: %v", r, got)
			}
		})
	}
}

// TestBrowserKPIsAreNow: the headline tiles are instant queries (now, 1m
// rates), the same whatever the range, and desk orders count each order
// once, at the gateway (findings "headline numbers change with the range
// picker" and "total throughput adds unlike things").
func TestBrowserKPIsAreNow(t *testing.T) {
	ctx := browser(t)
	st := startStack(t, 4, false)
	want := instant(t, st, `sum(tps{service="gateway"})`)
	all := instant(t, st, `sum(rate(gmc_orders_total[1m])) + sum(tps)`)
	var seen []float64
	for _, r := range []string{"15m", "7d", "1h", "live"} {
		load(t, ctx, st.URL+"/#/overview?range="+r)
		got := eval[float64](t, ctx, `Number(document.querySelector('[data-kpi="Desk orders"]').dataset.value)`)
		if !near(got, want, 0.03) {
			t.Errorf("range %s: desk orders %v, want the gateway's %v (all services summed: %v)", r, got, want, all)
		}
		seen = append(seen, got)
	}
	for _, v := range seen[1:] {
		if !near(v, seen[0], 0.03) {
			t.Errorf("desk orders changed with the range: %v", seen)
		}
	}
	// A feed handler's rate is in its own unit, not orders.
	load(t, ctx, st.URL+"/#/overview?range=15m")
	if txt := eval[string](t, ctx, `document.querySelector('tr[data-service="svc-04"] [data-col="rate"]').textContent`); !strings.Contains(txt, "messages/s") {
		t.Errorf("svc-04 rate %q, want messages/s", txt)
	}
	// The service page's p99 tile is the instant p99, whatever the range.
	p99 := instant(t, st, `histogram_quantile(0.99, sum(rate(gmc_order_latency_seconds{service="risk-engine"}[1m]))) * 1e6 >= 0 or histogram_quantile(0.99, sum by (le) (rate(gmc_order_latency_seconds_bucket{service="risk-engine"}[1m]))) * 1e6`)
	for _, r := range []string{"15m", "7d"} {
		load(t, ctx, st.URL+"/#/service/risk-engine?range="+r)
		if got := eval[float64](t, ctx, `Number(document.querySelector('[data-kpi="p99"]').dataset.value)`); !near(got, p99, 0.05) {
			t.Errorf("range %s: p99 tile %v, want the instant %v", r, got, p99)
		}
	}
}

// TestBrowserRequestServices: a service that handles messages, not orders
// (market-data, the backtester) shows its request rate and latency, and a
// feed handler its feed latency and gaps (finding "market-data and
// backtester pages show 0/s and no latency").
func TestBrowserRequestServices(t *testing.T) {
	ctx := browser(t)
	st := startStack(t, 4, false)
	dir := artifacts(t)
	load(t, ctx, st.URL+"/#/service/svc-04?range=15m")
	got := points(t, ctx)
	for _, c := range []string{"latency", "heatmap", "requests", "request-latency", "feed-latency", "feed-gaps", "host-cpu"} {
		if got[c] == 0 {
			t.Errorf("chart %q drew no points: %v", c, got)
		}
	}
	if hidden := eval[bool](t, ctx, `document.querySelector('[data-chart="tps"]').closest('.card').hidden`); !hidden {
		t.Error("an empty orders panel is shown for a service that handles no orders")
	}
	txt := eval[string](t, ctx, `document.querySelector('[data-kpi="Requests"]')?.textContent || ''`)
	if !strings.Contains(txt, "messages/s") || strings.Contains(txt, " 0 ") {
		t.Errorf("requests tile %q, want messages/s", txt)
	}
	if v := eval[float64](t, ctx, `Number(document.querySelector('[data-kpi="p99"]').dataset.value || 0)`); v <= 0 {
		t.Errorf("p99 tile %v, want the request latency", v)
	}
	screenshot(t, ctx, dir, "service-feed")
}

// TestBrowserHosts: a service joins its host by the host label (SDK and
// agent both set it): the service page's host panels have data and link
// the host page, which has per-core CPU, load, memory, filesystems, disk
// and network I/O and errors (finding "hosts").
func TestBrowserHosts(t *testing.T) {
	ctx := browser(t)
	st := startStack(t, 3, false)
	dir := artifacts(t)
	load(t, ctx, st.URL+"/#/service/"+webtest.Classic+"?range=15m")
	got := points(t, ctx)
	for _, c := range []string{"host-cpu", "host-mem", "host-disk", "host-net"} {
		if got[c] == 0 {
			t.Errorf("service page chart %q drew no points: %v", c, got)
		}
	}
	link := eval[string](t, ctx, `document.querySelector('.page-head a[href^="#/host/"]')?.getAttribute('href') || ''`)
	if !strings.HasPrefix(link, "#/host/host-2") {
		t.Fatalf("host link %q, want #/host/host-2", link)
	}
	load(t, ctx, st.URL+"/"+link)
	got = points(t, ctx)
	for _, c := range []string{"host-cpu-cores", "host-cpu-modes", "host-load", "host-memory", "host-disk-io", "host-disk-busy", "host-net-io", "host-net-errors"} {
		if got[c] == 0 {
			t.Errorf("host page chart %q drew no points: %v", c, got)
		}
	}
	if n := evalInt(t, ctx, `Number(document.querySelector('[data-chart="host-cpu-cores"]').dataset.series)`); n != 2 {
		t.Errorf("per-core CPU has %d series, want 2 cores", n)
	}
	if txt := eval[string](t, ctx, `document.querySelector('.page-head').textContent`); !strings.Contains(txt, webtest.Classic) {
		t.Errorf("host page head %q does not name the service it runs", txt)
	}
	if n := evalInt(t, ctx, `document.querySelectorAll('.card .tbl tbody tr').length`); n != 1 {
		t.Errorf("%d filesystem rows, want 1", n)
	}
	screenshot(t, ctx, dir, "host")
}

// TestBrowserCharts covers the chart findings: no "µs" title over ms
// ticks, a 0-based axis for all-zero series, byte ticks on powers of two,
// isolated points drawn, heatmap labels apart with a colour scale and a
// readout, a banner that does not move the page, no "null" on the
// unknown-service page.
func TestBrowserCharts(t *testing.T) {
	ctx := browser(t)
	st := startStack(t, 3, false)
	load(t, ctx, st.URL+"/#/service/"+webtest.Native+"?range=15m")

	t.Run("latency axis", func(t *testing.T) {
		// The axis title is gone; the ticks carry their unit.
		label := eval[string](t, ctx, `String(document.querySelector('[data-chart="latency"]').chart.u.axes[1].label ?? '')`)
		if label != "" {
			t.Errorf("latency axis titled %q", label)
		}
	})
	t.Run("zero series", func(t *testing.T) {
		r := evalAsync[[]float64](t, ctx, `(async () => { const c = await import('/assets/chart.js'); return c.yRange(0, 0, 0); })()`)
		if len(r) != 2 || r[0] != 0 || r[1] <= 0 {
			t.Errorf("all-zero range %v, want [0, x]", r)
		}
		r = evalAsync[[]float64](t, ctx, `(async () => { const c = await import('/assets/chart.js'); return c.yRange(0, 0, null); })()`)
		if len(r) != 2 || r[0] != 0 {
			t.Errorf("all-zero range without a floor %v, want [0, x]", r)
		}
	})
	t.Run("byte ticks", func(t *testing.T) {
		splits := eval[[]float64](t, ctx, `document.querySelector('[data-chart="host-mem"]').chart.u.axes[1]._splits`)
		if len(splits) < 2 {
			t.Fatalf("splits %v", splits)
		}
		incr := splits[1] - splits[0]
		mant := incr / math.Pow(1024, math.Floor(math.Log(incr)/math.Log(1024)))
		if mant != math.Exp2(math.Round(math.Log2(mant))) {
			t.Errorf("byte ticks %v step %v: not a power of two of a binary unit", splits, incr)
		}
	})
	t.Run("single point", func(t *testing.T) {
		// A series with one point and no neighbours paints pixels there.
		lit := evalAsync[bool](t, ctx, `(async () => {
			const {LineChart} = await import('/assets/chart.js');
			const {units} = await import('/assets/util.js');
			const box = document.createElement('div'); box.style.width = '400px'; document.body.append(box);
			const c = new LineChart(box, {id: 'probe', unit: units.count});
			const xs = [0, 60, 120, 180, 240].map(x => 1.7e9 + x);
			c.update(xs, [{label: 'one', data: [null, null, 5, null, null], color: '#ff0000'}]);
			await new Promise(r => setTimeout(r, 100));
			const x = Math.round(c.u.valToPos(xs[2], 'x', true)), y = Math.round(c.u.valToPos(5, 'y', true));
			const px = c.u.ctx.getImageData(x - 2, y - 2, 5, 5).data;
			let red = false;
			for (let i = 0; i < px.length; i += 4) if (px[i] > 200 && px[i + 1] < 80) red = true;
			c.destroy(); box.remove();
			return red;
		})()`)
		if !lit {
			t.Error("an isolated point is not drawn")
		}
	})
	t.Run("heatmap", func(t *testing.T) {
		gaps := eval[[]float64](t, ctx, `(() => { const u = document.querySelector('[data-chart="heatmap"]').chart.u;
			const ps = u.axes[1]._splits.map(v => u.valToPos(v, 'y')).sort((a, b) => a - b);
			return ps.slice(1).map((p, i) => p - ps[i]); })()`)
		for _, g := range gaps {
			if g < 12 {
				t.Errorf("heatmap y labels %v px apart: they overlap", gaps)
				break
			}
		}
		if n := evalInt(t, ctx, `document.querySelectorAll('.hm-legend .hm-ramp').length`); n != 1 {
			t.Error("heatmap has no colour scale")
		}
		txt := eval[string](t, ctx, `(() => { const u = document.querySelector('[data-chart="heatmap"]').chart.u;
			const x = u.bbox.width / devicePixelRatio * 0.9;
			const y = u.valToPos(250, 'y');
			u.setCursor({left: x, top: y});
			return document.querySelector('[data-chart="heatmap"]').dataset.readout || ''; })()`)
		if !strings.Contains(txt, "of events") || !strings.Contains(txt, "µs") {
			t.Errorf("heatmap readout %q, want the bucket and its share", txt)
		}
	})
	t.Run("banner keeps the page still", func(t *testing.T) {
		top := eval[float64](t, ctx, `document.getElementById('page').getBoundingClientRect().top`)
		active := time.Now().Add(-time.Minute)
		var many []web.Alert
		for i := range 7 {
			many = append(many, web.Alert{Name: fmt.Sprintf("A%d with a long summary to wrap the line", i), Severity: "critical", Service: webtest.Native,
				State: "firing", ActiveAt: &active, Summary: strings.Repeat("p99 above threshold ", 5), Labels: map[string]string{"alertname": "A"}})
		}
		st.alerts.Store(&many)
		defer st.alerts.Store(&[]web.Alert{})
		if err := poll(ctx, 10*time.Second, `document.getElementById('banner').dataset.state === 'firing'`); err != nil {
			t.Fatal(err)
		}
		if now := eval[float64](t, ctx, `document.getElementById('page').getBoundingClientRect().top`); now != top {
			t.Errorf("the banner moved the page from %vpx to %vpx", top, now)
		}
	})
	t.Run("unknown service", func(t *testing.T) {
		load(t, ctx, st.URL+"/#/service/no-such-service?range=15m")
		txt := eval[string](t, ctx, `document.getElementById('page').innerText`)
		if strings.Contains(txt, "null") || strings.Contains(txt, "undefined") || !strings.Contains(strings.ToLower(txt), "unknown service") {
			t.Errorf("unknown-service page reads %q", txt)
		}
	})
}

// regexpClock finds a local HH:MM:SS.
var regexpClock = regexp.MustCompile(`\b\d{2}:\d{2}:\d{2}\b`)
