package query

import (
	"context"
	"errors"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	promstorage "github.com/prometheus/prometheus/storage"
)

// laneConfig is DefaultConfig with heavy and small slots, a small query
// being at most 10 series and 100 points.
func laneConfig(heavy, small int) Config {
	c := DefaultConfig()
	c.MaxConcurrency, c.SmallQueryMaxConcurrency = heavy, small
	c.SmallQueryMaxSeries, c.SmallQueryMaxPoints = 10, 100
	return c
}

// newLanesAPI is an API over st whose engine admits every query by lanes of c.
func newLanesAPI(t *testing.T, st promstorage.Queryable, c Config) *API {
	t.Helper()
	now := func() time.Time { return time.Unix(120, 0) }
	reg := prometheus.NewRegistry()
	a, err := New(Options{
		Queryable: st, Registerer: reg, Now: now, ActiveQueryDir: t.TempDir(),
		Lanes: NewLanes(LanesOptions{Config: c, Queryable: st, Registerer: reg, Now: now}),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

// laneFixture holds `small` (2 series) and `many` (50 series), every 15 s
// from 0 to 120 s.
func laneFixture(t *testing.T) promstorage.Queryable {
	var ss []sample
	for ts := int64(0); ts <= 120_000; ts += 15_000 {
		for i := range 2 {
			ss = append(ss, sample{lset: labels.FromStrings("__name__", "small", "i", strconv.Itoa(i)), t: ts, v: 1})
		}
		for i := range 50 {
			ss = append(ss, sample{lset: labels.FromStrings("__name__", "many", "i", strconv.Itoa(i)), t: ts, v: float64(i)})
		}
	}
	return openStore(t, ss)
}

// TestClassify: the lane and the estimate of queries against bounds of 10
// series and 100 points. Counting stops one past a bound (11 series), so a
// selector over any number of series costs at most that to classify.
func TestClassify(t *testing.T) {
	st := laneFixture(t)
	ls := NewLanes(LanesOptions{Config: laneConfig(1, 1), Queryable: st})
	at := time.Unix(120, 0)
	instant := span{start: at, end: at}
	rng := func(steps int, step time.Duration) span {
		return span{start: at.Add(-time.Duration(steps-1) * step), end: at, step: step}
	}
	for _, tc := range []struct {
		name, expr string
		sp         span
		lane       string
		want       cost
	}{
		{"instant over 2 series", `small`, instant, laneSmall, cost{series: 2, points: 2}},
		{"instant over 50 series: counted to 11", `many`, instant, laneHeavy, cost{series: 11, points: 11}},
		{"every series by regex: counted to 11", `{__name__=~".+"}`, instant, laneHeavy, cost{series: 11, points: 11}},
		{"2 series in an aggregation", `sum(rate(small[1m]))`, instant, laneSmall, cost{series: 2, points: 2}},
		{"range of 50 steps × 2 series", `small`, rng(50, time.Second), laneSmall, cost{series: 2, points: 100}},
		{"range of 51 steps × 2 series: points over 100", `small`, rng(51, time.Second), laneHeavy, cost{series: 2, points: 102}},
		{"two selectors add up", `small / on() group_left small`, rng(30, time.Second), laneHeavy, cost{series: 4, points: 120}},
		{"subquery steps: 10m at 1m, 11 steps × 2", `max_over_time(small[10m:1m])`, instant, laneSmall, cost{series: 2, points: 22}},
		{"subquery without step: the 1m default", `max_over_time(small[60m:])`, instant, laneHeavy, cost{series: 2, points: 122}},
		// A range selector reads its range's lookback windows (5m) at each
		// step: one up to the lookback, ⌈range / 5m⌉ beyond.
		{"narrow range: one lookback window", `rate(small[5m])`, instant, laneSmall, cost{series: 2, points: 2}},
		{"10m range: 2 windows × 2 series", `rate(small[10m])`, instant, laneSmall, cost{series: 2, points: 4}},
		{"30d range: 8640 windows (bounded past the 100 points), counted to 1 series", `rate(small[30d])`, instant, laneHeavy, cost{series: 1, points: 101}},
		{"1h range at 5 steps: 12 × 5 × 2", `rate(small[1h])`, rng(5, time.Minute), laneHeavy, cost{series: 2, points: 120}},
		{"1h range at 4 steps: 12 × 4 × 2", `rate(small[1h])`, rng(4, time.Minute), laneSmall, cost{series: 2, points: 96}},
		{"no selector", `vector(1)`, instant, laneSmall, cost{}},
		{"no series match", `absent_metric`, instant, laneSmall, cost{}},
		{"unparsable: small, it fails at once", `sum(`, instant, laneSmall, cost{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, c := ls.classify(context.Background(), tc.expr, tc.sp)
			if l.name != tc.lane || c != tc.want {
				t.Errorf("%s: lane %s, cost %+v; want %s, %+v", tc.expr, l.name, c, tc.lane, tc.want)
			}
		})
	}
}

// TestSmallQueryWhileHeavyLaneHeld: a heavy query holds the heavy lane's one
// slot (its answer is being written, blocked), so another heavy query
// waits and times out in the heavy lane's queue; meanwhile small queries —
// the API's and gmc's own through the engine, as rules run them — are
// answered, and gmc's own heavy query waits in the heavy lane too.
func TestSmallQueryWhileHeavyLaneHeld(t *testing.T) {
	a := newLanesAPI(t, laneFixture(t), laneConfig(1, 1))
	w := &blockingWriter{ResponseRecorder: httptest.NewRecorder(), writing: make(chan struct{}), release: make(chan struct{})}
	done := make(chan struct{})
	go func() {
		defer close(done)
		a.QueryRange(w, httptest.NewRequest("GET", "/api?query=many&start=0&end=120&step=15", nil))
	}()
	<-w.writing // the heavy query holds the heavy slot until its answer is written
	if code, body := call(t, a.Query, "GET", url.Values{"query": {"many"}, "time": {"60"}, "timeout": {"100ms"}}, nil); code != 503 ||
		!strings.Contains(body, "query queue (heavy lane, query.max_concurrency)") {
		t.Errorf("second heavy query: %d %s, want 503 in the heavy lane's queue", code, body)
	}
	if code, body := call(t, a.QueryRange, "GET", url.Values{"query": {"sum(small)"}, "start": {"0"}, "end": {"120"}, "step": {"15"}}, nil); code != 200 ||
		!strings.Contains(body, `"values":[[0,"2"],[15,"2"]`) {
		t.Errorf("small range query while the heavy lane is held: %d %s", code, body)
	}
	own := func(expr string, timeout time.Duration) error {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		q, err := a.engine.NewInstantQuery(ctx, a.queryable, nil, expr, time.Unix(60, 0))
		if err != nil {
			return err
		}
		defer q.Close()
		return q.Exec(ctx).Err
	}
	if err := own(`count(small) == 2`, time.Minute); err != nil {
		t.Errorf("gmc's own small query while the heavy lane is held: %v", err)
	}
	var eqt promql.ErrQueryTimeout
	if err := own(`count(many)`, 100*time.Millisecond); !errors.As(err, &eqt) {
		t.Errorf("gmc's own heavy query while the heavy lane is held: %v, want a timeout in the queue", err)
	}
	gaveUp := a.lanes.heavy.m.gaveUp
	if n := testutil.ToFloat64(gaveUp.WithLabelValues(laneHeavy)); n != 2 {
		t.Errorf("heavy lane queue timeouts: %v, want 2 (the API's and gmc's own heavy query)", n)
	}
	if n := testutil.ToFloat64(gaveUp.WithLabelValues(laneSmall)); n != 0 {
		t.Errorf("small lane queue timeouts: %v, want 0", n)
	}
	close(w.release)
	<-done
	if w.Code != 200 || !strings.Contains(w.Body.String(), `"i":"49"`) {
		t.Errorf("the heavy query: %d %.200s", w.Code, w.Body.String())
	}
	if code, body := call(t, a.Query, "GET", url.Values{"query": {"count(many)"}, "time": {"60"}}, nil); code != 200 || !strings.Contains(body, `"50"`) {
		t.Errorf("heavy query once the lane is free: %d %s", code, body)
	}
}

// TestLaneOwnFirst: with a lane's one slot held, an API query and then one
// of gmc's own wait; the freed slot goes to gmc's own query first, then to
// the API's. Counted in gmc_query_lane_*.
func TestLaneOwnFirst(t *testing.T) {
	reg := prometheus.NewRegistry()
	ls := NewLanes(LanesOptions{Config: laneConfig(1, 1), Queryable: laneFixture(t), Registerer: reg})
	l := ls.heavy
	ctx := context.Background()
	if err := l.acquire(ctx, sourceAPI); err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 2)
	wait := func(source string) {
		go func() {
			if err := l.acquire(ctx, source); err != nil {
				got <- err.Error()
				return
			}
			got <- source
		}()
	}
	queued := func(n int) {
		t.Helper()
		for range 1000 {
			if testutil.ToFloat64(l.m.queued.WithLabelValues(laneHeavy)) == float64(n) {
				return
			}
			time.Sleep(time.Millisecond)
		}
		t.Fatalf("never %d queued", n)
	}
	wait(sourceAPI)
	queued(1)
	wait(sourceGMC)
	queued(2)
	if l.tryAcquire() {
		t.Error("tryAcquire took a slot while queries wait")
	}
	l.release()
	if first := <-got; first != sourceGMC {
		t.Errorf("first to get the freed slot: %s, want gmc's own", first)
	}
	l.release()
	if second := <-got; second != sourceAPI {
		t.Errorf("second: %s, want the API's", second)
	}
	l.release()
	for _, m := range []struct {
		name string
		c    prometheus.Collector
		want float64
	}{
		{"admitted api", l.m.admitted.WithLabelValues(laneHeavy, sourceAPI), 2},
		{"admitted gmc", l.m.admitted.WithLabelValues(laneHeavy, sourceGMC), 1},
		{"in flight", l.m.inFlight.WithLabelValues(laneHeavy), 0},
		{"queued", l.m.queued.WithLabelValues(laneHeavy), 0},
		{"slots", l.m.slots.WithLabelValues(laneHeavy), 1},
	} {
		if v := testutil.ToFloat64(m.c); v != m.want {
			t.Errorf("%s: %v, want %v", m.name, v, m.want)
		}
	}
	// A waiter whose context ends leaves the queue, counted.
	if err := l.acquire(ctx, sourceAPI); err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := l.acquire(cctx, sourceAPI); err == nil {
		t.Error("acquire with a canceled context and the slot held succeeded")
	}
	if v := testutil.ToFloat64(l.m.gaveUp.WithLabelValues(laneHeavy)); v != 1 {
		t.Errorf("queue timeouts: %v, want 1", v)
	}
	l.release()
}

// TestShardWorkers: a range query takes its lane's free slots as shard
// workers, none while others wait, and gives them back.
func TestShardWorkers(t *testing.T) {
	ls := NewLanes(LanesOptions{Config: laneConfig(1, 3), Queryable: laneFixture(t)})
	a := &API{workers: 4, lanes: ls}
	if n, release := a.shardWorkers(context.Background()); n != 4 {
		t.Errorf("without a lane: %d workers, want a.workers 4", n)
	} else {
		release()
	}
	heavy := withAdmission(context.Background(), ls.heavy)
	if err := ls.heavy.acquire(heavy, sourceAPI); err != nil {
		t.Fatal(err)
	}
	// The heavy lane has no free slot; the idle small lane lends all but one.
	if n, release := a.shardWorkers(heavy); n != 3 || ls.small.used != 2 {
		t.Errorf("heavy lane of one slot, small lane of 3 idle: %d workers, %d small slots used; want 3, 2", n, ls.small.used)
		release()
	} else {
		release()
	}
	if ls.small.used != 0 {
		t.Errorf("after the heavy query's shards: %d small slots used, want 0", ls.small.used)
	}
	a.noBorrow = true
	if n, release := a.shardWorkers(heavy); n != 1 {
		t.Errorf("heavy lane of one slot, no borrowing: %d workers, want 1", n)
	} else {
		release()
	}
	a.noBorrow = false
	// No CPU idle: nothing borrowed; one idle: one slot.
	a.idleCPUs = func() int { return 0 }
	if n, release := a.shardWorkers(heavy); n != 1 {
		t.Errorf("heavy lane of one slot, no CPU idle: %d workers, want 1", n)
	} else {
		release()
	}
	a.idleCPUs = func() int { return 1 }
	if n, release := a.shardWorkers(heavy); n != 2 {
		t.Errorf("heavy lane of one slot, one CPU idle: %d workers, want 2", n)
	} else {
		release()
	}
	a.idleCPUs = nil
	small := withAdmission(context.Background(), ls.small)
	if err := ls.small.acquire(small, sourceAPI); err != nil {
		t.Fatal(err)
	}
	// One small query in: the heavy query borrows one slot, one stays free.
	if n, release := a.shardWorkers(heavy); n != 2 || ls.small.used != 2 {
		t.Errorf("heavy query beside one small one: %d workers, %d small slots used; want 2, 2", n, ls.small.used)
		release()
	} else {
		release()
	}
	n, release := a.shardWorkers(small)
	if n != 3 || ls.small.used != 3 {
		t.Errorf("idle small lane of 3: %d workers, %d slots used; want 3, 3", n, ls.small.used)
	}
	// The small lane full: the heavy query borrows nothing.
	if n, release := a.shardWorkers(heavy); n != 1 {
		t.Errorf("heavy query beside a full small lane: %d workers, want 1", n)
		release()
	} else {
		release()
	}
	release()
	if ls.small.used != 1 {
		t.Errorf("after the shards: %d slots used, want 1 (the query's own)", ls.small.used)
	}
}

// TestRangeLaneKept: an API range query asked again over the same span
// within ownLaneTTL is admitted to the lane it was classified to, its
// series not counted again (no querier opened for it), with the same answer; past
// the TTL, over another span, or after SetConfig it is classified again.
func TestRangeLaneKept(t *testing.T) {
	st := laneFixture(t)
	counted := &countingQueryable{Queryable: st} // the lanes' queriers: one per classification
	var clock atomic.Int64                       // s
	clock.Store(120)
	now := func() time.Time { return time.Unix(clock.Load(), 0) }
	reg := prometheus.NewRegistry()
	c := laneConfig(1, 1)
	lanes := NewLanes(LanesOptions{Config: c, Queryable: counted, Registerer: reg, Now: now})
	a, err := New(Options{Queryable: st, Registerer: reg, Now: now, ActiveQueryDir: t.TempDir(), Lanes: lanes})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	admitted := func(lane string) float64 {
		return testutil.ToFloat64(lanes.small.m.admitted.WithLabelValues(lane, sourceAPI))
	}
	ask := func(expr, end string) string {
		t.Helper()
		code, body := call(t, a.QueryRange, "GET", url.Values{"query": {expr}, "start": {"0"}, "end": {end}, "step": {"15"}}, nil)
		if code != 200 {
			t.Fatalf("%s: %d %s", expr, code, body)
		}
		return body
	}
	first := ask("many", "120")
	if n := counted.opened.Load(); n != 1 {
		t.Fatalf("classifying `many` opened %d queriers, want 1", n)
	}
	if admitted(laneHeavy) != 1 {
		t.Fatalf("`many` (50 series) admitted to the heavy lane %v times, want 1", admitted(laneHeavy))
	}
	clock.Add(int64(ownLaneTTL/time.Second) - 1)
	if again := ask("many", "120"); again != first {
		t.Errorf("the same query again answered\n%.300s\nwant\n%.300s", again, first)
	}
	if n, h := counted.opened.Load(), admitted(laneHeavy); n != 1 || h != 2 {
		t.Errorf("the same range query within the TTL: %d queriers opened, admitted to the heavy lane %v times; want 1 and 2", n, h)
	}
	ask("many", "105") // another span
	if n := counted.opened.Load(); n != 2 {
		t.Errorf("over another span: %d queriers opened, want 2", n)
	}
	clock.Add(1) // the first span's lane is ownLaneTTL old
	ask("many", "120")
	if n := counted.opened.Load(); n != 3 {
		t.Errorf("past the TTL: %d queriers opened, want 3", n)
	}
	lanes.SetConfig(c)
	ask("many", "120")
	if n, h := counted.opened.Load(), admitted(laneHeavy); n != 4 || h != 5 {
		t.Errorf("after SetConfig: %d queriers opened, admitted to the heavy lane %v times; want 4 and 5", n, h)
	}
	ask("small", "120")
	if admitted(laneSmall) != 1 {
		t.Errorf("`small` admitted to the small lane %v times, want 1", admitted(laneSmall))
	}
}
