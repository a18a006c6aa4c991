package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/golang/snappy"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/prompb"
	"github.com/prometheus/prometheus/storage"
)

// Recorder stores a finished run's figures as gmc_bench_* series. Record
// may be called from one goroutine at a time per Recorder.
type Recorder interface {
	Record(ctx context.Context, run *Run) error
}

// SeriesPrefix begins the name of every series a run is recorded as.
const SeriesPrefix = "gmc_bench_"

// Sample is one point of a gmc_bench_* series.
type Sample struct {
	Labels labels.Labels
	T      int64 // ms
	V      float64
}

// Series returns the samples a run is recorded as, all at the run's end time:
//
//	gmc_bench_latency_seconds{benchmark,quantile}   http, sql
//	gmc_bench_throughput_per_second{benchmark}      achieved req/s, ops/s
//	gmc_bench_target_rate_per_second{benchmark}     constant-rate kinds
//	gmc_bench_requests{benchmark}                   operations measured in the run
//	gmc_bench_errors_total{benchmark}               errors in the run
//	gmc_bench_duration_seconds{benchmark}           measured time
//	gmc_bench_median{benchmark,unit}                median of the compared metric
//	gmc_bench_exec_seconds{benchmark,time,stat}     exec: wall|user|system × mean|median|stddev|min|max
//	gmc_bench_extra{benchmark,unit}                 gobench B/op, allocs/op…; func ReportMetric
//	gmc_bench_regression{benchmark}                 1 after a regression (two runs in a row), else 0; none without a verdict
//	gmc_bench_verdict_timestamp_seconds{benchmark}  the run's end (Unix s), written with gmc_bench_regression: the verdict's time
//	gmc_bench_change_ratio{benchmark}               new median / baseline median − 1
//	gmc_bench_p_value{benchmark}                    Mann-Whitney U test p-value
//	gmc_bench_run_failed{benchmark}                 1 when the run failed, else 0
//	gmc_bench_run_timestamp_seconds{benchmark}      the run's end (Unix s), written with gmc_bench_run_failed
func Series(run *Run) []Sample {
	t := run.End.UnixMilli()
	var out []Sample
	add := func(metric, bench string, v float64, kv ...string) {
		b := labels.NewScratchBuilder(len(run.Labels) + 3 + len(kv)/2)
		b.Add(model.MetricNameLabel, metric)
		b.Add("benchmark", bench)
		for k, val := range run.Labels {
			b.Add(k, val)
		}
		for i := 0; i+1 < len(kv); i += 2 {
			b.Add(kv[i], kv[i+1])
		}
		b.Sort()
		out = append(out, Sample{Labels: b.Labels(), T: t, V: v})
	}
	failed := 0.0
	if run.Error != "" {
		failed = 1
	}
	add("gmc_bench_run_failed", run.Benchmark, failed)
	// When: BenchmarkRunFailed says how long ago the failed run was.
	add("gmc_bench_run_timestamp_seconds", run.Benchmark, float64(t)/1000)
	for _, r := range run.Results {
		n := r.Name
		if l := r.Latency; l != nil {
			for _, q := range l.Quantiles() {
				add("gmc_bench_latency_seconds", n, q[1].(float64), "quantile", q[0].(string))
			}
		}
		if r.Throughput > 0 {
			add("gmc_bench_throughput_per_second", n, r.Throughput)
		}
		if r.TargetRate > 0 {
			add("gmc_bench_target_rate_per_second", n, r.TargetRate)
		}
		add("gmc_bench_requests", n, float64(r.Requests))
		add("gmc_bench_errors_total", n, float64(r.Errors))
		add("gmc_bench_duration_seconds", n, r.DurationSeconds)
		if r.Summary.N > 0 {
			add("gmc_bench_median", n, r.Summary.Median, "unit", r.Unit)
		}
		if e := r.Exec; e != nil {
			for _, tm := range []struct {
				name string
				s    Stats
			}{{"wall", e.Wall}, {"user", e.User}, {"system", e.System}} {
				for _, st := range []struct {
					name string
					v    float64
				}{{"mean", tm.s.Mean}, {"median", tm.s.Median}, {"stddev", tm.s.StdDev}, {"min", tm.s.Min}, {"max", tm.s.Max}} {
					add("gmc_bench_exec_seconds", n, st.v, "time", tm.name, "stat", st.name)
				}
			}
		}
		for _, u := range slices.Sorted(maps.Keys(r.Extra)) {
			add("gmc_bench_extra", n, r.Extra[u], "unit", u)
		}
		if c := r.Comparison; c != nil {
			add("gmc_bench_change_ratio", n, c.Change)
			add("gmc_bench_p_value", n, c.P)
		}
		// A run without a verdict (no or too small a baseline, too few
		// samples, a saturated host) says nothing about a regression: it
		// writes no gmc_bench_regression, so BenchmarkRegression neither
		// fires nor resolves on it.
		if v, _ := r.Comparison.Outcome(); v != VerdictNone && run.Untrustworthy == "" {
			reg := 0.0
			if v == VerdictRegression {
				reg = 1
			}
			add("gmc_bench_regression", n, reg)
			// When the verdict was given: the alert says how old the
			// verdict it holds on is.
			add("gmc_bench_verdict_timestamp_seconds", n, float64(t)/1000)
		}
	}
	return out
}

