// Package server wires gmc's parts into the `gmc server` process: storage,
// ingest, query, the REST API and self-monitoring.
package server

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	toolkitweb "github.com/prometheus/exporter-toolkit/web"
	promstorage "github.com/prometheus/prometheus/storage"
	"golang.org/x/net/netutil"
	"golang.org/x/sync/errgroup"

	"github.com/gmc-dev/gmc/internal/alerthistory"
	"github.com/gmc-dev/gmc/internal/api"
	"github.com/gmc-dev/gmc/internal/auth"
	"github.com/gmc-dev/gmc/internal/bench"
	"github.com/gmc-dev/gmc/internal/cluster"
	"github.com/gmc-dev/gmc/internal/config"
	"github.com/gmc-dev/gmc/internal/errlog"
	"github.com/gmc-dev/gmc/internal/forward"
	"github.com/gmc-dev/gmc/internal/ingest"
	"github.com/gmc-dev/gmc/internal/notify"
	"github.com/gmc-dev/gmc/internal/query"
	"github.com/gmc-dev/gmc/internal/rules"
	"github.com/gmc-dev/gmc/internal/sla"
	"github.com/gmc-dev/gmc/internal/storage"
	"github.com/gmc-dev/gmc/internal/tier"
	"github.com/gmc-dev/gmc/internal/trend"
	"github.com/gmc-dev/gmc/internal/web"
)

var _ ingest.MetricsListener = (*rules.Manager)(nil)

// Options configure a Server.
type Options struct {
	Config config.Config
	Logger *slog.Logger
	// Registry receives gmc's own metrics, served at /metrics. Nil: a fresh one.
	Registry *prometheus.Registry
	// Version is reported by /api/v1/status/buildinfo.
	Version string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Benchmarks offers in-process benchmarks (kind func) to the scheduler; may be nil.
	Benchmarks *bench.Registry
	// WebConfigFile is a Prometheus web config (exporter-toolkit: TLS,
	// basic_auth_users, headers) applied to the listener; "" serves plain HTTP.
	WebConfigFile string
	// Flags are the command line's flags with their values (defaults
	// included), shown by /api/v1/status/flags.
	Flags map[string]string
	// LoadConfig reads the configuration again for Reload (SIGHUP and
	// POST /-/reload): the command's file with its flags applied,
	// normalised and validated. Nil: a reload reads the credentials only.
	LoadConfig func() (config.Config, error)
	// UIInterval is how often the dashboard's event streams poll the
	// alerts, and with them the drain of each firing burn-rate alert
	// (web.Options.Interval); 0: 1s.
	UIInterval time.Duration
}

