package web_test

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/gmc-dev/gmc/internal/bench"
	"github.com/gmc-dev/gmc/internal/config"
	"github.com/gmc-dev/gmc/internal/web"
	"github.com/gmc-dev/gmc/internal/web/webtest"
)

// postOK posts body to url and fails the test unless gmc answers 2xx.
func postOK(t *testing.T, url, contentType, body string) {
	t.Helper()
	resp, err := http.Post(url, contentType, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("post %s: %s", url, resp.Status)
	}
}

// textPush pushes Prometheus text to the stack's Pushgateway API under
// job=test and the given service.
func textPush(t *testing.T, st *stack, svc, body string) {
	t.Helper()
	postOK(t, st.URL+"/metrics/job/test/service/"+svc, "text/plain; version=0.0.4", body)
}

// jsonPush pushes one JSON push body to the stack's /api/v1/push.
func jsonPush(t *testing.T, st *stack, body string) {
	t.Helper()
	postOK(t, st.URL+"/api/v1/push", "application/json", body)
}

// orderLatencyText is a classic gmc_order_latency_seconds histogram in the
// text format: cumulative counts at the edges les (the last one "+Inf",
// whose count is the histogram's count) and the sum of the observations.
func orderLatencyText(les []string, counts []int, sum int) string {
	var b strings.Builder
	b.WriteString("# TYPE gmc_order_latency_seconds histogram\n")
	for i, le := range les {
		fmt.Fprintf(&b, "gmc_order_latency_seconds_bucket{le=%q} %d\n", le, counts[i])
	}
	fmt.Fprintf(&b, "gmc_order_latency_seconds_sum %d\ngmc_order_latency_seconds_count %d\n", sum, counts[len(counts)-1])
	return b.String()
}

// TestBrowserLatencyTiles: a p99 that lies in the +Inf bucket reads
// "> last edge", not the edge (histogram_quantile answers the edge); the
// "Worst p99" tile ranks order latency, not a backtester's day replays.
func TestBrowserLatencyTiles(t *testing.T) {
	ctx := browser(t)
	st := startStack(t, 3, false)
	// slow-engine: 99 of every 100 orders above the last finite edge (10 ms).
	// backtester: a day's replay takes 5 s (request latency).
	for i := 1; i <= 2; i++ {
		textPush(t, st, "slow-engine", orderLatencyText([]string{"0.001", "0.01", "+Inf"}, []int{0, i, 100 * i}, 5*i))
		textPush(t, st, "backtester", fmt.Sprintf(`# TYPE gmc_request_latency_seconds histogram
gmc_request_latency_seconds_bucket{endpoint="replay-day",le="1"} 0
gmc_request_latency_seconds_bucket{endpoint="replay-day",le="10"} %d
gmc_request_latency_seconds_bucket{endpoint="replay-day",le="+Inf"} %d
gmc_request_latency_seconds_sum{endpoint="replay-day"} %d
gmc_request_latency_seconds_count{endpoint="replay-day"} %d
`, 10*i, 10*i, 50*i, 10*i))
		if i == 1 {
			time.Sleep(1500 * time.Millisecond)
		}
	}
	raw := instant(t, st, `histogram_quantile(0.99, sum by (le) (rate(gmc_order_latency_seconds_bucket{service="slow-engine"}[1m])))`)
	if raw != 0.01 {
		t.Fatalf("raw p99 %v: want histogram_quantile's answer for the +Inf bucket, the last edge 0.01", raw)
	}
	load(t, ctx, st.URL+"/#/service/slow-engine?range=15m")
	if txt := eval[string](t, ctx, `document.querySelector('[data-kpi="p99"] .kpi-value').textContent`); txt != "> 10 ms" {
		t.Errorf("p99 tile %q, want \"> 10 ms\" (the quantile lies past the last finite bucket)", txt)
	}
	if txt := eval[string](t, ctx, `document.querySelector('[data-stats="latency"] tr[data-series="p99"] [data-stat="last"]').textContent`); txt != "> 10 ms" {
		t.Errorf("latency legend p99 last %q, want \"> 10 ms\"", txt)
	}
	load(t, ctx, st.URL+"/#/overview?range=15m")
	if txt := eval[string](t, ctx, `document.querySelector('tr[data-service="slow-engine"] [data-col="p99"]').textContent`); txt != "> 10 ms" {
		t.Errorf("overview p99 of slow-engine %q, want \"> 10 ms\"", txt)
	}
	// The p99 chart's legend too: its last and max of slow-engine.
	for _, stat := range []string{"last", "max"} {
		if txt := eval[string](t, ctx, `document.querySelector('[data-stats="p99"] tr[data-series="slow-engine"] [data-stat="`+stat+`"]').textContent`); txt != "> 10 ms" {
			t.Errorf("overview p99 chart legend %s of slow-engine %q, want \"> 10 ms\"", stat, txt)
		}
	}
	// A p99 inside the buckets keeps its value.
	if txt := eval[string](t, ctx, `document.querySelector('tr[data-service="risk-engine"] [data-col="p99"]').textContent`); strings.HasPrefix(txt, ">") {
		t.Errorf("overview p99 of risk-engine %q: not past its last bucket", txt)
	}
	bt := instant(t, st, `histogram_quantile(0.99, sum by (le) (rate(gmc_request_latency_seconds_bucket{service="backtester"}[1m])))`)
	worst := eval[string](t, ctx, `document.querySelector('[data-kpi="Worst p99"]').textContent`)
	if strings.Contains(worst, "backtester") || !strings.Contains(worst, "order latency at slow-engine") || !strings.Contains(worst, "> 10 ms") {
		t.Errorf("Worst p99 tile %q, want slow-engine's order latency (> 10 ms), not the backtester's %v s replays", worst, bt)
	}
	screenshot(t, ctx, artifacts(t), "latency-tiles")
}

