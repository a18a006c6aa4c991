package query

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/storage"
)

// Query lanes. Every query gmc evaluates — the HTTP API's, the REST API's,
// rules', SLAs' and trends' — takes a slot of one of two lanes before it
// runs, and waits only for its own lane: a dashboard's or a rule's small
// query is never queued behind heavy ones. A query is classified before it
// takes a slot by a bounded estimate of its cost (classify): the series its
// selectors match, counted up to a cap, and those series times the steps
// they are evaluated at. Prometheus has one FIFO of query.max_concurrency
// slots; the lanes sit on top of its engine, in the promql.QueryTracker it
// asks for a slot (laneTracker).

// Lane names, as in gmc_query_lane_* metrics.
const (
	laneSmall = "small"
	laneHeavy = "heavy"
)

// Sources of a query, as in gmc_query_lane_admitted_total: the HTTP API, or
// gmc itself (rules, REST API, SLA reports, trends). Within a lane gmc's own
// queries are admitted before waiting API ones, so heavy API queries cannot
// starve rule evaluation.
const (
	sourceAPI = "api"
	sourceGMC = "gmc"
)

// LanesOptions configure the query lanes.
type LanesOptions struct {
	// Config holds the slots and the small-query bounds (max_concurrency,
	// small_query_*). Validated.
	Config Config
	// Queryable is where the classification counts series.
	Queryable storage.Queryable
	// Registerer receives gmc_query_lane_* metrics. Nil: none.
	Registerer prometheus.Registerer
	// Now is the clock gmc's own queries are classified at; nil: time.Now.
	Now func() time.Time
	// LookbackDelta is the engine's; zero: DefaultLookbackDelta.
	LookbackDelta time.Duration
}

// Lanes admits queries to the small or the heavy lane. Safe for concurrent use.
type Lanes struct {
	small, heavy *lane
	queryable    storage.Queryable
	parser       parser.Parser
	now          func() time.Time
	lookback     time.Duration
	// bounds are the small lane's (SetConfig replaces them).
	bounds      atomic.Pointer[smallBounds]
	classifyDur prometheus.Histogram

	mu     sync.Mutex
	cache  map[string]cachedLane       // gmc's own queries' lanes by text
	ranges map[rangeLaneKey]cachedLane // API range queries' lanes by text and span
}

// rangeLaneKey is an API range query: its text and span.
type rangeLaneKey struct {
	expr       string
	start, end int64 // ns
	step       time.Duration
}

// smallBounds bound a small query: its selectors' series and points.
type smallBounds struct{ series, points int }

type cachedLane struct {
	l  *lane
	at time.Time
}

// Own queries repeat (rules every interval, status polls): their lane is
// kept for ownLaneTTL, at most ownLaneCacheSize texts. So do the API's
// range queries: a dashboard refreshing a panel asks the same query over
// the same span (Grafana aligns start and end to the step: a 7-day panel
// at a 10-minute step keeps its span for ten minutes), and their lane is
// kept as long, by text and span (classifyRange).
const (
	ownLaneTTL       = 10 * time.Second
	ownLaneCacheSize = 1024
)

