package bench

import (
	"math"
	"slices"
	"time"
)

// Run is one execution of one configured benchmark: what is archived as JSON
// under <data dir>/bench/runs/ and recorded as gmc_bench_* series.
type Run struct {
	// ID is unique and sorts by start time: 20261125T101500.123Z-name.
	ID        string            `json:"id"`
	Benchmark string            `json:"benchmark"`
	Kind      string            `json:"kind"`
	Labels    map[string]string `json:"labels,omitempty"`
	Start     time.Time         `json:"start"`
	End       time.Time         `json:"end"`
	Host      string            `json:"host,omitempty"`
	GoVersion string            `json:"go_version,omitempty"`
	// Results has one entry per measured thing: one for most kinds, one
	// per `Benchmark…` line name for gobench.
	Results []Result `json:"results"`
	// Error is set when the run failed; Results may then be partial.
	Error string `json:"error,omitempty"`
	// HostLoad is the host's load when the run began.
	HostLoad *HostLoad `json:"host_load,omitempty"`
	// Untrustworthy says why the run's figures are not compared (a
	// saturated host); such a run joins no baseline either.
	Untrustworthy string `json:"untrustworthy,omitempty"`
	// Skipped says why the scheduler did not run the benchmark at all (the
	// host stayed saturated); such a run has no results.
	Skipped string `json:"skipped,omitempty"`
	// Simulated says why the run's figures were drawn, not measured (the
	// demo's backfilled history): it is judged against simulated runs only
	// and is never the baseline of a measured one.
	Simulated string `json:"simulated,omitempty"`
}

// HostLoad is the host's load average over the last minute and its CPUs.
type HostLoad struct {
	Load1 float64 `json:"load1"`
	CPUs  int     `json:"cpus"`
}

// PerCPU is the load average per CPU (1 = every CPU busy on average).
func (h HostLoad) PerCPU() float64 {
	if h.CPUs <= 0 {
		return h.Load1
	}
	return h.Load1 / float64(h.CPUs)
}

// Regressed reports whether any result of the run regressed.
func (r *Run) Regressed() bool {
	for _, res := range r.Results {
		if res.Comparison != nil && res.Comparison.Regression {
			return true
		}
	}
	return false
}

// Worsened reports whether any result of the run regressed or was worse
// than its baseline in this run alone (not yet confirmed by a second): what
// a one-shot check such as a CI gate fails on.
func (r *Run) Worsened() bool {
	for _, res := range r.Results {
		if v, _ := res.Comparison.Outcome(); v == VerdictRegression || v == VerdictWorse {
			return true
		}
	}
	return false
}

// Direction says which way a metric improves.
type Direction string

// Directions.
const (
	LowerIsBetter  Direction = "lower"
	HigherIsBetter Direction = "higher"
)

// Result is the figures of one measured thing in a run.
type Result struct {
	// Name is the series' benchmark label: the configured name, or
	// name/BenchmarkX for gobench.
	Name string `json:"name"`
	// Unit and Better describe Samples, the primary metric compared
	// against the baseline: seconds for latency and wall time, ops/s for
	// func, sec/op for gobench.
	Unit    string    `json:"unit"`
	Better  Direction `json:"better"`
	Samples []float64 `json:"samples"`
	// Summary of Samples: the median and its confidence interval.
	Summary Summary `json:"summary"`
	// SampleQuantile is set when each sample is one latency quantile of one
	// time window of the run (http, sql): Summary.Median is then the
	// median of the windows' quantiles, not the run's median latency
	// (that is Latency.P50).
	SampleQuantile float64 `json:"sample_quantile,omitempty"`

	Latency    *Latency     `json:"latency,omitempty"`
	Exec       *ExecFigures `json:"exec,omitempty"`
	Requests   int64        `json:"requests,omitempty"`
	Errors     int64        `json:"errors"`
	Throughput float64      `json:"throughput_per_second,omitempty"`
	// TargetRate is the configured rate of a constant-rate kind.
	TargetRate float64 `json:"target_rate,omitempty"`
	// DurationSeconds is the measured (not warm-up) time.
	DurationSeconds float64 `json:"duration_seconds"`
	// Extra holds other metrics (gobench's B/op, allocs/op, custom units;
	// ReportMetric of func benchmarks): medians per unit.
	Extra map[string]float64 `json:"extra,omitempty"`
	// Comparison against the baseline; nil when there was none.
	Comparison *Comparison `json:"comparison,omitempty"`
}

// Latency is a latency distribution from an HDR histogram, in seconds.
type Latency struct {
	Count  int64   `json:"count"`
	Mean   float64 `json:"mean"`
	StdDev float64 `json:"stddev"`
	Min    float64 `json:"min"`
	P50    float64 `json:"p50"`
	P90    float64 `json:"p90"`
	P99    float64 `json:"p99"`
	P999   float64 `json:"p99_9"`
	P9999  float64 `json:"p99_99"`
	Max    float64 `json:"max"`
	// CorrectedForCO is true when latencies count from each request's
	// intended start (open loop).
	CorrectedForCO bool `json:"corrected_for_co"`
	// SendLagP99 and SendLagMax are how late requests left against their
	// schedule (constant-rate kinds): the generator's own health, as
	// wrk2's calibration. A large lag with few errors means the load
	// generator, not the target, was the bottleneck.
	SendLagP99 float64 `json:"send_lag_p99,omitempty"`
	SendLagMax float64 `json:"send_lag_max,omitempty"`
}

// Quantiles returns the latency quantiles as (quantile label, seconds).
func (l *Latency) Quantiles() [][2]any {
	return [][2]any{{"0.5", l.P50}, {"0.9", l.P90}, {"0.99", l.P99}, {"0.999", l.P999}, {"0.9999", l.P9999}, {"1", l.Max}}
}

// ExecFigures are hyperfine-like statistics of a repeated command, seconds.
type ExecFigures struct {
	Runs   int   `json:"runs"`
	Wall   Stats `json:"wall"`
	User   Stats `json:"user"`
	System Stats `json:"system"`
	// Failed counts runs with a non-zero exit.
	Failed int `json:"failed"`
}

// Stats are descriptive statistics of a sample.
type Stats struct {
	Mean   float64 `json:"mean"`
	Median float64 `json:"median"`
	StdDev float64 `json:"stddev"`
	Min    float64 `json:"min"`
	Max    float64 `json:"max"`
}

// Describe computes Stats of xs (sample standard deviation).
func Describe(xs []float64) Stats {
	if len(xs) == 0 {
		return Stats{}
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	var sum float64
	for _, x := range s {
		sum += x
	}
	mean := sum / float64(len(s))
	var ss float64
	for _, x := range s {
		ss += (x - mean) * (x - mean)
	}
	sd := 0.0
	if len(s) > 1 {
		sd = math.Sqrt(ss / float64(len(s)-1))
	}
	med := s[len(s)/2]
	if len(s)%2 == 0 {
		med = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return Stats{Mean: mean, Median: med, StdDev: sd, Min: s[0], Max: s[len(s)-1]}
}
