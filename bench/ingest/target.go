package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/gmc-dev/gmc/bench/internal/proc"
)

// target is one remote-write receiver the harness can start.
type target struct {
	name      string
	bin       string
	readyPath string
	// args returns the command line for listening on addr with data in dataDir;
	// dir is a scratch directory outside dataDir for config files.
	args func(addr, dataDir, dir string) ([]string, error)
}

func gmcTarget(bin string) target {
	return target{name: "gmc", bin: bin, readyPath: "/-/ready",
		args: func(addr, dataDir, _ string) ([]string, error) {
			return []string{"server", "--web.listen-address", addr, "--storage.path", dataDir}, nil
		}}
}

func prometheusTarget(bin string) target {
	return target{name: "prometheus", bin: bin, readyPath: "/-/ready",
		args: func(addr, dataDir, dir string) ([]string, error) {
			cfg := filepath.Join(dir, "prometheus.yml")
			// No scrape jobs: the only load is the remote-write stream.
			if err := os.WriteFile(cfg, []byte("global:\n  scrape_interval: 15s\n"), 0o644); err != nil {
				return nil, fmt.Errorf("write prometheus config: %w", err)
			}
			return []string{"--config.file=" + cfg, "--storage.tsdb.path=" + dataDir,
				"--web.listen-address=" + addr, "--web.enable-remote-write-receiver"}, nil
		}}
}

func victoriaMetricsTarget(bin string) target {
	return target{name: "victoria-metrics", bin: bin, readyPath: "/health",
		args: func(addr, dataDir, _ string) ([]string, error) {
			return []string{"-storageDataPath=" + dataDir, "-httpListenAddr=" + addr}, nil
		}}
}

// process is a running target.
type process struct {
	*proc.Process
	addr    string
	dataDir string
}

// start runs t on a free loopback port with a fresh data directory under dir
// and waits until it reports ready.
func (t target) start(ctx context.Context, dir string) (*process, error) {
	addr, err := proc.FreeAddr()
	if err != nil {
		return nil, err
	}
	p := &process{addr: addr, dataDir: filepath.Join(dir, "data")}
	if err := os.MkdirAll(p.dataDir, 0o755); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	args, err := t.args(addr, p.dataDir, dir)
	if err != nil {
		return nil, err
	}
	// A clean shutdown of a large head can take a while: SIGKILL after 60 s.
	if p.Process, err = proc.Start(ctx, proc.Options{Name: t.name, Bin: t.bin, Args: args,
		LogPath: filepath.Join(dir, "log"), ReadyURL: "http://" + addr + t.readyPath,
		StopGrace: 60 * time.Second}); err != nil {
		return nil, err
	}
	return p, nil
}

// waitIdle waits, up to limit, until the machine's other processes use less
// than a quarter of a core over a second, so a run does not start while
// something else (a build, another test) competes for the cores. It returns
// the busy fraction seen last (1 = one core).
func waitIdle(ctx context.Context, limit time.Duration) float64 {
	deadline := time.Now().Add(limit)
	busy := 0.0
	for {
		b0, err := proc.MachineBusyCPU()
		if err != nil {
			return 0
		}
		select {
		case <-ctx.Done():
			return busy
		case <-time.After(time.Second):
		}
		b1, err := proc.MachineBusyCPU()
		if err != nil {
			return 0
		}
		if busy = b1 - b0; busy < 0.25 || time.Now().After(deadline) {
			return busy
		}
	}
}

// diskUsage returns what du reports for dir (allocated blocks) and the
// apparent size of its files, in bytes.
func diskUsage(dir string) (allocated, apparent int64, err error) {
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		info, err := d.Info()
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if st, ok := info.Sys().(*syscall.Stat_t); ok {
			allocated += st.Blocks * 512
		}
		if info.Mode().IsRegular() {
			apparent += info.Size()
		}
		return nil
	})
	if err != nil {
		return 0, 0, fmt.Errorf("measure disk usage of %s: %w", dir, err)
	}
	return allocated, apparent, nil
}

// countSeries asks the target's Prometheus query API how many of the
// workload's series have a sample at round 0, to check that what it
// acknowledged is queryable. It retries for a few seconds, as
// VictoriaMetrics makes fresh rows searchable about once a second.
func countSeries(ctx context.Context, addr string, atMs int64, want int) (int, error) {
	q := url.Values{"query": {`count({env="prod"})`}, "time": {strconv.FormatFloat(float64(atMs)/1000, 'f', 3, 64)}}
	client := &http.Client{Timeout: 30 * time.Second}
	got := 0
	for try := 0; try < 10; try++ {
		if try > 0 {
			select {
			case <-ctx.Done():
				return got, ctx.Err()
			case <-time.After(time.Second):
			}
		}
		resp, err := client.Get("http://" + addr + "/api/v1/query?" + q.Encode())
		if err != nil {
			return 0, fmt.Errorf("query series count: %w", err)
		}
		var body struct {
			Status string `json:"status"`
			Error  string `json:"error"`
			Data   struct {
				Result []struct {
					Value [2]any `json:"value"`
				} `json:"result"`
			} `json:"data"`
		}
		err = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if err != nil {
			return 0, fmt.Errorf("query series count: decode answer: %w", err)
		}
		if body.Status != "success" {
			return 0, fmt.Errorf("query series count: %s", body.Error)
		}
		got = 0
		if len(body.Data.Result) == 1 {
			if s, ok := body.Data.Result[0].Value[1].(string); ok {
				f, _ := strconv.ParseFloat(s, 64)
				got = int(f)
			}
		}
		if got >= want {
			break
		}
	}
	return got, nil
}
