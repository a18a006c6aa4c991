package query

import (
	"errors"
	"runtime"

	"github.com/gmc-dev/gmc/internal/duration"
)

// Config bounds what queries may cost: the `query:` section of gmc.yml.
// Every PromQL evaluation goes through them: the HTTP API, the REST API,
// the dashboard and rule evaluation share the one engine.
type Config struct {
	// MaxConcurrency is how many queries are evaluated at once (Prometheus's
	// --query.max-concurrency); further ones wait in a queue, within their
	// timeout.
	MaxConcurrency int `yaml:"max_concurrency"`
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
}

// DefaultConfig is the section's defaults: sized for one machine shared with
// ingest, so that a burst of heavy queries cannot take the memory and CPU
// ingest needs. MaxConcurrency is half the CPUs (at least 1): on 2 cores, 32
// concurrent range queries over 3M samples took ingest p99 from 1.7 ms to
// 1.6 s with no cap and to 0.55 s with 1 (2.3 s with 8).
func DefaultConfig() Config {
	return Config{
		MaxConcurrency: max(1, runtime.GOMAXPROCS(0)/2),
		MaxSamples:     10_000_000,
		MaxSeries:      200_000,
		// ~3M points of a range query, ~1M label sets.
		MaxResponseBytes: 128 << 20,
		Timeout:          duration.Duration(DefaultTimeout),
		CacheMaxPoints:   DefaultCacheMaxPoints,
	}
}

// Validate checks the section; errors name the field under `query.`.
func (c Config) Validate() error {
	switch {
	case c.MaxConcurrency <= 0:
		return errors.New("query.max_concurrency: must be positive")
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
	}
	return nil
}
