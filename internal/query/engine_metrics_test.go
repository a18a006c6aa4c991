package query

import (
	"math/rand/v2"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// TestDirectInEngineMetrics: a query evaluated directly counts in the
// engine's metrics as one the engine evaluates: prometheus_engine_queries
// while it runs, one more observation of each of prepare_time, inner_eval
// and result_sort after. Before, it counted nowhere.
func TestDirectInEngineMetrics(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	reg := prometheus.NewRegistry()
	gate := &gateQueryable{Queryable: openStore(t, interleaveFixture(t, rng)), entered: make(chan struct{}), release: make(chan struct{})}
	a, err := New(Options{Queryable: gate, Registerer: reg, ActiveQueryDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	gauge := func() float64 { return metricValue(t, reg, engineQueries, "") }
	count := func(slice string) float64 { return metricValue(t, reg, engineSummary, slice) }
	before := map[string]float64{}
	for _, s := range []string{"prepare_time", "inner_eval", "result_sort"} {
		before[s] = count(s)
	}
	var running float64
	evalHeld(t, a, gate, `sum by (service) (rate(req_total[1m]))`, func() { running = gauge() })
	if !gate.direct {
		t.Fatal("the query was not evaluated directly: the test proves nothing")
	}
	if running != 1 || gauge() != 0 {
		t.Errorf("%s: %v while evaluated directly, %v after; want 1, 0", engineQueries, running, gauge())
	}
	for s, n := range before {
		if got := count(s); got != n+1 {
			t.Errorf("%s{slice=%q} count %v after a direct query, want %v", engineSummary, s, got, n+1)
		}
	}
}

// metricValue is the value of the metric name in reg (a gauge's value, or
// a summary's count where its slice label is slice).
func metricValue(t *testing.T, reg *prometheus.Registry, name, slice string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if slice == "" {
				return m.GetGauge().GetValue()
			}
			for _, l := range m.GetLabel() {
				if l.GetName() == "slice" && l.GetValue() == slice {
					return float64(m.GetSummary().GetSampleCount())
				}
			}
		}
	}
	return 0
}
