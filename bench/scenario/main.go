// Command scenario is the ground-truth harness: it runs gmc in-process
// beside a simulated desk (five pushed services, two of them strategies
// downstream of the engine, and one scraped feed), injects a known schedule
// of incidents (a service down, latency, a scrape target down, gmc
// restarted mid-incident, an error burst, flapping latency, a counter
// reset), logs every injection as a
// JSON line, and scores what gmc notified and showed against it: precision,
// recall (exactly one notification group per incident), pages per
// incident, detection and resolve latency, /system/status down latency and
// the SLA's error against an offline computation from the pushed counters.
//
//	go run ./bench/scenario -duration 30m -log injections.jsonl
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"time"
)

func main() {
	duration := flag.Duration("duration", 30*time.Minute, "length of the run; incidents fill it, one every 2m10s")
	logPath := flag.String("log", "", "file for the machine-readable injection log (JSON lines); default stdout")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	logw := os.Stdout
	if *logPath != "" {
		f, err := os.Create(*logPath)
		if err != nil {
			fmt.Fprintln(os.Stderr, "scenario:", err)
			os.Exit(1)
		}
		defer f.Close()
		logw = f
	}
	dir, err := os.MkdirTemp("", "gmc-scenario-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "scenario:", err)
		os.Exit(1)
	}
	defer os.RemoveAll(dir)
	sc, err := Run(ctx, Options{Schedule: Schedule(*duration), Duration: *duration, Grace: 20 * time.Second, DataDir: dir, Log: logw})
	if sc != nil {
		fmt.Print(sc)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "scenario:", err)
		os.Exit(1)
	}
}

// Schedule fills d with incidents cycling through eight, one starting
// every 2m10s after a 40s warm-up: engine down, engine latency (its two
// downstream strategies slow with it), the scraped feed down, risk down with
// gmc restarted halfway, gateway latency, a gateway error burst (from the
// 6th slot on: its burn alert needs 5m of data behind it; none in the last
// 7 minutes, the time it takes to resolve), risk's latency flapping, the
// gateway's counters reset.
func Schedule(d time.Duration) []Incident {
	kinds := []Incident{
		{Kind: KindDown, Service: "engine", Length: 40 * time.Second},
		{Kind: KindLatency, Service: "engine", Length: 60 * time.Second},
		{Kind: KindScrapeDown, Service: "feed", Length: 50 * time.Second},
		{Kind: KindDown, Service: "risk", Length: 40 * time.Second, Restart: true},
		{Kind: KindLatency, Service: "gw", Length: 60 * time.Second},
		{Kind: KindErrorBurst, Service: "gw", Length: 60 * time.Second},
		{Kind: KindFlap, Service: "risk", Length: 80 * time.Second},
		{Kind: KindCounterReset, Service: "gw", Length: 20 * time.Second},
	}
	var out []Incident
	at := 40 * time.Second
	for i := 0; at+90*time.Second+40*time.Second < d; i++ {
		in := kinds[i%len(kinds)]
		in.At = at
		at += 2*time.Minute + 10*time.Second
		if in.Kind == KindErrorBurst && in.At+in.Length+ResolveWithin(in.Kind)+20*time.Second > d {
			continue
		}
		out = append(out, in)
	}
	return out
}
