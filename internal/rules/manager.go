// Package rules evaluates gmc's alerting and recording rules with
// Prometheus's own rules package: rule files, the short threshold form, the
// product's default rules and the rules generated from SLAs. Besides the
// regular interval, a push re-evaluates at once the groups that read the
// pushed metrics (MetricsWritten), so a pushed sample reaches the notification
// pipeline in milliseconds. A push re-evaluates only groups whose alerts it
// can change (not recording-only groups; ServiceSilent only while it is
// active), and a group at most once per gap that grows with its own
// evaluation time, so an expensive group cannot take gmc's CPU from ingest. Alert state is served in the Prometheus API
// format and every pending / firing / resolved transition is recorded in the
// alert history (package alerthistory), which survives restarts.
package rules

import (
	"cmp"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/url"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	promrules "github.com/prometheus/prometheus/rules"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/util/strutil"
	"gopkg.in/yaml.v3"

	"github.com/gmc-dev/gmc/internal/alerthistory"
	"github.com/gmc-dev/gmc/internal/sla"
	"github.com/gmc-dev/gmc/internal/tier"
)

//go:embed defaults.yml
var defaultRulesYAML []byte

// DefaultRules returns the YAML of gmc's default rules (CPU > 90%, memory >
// 85%, p99 order latency > 1ms, target down, pushed service silent).
func DefaultRules() []byte { return slices.Clone(defaultRulesYAML) }

// Identifiers of the built-in rule sources, shown as the "file" of their
// groups in /api/v1/rules.
const (
	DefaultsFile   = "gmc:defaults"
	ThresholdsFile = "gmc:thresholds"
	SLAFile        = "gmc:sla"
)

// DefaultMinNotifyGap is the default Options.MinNotifyGap: well inside the
// push → notification goal of 250 ms at p99, and enough to keep a group
// that reads a busy pushed metric to at most 20 evaluations a second.
const DefaultMinNotifyGap = 50 * time.Millisecond

// DefaultMaxNotifyGap is the default Options.MaxNotifyGap: an expensive
// group still answers a push within about a second.
const DefaultMaxNotifyGap = time.Second

// pushCostFactor: a group is re-evaluated on pushes at most once per
// pushCostFactor × its last evaluation's duration (within MinNotifyGap and
// MaxNotifyGap), so pushes keep each group to about 1/pushCostFactor of a
// core. A 1 ms threshold group keeps the 50 ms gap; the soak's recording
// group (58 ms on a loaded box) gets 580 ms.
const pushCostFactor = 10

// DefaultResendDelay is how often a firing alert is sent again, as
// Prometheus's --rules.alert.resend-delay.
const DefaultResendDelay = time.Minute

// Options configure a Manager.
type Options struct {
	// Appendable receives the recording rules' samples and the ALERTS and
	// ALERTS_FOR_STATE series.
	Appendable storage.AppendableV2
	Queryable  storage.Queryable
	// Engine runs the rules' queries: the server's one PromQL engine, which
	// must enable delayed name removal (the default ServiceSilent rule needs
	// it, see defaults.yml). Required.
	Engine     *promql.Engine
	Logger     *slog.Logger
	Registerer prometheus.Registerer
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// History records every alert's state transitions; the server opens
	// and closes it. Nil: a history in memory only.
	History *alerthistory.History
	// Files are globs of Prometheus rule files.
	Files []string
	// Thresholds and SLAs must be normalised and valid (config.Load, or
	// Normalise then Validate); New does not check them again.
	Thresholds   []Threshold
	DefaultRules bool
	// DownAfter is when the default ServiceSilent alert fires for a pushed
	// service that sent nothing (server.down_after, DefaultDownAfter when
	// zero); ServiceDownAfter overrides it per service.
	DownAfter        time.Duration
	ServiceDownAfter map[string]time.Duration
	// Started is when gmc began taking samples. ServiceSilent and
	// TargetDown judge only a silence gmc watched: a service is not
	// silent, nor a target down, until gmc has been up for its down_after
	// (see watchedOnly). Zero: Run's start; tests stepping EvalAll with a
	// synthetic clock and no Started get no such hold.
	Started time.Time
	// IngestStall, if set, is gmc's latest ingest stall: from when it
	// began until when it ended, or now while it goes on
	// (ingest.Ingester.Stalled; both zero if none). Samples sent meanwhile
	// may not be stored yet, so silence is judged from its end as from
	// Started.
	IngestStall func(now time.Time) (from, until time.Time)
	// EvalInterval is the regular evaluation interval of groups that set
	// none; default 10s.
	EvalInterval time.Duration
	// MinNotifyGap is the least time between the starts of two evaluations
	// of a group triggered by MetricsWritten, so a stream of pushes re-evaluates a
	// group at most once per gap rather than back to back. A push arriving
	// later than the gap after the last push-triggered evaluation is
	// evaluated at once; one arriving sooner waits out the rest of the gap
	// (or until the group's regular evaluation, whichever comes first).
	// Zero means DefaultMinNotifyGap; negative means no gap (and no
	// adaptive gap either).
	MinNotifyGap time.Duration
	// MaxNotifyGap bounds the adaptive gap: a group whose evaluation takes
	// d is re-evaluated on pushes at most once per pushCostFactor × d,
	// clamped to [MinNotifyGap, MaxNotifyGap]. Zero means
	// DefaultMaxNotifyGap.
	MaxNotifyGap time.Duration
	// ExternalURL prefixes the alerts' GeneratorURL.
	ExternalURL string
	// Sink receives alerts as Prometheus sends them to Alertmanager: a new
	// firing alert at once, then again every DefaultResendDelay, with
	// EndsAt = now + 4×max(DefaultResendDelay, interval) (at least 4m);
	// resolved alerts at once with EndsAt = the resolve time (re-sent every
	// DefaultResendDelay for 15 minutes). It is called from the evaluating
	// goroutine and must not block.
	Sink func([]*model.Alert)
	SLAs []sla.SLA
	// SLAQueryable, when set, is what the SLA groups read instead of
	// Queryable: the server's tiered reader that reads a tier over a long
	// window only when its edge buckets weigh little (see the server).
	SLAQueryable storage.Queryable
	// SLALastErrors, when set, reads when the newest errors of SLA name's
	// burn-rate alert of short window short were counted, as of at
	// (sla.Reporter.LastErrors, what the dashboard's drain hint reads): a
	// firing SLAErrorBudgetBurn sent after they ended, or while none have
	// come since, says so (sla.Drain.Annotate).
	SLALastErrors func(ctx context.Context, name string, short time.Duration, at time.Time) (sla.Drain, bool, error)
}

