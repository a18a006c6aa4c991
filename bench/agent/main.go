// Command agent measures the overhead of `gmc agent` beside
// prometheus-node-exporter, side by side in one run: the agent pushes every
// second to a sink on loopback, node_exporter is scraped every second by this
// harness, and the CPU (share of one core) and RSS of each process are read
// from /proc over the same window.
//
//	go run ./bench/agent                 # builds ./cmd/gmc, 60 s window
//	go run ./bench/agent -duration 120s -gmc bin/gmc
package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "bench/agent:", err)
		os.Exit(1)
	}
}

// proc is one measured child process.
type proc struct {
	name string
	cmd  *exec.Cmd
	// filled during the window
	cpuStart, cpuEnd float64 // seconds of CPU (user+system)
	rss, anon, file  []float64
	requests         atomic.Int64 // pushes received / scrapes done
	bytes            atomic.Int64
	series           atomic.Int64 // of the last scrape (node_exporter)
}

func run(ctx context.Context) error {
	duration := flag.Duration("duration", 60*time.Second, "measurement window")
	warmup := flag.Duration("warmup", 5*time.Second, "time before the window starts")
	interval := flag.Duration("interval", time.Second, "agent push and node_exporter scrape interval")
	gmcBin := flag.String("gmc", "", "gmc binary (default: go build ./cmd/gmc into a temp dir)")
	nodeExporter := flag.String("node-exporter", "/usr/bin/prometheus-node-exporter", "node_exporter binary")
	flag.Parse()

	tmp, err := os.MkdirTemp("", "gmc-bench-agent-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if *gmcBin == "" {
		*gmcBin = filepath.Join(tmp, "gmc")
		fmt.Println("building ./cmd/gmc ...")
		build := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", *gmcBin, "./cmd/gmc")
		build.Stdout, build.Stderr = os.Stdout, os.Stderr
		if err := build.Run(); err != nil {
			return fmt.Errorf("build gmc: %w", err)
		}
	}
	if _, err := os.Stat(*nodeExporter); err != nil {
		return fmt.Errorf("node_exporter: %w (apt-get install prometheus-node-exporter)", err)
	}

	agent := &proc{name: "gmc agent"}
	node := &proc{name: "node_exporter 1.5"}

	// The sink stands in for gmc: it reads each remote-write body and answers 204.
	sinkLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	sink := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		agent.requests.Add(1)
		agent.bytes.Add(n)
		w.WriteHeader(http.StatusNoContent)
	}), ReadHeaderTimeout: 5 * time.Second}
	go sink.Serve(sinkLn)
	defer sink.Close()

	nodePort, err := freePort()
	if err != nil {
		return err
	}
	agent.cmd = exec.Command(*gmcBin, "agent", "--gmc.url=http://"+sinkLn.Addr().String(),
		"--interval="+interval.String(), "--spool.dir="+filepath.Join(tmp, "spool"),
		"--web.listen-address=none", "--log.level=warn")
	node.cmd = exec.Command(*nodeExporter, "--web.listen-address="+nodePort)
	for _, p := range []*proc{agent, node} {
		p.cmd.Stderr = io.Discard
		if err := p.cmd.Start(); err != nil {
			return fmt.Errorf("start %s: %w", p.name, err)
		}
		defer stopProc(p)
	}

	// Scrape node_exporter every interval, as Prometheus would.
	scrapeCtx, cancelScrape := context.WithCancel(ctx)
	defer cancelScrape()
	go scrapeLoop(scrapeCtx, "http://"+nodePort+"/metrics", *interval, node)

	fmt.Printf("warming up %v, then measuring %v (interval %v) ...\n", *warmup, *duration, *interval)
	if err := sleep(ctx, *warmup); err != nil {
		return err
	}
	startReq := map[*proc][2]int64{}
	for _, p := range []*proc{agent, node} {
		if p.cpuStart, err = cpuSeconds(p.cmd.Process.Pid); err != nil {
			return fmt.Errorf("%s: %w", p.name, err)
		}
		startReq[p] = [2]int64{p.requests.Load(), p.bytes.Load()}
	}
	start := time.Now()
	for time.Since(start) < *duration {
		if err := sleep(ctx, time.Second); err != nil {
			return err
		}
		for _, p := range []*proc{agent, node} {
			m, err := memory(p.cmd.Process.Pid)
			if err != nil {
				return fmt.Errorf("%s: %w", p.name, err)
			}
			p.rss = append(p.rss, m["VmRSS"])
			p.anon = append(p.anon, m["RssAnon"])
			p.file = append(p.file, m["RssFile"])
		}
	}
	wall := time.Since(start).Seconds()
	for _, p := range []*proc{agent, node} {
		if p.cpuEnd, err = cpuSeconds(p.cmd.Process.Pid); err != nil {
			return fmt.Errorf("%s: %w", p.name, err)
		}
	}

	fmt.Printf("\n%-18s %10s %12s %12s %12s %12s %12s %14s\n", "process", "CPU %core", "RSS avg MiB", "RSS max MiB",
		"anon MiB", "file MiB", "requests/s", "bytes/request")
	for _, p := range []*proc{agent, node} {
		var peak float64
		for _, r := range p.rss {
			peak = max(peak, r)
		}
		n := p.requests.Load() - startReq[p][0]
		b := p.bytes.Load() - startReq[p][1]
		perReq := 0.0
		if n > 0 {
			perReq = float64(b) / float64(n)
		}
		fmt.Printf("%-18s %10.2f %12.1f %12.1f %12.1f %12.1f %12.2f %14.0f\n", p.name, 100*(p.cpuEnd-p.cpuStart)/wall,
			mean(p.rss)/(1<<20), peak/(1<<20), mean(p.anon)/(1<<20), mean(p.file)/(1<<20), float64(n)/wall, perReq)
	}
	fmt.Println("(anon: the process's own memory; file: pages of its executable and libraries it touched, shared and reclaimable)")
	fmt.Printf("(agent: remote-write pushes, snappy-compressed; node_exporter: scrapes, uncompressed text, %d series)\n", node.series.Load())
	return nil
}

