package web_test

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/prometheus/prompb"

	"github.com/gmc-dev/gmc/internal/bench"
	"github.com/gmc-dev/gmc/internal/web/webtest"
)

// throughputRun is a 20 s run of the func benchmark name ending at end, its
// one result in ops/s (higher is better) summarised by sum, with requests.
func throughputRun(id, name string, end time.Time, sum bench.Summary, requests int64) *bench.Run {
	return &bench.Run{
		ID: id, Benchmark: name, Kind: "func", Start: end.Add(-20 * time.Second), End: end,
		Results: []bench.Result{{Name: name, Unit: "ops/s", Better: bench.HigherIsBetter,
			Summary: sum, Throughput: sum.Median, Requests: requests, DurationSeconds: 20}},
	}
}

// writeBenchRuns remote-writes the gmc_bench_* series of runs to the
// server at url, as the scheduler records them (bench.Series).
func writeBenchRuns(t *testing.T, url string, runs ...*bench.Run) {
	t.Helper()
	var series []prompb.TimeSeries
	for _, r := range runs {
		for _, s := range bench.Series(r) {
			series = append(series, prompb.TimeSeries{Labels: prompb.FromLabels(s.Labels, nil), Samples: []prompb.Sample{{Timestamp: s.T, Value: s.V}}})
		}
	}
	if err := webtest.Write(context.Background(), url, series...); err != nil {
		t.Fatal(err)
	}
}
