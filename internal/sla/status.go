package sla

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/storage"

	"github.com/gmc-dev/gmc/internal/httpapi"
	"github.com/gmc-dev/gmc/internal/span"
	"github.com/gmc-dev/gmc/internal/tier"
)

// Status is an SLA's state now, as /sla and /system/status show it.
type Status struct {
	Name      string  `json:"name"`
	Service   string  `json:"service"`
	Indicator string  `json:"indicator"`
	Objective float64 `json:"objective"` // percent
	// State is "violated" (some judged window misses the objective),
	// "burning" (a burn-rate alert condition holds), "ok" (every judged
	// window meets it), "not_judged" (there is data, but no window is
	// covered enough to judge: Reason says why) or "no_data".
	State string `json:"state"`
	// Reason says why the state is not_judged.
	Reason string `json:"reason,omitempty"`
	// Burning is the severity of the strongest burn-rate alert firing now
	// (ReporterOptions.Burns; without it, of the strongest burn-rate
	// condition that holds): "page", "ticket" or "".
	Burning string         `json:"burning"`
	Windows []WindowStatus `json:"windows"`
	// BurnRates are the burn rates over the alert windows (5m … 3d).
	BurnRates map[string]*float64 `json:"burn_rates"`
	Error     string              `json:"error,omitempty"`
}

// MinCoverage is the part of a window that must hold data before gmc
// judges the SLA met or missed over it.
const MinCoverage = 0.95

// WindowStatus is an SLA over one rolling window. Nil values: no data.
type WindowStatus struct {
	Window string `json:"window"`
	// Coverage is the part of the window that holds data (0…1): the time
	// within it that samples of the indicator's series cover (a hole in
	// the data does not count). Nil when unknown.
	Coverage *float64 `json:"coverage"`
	// Note says why Met is null although there is data.
	Note string `json:"note,omitempty"`
	// Achievement is the percentage of good events.
	Achievement *float64 `json:"achievement"`
	// ErrorBudgetLeft is the fraction of the budget left (1 untouched,
	// negative overspent).
	ErrorBudgetLeft *float64 `json:"error_budget_left"`
	BurnRate        *float64 `json:"burn_rate"`
	// Met is whether the objective holds over the window; null without
	// data or when less than MinCoverage of the window holds data.
	Met *bool `json:"met"`
}

// Evaluate turns error ratios per window (keyed "5m", "1h", "30d"; missing
// or NaN means no data) into the SLA's status, every window counted as
// fully covered by data.
func (s SLA) Evaluate(errorRatios map[string]float64) Status {
	return s.EvaluateCovered(errorRatios, nil)
}

// EvaluateCovered is Evaluate with the part of each window that holds data
// (keyed like errorRatios; nil or missing means fully covered): a window
// less than MinCoverage covered shows its figures but is not judged met or
// missed, and says so. It is the pure heart of Reporter.
func (s SLA) EvaluateCovered(errorRatios, coverage map[string]float64) Status {
	return s.evaluateBurning(errorRatios, coverage, nil)
}

