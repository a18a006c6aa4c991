package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestRemoteStorageMode runs gmc with storage.mode remote in front of a real
// Prometheus 2.42 (remote-write receiver and remote-read endpoint): gmc keeps
// no TSDB; what is pushed to gmc is in Prometheus; gmc's PromQL API, product
// API and push-triggered rules read it back through remote read; an alert
// fires and resolves. It measures push → notification latency in remote
// mode and, for comparison, with the embedded TSDB.
func TestRemoteStorageMode(t *testing.T) {
	t.Parallel()
	prom := startPrometheus(t, "global: {}\n", "--web.enable-remote-write-receiver")

	remoteData := t.TempDir()
	remoteGMC, remoteHook := startNotifyingGMC(t, remoteData, fmt.Sprintf(`storage:
  mode: remote
  write_url: %s/api/v1/write
  read_url: %s/api/v1/read
`, prom.URL(), prom.URL()))
	localGMC, localHook := startNotifyingGMC(t, t.TempDir(), "")

	// No TSDB of its own.
	for _, sub := range []string{"wal", "chunks_head"} {
		if _, err := os.Stat(filepath.Join(remoteData, sub)); err == nil {
			t.Errorf("remote mode created %s in its data dir", sub)
		}
	}

	ctx := context.Background()
	client := httpClient()
	now := time.Now()
	body := fmt.Sprintf(`{"service":"remote-test","instance":"r1","timestamp":%.3f,"metrics":{"latency_us":250,"tps":1200}}`,
		float64(now.UnixMilli())/1000)
	if code, msg, err := post(ctx, client, remoteGMC.URL()+"/api/v1/push", "application/json", nil, []byte(body)); err != nil || code != http.StatusNoContent {
		t.Fatalf("push to remote-mode gmc: %d %s %v", code, msg, err)
	}
	// The write is in Prometheus itself…
	if v := instantValue(t, prom, `tps{service="remote-test"}`); v != "1200" {
		t.Errorf("Prometheus has tps = %q, want 1200", v)
	}
	// …and gmc reads it back through remote read: PromQL API and product API.
	if v := instantValue(t, remoteGMC, `tps{service="remote-test"}`); v != "1200" {
		t.Errorf("gmc's PromQL API answers tps = %q, want 1200", v)
	}
	resp, err := client.Get(remoteGMC.URL() + "/metrics/remote-test")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), "1200") || !strings.Contains(string(b), "latency_us") {
		t.Errorf("GET /metrics/remote-test = %d %s; want tps 1200 and latency_us", resp.StatusCode, b)
	}
	resp, err = client.Get(remoteGMC.URL() + "/system/status")
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), `"mode":"remote"`) {
		t.Errorf("/system/status does not say the storage is remote: %s", b)
	}

	// Push → notification, a few incidents each.
	const incidents = 5
	measure := func(name string, gmc *proc, hook *hookRecorder) []time.Duration {
		var lat []time.Duration
		for i := range incidents {
			pushed := time.Now()
			high := fmt.Sprintf(`{"service":"remote-test","instance":"r1","metrics":{"latency_us":%d}}`, 5000+i)
			if code, msg, err := post(ctx, client, gmc.URL()+"/api/v1/push", "application/json", nil, []byte(high)); err != nil || code != http.StatusNoContent {
				t.Fatalf("%s: push: %d %s %v", name, code, msg, err)
			}
			at := hook.wait(t, "firing", i+1, 20*time.Second)
			lat = append(lat, at.Sub(pushed))
			low := `{"service":"remote-test","instance":"r1","metrics":{"latency_us":100}}`
			if code, msg, err := post(ctx, client, gmc.URL()+"/api/v1/push", "application/json", nil, []byte(low)); err != nil || code != http.StatusNoContent {
				t.Fatalf("%s: push: %d %s %v", name, code, msg, err)
			}
			hook.wait(t, "resolved", i+1, 20*time.Second)
		}
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		t.Logf("%s: push → firing notification over %d incidents: min %s, median %s, max %s",
			name, incidents, lat[0].Round(time.Millisecond), lat[len(lat)/2].Round(time.Millisecond), lat[len(lat)-1].Round(time.Millisecond))
		return lat
	}
	rl := measure("remote mode (Prometheus 2.42)", remoteGMC, remoteHook)
	ll := measure("embedded TSDB", localGMC, localHook)
	t.Logf("median ratio remote/local: %.1f×", float64(rl[len(rl)/2])/float64(max(ll[len(ll)/2], time.Millisecond)))
	// The alert series gmc's rules write go to the remote too.
	if v := instantValue(t, prom, `count_over_time(ALERTS{alertname="RemoteLatencyHigh",alertstate="firing"}[5m])`); v == "" {
		t.Errorf("Prometheus holds no ALERTS series written by remote-mode gmc")
	}
}

