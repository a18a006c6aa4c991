// Command forward measures gmc's remote_write forwarding (internal/forward)
// against a real VictoriaMetrics 1.79 on loopback:
//
//   - ingest: gmc's own remote-write ingest rate with forwarding off and on
//     (the same load, as fast as gmc acknowledges it);
//   - catch-up: the receiver is stopped for -outage while gmc ingests at
//     -rate samples/s; then it is started again and the harness times how
//     long the queues take to deliver the backlog (VictoriaMetrics's
//     vm_rows_inserted_total reaching what gmc acknowledged).
//
// Figures on a shared machine are noisy; the report says how busy it was.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/prompb"

	"github.com/gmc-dev/gmc/bench/internal/proc"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "bench/forward:", err)
		os.Exit(1)
	}
}

type options struct {
	gmc, victoria    string
	series, senders  int
	duration, outage time.Duration
	rate             int
}

func run(ctx context.Context, args []string) error {
	var o options
	fs := flag.NewFlagSet("forward", flag.ContinueOnError)
	fs.StringVar(&o.gmc, "gmc", "", "gmc binary (default: build ./cmd/gmc)")
	fs.StringVar(&o.victoria, "victoria-metrics", "/usr/bin/victoria-metrics", "VictoriaMetrics 1.79 binary")
	fs.IntVar(&o.series, "series", 2000, "series per request round (split across senders)")
	fs.IntVar(&o.senders, "senders", 4, "concurrent remote-write senders")
	fs.DurationVar(&o.duration, "duration", 20*time.Second, "length of each ingest-rate run")
	fs.DurationVar(&o.outage, "outage", 60*time.Second, "how long the receiver is down in the catch-up run")
	fs.IntVar(&o.rate, "rate", 20000, "samples/s gmc ingests during the outage")
	if err := fs.Parse(args); err != nil {
		return err
	}
	work, err := os.MkdirTemp("", "gmc-bench-forward-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	if o.gmc == "" {
		if o.gmc, err = proc.BuildGMC(ctx, work); err != nil {
			return err
		}
	}
	fmt.Printf("bench/forward: %d series, %d senders, %s runs; load average %s before start\n", o.series, o.senders, o.duration, loadAverage())

	off, err := ingestRun(ctx, o, work, false)
	if err != nil {
		return fmt.Errorf("forwarding off: %w", err)
	}
	on, err := ingestRun(ctx, o, work, true)
	if err != nil {
		return fmt.Errorf("forwarding on: %w", err)
	}
	fmt.Printf("ingest, forwarding off: %8.0f samples/s\n", off)
	fmt.Printf("ingest, forwarding on:  %8.0f samples/s (%.2f× of off)\n", on, on/off)

	backlog, took, err := catchUpRun(ctx, o, work)
	if err != nil {
		return fmt.Errorf("catch-up: %w", err)
	}
	fmt.Printf("catch-up after a %s outage: %d samples delivered in %s = %.0f samples/s\n",
		o.outage, backlog, took.Round(100*time.Millisecond), float64(backlog)/took.Seconds())
	return nil
}

// startVM starts VictoriaMetrics on addr with its data in dir.
func startVM(ctx context.Context, o options, addr, dir string) (*proc.Process, error) {
	return proc.Start(ctx, proc.Options{
		Name: "victoria-metrics", Bin: o.victoria,
		Args:     []string{"-storageDataPath=" + filepath.Join(dir, "vm"), "-httpListenAddr=" + addr, "-retentionPeriod=100y", "-loggerLevel=ERROR"},
		LogPath:  filepath.Join(dir, "vm.log"),
		ReadyURL: "http://" + addr + "/health",
	})
}

// startGMC starts gmc forwarding to writeURL (none when empty).
func startGMC(ctx context.Context, o options, dir, writeURL string) (*proc.Process, string, error) {
	addr, err := proc.FreeAddr()
	if err != nil {
		return nil, "", err
	}
	cfg := "storage:\n  out_of_order_window: 1h\n"
	if writeURL != "" {
		cfg += fmt.Sprintf("remote_write:\n  - url: %s\n    queue_config:\n      max_samples_per_send: 5000\n      capacity: 20000\n      max_shards: 16\n", writeURL)
	}
	path := filepath.Join(dir, "gmc.yml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		return nil, "", err
	}
	p, err := proc.Start(ctx, proc.Options{
		Name: "gmc", Bin: o.gmc,
		Args:     []string{"server", "--web.listen-address", addr, "--storage.path", filepath.Join(dir, "gmc"), "--config", path, "--log.level", "warn"},
		LogPath:  filepath.Join(dir, "gmc.log"),
		ReadyURL: "http://" + addr + "/-/ready",
	})
	return p, addr, err
}

