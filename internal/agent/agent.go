// Package agent is `gmc agent`: host metrics (node_exporter's names) and
// process metrics of the trading services, read with gopsutil, pushed to gmc
// by remote-write through the SDK's Pusher (with its durable spool) and served
// at /metrics.
package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	promconfig "github.com/prometheus/common/config"
	"golang.org/x/sync/errgroup"

	"github.com/gmc-dev/gmc/sdk"
)

// Options configure an Agent.
type Options struct {
	Config Config
	Logger *slog.Logger
	// Registry holds every metric the agent pushes and serves. Nil: a fresh
	// one with the host, process, Go runtime and agent-process collectors.
	// Given: the agent adds its collectors to it.
	Registry *prometheus.Registry
}

// Agent is one `gmc agent` process.
type Agent struct {
	cfg      Config
	logger   *slog.Logger
	reg      *prometheus.Registry
	pusher   *sdk.Pusher
	listener net.Listener // nil when no listen address
}

// New builds the collectors and the pusher (opening the spool) and listens
// on the web address; nothing runs until Run. opts.Config must be valid
// (LoadConfigFile, or Validate); New does not check it again.
func New(opts Options) (*Agent, error) {
	a := &Agent{cfg: opts.Config, logger: opts.Logger, reg: opts.Registry}
	if a.logger == nil {
		a.logger = slog.New(slog.DiscardHandler)
	}
	if a.reg == nil {
		a.reg = prometheus.NewRegistry()
		a.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	host := newHostCollector(a.logger.With("component", "host"))
	host.interrupts = a.cfg.Host.Interrupts
	a.reg.MustRegister(host)
	if len(a.cfg.Processes) > 0 {
		a.reg.MustRegister(newProcessCollector(a.cfg.Processes, a.logger.With("component", "process")))
	}
	// The pushes' client is Prometheus's (as gmc's remote storage uses):
	// it reads the token file at each request and reloads changed CA and
	// certificate files, so rotating either needs no restart.
	if f := a.cfg.BearerTokenFile; f != "" {
		if _, err := os.Stat(f); err != nil {
			return nil, fmt.Errorf("agent bearer_token_file: %w", err)
		}
	}
	hc := promconfig.DefaultHTTPClientConfig
	hc.TLSConfig = a.cfg.TLSConfig
	hc.BearerTokenFile = a.cfg.BearerTokenFile
	client, err := promconfig.NewClientFromConfig(hc, "gmc-agent")
	if err != nil {
		return nil, fmt.Errorf("agent tls_config: %w", err)
	}
	p, err := sdk.NewPusher(sdk.PusherOptions{
		HTTPClient:     client,
		URL:            a.cfg.GMCURL,
		Gatherer:       a.reg,
		Interval:       a.cfg.Interval.Std(),
		SpoolDir:       a.cfg.Spool.Dir,
		SpoolMaxBytes:  a.cfg.Spool.MaxBytes,
		ExternalLabels: a.cfg.ExternalLabels,
		Logger:         a.logger.With("component", "pusher"),
		Registerer:     a.reg,
	})
	if err != nil {
		return nil, fmt.Errorf("start pusher: %w", err)
	}
	a.pusher = p
	if addr := a.cfg.Web.ListenAddress; addr != "" {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, fmt.Errorf("listen on %s: %w", addr, err)
		}
		a.listener = ln
	}
	return a, nil
}

// Addr is the address /metrics is served on, "" when not serving.
func (a *Agent) Addr() string {
	if a.listener == nil {
		return ""
	}
	return a.listener.Addr().String()
}

// Registry is the registry the agent pushes and serves.
func (a *Agent) Registry() *prometheus.Registry { return a.reg }

// Handler serves /metrics and /-/healthy. /metrics is what node_exporter
// serves: the samples without the read times the pushes carry (host.go),
// since a scraper stamps the scrape itself, and Prometheus gives a series
// scraped with timestamps of its own no staleness marker when it goes.
func (a *Agent) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(withoutTimestamps(a.reg), promhttp.HandlerOpts{
		ErrorHandling: promhttp.ContinueOnError, EnableOpenMetrics: true,
	}))
	mux.HandleFunc("GET /-/healthy", func(w http.ResponseWriter, _ *http.Request) {
		w.Write([]byte("gmc agent is healthy.\n"))
	})
	return mux
}

// withoutTimestamps gathers g and drops the samples' own timestamps.
func withoutTimestamps(g prometheus.Gatherer) prometheus.Gatherer {
	return prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) {
		mfs, err := g.Gather()
		for _, mf := range mfs {
			for _, m := range mf.GetMetric() {
				m.TimestampMs = nil
			}
		}
		return mfs, err
	})
}

// Run pushes every interval and serves HTTP until ctx ends; then it flushes
// what it can and leaves the rest in the spool for the next start.
func (a *Agent) Run(ctx context.Context) error {
	a.logger.Info("gmc agent started", "gmc_url", a.cfg.GMCURL, "interval", a.cfg.Interval,
		"spool_dir", a.cfg.Spool.Dir, "listen", a.Addr(), "processes", len(a.cfg.Processes))
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return a.pusher.Run(ctx) })
	if a.listener != nil {
		srv := &http.Server{Handler: a.Handler(), ReadHeaderTimeout: 10 * time.Second}
		g.Go(func() error {
			if err := srv.Serve(a.listener); !errors.Is(err, http.ErrServerClosed) {
				return fmt.Errorf("serve http: %w", err)
			}
			return nil
		})
		g.Go(func() error {
			<-ctx.Done()
			shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			return srv.Shutdown(shutdownCtx)
		})
	}
	err := g.Wait()
	a.logger.Info("gmc agent stopped")
	return err
}
