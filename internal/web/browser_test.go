package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/gmc-dev/gmc/internal/config"
	"github.com/gmc-dev/gmc/internal/server"
	"github.com/gmc-dev/gmc/internal/server/servertest"
	"github.com/gmc-dev/gmc/internal/sla"
	"github.com/gmc-dev/gmc/internal/web"
	"github.com/gmc-dev/gmc/internal/web/webtest"
)

// stack is an in-process gmc holding demo-like data with the dashboard in
// front (mounted here until the server wires it), an alert source the test
// controls and, with fixtures, SLA and benchmark-report answers built from
// the sla and bench types (the seed cannot configure the server's own).
type stack struct {
	URL    string
	Data   *webtest.Data
	alerts atomic.Pointer[[]web.Alert]
	down   atomic.Bool
	// slow delays every query answer this long (a busy server).
	slow atomic.Int64
	// mute silences the event stream (kept open, nothing written): a hung server.
	mute atomic.Bool
	// refuse, when set, drops the connection of every request it says
	// true of, as a stopped server would (one request lost to an outage).
	refuse atomic.Pointer[func(*http.Request) bool]
	hs     *httptest.Server
}

// setDown makes the stack behave as a stopped server (every connection
// dropped, new ones closed unanswered) or brings it back.
func (st *stack) setDown(down bool) {
	st.down.Store(down)
	if down {
		st.hs.CloseClientConnections()
	}
}

// stackOption mounts an extra handler in front of the server.
type stackOption func(*http.ServeMux)

func withHandler(pattern string, h http.Handler) stackOption {
	return func(m *http.ServeMux) { m.Handle(pattern, h) }
}

// withSLAs serves sts as gmc's GET /sla answer, for pages judged on SLA
// states the test fixes.
func withSLAs(t *testing.T, sts []sla.Status) stackOption {
	t.Helper()
	b, err := json.Marshal(map[string]any{"status": "success", "data": sts})
	if err != nil {
		t.Fatal(err)
	}
	return withHandler("GET /sla", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(b)
	}))
}

func startStack(t *testing.T, services int, fixtures bool, opts ...stackOption) *stack {
	t.Helper()
	return startStackWith(t, services, fixtures, nil, opts...)
}

// startStackWith is startStack with cfgFn adjusting the server's config.
func startStackWith(t testing.TB, services int, fixtures bool, cfgFn func(*config.Config), opts ...stackOption) *stack {
	t.Helper()
	cfg := config.Default()
	// The seeded data is the desk's present: its services stay up for the
	// test's length (with the defaults they were down 10s after the seed).
	cfg.Server.StaleAfter = config.Duration(30 * time.Minute)
	cfg.Server.DownAfter = config.Duration(time.Hour)
	if cfgFn != nil {
		cfgFn(&cfg)
	}
	srv, _ := servertest.Start(t, cfg)
	return stackOn(t, srv, services, fixtures, opts...)
}

// stackOn is startStack in front of srv, a gmc started by the test.
func stackOn(t testing.TB, srv *server.Server, services int, fixtures bool, opts ...stackOption) *stack {
	t.Helper()
	st := &stack{}
	st.alerts.Store(&[]web.Alert{})
	ui, err := web.New(web.Options{Alerts: func(context.Context) ([]web.Alert, error) { return *st.alerts.Load(), nil }, Interval: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	span := 15 * time.Minute
	mux := http.NewServeMux()
	for _, r := range ui.Routes() {
		mux.HandleFunc(r.Method+" "+r.Path, r.Handler)
	}
	if fixtures {
		fx := webtest.Fixtures(now, span)
		for _, p := range []string{"/sla", "/benchmark/report", "/benchmark/reports"} {
			mux.Handle("GET "+p, fx)
		}
	}
	for _, o := range opts {
		o(mux)
	}
	mux.Handle("/", srv.Handler())
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		refused := false
		if f := st.refuse.Load(); f != nil {
			refused = (*f)(r)
		}
		if st.down.Load() || refused {
			if hj, ok := w.(http.Hijacker); ok {
				if c, _, err := hj.Hijack(); err == nil {
					c.Close()
					return
				}
			}
			panic(http.ErrAbortHandler)
		}
		if r.URL.Path == "/api/ui/events" {
			w = &muteWriter{ResponseWriter: w, mute: &st.mute}
		}
		if d := time.Duration(st.slow.Load()); d > 0 && strings.HasPrefix(r.URL.Path, "/api/v1/query") {
			time.Sleep(d)
		}
		mux.ServeHTTP(w, r)
	}))
	st.hs = hs
	t.Cleanup(func() { ui.Shutdown(); hs.Close() })
	st.URL = hs.URL
	sctx, scancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer scancel()
	st.Data, err = webtest.Seed(sctx, "http://"+srv.Addr(), webtest.Options{Services: services, Span: span, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// muteWriter discards what is written while mute is set.
type muteWriter struct {
	http.ResponseWriter
	mute *atomic.Bool
}

func (m *muteWriter) Write(b []byte) (int, error) {
	if m.mute.Load() {
		return len(b), nil
	}
	return m.ResponseWriter.Write(b)
}

func (m *muteWriter) Flush() { http.NewResponseController(m.ResponseWriter).Flush() } //nolint:errcheck // as http.Flusher, no error to return

func (m *muteWriter) Unwrap() http.ResponseWriter { return m.ResponseWriter }

func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium not found (apt-get install chromium)")
	}
	t.Skip("chromium not found; install the Debian package chromium to run the browser tests")
	return ""
}

