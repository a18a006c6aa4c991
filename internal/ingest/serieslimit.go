package ingest

import (
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/tsdb"
	"github.com/prometheus/prometheus/tsdb/chunks"
	"golang.org/x/time/rate"
)

// serviceLabel is the label that names the service a series belongs to
// (JSON push, scrape and text push set it).
const serviceLabel = "service"

// Names of the cardinality limits, as they appear under `limits:` in gmc.yml
// and in the limit label of gmc_ingest_series_limited_total.
const (
	limitHeadSeries    = "max_head_series"
	limitPerMetric     = "max_series_per_metric"
	limitPerService    = "max_series_per_service"
	limitNewSeriesRate = "max_new_series_per_second"
)

// SeriesLimitError is a new series refused by a cardinality limit. Samples of
// series the head already holds are never refused by one.
type SeriesLimitError struct {
	// Limit is the limit's key under `limits:`.
	Limit string
	// Max is its value.
	Max int
	// Label and Value name what reached a per-metric or per-service limit
	// (__name__ or service); empty for the others.
	Label, Value string
}

// Error names the limit and, for per-metric and per-service limits, the
// metric or service that reached it.
func (e *SeriesLimitError) Error() string {
	switch e.Label {
	case model.MetricNameLabel:
		return fmt.Sprintf("new series refused: metric %q has limits.%s %d series", e.Value, e.Limit, e.Max)
	case serviceLabel:
		return fmt.Sprintf("new series refused: service %q has limits.%s %d series", e.Value, e.Limit, e.Max)
	}
	if e.Limit == limitNewSeriesRate {
		return fmt.Sprintf("new series refused: more than limits.%s %d new series per second; retry later", e.Limit, e.Max)
	}
	return fmt.Sprintf("new series refused: the head holds limits.%s %d series", e.Limit, e.Max)
}

// SeriesLimiter enforces the cardinality limits of Limits: series in the head
// in total, per metric name, per service, and new series per second (a token
// bucket). It is the TSDB head's tsdb.SeriesLifecycleCallback, so the head asks
// it before creating any series, whichever path appends (remote-write, JSON,
// text push, scrape, rules, any later protocol), and a sample of a series the
// head holds never reaches it: the hot path pays nothing. It counts the head's
// series as they are created and garbage-collected, WAL replay included.
//
// Safe for concurrent use. The check and the count are not one atomic step
// (the head creates the series between them), so concurrent appenders may
// overshoot a limit by at most one series each.
type SeriesLimiter struct {
	limits     atomic.Pointer[Limits] // SetLimits swaps them
	now        func() time.Time
	logger     *slog.Logger
	enforcing  atomic.Bool
	rate       atomic.Pointer[rate.Limiter] // nil: no rate limit
	configured *prometheus.GaugeVec

	mu        sync.Mutex
	total     int
	byMetric  map[string]int
	byService map[string]int

	lastLog atomic.Int64 // unix ns of the last "refused" log line
	limited *prometheus.CounterVec
}

var _ tsdb.SeriesLifecycleCallback = (*SeriesLimiter)(nil)

// SeriesLimiterOptions configure a SeriesLimiter.
type SeriesLimiterOptions struct {
	Limits     Limits
	Logger     *slog.Logger
	Registerer prometheus.Registerer
	// Now is the clock of the new-series token bucket; nil is time.Now.
	Now func() time.Time
}

// NewSeriesLimiter builds a limiter that counts but does not refuse until
// Enforce is called (the head replays its WAL in between: what was
// acknowledged before a restart is never refused).
func NewSeriesLimiter(opts SeriesLimiterOptions) *SeriesLimiter {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	l := &SeriesLimiter{
		now:       opts.Now,
		logger:    opts.Logger,
		byMetric:  map[string]int{},
		byService: map[string]int{},
	}
	f := promauto.With(opts.Registerer)
	l.limited = f.NewCounterVec(prometheus.CounterOpts{
		Name: "gmc_ingest_series_limited_total",
		Help: "Samples refused because their new series would pass a cardinality limit, by limit.",
	}, []string{"limit"})
	l.configured = f.NewGaugeVec(prometheus.GaugeOpts{
		Name: "gmc_ingest_series_limit",
		Help: "The configured cardinality limits (0: off), by limit.",
	}, []string{"limit"})
	for _, name := range []string{limitHeadSeries, limitPerMetric, limitPerService, limitNewSeriesRate} {
		l.limited.WithLabelValues(name)
	}
	l.SetLimits(opts.Limits)
	return l
}

