package query

import (
	"context"
	"net/http/httptest"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	promstorage "github.com/prometheus/prometheus/storage"
	"golang.org/x/sys/unix"
)

// threadPriority is the calling thread's scheduling priority as
// getpriority(2) reports it (20 - nice on Linux).
func threadPriority(t *testing.T) int {
	t.Helper()
	p, err := unix.Getpriority(unix.PRIO_PROCESS, unix.Gettid())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// prioQueryable records the thread priority each query's querier was
// opened on, by the query's first selector's metric name. The engine opens
// a query's querier on the goroutine that evaluates it.
type prioQueryable struct {
	promstorage.Queryable
	t  *testing.T
	mu sync.Mutex
	at map[string]int
	// maxAt is the highest priority a selector of each name was read at;
	// selects counts the reads of samples (not the lanes' series counts).
	maxAt   map[string]int
	selects int
}

func (q *prioQueryable) Querier(mint, maxt int64) (promstorage.Querier, error) {
	p := threadPriority(q.t)
	inner, err := q.Queryable.Querier(mint, maxt)
	if err != nil {
		return nil, err
	}
	return &prioQuerier{Querier: inner, q: q, p: p}, nil
}

type prioQuerier struct {
	promstorage.Querier
	q *prioQueryable
	p int
}

func (pq *prioQuerier) Select(ctx context.Context, sort bool, hints *promstorage.SelectHints, ms ...*labels.Matcher) promstorage.SeriesSet {
	for _, m := range ms {
		if m.Name == model.MetricNameLabel {
			pq.q.mu.Lock()
			pq.q.at[m.Value] = pq.p
			if pq.q.maxAt == nil {
				pq.q.maxAt = map[string]int{}
			}
			if hints == nil || hints.Func != "series" {
				pq.q.selects++
				if p, ok := pq.q.maxAt[m.Value]; !ok || pq.p > p {
					pq.q.maxAt[m.Value] = pq.p
				}
			}
			pq.q.mu.Unlock()
		}
	}
	return pq.Querier.Select(ctx, sort, hints, ms...)
}

// TestHeavyQueryOnNicedThread: an API query admitted to the heavy lane is
// evaluated on a thread at query.heavy_query_nice (the kernel serves gmc's
// other threads, ingest among them, first); a small query, and the handler's
// thread after the heavy query, keep gmc's priority.
func TestHeavyQueryOnNicedThread(t *testing.T) {
	st := &prioQueryable{Queryable: laneFixture(t), t: t, at: map[string]int{}}
	a := newLanesAPI(t, st, laneConfig(1, 1))
	a.heavyNice.Store(10)
	base := threadPriority(t)
	for _, query := range []string{"many", "small"} {
		rec := httptest.NewRecorder()
		a.QueryRange(rec, httptest.NewRequest("GET", "/api/v1/query_range?query="+query+"&start=0&end=120&step=15", nil))
		if rec.Code != 200 {
			t.Fatalf("%s: HTTP %d %s", query, rec.Code, rec.Body)
		}
	}
	if got, want := st.at["many"], base-10; got != want {
		t.Errorf("heavy query (50 series, past the lane's 10) evaluated at priority %d, want %d (nice 10 below gmc's %d)", got, want, base)
	}
	if got := st.at["small"]; got != base {
		t.Errorf("small query evaluated at priority %d, want gmc's %d", got, base)
	}
	if got := threadPriority(t); got != base {
		t.Errorf("the test's thread at priority %d after the queries, want %d", got, base)
	}
}

// TestNicedThreadPanicReachesCaller: a panic of the heavy query's handler
// code reaches the request's goroutine (net/http recovers it there) instead
// of ending the process on the niced thread's.
func TestNicedThreadPanicReachesCaller(t *testing.T) {
	defer func() {
		if r := recover(); r != "boom" {
			t.Errorf("recovered %v, want boom", r)
		}
	}()
	onNicedThread(10, func() { panic("boom") })
	t.Error("onNicedThread returned after its fn panicked")
}

// TestHeavyQueryShardsOnIdleSmallLane: on a heavy lane of one slot (2
// cores), a heavy shardable range query borrows the idle small lane's spare
// slot and runs sharded on two goroutines, both on threads at
// query.heavy_query_nice; answers equal the unsharded ones (bit for bit) and
// the borrowed slot is back after.
func TestHeavyQueryShardsOnIdleSmallLane(t *testing.T) {
	st := &prioQueryable{Queryable: laneFixture(t), t: t, at: map[string]int{}}
	a := newLanesAPI(t, st, laneConfig(1, 2))
	a.heavyNice.Store(10)
	a.workers = 2
	a.idleCPUs = func() int { return 1 }
	a.noDirect = true // through the engine's shards (evaluated directly below)
	base := threadPriority(t)
	const target = "/api/v1/query_range?query=sum+by+(i)+(rate(many[1m]))&start=0&end=120&step=1"
	answer := func() (string, int) {
		st.mu.Lock()
		st.selects = 0
		delete(st.maxAt, "many")
		st.mu.Unlock()
		rec := httptest.NewRecorder()
		a.QueryRange(rec, httptest.NewRequest("GET", target, nil))
		if rec.Code != 200 {
			t.Fatalf("HTTP %d %s", rec.Code, rec.Body)
		}
		st.mu.Lock()
		defer st.mu.Unlock()
		return rec.Body.String(), st.selects
	}
	sharded, n := answer()
	if n != 2*shardsPerWorker {
		t.Errorf("heavy query read its selector %d times, want %d (sharded on 2 workers)", n, 2*shardsPerWorker)
	}
	if got, want := st.maxAt["many"], base-10; got != want {
		t.Errorf("heavy query's shards evaluated at priority up to %d, want %d (nice 10 below gmc's %d)", got, want, base)
	}
	if a.lanes.small.used != 0 || a.lanes.heavy.used != 0 {
		t.Errorf("after the query: %d small and %d heavy slots used, want 0", a.lanes.small.used, a.lanes.heavy.used)
	}
	a.noBorrow = true
	whole, n := answer()
	if n != 1 {
		t.Errorf("without borrowing: selector read %d times, want 1", n)
	}
	if sharded != whole {
		t.Errorf("sharded answer differs from the whole query's:\n%s\n%s", sharded, whole)
	}
	// Evaluated directly (direct.go): its two workers borrow and run niced
	// the same way, each reading the selector once.
	a.noBorrow, a.noDirect = false, false
	direct, n := answer()
	if n != 2 {
		t.Errorf("evaluated directly: selector read %d times, want 2 (on 2 workers)", n)
	}
	if got, want := st.maxAt["many"], base-10; got != want {
		t.Errorf("directly evaluated query's workers at priority up to %d, want %d", got, want)
	}
	if direct != whole {
		t.Errorf("direct answer differs from the engine's:\n%s\n%s", direct, whole)
	}
	if a.lanes.small.used != 0 || a.lanes.heavy.used != 0 {
		t.Errorf("after the direct query: %d small and %d heavy slots used, want 0", a.lanes.small.used, a.lanes.heavy.used)
	}
}

// TestIdleCPUs: /proc/loadavg is read (the test's own thread runs, so at
// most one CPU fewer than the machine's is idle).
func TestIdleCPUs(t *testing.T) {
	if n := idleCPUs(); n < 0 || n >= runtime.NumCPU() {
		t.Errorf("idleCPUs %d, want 0..%d", n, runtime.NumCPU()-1)
	}
}

// TestReadCPU: /proc/stat and getrusage are read, and CPU this process
// burns shows in its own time (and the machine's busy time never falls).
func TestReadCPU(t *testing.T) {
	a, ok := readCPU()
	if !ok {
		t.Fatal("readCPU: no reading")
	}
	deadline := time.Now().Add(10 * time.Second) // a loaded machine gives the spin less than its wall time
	for {
		if b, _ := readCPU(); b.self-a.self >= 0.05 || time.Now().After(deadline) {
			break
		}
	}
	b, ok := readCPU()
	if !ok {
		t.Fatal("readCPU: no second reading")
	}
	if b.self-a.self < 0.05 {
		t.Errorf("own CPU time %.3f s after spinning up to 10 s, want at least 0.05 s", b.self-a.self)
	}
	if b.busy < a.busy || a.busy <= 0 {
		t.Errorf("machine busy %.2f s then %.2f s", a.busy, b.busy)
	}
	if m := newCPUMeter(); m.cpus != runtime.NumCPU() {
		t.Errorf("meter of %d CPUs, want %d", m.cpus, runtime.NumCPU())
	}
}