// NewLanes builds the lanes and registers their metrics.
func NewLanes(opts LanesOptions) *Lanes {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.LookbackDelta <= 0 {
		opts.LookbackDelta = DefaultLookbackDelta
	}
	f := promauto.With(opts.Registerer)
	m := laneMetrics{
		slots: f.NewGaugeVec(prometheus.GaugeOpts{
			Name: "gmc_query_lane_slots", Help: "Queries a lane evaluates at once (query.max_concurrency, query.small_query_max_concurrency).",
		}, []string{"lane"}),
		inFlight: f.NewGaugeVec(prometheus.GaugeOpts{
			Name: "gmc_query_lane_in_flight", Help: "Slots of a lane held, by queries and the extra shards of sharded range queries.",
		}, []string{"lane"}),
		queued: f.NewGaugeVec(prometheus.GaugeOpts{
			Name: "gmc_query_lane_queued", Help: "Queries waiting for a slot of a lane.",
		}, []string{"lane"}),
		admitted: f.NewCounterVec(prometheus.CounterOpts{
			Name: "gmc_query_lane_admitted_total", Help: "Queries given a slot of a lane, by source (api: the HTTP API; gmc: rules, REST API, SLAs, trends).",
		}, []string{"lane", "source"}),
		gaveUp: f.NewCounterVec(prometheus.CounterOpts{
			Name: "gmc_query_lane_queue_timeouts_total", Help: "Queries that left a lane's queue without a slot (timed out or canceled).",
		}, []string{"lane"}),
		wait: f.NewHistogramVec(prometheus.HistogramOpts{
			Name: "gmc_query_lane_wait_seconds", Help: "Time queries waited in a lane's queue for a slot.",
			Buckets: []float64{0.001, 0.005, 0.025, 0.1, 0.5, 2.5, 10, 30, 120},
		}, []string{"lane"}),
	}
	c := opts.Config
	ls := &Lanes{
		small:     newLane(laneSmall, c.SmallQueryMaxConcurrency, m),
		heavy:     newLane(laneHeavy, c.MaxConcurrency, m),
		queryable: opts.Queryable,
		parser:    newParser(),
		now:       opts.Now,
		lookback:  opts.LookbackDelta,
		classifyDur: f.NewHistogram(prometheus.HistogramOpts{
			Name: "gmc_query_lane_classify_seconds", Help: "Time spent classifying a query (counting the series its selectors match, up to a cap).",
			Buckets: []float64{0.0001, 0.0005, 0.001, 0.005, 0.025, 0.1, 0.5},
		}),
		cache:  map[string]cachedLane{},
		ranges: map[rangeLaneKey]cachedLane{},
	}
	ls.bounds.Store(&smallBounds{c.SmallQueryMaxSeries, c.SmallQueryMaxPoints})
	return ls
}

// SetConfig puts c's small_query_max_series and small_query_max_points in
// force for the queries classified after (a reload; gmc's own queries'
// cached lanes are dropped). The lanes' slots (max_concurrency,
// small_query_max_concurrency) are fixed: the engine's active query log
// has an entry per slot.
func (ls *Lanes) SetConfig(c Config) {
	ls.bounds.Store(&smallBounds{c.SmallQueryMaxSeries, c.SmallQueryMaxPoints})
	ls.mu.Lock()
	clear(ls.cache)
	clear(ls.ranges)
	ls.mu.Unlock()
}

// slots is how many queries the lanes evaluate at once, both together: the
// engine's active query log needs as many entries.
func (ls *Lanes) slots() int { return ls.small.size + ls.heavy.size }

// cost is a query's estimated price: the series its selectors match and
// points, the sum over selectors of series × evaluation steps × the
// lookback windows the selector reads at each step (1 for a plain selector
// and a range up to the lookback delta; ⌈range / lookback⌉ for a wider
// one: rate(x[30d]) reads 8,640 times what rate(x[1m]) does). Counting
// stops once past the small-query bounds, so both may be an undercount of a
// heavy query.
type cost struct {
	series, points int
}

// span is what a query evaluates: an instant query has start == end and
// step 0.
type span struct {
	start, end time.Time
	step       time.Duration
}

// classify returns the lane of expr evaluated over sp: small if its
// selectors match at most small_query_max_series series together and
// series × steps stays within small_query_max_points, else heavy. A query
// that does not parse is small (it fails at once); one whose series cannot
// be counted is heavy.
func (ls *Lanes) classify(ctx context.Context, expr string, sp span) (*lane, cost) {
	start := time.Now()
	defer func() { ls.classifyDur.Observe(time.Since(start).Seconds()) }()
	e, err := ls.parser.ParseExpr(expr)
	if err != nil {
		return ls.small, cost{}
	}
	b := ls.bounds.Load()
	c, err := ls.estimate(ctx, e, sp, b)
	if err != nil || !b.isSmall(c) {
		return ls.heavy, c
	}
	return ls.small, c
}

func (b *smallBounds) isSmall(c cost) bool { return c.series <= b.series && c.points <= b.points }

// selectorSteps pairs a selector with the points it reads per series: its
// evaluation steps × the lookback windows its range spans.
type selectorSteps struct {
	ms    []*labels.Matcher
	steps int
}