// SetLimits puts new cardinality limits in force (a reload): the series the
// head holds stay, whatever the new limits; new ones are checked against
// them from now on. A new rate keeps the tokens the bucket holds, up to the
// new burst.
func (l *SeriesLimiter) SetLimits(lim Limits) {
	switch r, b, cur := lim.MaxNewSeriesPerSecond, max(lim.NewSeriesBurst, 1), l.rate.Load(); {
	case r <= 0:
		l.rate.Store(nil)
	case cur == nil:
		l.rate.Store(rate.NewLimiter(rate.Limit(r), b)) // a full bucket
	default:
		now := l.now()
		cur.SetLimitAt(now, rate.Limit(r))
		cur.SetBurstAt(now, b)
	}
	l.limits.Store(&lim)
	l.configured.WithLabelValues(limitHeadSeries).Set(float64(lim.MaxHeadSeries))
	l.configured.WithLabelValues(limitPerMetric).Set(float64(lim.MaxSeriesPerMetric))
	l.configured.WithLabelValues(limitPerService).Set(float64(lim.MaxSeriesPerService))
	l.configured.WithLabelValues(limitNewSeriesRate).Set(float64(lim.MaxNewSeriesPerSecond))
}

// Enforce makes the limiter refuse series from now on; call it once the
// TSDB is open.
func (l *SeriesLimiter) Enforce() { l.enforcing.Store(true) }

// PreCreation implements tsdb.SeriesLifecycleCallback: it refuses a new series
// with a *SeriesLimitError when a limit is reached.
func (l *SeriesLimiter) PreCreation(ls labels.Labels) error {
	if !l.enforcing.Load() {
		return nil
	}
	lim := l.limits.Load()
	err := l.check(lim, ls)
	if r := l.rate.Load(); err == nil && r != nil && lim.MaxNewSeriesPerSecond > 0 && !r.AllowN(l.now(), 1) {
		err = &SeriesLimitError{Limit: limitNewSeriesRate, Max: lim.MaxNewSeriesPerSecond}
	}
	if err != nil {
		l.limited.WithLabelValues(err.Limit).Inc()
		l.logRefusal(err)
		return err
	}
	return nil
}

// check tests the count limits.
func (l *SeriesLimiter) check(lim *Limits, ls labels.Labels) *SeriesLimitError {
	if lim.MaxHeadSeries == 0 && lim.MaxSeriesPerMetric == 0 && lim.MaxSeriesPerService == 0 {
		return nil
	}
	name, svc := ls.Get(model.MetricNameLabel), ls.Get(serviceLabel)
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case lim.MaxHeadSeries > 0 && l.total >= lim.MaxHeadSeries:
		return &SeriesLimitError{Limit: limitHeadSeries, Max: lim.MaxHeadSeries}
	case lim.MaxSeriesPerService > 0 && svc != "" && l.byService[svc] >= lim.MaxSeriesPerService:
		return &SeriesLimitError{Limit: limitPerService, Max: lim.MaxSeriesPerService, Label: serviceLabel, Value: svc}
	case lim.MaxSeriesPerMetric > 0 && l.byMetric[name] >= lim.MaxSeriesPerMetric:
		return &SeriesLimitError{Limit: limitPerMetric, Max: lim.MaxSeriesPerMetric, Label: model.MetricNameLabel, Value: name}
	}
	return nil
}

// logRefusal logs a refusal at most once every 10 s: scrapes have no answer
// to carry the message, pushes do.
func (l *SeriesLimiter) logRefusal(err *SeriesLimitError) {
	now := time.Now().UnixNano()
	last := l.lastLog.Load()
	if now-last < int64(10*time.Second) || !l.lastLog.CompareAndSwap(last, now) {
		return
	}
	l.logger.Warn("new series refused by a cardinality limit (logged at most every 10s)", "err", err)
}

// PostCreation implements tsdb.SeriesLifecycleCallback.
func (l *SeriesLimiter) PostCreation(ls labels.Labels) {
	name, svc := ls.Get(model.MetricNameLabel), ls.Get(serviceLabel)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.total++
	inc(l.byMetric, name)
	if svc != "" {
		inc(l.byService, svc)
	}
}

// PostDeletion implements tsdb.SeriesLifecycleCallback.
func (l *SeriesLimiter) PostDeletion(deleted map[chunks.HeadSeriesRef]labels.Labels) {
	if len(deleted) == 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, ls := range deleted {
		l.total--
		dec(l.byMetric, ls.Get(model.MetricNameLabel))
		if svc := ls.Get(serviceLabel); svc != "" {
			dec(l.byService, svc)
		}
	}
}

// inc counts one more series under key; a new key is cloned, so the map does
// not pin the series' labels after the head drops them.
func inc(m map[string]int, key string) {
	if n, ok := m[key]; ok {
		m[key] = n + 1
		return
	}
	m[strings.Clone(key)] = 1
}

// dec counts one series less under key, forgetting keys that reach 0.
func dec(m map[string]int, key string) {
	if n := m[key]; n > 1 {
		m[key] = n - 1
	} else {
		delete(m, key)
	}
}

// SeriesCounts reports the head's series in total, for metric and for
// service, as the limiter counts them.
func (l *SeriesLimiter) SeriesCounts(metric, service string) (total, perMetric, perService int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.total, l.byMetric[metric], l.byService[service]
}
