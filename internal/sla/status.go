package sla

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/storage"

	"github.com/gmc-dev/gmc/internal/httpapi"
)

// Status is an SLA's state now, as /sla and /system/status show it.
type Status struct {
	Name      string  `json:"name"`
	Service   string  `json:"service"`
	Indicator string  `json:"indicator"`
	Objective float64 `json:"objective"` // percent
	// State is "ok", "violated" (the budget of some window is spent),
	// "burning" (a burn-rate alert condition holds) or "no_data".
	State string `json:"state"`
	// Burning is the severity of the strongest burn-rate condition that
	// holds: "page", "ticket" or "".
	Burning string         `json:"burning"`
	Windows []WindowStatus `json:"windows"`
	// BurnRates are the burn rates over the alert windows (5m … 3d).
	BurnRates map[string]*float64 `json:"burn_rates"`
	Error     string              `json:"error,omitempty"`
}

// WindowStatus is an SLA over one rolling window. Nil values: no data.
type WindowStatus struct {
	Window string `json:"window"`
	// Achievement is the percentage of good events.
	Achievement *float64 `json:"achievement"`
	// ErrorBudgetLeft is the fraction of the budget left (1 untouched,
	// negative overspent).
	ErrorBudgetLeft *float64 `json:"error_budget_left"`
	BurnRate        *float64 `json:"burn_rate"`
	Met             *bool    `json:"met"`
}

// Evaluate turns error ratios per window (keyed "5m", "1h", "30d"; missing
// or NaN means no data) into the SLA's status. It is the pure heart of
// Reporter.
func (s SLA) Evaluate(errorRatios map[string]float64) Status {
	obj := s.Target()
	st := Status{
		Name: s.Name, Service: s.Service, Indicator: s.Kind(), Objective: s.Objective,
		BurnRates: map[string]*float64{},
	}
	known := map[string]float64{}
	for k, v := range errorRatios {
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			known[k] = v
		}
	}
	data, violated := false, false
	for _, w := range s.Windows {
		ws := WindowStatus{Window: FormatWindow(time.Duration(w))}
		if e, ok := known[ws.Window]; ok {
			data = true
			a := Achievement(e)
			left := ErrorBudgetLeft(a, obj)
			met := a >= obj
			violated = violated || !met
			ws.Achievement, ws.ErrorBudgetLeft, ws.Met = ptr(100*a), ptr(left), &met
			ws.BurnRate = ptr(BurnRate(e, obj))
		}
		st.Windows = append(st.Windows, ws)
	}
	for _, b := range BurnAlerts() {
		for _, w := range []time.Duration{b.Short, b.Long} {
			k := FormatWindow(w)
			if e, ok := known[k]; ok {
				st.BurnRates[k] = ptr(BurnRate(e, obj))
			} else {
				st.BurnRates[k] = nil
			}
		}
	}
	st.Burning = Burning(known, obj)
	switch {
	case !data && len(known) == 0:
		st.State = "no_data"
	case violated:
		st.State = "violated"
	case st.Burning != "":
		st.State = "burning"
	default:
		st.State = "ok"
	}
	return st
}

func ptr[T any](v T) *T { return &v }

