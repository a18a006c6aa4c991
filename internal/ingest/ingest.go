// Package ingest holds gmc's write paths: Prometheus remote-write 1.0, JSON
// push, Pushgateway-style text push, OTLP/HTTP metrics (and, in scrape.go,
// scraping). Every path
// validates against Limits (limits.go), appends through Prometheus's
// storage.AppenderV2 and answers 2xx only after Commit returned, that is after
// the samples are in the WAL. When part of a request is rejected, the valid
// samples are still committed and the answer is 400 naming the rejected ones.
package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	otlptranslator "github.com/prometheus/prometheus/storage/remote/otlptranslator/prometheusremotewrite"
	"github.com/prometheus/prometheus/tsdb"

	"github.com/gmc-dev/gmc/internal/httpapi"
)

// Protocol names, used as the protocol label of gmc's ingest metrics.
const (
	protoRemoteWrite = "remote_write"
	protoJSON        = "json_push"
	protoText        = "text_push"
	protoOTLP        = "otlp"
)

// Reasons a sample is rejected, used as the reason label of
// gmc_ingest_rejected_samples_total.
const (
	reasonInvalidSeries = "invalid_series"
	reasonInvalidValue  = "invalid_value"
	reasonTooNew        = "too_far_in_future"
	reasonTooOld        = "too_old"
	reasonOutOfOrder    = "out_of_order"
	reasonOutOfBounds   = "out_of_bounds"
	reasonDuplicate     = "duplicate"
	reasonHistogram     = "invalid_histogram"
	reasonInvalidLine   = "invalid_line"
	reasonSeriesLimit   = "series_limit"
)

// maxReported is how many rejected samples a 400 answer spells out; the rest
// are counted.
const maxReported = 10

// MetricsListener is told which metrics were written.
type MetricsListener interface {
	// MetricsWritten is called after every successful commit with the
	// distinct metric names written. It is called on the request's goroutine
	// and must be cheap; it may keep the slice.
	MetricsWritten(metricNames []string)
}

// MetricsListenerFunc adapts a function to MetricsListener.
type MetricsListenerFunc func(metricNames []string)

// MetricsWritten calls f.
func (f MetricsListenerFunc) MetricsWritten(metricNames []string) { f(metricNames) }

// Options configure an Ingester.
type Options struct {
	// Appendable receives the samples; *tsdb.DB and internal/storage.TSDB are ones.
	Appendable storage.AppendableV2
	// Limits bound each request.
	Limits Limits
	// Logger; nil discards.
	Logger *slog.Logger
	// Registerer receives gmc_ingest_* metrics; nil registers nowhere.
	Registerer prometheus.Registerer
	// Now is the clock; nil is time.Now.
	Now func() time.Time
	// Listener learns after every successful commit which metrics were
	// written (rules evaluate on arrival through it); nil: nobody.
	Listener MetricsListener
	// Version is reported by the Pushgateway status endpoint.
	Version string
	// PushStateFile keeps the Pushgateway groups across restarts, one file
	// per group in the directory named like it without its extension
	// (…/groups.gob → …/groups/; a groups.gob of the former single-file
	// format is converted); "" keeps them in memory only.
	PushStateFile string
	// GroupTTL is how long a pushed group stays after its last push; 0 forever.
	GroupTTL time.Duration
	// GroupRefresh is how often the groups' current values are appended
	// again; 0 is DefaultGroupRefresh.
	GroupRefresh time.Duration
	// OTLP configures the translation of OTLP metrics (otlp.go).
	OTLP OTLP
}

// DefaultGroupRefresh is how often pushed groups' values are appended again
// by default: well inside PromQL's 5-minute lookback.
const DefaultGroupRefresh = 30 * time.Second

// Ingester serves gmc's push endpoints. Its handlers may be used from many
// goroutines at once.
type Ingester struct {
	app      storage.AppendableV2
	limits   atomic.Pointer[Limits] // SetLimits swaps them
	logger   *slog.Logger
	now      func() time.Time
	listener MetricsListener
	m        *ingestMetrics
	accepted atomic.Uint64
	cache    *seriesCache
	rw       rwPools
	inflight *inflight
	stalls   *stallWatch // stall.go
	push     *pushGroups
	version  string
	started  time.Time
	flags    atomic.Pointer[map[string]string] // the Pushgateway API's status
	meta     *metadataStore                    // metadata.go

	otlp         otlpConverters
	otlpSettings atomic.Pointer[otlptranslator.Settings]
}