// estimate counts the series of e's selectors alive at the end of what the
// query reads (its last lookback delta: within the head for any query up to
// now, where counting is lazy and stops at the cap) and multiplies each by
// its evaluation steps (the query's, or, under subqueries, the innermost
// subquery's over the query's span plus the subqueries' ranges) times the
// lookback windows its range selector spans, if wider than one (see cost).
// Samples are not counted: the estimate does not know a series' interval,
// nor whether a tier or the step cache will answer.
func (ls *Lanes) estimate(ctx context.Context, e parser.Expr, sp span, b *smallBounds) (cost, error) {
	var sels []selectorSteps
	parser.Inspect(e, func(node parser.Node, path []parser.Node) error {
		vs, ok := node.(*parser.VectorSelector)
		if !ok {
			return nil
		}
		windows := 1
		if n := len(path); n > 0 {
			if ms, ok := path[n-1].(*parser.MatrixSelector); ok {
				windows = ls.windows(ms.Range, b.points)
			}
		}
		width, step := sp.end.Sub(sp.start), sp.step
		for _, p := range path {
			if sq, ok := p.(*parser.SubqueryExpr); ok {
				width += sq.Range
				step = sq.Step
				if step <= 0 {
					step = defaultSubqueryStep
				}
			}
		}
		steps := 1
		if step > 0 {
			steps += int(width / step)
		}
		sels = append(sels, selectorSteps{ms: vs.LabelMatchers, steps: min(steps*windows, b.points+1)})
		return nil
	})
	if len(sels) == 0 {
		return cost{}, nil
	}
	stmt := &parser.EvalStmt{Expr: e, Start: sp.start, End: sp.end, Interval: sp.step, LookbackDelta: ls.lookback}
	_, maxt := promql.FindMinMaxTime(stmt)
	mint := maxt - ls.lookback.Milliseconds()
	q, err := ls.queryable.Querier(mint, maxt)
	if err != nil {
		return cost{}, fmt.Errorf("classify query: %w", err)
	}
	defer q.Close()
	var c cost
	for _, s := range sels {
		// Past this many more series the query is heavy: stop counting.
		capN := min(b.series-c.series, (b.points-c.points)/s.steps) + 1
		if capN <= 0 {
			return c, nil
		}
		n, err := countSeries(ctx, q, mint, maxt, capN, s.ms)
		if err != nil {
			return c, err
		}
		c.series += n
		c.points += n * s.steps
		if !b.isSmall(c) {
			return c, nil
		}
	}
	return c, nil
}

// windows is how many lookback deltas a range selector of width r spans,
// at least 1 and at most past small_query_max_points (a bound, so that the
// product with steps cannot overflow).
func (ls *Lanes) windows(r time.Duration, maxPoints int) int {
	if r <= ls.lookback {
		return 1
	}
	return int(min((r+ls.lookback-1)/ls.lookback, time.Duration(maxPoints+1)))
}

// countSeries counts the series ms match in [mint, maxt], up to capN.
func countSeries(ctx context.Context, q storage.Querier, mint, maxt int64, capN int, ms []*labels.Matcher) (int, error) {
	set := q.Select(ctx, false, &storage.SelectHints{Start: mint, End: maxt, Func: "series", Limit: capN}, ms...)
	n := 0
	for n < capN && set.Next() {
		n++
	}
	if err := set.Err(); err != nil {
		return n, err
	}
	return n, nil
}

// classifyOwn is the lane of one of gmc's own queries, known only by its
// text (the engine's tracker is not told its range): classified as an
// instant query at now, and remembered for ownLaneTTL.
func (ls *Lanes) classifyOwn(ctx context.Context, qs string) *lane {
	now := ls.now()
	if l, ok := cachedLaneOf(ls, ls.cache, qs, now); ok {
		return l
	}
	l, _ := ls.classify(ctx, qs, span{start: now, end: now})
	keepLane(ls, ls.cache, qs, l, now)
	return l
}