// ReporterOptions configure a Reporter.
type ReporterOptions struct {
	SLAs      []SLA
	Engine    promql.QueryEngine
	Queryable storage.Queryable
	Logger    *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Reporter computes SLA states by querying the recorded error ratios
// (sla:error_ratio:rate<window>{sla="<name>"}) through the PromQL engine.
type Reporter struct {
	opts ReporterOptions
}

// NewReporter returns a Reporter; the SLAs must have been validated.
func NewReporter(opts ReporterOptions) *Reporter {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Reporter{opts: opts}
}

// SLAs returns the SLAs the reporter knows.
func (r *Reporter) SLAs() []SLA { return r.opts.SLAs }

// ErrorRatios queries the SLA's recorded error ratios at ts, keyed by window.
func (r *Reporter) ErrorRatios(ctx context.Context, s SLA, ts time.Time) (map[string]float64, error) {
	q := fmt.Sprintf(`{__name__=~"%s.+", sla=%s}`, "sla:error_ratio:rate", strconv.Quote(s.Name))
	qry, err := r.opts.Engine.NewInstantQuery(ctx, r.opts.Queryable, nil, q, ts)
	if err != nil {
		return nil, fmt.Errorf("query error ratios of sla %s: %w", s.Name, err)
	}
	defer qry.Close()
	res := qry.Exec(ctx)
	if res.Err != nil {
		return nil, fmt.Errorf("query error ratios of sla %s: %w", s.Name, res.Err)
	}
	vec, err := res.Vector()
	if err != nil {
		return nil, fmt.Errorf("query error ratios of sla %s: %w", s.Name, err)
	}
	out := map[string]float64{}
	for _, smpl := range vec {
		name := smpl.Metric.Get(labels.MetricName)
		if len(name) > len(ErrorRatioPrefix) && smpl.H == nil {
			out[name[len(ErrorRatioPrefix):]] = smpl.F
		}
	}
	return out, nil
}

// StatusContext computes every SLA's status now.
func (r *Reporter) StatusContext(ctx context.Context) []Status {
	now := r.opts.Now()
	out := make([]Status, 0, len(r.opts.SLAs))
	for _, s := range r.opts.SLAs {
		ratios, err := r.ErrorRatios(ctx, s, now)
		st := s.Evaluate(ratios)
		if err != nil {
			st.Error = err.Error()
			r.opts.Logger.Warn("sla status", "sla", s.Name, "err", err)
		}
		out = append(out, st)
	}
	return out
}

// Status computes every SLA's status now (for /system/status), giving the
// queries at most 10 seconds.
func (r *Reporter) Status() []Status {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return r.StatusContext(ctx)
}

// Detail is GET /sla/{name}: the SLA, its status and its generated rules.
type Detail struct {
	SLA     SLA      `json:"sla"`
	Windows []string `json:"windows"`
	Status  Status   `json:"status"`
	Rules   []Rule   `json:"rules"`
}

// Rule is one generated rule, for display.
type Rule struct {
	Group  string            `json:"group"`
	Record string            `json:"record,omitempty"`
	Alert  string            `json:"alert,omitempty"`
	Expr   string            `json:"expr"`
	Labels map[string]string `json:"labels,omitempty"`
}

// List serves GET /sla: {"status":"success","data":[Status...]}.
func (r *Reporter) List(w http.ResponseWriter, req *http.Request) {
	httpapi.WriteSuccess(w, r.StatusContext(req.Context()))
}

// Get serves GET /sla/{name}.
func (r *Reporter) Get(w http.ResponseWriter, req *http.Request) {
	name := req.PathValue("name")
	for _, s := range r.opts.SLAs {
		if s.Name != name {
			continue
		}
		ratios, err := r.ErrorRatios(req.Context(), s, r.opts.Now())
		if err != nil {
			httpapi.WriteErrorCode(w, http.StatusInternalServerError, httpapi.ErrExec, err)
			return
		}
		d := Detail{SLA: s, Status: s.Evaluate(ratios)}
		for _, win := range s.Windows {
			d.Windows = append(d.Windows, FormatWindow(time.Duration(win)))
		}
		for _, g := range s.RuleGroups() {
			for _, rl := range g.Rules {
				d.Rules = append(d.Rules, Rule{Group: g.Name, Record: rl.Record, Alert: rl.Alert, Expr: rl.Expr, Labels: rl.Labels})
			}
		}
		httpapi.WriteSuccess(w, d)
		return
	}
	httpapi.WriteError(w, httpapi.ErrNotFound, fmt.Errorf("sla %q: not found", name))
}

// Routes are the SLA endpoints: GET /sla and GET /sla/{name}.
func (r *Reporter) Routes() []httpapi.Route {
	return []httpapi.Route{
		{Method: http.MethodGet, Path: "/sla", Handler: r.List},
		{Method: http.MethodGet, Path: "/sla/{name}", Handler: r.Get},
	}
}