// startNotifyingGMC starts gmc with storageYAML, a rule firing when
// latency_us of service remote-test exceeds 1000 and a webhook receiver
// recording the notifications.
func startNotifyingGMC(t *testing.T, dataDir, storageYAML string) (*proc, *hookRecorder) {
	t.Helper()
	hook := newHookRecorder(t)
	dir := t.TempDir()
	rules := filepath.Join(dir, "rules.yml")
	if err := os.WriteFile(rules, []byte(`groups:
  - name: remote
    rules:
      - alert: RemoteLatencyHigh
        expr: latency_us{service="remote-test"} > 1000
        labels: {severity: page}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := storageYAML + fmt.Sprintf(`alerting:
  evaluation_interval: 10s
  default_rules: false
  rule_files: [%q]
notify:
  route:
    receiver: hook
    group_by: [alertname]
    group_wait: 0s
    group_interval: 1s
    repeat_interval: 1h
  receivers:
    - name: hook
      webhook_configs:
        - url: %q
          send_resolved: true
`, rules, hook.srv.URL+"/hook")
	return startGMC(t, dataDir, cfg), hook
}

// hookRecorder is a webhook receiver counting notifications by status.
type hookRecorder struct {
	srv *httptest.Server
	mu  sync.Mutex
	at  map[string][]time.Time
}

func newHookRecorder(t *testing.T) *hookRecorder {
	h := &hookRecorder{at: map[string][]time.Time{}}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		now := time.Now()
		var n struct {
			Status string `json:"status"`
		}
		if err := json.NewDecoder(r.Body).Decode(&n); err != nil {
			t.Errorf("webhook body: %v", err)
			return
		}
		h.mu.Lock()
		h.at[n.Status] = append(h.at[n.Status], now)
		h.mu.Unlock()
	}))
	t.Cleanup(h.srv.Close)
	return h
}

// wait returns when the n-th notification with status arrived.
func (h *hookRecorder) wait(t *testing.T, status string, n int, timeout time.Duration) time.Time {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		h.mu.Lock()
		if len(h.at[status]) >= n {
			at := h.at[status][n-1]
			h.mu.Unlock()
			return at
		}
		h.mu.Unlock()
		time.Sleep(2 * time.Millisecond)
	}
	t.Fatalf("no %d-th %s notification within %s", n, status, timeout)
	return time.Time{}
}

// instantValue is the single value of an instant query, "" when the result
// is empty.
func instantValue(t *testing.T, p *proc, query string) string {
	t.Helper()
	data, err := apiGet(context.Background(), p.URL()+"/api/v1/query?"+url.Values{"query": {query}}.Encode())
	if err != nil {
		t.Fatalf("query %s %q: %v", p.name, query, err)
	}
	var d struct {
		Result []struct {
			Value [2]any `json:"value"`
		} `json:"result"`
	}
	if err := json.Unmarshal(data, &d); err != nil {
		t.Fatalf("query %s: %v", p.name, err)
	}
	if len(d.Result) == 0 {
		return ""
	}
	v, _ := d.Result[0].Value[1].(string)
	return v
}
