package query

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/storage"
)

// gateQueryable holds the first rate Select the direct path makes until
// release is closed; direct says whether that Select was the direct path's.
type gateQueryable struct {
	storage.Queryable
	once             sync.Once
	entered, release chan struct{}
	direct           bool
}

func (g *gateQueryable) Querier(mint, maxt int64) (storage.Querier, error) {
	q, err := g.Queryable.Querier(mint, maxt)
	return gateQuerier{Querier: q, g: g}, err
}

type gateQuerier struct {
	storage.Querier
	g *gateQueryable
}

func (q gateQuerier) Select(ctx context.Context, sortSeries bool, hints *storage.SelectHints, ms ...*labels.Matcher) storage.SeriesSet {
	if hints != nil && hints.Func == "rate" {
		q.g.once.Do(func() {
			q.g.direct = strings.Contains(string(debug.Stack()), "loadDirect")
			close(q.g.entered)
			<-q.g.release
		})
	}
	return q.Querier.Select(ctx, sortSeries, hints, ms...)
}

// TestDirectInActiveQueryLog: a query evaluated directly is in the
// engine's active query log (Prometheus's queries.active, which the next
// start logs after a crash) while it runs, and out of it after, as a query
// the engine evaluates is. Before, the direct path entered nothing: a
// crash during one left no trace of it.
func TestDirectInActiveQueryLog(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 8))
	dir := t.TempDir()
	log, err := promql.NewActiveQueryTracker(dir, 4, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { log.Close() })
	gate := &gateQueryable{Queryable: openStore(t, interleaveFixture(t, rng)), entered: make(chan struct{}), release: make(chan struct{})}
	a, err := New(Options{Queryable: gate, Registerer: prometheus.NewRegistry(), ActiveQueries: log})
	if err != nil {
		t.Fatal(err)
	}
	expr := `sum by (service) (rate(req_total[1m]))`
	active := func() string {
		b, err := os.ReadFile(filepath.Join(dir, "queries.active"))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	running := ""
	evalHeld(t, a, gate, expr, func() { running = active() })
	if !gate.direct {
		t.Fatal("the query was not evaluated directly: the test proves nothing")
	}
	if !strings.Contains(running, `"query":"`+expr+`"`) {
		t.Fatalf("while evaluated directly the active query log held %q, not the query", strings.Trim(running, "\x00 \n"))
	}
	if after := active(); strings.Contains(after, expr) {
		t.Fatalf("after the answer the log still holds the query: %q", strings.Trim(after, "\x00 \n"))
	}
}

// evalHeld evaluates expr over 60 s..600 s at 1 s through a, whose
// queryable is gate, and runs during while gate holds the query's first
// rate Select; it fails the test if none comes within 30 s or the query
// fails.
func evalHeld(t *testing.T, a *API, gate *gateQueryable, expr string, during func()) {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		_, _, release, err := a.evalRange(context.Background(), nil, expr, time.UnixMilli(60_000), time.UnixMilli(600_000), time.Second)
		if release != nil {
			release()
		}
		done <- err
	}()
	select {
	case <-gate.entered:
	case <-time.After(30 * time.Second):
		close(gate.release)
		t.Fatal("no rate Select within 30 s")
	}
	during()
	close(gate.release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