// Manager evaluates the rule groups, keeps alert state and records its
// transitions in the alert history.
type Manager struct {
	opts   Options
	logger *slog.Logger
	engine *promql.Engine
	// groups are the rule groups, sorted by file and name; UpdateSLAs
	// swaps the slice whole (readers take it with list).
	groups  atomic.Pointer[[]*group]
	history *alerthistory.History
	metrics metrics
	// recorded holds the names recording rules write, swapped with groups.
	recorded atomic.Pointer[map[string]struct{}]
	// started is Options.Started, or the first of Run's start and a
	// SilenceHold call (startedAt): unix nanoseconds, 0 not yet.
	started atomic.Int64
	// live is the services' down_after (Options.DownAfter,
	// ServiceDownAfter), swapped whole by UpdateRules.
	live atomic.Pointer[liveness]
	// liveReloaded: a reload changed live after the start. An alert
	// already active then stays judged through the hold its new
	// down_after gives (watchedOnly), as through an ingest stall's.
	liveReloaded atomic.Bool
	// slaOpts are the options the SLA groups are loaded with (their query
	// function reads SLAQueryable); parser parses their rules.
	slaOpts *promrules.ManagerOptions
	parser  parser.Parser
	// ruleOpts are the options the other groups are loaded with
	// (UpdateRules loads the rule files' and thresholds' again).
	ruleOpts *promrules.ManagerOptions
	// slas are the SLAs the SLA groups were built from, and interval the
	// evaluation interval of the groups that set none (both guarded by
	// runMu; Options.EvalInterval until UpdateRules changes it).
	slas     []sla.SLA
	interval time.Duration
	// slaInterval is the interval the SLA groups were loaded with.
	slaInterval time.Duration

	// runMu serialises UpdateSLAs with Run's start and end; it guards
	// runCtx and stopping.
	runMu sync.Mutex
	// runCtx is Run's context while it runs (nil before); stopping is set
	// once Run waits for its groups, which then no longer start.
	runCtx   context.Context
	stopping bool
	// wg counts the groups' goroutines.
	wg sync.WaitGroup
}

// list returns the rule groups, sorted by file and name. The slice is never
// changed in place.
func (m *Manager) list() []*group {
	if p := m.groups.Load(); p != nil {
		return *p
	}
	return nil
}

// groupKey is the context key under which evalGroup passes its group to
// the query and notify functions Prometheus's rules package calls back.
type groupKey struct{}

type metrics struct {
	triggered   prometheus.Counter
	notifyCalls prometheus.Counter
	alertsSent  prometheus.Counter
	historyErrs prometheus.Counter
	// Per group (rule_group as Prometheus's rule metrics label it):
	pushGap     *prometheus.GaugeVec
	pushEvals   *prometheus.CounterVec
	pushSeconds *prometheus.CounterVec
	pushIgnored *prometheus.CounterVec
}

// pushMode is how a group answers pushes of a metric it reads.
type pushMode int

const (
	// pushAlways: every push is evaluated (after the gap).
	pushAlways pushMode = iota
	// pushWhileActive: a push can only resolve the group's alerts
	// (ServiceSilent: a new sample makes a service's newest sample newer),
	// so pushes are evaluated only while one is pending or firing.
	pushWhileActive
	// pushNever: the group runs on its interval only (recording rules
	// only: a push changes no alert; or a timer-only group).
	pushNever
)

// group is one rule group with its trigger and what it reads.
type group struct {
	g   *promrules.Group
	sel selectors
	// trigger holds at most one pending MetricsWritten: pushes arriving while an
	// evaluation is in flight coalesce into one more evaluation.
	trigger chan struct{}
	push    pushMode
	// stop ends the group's goroutine (closed once, when UpdateSLAs
	// replaces or removes the group); done is closed when it has ended.
	// Both nil until Run starts it.
	stop, done chan struct{}
	// active: one of the group's alerts was pending or firing after its
	// last evaluation (read by MetricsWritten for pushWhileActive).
	active atomic.Bool
	// Its children of the per-group push metrics.
	gapGauge    prometheus.Gauge
	evalsCount  prometheus.Counter
	secondsSum  prometheus.Counter
	ignoreCount prometheus.Counter

	// hold, for ServiceSilent and TargetDown and a group with an alert on
	// absent() or absent_over_time(): its alerts are held until gmc has
	// watched for a service's down_after (watchedOnly, Manager.live).
	// held names the queries held (the absent() alerts' of a user group);
	// nil: all.
	hold bool
	held map[string]bool

	mu       sync.Mutex // serializes evaluations; guards the fields below
	last     time.Time
	restored bool
	evals    int       // since start
	first    time.Time // the first evaluation since start
	// reach is the longest range its alerting rules read back over (a
	// range selector's or subquery's): until the first evaluation is that
	// old, an alert's absence after a restart may be the data's (rate
	// needs two samples since the restart), not its condition's.
	reach time.Duration
	seen  map[uint64]seenAlert
	// orphansDone: the episodes open at the last stop that no alert
	// continued have been ended (track).
	orphansDone bool
	// refired holds, by alert (labels hash), when the episodes open and
	// firing at the last stop first fired: such an alert firing again
	// continues its episode, and its notifications and history say so
	// (StartsAt, FiredAt), not the restart's time. An entry goes once its
	// alert fires, or is gone after the restart's orphans are settled.
	refired map[uint64]time.Time
	// resolved holds, by alert (labels hash), the resolved_summary
	// rendered when it resolved (resolvedSummary), for its re-sends.
	resolved map[uint64]resolvedText
}

