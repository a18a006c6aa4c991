package server_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gmc-dev/gmc/internal/config"
	"github.com/gmc-dev/gmc/internal/server"
	"github.com/gmc-dev/gmc/internal/server/servertest"
	"github.com/gmc-dev/gmc/internal/sla"
)

// TestBurnPageSaysErrorsEnded: the demo's SLAErrorBudgetBurn page, sent
// once its 5m window held 5 minutes of data, said "burns its error budget
// …" although the errors had ended; the dashboard said "draining". A
// server whose clock is 10 s past a whole minute M is pushed 4 minutes of
// orders (a sample each 10 s, objective 99.9%), 20% of them errors until
// M-1m, none after: the 1h & 5m page fires on the push, 70 s after the
// errors ended, and the webhook's page says when they ended and when the
// 5m window clears (the rules' drain read wired to the SLA reporter's).
func TestBurnPageSaysErrorsEnded(t *testing.T) {
	hookURL, got := startWebhook(t)
	cfg, err := config.Load([]byte(`
alerting:
  evaluation_interval: 1h
  default_rules: false
slas:
  - name: orders
    service: me
    objective: 99.9
    indicator:
      ratio:
        errors: 'app_errors_total{service="me"}'
        total: 'app_requests_total{service="me"}'
` + webhookNotify(hookURL)))
	if err != nil {
		t.Fatal(err)
	}
	// As TestBurnDrainOneReadPerPoll's clock: behind the real one by
	// under a minute, so the push evaluates within the minute after M.
	real0 := time.Now()
	off := real0.Truncate(time.Minute).Add(10 * time.Second).Sub(real0)
	if off > 0 {
		off -= time.Minute
	}
	now := func() time.Time { return time.Now().Add(off) }
	srv := servertest.Run(t, server.Options{Config: cfg, Now: now})
	base := servertest.Ready(t, srv)

	m := now().Truncate(time.Minute)
	var objs []string
	req, errs := 0, 0
	for ts := m.Add(-4 * time.Minute); !ts.After(m); ts = ts.Add(10 * time.Second) {
		objs = append(objs, fmt.Sprintf(`{"service":"me","instance":"me-1","timestamp":%.3f,"metrics":{"app_requests_total":%d,"app_errors_total":%d}}`,
			float64(ts.UnixMilli())/1000, req, errs))
		req += 100
		if ts.Before(m.Add(-time.Minute)) {
			errs += 20
		}
	}
	if code, body := do(t, "POST", base+"/api/v1/push", "application/json", []byte("["+strings.Join(objs, ",")+"]")); code != http.StatusNoContent {
		t.Fatalf("push: %d %s", code, body)
	}
	page := map[string]string{"alertname": sla.AlertName, "sla": "orders", "long_window": "1h"}
	msg := waitWebhook(t, got, 20*time.Second, "burn page", func(m webhookMsg) bool { return hasAlert(m, "firing", page) })
	ended, clears := m.Add(-time.Minute).UTC(), m.Add(4*time.Minute).UTC()
	want := fmt.Sprintf("; its errors ended at %s UTC, and the 5m window clears by %s UTC", ended.Format(time.TimeOnly), clears.Format(time.TimeOnly))
	for _, a := range msg.Alerts {
		if a.Labels["long_window"] != "1h" {
			continue
		}
		if sum := a.Annotations["summary"]; !strings.HasSuffix(sum, want) || !strings.Contains(sum, " burned its error budget ") {
			t.Errorf("page's summary:\n%s\nwant it to say it burned, ending %q", sum, want)
		}
		if e := a.Annotations[sla.ErrorsEndedAnnotation]; e != ended.Format(time.RFC3339) {
			t.Errorf("page's %s = %q, want %q", sla.ErrorsEndedAnnotation, e, ended.Format(time.RFC3339))
		}
	}
}
