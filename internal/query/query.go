// Package query runs PromQL through Prometheus's own engine and serves the
// Prometheus HTTP API (/api/v1/query, /api/v1/query_range, /api/v1/series,
// /api/v1/labels, …) with Prometheus's exact JSON envelope, so Grafana's
// Prometheus data source and other Prometheus clients work against gmc.
package query

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/storage"
)

// Defaults, the same as Prometheus's flags --query.lookback-delta,
// --query.timeout and --query.max-samples.
const (
	DefaultLookbackDelta = 5 * time.Minute
	DefaultTimeout       = 2 * time.Minute
	DefaultMaxSamples    = 50_000_000
	// defaultSubqueryStep is the step of a subquery written without one
	// (`[30m:]`): Prometheus uses its global evaluation interval, 1m by default.
	defaultSubqueryStep = time.Minute
	// maxPointsPerSeries is Prometheus's limit on query_range resolution.
	maxPointsPerSeries = 11000
)

// PrometheusVersion is the Prometheus release whose HTTP API and PromQL gmc
// implements (the vendored prometheus/prometheus v0.316.0). buildinfo reports
// it as "version", as VictoriaMetrics does, so clients that gate features on
// the version (Grafana) enable everything gmc supports.
const PrometheusVersion = "3.16.0"

// Options configure the query API.
type Options struct {
	// Queryable is the storage queries read from. Required.
	Queryable storage.Queryable
	Logger    *slog.Logger
	// RemoteRead is what /api/v1/read reads (it needs chunk queriers: the
	// raw store); nil: Queryable, if it has them.
	RemoteRead storage.SampleAndChunkQueryable
	// TiersFrom is the oldest sample time (ms) the downsampled tiers hold
	// (math.MaxInt64: none; false: not known): /api/v1/series_start's
	// data_from is the older of it and the raw store's. Nil: data_from is
	// the raw store's.
	TiersFrom func() (int64, bool)
	// Registerer receives the engine's metrics (prometheus_engine_*). Nil: none.
	Registerer prometheus.Registerer
	// Version is gmc's own version, reported as buildinfo's "revision".
	Version string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// LookbackDelta, Timeout and MaxSamples default to Prometheus's defaults
	// (5m, 2m, 50M) when zero.
	LookbackDelta time.Duration
	Timeout       time.Duration
	MaxSamples    int
	// MaxSeries bounds the series one query returns (0: no bound).
	MaxSeries int
	// MaxResponseBytes bounds the encoded JSON of one query, series or
	// labels answer (0: no bound).
	MaxResponseBytes int
	// CompressLoopback compresses answers to loopback clients too
	// (Config.CompressLoopback).
	CompressLoopback bool
	// Lanes admit queries (lanes.go; nil: no queue): the API's query, series
	// and label requests are classified and wait for a slot of their lane,
	// held until their answer is encoded. They must be the Engine's (given
	// to NewEngine). Without Engine they need ActiveQueryDir, where
	// Prometheus's active query log is kept (queries running at a crash are
	// logged at the next start).
	Lanes          *Lanes
	ActiveQueryDir string
	// StepCache, when set, keeps range queries' points at past steps
	// (stepcache.go); nil evaluates every step of every query.
	StepCache *StepCache
	// Writes watches the commits to the raw store (nil: not watched, as in
	// remote storage mode, where others write): a range query's since and
	// held parameters leave out the steps no commit since has changed
	// (changed.go).
	Writes Writes
	// Engine runs the queries: the server's one engine (NewEngine), whose
	// limits then apply and LookbackDelta must match. Nil builds one from
	// the limits above (for tests), which Close releases.
	Engine *promql.Engine
	// ActiveQueries is Engine's active query log (NewEngine's tracker; nil:
	// none): the queries gmc evaluates outside the engine (direct.go) are
	// entered there too while they run. Built by New without Engine.
	ActiveQueries *promql.ActiveQueryTracker
	// EngineMetrics are Engine's metrics (NewEngine's EngineOptions.Metrics;
	// nil: none): the queries gmc evaluates outside the engine count in
	// them too. Built by New without Engine.
	EngineMetrics *EngineMetrics
	// Status feeds the status and discovery endpoints (status.go).
	Status Status
	// Parallelism is how many goroutines one range query may evaluate on
	// when it can be split by series (shard.go): 0 means the CPUs gmc
	// started with (startProcs, not the scheduler slots cmd/gmc adds for
	// heavy queries' niced threads), 1 none.
	Parallelism int
	// RateMaxDecodedBytes bounds the decoded samples a range query dealt
	// out to interleaved queries holds (Config.RateMaxDecodedBytes); 0:
	// DefaultRateMaxDecodedBytes, negative: no interleaving.
	RateMaxDecodedBytes int
	// HeavyNice is the nice value of the OS thread an API query admitted to
	// the heavy lane is evaluated and encoded on (Config.HeavyQueryNice;
	// Linux only); 0: the request's own thread.
	HeavyNice int
}

