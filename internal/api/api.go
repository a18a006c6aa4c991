// Package api is gmc's product REST API: the latest values and the history
// of a service's metrics, gmc's own status with every known service's
// up / stale / down state, and the OpenAPI document describing it.
//
// A series belongs to service S when it has the label service="S". Success
// bodies are plain JSON objects (numbers as JSON numbers); errors use the
// Prometheus API envelope {"status":"error","errorType":…,"error":…}.
package api

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/storage"

	"github.com/gmc-dev/gmc/internal/auth"
	"github.com/gmc-dev/gmc/internal/httpapi"
	"github.com/gmc-dev/gmc/internal/sla"
	gmcstorage "github.com/gmc-dev/gmc/internal/storage"
	"github.com/gmc-dev/gmc/internal/tier"
)

// ServiceLabel is the label naming the service a series belongs to.
const ServiceLabel = "service"

// Defaults.
const (
	// DefaultStaleAfter and DefaultDownAfter show a service that pushes
	// every second stale after 5 missed pushes and down after 8: down in
	// /system/status within 10 s of its last push with a margin for the
	// poll (bench/scenario: 9-10 s with 10 s).
	DefaultStaleAfter = 5 * time.Second
	DefaultDownAfter  = 8 * time.Second
	DefaultLookback   = 5 * time.Minute
	// MaxHistoryPoints is how many points per series the default history
	// step aims at.
	MaxHistoryPoints = 500
	// maxPointsPerSeries bounds an explicit step, as Prometheus's query_range.
	maxPointsPerSeries = 11000
	// minRateWindow is the shortest interval the ingest rate is computed over.
	minRateWindow = time.Second
	// rateWindow is the interval the ingest rate is computed over when
	// readings allow: the dashboard's "now" window (its tiles' 1m).
	rateWindow = time.Minute
)

// Options configure the REST API.
type Options struct {
	// Queryable is the storage read from. Required.
	Queryable storage.Queryable
	// Engine runs the history range queries. Required.
	Engine *promql.Engine
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// StaleAfter and DownAfter (config.Server) classify services: up when
	// seen within StaleAfter, stale within DownAfter, down otherwise.
	StaleAfter, DownAfter time.Duration
	// ServiceLiveness overrides StaleAfter and DownAfter per service (a
	// zero field keeps the default).
	ServiceLiveness map[string]Liveness
	// OwnSeries reports whether a metric name is one gmc writes itself
	// (alerts, recording rules, benchmark results): such series never make
	// a service look alive. Nil counts every series.
	OwnSeries func(metricName string) bool
	// PushedAt, when set, reports for a series that belongs to a
	// Pushgateway group the time (ms) of the group's last push: gmc writes
	// such series again on its own to keep them queryable, so their sample
	// times say nothing of the service's liveness.
	PushedAt func(labels.Labels) (int64, bool)
	// Lookback is how old the latest value of /metrics/{service} may be
	// (default 5m, PromQL's lookback delta).
	Lookback time.Duration
	// StorageStats reports the store's state for /system/status. Optional.
	StorageStats func() gmcstorage.Stats
	// SamplesIngested is a monotonically increasing count of accepted
	// samples; /system/status derives the ingest rate from it. Optional.
	SamplesIngested func() uint64
	// Version is gmc's version, reported by /system/status.
	Version string
	// Started is when the server started (uptime); zero means New's time.
	Started time.Time
	// SLAs, when set, gives the SLAs' states for /system/status ("slas").
	SLAs func(ctx context.Context) []sla.Status
	// Access, when set, reports how requests are authenticated, for
	// /system/status ("access").
	Access func() auth.Status
	// StorageTiers, when set, reports the downsampled tiers for
	// /system/status ("storage_tiers").
	StorageTiers func() []tier.Stats
	// Config, when set, reports what the last reload of gmc.yml left,
	// for /system/status ("config").
	Config func() ConfigStatus
	// SilenceHold, when set, says whether a service's silence is judged
	// at now, as the ServiceSilent and TargetDown alerts judge it
	// (rules.Manager.SilenceHold): while it is not (gmc restarted or its
	// ingest stalled less than the service's down_after ago), a service
	// that would be stale or down is unknown, with the hold's reason.
	SilenceHold func(now time.Time, service string) (Hold, bool)
	// Watching, when set, is when gmc began watching the services (its
	// start, or its latest ingest stall's end; now while one goes on) and
	// why, for /system/status's "watching": what a client judges by its own
	// thresholds (the dashboard's host states) is held as the alerts are.
	Watching func(now time.Time) (time.Time, Hold)
	// Outages, when set, are the times gmc was down, for /system/status
	// ("outages").
	Outages func() []Outage
}

// Hold is why gmc does not judge a service's silence now: it has not
// watched it for its down_after since gmc started (Cause "restart") or
// since its own ingest stall ended ("ingest_stall").
type Hold struct {
	Cause string
	// Since is when gmc started, or when the stall began.
	Since time.Time
	// Until is when the stall ended; zero while it goes on.
	Until time.Time
	// JudgedFrom is when the service is judged again; zero while a stall
	// goes on.
	JudgedFrom time.Time
}

// Liveness is when a service that sent nothing counts as stale and down.
type Liveness struct {
	StaleAfter, DownAfter time.Duration
}