// cachedLaneOf is the lane m keeps for key, if classified within ownLaneTTL
// before now.
func cachedLaneOf[K comparable](ls *Lanes, m map[K]cachedLane, key K, now time.Time) (*lane, bool) {
	ls.mu.Lock()
	c, ok := m[key]
	ls.mu.Unlock()
	if ok && now.Sub(c.at) < ownLaneTTL && !now.Before(c.at) {
		return c.l, true
	}
	return nil, false
}

// keepLane keeps l in m for key as classified at now, m emptied first when
// it holds ownLaneCacheSize entries.
func keepLane[K comparable](ls *Lanes, m map[K]cachedLane, key K, l *lane, now time.Time) {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if len(m) >= ownLaneCacheSize {
		clear(m)
	}
	m[key] = cachedLane{l: l, at: now}
}

// classifyRange is the lane of an API range query (sp.step > 0): as
// classify, remembered for ownLaneTTL by text and span. Counting the
// series of a 7-day panel's selectors in the raw index was 5 % of the
// panel's CPU in gmc (bench/history's dashboard, which asks each panel
// again and again, as a dashboard refreshing does). Within the TTL a
// query over series that grew past the small-query bounds meanwhile is
// still admitted to the small lane, as gmc's own are: the lane decides
// where a query waits, not its answer.
func (ls *Lanes) classifyRange(ctx context.Context, expr string, sp span) *lane {
	key := rangeLaneKey{expr: expr, start: sp.start.UnixNano(), end: sp.end.UnixNano(), step: sp.step}
	now := ls.now()
	if l, ok := cachedLaneOf(ls, ls.ranges, key, now); ok {
		return l
	}
	l, _ := ls.classify(ctx, expr, sp)
	if ctx.Err() != nil {
		return l // counting was cut short: not kept
	}
	keepLane(ls, ls.ranges, key, l, now)
	return l
}

// admittedKey marks the context of an API query that holds a lane slot.
type admittedKey struct{}

// admission is what an API query holds: its lane.
type admission struct{ l *lane }

func withAdmission(ctx context.Context, l *lane) context.Context {
	return context.WithValue(ctx, admittedKey{}, admission{l: l})
}

// admittedLane is the lane an API query's context holds a slot of; nil if none.
func admittedLane(ctx context.Context) *lane {
	a, _ := ctx.Value(admittedKey{}).(admission)
	return a.l
}

// laneTracker is the engine's promql.QueryTracker: it keeps Prometheus's
// active query log (queries running at a crash are logged at the next
// start) and admits gmc's own queries to their lane. Queries of the HTTP
// API arrive holding their lane's slot (serveGated), with every shard of a
// sharded range query, and pass.
type laneTracker struct {
	log   *promql.ActiveQueryTracker
	lanes *Lanes
	mu    sync.Mutex
	held  map[int]*lane // by the log's index
}

var _ promql.QueryTracker = (*laneTracker)(nil)

func (t *laneTracker) GetMaxConcurrent() int { return t.log.GetMaxConcurrent() }

func (t *laneTracker) Insert(ctx context.Context, qs string) (int, error) {
	var l *lane
	if admittedLane(ctx) == nil {
		l = t.lanes.classifyOwn(ctx, qs)
		if err := l.acquire(ctx, sourceGMC); err != nil {
			return 0, err
		}
	}
	i, err := t.log.Insert(ctx, qs)
	if err != nil {
		if l != nil {
			l.release()
		}
		return 0, err
	}
	if l != nil {
		t.mu.Lock()
		t.held[i] = l
		t.mu.Unlock()
	}
	return i, nil
}

func (t *laneTracker) Delete(i int) {
	t.mu.Lock()
	l := t.held[i]
	delete(t.held, i)
	t.mu.Unlock()
	t.log.Delete(i)
	if l != nil {
		l.release()
	}
}

func (t *laneTracker) Close() error { return t.log.Close() }

// laneMetrics are the lanes' metrics, labelled by lane.
type laneMetrics struct {
	slots, inFlight, queued *prometheus.GaugeVec
	admitted, gaveUp        *prometheus.CounterVec
	wait                    *prometheus.HistogramVec
}