// TestBrowserDownNow: a service that is down or stale says so for its now
// figures (overview row, service tiles), not the 1m rates from before it
// stopped; the alert banner shows all four items it lists, none cut off.
func TestBrowserDownNow(t *testing.T) {
	ctx := browser(t)
	st := startStackWith(t, 3, false, func(c *config.Config) {
		c.Server.ServiceLiveness = map[string]config.Liveness{webtest.Classic: {StaleAfter: config.Duration(time.Second), DownAfter: config.Duration(2 * time.Second)}}
	})
	// The seed's newest samples are at most a second old on an idle
	// machine: wait until gmc itself no longer calls risk-engine up.
	deadline := time.Now().Add(20 * time.Second)
	for {
		var status struct {
			Services []struct {
				Service string `json:"service"`
				State   string `json:"state"`
			} `json:"services"`
		}
		getJSON(t, st.URL+"/system/status", &status)
		state := ""
		for _, s := range status.Services {
			if s.Service == webtest.Classic {
				state = s.State
			}
		}
		if state == "stale" || state == "down" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("risk-engine still %q in /system/status after 20 s", state)
		}
		time.Sleep(200 * time.Millisecond)
	}
	// Its 1m rate still has samples: shown, it would look alive.
	before := instant(t, st, `sum(rate(gmc_orders_total{service="risk-engine"}[1m]))`)
	load(t, ctx, st.URL+"/#/overview?range=15m")
	for _, col := range []string{"rate", "p99", "errors"} {
		if txt := eval[string](t, ctx, `document.querySelector('tr[data-service="risk-engine"] [data-col="`+col+`"]').textContent`); txt != "down" && txt != "stale" {
			t.Errorf("overview %s of the silent risk-engine %q, want down or stale (its 1m rate %v is from before)", col, txt, before)
		}
	}
	if txt := eval[string](t, ctx, `document.querySelector('tr[data-service="matching-engine"] [data-col="rate"]').textContent`); !strings.Contains(txt, "orders/s") {
		t.Errorf("overview rate of the up matching-engine %q, want orders/s", txt)
	}
	// The charts' legends: its last says down (or stale) since when, not
	// the rate whose window still holds its samples (t-user3 #12: "last
	// 512/s" 38 s after market-data went down); an up service keeps its figure.
	downSince := regexp.MustCompile(`^(down|stale) since \d\d:\d\d:\d\d$`)
	for _, c := range []string{"tps", "p99", "errors"} {
		if txt := eval[string](t, ctx, `(document.querySelector('[data-stats="`+c+`"] tr[data-series="risk-engine"] [data-stat="last"]') || {}).textContent || ''`); !downSince.MatchString(txt) {
			t.Errorf("overview %s legend last of risk-engine %q, want down or stale since HH:MM:SS", c, txt)
		}
	}
	if txt := eval[string](t, ctx, `document.querySelector('[data-stats="tps"] tr[data-series="matching-engine"] [data-stat="last"]').textContent`); !strings.HasSuffix(txt, "/s") {
		t.Errorf("overview tps legend last of the up matching-engine %q, want a rate", txt)
	}
	load(t, ctx, st.URL+"/#/service/risk-engine?range=15m")
	for _, k := range []string{"Orders", "p99", "Error rate"} {
		if txt := eval[string](t, ctx, `document.querySelector('[data-kpi="`+k+`"] .kpi-value').textContent`); txt != "down" && txt != "stale" {
			t.Errorf("service tile %s %q, want down or stale", k, txt)
		}
	}
	for _, c := range []string{"latency", "tps"} {
		lasts := eval[[]string](t, ctx, `[...document.querySelectorAll('[data-stats="`+c+`"] [data-stat="last"]')].map(e => e.textContent)`)
		for _, txt := range lasts {
			if !downSince.MatchString(txt) {
				t.Errorf("service page %s legend last %q, want down or stale since HH:MM:SS (all %q)", c, txt, lasts)
			}
		}
		if len(lasts) == 0 {
			t.Errorf("service page %s legend has no rows", c)
		}
	}

	// The banner: four long alerts. The chips that fit whole are shown,
	// the rest counted in "+N more" (chips shrunk to fit all were cut to
	// "ServiceSile…" and "HostCP…", t-user26).
	var firing []web.Alert
	for i := range 4 {
		at := time.Now().Add(-time.Minute)
		firing = append(firing, web.Alert{Name: fmt.Sprintf("OrderLatencyVeryHighOnPath%d", i), Severity: "page", Service: webtest.Native, State: "firing", ActiveAt: &at,
			Summary: "p99 order latency above 1ms for the last five minutes on the primary matching path", Labels: map[string]string{"alertname": "X"}})
	}
	st.alerts.Store(&firing)
	if err := poll(ctx, 10*time.Second, `document.getElementById('banner').dataset.count === '4' && document.querySelectorAll('#banner .banner-item').length >= 1`); err != nil {
		t.Fatalf("banner: %v", err)
	}
	shown := evalInt(t, ctx, `document.querySelectorAll('#banner .banner-item').length`)
	cut := eval[[]string](t, ctx, `(() => { const l = document.querySelector('#banner .banner-list').getBoundingClientRect();
		return [...document.querySelectorAll('#banner .banner-item')].filter(e => { const r = e.getBoundingClientRect(); return r.right > l.right + 0.5 || r.width < 60 || (e.scrollWidth > e.clientWidth && e !== document.querySelector('#banner .banner-item')); }).map(e => e.textContent); })()`)
	if len(cut) > 0 {
		t.Errorf("banner items cut off or hidden: %q", cut)
	}
	more := eval[string](t, ctx, `[...document.querySelectorAll('#banner > a')].map((a) => a.textContent).find((x) => /^\+\d+ more$/.test(x)) || ''`)
	if want := fmt.Sprintf("+%d more", 4-shown); shown < 4 && more != want {
		t.Errorf("the banner shows %d of 4 chips and %q, want %q", shown, more, want)
	}
	if n := evalInt(t, ctx, `[...document.querySelectorAll('#banner .banner-item')].filter(e => e.title.includes('primary matching path')).length`); n != shown {
		t.Errorf("%d of the %d banner items shown carry their full text in a title", n, shown)
	}
	screenshot(t, ctx, artifacts(t), "banner-four")
}

