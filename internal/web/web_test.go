package web

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func newTestUI(t *testing.T, opts Options) *httptest.Server {
	t.Helper()
	u, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(u.Handler())
	t.Cleanup(srv.Close)
	return srv
}

func get(t *testing.T, url string) (*http.Response, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

// TestAssets checks index.html is no-cache and names only assets that exist,
// whose names carry the hash of their content and are cached as immutable.
func TestAssets(t *testing.T) {
	srv := newTestUI(t, Options{})
	resp, index := get(t, srv.URL+"/")
	if resp.StatusCode != 200 || resp.Header.Get("Cache-Control") != "no-cache" || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET /: %d, Cache-Control %q, Content-Type %q", resp.StatusCode, resp.Header.Get("Cache-Control"), resp.Header.Get("Content-Type"))
	}
	refs := regexp.MustCompile(`/assets/([A-Za-z]+)\.([0-9a-f]{12})\.(js|css|svg)`).FindAllStringSubmatch(index, -1)
	if len(refs) < 10 {
		t.Fatalf("index.html names %d hashed assets, want the modules, uPlot, CSS and icon:\n%s", len(refs), index)
	}
	wantType := map[string]string{"js": "text/javascript; charset=utf-8", "css": "text/css; charset=utf-8", "svg": "image/svg+xml"}
	for _, m := range refs {
		resp, body := get(t, srv.URL+m[0])
		if resp.StatusCode != 200 {
			t.Errorf("GET %s: %d", m[0], resp.StatusCode)
			continue
		}
		sum := sha256.Sum256([]byte(body))
		if got := hex.EncodeToString(sum[:])[:12]; got != m[2] {
			t.Errorf("%s: content hash %s, name says %s", m[0], got, m[2])
		}
		if cc := resp.Header.Get("Cache-Control"); cc != "public, max-age=31536000, immutable" {
			t.Errorf("%s: Cache-Control %q", m[0], cc)
		}
		if ct := resp.Header.Get("Content-Type"); ct != wantType[m[3]] {
			t.Errorf("%s: Content-Type %q, want %q", m[0], ct, wantType[m[3]])
		}
	}
	for _, p := range []string{"/assets/nope.js", "/assets/../web.go", "/assets/"} {
		if resp, _ := get(t, srv.URL+p); resp.StatusCode != 404 {
			t.Errorf("GET %s: %d, want 404", p, resp.StatusCode)
		}
	}
}

// readEvent reads the next "alerts" event's data from an SSE stream.
func readEvent(t *testing.T, r *bufio.Reader) string {
	t.Helper()
	event := ""
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("read event stream: %v", err)
		}
		line = strings.TrimRight(line, "\n")
		switch {
		case strings.HasPrefix(line, "event: "):
			event = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: ") && event == "alerts":
			return strings.TrimPrefix(line, "data: ")
		}
	}
}

