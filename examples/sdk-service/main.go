// Command sdk-service is a small simulated order gateway instrumented with
// gmc's SDK: it records order latencies and results, PnL and exposure, and
// reports them to gmc one way, push or scrape, never both (each would be
// counted once per path: desk totals doubled).
//
//	go run ./examples/sdk-service                 # pushes to gmc every second (the SDK's way; spools while gmc is down)
//	go run ./examples/sdk-service --mode scrape   # serves /metrics for a scrape_configs job instead
//
// It behaves like a healthy gateway (median latency 280µs, 0.05% errors,
// 0.45% rejects: examples/sla.yml's SLAs are met) until told otherwise,
// with flags or, while it runs, on /fault:
//
//	go run ./examples/sdk-service --latency 2ms --error-ratio 0.2
//	curl -XPOST '127.0.0.1:9920/fault?latency=2ms&error_ratio=0.2'   # an incident
//	curl -XPOST 127.0.0.1:9920/fault                                 # back to the flags' behaviour
//	curl 127.0.0.1:9920/fault                                        # the behaviour now
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gmc-dev/gmc/sdk"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stderr, nil); err != nil {
		fmt.Fprintln(os.Stderr, "sdk-service:", err)
		os.Exit(1)
	}
}

// behaviour is how the simulated gateway answers orders.
type behaviour struct {
	// Latency is the median order latency; orders spread around it by a
	// seventh of it (normal).
	Latency time.Duration `json:"latency"`
	// ErrorRatio and RejectRatio are the shares of orders that fail and
	// that are rejected; the rest succeed.
	ErrorRatio  float64 `json:"error_ratio"`
	RejectRatio float64 `json:"reject_ratio"`
}

// healthy is a healthy gateway's behaviour, the default: examples/sla.yml's
// SLAs hold.
func healthy() behaviour {
	return behaviour{Latency: 280 * time.Microsecond, ErrorRatio: 0.0005, RejectRatio: 0.0045}
}

// order draws one order's latency and result.
func (b behaviour) order(rng *rand.Rand) (time.Duration, sdk.Result) {
	latency := time.Duration(float64(b.Latency) * (1 + rng.NormFloat64()/7))
	switch x := rng.Float64(); {
	case x < b.ErrorRatio:
		return latency, sdk.ResultError
	case x < b.ErrorRatio+b.RejectRatio:
		return latency, sdk.ResultReject
	}
	return latency, sdk.ResultSuccess
}

// validate says what of b cannot be simulated.
func (b behaviour) validate() error {
	if b.Latency <= 0 {
		return fmt.Errorf("latency %s: must be positive", b.Latency)
	}
	if b.ErrorRatio < 0 || b.RejectRatio < 0 || b.ErrorRatio+b.RejectRatio > 1 {
		return fmt.Errorf("error ratio %g and reject ratio %g: each at least 0, together at most 1", b.ErrorRatio, b.RejectRatio)
	}
	return nil
}

// with is b changed by the query parameters latency, error_ratio and
// reject_ratio that q has.
func (b behaviour) with(q url.Values) (behaviour, error) {
	var err error
	if v := q.Get("latency"); v != "" {
		if b.Latency, err = time.ParseDuration(v); err != nil {
			return b, err
		}
	}
	for name, dst := range map[string]*float64{"error_ratio": &b.ErrorRatio, "reject_ratio": &b.RejectRatio} {
		if v := q.Get(name); v != "" {
			if *dst, err = strconv.ParseFloat(v, 64); err != nil {
				return b, fmt.Errorf("%s: %w", name, err)
			}
		}
	}
	return b, b.validate()
}

// faults is the behaviour in force: the flags', or what /fault set.
type faults struct {
	mu      sync.Mutex
	base, b behaviour
}

func (f *faults) get() behaviour {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.b
}

// ServeHTTP is /fault: GET the behaviour in force; POST with latency,
// error_ratio or reject_ratio changes it, POST without any restores the
// flags' behaviour.
func (f *faults) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost {
		if err := r.ParseForm(); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		next := f.base
		if len(r.Form) > 0 {
			var err error
			if next, err = f.get().with(r.Form); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
		}
		f.mu.Lock()
		f.b = next
		f.mu.Unlock()
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(struct {
		behaviour
		Latency string `json:"latency"`
	}{f.get(), f.get().Latency.String()})
}

// run is the service, with its command line args; ready, when not nil,
// is sent the address it listens on once it does.
func run(ctx context.Context, args []string, stderr io.Writer, ready chan<- string) error {
	fs := flag.NewFlagSet("sdk-service", flag.ContinueOnError)
	fs.SetOutput(stderr)
	mode := fs.String("mode", "push", "how gmc gets the metrics, one way only: push (to --gmc.url every second) or scrape (served on --web.listen-address/metrics for a scrape_configs job)")
	service := fs.String("service", "order-gateway", "the service label of every series")
	gmcURL := fs.String("gmc.url", "http://127.0.0.1:9900", "gmc to push to (--mode push)")
	listen := fs.String("web.listen-address", "127.0.0.1:9920", "address serving /fault and, with --mode scrape, /metrics")
	spool := fs.String("spool.dir", "./sdk-service-spool", "where pushes wait while gmc is down (--mode push)")
	b := healthy()
	fs.DurationVar(&b.Latency, "latency", b.Latency, "median order latency")
	fs.Float64Var(&b.ErrorRatio, "error-ratio", b.ErrorRatio, "share of orders that fail (result=\"error\")")
	fs.Float64Var(&b.RejectRatio, "reject-ratio", b.RejectRatio, "share of orders rejected (result=\"reject\")")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := b.validate(); err != nil {
		return err
	}
	if *mode != "push" && *mode != "scrape" {
		return fmt.Errorf("--mode %q: push or scrape", *mode)
	}
	logger := slog.New(slog.NewTextHandler(stderr, nil))

	reg := prometheus.NewRegistry()
	m, err := sdk.NewMetrics(sdk.MetricsOptions{Service: *service, Registerer: reg})
	if err != nil {
		return err
	}
	f := &faults{base: b, b: b}
	mux := http.NewServeMux()
	mux.Handle("/fault", f)
	pushed := make(chan error, 1)
	if *mode == "scrape" {
		mux.Handle("/metrics", sdk.Handler(reg))
		pushed <- nil
	} else {
		host, _ := os.Hostname()
		p, err := sdk.NewPusher(sdk.PusherOptions{
			URL: *gmcURL, Gatherer: reg, Registerer: reg, SpoolDir: *spool, ClassicHistograms: true,
			ExternalLabels: map[string]string{"instance": host}, Logger: logger,
		})
		if err != nil {
			return err
		}
		go func() { pushed <- p.Run(ctx) }()
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			logger.Error("serve", "err", err)
		}
	}()
	defer srv.Close()
	logger.Info("sdk-service running", "mode", *mode, "service", *service, "listen", ln.Addr().String())
	if ready != nil {
		ready <- ln.Addr().String()
	}

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
		now := f.get()
		for range 2 {
			latency, result := now.order(rng)
			m.ObserveOrder(latency, result)
			m.ObserveRequest("/v1/orders", latency+20*time.Microsecond)
		}
		pnl += rng.NormFloat64() * 10
		m.SetPnL("acc-1", "market-making", pnl)
		m.SetExposure("acc-1", "market-making", 2e6+rng.Float64()*1e5, 1e5*rng.NormFloat64())
	}
}