type seenAlert struct {
	state    promrules.AlertState
	activeAt time.Time
	labels   map[string]string
}

// New loads every rule source; evaluation starts in Run.
func New(opts Options) (*Manager, error) {
	if opts.Appendable == nil || opts.Queryable == nil {
		return nil, errors.New("rules: Appendable and Queryable are required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Registerer == nil {
		opts.Registerer = prometheus.NewRegistry()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.EvalInterval <= 0 {
		opts.EvalInterval = 10 * time.Second
	}
	if opts.MinNotifyGap == 0 {
		opts.MinNotifyGap = DefaultMinNotifyGap
	}
	if opts.MaxNotifyGap <= 0 {
		opts.MaxNotifyGap = DefaultMaxNotifyGap
	}
	if opts.History == nil {
		h, err := alerthistory.Open(alerthistory.Options{Logger: opts.Logger, Now: opts.Now})
		if err != nil {
			return nil, err
		}
		opts.History = h
	}
	if opts.Sink == nil {
		opts.Sink = func([]*model.Alert) {}
	}
	engine := opts.Engine
	if engine == nil {
		return nil, errors.New("rules: an engine is required (the server's one PromQL engine)")
	}
	m := &Manager{opts: opts, logger: opts.Logger, engine: engine, interval: opts.EvalInterval}
	if !opts.Started.IsZero() {
		m.started.Store(opts.Started.UnixNano())
	}
	f := promauto.With(opts.Registerer)
	m.metrics = metrics{
		triggered: f.NewCounter(prometheus.CounterOpts{
			Name: "gmc_rules_triggered_evaluations_total",
			Help: "Rule group evaluations triggered by pushed data (besides the regular interval).",
		}),
		notifyCalls: f.NewCounter(prometheus.CounterOpts{
			Name: "gmc_rules_notify_calls_total",
			Help: "Calls of MetricsWritten by ingest.",
		}),
		alertsSent: f.NewCounter(prometheus.CounterOpts{
			Name: "gmc_rules_alerts_sent_total",
			Help: "Alerts handed to the notification pipeline (firing re-sends and resolved included).",
		}),
		historyErrs: f.NewCounter(prometheus.CounterOpts{
			Name: "gmc_rules_history_write_errors_total",
			Help: "Alert history events that could not be written to disk.",
		}),
		pushGap: f.NewGaugeVec(prometheus.GaugeOpts{
			Name: "gmc_rules_push_gap_seconds",
			Help: "Least time between the starts of two push-triggered evaluations of a group: 10 × its last evaluation's duration, within the minimum and maximum notify gap.",
		}, []string{"rule_group"}),
		pushEvals: f.NewCounterVec(prometheus.CounterOpts{
			Name: "gmc_rules_push_evaluations_total",
			Help: "Evaluations of a group triggered by pushed data.",
		}, []string{"rule_group"}),
		pushSeconds: f.NewCounterVec(prometheus.CounterOpts{
			Name: "gmc_rules_push_evaluation_seconds_total",
			Help: "Time spent in push-triggered evaluations of a group (wall clock, waits for a query slot included).",
		}, []string{"rule_group"}),
		pushIgnored: f.NewCounterVec(prometheus.CounterOpts{
			Name: "gmc_rules_push_ignored_total",
			Help: "Pushes of a metric a group reads that did not re-evaluate it because they cannot change its alerts: recording-only groups, ServiceSilent while nothing is silent.",
		}, []string{"rule_group"}),
	}

	ld := loader{mem: map[string][]byte{}, parser: parser.NewParser(parser.Options{}), logger: opts.Logger}
	var ids []string
	ids, mem, err := ruleSources(RuleConfig{Files: opts.Files, Thresholds: opts.Thresholds,
		DefaultRules: opts.DefaultRules, DownAfter: opts.DownAfter, ServiceDownAfter: opts.ServiceDownAfter})
	if err != nil {
		return nil, err
	}
	maps.Copy(ld.mem, mem)

	var ext *url.URL
	if opts.ExternalURL != "" {
		u, err := url.Parse(opts.ExternalURL)
		if err != nil {
			return nil, fmt.Errorf("parse external url %q: %w", opts.ExternalURL, err)
		}
		ext = u
	}
	mo := &promrules.ManagerOptions{
		ExternalURL:     ext,
		QueryFunc:       m.watchedOnly(promrules.EngineQueryFunc(tier.Engine(engine), opts.Queryable)),
		NotifyFunc:      m.send,
		Context:         context.Background(),
		AppendableV2:    opts.Appendable,
		Queryable:       opts.Queryable,
		Logger:          slog.New(quietCanceled{opts.Logger.Handler()}),
		Registerer:      opts.Registerer,
		OutageTolerance: time.Hour,
		ForGracePeriod:  10 * time.Minute,
		// As Prometheus: a firing alert is re-sent once a minute (new and
		// resolved ones at once) with EndsAt = now + 4 × max(resend delay,
		// interval), so an outage of a few minutes between gmc and an
		// Alertmanager resolves nothing.
		ResendDelay: DefaultResendDelay,
		GroupLoader: ld,
		Parser:      ld.parser,
	}
	pm := promrules.NewManager(mo) // sets mo.Metrics: the SLA groups' managers share them
	m.parser = ld.parser
	m.ruleOpts, m.slaOpts = mo, mo
	if opts.SLAQueryable != nil {
		// The SLA groups read SLAQueryable.
		smo := *mo
		smo.QueryFunc = promrules.EngineQueryFunc(tier.Engine(engine), opts.SLAQueryable)
		m.slaOpts = &smo
	}
	loaded, errs := pm.LoadGroups(opts.EvalInterval, labels.EmptyLabels(), opts.ExternalURL, nil, false, ids...)
	if len(errs) > 0 {
		return nil, fmt.Errorf("load rules: %w", errors.Join(errs...))
	}
	slaLoaded, err := m.loadSLAGroups(opts.SLAs, opts.EvalInterval)
	if err != nil {
		return nil, err
	}
	m.slas, m.slaInterval = slices.Clone(opts.SLAs), opts.EvalInterval
	maps.Copy(loaded, slaLoaded)
	keys := make([]string, 0, len(loaded))
	for k := range loaded {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	m.history = opts.History
	m.live.Store(newLiveness(opts.DownAfter, opts.ServiceDownAfter))
	var groups []*group
	for _, k := range keys {
		g := loaded[k]
		gr := m.newGroup(g)
		for _, ep := range m.history.Unadopted(g.Name()) {
			if ep.State == "firing" && ep.FiredAt != nil {
				gr.refired[labels.FromMap(ep.Labels).Hash()] = *ep.FiredAt
			}
		}
		groups = append(groups, gr)
	}
	m.setGroups(groups)

	// Episodes open at the last stop whose rule is gone end now.
	known := map[string]bool{}
	for _, gr := range m.list() {
		known[gr.g.Name()] = true
	}
	for _, ep := range m.history.Orphans(func(g string) bool { return !known[g] }) {
		if err := m.history.Add(orphanEvent(ep, opts.Now())); err != nil {
			m.metrics.historyErrs.Inc()
			m.logger.Error("record alert history", "err", err)
		}
	}
	return m, nil
}

// RuleConfig is what the groups other than the SLAs' are built from:
// the default rules (with the services' down_after), the thresholds and
// the rule files (as in Options).
type RuleConfig struct {
	// EvalInterval is the evaluation interval of the groups that set
	// none, the SLAs' included; zero keeps the one in force.
	EvalInterval     time.Duration
	Files            []string
	Thresholds       []Threshold
	DefaultRules     bool
	DownAfter        time.Duration
	ServiceDownAfter map[string]time.Duration
}

// ruleSources are the rule sources of c: the default rules' and the
// thresholds' (in mem, by name) and the files' globs, to load in this
// order.
func ruleSources(c RuleConfig) (ids []string, mem map[string][]byte, err error) {
	mem = map[string][]byte{}
	if c.DefaultRules {
		mem[DefaultsFile] = defaultRulesYAML
		b, err := yaml.Marshal(rulefmt.RuleGroups{Groups: []rulefmt.RuleGroup{
			newestSampleGroup(), // first: EvalAll evaluates in this order
			serviceSilentGroup(cmp.Or(c.DownAfter, DefaultDownAfter), c.ServiceDownAfter),
			targetDownGroup(cmp.Or(c.DownAfter, DefaultDownAfter), c.ServiceDownAfter),
		}})
		if err != nil {
			return nil, nil, fmt.Errorf("marshal ServiceSilent rule: %w", err)
		}
		mem[ServiceSilentFile] = b
		ids = append(ids, DefaultsFile, ServiceSilentFile)
	}
	if len(c.Thresholds) > 0 {
		b, err := yaml.Marshal(thresholdGroups(c.Thresholds))
		if err != nil {
			return nil, nil, fmt.Errorf("marshal thresholds: %w", err)
		}
		mem[ThresholdsFile] = b
		ids = append(ids, ThresholdsFile)
	}
	for i, pat := range c.Files {
		matches, err := filepath.Glob(pat)
		if err != nil {
			return nil, nil, fmt.Errorf("alerting.rule_files[%d]: %q: %w", i, pat, err)
		}
		ids = append(ids, matches...)
	}
	return ids, mem, nil
}

// reachOf is the longest range e reads back over: its range selectors'
// and subqueries' ranges.
func reachOf(e parser.Expr) time.Duration {
	var d time.Duration
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		switch n := n.(type) {
		case *parser.MatrixSelector:
			d = max(d, n.Range)
		case *parser.SubqueryExpr:
			d = max(d, n.Range)
		}
		return nil
	})
	return d
}

// newGroup wraps a loaded rule group: what it reads, how it answers
// pushes, its children of the per-group metrics.
func (m *Manager) newGroup(g *promrules.Group) *group {
	gr := &group{g: g, trigger: make(chan struct{}, 1), seen: map[uint64]seenAlert{}, push: pushModeOf(g),
		refired: map[uint64]time.Time{}}
	if isSilenceGroup(g) {
		gr.hold = true
	} else if held := absentAlerts(g); len(held) > 0 {
		gr.hold, gr.held = true, held
	}
	for _, r := range g.Rules() {
		if !isTimerOnly(g.Name()) { // long reads: on its interval only
			gr.sel.add(r.Query())
		}
	}
	for _, r := range g.AlertingRules() {
		gr.reach = max(gr.reach, reachOf(r.Query()))
	}
	key := promrules.GroupKey(g.File(), g.Name())
	gr.evalsCount = m.metrics.pushEvals.WithLabelValues(key)
	gr.secondsSum = m.metrics.pushSeconds.WithLabelValues(key)
	gr.ignoreCount = m.metrics.pushIgnored.WithLabelValues(key)
	if gr.push != pushNever {
		gr.gapGauge = m.metrics.pushGap.WithLabelValues(key)
		gr.gapGauge.Set(max(m.opts.MinNotifyGap, 0).Seconds())
	}
	return gr
}

// setGroups makes groups (sorted by file and name) the manager's, and the
// names their recording rules write the recorded ones.
func (m *Manager) setGroups(groups []*group) {
	rec := map[string]struct{}{}
	for _, gr := range groups {
		for _, r := range gr.g.Rules() {
			if rr, ok := r.(*promrules.RecordingRule); ok {
				rec[rr.Name()] = struct{}{}
			}
		}
	}
	m.recorded.Store(&rec)
	m.groups.Store(&groups)
}

// loadSLAGroups builds the rule groups of the SLAs (sla.SLA.RuleGroups),
// keyed as promrules.GroupKey, through rulefmt's parser and validation;
// those that set no interval get interval.
func (m *Manager) loadSLAGroups(slas []sla.SLA, interval time.Duration) (map[string]*promrules.Group, error) {
	var rgs rulefmt.RuleGroups
	for _, s := range slas {
		rgs.Groups = append(rgs.Groups, s.RuleGroups()...)
	}
	if len(rgs.Groups) == 0 {
		return map[string]*promrules.Group{}, nil
	}
	b, err := yaml.Marshal(rgs)
	if err != nil {
		return nil, fmt.Errorf("marshal sla rules: %w", err)
	}
	o := *m.slaOpts
	o.GroupLoader = loader{mem: map[string][]byte{SLAFile: b}, parser: m.parser, logger: m.logger}
	loaded, errs := promrules.NewManager(&o).LoadGroups(interval, labels.EmptyLabels(), m.opts.ExternalURL, nil, false, SLAFile)
	if len(errs) > 0 {
		return nil, fmt.Errorf("load rules: %w", errors.Join(errs...))
	}
	return loaded, nil
}

// isSilenceGroup reports whether g is the default ServiceSilent's or
// TargetDown's group.
func isSilenceGroup(g *promrules.Group) bool {
	return g.File() == ServiceSilentFile && (g.Name() == serviceSilentGroupName || g.Name() == targetDownGroupName)
}

// liveness is the services' down_after: the default, the per-service
// overrides and the longest of them (how long the hold can last).
type liveness struct {
	def     time.Duration
	service map[string]time.Duration
	max     time.Duration
}

// newLiveness is the liveness of Options.DownAfter (DefaultDownAfter
// when zero) and Options.ServiceDownAfter.
func newLiveness(def time.Duration, service map[string]time.Duration) *liveness {
	l := &liveness{def: cmp.Or(def, DefaultDownAfter)}
	l.max = l.def
	for svc, d := range service {
		if d > 0 {
			if l.service == nil {
				l.service = map[string]time.Duration{}
			}
			l.service[svc] = d
			l.max = max(l.max, d)
		}
	}
	return l
}

// after is service's down_after.
func (l *liveness) after(service string) time.Duration {
	if d, ok := l.service[service]; ok {
		return d
	}
	return l.def
}

// pushModeOf is how g answers pushes: never for timer-only groups and
// groups of recording rules only, while active for ServiceSilent, else
// always.
func pushModeOf(g *promrules.Group) pushMode {
	switch {
	case isTimerOnly(g.Name()) || len(g.AlertingRules()) == 0:
		return pushNever
	case g.File() == ServiceSilentFile && g.Name() == serviceSilentGroupName:
		return pushWhileActive
	}
	return pushAlways
}

// Writes reports whether gmc's rules write series named metricName: the
// alerts' ALERTS and ALERTS_FOR_STATE and every recording rule's output.
// Such series say nothing of whether a service is alive.
func (m *Manager) Writes(metricName string) bool {
	if metricName == "ALERTS" || metricName == "ALERTS_FOR_STATE" {
		return true
	}
	_, ok := (*m.recorded.Load())[metricName]
	return ok
}

// Groups returns the rule groups, sorted by file and name.
func (m *Manager) Groups() []*promrules.Group {
	groups := m.list()
	out := make([]*promrules.Group, len(groups))
	for i, gr := range groups {
		out[i] = gr.g
	}
	return out
}

// Run evaluates every group at its interval and whenever MetricsWritten names a
// metric it reads, until ctx is done. Each group is evaluated right away.
func (m *Manager) Run(ctx context.Context) error {
	m.startedAt()
	m.runMu.Lock()
	m.runCtx = ctx
	for _, gr := range m.list() {
		m.startGroup(gr)
	}
	m.runMu.Unlock()
	<-ctx.Done()
	m.runMu.Lock()
	m.stopping = true // UpdateSLAs starts no group from now on
	m.runMu.Unlock()
	m.wg.Wait()
	return nil
}

// startGroup runs gr's evaluations in a goroutine of its own until Run's
// context is done or stopGroup. The caller holds runMu, Run has begun and
// is not stopping.
func (m *Manager) startGroup(gr *group) {
	gr.stop, gr.done = make(chan struct{}), make(chan struct{})
	ctx := m.runCtx
	m.wg.Go(func() {
		defer close(gr.done)
		m.runGroup(ctx, gr)
	})
}

// stopGroup ends gr's goroutine, if it runs, and waits for it: an
// evaluation in flight completes.
func (m *Manager) stopGroup(gr *group) {
	if gr.stop == nil {
		return
	}
	close(gr.stop)
	<-gr.done
}

func (m *Manager) runGroup(ctx context.Context, gr *group) {
	tick := time.NewTicker(gr.g.Interval())
	defer tick.Stop()
	// triggered is when the last push-triggered evaluation began, on the
	// monotonic clock (opts.Now may be a synthetic clock); the gap is
	// measured from it. Regular evaluations do not hold pushes back.
	var triggered time.Time
	gap := m.gap(gr, m.evalGroup(ctx, gr, m.opts.Now()))
	for {
		byPush := false
		select {
		case <-ctx.Done():
			return
		case <-gr.stop:
			return
		case <-tick.C:
		case <-gr.trigger:
			var ok bool
			if byPush, ok = waitGap(ctx, gr.stop, tick.C, triggered, gap); !ok {
				return
			}
		}
		if ctx.Err() != nil {
			return
		}
		select {
		case <-gr.stop:
			return
		default:
		}
		// Pushes notified so far are committed: this evaluation reads
		// them, so a trigger they left (e.g. during the gap) is spent.
		select {
		case <-gr.trigger:
		default:
		}
		if byPush {
			m.metrics.triggered.Inc()
			gr.evalsCount.Inc()
			triggered = time.Now()
		}
		took := m.evalGroup(ctx, gr, m.opts.Now())
		if byPush {
			gr.secondsSum.Add(took.Seconds())
		}
		gap = m.gap(gr, took)
	}
}

// gap is the least time between the starts of two push-triggered
// evaluations of gr after an evaluation that took took: pushCostFactor ×
// took, clamped to [MinNotifyGap, MaxNotifyGap]; none if MinNotifyGap is
// negative.
func (m *Manager) gap(gr *group, took time.Duration) time.Duration {
	if m.opts.MinNotifyGap < 0 {
		return 0
	}
	g := min(max(pushCostFactor*took, m.opts.MinNotifyGap), max(m.opts.MaxNotifyGap, m.opts.MinNotifyGap))
	if gr.gapGauge != nil {
		gr.gapGauge.Set(g.Seconds())
	}
	return g
}

// waitGap waits until gap has passed since the last push-triggered
// evaluation began (at last), or the group's regular tick comes first (that
// evaluation serves the push too: byPush is then false). Pushes arriving
// meanwhile are served by the evaluation that follows. ok is false when ctx
// is done or stop closed.
func waitGap(ctx context.Context, stop <-chan struct{}, tick <-chan time.Time, last time.Time, gap time.Duration) (byPush, ok bool) {
	wait := gap - time.Since(last)
	if last.IsZero() || wait <= 0 {
		return true, true
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false, false
	case <-stop:
		return false, false
	case <-t.C:
		return true, true
	case <-tick:
		return false, true
	}
}

// MetricsWritten tells the manager that metrics were written (ingest calls it after
// each commit). Every group whose rules read one of them and whose alerts a
// push can change (see pushMode) is evaluated as soon as its current
// evaluation, if any, ends and its gap (see Options.MaxNotifyGap) has
// passed since its last push-triggered evaluation began; calls that arrive
// meanwhile coalesce into that one evaluation. It never blocks.
func (m *Manager) MetricsWritten(metricNames []string) {
	m.metrics.notifyCalls.Inc()
	for _, gr := range m.list() {
		if gr.push == pushNever || !gr.sel.readsAny(metricNames) {
			continue
		}
		if gr.push == pushWhileActive && !gr.active.Load() {
			gr.ignoreCount.Inc()
			continue
		}
		select {
		case gr.trigger <- struct{}{}:
		default:
		}
	}
}

// EvalAll evaluates every group once at ts, in order, as Run would (sink,
// state and history included). Tests use it to step a clock.
func (m *Manager) EvalAll(ctx context.Context, ts time.Time) {
	for _, gr := range m.list() {
		m.evalGroup(ctx, gr, ts)
	}
}

// evalGroup evaluates gr at ts (moved just past the previous evaluation if
// needed, so samples stay in order), restores `for` state after the first
// evaluation as Prometheus does, and records state transitions. It returns
// how long the evaluation took.
func (m *Manager) evalGroup(ctx context.Context, gr *group, ts time.Time) time.Duration {
	gr.mu.Lock()
	defer gr.mu.Unlock()
	if !ts.After(gr.last) {
		ts = gr.last.Add(time.Millisecond)
	}
	gr.last = ts
	gr.evals++
	if gr.evals == 1 {
		gr.first = ts
	}
	start := time.Now()
	promrules.DefaultEvalIterationFunc(context.WithValue(ctx, groupKey{}, gr), gr.g, ts)
	took := time.Since(start)
	if !gr.restored {
		gr.g.RestoreForState(ts)
		gr.restored = true
	}
	m.track(gr, ts)
	active := false
	for _, ar := range gr.g.AlertingRules() {
		ar.ForEachActiveAlert(func(a *promrules.Alert) {
			active = active || a.State != promrules.StateInactive
		})
	}
	gr.active.Store(active)
	return took
}

// watchedOnly wraps the rules' query function. For ServiceSilent and
// TargetDown it keeps only the services gmc has watched for their
// down_after: after gmc (re)starts, a service whose newest sample is old
// is not called silent, nor a target down on its first failed scrapes,
// before it has had its down_after since the start to reach gmc. A silence
// that began while gmc was down is gmc's, not the service's, until then;
// one that lasts past it fires with its true age. So ServiceSilent fires
// when now − max(newest sample, start) > down_after, as a Prometheus
// alert on a target fires only on scrapes Prometheus made itself. (A `for:`
// would instead delay every real outage's page by its length.)
// The same holds after gmc's own ingest stalled (IngestStall: a write
// request took seconds, or its client gave up and will send again): a
// service is not called silent before its down_after since the stall
// ended. An alert already active for a service stays judged, so a stall
// neither starts nor ends a page.
// A user's alert on absent() or absent_over_time() (absentAlerts) is held
// alike: each of its series for the down_after of its service label (the
// default down_after without one).
func (m *Manager) watchedOnly(qf promrules.QueryFunc) promrules.QueryFunc {
	return func(ctx context.Context, q string, ts time.Time) (promql.Vector, error) {
		v, err := qf(ctx, q, ts)
		gr, _ := ctx.Value(groupKey{}).(*group)
		if err != nil || gr == nil || !gr.hold || gr.held != nil && !gr.held[q] {
			return v, err
		}
		since, h := m.watchedSince(ts)
		if since.IsZero() {
			return v, nil
		}
		watched := ts.Sub(since)
		lv := m.live.Load()
		if watched > lv.max {
			return v, nil
		}
		var active map[string]bool
		if h.Cause == HoldIngestStall || m.liveReloaded.Load() {
			active = activeServices(gr, q)
		}
		out := v[:0]
		for _, s := range v {
			svc := s.Metric.Get("service")
			if watched > lv.after(svc) || active[svc] {
				out = append(out, s)
			}
		}
		return out, nil
	}
}

// Causes of a Hold.
const (
	HoldRestart     = "restart"
	HoldIngestStall = "ingest_stall"
)

// Hold is why a service's silence is not judged now: gmc has not watched
// it for its down_after since gmc started, or since its own ingest stall
// ended.
type Hold struct {
	// Cause is HoldRestart or HoldIngestStall.
	Cause string
	// Since is when gmc started taking samples, or when the stall began.
	Since time.Time
	// Until is when the stall ended; zero while it goes on, and for a
	// restart.
	Until time.Time
	// JudgedFrom is when the service's silence is judged again: its
	// down_after after the start or the stall's end (zero while the stall
	// goes on).
	JudgedFrom time.Time
}

// startedAt is when gmc began taking samples: Options.Started, else the
// first call (Run's start, or a SilenceHold asked for before Run got to
// it).
func (m *Manager) startedAt() time.Time {
	m.started.CompareAndSwap(0, m.opts.Now().UnixNano())
	return time.Unix(0, m.started.Load())
}

// watchedSince is when gmc began watching the services, as of ts: its
// start, or the end of its latest ingest stall (ts while one goes on),
// with the Hold that says which (without JudgedFrom). Zero when no start
// is known (tests stepping EvalAll without Run or Started).
func (m *Manager) watchedSince(ts time.Time) (time.Time, Hold) {
	ns := m.started.Load()
	if ns == 0 {
		return time.Time{}, Hold{}
	}
	since := time.Unix(0, ns)
	h := Hold{Cause: HoldRestart, Since: since}
	if f := m.opts.IngestStall; f != nil {
		if from, until := f(ts); until.After(since) {
			since = until
			h = Hold{Cause: HoldIngestStall, Since: from}
			if until.Before(ts) {
				h.Until = until
			}
		}
	}
	return since, h
}

// Watching is when gmc began watching the services, as of now: its start,
// or the end of its latest ingest stall (now while one goes on), and the
// Hold that says which (JudgedFrom unset: it depends on a down_after).
// /system/status gives it for what is judged by other thresholds than a
// service's down_after (the dashboard's host states).
func (m *Manager) Watching(now time.Time) (time.Time, Hold) {
	m.startedAt()
	return m.watchedSince(now)
}

// SilenceHold says whether the silence of service is judged at now, as
// ServiceSilent and TargetDown judge it (watchedOnly), and if not, why:
// /system/status then says it does not know the service's state, where it
// would have called it stale or down. During an ingest stall a service
// whose silence alert is already active stays judged.
func (m *Manager) SilenceHold(now time.Time, service string) (Hold, bool) {
	m.startedAt()
	since, h := m.watchedSince(now)
	d := m.live.Load().after(service)
	if now.Sub(since) > d {
		return Hold{}, false
	}
	if h.Cause == HoldIngestStall || m.liveReloaded.Load() {
		for _, gr := range m.list() {
			if isSilenceGroup(gr.g) && activeServices(gr, "")[service] {
				return Hold{}, false
			}
		}
	}
	if h.Cause == HoldRestart || !h.Until.IsZero() {
		h.JudgedFrom = since.Add(d)
	}
	return h, true
}

// activeServices are the services with an active (pending or firing)
// alert of gr (of its rules whose query is q, unless q is empty). Called
// from its query function, before the rules take their alerts' lock.
func activeServices(gr *group, q string) map[string]bool {
	out := map[string]bool{}
	for _, r := range gr.g.AlertingRules() {
		if q != "" && r.Query().String() != q {
			continue
		}
		for _, a := range r.ActiveAlerts() {
			out[a.Labels.Get("service")] = true
		}
	}
	return out
}

// absentAlerts are the queries of g's alerting rules that call absent()
// or absent_over_time(): their alerts say a series is missing, which after
// a restart or an ingest stall may be gmc's doing, so they are held as
// ServiceSilent is (watchedOnly). Decided by the expression, as a rule
// on absent() means "nothing arrived", whatever its name.
func absentAlerts(g *promrules.Group) map[string]bool {
	var out map[string]bool
	for _, r := range g.AlertingRules() {
		found := false
		parser.Inspect(r.Query(), func(n parser.Node, _ []parser.Node) error {
			if c, ok := n.(*parser.Call); ok && (c.Func.Name == "absent" || c.Func.Name == "absent_over_time") {
				found = true
			}
			return nil
		})
		if found {
			if out == nil {
				out = map[string]bool{}
			}
			out[r.Query().String()] = true
		}
	}
	return out
}

// send is the rules package's NotifyFunc: it turns the alerts into
// Alertmanager's form and hands them to the sink. An alert continuing an
// episode that fired before a restart starts when that episode fired.
func (m *Manager) send(ctx context.Context, expr string, alerts ...*promrules.Alert) {
	if len(alerts) == 0 {
		return
	}
	// Called back from evalGroup's evaluation, which holds gr.mu, before
	// track (which deletes a refired entry once its alert fires: see
	// track; this order is what keeps the restart's StartsAt).
	gr, _ := ctx.Value(groupKey{}).(*group)
	out := make([]*model.Alert, 0, len(alerts))
	for _, a := range alerts {
		startsAt := a.FiredAt
		if gr != nil {
			if t, ok := gr.refired[a.Labels.Hash()]; ok && t.Before(startsAt) {
				startsAt = t
			}
		}
		ma := &model.Alert{
			Labels:       labelSet(a.Labels),
			Annotations:  labelSet(a.Annotations),
			StartsAt:     startsAt,
			GeneratorURL: m.opts.ExternalURL + strutil.TableLinkForExpression(expr),
		}
		if !a.ResolvedAt.IsZero() {
			ma.EndsAt = a.ResolvedAt
			if gr != nil {
				if text := m.resolvedSummary(ctx, gr, expr, a); text != "" {
					ma.Annotations[ResolvedSummaryAnnotation] = model.LabelValue(text)
				}
			}
		} else {
			ma.EndsAt = a.ValidUntil
			if gr != nil && gr.g.File() == SLAFile {
				m.annotateDrain(ctx, a, ma)
			}
		}
		out = append(out, ma)
	}
	m.metrics.alertsSent.Add(float64(len(out)))
	m.opts.Sink(out)
}

// annotateDrain amends ma, firing burn-rate alert a of an SLA group as
// sent at its evaluation (a.LastSentAt), when no error was counted between
// its newest errors and then (Options.SLALastErrors): its summary,
// rendered from the windows' burn, read as an ongoing burn. Read at every
// send (the first, then once per DefaultResendDelay), so a burn whose
// errors come back reads as one again.
func (m *Manager) annotateDrain(ctx context.Context, a *promrules.Alert, ma *model.Alert) {
	if m.opts.SLALastErrors == nil || a.Labels.Get(labels.AlertName) != sla.AlertName {
		return
	}
	w := a.Labels.Get("short_window")
	short, err := model.ParseDuration(w)
	if err != nil {
		return
	}
	d, ok, err := m.opts.SLALastErrors(ctx, a.Labels.Get("sla"), time.Duration(short), a.LastSentAt)
	if err != nil {
		m.logger.Warn("read sla errors for the notification", "sla", a.Labels.Get("sla"), "short_window", w, "err", err)
	}
	if ok {
		d.Annotate(ma.Annotations, time.Duration(short), a.LastSentAt)
	}
}

func labelSet(ls labels.Labels) model.LabelSet {
	out := make(model.LabelSet, ls.Len())
	ls.Range(func(l labels.Label) { out[model.LabelName(l.Name)] = model.LabelValue(l.Value) })
	return out
}

// readers returns the names of the groups that read one of the metrics.
func (m *Manager) readers(metricNames []string) []string {
	var out []string
	for _, gr := range m.list() {
		if gr.sel.readsAny(metricNames) {
			out = append(out, gr.g.Name())
		}
	}
	return out
}

// group returns the rule group named name, or nil.
func (m *Manager) group(name string) *promrules.Group {
	for _, gr := range m.list() {
		if gr.g.Name() == name {
			return gr.g
		}
	}
	return nil
}

// quietCanceled is the logger handed to Prometheus's rule manager: it drops
// the records of evaluations cut short by gmc's shutdown (an error that is
// context.Canceled, or the engine's ErrQueryCanceled), which Prometheus logs as "Evaluating rule failed"
// warnings although no rule failed.
type quietCanceled struct{ slog.Handler }

func (h quietCanceled) Handle(ctx context.Context, r slog.Record) error {
	canceled := false
	r.Attrs(func(a slog.Attr) bool {
		var qc promql.ErrQueryCanceled
		if err, ok := a.Value.Any().(error); ok && (errors.Is(err, context.Canceled) || errors.As(err, &qc)) {
			canceled = true
			return false
		}
		return true
	})
	if canceled {
		return nil
	}
	return h.Handler.Handle(ctx, r)
}

func (h quietCanceled) WithAttrs(as []slog.Attr) slog.Handler {
	return quietCanceled{h.Handler.WithAttrs(as)}
}

func (h quietCanceled) WithGroup(name string) slog.Handler {
	return quietCanceled{h.Handler.WithGroup(name)}
}
