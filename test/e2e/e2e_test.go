// Package e2e holds gmc's black-box tests: the built gmc binary runs as a
// child process on 127.0.0.1 with a temp data dir, next to real peers from
// Debian (prometheus 2.42), and is driven only through its HTTP API.
//
// TestMain builds the binary once (go build ./cmd/gmc from the module root).
// A missing peer skips the test, except under CI=true where it fails it.
package e2e

import (
	"bytes"
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
	"testing"
	"time"
)

// gmcBinary is the path of the gmc binary TestMain built; it is set once,
// before any test runs, and only read afterwards.
var gmcBinary string

const (
	// readyTimeout bounds how long a child process may take to answer /-/ready.
	readyTimeout = 30 * time.Second
	// stopTimeout bounds a graceful stop before the child is killed.
	stopTimeout = 10 * time.Second
	// prometheusBinary is the Debian package's binary (apt package prometheus).
	prometheusBinary = "/usr/bin/prometheus"
)

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "gmc-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: create temp dir:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	root, err := moduleRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	bin := filepath.Join(dir, "gmc")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/gmc")
	cmd.Dir = root
	cmd.Stdout = os.Stderr
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: build gmc:", err)
		return 1
	}
	gmcBinary = bin
	return m.Run()
}

// moduleRoot walks up from the working directory to the directory of go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find module root: %w", err)
	}
	for range 10 {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			break
		}
		dir = parent
	}
	return "", errors.New("find module root: no go.mod above the working directory")
}

// requirePeer skips the test when the peer binary is missing, or fails it
// under CI=true, where every peer must be installed.
func requirePeer(t *testing.T, path, aptPackage string) {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("peer %s missing (apt package %s): %v", path, aptPackage, err)
		}
		t.Skipf("peer %s missing (apt package %s)", path, aptPackage)
	}
}

// freeAddr returns a 127.0.0.1 address with a port that was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("find a free port: %v", err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatalf("release port %s: %v", addr, err)
	}
	return addr
}

// proc is a child process the test started; it is stopped by its PID only.
type proc struct {
	name    string
	addr    string // host:port it serves HTTP on
	cmd     *exec.Cmd
	logPath string
	done    chan struct{} // closed when the process has exited
	waitErr error
}

// URL is the base URL of the process's HTTP server.
func (p *proc) URL() string { return "http://" + p.addr }

// startProc starts bin on a free 127.0.0.1 port, with the arguments args
// builds for that address, logging to a file in logDir, and waits until
// GET /-/ready answers 200. Should another process take the port in the
// meantime, it tries again with another. The process is stopped when the
// test ends.
func startProc(t *testing.T, name, bin, logDir string, args func(addr string) []string) *proc {
	t.Helper()
	const attempts = 3
	for attempt := 1; ; attempt++ {
		addr := freeAddr(t)
		p := spawn(t, name, bin, addr, logDir, args(addr))
		err := p.waitReady(readyTimeout)
		if err == nil {
			return p
		}
		select {
		case <-p.done:
			if log, _ := os.ReadFile(p.logPath); attempt < attempts && bytes.Contains(log, []byte("address already in use")) {
				t.Logf("%s: port of %s taken meanwhile; trying another", name, addr)
				continue
			}
		default:
		}
		p.dumpLog(t)
		t.Fatalf("%s (pid %d): %v", name, p.cmd.Process.Pid, err)
	}
}

// spawn starts bin with args, its output going to a log file in logDir, and
// registers its stop at the end of the test.
func spawn(t *testing.T, name, bin, addr, logDir string, args []string) *proc {
	t.Helper()
	logPath := filepath.Join(logDir, fmt.Sprintf("%s-%d.log", name, time.Now().UnixNano()))
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatalf("create log of %s: %v", name, err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	if err := cmd.Start(); err != nil {
		logFile.Close()
		t.Fatalf("start %s: %v", name, err)
	}
	p := &proc{name: name, addr: addr, cmd: cmd, logPath: logPath, done: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		logFile.Close()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.stop(t)
		if t.Failed() {
			p.dumpLog(t)
		}
	})
	return p
}

// waitReady polls /-/ready until it answers 200, the process exits or the
// timeout passes.
func (p *proc) waitReady(timeout time.Duration) error {
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			return fmt.Errorf("exited before becoming ready: %v", p.waitErr)
		default:
		}
		resp, err := client.Get(p.URL() + "/-/ready")
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("not ready at %s/-/ready within %s", p.URL(), timeout)
}