// evaluateBurning is EvaluateCovered with, when burning is not nil, the
// burn severity given (the burn alerts' own state) rather than computed
// from the ratios by Burning.
func (s SLA) evaluateBurning(errorRatios, coverage map[string]float64, burning *string) Status {
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
	data, violated, judged := false, false, false
	note := ""
	for _, w := range s.Windows {
		ws := WindowStatus{Window: FormatWindow(time.Duration(w))}
		cov, covKnown := coverage[ws.Window]
		if covKnown {
			ws.Coverage = ptr(cov)
		}
		if e, ok := known[ws.Window]; ok {
			data = true
			a := Achievement(e)
			left := ErrorBudgetLeft(a, obj)
			ws.Achievement, ws.ErrorBudgetLeft = ptr(100*a), ptr(left)
			ws.BurnRate = ptr(BurnRate(e, obj))
			if covKnown && cov < MinCoverage {
				ws.Note = fmt.Sprintf("only %s of data in the %s window (%.1f%%): not judged",
					FormatDataSpan(time.Duration(cov*float64(w))), ws.Window, 100*cov)
				if note == "" {
					note = ws.Note
				}
			} else {
				met := a >= obj
				violated = violated || !met
				judged = true
				ws.Met = &met
			}
		}
		st.Windows = append(st.Windows, ws)
	}
	for _, b := range s.BurnAlerts() {
		for _, w := range []time.Duration{b.Short, b.Long} {
			k := FormatWindow(w)
			if e, ok := known[k]; ok {
				st.BurnRates[k] = ptr(BurnRate(e, obj))
			} else {
				st.BurnRates[k] = nil
			}
		}
	}
	if burning != nil {
		st.Burning = *burning
	} else {
		st.Burning = Burning(s.BurnAlerts(), known, coverage, obj)
	}
	switch {
	case !data && len(known) == 0 && st.Burning == "":
		st.State = "no_data"
	case violated:
		st.State = "violated"
	case st.Burning != "":
		st.State = "burning"
	case !judged:
		// Nothing is judged: "ok" would claim what the data cannot say.
		st.State = "not_judged"
		st.Reason = note
		if st.Reason == "" {
			st.Reason = "no window has data"
		}
	default:
		st.State = "ok"
	}
	return st
}

func ptr[T any](v T) *T { return &v }

// FormatDataSpan prints a span of time as the dashboard's notes do (its
// util.js dur): rounded to the second, in days, hours, minutes and
// seconds, the units that are zero left out: "8m33s", "1m20s", "2h",
// "3d4h5s"; above zero it never reads "0s" ("under 1s"). It rounded to the
// whole minute (hour, day): "only 9m of data" for 512.6 s where the burn
// alert said "8m 2s" and the Alerts page "not evaluated 1m" for 1m20s
// (t-user17b F2). The alert texts write theirs the same way
// (DurationTemplate).
func FormatDataSpan(d time.Duration) string {
	if d < 0 {
		return "−" + FormatDataSpan(-d)
	}
	if d > 0 && d < time.Second/2 {
		return "under 1s"
	}
	left := d.Round(time.Second)
	var b strings.Builder
	for _, u := range []struct {
		unit   time.Duration
		suffix string
	}{{24 * time.Hour, "d"}, {time.Hour, "h"}, {time.Minute, "m"}} {
		if left >= u.unit {
			fmt.Fprintf(&b, "%d%s", left/u.unit, u.suffix)
			left %= u.unit
		}
	}
	if left > 0 || b.Len() == 0 {
		fmt.Fprintf(&b, "%ds", left/time.Second)
	}
	return b.String()
}

// DurationTemplate is the alert template text that writes the seconds arg
// (a template expression: ".", "$value") as FormatDataSpan does, with the
// template functions gmc's rules have (Prometheus's): humanizeDuration of
// the rounded seconds ("8m 33s", "1d 0h 0m 5s") with the zero units and
// the spaces taken out ("8m33s", "1d5s"). humanizeDuration alone wrote
// "8m 2s" where /sla and the dashboard write "8m2s".
func DurationTemplate(arg string) string {
	// Under half a second but more than none: "under 1s", as
	// FormatDataSpan (printf rounded it to "0s": "sent a sample 0s ago").
	return `{{ if and (gt ` + arg + ` 0.0) (lt ` + arg + ` 0.5) }}under 1s{{ else }}` +
		`{{ printf "%.0f" ` + arg + ` | humanizeDuration | reReplaceAll " 0[hms]" "" | reReplaceAll " " "" }}{{ end }}`
}

