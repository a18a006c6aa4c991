package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

func TestBenchRunAndCompare(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "bench.yml")
	if err := os.WriteFile(cfg, []byte(`
benchmarks:
  max_host_load: 1000   # compare whatever the load of the machine running the tests
  suite:
    - name: true-cmd
      kind: exec
      exec: {command: ["true"], runs: 6, warmup: 1}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	var writes atomic.Int64
	gmc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/v1/write" {
			writes.Add(1)
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer gmc.Close()
	data := filepath.Join(dir, "data")
	for i := range 2 {
		var out bytes.Buffer
		cmd := &benchCommand{stdout: &out, stderr: &out}
		if err := cmd.Run(context.Background(), []string{"run", "--config", cfg, "--storage.path", data, "--gmc.url", gmc.URL}); err != nil {
			t.Fatalf("run %d: %v\n%s", i, err, out.String())
		}
		for _, want := range []string{"true-cmd: archived ", "median ± 95% CI", "true-cmd"} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("run %d output lacks %q:\n%s", i, want, out.String())
			}
		}
		if i == 1 && !strings.Contains(out.String(), "n=6+6") {
			t.Errorf("second run should compare 6+6 samples with the first:\n%s", out.String())
		}
		if strings.Contains(out.String(), "\r") {
			t.Error("no progress bar when stdout is not a terminal")
		}
	}
	if writes.Load() != 2 {
		t.Errorf("remote-writes %d, want 2", writes.Load())
	}
	runs, _ := filepath.Glob(filepath.Join(data, "bench", "runs", "*.json"))
	reports, _ := filepath.Glob(filepath.Join(data, "bench", "reports", "*.html"))
	if len(runs) != 2 || len(reports) != 1 {
		t.Fatalf("runs %v reports %v", runs, reports)
	}
	var out bytes.Buffer
	if err := (&benchCommand{stdout: &out, stderr: &out}).Run(context.Background(), []string{"compare", runs[0], runs[1]}); err != nil {
		t.Fatalf("compare: %v\n%s", err, out.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "name") || !strings.Contains(lines[0], "vs base") || !strings.HasPrefix(lines[1], "true-cmd") || !strings.Contains(lines[1], "n=6+6") {
		t.Errorf("compare table:\n%s", out.String())
	}
}

func TestBenchBadUsage(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"run"}, "--config is required"},
		{[]string{"run", "--config", "nope.yml"}, "read bench config"},
		{[]string{"compare", "a.json"}, "want OLD.json NEW.json"},
		{[]string{"compare", "a.json", "b.json"}, "read run"},
		{[]string{"frobnicate"}, `unknown subcommand "frobnicate"`},
	}
	for _, tt := range tests {
		var out bytes.Buffer
		err := (&benchCommand{stdout: &out, stderr: &out}).Run(context.Background(), tt.args)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: err %v, want %q", tt.args, err, tt.want)
		}
	}
}
