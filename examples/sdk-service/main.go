// Command sdk-service is a small simulated order gateway instrumented with
// gmc's SDK: it records order latencies and results, PnL and exposure,
// pushes them to gmc every second (spooling while gmc is down) and serves
// /metrics for scraping.
//
//	go run ./examples/sdk-service --gmc.url=http://127.0.0.1:9900
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gmc-dev/gmc/sdk"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "sdk-service:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	gmcURL := flag.String("gmc.url", "http://127.0.0.1:9900", "gmc to push to")
	listen := flag.String("web.listen-address", "127.0.0.1:9911", "address serving /metrics")
	spool := flag.String("spool.dir", "./sdk-service-spool", "where pushes wait while gmc is down")
	flag.Parse()
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))

	reg := prometheus.NewRegistry()
	m, err := sdk.NewMetrics(sdk.MetricsOptions{Service: "order-gateway", Registerer: reg})
	if err != nil {
		return err
	}
	host, _ := os.Hostname()
	p, err := sdk.NewPusher(sdk.PusherOptions{
		URL: *gmcURL, Gatherer: reg, Registerer: reg, SpoolDir: *spool, ClassicHistograms: true,
		ExternalLabels: map[string]string{"instance": host}, Logger: logger,
	})
	if err != nil {
		return err
	}
	srv := &http.Server{Addr: *listen, Handler: sdk.Handler(reg), ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
			logger.Error("serve /metrics", "err", err)
		}
	}()
	defer srv.Close()
	pushed := make(chan error, 1)
	go func() { pushed <- p.Run(ctx) }()

	// The simulated trading loop: ~2000 orders a second.
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	pnl := 0.0
	for {
		select {
		case <-ctx.Done():
			return <-pushed
		case <-tick.C:
		}
		for range 2 {
			latency := time.Duration((280 + 40*rng.NormFloat64()) * float64(time.Microsecond))
			result := sdk.ResultSuccess
			switch x := rng.Float64(); {
			case x < 0.0005:
				result = sdk.ResultError
			case x < 0.005:
				result = sdk.ResultReject
			}
			m.ObserveOrder(latency, result)
			m.ObserveRequest("/v1/orders", latency+20*time.Microsecond)
		}
		pnl += rng.NormFloat64() * 10
		m.SetPnL("acc-1", "market-making", pnl)
		m.SetExposure("acc-1", "market-making", 2e6+rng.Float64()*1e5, 1e5*rng.NormFloat64())
	}
}