// Server is one gmc server process.
type Server struct {
	opts   Options
	logger *slog.Logger
	reg    *prometheus.Registry
	store  storage.Storage
	// forward runs the remote_write queues: nil without remote_write
	// (until a reload adds some: written under reloadMu), forwarding is the
	// embedded TSDB's switch to it (nil in remote storage mode).
	forward    *forward.Forwarder
	forwarding *forwardSwitch
	cluster    *cluster.Peer // nil when not part of an HA group
	ingester   *ingest.Ingester
	limiter    *ingest.SeriesLimiter // nil in remote storage mode
	scraper    *ingest.Scraper
	query      *query.API
	lanes      *query.Lanes
	api        *api.API
	trends     *trend.Handler
	rules      *rules.Manager
	history    *alerthistory.History
	sla        *sla.Reporter
	notify     *notify.Dispatcher
	bench      *bench.Scheduler
	// benchRunner runs the benchmarks bench schedules (its configuration
	// a reload replaces).
	benchRunner *bench.Runner
	reports     *bench.Handler
	ui          *web.UI
	guard       *auth.Guard
	// outages records gmc's own runs and the times it was down between.
	outages  *outageLog
	listener net.Listener
	handler  http.Handler
	ready    atomic.Bool
	// tiers are the downsampled tiers (nil in remote storage mode);
	// queryable reads raw data and tiers: every reader's store.
	tiers     *tier.Set
	queryable promstorage.Queryable
	// decoded is the decoded-sample cache queries read raw data through
	// (nil in remote storage mode).
	decoded *storage.DecodedCache
	// late counts writes older than the step cache's settle time: every
	// appendable of the raw store is wrapped by it.
	late *storage.LateWrites
	// slaBackfill backfills the recordings of the given SLAs when they are
	// added over stored data (nil: never, e.g. in remote storage mode);
	// Run starts it for the configured SLAs, Reload for those it adds.
	slaBackfill func(context.Context, []sla.SLA)
	// drainErrs are the failing drain reads of the dashboard's burn
	// alerts, each logged once while it lasts (burnDrain).
	drainErrs errlog.Keyed[drainKey]

	// reloadMu serialises reloads; it guards slas, the SLAs in force, and
	// the background work below.
	reloadMu sync.Mutex
	slas     []sla.SLA
	// ruleSums are the sums of the rule files in force, by path: a reload
	// names a file it replaced groups of only when its content changed.
	ruleSums map[string][sha256.Size]byte
	// cfg is the configuration in force: Options.Config with what
	// reloads applied (reloadable) put in; written under reloadMu.
	cfg atomic.Pointer[config.Config]
	// lastReload is what the last reload left (nil before one); started
	// is when New ran.
	lastReload atomic.Pointer[reloadState]
	started    time.Time
	// bgCtx is Run's context while it runs (nil before, and after Run
	// waits for bg); bg counts the backfills Reload started.
	bgCtx context.Context
	bg    sync.WaitGroup

	closers   []closer // torn down last first by Close
	closeOnce sync.Once
	closeErr  error
}

// closer is one teardown step registered by New.
type closer struct {
	what  string
	close func() error
}

// onClose registers a teardown step; Close runs them in reverse order and
// prefixes their errors with "close <what>: " unless what is empty.
func (s *Server) onClose(what string, close func() error) {
	s.closers = append(s.closers, closer{what, close})
}

// Close releases everything New acquired, last acquired first: the alert
// history, the listener, the remote-write queues, the storage. It is
// idempotent and safe on a Server whose Run has returned (Run calls it) or
// never started. It returns the first error.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		for i := len(s.closers) - 1; i >= 0; i-- {
			c := s.closers[i]
			err := c.close()
			if err != nil && c.what != "" {
				err = fmt.Errorf("close %s: %w", c.what, err)
			}
			if err != nil && s.closeErr == nil {
				s.closeErr = err
			}
		}
	})
	return s.closeErr
}

