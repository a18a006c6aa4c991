package web

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
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
	unavailable.Store(true)
	if got, want := readEvent(t, r), `{"available":false,"alerts":[]}`; got != want {
		t.Fatalf("when unavailable: %s, want %s", got, want)
	}
	ui.Shutdown()
	if _, err := io.ReadAll(r); err != nil {
		t.Fatalf("stream after Shutdown: %v, want a clean end", err)
	}
}

func TestAlertsFromAPI(t *testing.T) {
	body := `{"status":"success","data":{"alerts":[
	 {"labels":{"alertname":"B","severity":"warning"},"annotations":{},"state":"firing","activeAt":"2026-11-25T10:00:00Z","value":"1e+00"},
	 {"labels":{"alertname":"P","severity":"critical"},"annotations":{},"state":"pending","activeAt":"2026-11-25T10:00:00Z","value":"1"},
	 {"labels":{"alertname":"A","severity":"critical","service":"me"},"annotations":{"summary":"p99 over 1ms"},"state":"firing","activeAt":"2026-11-25T10:00:01Z","value":"0.0012"}]}}`
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/alerts", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, body) })
	as, err := AlertsFromAPI(mux)(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(as) != 2 || as[0].Name != "A" || as[0].Service != "me" || as[0].Summary != "p99 over 1ms" || as[0].Value != "0.0012" || as[1].Name != "B" {
		t.Fatalf("alerts %+v, want A (critical, me) then B; pending P left out", as)
	}
	if _, err := AlertsFromAPI(http.NewServeMux())(context.Background()); !errors.Is(err, ErrAlertsUnavailable) {
		t.Fatalf("from a mux without /api/v1/alerts: %v, want ErrAlertsUnavailable", err)
	}
	bad := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "boom", 500) })
	if _, err := AlertsFromAPI(bad)(context.Background()); err == nil || !strings.Contains(err.Error(), "500") {
		t.Fatalf("from a failing handler: %v", err)
	}
}
