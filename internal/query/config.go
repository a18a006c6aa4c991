package query

import (
	"errors"
	"fmt"
	"runtime"

	"github.com/gmc-dev/gmc/internal/duration"
)

// Config bounds what queries may cost: the `query:` section of gmc.yml.
// Every PromQL evaluation goes through them: the HTTP API, the REST API,
// the dashboard and rule evaluation share the one engine.
type Config struct {
	// MaxConcurrency is how many heavy queries are evaluated at once
	// (Prometheus's --query.max-concurrency, for the queries that are not
	// small); further ones wait in the heavy lane's queue, within their
	// timeout. A heavy range query runs on one goroutine unless slots of
	// its lane, or spare slots of the small lane (all but one), are free
	// (no series sharding while others wait); its extra goroutines run at
	// heavy_query_nice as it does.
	MaxConcurrency int `yaml:"max_concurrency"`
	// SmallQueryMaxConcurrency is the small-query lane's slots: queries
	// whose selectors match at most SmallQueryMaxSeries series together and
	// at most SmallQueryMaxPoints points (see there) wait only for these, never
	// behind heavy ones. Rules, the REST API and the dashboard's queries are
	// mostly small.
	SmallQueryMaxConcurrency int `yaml:"small_query_max_concurrency"`
	// SmallQueryMaxSeries bounds the series a small query's selectors match
	// (counted at the end of its range, up to this bound + 1, so classifying
	// `{__name__=~".+"}` over millions of series stays cheap).
	SmallQueryMaxSeries int `yaml:"small_query_max_series"`
	// SmallQueryMaxPoints bounds a small query's series × evaluation steps
	// × the lookback windows a range selector spans at each step (1 up to
	// the lookback delta, ⌈range / lookback⌉ beyond).
	SmallQueryMaxPoints int `yaml:"small_query_max_points"`
	// MaxSamples bounds the samples one query may hold in memory at once
	// (--query.max-samples); over it the query fails with 422.
	MaxSamples int `yaml:"max_samples"`
	// MaxSeries bounds the series one query may return; over it the query
	// fails with 422 (a limit= parameter truncates instead, as in Prometheus).
	MaxSeries int `yaml:"max_series"`
	// MaxResponseBytes bounds the JSON answer of one query, series or labels
	// request as encoded; over it the request fails with 422 (limit= or a
	// wider step makes it fit). The encoding runs inside max_concurrency, so
	// at most max_concurrency answers of this size are held at once.
	MaxResponseBytes int `yaml:"max_response_bytes"`
	// Timeout bounds one query, its wait in the queue included (--query.timeout).
	Timeout duration.Duration `yaml:"timeout"`
	// CacheMaxPoints bounds the points the range-query step cache keeps
	// (past steps of dashboards' queries, reused on their next refresh);
	// 0 turns the cache off.
	CacheMaxPoints int `yaml:"cache_max_points"`
	// RateMaxDecodedBytes bounds the decoded samples (16 bytes each) one
	// range query of rate or increase at a step under its range holds when
	// its steps are dealt out to interleaved queries over thinned windows
	// (interleave.go): 64 MiB by default, an hour of 1 s data over 1,000
	// series being 55 MiB; a query reading more is evaluated whole. 0 turns
	// interleaving off.
	RateMaxDecodedBytes int `yaml:"rate_max_decoded_bytes"`
	// DecodedCacheMaxBytes bounds the decoded-sample cache: raw and tier
	// float chunks' samples kept across queries (16 bytes a sample, beside the
	// chunk's own bytes), found by the chunk's block and reference before
	// it is read (a chunk the TSDB re-encodes for a query by its content),
	// so appends, late and out-of-order writes and deletes read fresh
	// chunks by themselves (storage.DecodedCache). 128 MiB by default: bench/history's hour of
	// 1 s data over 1,000 series takes ~66 MiB. 0 turns it off.
	DecodedCacheMaxBytes int `yaml:"decoded_cache_max_bytes"`
	// CompressLoopback compresses answers to clients on the loopback too.
	// Off by default: there compression costs both ends CPU and saves no
	// time (routes.go). Turn it on behind a proxy on the same host that
	// forwards answers without saying so (no Forwarded, X-Forwarded-For,
	// X-Real-IP or Via header) and does not compress them itself.
	CompressLoopback bool `yaml:"compress_loopback"`
	// HeavyQueryNice is the nice value (0..19) of the OS thread an API query
	// admitted to the heavy lane is evaluated and encoded on, a fresh thread
	// per query that ends with it (Linux sets priority per thread; lowering
	// it back would need CAP_SYS_NICE). The kernel then runs gmc's other
	// threads (ingest, rules, small queries) and the machine's other work
	// first, and the heavy query on what CPU is left: on 2 cores shared
	// with other jobs, in process, the writer's p99 beside heavy queries fell
	// from 25–26 to 10 ms, with as many heavy answers (bench/README.md). 0
	// evaluates them on the request's own thread, at gmc's priority. Rules,
	// the REST API and small queries always run at gmc's priority.
	HeavyQueryNice int `yaml:"heavy_query_nice"`
}

