package query

import (
	"runtime"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// TestConfigValidate: the defaults are valid; each bad field is named.
func TestConfigValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	if c := DefaultConfig(); c.SmallQueryMaxConcurrency < 2 || c.SmallQueryMaxSeries != 10_000 || c.SmallQueryMaxPoints != 500_000 {
		t.Errorf("small-query defaults: %+v", c)
	}
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"no heavy slot", func(c *Config) { c.MaxConcurrency = 0 }, "query.max_concurrency: must be positive"},
		{"no small slot", func(c *Config) { c.SmallQueryMaxConcurrency = 0 }, "query.small_query_max_concurrency: must be positive"},
		{"negative small slots", func(c *Config) { c.SmallQueryMaxConcurrency = -1 }, "query.small_query_max_concurrency: must be positive"},
		{"no small series", func(c *Config) { c.SmallQueryMaxSeries = 0 }, "query.small_query_max_series: must be positive"},
		{"points under series", func(c *Config) { c.SmallQueryMaxSeries, c.SmallQueryMaxPoints = 100, 99 },
			"query.small_query_max_points: 99 is less than small_query_max_series 100 (an instant query over that many series is that many points)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			tc.edit(&c)
			if err := c.Validate(); err == nil || err.Error() != tc.want {
				t.Errorf("got %v, want %q", err, tc.want)
			}
		})
	}
}

// TestDefaultConfigIgnoresAddedProcs: gmc raises GOMAXPROCS at start for
// heavy queries' niced threads; the defaults read after (a reload) were
// then larger than at start, and every reload said "query" changed
// (t-user13 F2). They are of the Ps the process started with.
func TestDefaultConfigIgnoresAddedProcs(t *testing.T) {
	before := DefaultConfig()
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(runtime.GOMAXPROCS(0) + 4))
	if after := DefaultConfig(); after != before {
		t.Errorf("defaults after GOMAXPROCS was raised %+v, at start %+v", after, before)
	}
}

// TestShardWorkersIgnoreAddedProcs: a range query's series shards took
// GOMAXPROCS workers, which gmc raises above the CPUs for heavy queries'
// niced threads: more shard goroutines than CPUs. They are the CPUs gmc
// started with.
func TestShardWorkersIgnoreAddedProcs(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(runtime.GOMAXPROCS(0) + 4))
	a, err := New(Options{Queryable: openStore(t, nil), Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	if a.workers != startProcs {
		t.Errorf("shard workers %d with GOMAXPROCS raised to %d, want the %d Ps gmc started with", a.workers, runtime.GOMAXPROCS(0), startProcs)
	}
}