// New opens the storage and builds every part; it listens but serves only in
// Run. It builds what the parts share once: the registry, the clock, the
// storage and the PromQL engine. Every resource it acquires is released by
// Close, also when New itself fails.
func New(opts Options) (_ *Server, err error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Registry == nil {
		opts.Registry = prometheus.NewRegistry()
		opts.Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	if opts.Version == "" {
		opts.Version = "dev"
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Server{opts: opts, logger: opts.Logger, reg: opts.Registry, started: opts.Now()}
	s.cfg.Store(&opts.Config)
	s.registerReloadMetrics()
	defer func() {
		if err != nil {
			_ = s.Close() // the error that made New fail is the one to report
		}
	}()
	cfg := opts.Config
	appendable, err := s.openStorage(cfg)
	if err != nil {
		return nil, err
	}
	s.late = storage.NewLateWrites(query.DefaultCacheSettle, opts.Now)
	appendable = s.late.Wrap(appendable)
	if db, ok := s.store.(*storage.TSDB); ok {
		// Its blocks loaded or dropped and its deletes are writes too.
		s.late.WatchStore(db)
	}
	s.onClose("", s.closeStorage) // the remote_write queues, then the storage; its errors say which
	store := s.store
	if err := s.openTiers(cfg); err != nil {
		return nil, err
	}
	s.onClose("", s.tiers.Close) // its errors name the tier
	// Every write path marks the tiers whose job has read a bucket it
	// writes a sample into (see tier.Set.Watch).
	appendable = s.tiers.Watch(appendable)
	queryable := s.queryable
	// Listen first: the alerting parts link back to the real address.
	s.listener, err = net.Listen("tcp", cfg.Server.ListenAddress)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", cfg.Server.ListenAddress, err)
	}
	s.onClose("listener", func() error {
		if err := s.listener.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			return err
		}
		return nil // http.Server.Shutdown closed it
	})
	if n := cfg.Server.MaxConnections; n > 0 {
		s.listener = netutil.LimitListener(s.listener, n)
	}
	if opts.WebConfigFile != "" {
		if err := toolkitweb.Validate(opts.WebConfigFile); err != nil {
			return nil, fmt.Errorf("web config %s: %w", opts.WebConfigFile, err)
		}
	}
	s.guard, err = auth.New(auth.Options{
		Config: cfg.Auth, ListenAddress: s.listener.Addr().String(), WebConfigFile: opts.WebConfigFile,
		Logger: s.logger.With("component", "auth"), Registerer: s.reg,
	})
	if err != nil {
		return nil, err
	}
	// The one PromQL engine: one set of limits, one set of engine metrics,
	// and the query lanes every query is admitted by (the API's and gmc's own).
	lanes := query.NewLanes(query.LanesOptions{Config: cfg.Query, Queryable: queryable, Registerer: s.reg, Now: opts.Now})
	s.lanes = lanes
	engineMetrics := &query.EngineMetrics{}
	engine, tracker, err := query.NewEngine(query.EngineOptions{
		Metrics:        engineMetrics,
		Logger:         s.logger.With("component", "promql"),
		Registerer:     s.reg,
		Timeout:        time.Duration(cfg.Query.Timeout),
		MaxSamples:     cfg.Query.MaxSamples,
		Lanes:          lanes,
		ActiveQueryDir: cfg.Server.DataDir,
	})
	if err != nil {
		return nil, err
	}
	if tracker != nil {
		s.onClose("active query log", tracker.Close)
	}
	// Built in the reverse of the data flow, so each part exists before
	// the one that feeds it: notify ← rules ← ingest.
	if err := s.buildAlerting(engine); err != nil {
		return nil, err
	}

	s.ingester, err = ingest.New(ingest.Options{
		Appendable:    appendable,
		Limits:        cfg.Limits,
		Logger:        s.logger.With("component", "ingest"),
		Registerer:    s.reg,
		Now:           opts.Now,
		Listener:      s.rules,
		Version:       opts.Version,
		PushStateFile: filepath.Join(cfg.Server.DataDir, "pushgateway", "groups.gob"),
		GroupTTL:      time.Duration(cfg.Pushgateway.GroupTTL),
		GroupRefresh:  time.Duration(cfg.Pushgateway.RefreshInterval),
		OTLP:          cfg.OTLP,
	})
	if err != nil {
		return nil, err
	}
	// The scraper runs with no jobs too: a reload can add some.
	s.scraper, err = ingest.NewScraper(ingest.ScraperOptions{
		Appendable: appendable,
		Jobs:       cfg.ScrapeConfigs,
		Logger:     s.logger.With("component", "scrape"),
		Registerer: s.reg,
		Committed:  s.ingester.CountScraped,
	})
	if err != nil {
		return nil, err
	}
	rawRead, _ := store.(promstorage.SampleAndChunkQueryable) // remote read serves raw samples and chunks
	s.query, err = query.New(query.Options{
		Queryable:     queryable,
		RemoteRead:    rawRead,
		TiersFrom:     s.tiersFrom,
		Engine:        engine,
		ActiveQueries: tracker,
		EngineMetrics: engineMetrics,
		Logger:        s.logger.With("component", "query"),
		Registerer:    s.reg,
		Version:       opts.Version,
		Now:           opts.Now,
		MaxSeries:     cfg.Query.MaxSeries,
		MaxSamples:    cfg.Query.MaxSamples,
		// The API holds its lane's slot until the answer is encoded; its
		// wait in the lane's queue is bounded by the query timeout.
		Lanes:               lanes,
		MaxResponseBytes:    cfg.Query.MaxResponseBytes,
		CompressLoopback:    cfg.Query.CompressLoopback,
		HeavyNice:           cfg.Query.HeavyQueryNice,
		Timeout:             time.Duration(cfg.Query.Timeout),
		RateMaxDecodedBytes: rateMaxDecodedBytes(cfg.Query.RateMaxDecodedBytes),
		Status:              s.status(),
		StepCache:           s.stepCache(cfg),
		Writes:              s.rangeWrites(cfg),
	})
	if err != nil {
		return nil, err
	}
	keep := time.Duration(cfg.Storage.Retention)
	for _, l := range cfg.Storage.Downsampling.Tiers {
		keep = max(keep, time.Duration(l.Retention))
	}
	s.outages = newOutageLog(cfg.Server.DataDir, keep, s.logger.With("component", "outages"))
	s.api = api.New(api.Options{
		Queryable:       queryable,
		Engine:          engine,
		Logger:          s.logger.With("component", "api"),
		Now:             opts.Now,
		StaleAfter:      time.Duration(cfg.Server.StaleAfter),
		DownAfter:       time.Duration(cfg.Server.DownAfter),
		ServiceLiveness: serviceLiveness(cfg.Server.ServiceLiveness),
		OwnSeries:       s.ownSeries,
		PushedAt:        s.ingester.PushedAt,
		StorageStats:    store.Stats,
		SamplesIngested: s.ingester.SamplesTotal,
		Version:         opts.Version,
		SLAs:            s.slaStates,
		Access:          s.guard.Status,
		StorageTiers:    s.tiers.Stats,
		Config:          s.configStatus,
		Outages:         s.outages.Outages,
		// The status judges a service's silence when the alerts do.
		SilenceHold: func(now time.Time, svc string) (api.Hold, bool) {
			h, ok := s.rules.SilenceHold(now, svc)
			return api.Hold{Cause: h.Cause, Since: h.Since, Until: h.Until, JudgedFrom: h.JudgedFrom}, ok
		},
		Watching: func(now time.Time) (time.Time, api.Hold) {
			from, h := s.rules.Watching(now)
			return from, api.Hold{Cause: h.Cause, Since: h.Since, Until: h.Until}
		},
	})
	s.trends = trend.NewHandler(trend.Options{
		Queryable: queryable, Raw: store, Engine: engine, Logger: s.logger.With("component", "trend"), Now: opts.Now,
	})
	if err := s.buildBenchmarks(); err != nil {
		return nil, err
	}
	s.ui, err = web.New(web.Options{
		Alerts:   s.firingAlerts,
		Interval: opts.UIInterval,
		Logger:   s.logger.With("component", "web"),
	})
	if err != nil {
		return nil, err
	}
	s.handler = s.routes()
	return s, nil
}

