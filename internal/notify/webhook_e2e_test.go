package notify

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// TestWebhookRetriesFailingServer drives the whole pipeline to a loopback
// server that fails its first two calls.
func TestWebhookRetriesFailingServer(t *testing.T) {
	var mu sync.Mutex
	calls := 0
	var bodies []map[string]any
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		calls++
		if calls <= 2 {
			http.Error(w, "overloaded", http.StatusServiceUnavailable)
			return
		}
		b, _ := io.ReadAll(r.Body)
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Errorf("body: %v", err)
		}
		bodies = append(bodies, m)
	}))
	defer srv.Close()
	h := start(t, fmt.Sprintf(`
route: {receiver: hook, group_wait: 0s, group_interval: 1h}
receivers:
  - name: hook
    webhook_configs: [{url: %q}]
`, srv.URL+"/alerts"), nil)
	h.d.Send(h.alert("alertname", "Down", "service", "gateway"))
	waitFor(t, "delivery after retries", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(bodies) == 1
	})
	// The server has the body before gmc has the third answer: wait for that
	// attempt to be counted (a clean-clone CI run read 2 requests here).
	waitFor(t, "the third attempt counted", func() bool {
		return h.counter(t, "gmc_notification_requests_total", "channel", "webhook", "receiver", "hook") >= 3
	})
	mu.Lock()
	m, n := bodies[0], calls
	mu.Unlock()
	if n != 3 {
		t.Errorf("%d calls, want 3", n)
	}
	if m["version"] != "4" || m["status"] != "firing" || m["receiver"] != "hook" || m["groupKey"] != `{}:{alertname="Down", service="gateway"}` { // grouped by alertname and service by default
		t.Errorf("payload %v", m)
	}
	for name, want := range map[string]float64{
		"gmc_notifications_total":                1,
		"gmc_notifications_failed_total":         0,
		"gmc_notification_requests_total":        3,
		"gmc_notification_requests_failed_total": 2,
	} {
		if got := h.counter(t, name, "channel", "webhook", "receiver", "hook"); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
}
