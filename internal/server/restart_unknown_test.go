package server_test

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gmc-dev/gmc/internal/config"
)

// TestRestartUnknownOnTheBanner: an alert on max_over_time(…[1m]) firing
// when gmc stopped, its data older than the window when gmc starts again
// (down 6 minutes), is not active at the first evaluation since, and gmc
// waits its rule's range (a minute) before it ends the episode: until then
// its state is unknown (the alert history says so). The dashboard's event
// stream, which the banner on every page draws, had it nowhere (no alert
// firing: the banner hidden, as if all were quiet). It now lists it under
// "unknown".
func TestRestartUnknownOnTheBanner(t *testing.T) {
	hookURL, got := startWebhook(t)
	rules := filepath.Join(t.TempDir(), "rules.yml")
	if err := os.WriteFile(rules, []byte(`groups:
  - name: desk
    rules:
      - alert: MatchingLatencyHigh
        expr: max_over_time(latency_us{service="matching-engine"}[1m]) > 1000
        labels: {severity: page}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(append(fmt.Appendf(nil, `
alerting:
  evaluation_interval: 200ms
  default_rules: false
  rule_files: [%q]
`, rules), webhookNotify(hookURL)...))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var c offsetClock
	base, stop := runServerIn(t, cfg, dir, c.now)
	body := fmt.Sprintf(`{"service":"matching-engine","instance":"me-1","timestamp":%.3f,"metrics":{"latency_us":2500}}`, float64(c.now().UnixMilli())/1000)
	if code, b := do(t, "POST", base+"/api/v1/push", "application/json", []byte(body)); code/100 != 2 {
		t.Fatalf("push: %d %s", code, b)
	}
	waitWebhook(t, got, 15*time.Second, "firing MatchingLatencyHigh", func(m webhookMsg) bool {
		return hasAlert(m, "firing", map[string]string{"alertname": "MatchingLatencyHigh", "service": "matching-engine"})
	})
	stop()

	c.advance(6 * time.Minute)
	base, _ = runServerIn(t, cfg, dir, c.now)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/ui/events", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	var last string
	for sc.Scan() {
		data, ok := strings.CutPrefix(sc.Text(), "data: {")
		if !ok {
			continue
		}
		last = "{" + data
		if strings.Contains(last, `"unknown":[{"name":"MatchingLatencyHigh","severity":"page","service":"matching-engine","state":"unknown"`) {
			if strings.Contains(last, `"alerts":[{`) {
				t.Fatalf("alerts event %s: MatchingLatencyHigh unknown, and an alert firing", last)
			}
			return
		}
	}
	t.Fatalf("no alerts event listed MatchingLatencyHigh{service=matching-engine} as unknown after the restart; last %s (%v)", last, sc.Err())
}
