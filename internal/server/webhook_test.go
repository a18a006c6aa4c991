package server_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// webhookMsg is a webhook notification as its receiver gets it.
type webhookMsg struct {
	Status string         `json:"status"`
	Alerts []webhookAlert `json:"alerts"`
}

// webhookAlert is one alert of a webhookMsg.
type webhookAlert struct {
	Status      string            `json:"status"`
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
}

// startWebhook serves a webhook receiver until the test ends and returns
// its URL and the notifications it gets, in order (a payload that does
// not decode fails the test).
func startWebhook(t *testing.T) (string, <-chan webhookMsg) {
	t.Helper()
	got := make(chan webhookMsg, 64)
	done := make(chan struct{})
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var m webhookMsg
		if err := json.Unmarshal(b, &m); err != nil {
			t.Errorf("webhook payload: %v: %s", err, b)
		}
		select {
		case got <- m:
		case <-done: // the test ended: nobody reads
		}
	}))
	t.Cleanup(hook.Close)
	t.Cleanup(func() { close(done) }) // first: a handler waiting to send returns
	return hook.URL, got
}

// webhookNotify is the notify: block of a test config that sends every
// alert, grouped by all its labels, to the webhook at url with no wait
// (group_wait 0s, group_interval 100ms). It ends at the notify: level, so
// a test may add its own keys (inhibit_rules:) after it.
func webhookNotify(url string) string {
	return fmt.Sprintf(`notify:
  route:
    receiver: hook
    group_by: ['...']
    group_wait: 0s
    group_interval: 100ms
  receivers:
    - name: hook
      webhook_configs: [{url: %q}]
`, url)
}

// waitWebhook returns the first notification from got that match accepts
// within limit (what names it in the failure), dropping the others.
func waitWebhook(t *testing.T, got <-chan webhookMsg, limit time.Duration, what string, match func(webhookMsg) bool) webhookMsg {
	t.Helper()
	timeout := time.After(limit)
	for {
		select {
		case m := <-got:
			if match(m) {
				return m
			}
		case <-timeout:
			t.Fatalf("no %s notification within %s", what, limit)
		}
	}
}

// hasAlert reports whether m holds an alert in status whose labels
// include want.
func hasAlert(m webhookMsg, status string, want map[string]string) bool {
	for _, a := range m.Alerts {
		ok := a.Status == status
		for k, v := range want {
			ok = ok && a.Labels[k] == v
		}
		if ok {
			return true
		}
	}
	return false
}