// StorageRecorder appends runs to gmc's own storage (inside `gmc server`).
type StorageRecorder struct {
	Appendable storage.AppendableV2
}

var _ Recorder = (*StorageRecorder)(nil)

// Record implements Recorder: one appender, committed once.
func (s *StorageRecorder) Record(ctx context.Context, run *Run) error {
	app := s.Appendable.AppenderV2(ctx)
	for _, smp := range Series(run) {
		if _, err := app.Append(0, smp.Labels, 0, smp.T, smp.V, nil, nil, storage.AOptions{}); err != nil {
			_ = app.Rollback()
			return fmt.Errorf("append %s: %w", smp.Labels, err)
		}
	}
	if err := app.Commit(); err != nil {
		return fmt.Errorf("commit bench samples: %w", err)
	}
	return nil
}

// RemoteWriteRecorder sends runs to a gmc (or any Prometheus remote-write
// 1.0 receiver) at URL + /api/v1/write.
type RemoteWriteRecorder struct {
	// URL is the base URL of gmc, e.g. http://127.0.0.1:9900.
	URL    string
	Client *http.Client
}

var _ Recorder = (*RemoteWriteRecorder)(nil)

// Record implements Recorder.
func (r *RemoteWriteRecorder) Record(ctx context.Context, run *Run) error {
	var req prompb.WriteRequest
	for _, smp := range Series(run) {
		ts := prompb.TimeSeries{Samples: []prompb.Sample{{Value: smp.V, Timestamp: smp.T}}}
		smp.Labels.Range(func(l labels.Label) {
			ts.Labels = append(ts.Labels, prompb.Label{Name: l.Name, Value: l.Value})
		})
		req.Timeseries = append(req.Timeseries, ts)
	}
	raw, err := req.Marshal()
	if err != nil {
		return fmt.Errorf("encode remote-write request: %w", err)
	}
	url := strings.TrimSuffix(r.URL, "/") + "/api/v1/write"
	httpReq, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(snappy.Encode(nil, raw)))
	if err != nil {
		return fmt.Errorf("build remote-write request to %s: %w", url, err)
	}
	httpReq.Header.Set("Content-Encoding", "snappy")
	httpReq.Header.Set("Content-Type", "application/x-protobuf")
	httpReq.Header.Set("X-Prometheus-Remote-Write-Version", "0.1.0")
	client := r.Client
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	resp, err := client.Do(httpReq)
	if err != nil {
		return fmt.Errorf("remote-write to %s: %w", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("remote-write to %s: status %d: %s", url, resp.StatusCode, strings.TrimSpace(string(body)))
	}
	return nil
}