// Addr is the address the server listens on (useful with port 0).
func (s *Server) Addr() string { return s.listener.Addr().String() }

// Handler is the server's whole HTTP routing table.
func (s *Server) Handler() http.Handler { return s.handler }

// Run serves until ctx is done, then shuts down cleanly: it stops HTTP and
// the background parts (scraping, rules, notifications, benchmarks), waits
// for all of them, and only then Closes the server (alert history, storage),
// so every acknowledged write is in the WAL before the storage closes.
func (s *Server) Run(ctx context.Context) error {
	sc := s.opts.Config.Server
	headerTimeout := 10 * time.Second
	if rt := time.Duration(sc.ReadTimeout); rt > 0 && rt < headerTimeout {
		headerTimeout = rt
	}
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: headerTimeout,
		ReadTimeout:       time.Duration(sc.ReadTimeout),
		IdleTimeout:       time.Duration(sc.IdleTimeout),
		// WriteTimeout is set per request (writeDeadline), so that the
		// dashboard's long-lived event stream is not cut.
	}
	srv.RegisterOnShutdown(s.ui.Shutdown) // ends the dashboards' event streams
	// From now gmc takes in data: the time since the last run's stop is
	// an outage; a heartbeat, then the stop, are recorded for the next.
	s.outages.begin(s.opts.Now())
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { s.outages.run(gctx.Done(), s.opts.Now); return nil })
	g.Go(func() error {
		webConfig := s.opts.WebConfigFile
		err := toolkitweb.Serve(s.listener, srv, &toolkitweb.FlagConfig{WebConfigFile: &webConfig}, s.logger.With("component", "web_config"))
		if !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("serve http: %w", err)
		}
		return nil
	})
	g.Go(func() error {
		<-gctx.Done()
		s.ready.Store(false)
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(shutdownCtx); err != nil {
			return fmt.Errorf("shut down http: %w", err)
		}
		return nil
	})
	g.Go(func() error { return s.scraper.Run(gctx) })
	g.Go(func() error { return s.ingester.Run(gctx) })
	g.Go(func() error { s.api.Run(gctx); return nil })
	g.Go(func() error { return s.notify.Run(gctx) })
	g.Go(func() error { return s.rules.Run(gctx) })
	g.Go(func() error { return s.bench.Run(gctx) })
	g.Go(func() error { return s.tiers.Run(gctx) })
	s.reloadMu.Lock()
	s.bgCtx = gctx
	if s.slaBackfill != nil && len(s.slas) > 0 {
		slas := s.slas
		s.bg.Go(func() { s.slaBackfill(gctx, slas) })
	}
	s.reloadMu.Unlock()
	g.Go(func() error {
		<-gctx.Done()
		s.reloadMu.Lock()
		s.bgCtx = nil // a reload from now on starts no backfill
		s.reloadMu.Unlock()
		s.bg.Wait()
		return nil
	})
	s.reloadMu.Lock()
	if s.forward != nil {
		fwd := s.forward
		g.Go(func() error { return fwd.Run(gctx) })
	}
	s.reloadMu.Unlock()
	if s.cluster != nil {
		g.Go(func() error { return s.cluster.Run(gctx) })
	}
	s.ready.Store(true)
	s.logger.Info("gmc server listening", "addr", s.Addr(), "data_dir", s.opts.Config.Server.DataDir)

	runErr := g.Wait()
	if err := s.Close(); err != nil && runErr == nil {
		runErr = err
	}
	s.logger.Info("gmc server stopped")
	return runErr
}

