package demo

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/promql"

	promapi "github.com/gmc-dev/gmc/internal/query"
	"github.com/gmc-dev/gmc/internal/storage"
)

// openHistory opens the backfilled TSDB in dir for the test's length and
// returns it with an instant query over it.
func openHistory(t *testing.T, dir string) (*storage.TSDB, func(expr string, ts time.Time) promql.Vector) {
	t.Helper()
	st, err := storage.Open(storage.Options{Dir: dir, Retention: 30 * 24 * time.Hour, Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	qa, err := promapi.New(promapi.Options{Queryable: st, Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	return st, func(expr string, ts time.Time) promql.Vector {
		t.Helper()
		q, err := qa.Engine().NewInstantQuery(context.Background(), st, nil, expr, ts)
		if err != nil {
			t.Fatal(err)
		}
		defer q.Close()
		r := q.Exec(context.Background())
		if r.Err != nil {
			t.Fatalf("%s: %v", expr, r.Err)
		}
		v, err := r.Vector()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

// single is query for an expression of one value.
func single(t *testing.T, query func(string, time.Time) promql.Vector) func(expr string, ts time.Time) float64 {
	return func(expr string, ts time.Time) float64 {
		t.Helper()
		v := query(expr, ts)
		if len(v) != 1 {
			t.Fatalf("%s at %s: %v, want one value", expr, ts, v)
		}
		return v[0].F
	}
}
