package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// process is a child the harness started.
type process struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	done    chan struct{}
	waitErr error
}

// startProcess runs bin with args (output to dir/<name>.log) and waits until
// readyURL answers 200.
func startProcess(ctx context.Context, name, bin string, args []string, dir, readyURL string) (*process, error) {
	p := &process{name: name, logPath: filepath.Join(dir, name+".log"), done: make(chan struct{})}
	logf, err := os.Create(p.logPath)
	if err != nil {
		return nil, fmt.Errorf("create log of %s: %w", name, err)
	}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Stdout, p.cmd.Stderr = logf, logf
	if err := p.cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go func() {
		p.waitErr = p.cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			return nil, fmt.Errorf("%s exited before ready (%v); see %s", name, p.waitErr, p.logPath)
		case <-ctx.Done():
			p.stop()
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		resp, err := client.Get(readyURL)
		if err != nil {
			continue
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			return p, nil
		}
	}
	p.stop()
	return nil, fmt.Errorf("%s not ready within 60s; see %s", name, p.logPath)
}

// stop sends SIGTERM to the process by its PID, SIGKILL after 20 s.
func (p *process) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// system is one alerting stack under test: where to push, and its
// processes (stopped in reverse order).
type system struct {
	pushAddr string
	procs    []*process
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
		s.procs[i].stop()
	}
}

// startGMC starts `gmc server` with the threshold rule and a webhook route
// at its tightest: group_wait 0s, every alert its own group.
func startGMC(ctx context.Context, bin, dir, hookURL string, evalInterval time.Duration) (*system, error) {
	addr, err := freeAddr()
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
	return &system{pushAddr: addr, procs: []*process{p}, probes: []string{
		"http://" + addr + "/api/v1/query?query=" + metricName, "http://" + addr + "/api/v1/alerts"}}, nil
}

// startPrometheusAM starts Alertmanager (clustering off; group_wait 0s,
// group_interval 1s, every alert its own group, webhook to the harness) and
// Prometheus (remote-write receiver, the same rule with for: 0s evaluated
// every evalInterval, alerting to that Alertmanager).
func startPrometheusAM(ctx context.Context, promBin, amBin, dir, hookURL string, evalInterval time.Duration) (*system, error) {
	amAddr, err := freeAddr()
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
	sys := &system{procs: []*process{am}}

	promAddr, err := freeAddr()
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

// freeAddr returns a loopback address with a port that was free a moment ago.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return "127.0.0.1:" + strconv.Itoa(l.Addr().(*net.TCPAddr).Port), nil
}

// buildGMC builds ./cmd/gmc of the module the harness runs in.
func buildGMC(ctx context.Context, dir string) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("find module root: %w", err)
	}
	root := filepath.Dir(strings.TrimSpace(string(out)))
	bin := filepath.Join(dir, "gmc")
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", bin, "./cmd/gmc")
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/gmc: %w\n%s", err, b)
	}
	return bin, nil
}