// API serves the REST API. Its handlers are safe for concurrent use.
type API struct {
	opts Options
	// twiceLogged are the services whose metrics arriving by two paths
	// were logged (once each: twice).
	twiceLogged sync.Map
	// live are the services' thresholds (Options.StaleAfter, DownAfter,
	// ServiceLiveness), swapped whole by SetLiveness.
	live atomic.Pointer[liveness]

	readEvery time.Duration // Run's reading interval
	mu        sync.Mutex    // guards the ingest-rate readings below
	readings  []reading     // the ingest counter every second (Run) and at /system/status calls, ≥ minRateWindow apart, oldest first
}

// reading is the ingest counter n at a time.
type reading struct {
	at time.Time
	n  uint64
}

// liveness is the default thresholds and the per-service overrides.
type liveness struct {
	Liveness
	service map[string]Liveness
}

// SetLiveness puts new thresholds in force (a reload of server.stale_after,
// down_after and service_liveness): zero ones take the defaults, as in New.
func (a *API) SetLiveness(staleAfter, downAfter time.Duration, service map[string]Liveness) {
	if staleAfter <= 0 {
		staleAfter = DefaultStaleAfter
	}
	if downAfter <= 0 {
		downAfter = DefaultDownAfter
	}
	a.live.Store(&liveness{Liveness: Liveness{StaleAfter: staleAfter, DownAfter: downAfter}, service: maps.Clone(service)})
}

// New returns the REST API.
func New(opts Options) *API {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Lookback <= 0 {
		opts.Lookback = DefaultLookback
	}
	if opts.Version == "" {
		opts.Version = "dev"
	}
	a := &API{opts: opts, readEvery: time.Second}
	a.SetLiveness(opts.StaleAfter, opts.DownAfter, opts.ServiceLiveness)
	first := reading{at: opts.Now()}
	if opts.Started.IsZero() {
		a.opts.Started = first.at
	}
	if opts.SamplesIngested != nil {
		first.n = opts.SamplesIngested()
	}
	a.readings = []reading{first}
	return a
}

// Routes lists the REST API's endpoints; the server mounts them as
// `Method + " " + Path`.
func (a *API) Routes() []httpapi.Route {
	return []httpapi.Route{
		{Method: "GET", Path: "/metrics/{service}", Handler: a.ServiceMetrics},
		{Method: "GET", Path: "/metrics/history/{service}", Handler: a.ServiceHistory},
		{Method: "GET", Path: "/system/status", Handler: a.SystemStatus},
		{Method: "GET", Path: "/openapi.yaml", Handler: a.OpenAPI},
	}
}

// writeJSON writes v with status 200.
func (a *API) writeJSON(w http.ResponseWriter, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		a.opts.Logger.Error("encode rest response", "err", err)
		httpapi.WriteError(w, httpapi.ErrInternal, fmt.Errorf("encode response: %w", err))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	w.Write(b)
}

func badParam(w http.ResponseWriter, name string, err error) {
	httpapi.WriteError(w, httpapi.ErrBadData, fmt.Errorf("invalid parameter %q: %w", name, err))
}

func internalError(w http.ResponseWriter, what string, err error) {
	httpapi.WriteError(w, httpapi.ErrInternal, fmt.Errorf("%s: %w", what, err))
}

// serviceMatcher selects the series of service svc.
func serviceMatcher(svc string) *labels.Matcher {
	return labels.MustNewMatcher(labels.MatchEqual, ServiceLabel, svc)
}

// serviceMetricNames returns the metric names of service svc over the whole
// retention; none means the service is not known.
func (a *API) serviceMetricNames(ctx context.Context, svc string) ([]string, error) {
	q, err := a.opts.Queryable.Querier(math.MinInt64, math.MaxInt64)
	if err != nil {
		return nil, fmt.Errorf("open querier: %w", err)
	}
	defer q.Close()
	names, _, err := q.LabelValues(ctx, model.MetricNameLabel, nil, serviceMatcher(svc))
	if err != nil {
		return nil, fmt.Errorf("read metric names of service %q: %w", svc, err)
	}
	names = slices.Clone(names)
	slices.Sort(names)
	return names, nil
}

// notKnown answers 404 for a service without series.
func notKnown(w http.ResponseWriter, svc string) {
	httpapi.WriteError(w, httpapi.ErrNotFound, fmt.Errorf("service %q is not known: no series has service=%q", svc, svc))
}

// Float is a sample value in JSON: a number, or "NaN", "+Inf", "-Inf"
// (which JSON numbers cannot express).
type Float float64

// MarshalJSON implements json.Marshaler.
func (f Float) MarshalJSON() ([]byte, error) {
	v := float64(f)
	switch {
	case math.IsNaN(v):
		return []byte(`"NaN"`), nil
	case math.IsInf(v, 1):
		return []byte(`"+Inf"`), nil
	case math.IsInf(v, -1):
		return []byte(`"-Inf"`), nil
	}
	return json.Marshal(v)
}

// UnmarshalJSON implements json.Unmarshaler.
func (f *Float) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return fmt.Errorf("parse sample value %q: %w", s, err)
		}
		*f = Float(v)
		return nil
	}
	var v float64
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*f = Float(v)
	return nil
}

// Histogram is a native histogram sample's totals.
type Histogram struct {
	Count Float `json:"count"`
	Sum   Float `json:"sum"`
}

// rfc3339 formats a millisecond timestamp.
func rfc3339(ms int64) string {
	return time.UnixMilli(ms).UTC().Format(time.RFC3339Nano)
}

// extraLabels are a series' labels other than __name__, service, instance.
func extraLabels(ls labels.Labels) map[string]string {
	m := map[string]string{}
	ls.Range(func(l labels.Label) {
		switch l.Name {
		case model.MetricNameLabel, ServiceLabel, "instance":
		default:
			m[l.Name] = l.Value
		}
	})
	return m
}