// kill sends SIGKILL to the process and waits for it to exit.
func (p *proc) kill(t *testing.T) {
	t.Helper()
	select {
	case <-p.done:
		t.Fatalf("%s exited before it was killed: %v", p.name, p.waitErr)
	default:
	}
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("kill %s (pid %d): %v", p.name, p.cmd.Process.Pid, err)
	}
	select {
	case <-p.done:
	case <-time.After(stopTimeout):
		t.Fatalf("%s (pid %d) still running %s after SIGKILL", p.name, p.cmd.Process.Pid, stopTimeout)
	}
}

// stop asks the process to exit with SIGTERM and kills it if it has not
// exited within stopTimeout. A process already gone is left alone.
func (p *proc) stop(t *testing.T) {
	t.Helper()
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return
	case <-time.After(stopTimeout):
	}
	t.Errorf("%s (pid %d) did not exit %s after SIGTERM; killing it", p.name, p.cmd.Process.Pid, stopTimeout)
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// dumpLog writes the last part of the process's log to the test log.
func (p *proc) dumpLog(t *testing.T) {
	t.Helper()
	data, err := os.ReadFile(p.logPath)
	if err != nil {
		t.Logf("read log of %s: %v", p.name, err)
		return
	}
	const max = 8 << 10
	if len(data) > max {
		data = data[len(data)-max:]
	}
	t.Logf("last log lines of %s (pid %d):\n%s", p.name, p.cmd.Process.Pid, data)
}

// startGMC starts `gmc server` on a free port with the given data dir and
// optional YAML config, and waits until it is ready.
func startGMC(t *testing.T, dataDir, configYAML string) *proc {
	t.Helper()
	var extra []string
	if configYAML != "" {
		path := filepath.Join(t.TempDir(), "gmc.yml")
		if err := os.WriteFile(path, []byte(configYAML), 0o644); err != nil {
			t.Fatalf("write gmc config: %v", err)
		}
		extra = []string{"--config", path}
	}
	return startProc(t, "gmc", gmcBinary, t.TempDir(), func(addr string) []string {
		return append([]string{"server", "--web.listen-address", addr, "--storage.path", dataDir}, extra...)
	})
}

// startPrometheus starts the Debian prometheus with configYAML, where the
// placeholder {{ADDR}} is replaced by its own listen address, and waits
// until it is ready.
func startPrometheus(t *testing.T, configYAML string, extraArgs ...string) *proc {
	t.Helper()
	requirePeer(t, prometheusBinary, "prometheus")
	dir := t.TempDir()
	path := filepath.Join(dir, "prometheus.yml")
	return startProc(t, "prometheus", prometheusBinary, dir, func(addr string) []string {
		if err := os.WriteFile(path, []byte(strings.ReplaceAll(configYAML, "{{ADDR}}", addr)), 0o644); err != nil {
			t.Fatalf("write prometheus config: %v", err)
		}
		return append([]string{
			"--config.file=" + path,
			"--storage.tsdb.path=" + filepath.Join(dir, "data"),
			"--web.listen-address=" + addr,
			"--log.level=warn",
		}, extraArgs...)
	})
}

// httpClient is what the tests talk to the children with: bounded in time.
func httpClient() *http.Client { return &http.Client{Timeout: 10 * time.Second} }

// post sends body to url with POST and returns the status code and response body.
func post(ctx context.Context, client *http.Client, url, contentType string, header map[string]string, body []byte) (int, string, error) {
	return send(ctx, client, http.MethodPost, url, contentType, header, body)
}

func send(ctx context.Context, client *http.Client, method, url, contentType string, header map[string]string, body []byte) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		return 0, "", fmt.Errorf("build request to %s: %w", url, err)
	}
	req.Header.Set("Content-Type", contentType)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	respBody, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return resp.StatusCode, "", fmt.Errorf("read answer of %s: %w", url, err)
	}
	return resp.StatusCode, string(respBody), nil
}

// eventually polls cond every interval until it returns nil or timeout
// passes, then fails the test with the last error.
func eventually(t *testing.T, timeout, interval time.Duration, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var err error
	for {
		if err = cond(); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not reached within %s: %v", what, timeout, err)
		}
		time.Sleep(interval)
	}
}

// msTime formats a millisecond timestamp as the seconds the Prometheus HTTP
// API takes.
func msTime(ms int64) string {
	return strconv.FormatFloat(float64(ms)/1000, 'f', 3, 64)
}

// put sends body to url with PUT and returns the status code and response body.
func put(ctx context.Context, client *http.Client, url, contentType string, body []byte) (int, string, error) {
	return send(ctx, client, http.MethodPut, url, contentType, nil, body)
}