func scrapeLoop(ctx context.Context, url string, every time.Duration, p *proc) {
	t := time.NewTicker(every)
	defer t.Stop()
	client := &http.Client{Timeout: every}
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		resp, err := client.Get(url)
		if err != nil {
			continue
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		p.requests.Add(1)
		p.bytes.Add(int64(len(body)))
		var series int64
		sc := bufio.NewScanner(bytes.NewReader(body))
		for sc.Scan() {
			if line := sc.Bytes(); len(line) > 0 && line[0] != '#' {
				series++
			}
		}
		p.series.Store(series)
	}
}

// cpuSeconds is utime+stime of pid from /proc/PID/stat.
func cpuSeconds(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// Fields after the ")" closing the command name; utime and stime are fields 14 and 15.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, errors.New("malformed /proc/PID/stat")
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, errors.New("short /proc/PID/stat")
	}
	ut, err1 := strconv.ParseFloat(f[11], 64)
	st, err2 := strconv.ParseFloat(f[12], 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return (ut + st) / 100, nil // USER_HZ
}

// memory reads VmRSS, RssAnon and RssFile of pid, in bytes.
func memory(pid int) (map[string]float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return nil, err
	}
	out := map[string]float64{}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok || (k != "VmRSS" && k != "RssAnon" && k != "RssFile") {
			continue
		}
		kb, err := strconv.ParseFloat(strings.Fields(v)[0], 64)
		if err != nil {
			return nil, fmt.Errorf("parse %s: %w", k, err)
		}
		out[k] = kb * 1024
	}
	if len(out) != 3 {
		return nil, errors.New("VmRSS, RssAnon or RssFile missing from /proc/PID/status")
	}
	return out, nil
}

func mean(xs []float64) float64 {
	var s float64
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}

func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// stopProc stops a child we started, by its PID: SIGTERM, then SIGKILL after 5 s.
func stopProc(p *proc) {
	if p.cmd.Process == nil {
		return
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		p.cmd.Process.Kill()
		<-done
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