// EngineOptions configure the PromQL engine: one set of limits for every
// query gmc runs (API, REST API, rules, SLAs, trends).
type EngineOptions struct {
	Logger *slog.Logger
	// Registerer receives the engine's metrics (prometheus_engine_*). Nil: none.
	Registerer prometheus.Registerer
	// LookbackDelta, Timeout and MaxSamples are the engine's limits; zero
	// means Prometheus's defaults (5m, 2m, 50M).
	LookbackDelta time.Duration
	Timeout       time.Duration
	MaxSamples    int
	// Lanes admit every query the engine runs to a lane (lanes.go; nil: no
	// queue); they need ActiveQueryDir, where Prometheus's active query log
	// is kept (queries running at a crash are logged at the next start).
	Lanes          *Lanes
	ActiveQueryDir string
	// Metrics, when not nil, is filled with the engine's metrics as it
	// registers them on Registerer (EngineMetrics): give it to the API
	// (Options.EngineMetrics) for its direct evaluations to count in them.
	Metrics *EngineMetrics
}

// NewEngine builds the PromQL engine with gmc's settings: Prometheus's
// defaults, the @ modifier, negative offsets and delayed name removal. The
// server builds one and hands it to every reader (query, api, rules, sla,
// trends). It registers the engine's metrics on opts.Registerer. The
// tracker, nil without Lanes, keeps the active query log: close it when the
// engine's queries have ended.
func NewEngine(opts EngineOptions) (*promql.Engine, *promql.ActiveQueryTracker, error) {
	opts = opts.withDefaults()
	eopts := promql.EngineOpts{
		Logger:        opts.Logger,
		Reg:           opts.Registerer,
		MaxSamples:    opts.MaxSamples,
		Timeout:       opts.Timeout,
		LookbackDelta: opts.LookbackDelta,
		NoStepSubqueryIntervalFn: func(int64) int64 {
			return defaultSubqueryStep.Milliseconds()
		},
		EnableAtModifier:     true,
		EnableNegativeOffset: true,
		// Keep __name__ until the last step (Prometheus's
		// promql-delayed-name-removal): `max by (service) (timestamp({service="x"}))`
		// over series that differ only by name then works instead of failing
		// with "vector cannot contain metrics with the same labelset".
		EnableDelayedNameRemoval: true,
		Parser:                   newParser(),
	}
	if opts.Metrics != nil && opts.Registerer != nil {
		eopts.Reg = capturingRegisterer{Registerer: opts.Registerer, m: opts.Metrics}
	}
	var tracker *promql.ActiveQueryTracker
	if opts.Lanes != nil {
		// The log has an entry for every slot of both lanes; the lanes,
		// not the log, make queries wait.
		var err error
		tracker, err = promql.NewActiveQueryTracker(opts.ActiveQueryDir, opts.Lanes.slots(), opts.Logger.With("component", "activeQueryTracker"))
		if err != nil {
			return nil, nil, fmt.Errorf("query engine: active query log in %s: %w", opts.ActiveQueryDir, err)
		}
		eopts.ActiveQueryTracker = &laneTracker{log: tracker, lanes: opts.Lanes, held: map[int]*lane{}}
	}
	return promql.NewEngine(eopts), tracker, nil
}