type ingestMetrics struct {
	samples  *prometheus.CounterVec
	rejected *prometheus.CounterVec
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// New builds an Ingester, loading the Pushgateway groups from
// opts.PushStateFile. It registers its metrics on opts.Registerer.
func New(opts Options) (*Ingester, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Listener == nil {
		opts.Listener = MetricsListenerFunc(func([]string) {})
	}
	f := promauto.With(opts.Registerer)
	in := &Ingester{
		app:      opts.Appendable,
		inflight: newInflight(opts.Limits.MaxDecodedBytesInFlight, f),
		stalls:   newStallWatch(opts.Now, f),
		logger:   opts.Logger,
		now:      opts.Now,
		listener: opts.Listener,
		meta:     newMetadataStore(),
		cache:    newSeriesCache(defaultCacheEntries),
		m: &ingestMetrics{
			samples: f.NewCounterVec(prometheus.CounterOpts{
				Name: "gmc_ingest_samples_total",
				Help: "Samples committed to storage, by ingest protocol.",
			}, []string{"protocol"}),
			rejected: f.NewCounterVec(prometheus.CounterOpts{
				Name: "gmc_ingest_rejected_samples_total",
				Help: "Samples rejected, by ingest protocol and reason.",
			}, []string{"protocol", "reason"}),
			requests: f.NewCounterVec(prometheus.CounterOpts{
				Name: "gmc_ingest_requests_total",
				Help: "Write requests answered, by ingest protocol and HTTP status code.",
			}, []string{"protocol", "code"}),
			duration: f.NewHistogramVec(prometheus.HistogramOpts{
				Name:    "gmc_ingest_request_duration_seconds",
				Help:    "Time to handle one write request, including the WAL commit.",
				Buckets: prometheus.ExponentialBuckets(0.0001, 4, 9),
			}, []string{"protocol"}),
		},
	}
	f.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "gmc_ingest_series_cache_entries",
		Help: "Series in the remote-write label cache.",
	}, func() float64 { return float64(in.cache.len()) })
	if opts.GroupRefresh <= 0 {
		opts.GroupRefresh = DefaultGroupRefresh
	}
	in.limits.Store(&opts.Limits)
	in.version, in.started = opts.Version, opts.Now()
	in.SetOTLP(opts.OTLP)
	in.setPushFlags(opts.GroupTTL, opts.GroupRefresh)
	var err error
	in.push, err = newPushGroups(opts.Appendable, opts.Logger, opts.Now, opts.PushStateFile, opts.GroupTTL, opts.GroupRefresh)
	if err != nil {
		return nil, err
	}
	return in, nil
}

// PushedAt reports, for a series that belongs to a Pushgateway group, the
// time (ms) of the group's last push. The group's series are written again
// every GroupRefresh, so their sample times are not the sender's.
func (in *Ingester) PushedAt(ls labels.Labels) (int64, bool) { return in.push.pushedAt(ls) }

// Run keeps the pushed groups current (appending their values again every
// GroupRefresh, expiring them after their TTL) until ctx is done, then saves
// them.
func (in *Ingester) Run(ctx context.Context) error { return in.push.run(ctx) }

// CountScraped counts samples a scrape committed (ScraperOptions.Committed)
// in SamplesTotal and gmc_ingest_samples_total{protocol="scrape"}: the
// ingest rate /system/status gives is of every sample gmc was sent or
// fetched, not of the pushes only (a scraped service's outage did not
// move it, t-user12 F1).
func (in *Ingester) CountScraped(samples int) {
	in.accepted.Add(uint64(samples))
	in.m.samples.WithLabelValues("scrape").Add(float64(samples))
}

func (in *Ingester) setPushFlags(ttl, refresh time.Duration) {
	in.flags.Store(&map[string]string{
		"pushgateway.group_ttl":        model.Duration(ttl).String(),
		"pushgateway.refresh_interval": model.Duration(refresh).String(),
	})
}