// lane is a counting semaphore with two FIFO queues: gmc's own queries are
// given a freed slot before API queries.
type lane struct {
	name     string
	size     int
	mu       sync.Mutex
	used     int
	own, api list.List // of *waiter
	m        laneMetrics
}

type waiter struct {
	ready chan struct{} // closed when given the slot
}

func newLane(name string, size int, m laneMetrics) *lane {
	m.slots.WithLabelValues(name).Set(float64(size))
	m.inFlight.WithLabelValues(name)
	m.queued.WithLabelValues(name)
	m.gaveUp.WithLabelValues(name)
	m.wait.WithLabelValues(name)
	for _, src := range []string{sourceAPI, sourceGMC} {
		m.admitted.WithLabelValues(name, src)
	}
	return &lane{name: name, size: size, m: m}
}

// setting is the configuration field of the lane's slots.
func (l *lane) setting() string {
	if l.name == laneSmall {
		return "small lane, query.small_query_max_concurrency"
	}
	return "heavy lane, query.max_concurrency"
}

// acquire waits for a slot, or until ctx is done (then it returns a
// promql.ErrQueryTimeout or ErrQueryCanceled, as the engine's own queue
// does); source is sourceAPI or sourceGMC.
func (l *lane) acquire(ctx context.Context, source string) error {
	start := time.Now()
	l.mu.Lock()
	if l.used < l.size && l.own.Len() == 0 && l.api.Len() == 0 {
		l.used++
		l.mu.Unlock()
		l.admit(source, start)
		return nil
	}
	q := &l.api
	if source == sourceGMC {
		q = &l.own
	}
	w := &waiter{ready: make(chan struct{})}
	e := q.PushBack(w)
	l.m.queued.WithLabelValues(l.name).Inc()
	l.mu.Unlock()
	select {
	case <-w.ready:
		l.admit(source, start)
		return nil
	case <-ctx.Done():
		l.mu.Lock()
		select {
		case <-w.ready:
			// Given the slot as ctx ended: hand it on.
			l.used--
			l.wake()
		default:
			q.Remove(e)
			l.m.queued.WithLabelValues(l.name).Dec()
		}
		l.mu.Unlock()
		l.m.gaveUp.WithLabelValues(l.name).Inc()
		where := "the " + l.name + " query lane's queue"
		if errors.Is(ctx.Err(), context.Canceled) {
			return promql.ErrQueryCanceled(where)
		}
		return promql.ErrQueryTimeout(where)
	}
}

func (l *lane) admit(source string, start time.Time) {
	l.m.admitted.WithLabelValues(l.name, source).Inc()
	l.m.wait.WithLabelValues(l.name).Observe(time.Since(start).Seconds())
	l.m.inFlight.WithLabelValues(l.name).Inc()
}

// tryAcquire takes a free slot without waiting, and only when nobody
// waits: the extra workers of a sharded range query.
func (l *lane) tryAcquire() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.used >= l.size || l.own.Len()+l.api.Len() > 0 {
		return false
	}
	l.used++
	l.m.inFlight.WithLabelValues(l.name).Inc()
	return true
}

// tryBorrow takes a free slot for an extra worker of a heavy query (see
// shardWorkers): only while nobody waits and at least one more slot stays
// free, so a small query arriving meanwhile is admitted at once.
func (l *lane) tryBorrow() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.used+1 >= l.size || l.own.Len()+l.api.Len() > 0 {
		return false
	}
	l.used++
	l.m.inFlight.WithLabelValues(l.name).Inc()
	return true
}

// release frees a slot, handing it to the first waiter: gmc's own first.
func (l *lane) release() {
	l.m.inFlight.WithLabelValues(l.name).Dec()
	l.mu.Lock()
	l.used--
	l.wake()
	l.mu.Unlock()
}

// wake gives free slots to waiters; l.mu is held.
func (l *lane) wake() {
	for l.used < l.size {
		e := l.own.Front()
		q := &l.own
		if e == nil {
			e, q = l.api.Front(), &l.api
		}
		if e == nil {
			return
		}
		q.Remove(e)
		l.m.queued.WithLabelValues(l.name).Dec()
		l.used++
		close(e.Value.(*waiter).ready)
	}
}
