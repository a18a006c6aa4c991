package server_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gmc-dev/gmc/internal/config"
)

// TestPushToNotification drives the whole alerting path of a running server:
// a JSON push breaching a threshold rule is evaluated on arrival (not on the
// 1 h timer configured here) and notified through a webhook receiver; a
// push back under the threshold resolves it.
func TestPushToNotification(t *testing.T) {
	hookURL, got := startWebhook(t)

	yml := `
alerting:
  evaluation_interval: 1h
  default_rules: false
  thresholds:
    - {name: MatchingLatencyHigh, metric: latency_us, op: ">", value: 1000, service: matching-engine, severity: page}
` + webhookNotify(hookURL)
	cfg, err := config.Load([]byte(yml))
	if err != nil {
		t.Fatal(err)
	}
	base := startServer(t, cfg)
	// Samples a little in the past (rules evaluate at now and must see them),
	// each push 1 ms on, so two samples of one series never share a timestamp.
	ts := time.Now().Add(-10 * time.Second)
	push := func(v float64) {
		ts = ts.Add(time.Millisecond)
		body := fmt.Sprintf(`{"service":"matching-engine","instance":"me-1","timestamp":%.3f,"metrics":{"latency_us":%g}}`,
			float64(ts.UnixMilli())/1000, v)
		if code, resp := do(t, "POST", base+"/api/v1/push", "application/json", []byte(body)); code != http.StatusNoContent {
			t.Fatalf("push: %d %s", code, resp)
		}
	}
	wait := func(status string) webhookMsg {
		t.Helper()
		return waitWebhook(t, got, 10*time.Second, status, func(m webhookMsg) bool { return m.Status == status })
	}

	push(300) // healthy
	push(2500)
	m := wait("firing")
	if len(m.Alerts) != 1 || m.Alerts[0].Labels["alertname"] != "MatchingLatencyHigh" ||
		m.Alerts[0].Labels["service"] != "matching-engine" || m.Alerts[0].Labels["severity"] != "page" {
		t.Errorf("firing notification = %+v", m)
	}
	code, body := do(t, "GET", base+"/api/v1/alerts", "", nil)
	if code != http.StatusOK || !strings.Contains(body, `"state":"firing"`) {
		t.Errorf("/api/v1/alerts = %d %s", code, body)
	}

	push(250)
	m = wait("resolved")
	if len(m.Alerts) != 1 || m.Alerts[0].Status != "resolved" {
		t.Errorf("resolved notification = %+v", m)
	}
	code, body = do(t, "GET", base+"/alerts/history?alertname=MatchingLatencyHigh", "", nil)
	if code != http.StatusOK || !strings.Contains(body, "MatchingLatencyHigh") {
		t.Errorf("/alerts/history = %d %s", code, body)
	}
}
