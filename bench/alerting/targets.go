package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/gmc-dev/gmc/bench/internal/proc"
)

// startProcess runs bin with args (output to dir/<name>.log) and waits until
// readyURL answers 200; its Stop sends SIGKILL 20 s after SIGTERM.
func startProcess(ctx context.Context, name, bin string, args []string, dir, readyURL string) (*proc.Process, error) {
	return proc.Start(ctx, proc.Options{Name: name, Bin: bin, Args: args,
		LogPath: filepath.Join(dir, name+".log"), ReadyURL: readyURL, StopGrace: 20 * time.Second})
}

// system is one alerting stack under test: where to push, and its
// processes (stopped in reverse order).
type system struct {
	pushAddr string
	procs    []*proc.Process
	// probes are URLs whose answers help explain a missing notification.
	probes []string
}

// diagnose fetches the probes, for an error message.
func (s *system) diagnose() string {
	var b strings.Builder
	client := &http.Client{Timeout: 2 * time.Second}
	for _, u := range s.probes {
		resp, err := client.Get(u)
		if err != nil {
			fmt.Fprintf(&b, "\n%s: %v", u, err)
			continue
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		if strings.HasSuffix(u, "/metrics") { // only the notifier's counters
			var keep []string
			for _, l := range strings.Split(string(body), "\n") {
				if strings.HasPrefix(l, "prometheus_notifications_") {
					keep = append(keep, l)
				}
			}
			body = []byte(strings.Join(keep, "\n"))
		}
		if len(body) > 2000 {
			body = body[:2000]
		}
		fmt.Fprintf(&b, "\n%s: %d %s", u, resp.StatusCode, body)
	}
	return b.String()
}

func (s *system) stop() {
	for i := len(s.procs) - 1; i >= 0; i-- {
		s.procs[i].Stop()
	}
}

// startGMC starts `gmc server` with the threshold rule and a webhook route
// at its tightest: group_wait 0s, every alert its own group.
func startGMC(ctx context.Context, bin, dir, hookURL string, evalInterval time.Duration) (*system, error) {
	addr, err := proc.FreeAddr()
	if err != nil {
		return nil, err
	}
	cfg := fmt.Sprintf(`alerting:
  evaluation_interval: %s
  default_rules: false
  thresholds:
    - {name: %s, metric: %s, op: ">", value: 1000, service: bench}
notify:
  route:
    receiver: hook
    group_by: ['...']
    group_wait: 0s
    group_interval: 1s
    repeat_interval: 1h
  receivers:
    - name: hook
      webhook_configs: [{url: %q}]
`, evalInterval, alertName, metricName, hookURL)
	cfgPath := filepath.Join(dir, "gmc.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		return nil, fmt.Errorf("write gmc config: %w", err)
	}
	p, err := startProcess(ctx, "gmc", bin, []string{"server", "--config", cfgPath,
		"--web.listen-address", addr, "--storage.path", filepath.Join(dir, "gmc-data"), "--log.level", "warn"},
		dir, "http://"+addr+"/-/ready")
	if err != nil {
		return nil, err
	}
	return &system{pushAddr: addr, procs: []*proc.Process{p}, probes: []string{
		"http://" + addr + "/api/v1/query?query=" + metricName, "http://" + addr + "/api/v1/alerts"}}, nil
}

// startPrometheusAM starts Alertmanager (clustering off; group_wait 0s,
// group_interval 1s, every alert its own group, webhook to the harness) and
// Prometheus (remote-write receiver, the same rule with for: 0s evaluated
// every evalInterval, alerting to that Alertmanager).
func startPrometheusAM(ctx context.Context, promBin, amBin, dir, hookURL string, evalInterval time.Duration) (*system, error) {
	amAddr, err := proc.FreeAddr()
	if err != nil {
		return nil, err
	}
	amCfg := fmt.Sprintf(`route:
  receiver: hook
  group_by: ['...']
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: hook
    webhook_configs: [{url: %q, send_resolved: true}]
`, hookURL)
	amCfgPath := filepath.Join(dir, "alertmanager.yml")
	if err := os.WriteFile(amCfgPath, []byte(amCfg), 0o644); err != nil {
		return nil, fmt.Errorf("write alertmanager config: %w", err)
	}
	am, err := startProcess(ctx, "alertmanager", amBin, []string{"--config.file=" + amCfgPath,
		"--storage.path=" + filepath.Join(dir, "am-data"), "--web.listen-address=" + amAddr,
		"--cluster.listen-address=", "--log.level=warn"}, dir, "http://"+amAddr+"/-/ready")
	if err != nil {
		return nil, err
	}
	sys := &system{procs: []*proc.Process{am}}

	promAddr, err := proc.FreeAddr()
	if err != nil {
		sys.stop()
		return nil, err
	}
	rules := fmt.Sprintf(`groups:
  - name: bench
    rules:
      - alert: %s
        expr: %s{service="bench"} > 1000
        for: 0s
`, alertName, metricName)
	rulesPath := filepath.Join(dir, "rules.yml")
	promCfg := fmt.Sprintf(`global:
  scrape_interval: 15s
  evaluation_interval: %s
rule_files: [%q]
alerting:
  alertmanagers:
    - static_configs: [{targets: [%q]}]
`, promDuration(evalInterval), rulesPath, amAddr)
	promCfgPath := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(rulesPath, []byte(rules), 0o644); err != nil {
		sys.stop()
		return nil, fmt.Errorf("write prometheus rules: %w", err)
	}
	if err := os.WriteFile(promCfgPath, []byte(promCfg), 0o644); err != nil {
		sys.stop()
		return nil, fmt.Errorf("write prometheus config: %w", err)
	}
	prom, err := startProcess(ctx, "prometheus", promBin, []string{"--config.file=" + promCfgPath,
		"--storage.tsdb.path=" + filepath.Join(dir, "prom-data"), "--web.listen-address=" + promAddr,
		"--web.enable-remote-write-receiver", "--log.level=warn"}, dir, "http://"+promAddr+"/-/ready")
	if err != nil {
		sys.stop()
		return nil, err
	}
	sys.procs = append(sys.procs, prom)
	// Prometheus drops alerts while its notifier knows no Alertmanager
	// (discovery syncs after ~5 s) and re-sends only after a minute: wait.
	if err := waitAlertmanagerDiscovered(ctx, promAddr); err != nil {
		sys.stop()
		return nil, err
	}
	sys.pushAddr = promAddr
	sys.probes = []string{"http://" + promAddr + "/api/v1/query?query=" + metricName,
		"http://" + promAddr + "/api/v1/alerts", "http://" + promAddr + "/api/v1/alertmanagers",
		"http://" + promAddr + "/metrics", "http://" + amAddr + "/api/v2/alerts"}
	return sys, nil
}

// waitAlertmanagerDiscovered waits until Prometheus lists an active
// Alertmanager.
func waitAlertmanagerDiscovered(ctx context.Context, promAddr string) error {
	client := &http.Client{Timeout: time.Second}
	for range 300 {
		resp, err := client.Get("http://" + promAddr + "/api/v1/alertmanagers")
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if strings.Contains(string(body), `"activeAlertmanagers":[{`) {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return errors.New("prometheus discovered no alertmanager within 30s")
}

// promDuration prints d as Prometheus durations are written ("1s", "100ms").
func promDuration(d time.Duration) string {
	if d%time.Second == 0 {
		return strconv.FormatInt(int64(d/time.Second), 10) + "s"
	}
	return strconv.FormatInt(d.Milliseconds(), 10) + "ms"
}