// ReporterOptions configure a Reporter.
type ReporterOptions struct {
	SLAs      []SLA
	Engine    promql.QueryEngine
	Queryable storage.Queryable
	Logger    *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Tiers, when set, are Queryable's downsampled tiers: the error ratios
	// over a day and longer read one of them (see ratioTier); nil reads raw
	// samples only.
	Tiers *tier.Set
	// Burns, when set, reports per SLA name the severity of its strongest
	// burn-rate alert firing now, as the rule manager last evaluated it
	// (rules.Manager.SLABurns). A status then says burning exactly while
	// that alert fires, read at every request (never from the cache), so
	// the SLA page, the Overview and the alert agree at every moment. Nil:
	// the reporter judges the burn-rate conditions itself (Burning).
	Burns func() map[string]string
}

// Reporter computes SLA states from the raw series: each window's error
// ratio is ErrorsRate(w) / TotalRate(w) over the window itself, so it is
// weighted by traffic and counts every sample in the window, whenever gmc
// started; each window's coverage says how much of it holds data. The
// ratios over a day and longer read the 1-minute tier where it has caught
// up, which gives the raw answer within 0.1 % (TestTierRatiosEqualRaw).
type Reporter struct {
	opts   ReporterOptions
	tiered storage.Queryable // raw data and tiers, nil without tiers

	mu       sync.Mutex // guards the SLAs and the cache
	slas     []SLA      // swapped whole by SetSLAs
	cachedAt time.Time
	cached   []reading // one per SLA of slas
}

// reading is what one computation read for one SLA: its error ratios and
// coverage per window, or why it failed.
type reading struct {
	ratios, coverage map[string]float64
	err              error
}

// statusCacheFor is how long StatusContext reuses its last answer (the
// dashboard polls /system/status; a 30d window reads a month of samples).
const statusCacheFor = 5 * time.Second

// statusQueryTimeout bounds one computation of every SLA's status.
const statusQueryTimeout = 10 * time.Second

// NewReporter returns a Reporter; the SLAs must have been validated.
func NewReporter(opts ReporterOptions) *Reporter {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	r := &Reporter{opts: opts, slas: opts.SLAs}
	if opts.Tiers != nil && len(opts.Tiers.Tiers()) > 0 {
		r.tiered = opts.Tiers.Queryable(coverageLookback.Milliseconds())
	}
	return r
}

// SLAs returns the SLAs the reporter knows.
func (r *Reporter) SLAs() []SLA {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.slas
}

// SetSLAs replaces the SLAs the reporter knows (validated, as for
// NewReporter): a reload of gmc.yml. The next status reads them afresh.
func (r *Reporter) SetSLAs(slas []SLA) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.slas, r.cached = slices.Clone(slas), nil
}

// ErrorRatios computes the SLA's error ratio over each of its recorded
// windows (its own and the burn-rate windows) at ts from the raw series,
// keyed by window. A window without traffic is absent.
func (r *Reporter) ErrorRatios(ctx context.Context, s SLA, ts time.Time) (map[string]float64, error) {
	out := map[string]float64{}
	for _, w := range s.RecordedWindows() {
		q := s.ErrorsRate(w) + " / " + s.TotalRate(w)
		qa := r.opts.Queryable
		if t := r.ratioTier(w, ts); t != nil {
			var err error
			if q, err = onTier(q, t.Name()); err != nil {
				return nil, fmt.Errorf("query error ratio of sla %s over %s: %w", s.Name, FormatWindow(w), err)
			}
			qa = r.tiered
		}
		qry, err := tier.Engine(r.opts.Engine).NewInstantQuery(ctx, qa, nil, q, ts)
		if err != nil {
			return nil, fmt.Errorf("query error ratio of sla %s over %s: %w", s.Name, FormatWindow(w), err)
		}
		res := qry.Exec(ctx)
		if res.Err != nil {
			qry.Close()
			return nil, fmt.Errorf("query error ratio of sla %s over %s: %w", s.Name, FormatWindow(w), res.Err)
		}
		vec, err := res.Vector()
		qry.Close()
		if err != nil {
			return nil, fmt.Errorf("query error ratio of sla %s over %s: %w", s.Name, FormatWindow(w), err)
		}
		if len(vec) == 1 && vec[0].H == nil && !math.IsNaN(vec[0].F) && !math.IsInf(vec[0].F, 0) {
			out[FormatWindow(w)] = vec[0].F
		}
	}
	return out, nil
}