// TestEvents checks the stream sends the firing alerts at once and again
// each time they change, and says when alerting is unavailable.
func TestEvents(t *testing.T) {
	var firing atomic.Pointer[[]Alert]
	firing.Store(&[]Alert{})
	var unavailable atomic.Bool
	src := func(context.Context) ([]Alert, error) {
		if unavailable.Load() {
			return nil, ErrAlertsUnavailable
		}
		return *firing.Load(), nil
	}
	ui, err := New(Options{Alerts: src, Interval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(ui.Handler())
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/api/ui/events", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type %q", ct)
	}
	r := bufio.NewReader(resp.Body)
	if got, want := readEvent(t, r), `{"available":true,"alerts":[]}`; got != want {
		t.Fatalf("first event %s, want %s", got, want)
	}
	firing.Store(&[]Alert{{Name: "HighLatency", Severity: "critical", Service: "matching-engine", State: "firing", Labels: map[string]string{"alertname": "HighLatency"}}})
	want := `{"available":true,"alerts":[{"name":"HighLatency","severity":"critical","service":"matching-engine","state":"firing","labels":{"alertname":"HighLatency"}}]}`
	if got := readEvent(t, r); got != want {
		t.Fatalf("after firing: %s, want %s", got, want)
	}
	// An alert of unknown state (after a restart) goes apart, not among
	// the firing ones.
	firing.Store(&[]Alert{{Name: "HostCPUHigh", State: "unknown", Labels: map[string]string{"alertname": "HostCPUHigh"}}})
	want = `{"available":true,"alerts":[],"unknown":[{"name":"HostCPUHigh","state":"unknown","labels":{"alertname":"HostCPUHigh"}}]}`
	if got := readEvent(t, r); got != want {
		t.Fatalf("with an alert of unknown state: %s, want %s", got, want)
	}
	// A silenced or inhibited alert is counted, not listed.
	firing.Store(&[]Alert{
		{Name: "HighLatency", State: "firing", Labels: map[string]string{"alertname": "HighLatency"}},
		{Name: "GatewayLatencyHigh", State: "suppressed", Labels: map[string]string{"alertname": "GatewayLatencyHigh"}},
		{Name: "RiskLatencyHigh", State: "suppressed", Labels: map[string]string{"alertname": "RiskLatencyHigh"}},
	})
	want = `{"available":true,"alerts":[{"name":"HighLatency","state":"firing","labels":{"alertname":"HighLatency"}}],"suppressed":2}`
	if got := readEvent(t, r); got != want {
		t.Fatalf("with suppressed alerts: %s, want %s", got, want)
	}
	unavailable.Store(true)
	if got, want := readEvent(t, r), `{"available":false,"alerts":[]}`; got != want {
		t.Fatalf("when unavailable: %s, want %s", got, want)
	}
	ui.Shutdown()
	if _, err := io.ReadAll(r); err != nil {
		t.Fatalf("stream after Shutdown: %v, want a clean end", err)
	}
}

func TestFiringAlerts(t *testing.T) {
	at := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	as := Firing([]Alert{
		NewAlert(map[string]string{"alertname": "B", "severity": "warning"}, map[string]string{}, "firing", &at, "1e+00"),
		NewAlert(map[string]string{"alertname": "P", "severity": "critical"}, map[string]string{}, "pending", &at, "1"),
		NewAlert(map[string]string{"alertname": "A", "severity": "critical", "service": "me"}, map[string]string{"summary": "p99 over 1ms"}, "firing", &at, "0.0012"),
	})
	if len(as) != 2 || as[0].Name != "A" || as[0].Service != "me" || as[0].Summary != "p99 over 1ms" || as[0].Value != "0.0012" || as[1].Name != "B" {
		t.Fatalf("alerts %+v, want A (critical, me) then B; pending P left out", as)
	}
	if d := NewAlert(nil, map[string]string{"description": "d"}, "firing", nil, ""); d.Summary != "d" {
		t.Fatalf("summary falls back to the description: %+v", d)
	}
}

// TestEventsPing: the stream sends a "ping" event every Ping with the
// server's time, and keeps doing so while the alert source is slow (the
// dashboard's heartbeat must not call a busy server disconnected).
func TestEventsPing(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	src := func(ctx context.Context) ([]Alert, error) {
		select { // every read hangs until the test ends
		case <-release:
		case <-ctx.Done():
		}
		return nil, ctx.Err()
	}
	ui, err := New(Options{Alerts: src, Interval: 10 * time.Millisecond, Ping: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(ui.Handler())
	defer srv.Close()
	defer ui.Shutdown()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/api/ui/events", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	r := bufio.NewReader(resp.Body)
	pings := 0
	start := time.Now()
	event := ""
	for pings < 10 {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("read event stream after %d pings: %v", pings, err)
		}
		line = strings.TrimRight(line, "\n")
		switch {
		case strings.HasPrefix(line, "event: "):
			event = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: ") && event == "ping":
			ms, err := strconv.ParseInt(strings.TrimPrefix(line, "data: "), 10, 64)
			if err != nil || time.Since(time.UnixMilli(ms)).Abs() > 5*time.Second {
				t.Fatalf("ping data %q, want the server's time in Unix ms", line)
			}
			pings++
		case strings.HasPrefix(line, "data: ") && event == "alerts":
			t.Fatalf("an alerts event %q while the source never answered", line)
		}
	}
	// 10 pings at 50 ms: about half a second, however slow the alerts are.
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("10 pings took %v", d)
	}
}