func artifacts(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("GMC_TEST_ARTIFACTS")
	if dir == "" {
		return t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func browser(t *testing.T) context.Context {
	t.Helper()
	path := chromium(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox,
		chromedp.Headless,
		chromedp.DisableGPU,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1440, 1000),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-dev-shm-usage", true),
	)
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, cancelB := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelB(); cancelA() })
	// The first Run starts the browser; it lives as long as bctx (no timeout
	// on this one, as chromedp asks); each step below gets its own.
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return bctx
}

// run runs one action with a timeout.
func run[T any](ctx context.Context, d time.Duration, a chromedp.Action[T]) (T, error) {
	c, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	return chromedp.Run(c, a)
}

// poll waits until the JS expression is truthy.
func poll(ctx context.Context, d time.Duration, expr string) error {
	_, err := run(ctx, d, chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingInterval(50*time.Millisecond)))
	return err
}

func eval[T any](t *testing.T, ctx context.Context, js string) T {
	t.Helper()
	v, err := run(ctx, 10*time.Second, chromedp.Evaluate[T](js))
	if err != nil {
		t.Fatalf("%s: %v", js, err)
	}
	return v
}

// load opens a page and waits for its first complete refresh.
func load(t *testing.T, ctx context.Context, url string) {
	t.Helper()
	if _, err := run(ctx, 20*time.Second, chromedp.Navigate(url)); err != nil {
		t.Fatalf("open %s: %v", url, err)
	}
	// A hash change on the same document does not reload: wait for the
	// page of this URL.
	if err := poll(ctx, 20*time.Second, `location.href === `+jsString(url)+` && (Number(document.getElementById('page').dataset.refreshed || 0) >= 1 || !!document.getElementById('page').dataset.error)`); err != nil {
		t.Fatalf("load %s: %v", url, err)
	}
	if e := eval[string](t, ctx, `document.getElementById('page').dataset.error || ''`); e != "" {
		t.Fatalf("load %s: the page reports: %s", url, e)
	}
}

func jsString(s string) string { return strconv.Quote(s) }

// points reads data-points of every chart on the page.
func points(t *testing.T, ctx context.Context) map[string]int {
	t.Helper()
	return eval[map[string]int](t, ctx,
		`Object.fromEntries([...document.querySelectorAll('[data-chart]')].map(e => [e.dataset.chart, Number(e.dataset.points)]))`)
}

