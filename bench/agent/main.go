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
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gmc-dev/gmc/bench/internal/proc"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "bench/agent:", err)
		os.Exit(1)
	}
}

// child is one measured child process.
type child struct {
	name string
	p    *proc.Process
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
		fmt.Println("building ./cmd/gmc ...")
		if *gmcBin, err = proc.BuildGMC(ctx, tmp); err != nil {
			return fmt.Errorf("build gmc: %w", err)
		}
	}
	if _, err := os.Stat(*nodeExporter); err != nil {
		return fmt.Errorf("node_exporter: %w (apt-get install prometheus-node-exporter)", err)
	}

	agent := &child{name: "gmc agent"}
	node := &child{name: "node_exporter 1.5"}

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

	nodePort, err := proc.FreeAddr()
	if err != nil {
		return err
	}
	// Output discarded, no readiness wait (the warm-up covers it), SIGKILL
	// 5 s after SIGTERM.
	for _, s := range []struct {
		c    *child
		bin  string
		args []string
	}{
		{agent, *gmcBin, []string{"agent", "--gmc.url=http://" + sinkLn.Addr().String(),
			"--interval=" + interval.String(), "--spool.dir=" + filepath.Join(tmp, "spool"),
			"--web.listen-address=none", "--log.level=warn"}},
		{node, *nodeExporter, []string{"--web.listen-address=" + nodePort}},
	} {
		if s.c.p, err = proc.Start(ctx, proc.Options{Name: s.c.name, Bin: s.bin, Args: s.args, StopGrace: 5 * time.Second}); err != nil {
			return err
		}
		defer s.c.p.Stop()
	}

	// Scrape node_exporter every interval, as Prometheus would.
	scrapeCtx, cancelScrape := context.WithCancel(ctx)
	defer cancelScrape()
	go scrapeLoop(scrapeCtx, "http://"+nodePort+"/metrics", *interval, node)

	fmt.Printf("warming up %v, then measuring %v (interval %v) ...\n", *warmup, *duration, *interval)
	if err := sleep(ctx, *warmup); err != nil {
		return err
	}
	startReq := map[*child][2]int64{}
	for _, p := range []*child{agent, node} {
		if p.cpuStart, err = p.p.CPUSeconds(); err != nil {
			return fmt.Errorf("%s: %w", p.name, err)
		}
		startReq[p] = [2]int64{p.requests.Load(), p.bytes.Load()}
	}
	start := time.Now()
	for time.Since(start) < *duration {
		if err := sleep(ctx, time.Second); err != nil {
			return err
		}
		for _, p := range []*child{agent, node} {
			m, err := p.p.Memory()
			if err != nil {
				return fmt.Errorf("%s: %w", p.name, err)
			}
			p.rss = append(p.rss, float64(m.RSS))
			p.anon = append(p.anon, float64(m.Anon))
			p.file = append(p.file, float64(m.File))
		}
	}
	wall := time.Since(start).Seconds()
	for _, p := range []*child{agent, node} {
		if p.cpuEnd, err = p.p.CPUSeconds(); err != nil {
			return fmt.Errorf("%s: %w", p.name, err)
		}
	}

	fmt.Printf("\n%-18s %10s %12s %12s %12s %12s %12s %14s\n", "process", "CPU %core", "RSS avg MiB", "RSS max MiB",
		"anon MiB", "file MiB", "requests/s", "bytes/request")
	for _, p := range []*child{agent, node} {
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

func scrapeLoop(ctx context.Context, url string, every time.Duration, p *child) {
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

func mean(xs []float64) float64 {
	var s float64
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
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