// withDefaults fills the zero fields: a discarding logger and Prometheus's
// defaults for the limits.
func (o EngineOptions) withDefaults() EngineOptions {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.LookbackDelta <= 0 {
		o.LookbackDelta = DefaultLookbackDelta
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.MaxSamples <= 0 {
		o.MaxSamples = DefaultMaxSamples
	}
	return o
}

// newParser is the PromQL parser of the engine and the API. Prometheus 3.16
// enables no parser feature by default (experimental functions, fill
// modifiers and unquoted UTF-8 names are feature flags).
func newParser() parser.Parser { return parser.NewParser(parser.Options{}) }

// API is the PromQL engine and the Prometheus HTTP API handlers over it.
// Its handlers are safe for concurrent use.
type API struct {
	queryable storage.Queryable
	logger    *slog.Logger
	version   string
	now       func() time.Time
	started   time.Time
	engine    *promql.Engine
	parser    parser.Parser
	lookback  time.Duration
	// maxSeries, maxBytes, compressLoopback, heavyNice and cache are the
	// query section's settings SetConfig puts in force while gmc runs.
	maxSeries atomic.Int64
	maxBytes  atomic.Int64
	timeout   time.Duration
	// compressLoopback: answers to loopback clients are compressed too.
	compressLoopback atomic.Bool
	// lanes admit query, series and label requests from before evaluation
	// until their answer is encoded; nil: no queue.
	lanes   *Lanes
	cache   atomic.Pointer[StepCache]
	writes  Writes                     // nil: not watched (changed.go)
	workers int                        // goroutines of one sharded range query (shard.go)
	tracker *promql.ActiveQueryTracker // of an engine New built; nil otherwise
	// active is the engine's active query log (tracker or
	// Options.ActiveQueries), where direct evaluations are entered; nil: none.
	active *promql.ActiveQueryTracker
	// engineMetrics count direct evaluations in the engine's metrics
	// (Options.EngineMetrics); nil: not counted.
	engineMetrics *EngineMetrics
	// remoteRead is Prometheus's remote-read handler; nil when the
	// queryable has no chunk querier.
	remoteRead http.Handler
	// raw is the raw store's chunks (Options.RemoteRead): what
	// /api/v1/series_start reads; nil: not served.
	raw       storage.SampleAndChunkQueryable
	tiersFrom func() (int64, bool)
	status    Status
	// noYield turns the yields of heavy evaluation and encoding off (yield.go;
	// BenchmarkIngestBesideHeavy compares).
	noYield bool
	// noBorrow: heavy range queries take no slots of the small lane as
	// shard workers (shardWorkers; benchmarks compare).
	noBorrow bool
	// noSplit: range queries are not split by time (shard.go; benchmarks
	// compare).
	noSplit bool
	// noInterleave: rate and increase at steps under their range are not
	// dealt out to interleaved queries (interleave.go; benchmarks compare).
	noInterleave bool
	// noDirect: `sum by (…) (rate(…))` is evaluated by the engine, not
	// directly (direct.go; benchmarks and tests compare).
	noDirect bool
	// maxSamples is the engine's limit on samples held (direct.go asks
	// the engine to refuse past it).
	maxSamples int
	// thinAnyDensity: interleaving whatever the samples per window
	// (minWindowSamples; benchmarks compare).
	thinAnyDensity bool
	// thinMaxBytes bounds the decoded samples an interleaved query holds
	// (query.rate_max_decoded_bytes); 0: no interleaving.
	thinMaxBytes atomic.Int64
	// idleCPUs says how many CPUs beyond a query's own the rest of the
	// machine leaves idle (cpuMeter), bounding what a heavy query borrows
	// (shardWorkers); nil: no bound.
	idleCPUs func() int
	// heavyNice: heavy API queries are evaluated and encoded on an OS
	// thread of this nice value (Options.HeavyNice; 0: on the request's).
	heavyNice atomic.Int64
	// chunks are the pieces answers are encoded into (respond.go), *[]byte.
	chunks sync.Pool
}

// New builds the API over opts.Engine, or over an engine of its own that
// registers its metrics on opts.Registerer (call it once per registry then).
func New(opts Options) (*API, error) {
	if opts.Queryable == nil {
		return nil, errors.New("query api: queryable is required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Version == "" {
		opts.Version = "dev"
	}
	eopts := EngineOptions{
		Logger:         opts.Logger.With("component", "promql"),
		Registerer:     opts.Registerer,
		LookbackDelta:  opts.LookbackDelta,
		Timeout:        opts.Timeout,
		MaxSamples:     opts.MaxSamples,
		Lanes:          opts.Lanes,
		ActiveQueryDir: opts.ActiveQueryDir,
	}.withDefaults()
	engine := opts.Engine
	var tracker *promql.ActiveQueryTracker
	if engine == nil {
		var err error
		opts.EngineMetrics = &EngineMetrics{}
		eopts.Metrics = opts.EngineMetrics
		engine, tracker, err = NewEngine(eopts)
		if err != nil {
			return nil, fmt.Errorf("query api: %w", err)
		}
	}
	var remoteRead http.Handler
	if opts.RemoteRead == nil {
		opts.RemoteRead, _ = opts.Queryable.(storage.SampleAndChunkQueryable)
	}
	if opts.RemoteRead != nil {
		remoteRead = newRemoteRead(opts.Logger.With("component", "remote_read"), opts.Registerer, opts.RemoteRead)
	}
	workers := opts.Parallelism
	if workers <= 0 {
		workers = startProcs
	}
	a := &API{
		lanes:         opts.Lanes,
		timeout:       eopts.Timeout,
		maxSamples:    eopts.MaxSamples,
		remoteRead:    remoteRead,
		raw:           opts.RemoteRead,
		tiersFrom:     opts.TiersFrom,
		status:        opts.Status,
		queryable:     opts.Queryable,
		logger:        opts.Logger,
		version:       opts.Version,
		now:           opts.Now,
		started:       opts.Now(),
		engine:        engine,
		parser:        newParser(),
		lookback:      eopts.LookbackDelta,
		workers:       workers,
		tracker:       tracker,
		active:        cmp.Or(tracker, opts.ActiveQueries),
		engineMetrics: opts.EngineMetrics,
		idleCPUs:      newCPUMeter().idleCPUs,
		writes:        opts.Writes,
	}
	a.setLimits(opts.MaxSeries, opts.MaxResponseBytes, opts.CompressLoopback, opts.HeavyNice)
	switch {
	case opts.RateMaxDecodedBytes == 0:
		a.thinMaxBytes.Store(DefaultRateMaxDecodedBytes)
	case opts.RateMaxDecodedBytes > 0:
		a.thinMaxBytes.Store(int64(opts.RateMaxDecodedBytes))
	}
	a.cache.Store(opts.StepCache)
	return a, nil
}

func (a *API) setLimits(maxSeries, maxBytes int, compressLoopback bool, heavyNice int) {
	a.maxSeries.Store(int64(maxSeries))
	a.maxBytes.Store(int64(maxBytes))
	a.compressLoopback.Store(compressLoopback)
	a.heavyNice.Store(int64(heavyNice))
}

// SetConfig puts c's settings that the API owns in force for the
// requests that come after (a reload): max_series, max_response_bytes,
// compress_loopback, heavy_query_nice, rate_max_decoded_bytes, and the step cache (cache, built
// from c's cache_max_points; nil turns it off: a new cache starts empty).
// The engine's timeout and max_samples and the lanes' concurrency are
// fixed when they are built (as Prometheus's --query.* flags); the small
// lane's bounds are the Lanes' (Lanes.SetConfig).
func (a *API) SetConfig(c Config, cache *StepCache) {
	a.setLimits(c.MaxSeries, c.MaxResponseBytes, c.CompressLoopback, c.HeavyQueryNice)
	a.thinMaxBytes.Store(int64(c.RateMaxDecodedBytes))
	a.cache.Store(cache)
}

// StepCache is the step cache in force (nil: off).
func (a *API) StepCache() *StepCache { return a.cache.Load() }

// Close releases the active query log of an engine New built. Queries must
// have ended.
func (a *API) Close() error {
	if a.tracker == nil {
		return nil
	}
	return a.tracker.Close()
}

// preparer is a queryable that adapts the queries built over it before
// they run: the downsampled tiers' reader (tier.Queryable.PrepareQuery
// rewrites avg_over_time into an exact mean of its buckets). This package
// cannot import tier's (its tests import this one).
type preparer interface{ PrepareQuery(promql.Query) }

// prepare adapts qry, built over a.queryable, to it (see preparer).
func (a *API) prepare(qry promql.Query) {
	if p, ok := a.queryable.(preparer); ok {
		p.PrepareQuery(qry)
	}
}

// Engine is the PromQL engine the API runs queries on.
func (a *API) Engine() *promql.Engine { return a.engine }

// Parser is the PromQL parser the engine uses.
func (a *API) Parser() parser.Parser { return a.parser }
