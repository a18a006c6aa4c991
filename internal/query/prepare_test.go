package query

import (
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/gmc-dev/gmc/internal/storage"
)

// preparingStore is a queryable that prepares the queries built over it
// as the tiers' reader does (tier.Queryable.PrepareQuery): it replaces the
// query by the number 42, and counts the queries it prepared.
type preparingStore struct {
	*storage.TSDB
	prepared atomic.Int32
}

func (p *preparingStore) PrepareQuery(qry promql.Query) {
	p.prepared.Add(1)
	qry.Statement().(*parser.EvalStmt).Expr = &parser.NumberLiteral{Val: 42}
}

// The API prepares every query it builds with its queryable before running
// it (the tiers' exact avg_over_time), on /api/v1/query and
// /api/v1/query_range, sharded or not.
func TestQueriesPreparedByTheirQueryable(t *testing.T) {
	st := &preparingStore{TSDB: fixture(t)}
	a, err := New(Options{Queryable: st, Registerer: prometheus.NewRegistry(), Parallelism: 2})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		path   string
		params url.Values
		want   string
	}{
		{"instant", "/api/v1/query", url.Values{"query": {`up`}, "time": {"60"}}, `"result":[60,"42"]`},
		{"range", "/api/v1/query_range", url.Values{"query": {`up`}, "start": {"0"}, "end": {"30"}, "step": {"15"}},
			`"values":[[0,"42"],[15,"42"],[30,"42"]]`},
	} {
		before := st.prepared.Load()
		h := a.Query
		if c.path == "/api/v1/query_range" {
			h = a.QueryRange
		}
		code, body := call(t, h, "GET", c.params, nil)
		if code != 200 || !strings.Contains(body, c.want) {
			t.Errorf("%s: %d %s, want the prepared query's answer %s", c.name, code, body, c.want)
		}
		if n := st.prepared.Load() - before; n != 1 {
			t.Errorf("%s: %d queries prepared, want 1", c.name, n)
		}
	}
	// A sharded range query (a step under a minute, 120 steps): every
	// shard's query is prepared.
	before := st.prepared.Load()
	code, body := call(t, a.QueryRange, "GET", url.Values{"query": {`sum by (job) (up)`}, "start": {"0"}, "end": {"120"}, "step": {"1"}}, nil)
	if code != 200 {
		t.Fatalf("sharded: %d %s", code, body)
	}
	if n := st.prepared.Load() - before; n != 2*shardsPerWorker {
		t.Errorf("sharded: %d queries prepared, want %d (one per shard)", n, 2*shardsPerWorker)
	}
}