func screenshot(t *testing.T, ctx context.Context, dir, name string) {
	t.Helper()
	buf, err := run(ctx, 20*time.Second, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	p := filepath.Join(dir, name+".png")
	if err := os.WriteFile(p, buf, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot %s", p)
}

func evalInt(t *testing.T, ctx context.Context, js string) int {
	t.Helper()
	return eval[int](t, ctx, js)
}

// TestBrowser loads every page in headless Chromium against a gmc with
// data, checks every chart drew points, and that the alert banner appears
// when an alert fires and goes when it resolves.
func TestBrowser(t *testing.T) {
	ctx := browser(t)
	st := startStack(t, 3, true)
	dir := artifacts(t)

	pages := []struct {
		name, path string
		charts     []string
		check      string // JS giving a count that must be > 0
	}{
		{"overview", "#/overview?range=15m", []string{"tps", "p99", "errors"}, `document.querySelectorAll('tr[data-service]').length === 3 && document.querySelectorAll('tr[data-service] .bar').length >= 2 ? 1 : 0`},
		{"service-native", "#/service/matching-engine?range=15m",
			[]string{"latency", "heatmap", "tps", "proc-cpu", "proc-mem", "host-cpu", "host-mem", "host-disk", "host-net"}, ""},
		{"service-classic", "#/service/risk-engine?range=15m", []string{"latency", "heatmap", "tps", "proc-cpu", "host-cpu"}, ""},
		{"service-pushed", "#/service/gateway?range=15m", []string{"latency", "tps", "proc-cpu"}, ""},
		{"risk", "#/risk?range=15m", []string{"pnl", "drawdown", "limit-use", "gross", "net"}, `document.querySelectorAll('.tbl tbody tr').length === 5 ? 1 : 0`},
		{"sla", "#/sla?range=15m", []string{"burn"}, `document.querySelectorAll('[data-sla]').length === 2 ? 1 : 0`},
		{"alerts", "#/alerts?range=1h", nil, `document.querySelectorAll('[data-unavailable], .tbl').length`},
		{"benchmarks", "#/benchmarks?range=1h", []string{"bench-matching-engine-tps", "bench-db-query-latency"},
			`document.querySelectorAll('tr.regressed[data-benchmark="db-query-latency"]').length`},
	}
	for _, p := range pages {
		t.Run(p.name, func(t *testing.T) {
			load(t, ctx, st.URL+"/"+p.path)
			got := points(t, ctx)
			for _, c := range p.charts {
				if got[c] == 0 {
					t.Errorf("chart %q drew no points (all charts: %v)", c, got)
				}
			}
			if p.check != "" && evalInt(t, ctx, p.check) == 0 {
				t.Errorf("check failed: %s", p.check)
			}
			screenshot(t, ctx, dir, p.name)
		})
	}

	t.Run("live", func(t *testing.T) {
		load(t, ctx, st.URL+"/#/overview?range=live")
		if err := poll(ctx, 15*time.Second, `Number(document.getElementById('page').dataset.refreshed) >= 3`); err != nil {
			t.Fatalf("live mode did not refresh by itself: %v", err)
		}
		if got := points(t, ctx); got["tps"] == 0 {
			t.Errorf("live tps chart drew no points: %v", got)
		}
	})

	t.Run("alert-banner", func(t *testing.T) {
		load(t, ctx, st.URL+"/#/overview?range=15m")
		if err := poll(ctx, 10*time.Second, `document.getElementById('banner').dataset.state === 'ok'`); err != nil {
			t.Fatalf("banner never reported the quiet state: %v", err)
		}
		if !bannerHidden(t, ctx) {
			t.Fatal("banner shown while nothing fires")
		}
		refreshed := evalInt(t, ctx, `Number(document.getElementById('page').dataset.refreshed)`)
		active := time.Now().Add(-3 * time.Second)
		st.alerts.Store(&[]web.Alert{{
			Name: "OrderLatencyHigh", Severity: "critical", Service: webtest.Native, State: "firing", ActiveAt: &active,
			Summary: "p99 order latency above 1ms", Labels: map[string]string{"alertname": "OrderLatencyHigh"},
		}})
		if err := poll(ctx, 10*time.Second, `document.getElementById('banner').dataset.state === 'firing'`); err != nil {
			t.Fatalf("banner did not show the firing alert: %v", err)
		}
		text := eval[string](t, ctx, `document.getElementById('banner').textContent`)
		if !strings.Contains(text, "OrderLatencyHigh") || !strings.Contains(text, "matching-engine") || bannerHidden(t, ctx) {
			t.Fatalf("banner text %q (hidden %v), want the alert and its service", text, bannerHidden(t, ctx))
		}
		// No reload: the page kept its state (a reload resets refreshed to 0… then 1).
		if n := evalInt(t, ctx, `Number(document.getElementById('page').dataset.refreshed)`); n < refreshed {
			t.Fatalf("page reloaded: refreshed %d → %d", refreshed, n)
		}
		screenshot(t, ctx, dir, "alert-banner")
		st.alerts.Store(&[]web.Alert{})
		if err := poll(ctx, 10*time.Second, `document.getElementById('banner').dataset.state === 'ok'`); err != nil {
			t.Fatalf("banner did not clear when the alert resolved: %v", err)
		}
		if !bannerHidden(t, ctx) {
			t.Fatal("banner still shown after the alert resolved")
		}
	})
}

func bannerHidden(t *testing.T, ctx context.Context) bool {
	t.Helper()
	return eval[bool](t, ctx, `document.getElementById('banner').hidden`)
}

// TestBrowserFiftyServices loads the overview with 50 services: every row
// is there and the figure charts keep to the top 10 series.
func TestBrowserFiftyServices(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	ctx := browser(t)
	st := startStack(t, 50, false)
	dir := artifacts(t)
	// The server's own SLA and benchmark endpoints, with nothing configured
	// or run: clean notes, no page error.
	load(t, ctx, st.URL+"/#/benchmarks?range=1h")
	if n := evalInt(t, ctx, `document.querySelectorAll('[data-empty], [data-unavailable]').length`); n != 1 {
		t.Errorf("benchmarks page without a report: %d notes, want 1", n)
	}
	screenshot(t, ctx, dir, "benchmarks-no-report")
	load(t, ctx, st.URL+"/#/sla?range=1h")
	load(t, ctx, st.URL+"/#/overview?range=15m")
	if n := evalInt(t, ctx, `document.querySelectorAll('tr[data-service]').length`); n != 50 {
		t.Fatalf("%d service rows, want 50", n)
	}
	if n := evalInt(t, ctx, `Number(document.querySelector('[data-chart="tps"]').dataset.series)`); n != 10 {
		t.Fatalf("tps chart has %d series, want the top 10", n)
	}
	// Rows below the screen get theirs when the browser is idle (chart.js Sparks).
	if err := poll(ctx, 10*time.Second, `document.querySelectorAll('tr[data-service] svg.spark').length >= 100`); err != nil {
		t.Fatalf("%d sparklines, want two per service: %v", evalInt(t, ctx, `document.querySelectorAll('tr[data-service] svg.spark').length`), err)
	}
	screenshot(t, ctx, dir, fmt.Sprintf("overview-%d-services", len(st.Data.Services)))
}
