package bench

import (
	"context"
	"math"
	"testing"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/gmc-dev/gmc/internal/storage"
)

// The storage recorder's samples land in gmc's real TSDB.
func TestStorageRecorder(t *testing.T) {
	db, err := storage.Open(storage.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	run := sampleRun()
	if err := (&StorageRecorder{Appendable: db}).Record(context.Background(), run); err != nil {
		t.Fatal(err)
	}
	q, err := db.Querier(math.MinInt64, math.MaxInt64)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	ss := q.Select(context.Background(), false, nil,
		labels.MustNewMatcher(labels.MatchEqual, "__name__", "gmc_bench_latency_seconds"),
		labels.MustNewMatcher(labels.MatchEqual, "benchmark", "orders"))
	got := map[string]float64{}
	for ss.Next() {
		it := ss.At().Iterator(nil)
		for it.Next() != 0 {
			ts, v := it.At()
			if ts != run.End.UnixMilli() {
				t.Errorf("timestamp %d, want %d", ts, run.End.UnixMilli())
			}
			got[ss.At().Labels().Get("quantile")] = v
		}
	}
	if err := ss.Err(); err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{"0.5": 0.001, "0.9": 0.002, "0.99": 0.004, "0.999": 0.008, "0.9999": 0.009, "1": 0.010}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("quantile %s = %v, want %v (got %v)", k, got[k], v, got)
		}
	}
}
