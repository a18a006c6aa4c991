package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	// alertmanagerBinary and amtoolBinary are the Debian package's (apt
	// package prometheus-alertmanager).
	alertmanagerBinary = "/usr/bin/prometheus-alertmanager"
	amtoolBinary       = "/usr/bin/amtool"
)

// amRoute is the routing tree both gmc and the real Alertmanager get.
const amRoute = `route:
  receiver: hook
  group_by: [alertname]
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 1h
  routes:
    - receiver: hook
      matchers: ['service="x"', 'env=~"prod|dr"']
receivers:
  - name: hook
    webhook_configs:
      - url: %s
        send_resolved: true
`

// groupKeyHook is a webhook receiver that keeps the groupKey of every
// notification.
type groupKeyHook struct {
	mu   sync.Mutex
	keys []string
}

func (h *groupKeyHook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var n struct {
		GroupKey string `json:"groupKey"`
	}
	body, _ := io.ReadAll(r.Body)
	if json.Unmarshal(body, &n) == nil {
		h.mu.Lock()
		h.keys = append(h.keys, n.GroupKey)
		h.mu.Unlock()
	}
	w.WriteHeader(http.StatusOK)
}

func (h *groupKeyHook) groupKeys() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.keys...)
}

func startAlertmanager(t *testing.T, hookURL string) *proc {
	t.Helper()
	requirePeer(t, alertmanagerBinary, "prometheus-alertmanager")
	dir := t.TempDir()
	cfg := writeTemp(t, "am.yml", fmt.Sprintf(amRoute, hookURL))
	return startProc(t, "alertmanager", alertmanagerBinary, dir, func(addr string) []string {
		return []string{"--config.file=" + cfg, "--storage.path=" + filepath.Join(dir, "data"),
			"--web.listen-address=" + addr, "--cluster.listen-address=", "--log.level=warn"}
	})
}

// amtool runs amtool against base and returns its standard output; an
// error carries its standard error.
func amtool(t *testing.T, base string, args ...string) (string, error) {
	t.Helper()
	requirePeer(t, amtoolBinary, "prometheus-alertmanager")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, amtoolBinary, append([]string{"--alertmanager.url=" + base}, args...)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		err = fmt.Errorf("%w: %s", err, stderr.String())
	}
	return string(out), err
}

// amAlert is what both must agree on in an alert of GET /api/v2/alerts.
type amAlert struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	Receivers   []struct {
		Name string `json:"name"`
	} `json:"receivers"`
	Status struct {
		State       string   `json:"state"`
		SilencedBy  []string `json:"silencedBy"`
		InhibitedBy []string `json:"inhibitedBy"`
	} `json:"status"`
	Fingerprint string    `json:"fingerprint"`
	StartsAt    time.Time `json:"startsAt"`
	EndsAt      time.Time `json:"endsAt"`
	UpdatedAt   time.Time `json:"updatedAt"`
}

func (a amAlert) String() string {
	var rs []string
	for _, r := range a.Receivers {
		rs = append(rs, r.Name)
	}
	return fmt.Sprintf("%s %s receivers=%v state=%s silenced=%d inhibited=%d fp=%s times=%v",
		labelsKey(a.Labels), labelsKey(a.Annotations), rs, a.Status.State, len(a.Status.SilencedBy), len(a.Status.InhibitedBy),
		a.Fingerprint, !a.StartsAt.IsZero() && a.EndsAt.After(a.StartsAt) && !a.UpdatedAt.IsZero())
}

// queryAlerts runs `amtool alert query -o json` with args and decodes it.
func queryAlerts(t *testing.T, base string, args ...string) []amAlert {
	t.Helper()
	out, err := amtool(t, base, append([]string{"alert", "query", "-o", "json"}, args...)...)
	if err != nil {
		t.Fatalf("amtool alert query against %s: %v\n%s", base, err, out)
	}
	var alerts []amAlert
	if err := json.Unmarshal([]byte(out), &alerts); err != nil {
		t.Fatalf("amtool output %q: %v", out, err)
	}
	return alerts
}