// Tier reads. A tier's rate over a window differs from the raw samples'
// only in the window's first bucket, which it extrapolates from the
// window's mean rate where the raw samples count what happened in it; the
// partial last bucket is aggregated from the raw samples as the query runs
// (tier.Queryable), so the newest samples count. With buckets at most
// 1/TierEdgeBuckets of the window, the error ratio differs by under 0.1 %
// unless that one bucket's error ratio is far from the window's
// (TestTierRatiosEqualRaw: 2.2e-4 relative at most over 12 days of data).
const (
	// tierMinWindow is the shortest window read from a tier: shorter
	// ones read less raw data than a tier saves.
	tierMinWindow = 24 * time.Hour
	// TierEdgeBuckets: a tier answers a window at least this many of its
	// buckets long, the finest that does and keeps the window (the 1m tier
	// every window of a day to its retention, 90 days by default; the
	// default 10m tier 90 to 180 days; the 1h tier longer), here and in the
	// SLA rules (the server's rules.Options.SLAQueryable).
	TierEdgeBuckets = 1440
	// tierMaxLag: a tier whose watermark is further behind is catching up
	// (after a restart, or new); the raw samples answer meanwhile.
	tierMaxLag = time.Hour
)

// ratioTier returns the tier the error ratio over window w at ts reads
// (see TierEdgeBuckets; none while it catches up), or nil for the raw
// samples. The tier reads the whole window, also where
// it is kept longer than the raw data (the default raw retention is 15
// days, the 1m tier's 90): Coverage then counts the tier's data.
func (r *Reporter) ratioTier(w time.Duration, ts time.Time) *tier.Tier {
	if r.tiered == nil || w < tierMinWindow {
		return nil
	}
	for _, t := range r.opts.Tiers.Tiers() { // finest first, as the rules' reader (tier.Queryable.WithUnaligned)
		if time.Duration(t.Resolution)*TierEdgeBuckets > w {
			break
		}
		if time.Duration(t.Retention) < w {
			continue
		}
		if wm := t.Watermark(); wm >= 0 && ts.UnixMilli()-wm <= tierMaxLag.Milliseconds() {
			return t
		}
		return nil
	}
	return nil
}

// onTier forces every selector of the PromQL expression q onto the named
// tier (tier.TierLabel).
func onTier(q, name string) (string, error) {
	expr, err := newParser().ParseExpr(q)
	if err != nil {
		return "", err
	}
	m := labels.MustNewMatcher(labels.MatchEqual, tier.TierLabel, name)
	parser.Inspect(expr, func(n parser.Node, _ []parser.Node) error {
		if vs, ok := n.(*parser.VectorSelector); ok {
			vs.LabelMatchers = append(vs.LabelMatchers, m)
		}
		return nil
	})
	return expr.String(), nil
}