// SetPushgateway puts a new pushgateway section in force (a reload): the
// groups' default TTL from their next refresh on (a group pushed with its
// own TTL keeps it), and the refresh interval from the next tick.
func (in *Ingester) SetPushgateway(p Pushgateway) {
	ttl, refresh := time.Duration(p.GroupTTL), time.Duration(p.RefreshInterval)
	if refresh <= 0 {
		refresh = DefaultGroupRefresh
	}
	in.push.setConfig(ttl, refresh)
	in.setPushFlags(ttl, refresh)
}

// SetOTLP puts a new otlp section in force for the requests that come
// after (a reload).
func (in *Ingester) SetOTLP(o OTLP) {
	s := o.settings()
	in.otlpSettings.Store(&s)
}

// SetLimits puts new limits in force for the requests that come after
// (a reload); requests being handled finish under the old ones.
func (in *Ingester) SetLimits(l Limits) {
	in.limits.Store(&l)
	in.inflight.setMax(l.MaxDecodedBytesInFlight)
}

// SamplesTotal is the number of samples committed since start, over every protocol.
func (in *Ingester) SamplesTotal() uint64 { return in.accepted.Load() }

// rejections collects the samples of one request that were not written.
type rejections struct {
	protocol string
	n        int
	reported []string
	counts   map[string]int
}

// add records one rejected sample. series is called only for the first few,
// so callers pay for rendering labels only when they are reported.
func (r *rejections) add(reason string, series func() string, t int64, why string) {
	r.n++
	if r.counts == nil {
		r.counts = map[string]int{}
	}
	r.counts[reason]++
	if len(r.reported) < maxReported {
		ts := "no timestamp"
		if t != noTimestamp {
			ts = "@" + strconv.FormatInt(t, 10)
		}
		r.reported = append(r.reported, fmt.Sprintf("%s %s: %s", series(), ts, why))
	}
}

// addLine records a line of a text body that does not parse.
func (r *rejections) addLine(n int, line string, err error) {
	r.n++
	if r.counts == nil {
		r.counts = map[string]int{}
	}
	r.counts[reasonInvalidLine]++
	if len(r.reported) < maxReported {
		r.reported = append(r.reported, fmt.Sprintf("line %d %q: %v", n, truncate(line), err))
	}
}

// noTimestamp marks a rejection that is about the series, not one sample time.
const noTimestamp = int64(-1 << 63)

// message is the body of the 400 answer for a request with rejected samples.
func (r *rejections) message(accepted int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "accepted %d samples, rejected %d: ", accepted, r.n)
	b.WriteString(strings.Join(r.reported, "; "))
	if more := r.n - len(r.reported); more > 0 {
		fmt.Fprintf(&b, "; and %d more", more)
	}
	return b.String()
}

func (in *Ingester) countRejections(r *rejections) {
	for reason, n := range r.counts {
		in.m.rejected.WithLabelValues(r.protocol, reason).Add(float64(n))
	}
}

// classifyAppendErr maps an error from AppenderV2.Append to a rejection
// reason. ok is false for errors that are not the sample's fault (the request
// then fails with 500).
func classifyAppendErr(err error) (reason string, ok bool) {
	var herr histogram.Error
	var lerr *SeriesLimitError
	switch {
	case errors.As(err, &lerr):
		return reasonSeriesLimit, true
	case errors.Is(err, storage.ErrOutOfOrderSample):
		return reasonOutOfOrder, true
	case errors.Is(err, storage.ErrTooOldSample):
		return reasonOutOfOrder, true
	case errors.Is(err, storage.ErrOutOfBounds):
		return reasonOutOfBounds, true
	case errors.Is(err, storage.ErrDuplicateSampleForTimestamp):
		return reasonDuplicate, true
	case errors.As(err, &herr), errors.Is(err, storage.ErrNativeHistogramsDisabled):
		return reasonHistogram, true
	case errors.Is(err, tsdb.ErrInvalidSample):
		return reasonInvalidSeries, true
	}
	return "", false
}