// stepCache is the query API's step cache (nil when turned off, and in
// remote storage mode, where others write what gmc reads): entries are
// dropped on every late write to the raw store.
// rateMaxDecodedBytes is query.rate_max_decoded_bytes as query.Options
// takes it: 0 in gmc.yml turns interleaving off.
func rateMaxDecodedBytes(n int) int {
	if n == 0 {
		return -1
	}
	return n
}

// rangeWrites is what the query API's range queries read for the commits
// since a client's mark (query.Writes): nil in remote storage mode, where
// others write what gmc reads.
func (s *Server) rangeWrites(cfg config.Config) query.Writes {
	if cfg.Storage.Mode == "remote" {
		return nil
	}
	return s.late
}

func (s *Server) stepCache(cfg config.Config) *query.StepCache {
	c := cfg.Query
	if c.CacheMaxPoints <= 0 || cfg.Storage.Mode == "remote" {
		return nil
	}
	return &query.StepCache{Generation: s.late.Generation, Settle: s.late.Settle(),
		MaxAge: query.DefaultCacheMaxAge, MaxPoints: c.CacheMaxPoints}
}

// Reload (SIGHUP and POST /-/reload) reads the configuration again with
// Options.LoadConfig and applies what a reload applies (see
// reloadConfig), the credentials included; the result names what applied
// and what changed but needs a restart. Without LoadConfig it reads the
// credentials again only (the auth section's token files and variables
// and the web config's users).
func (s *Server) Reload() (ReloadResult, error) {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	if s.opts.LoadConfig != nil {
		res, err := s.reloadConfig()
		if err != nil {
			// Nothing changed: what differed before still does.
			st := reloadState{at: s.opts.Now(), err: err.Error(), okAt: s.started}
			if prev := s.lastReload.Load(); prev != nil {
				st.restart, st.okAt = prev.restart, prev.okAt
			}
			s.lastReload.Store(&st)
		}
		return res, err
	}
	return ReloadResult{}, s.guard.Reload()
}