// TestCompatAlertmanager drives gmc and the real Alertmanager 0.25 with
// amtool and a real Prometheus 2.42, and requires the same answers.
func TestCompatAlertmanager(t *testing.T) {
	amHook, gmcHook := &groupKeyHook{}, &groupKeyHook{}
	amHookSrv, gmcHookSrv := httptest.NewServer(amHook), httptest.NewServer(gmcHook)
	defer amHookSrv.Close()
	defer gmcHookSrv.Close()
	am := startAlertmanager(t, amHookSrv.URL)
	gmcCfg := "alerting:\n  default_rules: false\nnotify:\n" + indent(fmt.Sprintf(amRoute, gmcHookSrv.URL), "  ")
	gmc := startGMC(t, t.TempDir(), gmcCfg)

	compat(t, "amtool", "alert add", "200; the alert is routed and notified", func(t *testing.T) {
		for _, base := range []string{am.URL(), gmc.URL()} {
			if out, err := amtool(t, base, "alert", "add", "CompatTest", "service=x", "env=prod", "severity=page", "--annotation=summary=compat"); err != nil {
				t.Fatalf("amtool alert add against %s: %v\n%s", base, err, out)
			}
		}
	})
	compat(t, "webhook", "groupKey of a notification", "Alertmanager's form: {}/{matchers}:{group labels}", func(t *testing.T) {
		eventually(t, 20*time.Second, 100*time.Millisecond, "a notification on both hooks", func() error {
			if len(amHook.groupKeys()) == 0 || len(gmcHook.groupKeys()) == 0 {
				return fmt.Errorf("alertmanager sent %d, gmc %d", len(amHook.groupKeys()), len(gmcHook.groupKeys()))
			}
			return nil
		})
		if a, g := amHook.groupKeys()[0], gmcHook.groupKeys()[0]; a != g {
			t.Fatalf("groupKey: Alertmanager %q, gmc %q", a, g)
		}
	})
	compat(t, "amtool", "alert query", "the same alerts (labels, annotations, receivers, state, fingerprint)", func(t *testing.T) {
		want, got := queryAlerts(t, am.URL(), "alertname=CompatTest"), queryAlerts(t, gmc.URL(), "alertname=CompatTest")
		if len(want) != 1 || fmt.Sprint(want) != fmt.Sprint(got) {
			t.Fatalf("alerts differ\nAlertmanager: %v\ngmc:          %v", want, got)
		}
	})
	for _, tc := range []struct {
		matchers []string
		ok       bool
	}{
		{[]string{`service!="y"`}, true},
		{[]string{`service!~"y|z"`, `env!="dev"`}, true},
		{[]string{`service=""`}, false},
	} {
		want := "accepted"
		if !tc.ok {
			want = "refused"
		}
		compat(t, "amtool", "silence add "+strings.Join(tc.matchers, " "), want+", as Alertmanager 0.25", func(t *testing.T) {
			for _, base := range []string{am.URL(), gmc.URL()} {
				out, err := amtool(t, base, append(append([]string{"silence", "add"}, tc.matchers...), "-c", "compat", "-a", "tester", "-d", "1m")...)
				if (err == nil) != tc.ok {
					t.Fatalf("%s: amtool silence add %v: %v\n%s", base, tc.matchers, err, out)
				}
			}
		})
	}
	compat(t, "amtool", "alert query --silenced after a silence", "state suppressed, silencedBy set", func(t *testing.T) {
		for _, base := range []string{am.URL(), gmc.URL()} {
			if out, err := amtool(t, base, "silence", "add", "alertname=CompatTest", "-c", "compat", "-a", "tester", "-d", "1m"); err != nil {
				t.Fatalf("%s: %v\n%s", base, err, out)
			}
		}
		want, got := queryAlerts(t, am.URL(), "--silenced", "alertname=CompatTest"), queryAlerts(t, gmc.URL(), "--silenced", "alertname=CompatTest")
		if len(want) != 1 || want[0].Status.State != "suppressed" || fmt.Sprint(want) != fmt.Sprint(got) {
			t.Fatalf("alerts differ\nAlertmanager: %v\ngmc:          %v", want, got)
		}
		if active := queryAlerts(t, gmc.URL(), "alertname=CompatTest"); len(active) != 0 {
			t.Fatalf("gmc lists a silenced alert without --silenced: %v", active)
		}
	})
	compat(t, "amtool", "config show (GET /api/v2/status)", "exit 0, the routing tree shown", func(t *testing.T) {
		out, err := amtool(t, gmc.URL(), "config", "show")
		if err != nil || !strings.Contains(out, "receiver: hook") {
			t.Fatalf("amtool config show: %v\n%s", err, out)
		}
	})
	for _, args := range [][]string{
		{"config", "routes"},
		{"config", "routes", "test", "service=x", "env=prod"},
	} {
		compat(t, "amtool", strings.Join(args, " "), "the same routing tree and receivers as Alertmanager 0.25", func(t *testing.T) {
			want, err := amtool(t, am.URL(), args...)
			must(t, err, "amtool %v against Alertmanager", args)
			got, err := amtool(t, gmc.URL(), args...)
			must(t, err, "amtool %v against gmc", args)
			if got != want {
				t.Fatalf("amtool %v differs\nAlertmanager: %s\ngmc:          %s", args, want, got)
			}
		})
	}
	compat(t, "Alertmanager API v2", "GET /api/v2/receivers, /api/v2/alerts/groups", "the same receivers and groups", func(t *testing.T) {
		ctx := context.Background()
		for _, path := range []string{"/api/v2/receivers", "/api/v2/alerts/groups?silenced=false"} {
			var answers []string
			for _, base := range []string{am.URL(), gmc.URL()} {
				code, body, err := send(ctx, httpClient(), http.MethodGet, base+path, "", nil, nil)
				must(t, err, "GET %s%s", base, path)
				if code != http.StatusOK {
					t.Fatalf("%s%s: %d %s", base, path, code, body)
				}
				var v any
				must(t, json.Unmarshal([]byte(body), &v), "decode %s", body)
				answers = append(answers, fmt.Sprint(v))
			}
			if answers[0] != answers[1] {
				t.Fatalf("%s differs\nAlertmanager: %s\ngmc:          %s", path, answers[0], answers[1])
			}
		}
	})
	compat(t, "Prometheus 2.42", "alerting.alertmanagers pointed at gmc (POST /api/v2/alerts)", "the rule's alert is listed by amtool", func(t *testing.T) {
		rules := writeTemp(t, "rules.yml", `groups:
  - name: compat
    interval: 1s
    rules:
      - alert: CompatFromPrometheus
        expr: vector(1)
        labels: {service: compat}
        annotations: {summary: "sent by Prometheus"}
`)
		startPrometheus(t, fmt.Sprintf(`
global:
  evaluation_interval: 1s
rule_files: [%s]
alerting:
  alertmanagers:
    - api_version: v2
      static_configs:
        - targets: ['%s']
`, rules, gmc.addr), "--rules.alert.resend-delay=1s") // the first send precedes discovery
		eventually(t, 60*time.Second, 500*time.Millisecond, "Prometheus's alert in gmc", func() error {
			// --silenced: the negative silences above (service!="y") cover it.
			got := queryAlerts(t, gmc.URL(), "--silenced", "alertname=CompatFromPrometheus")
			if len(got) != 1 || got[0].Annotations["summary"] != "sent by Prometheus" || got[0].Labels["service"] != "compat" {
				return fmt.Errorf("amtool alert query: %v", got)
			}
			return nil
		})
	})
}

// indent prefixes every non-empty line of s.
func indent(s, prefix string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		if l != "" {
			lines[i] = prefix + l
		}
	}
	return strings.Join(lines, "\n")
}
