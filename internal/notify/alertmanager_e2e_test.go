package notify

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

const alertmanagerBin = "/usr/bin/prometheus-alertmanager"

// startAlertmanager runs the real Alertmanager on 127.0.0.1 with a webhook
// receiver pointing at hookURL and returns its base URL.
func startAlertmanager(t *testing.T, hookURL string) string {
	t.Helper()
	if _, err := os.Stat(alertmanagerBin); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s missing (apt-get install prometheus-alertmanager): %v", alertmanagerBin, err)
		}
		t.Skipf("%s missing: %v", alertmanagerBin, err)
	}
	dir := t.TempDir()
	cfg := fmt.Sprintf(`route:
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
`, hookURL)
	cfgFile := filepath.Join(dir, "alertmanager.yml")
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	var logs safeBuffer
	cmd := exec.Command(alertmanagerBin,
		"--config.file="+cfgFile,
		"--storage.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr,
		"--cluster.listen-address=",
		"--log.level=warn",
	)
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("start alertmanager: %v", err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Kill() // only the process this test started, by PID
		<-exited
		if t.Failed() {
			t.Logf("alertmanager output:\n%s", logs.String())
		}
	})
	base := "http://" + addr
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(base + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return base
			}
		}
		select {
		case <-exited:
			t.Fatalf("alertmanager exited:\n%s", logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("alertmanager not ready at %s:\n%s", base, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

type safeBuffer struct {
	mu sync.Mutex
	b  []byte
}

func (s *safeBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.b = append(s.b, p...)
	return len(p), nil
}

func (s *safeBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return string(s.b)
}

// hookMessage is the part of Alertmanager's webhook payload the test reads.
type hookMessage struct {
	Version  string `json:"version"`
	Status   string `json:"status"`
	Receiver string `json:"receiver"`
	Alerts   []struct {
		Status      string            `json:"status"`
		Labels      map[string]string `json:"labels"`
		Annotations map[string]string `json:"annotations"`
	} `json:"alerts"`
}

func TestRealAlertmanagerReceivesAlerts(t *testing.T) {
	var mu sync.Mutex
	var got []hookMessage
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var m hookMessage
		if err := json.Unmarshal(b, &m); err != nil {
			t.Errorf("webhook body %s: %v", b, err)
		}
		mu.Lock()
		got = append(got, m)
		mu.Unlock()
	}))
	defer hook.Close()
	amURL := startAlertmanager(t, hook.URL)

	h := start(t, fmt.Sprintf(`
route: {receiver: am}
receivers:
  - name: am
    alertmanager_configs: [{url: %q}]
`, amURL), nil, func(o *Options) { o.Now = time.Now })
	messages := func() []hookMessage {
		mu.Lock()
		defer mu.Unlock()
		return append([]hookMessage(nil), got...)
	}
	now := time.Now()
	a := h.alert("alertname", "OrderLatencyHigh", "service", "matching-engine", "severity", "page")
	a.StartsAt, a.EndsAt = now, now.Add(time.Minute)
	h.d.Send(a)
	waitFor(t, "alertmanager's firing webhook", func() bool { return len(messages()) >= 1 })
	m := messages()[0]
	if m.Version != "4" || m.Status != "firing" || m.Receiver != "hook" || len(m.Alerts) != 1 {
		t.Fatalf("webhook message %+v", m)
	}
	want := map[string]string{"alertname": "OrderLatencyHigh", "service": "matching-engine", "severity": "page"}
	if fmt.Sprint(m.Alerts[0].Labels) != fmt.Sprint(want) || m.Alerts[0].Annotations["summary"] != "it broke" {
		t.Errorf("alert %+v, want labels %v", m.Alerts[0], want)
	}
	// Resolve it: Alertmanager notifies the resolution after its group_interval.
	r := *a
	r.EndsAt = time.Now()
	h.d.Send(&r)
	waitFor(t, "alertmanager's resolved webhook", func() bool {
		ms := messages()
		return len(ms) >= 2 && ms[len(ms)-1].Status == "resolved"
	})
	if c := h.counter(t, "gmc_notifications_failed_total", "channel", "alertmanager"); c != 0 {
		t.Errorf("failed forwards: %v", c)
	}
}