// respond writes a plain-text answer and counts it.
func (in *Ingester) respond(w http.ResponseWriter, protocol string, code int, msg string) {
	in.m.requests.WithLabelValues(protocol, strconv.Itoa(code)).Inc()
	if code == http.StatusNoContent || (msg == "" && code < 300) {
		w.WriteHeader(code)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	fmt.Fprintln(w, msg)
}

// finish reports a committed request: metrics, the listener and the answer.
// fail answers a write that failed as a whole: a *requestError with its own
// code (nothing was written), anything else as a storage failure, logged.
func (in *Ingester) fail(w http.ResponseWriter, protocol string, err error) {
	code := http.StatusInternalServerError
	var re *requestError
	if errors.As(err, &re) {
		code = re.code
		if code == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", "1")
		}
	} else {
		in.logger.Error("write failed", "protocol", protocol, "err", err)
	}
	in.respond(w, protocol, code, err.Error())
}

func (in *Ingester) finish(w http.ResponseWriter, protocol string, accepted int, rej *rejections, names []string, okCode int) {
	if accepted > 0 {
		in.accepted.Add(uint64(accepted))
		in.m.samples.WithLabelValues(protocol).Add(float64(accepted))
		if len(names) > 0 {
			in.listener.MetricsWritten(names)
		}
	}
	if rej.n > 0 {
		in.countRejections(rej)
		code := http.StatusBadRequest
		if rej.counts[reasonSeriesLimit] > 0 {
			// Too many series, not bad ones: the samples of the series the
			// head holds are written, the message names the limit.
			code = http.StatusTooManyRequests
			w.Header().Set("Retry-After", "1")
		}
		in.respond(w, protocol, code, rej.message(accepted))
		return
	}
	in.respond(w, protocol, okCode, "")
}

// observe records the duration of one request.
func (in *Ingester) observe(protocol string, start time.Time) {
	in.m.duration.WithLabelValues(protocol).Observe(time.Since(start).Seconds())
}

// StalledUntil says until when gmc's own ingest was stalled: now while a
// write request has taken StallAfter or more so far, else the end of the
// latest one that took that long or whose client gave up (zero if none).
// A service's samples may be missing up to then because gmc had not taken
// them, so its silence is not judged before (rules.Options.IngestStall).
func (in *Ingester) StalledUntil(now time.Time) time.Time { return in.stalls.stalledUntil(now) }

// Stalled is gmc's latest ingest stall: from when its earliest request
// began until StalledUntil (both zero if none). /system/status names it
// while it holds a service's state (rules.Manager.SilenceHold).
func (in *Ingester) Stalled(now time.Time) (from, until time.Time) { return in.stalls.stalled(now) }

// Routes are the write endpoints: Prometheus remote-write, gmc's JSON push,
// OTLP/HTTP metrics and the Pushgateway text push (any method; the handler answers 405 itself).
// Write requests are timed for StalledUntil.
func (in *Ingester) Routes() []httpapi.Route {
	w := in.stalls.wrap
	return []httpapi.Route{
		{Method: http.MethodPost, Path: "/api/v1/write", Handler: w(in.RemoteWrite()).ServeHTTP},
		{Method: http.MethodPost, Path: "/api/v1/push", Handler: w(in.JSONPush()).ServeHTTP},
		// OTLP/HTTP metrics: the SDKs' default path, and Prometheus's (otlp.go).
		{Method: http.MethodPost, Path: "/v1/metrics", Handler: w(in.OTLPMetrics()).ServeHTTP},
		{Method: http.MethodPost, Path: "/api/v1/otlp/v1/metrics", Handler: w(in.OTLPMetrics()).ServeHTTP},
		{Path: "/metrics/job/", Handler: w(in.TextPush()).ServeHTTP},
		{Path: "/metrics/job@base64/", Handler: w(in.TextPush()).ServeHTTP},
		// The Pushgateway's API (pgapi.go).
		{Method: http.MethodGet, Path: "/api/v1/status", Handler: in.PushgatewayStatus},
		{Method: http.MethodGet, Path: "/api/v1/metrics", Handler: in.PushgatewayMetrics},
	}
}