// Coverage returns, for each of the SLA's windows and its burn alerts' long
// windows, the part of it (0…1) that holds data: the time within it that
// the indicator's total series have samples for, each series by its own
// cadence (span.ReadOwn): from sample to sample unless the gap is a hole,
// longer than 3 times the series' mean interval over the 10 minutes up to
// its end or than the lookback (5m), and from the newest to now while that
// is no hole yet. It counted every gap up to the lookback, so gmc's own
// 1m52s outage in samples 1 s apart read as data (t-user16 F7: 1h coverage
// 39.3 % where the samples covered 36.1 %), and up to 5 minutes after a
// series stopped; and before that the lookback after the last sample
// before a gap ("over 4h 52m 0s of data" where the window held 4h 48m,
// t-user11 #6). A window whose ratio reads
// a tier (ratioTier) counts the data that ratio reads instead: the tier's
// samples up to its watermark, each covering its bucket at least, and the
// raw ones after it: a 30d window is covered by the 1m tier's 30 days when
// the raw samples are kept 15. A hole in the data counts as uncovered,
// however old the oldest sample.
func (r *Reporter) Coverage(ctx context.Context, s SLA, ts time.Time) (map[string]float64, error) {
	var sels [][]*labels.Matcher
	for _, vs := range s.totalMatchers() {
		sels = append(sels, vs.LabelMatchers)
	}
	if len(sels) == 0 {
		return nil, fmt.Errorf("sla %s: no series selector in its total %s", s.Name, s.TotalRate(time.Minute))
	}
	wins := s.coverageWindows()
	end := ts.UnixMilli()
	// The raw samples over the longest window a raw ratio reads, the
	// tiers' over the longest each is read for.
	rawLongest := time.Duration(0)
	tierLongest := map[*tier.Tier]time.Duration{}
	for _, w := range wins {
		if t := r.ratioTier(w, ts); t != nil {
			tierLongest[t] = max(tierLongest[t], w)
		} else {
			rawLongest = max(rawLongest, w)
		}
	}
	var rawSpans [][2]int64
	if rawLongest > 0 {
		var err error
		// A sample up to a lookback before a window covers its start; the
		// newest run is the data still coming in while the time since its
		// last sample is no hole by the series' cadence (the next is not
		// due yet).
		if rawSpans, err = span.ReadOwn(ctx, r.opts.Queryable, sels, ts.Add(-rawLongest).Add(-coverageLookback).UnixMilli(), end, true); err != nil {
			return nil, fmt.Errorf("coverage of sla %s: %w", s.Name, err)
		}
	}
	tierSpans := map[*tier.Tier][][2]int64{}
	for t, w := range tierLongest {
		reach := max(coverageLookback, time.Duration(t.Resolution))
		sp, err := span.Read(ctx, tierReader{qa: r.tiered, name: t.Name()}, sels, ts.Add(-w).Add(-reach).UnixMilli(), end, reach.Milliseconds())
		if err != nil {
			return nil, fmt.Errorf("coverage of sla %s from tier %s: %w", s.Name, t.Name(), err)
		}
		tierSpans[t] = span.Extend(sp, end, reach.Milliseconds())
	}
	out := map[string]float64{}
	for _, w := range wins {
		spans := rawSpans
		if t := r.ratioTier(w, ts); t != nil {
			spans = tierSpans[t]
		}
		held := span.Covered(spans, ts.Add(-w).UnixMilli(), end)
		out[FormatWindow(w)] = min(1, float64(held)/float64(w.Milliseconds()))
	}
	return out, nil
}

// tierReader is a storage.Queryable over the transparent reader whose
// selects read one tier's last value per bucket up to its watermark and
// the raw samples after it aggregated the same way (tier.Queryable.Select):
// the data a ratio read from that tier counts.
type tierReader struct {
	qa   storage.Queryable
	name string
}

func (t tierReader) Querier(mint, maxt int64) (storage.Querier, error) {
	q, err := t.qa.Querier(mint, maxt)
	if err != nil {
		return nil, err
	}
	return tierQuerier{Querier: q, name: t.name, mint: mint, maxt: maxt}, nil
}

type tierQuerier struct {
	storage.Querier
	name       string
	mint, maxt int64
}

// Select reads the selector from the tier (without hints the transparent
// reader reads raw samples).
func (q tierQuerier) Select(ctx context.Context, sortSeries bool, _ *storage.SelectHints, ms ...*labels.Matcher) storage.SeriesSet {
	ms = append(slices.Clip(ms), labels.MustNewMatcher(labels.MatchEqual, tier.TierLabel, q.name))
	return q.Querier.Select(ctx, sortSeries, &storage.SelectHints{Start: q.mint, End: q.maxt}, ms...)
}

