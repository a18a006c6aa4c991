package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gmc-dev/gmc/internal/bench"
	"github.com/gmc-dev/gmc/internal/config"
	"github.com/gmc-dev/gmc/internal/ingest"
	"github.com/gmc-dev/gmc/internal/server/servertest"
)

// startGMC runs an in-process gmc on a free loopback port that scrapes
// market-data at mdAddr every second.
func startGMC(t *testing.T, mdAddr string) string {
	t.Helper()
	cfg := config.Default()
	cfg.ScrapeConfigs = []ingest.ScrapeConfig{{
		JobName:        ServiceMarketData,
		ScrapeInterval: config.Duration(time.Second),
		StaticConfigs:  []ingest.StaticConfig{{Targets: []string{mdAddr}, Labels: map[string]string{"service": ServiceMarketData}}},
	}}
	_, base := servertest.Start(t, cfg)
	return base
}

// query runs an instant PromQL query and returns the vector by the value
// of label by.
func query(t *testing.T, base, q, by string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(base + "/api/v1/query?query=" + url.QueryEscape(q))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Result []struct {
				Metric map[string]string `json:"metric"`
				Value  [2]any            `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("query %s: %v", q, err)
	}
	if body.Status != "success" {
		t.Fatalf("query %s: %s", q, body.Error)
	}
	out := map[string]float64{}
	for _, r := range body.Data.Result {
		v, _ := strconv.ParseFloat(fmt.Sprint(r.Value[1]), 64)
		out[r.Metric[by]] = v
	}
	return out
}

func waitFor(t *testing.T, what string, limit time.Duration, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		ok, state := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s; last: %s", limit, what, state)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// TestDemoReportsToGMC runs the simulated system against an in-process gmc
// with a latency, a down and an error incident, and checks through gmc's
// PromQL API that every service's data arrived by its own path, orders
// flowed through the whole exchange, the latency incident slowed the
// matching path, the downed service came back and the gateway failed orders.
func TestDemoReportsToGMC(t *testing.T) {
	// market-data's listener first: gmc's configuration names its address.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mdAddr := ln.Addr().String()
	base := startGMC(t, mdAddr)
	d, err := New(Options{
		GMCURL: base, Logger: slog.New(slog.NewTextHandler(t.Output(), nil)),
		Seed: 1, IncidentEvery: 2 * time.Second, IncidentLength: 3 * time.Second,
		Incidents: []Incident{IncidentLatency, IncidentDown, IncidentErrors}, OrdersPerSecond: 1000,
		MarketDataListener: ln, PushInterval: 500 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("demo: %v", err)
		}
	}()

	want := d.Services()
	if len(want) != 8 {
		t.Fatalf("services %v, want 8", want)
	}
	waitFor(t, "every service's metrics", 20*time.Second, func() (bool, string) {
		got := query(t, base, `count by (service) ({__name__=~"gmc_.+", service!=""})`, "service")
		for _, s := range want {
			if got[s] == 0 {
				return false, fmt.Sprint(got)
			}
		}
		return true, ""
	})
	// Orders flow through strategies → gateway → risk → engine.
	waitFor(t, "orders in every order-handling service", 20*time.Second, func() (bool, string) {
		got := query(t, base, `sum by (service) (gmc_orders_total{result="success"})`, "service")
		for _, s := range []string{ServiceGateway, ServiceEngine, ServiceRisk, "strategy-momentum", "strategy-mean-reversion", "strategy-market-making"} {
			if got[s] == 0 {
				return false, fmt.Sprint(got)
			}
		}
		return true, ""
	})
	// The order gateway's HTTP front places orders (retried: an error
	// incident fails some on purpose).
	waitFor(t, "an order over HTTP", 20*time.Second, func() (bool, string) {
		resp, err := http.Post(d.GatewayURL(), "application/json", strings.NewReader(GatewayBenchBody))
		if err != nil {
			return false, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode == http.StatusCreated && strings.Contains(string(b), `"status":"resting"`), fmt.Sprint(resp.StatusCode, " ", string(b))
	})
	// The scrape path: market-data is up and its messages counted.
	waitFor(t, "market-data scraped", 20*time.Second, func() (bool, string) {
		up := query(t, base, `up{job="market-data"}`, "service")
		msgs := query(t, base, `gmc_requests_total{endpoint="message"}`, "service")
		return up[ServiceMarketData] == 1 && msgs[ServiceMarketData] > 0, fmt.Sprint(up, msgs)
	})
	// The latency incident: orders slower than 1ms in the matching engine.
	waitFor(t, "slow orders from the latency incident", 20*time.Second, func() (bool, string) {
		got := query(t, base, `gmc_order_latency_seconds_count{service="matching-engine"} - ignoring(le) gmc_order_latency_seconds_bucket{service="matching-engine", le="0.001"}`, "service")
		return got[ServiceEngine] > 0, fmt.Sprint(got)
	})
	// The down incident: the backtester stops pushing, then resumes.
	var downAt float64
	waitFor(t, "backtester silent", 30*time.Second, func() (bool, string) {
		got := query(t, base, `time() - timestamp(gmc_requests_total{service="backtester", endpoint="bar"})`, "service")
		if got[ServiceBacktester] > 2 {
			downAt = got[ServiceBacktester]
			return true, ""
		}
		return false, fmt.Sprint(got)
	})
	waitFor(t, "backtester back", 20*time.Second, func() (bool, string) {
		got := query(t, base, `time() - timestamp(gmc_requests_total{service="backtester", endpoint="bar"})`, "service")
		return got[ServiceBacktester] < 1.5, fmt.Sprint(got, " silent for ", downAt)
	})
	// The error incident: the gateway fails orders, and the strategies see
	// the errors.
	waitFor(t, "order errors from the error incident", 20*time.Second, func() (bool, string) {
		got := query(t, base, `sum by (service) (gmc_orders_total{result="error"})`, "service")
		return got[ServiceGateway] > 0 && got["strategy-momentum"] > 0 && got[ServiceEngine] == 0, fmt.Sprint(got)
	})
}

func TestParseIncidents(t *testing.T) {
	got, err := ParseIncidents("down, latency,errors")
	if err != nil || fmt.Sprint(got) != "[down latency errors]" {
		t.Fatalf("ParseIncidents = %v, %v", got, err)
	}
	if _, err := ParseIncidents("down,fire"); err == nil {
		t.Fatal("ParseIncidents accepted an unknown kind")
	}
}

// TestBenchmarks runs the demo's suite with the benchmark runner: each
// in-process benchmark is registered and measures a positive rate, and
// without a DSN the DB benchmark is the clearly named stand-in.
func TestBenchmarks(t *testing.T) {
	reg := bench.NewRegistry()
	if err := RegisterBenchmarks(reg); err != nil {
		t.Fatal(err)
	}
	suite := Benchmarks(time.Minute, "", "")
	names := []string{}
	for i := range suite {
		names = append(names, suite[i].Name)
		suite[i].Func.Benchtime = bench.Duration(20 * time.Millisecond)
		suite[i].Func.Count = 2
	}
	if fmt.Sprint(names) != "[matching-engine-tps backtest-throughput marketdata-playback db-query-latency-standin]" {
		t.Fatalf("suite %v", names)
	}
	if suite[3].Labels["standin"] != "true" {
		t.Errorf("stand-in not labelled: %v", suite[3].Labels)
	}
	archive, err := bench.OpenArchive(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	cfg := bench.Config{Suite: suite}
	cfg.Normalise()
	r, err := bench.NewRunner(bench.Options{Config: cfg, Archive: archive, Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	runs, err := r.RunAll(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 4 {
		t.Fatalf("%d runs, want 4", len(runs))
	}
	for _, run := range runs {
		if len(run.Results) != 1 || run.Results[0].Throughput <= 0 {
			t.Errorf("%s: results %+v", run.Benchmark, run.Results)
		}
	}
	if got := runs[1].Results[0].Extra["bars/op"]; got != barsPerDay {
		t.Errorf("backtest bars/op = %v, want %d", got, barsPerDay)
	}
	sql := Benchmarks(time.Minute, "postgres://127.0.0.1/x", "")[3]
	if sql.Name != BenchDBQuery || sql.Kind != bench.KindSQL || sql.SQL.DSN != "postgres://127.0.0.1/x" {
		t.Errorf("with a DSN the DB benchmark is %+v", sql)
	}
}

func BenchmarkPlayback(b *testing.B) {
	p := &player{rec: recording(5, 1<<16)}
	b.ReportAllocs()
	for b.Loop() {
		p.next()
	}
}

func BenchmarkBacktestDay(b *testing.B) {
	day := dayOfBars(3)
	b.ReportAllocs()
	for b.Loop() {
		replayDay(day)
	}
	b.ReportMetric(float64(b.N)*barsPerDay/b.Elapsed().Seconds(), "bars/s")
}