// TestPagesImportOnlyShared: a page module imports the shared modules
// (api, live, chart, util, queries), never another page.
func TestPagesImportOnlyShared(t *testing.T) {
	files, err := filepath.Glob("ui/src/*.js")
	if err != nil || len(files) == 0 {
		t.Fatalf("no sources: %v", err)
	}
	shared := map[string]bool{"api.js": true, "live.js": true, "chart.js": true, "util.js": true, "queries.js": true}
	imp := regexp.MustCompile(`(?m)^import .* from '\./([a-z]+\.js)';`)
	for _, f := range files {
		name := filepath.Base(f)
		if name == "main.js" {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range imp.FindAllStringSubmatch(string(b), -1) {
			if !shared[m[1]] {
				t.Errorf("%s imports %s: a helper two pages share belongs in util.js", name, m[1])
			}
		}
	}
}

// TestBrowserBenchReportAxes: the HTML benchmark report's trend plots keep
// their y labels whole (they lost their leading digits) and spread a week's
// 50 runs of one hour over the plot, with x labels that do not overlap
// (they were squeezed into one line at the week's scale).
func TestBrowserBenchReportAxes(t *testing.T) {
	ctx := browser(t)
	now := time.Now()
	from, _ := bench.WeekBounds(now.Add(-50 * time.Minute))
	rep := bench.NewReport(webtest.Runs(now, 50*time.Minute), from, now)
	p := filepath.Join(t.TempDir(), "report.html")
	if err := os.WriteFile(p, []byte(rep.HTML()), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := run(ctx, 20*time.Second, chromedp.Navigate("file://"+p)); err != nil {
		t.Fatal(err)
	}
	type plot struct {
		Name        string
		MinLabelX   float64
		Labels      []string
		Spread      float64
		Overlapping int
		XTicks      int
	}
	plots := eval[[]plot](t, ctx, `[...document.querySelectorAll('svg')].map(svg => {
		const ys = [...svg.querySelectorAll('text[data-tick="y"]')];
		const xs = [...svg.querySelectorAll('text[data-tick="x"]')].map(e => e.getBBox());
		const frame = svg.querySelector('rect').getBBox();
		const cx = [...svg.querySelectorAll('circle')].map(c => Number(c.getAttribute('cx')));
		let over = 0;
		for (let i = 1; i < xs.length; i++) if (xs[i - 1].x + xs[i - 1].width > xs[i].x) over++;
		return {name: svg.getAttribute('aria-label'), minLabelX: Math.min(...ys.map(e => e.getBBox().x)), labels: ys.map(e => e.textContent),
			spread: (Math.max(...cx) - Math.min(...cx)) / frame.width, overlapping: over, xTicks: xs.length};
	})`)
	if len(plots) != 2 {
		t.Fatalf("%d plots, want 2", len(plots))
	}
	for _, pl := range plots {
		if pl.MinLabelX < 0 {
			t.Errorf("%s: y labels %q start at x=%.1f, outside the plot (digits cut off)", pl.Name, pl.Labels, pl.MinLabelX)
		}
		if pl.Spread < 0.8 {
			t.Errorf("%s: 50 runs of one hour span %.0f%% of the plot's width, want them spread", pl.Name, 100*pl.Spread)
		}
		if pl.Overlapping > 0 || pl.XTicks < 3 {
			t.Errorf("%s: %d x labels, %d overlapping", pl.Name, pl.XTicks, pl.Overlapping)
		}
	}
	screenshot(t, ctx, artifacts(t), "bench-report")
}

// TestBrowserDeskOrdersByStage: "Desk orders" counts the orders of the
// services labelled stage="entry" (sdk MetricsOptions.Stage), whatever
// their names; without that label, the services named like a gateway.
func TestBrowserDeskOrdersByStage(t *testing.T) {
	ctx := browser(t)
	st := startStack(t, 3, false)
	load(t, ctx, st.URL+"/#/overview?range=15m")
	if sub := eval[string](t, ctx, `document.querySelector('[data-kpi="Desk orders"] .kpi-sub').textContent`); !strings.Contains(sub, "at gateway (by name") {
		t.Errorf("without stage labels: %q, want the gateway, by name", sub)
	}
	for i := 1; i <= 2; i++ {
		textPush(t, st, "order-router", fmt.Sprintf("# TYPE gmc_orders_total counter\ngmc_orders_total{result=\"success\",stage=\"entry\"} %d\n", 1000*i))
		if i == 1 {
			time.Sleep(2 * time.Second)
		}
	}
	// The first minute of the entry service's data: its orders/s from its
	// first sample to its newest (TestBrowserDeskOrdersFirstMinute), 1000
	// orders between the two pushes.
	t2 := instant(t, st, `timestamp(gmc_orders_total{stage="entry"})`)
	t1 := instantAt(t, st, `timestamp(gmc_orders_total{stage="entry"})`, t2-0.001)
	want := 1000 / (t2 - t1)
	load(t, ctx, st.URL+"/#/overview?range=1h") // another URL: a new page
	got := eval[float64](t, ctx, `Number(document.querySelector('[data-kpi="Desk orders"]').dataset.value)`)
	sub := eval[string](t, ctx, `document.querySelector('[data-kpi="Desk orders"] .kpi-sub').textContent`)
	if !near(got, want, 0.01) || !strings.Contains(sub, "order-router") || strings.Contains(sub, "gateway") {
		t.Errorf("desk orders %v (%q), want order-router's %v (stage=\"entry\"), not the gateway's", got, sub, want)
	}
}

// TestBrowserDeskOrdersEntryDown: with its entry service down, "Desk
// orders" says it does not know and since when, never a stale or zero
// rate; back up, the rate returns.
func TestBrowserDeskOrdersEntryDown(t *testing.T) {
	ctx := browser(t)
	st := startStackWith(t, 3, false, func(c *config.Config) {
		c.Server.ServiceLiveness = map[string]config.Liveness{"order-router": {StaleAfter: config.Duration(3 * time.Second), DownAfter: config.Duration(4 * time.Second)}}
	})
	// Through the JSON push: a Pushgateway group (textPush) is not judged
	// by down_after (its last push stays current).
	push := func(n int) {
		jsonPush(t, st, fmt.Sprintf(`{"service":"order-router","labels":{"result":"success","stage":"entry"},"metrics":{"gmc_orders_total":%d}}`, n))
	}
	push(1000)
	time.Sleep(1500 * time.Millisecond)
	push(2000)
	last := time.Now()
	// Down after 4 s of silence; its 1m rate still has both samples.
	time.Sleep(5 * time.Second)
	if r := instant(t, st, `sum(rate(gmc_orders_total{stage="entry"}[1m]))`); !(r > 0) {
		t.Fatalf("entry rate %v: want the stale 1m rate a naive tile would show", r)
	}
	load(t, ctx, st.URL+"/#/overview?range=15m")
	val := eval[string](t, ctx, `document.querySelector('[data-kpi="Desk orders"] .kpi-value').textContent`)
	sub := eval[string](t, ctx, `document.querySelector('[data-kpi="Desk orders"] .kpi-sub').textContent`)
	raw := eval[string](t, ctx, `document.querySelector('[data-kpi="Desk orders"]').dataset.value || ''`)
	since := regexp.MustCompile(`entry service order-router down since (\d\d:\d\d:\d\d)`).FindStringSubmatch(sub)
	if val != "unknown" || raw != "" || since == nil {
		t.Fatalf("desk orders with the entry service down: %q (%q, data-value %q), want unknown, \"entry service order-router down since HH:MM:SS\" and no value", val, sub, raw)
	}
	// The time is the last push's (the browser's local time zone, as the test's).
	if at, err := time.ParseInLocation("15:04:05", since[1], time.Local); err == nil {
		want := last.Truncate(time.Second)
		got := time.Date(want.Year(), want.Month(), want.Day(), at.Hour(), at.Minute(), at.Second(), 0, time.Local)
		if d := got.Sub(want); d < -2*time.Second || d > time.Second {
			t.Errorf("down since %s, want the last push at %s", since[1], last.Format("15:04:05"))
		}
	}
	screenshot(t, ctx, artifacts(t), "desk-entry-down")
	// Back up: the tile shows a rate again (a fresh page right after a push).
	urls := []string{st.URL + "/#/overview?range=1h", st.URL + "/#/overview?range=15m"}
	for i := 0; i < 5; i++ {
		push(3000 + 1000*i)
		load(t, ctx, urls[i%2])
		if eval[string](t, ctx, `document.querySelector('[data-kpi="Desk orders"] .kpi-value').textContent`) != "unknown" {
			break
		}
	}
	if val := eval[string](t, ctx, `document.querySelector('[data-kpi="Desk orders"] .kpi-value').textContent`); !strings.Contains(val, "orders/s") {
		t.Errorf("desk orders with the entry service back: %q, want a rate", val)
	}
}

// TestBrowserCappedWhileDown: a p99 past the last finite bucket kept its
// "> last edge" only while the service had series now: the edges were
// read with an instant query, so during an outage the market-data feed's
// p99 read an exact 81.9 ms (t-user3 #6). The edges are now those of the
// series seen in the range.
func TestBrowserCappedWhileDown(t *testing.T) {
	ctx := browser(t)
	st := startStack(t, 3, false)
	for i := 1; i <= 2; i++ {
		textPush(t, st, "gone-engine", orderLatencyText([]string{"0.001", "0.01", "+Inf"}, []int{0, i, 100 * i}, 5*i))
		if i == 1 {
			time.Sleep(1500 * time.Millisecond)
		}
	}
	// The service goes away: its group is deleted, so it has no series now.
	req, err := http.NewRequest(http.MethodDelete, st.URL+"/metrics/job/test/service/gone-engine", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("delete the group: %s", resp.Status)
	}
	time.Sleep(500 * time.Millisecond)
	if n := instant(t, st, `count(gmc_order_latency_seconds_bucket{service="gone-engine"}) or vector(0)`); n != 0 {
		t.Fatalf("%v bucket series now after the delete, want none (the service down)", n)
	}
	load(t, ctx, st.URL+"/#/service/gone-engine?range=15m")
	if err := poll(ctx, 10*time.Second, `!!document.querySelector('[data-stats="latency"] tr[data-series="p99"] [data-stat="max"]')`); err != nil {
		t.Fatalf("latency legend: %v", err)
	}
	if txt := eval[string](t, ctx, `document.querySelector('[data-stats="latency"] tr[data-series="p99"] [data-stat="max"]').textContent`); txt != "> 10 ms" {
		t.Errorf("latency legend p99 max %q with the service gone, want \"> 10 ms\" (its p99 lay past the last bucket)", txt)
	}
	screenshot(t, ctx, artifacts(t), "capped-while-down")
	// The Overview's p99 chart likewise.
	load(t, ctx, st.URL+"/#/overview?range=15m")
	if err := poll(ctx, 10*time.Second, `!!document.querySelector('[data-stats="p99"] tr[data-series="gone-engine"] [data-stat="max"]')`); err != nil {
		t.Fatalf("overview p99 legend: %v", err)
	}
	if txt := eval[string](t, ctx, `document.querySelector('[data-stats="p99"] tr[data-series="gone-engine"] [data-stat="max"]').textContent`); txt != "> 10 ms" {
		t.Errorf("overview p99 legend max of gone-engine %q with the service gone, want \"> 10 ms\"", txt)
	}
}