// coverageWindows are the SLA's windows and its burn alerts' long and
// short windows.
func (s SLA) coverageWindows() []time.Duration {
	var out []time.Duration
	for _, w := range s.Windows {
		out = append(out, time.Duration(w))
	}
	for _, b := range s.BurnAlerts() {
		for _, w := range []time.Duration{b.Long, b.Short} {
			if !slices.Contains(out, w) {
				out = append(out, w)
			}
		}
	}
	return out
}

// coverageLookback is how far before a window a sample still counts as
// covering its start (PromQL's default lookback).
const coverageLookback = 5 * time.Minute

// read reads one SLA's error ratios and coverage at ts.
func (r *Reporter) read(ctx context.Context, s SLA, ts time.Time) reading {
	ratios, err := r.ErrorRatios(ctx, s, ts)
	if err != nil {
		return reading{err: err}
	}
	cov, err := r.Coverage(ctx, s, ts)
	return reading{ratios: ratios, coverage: cov, err: err}
}

// StatusContext computes every SLA's status now, its figures from a
// reading at most 5 seconds old (a 30d window reads a month of samples),
// its burn state, with Burns set, from the burn alerts at this moment.
func (r *Reporter) StatusContext(ctx context.Context) []Status {
	_, out := r.statuses(ctx)
	return out
}

// statuses is StatusContext with the SLAs it read, one status each.
func (r *Reporter) statuses(ctx context.Context) ([]SLA, []Status) {
	slas, rds := r.readings(ctx)
	var burns map[string]string
	if r.opts.Burns != nil {
		burns = r.opts.Burns()
	}
	out := make([]Status, 0, len(rds))
	for i, s := range slas {
		rd := rds[i]
		var burning *string
		if burns != nil {
			burning = ptr(burns[s.Name])
		}
		// A failed coverage read leaves coverage nil: the figures count
		// as covered, and Error says what failed.
		st := s.evaluateBurning(rd.ratios, rd.coverage, burning)
		if rd.err != nil {
			st.Error = rd.err.Error()
		}
		out = append(out, st)
	}
	return slas, out
}

// readings reads every SLA's ratios and coverage now, or returns the last
// reading when it is under statusCacheFor old, with the SLAs read (one
// reading each, in their order).
func (r *Reporter) readings(ctx context.Context) ([]SLA, []reading) {
	now := r.opts.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cached != nil && !now.Before(r.cachedAt) && now.Sub(r.cachedAt) < statusCacheFor {
		return r.slas, r.cached
	}
	// The answer is shared through the cache: a caller that gives up (a
	// closed tab, a client timeout) must not cancel it for everyone, so the
	// queries run on their own deadline.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), statusQueryTimeout)
	defer cancel()
	out := make([]reading, 0, len(r.slas))
	failed := false
	for _, s := range r.slas {
		rd := r.read(ctx, s, now)
		if rd.err != nil {
			failed = true
			r.opts.Logger.Warn("sla status", "sla", s.Name, "err", rd.err)
		}
		out = append(out, rd)
	}
	if !failed { // an error is not kept: the next caller tries again
		r.cached, r.cachedAt = out, now
	}
	return r.slas, out
}

// Status computes every SLA's status now (for /system/status).
func (r *Reporter) Status() []Status {
	return r.StatusContext(context.Background())
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
	// The same (cached) answer as GET /sla: a 30d window reads a month of
	// raw samples.
	slas, sts := r.statuses(req.Context())
	for i, s := range slas {
		if s.Name != name {
			continue
		}
		st := sts[i]
		if st.Error != "" {
			httpapi.WriteErrorCode(w, http.StatusInternalServerError, httpapi.ErrExec, errors.New(st.Error))
			return
		}
		d := Detail{SLA: s, Status: st}
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