// ingestRun drives gmc as fast as it acknowledges for o.duration and
// returns the acknowledged samples/s.
func ingestRun(ctx context.Context, o options, work string, forward bool) (float64, error) {
	dir, err := os.MkdirTemp(work, "ingest-")
	if err != nil {
		return 0, err
	}
	writeURL := ""
	if forward {
		vmAddr, err := proc.FreeAddr()
		if err != nil {
			return 0, err
		}
		vm, err := startVM(ctx, o, vmAddr, dir)
		if err != nil {
			return 0, err
		}
		defer vm.Stop()
		writeURL = "http://" + vmAddr + "/api/v1/write"
	}
	gmc, addr, err := startGMC(ctx, o, dir, writeURL)
	if err != nil {
		return 0, err
	}
	defer gmc.Stop()
	acked := drive(ctx, o, "http://"+addr+"/api/v1/write", o.duration, 0)
	return float64(acked) / o.duration.Seconds(), nil
}

// catchUpRun ingests at o.rate with the receiver down for o.outage, starts
// it again and returns how many samples it then received and how long
// that took.
func catchUpRun(ctx context.Context, o options, work string) (int64, time.Duration, error) {
	dir, err := os.MkdirTemp(work, "catchup-")
	if err != nil {
		return 0, 0, err
	}
	vmAddr, err := proc.FreeAddr()
	if err != nil {
		return 0, 0, err
	}
	vm, err := startVM(ctx, o, vmAddr, dir)
	if err != nil {
		return 0, 0, err
	}
	gmc, addr, err := startGMC(ctx, o, dir, "http://"+vmAddr+"/api/v1/write")
	if err != nil {
		vm.Stop()
		return 0, 0, err
	}
	defer gmc.Stop()
	vm.Stop()
	acked := drive(ctx, o, "http://"+addr+"/api/v1/write", o.outage, o.rate)
	vm, err = startVM(ctx, o, vmAddr, dir)
	if err != nil {
		return 0, 0, err
	}
	defer vm.Stop()
	start := time.Now()
	deadline := start.Add(10 * time.Minute)
	for time.Now().Before(deadline) {
		if got := vmRows(ctx, vmAddr); got >= acked {
			return got, time.Since(start), nil
		}
		select {
		case <-ctx.Done():
			return 0, 0, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return 0, 0, fmt.Errorf("receiver has %d of %d samples after 10 minutes", vmRows(ctx, vmAddr), acked)
}

// loadAverage is the 1-minute load average, for the report's caveat.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	return strings.Fields(string(b))[0]
}

// vmRows is how many remote-written rows this VictoriaMetrics process
// inserted since it started.
func vmRows(ctx context.Context, addr string) int64 {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/metrics", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, `vm_rows_inserted_total{type="promremotewrite"} `) {
			n, _ := strconv.ParseFloat(strings.Fields(line)[1], 64)
			return int64(n)
		}
	}
	return 0
}

// drive sends remote-write requests from o.senders goroutines for d, each
// owning o.series/o.senders series and advancing their timestamp by 1 ms a
// request; rate > 0 paces the total to about rate samples/s. It returns the
// samples gmc acknowledged.
func drive(ctx context.Context, o options, url string, d time.Duration, rate int) int64 {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var acked atomic.Int64
	per := max(o.series/o.senders, 1)
	base := time.Now().UnixMilli()
	var wg sync.WaitGroup
	for s := range o.senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{Timeout: 10 * time.Second}
			var interval time.Duration
			if rate > 0 {
				interval = time.Duration(float64(time.Second) * float64(per*o.senders) / float64(rate))
			}
			next := time.Now()
			for k := int64(0); ctx.Err() == nil; k++ {
				if interval > 0 {
					next = next.Add(interval)
					if w := time.Until(next); w > 0 {
						select {
						case <-ctx.Done():
							return
						case <-time.After(w):
						}
					}
				}
				req := &prompb.WriteRequest{Timeseries: make([]prompb.TimeSeries, per)}
				for i := range per {
					req.Timeseries[i] = prompb.TimeSeries{
						Labels: []prompb.Label{
							{Name: "__name__", Value: "bench_forward"},
							{Name: "sender", Value: strconv.Itoa(s)},
							{Name: "series", Value: strconv.Itoa(i)},
						},
						Samples: []prompb.Sample{{Timestamp: base + k, Value: float64(k)}},
					}
				}
				data, _ := req.Marshal()
				hr, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(snappy.Encode(nil, data)))
				hr.Header.Set("Content-Type", "application/x-protobuf")
				hr.Header.Set("Content-Encoding", "snappy")
				hr.Header.Set("X-Prometheus-Remote-Write-Version", "0.1.0")
				resp, err := client.Do(hr)
				if err != nil {
					if !errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
						fmt.Fprintln(os.Stderr, "push:", err)
					}
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode/100 == 2 {
					acked.Add(int64(per))
				}
			}
		}()
	}
	wg.Wait()
	return acked.Load()
}
