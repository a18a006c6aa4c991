package ingest

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestRemoteWriteFromRealPrometheus has a real Prometheus (Debian package
// prometheus) scrape itself and remote-write to the handler, and checks that
// its series arrive with Prometheus's labels.
func TestRemoteWriteFromRealPrometheus(t *testing.T) {
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("prometheus binary not found (apt-get install prometheus)")
		}
		t.Skip("prometheus binary not found")
	}
	e := newTestEnv(t, nil)
	e.in.now = time.Now // Prometheus stamps samples with the real clock
	srv := httptest.NewServer(e.in.RemoteWrite())
	defer srv.Close()

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	promAddr := ln.Addr().String()
	ln.Close()
	dir := t.TempDir()
	cfg := fmt.Sprintf(`global:
  scrape_interval: 1s
scrape_configs:
  - job_name: prometheus
    static_configs:
      - targets: ['%s']
remote_write:
  - url: %s/api/v1/write
    queue_config:
      batch_send_deadline: 200ms
`, promAddr, srv.URL)
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var logs bytes.Buffer
	cmd := exec.CommandContext(ctx, bin,
		"--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+promAddr)
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Kill() // only the process this test started
		_ = cmd.Wait()
	}()

	want := fmt.Sprintf(`{__name__="up", instance="%s", job="prometheus"}`, promAddr)
	deadline := time.Now().Add(45 * time.Second)
	for time.Now().Before(deadline) {
		for _, line := range e.stored(t) {
			if strings.HasPrefix(line, want+" ") && strings.HasSuffix(line, " 1") {
				// A request is counted once its answer is written, after its
				// samples are in storage: the count may lag what is read.
				for e.in.SamplesTotal() < 100 && time.Now().Before(deadline) {
					time.Sleep(50 * time.Millisecond)
				}
				if e.in.SamplesTotal() < 100 {
					t.Errorf("only %d samples arrived", e.in.SamplesTotal())
				}
				return
			}
		}
		time.Sleep(250 * time.Millisecond)
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait() // the log buffer is ours alone after Wait
	t.Fatalf("no %s sample arrived in 45 s; %d samples total; prometheus log:\n%s", want, e.in.SamplesTotal(), logs.String())
}