// DefaultConfig is the section's defaults: sized for one machine shared with
// ingest, so that a burst of heavy queries cannot take the memory and CPU
// ingest needs. MaxConcurrency is half the CPUs (at least 1): on 2 cores, 32
// concurrent range queries over 3M samples took ingest p99 from 1.7 ms to
// 1.6 s with no cap and to 0.55 s with 1 (2.3 s with 8). The small lane has
// as many slots, at least 2 (a rule group and a dashboard panel at once);
// a small query is at most 10,000 series and 500,000 series × steps — a
// 1-hour panel at a 15 s step over 2,000 series; bench/soak's heavy query
// (2,950 series × 601 steps, 1.8M points) took ~0.8 s on one core.
func DefaultConfig() Config {
	return Config{
		MaxConcurrency:           max(1, startProcs/2),
		SmallQueryMaxConcurrency: max(2, startProcs/2),
		SmallQueryMaxSeries:      10_000,
		SmallQueryMaxPoints:      500_000,
		MaxSamples:               10_000_000,
		MaxSeries:                200_000,
		// ~3M points of a range query, ~1M label sets.
		MaxResponseBytes:     128 << 20,
		Timeout:              duration.Duration(DefaultTimeout),
		CacheMaxPoints:       DefaultCacheMaxPoints,
		RateMaxDecodedBytes:  DefaultRateMaxDecodedBytes,
		DecodedCacheMaxBytes: DefaultDecodedCacheMaxBytes,
		HeavyQueryNice:       DefaultHeavyQueryNice,
	}
}

// startProcs is GOMAXPROCS when the process started (the CPUs gmc may
// use), read before gmc adds scheduler slots for heavy queries' niced
// threads (cmd/gmc's heavyProcs): the defaults read after that (a reload)
// were larger, and every reload of a gmc.yml without a query section said
// "query" changed and needed a restart (t-user13 F2).
var startProcs = runtime.GOMAXPROCS(0)

// DefaultDecodedCacheMaxBytes is query.decoded_cache_max_bytes's default.
const DefaultDecodedCacheMaxBytes = 128 << 20

// DefaultHeavyQueryNice is query.heavy_query_nice's default: the kernel's
// weight of a nice-10 thread is a tenth of a nice-0 one's (110 against 1024).
const DefaultHeavyQueryNice = 10

// Validate checks the section; errors name the field under `query.`.
func (c Config) Validate() error {
	switch {
	case c.MaxConcurrency <= 0:
		return errors.New("query.max_concurrency: must be positive")
	case c.SmallQueryMaxConcurrency <= 0:
		return errors.New("query.small_query_max_concurrency: must be positive")
	case c.SmallQueryMaxSeries <= 0:
		return errors.New("query.small_query_max_series: must be positive")
	case c.SmallQueryMaxPoints < c.SmallQueryMaxSeries:
		return fmt.Errorf("query.small_query_max_points: %d is less than small_query_max_series %d (an instant query over that many series is that many points)",
			c.SmallQueryMaxPoints, c.SmallQueryMaxSeries)
	case c.MaxSamples <= 0:
		return errors.New("query.max_samples: must be positive")
	case c.MaxSeries <= 0:
		return errors.New("query.max_series: must be positive")
	case c.MaxResponseBytes <= 0:
		return errors.New("query.max_response_bytes: must be positive")
	case c.Timeout <= 0:
		return errors.New("query.timeout: must be positive")
	case c.CacheMaxPoints < 0:
		return errors.New("query.cache_max_points: must not be negative")
	case c.RateMaxDecodedBytes < 0:
		return errors.New("query.rate_max_decoded_bytes: must not be negative")
	case c.DecodedCacheMaxBytes < 0:
		return errors.New("query.decoded_cache_max_bytes: must not be negative")
	case c.HeavyQueryNice < 0 || c.HeavyQueryNice > 19:
		return fmt.Errorf("query.heavy_query_nice: %d is not in 0..19 (0: gmc's own priority)", c.HeavyQueryNice)
	}
	return nil
}
