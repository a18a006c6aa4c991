// Package notify is gmc's notification pipeline, with Alertmanager's
// semantics: alerts from the rules side are routed by label matchers,
// grouped, deduplicated, muted by silences and delivered over the channels in
// notify/<channel>, with retries and metrics.
//
// Flow: Send → route tree → aggregation group (timers: group_wait,
// group_interval) → per channel: silences, dedup (repeat_interval) → retries →
// channel.Notifier. Receivers of kind alertmanager bypass grouping: they get
// every alert on every Send, as Prometheus forwards to Alertmanager.
package notify

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/alertmanager/timeinterval"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"

	"github.com/gmc-dev/gmc/internal/notify/alertmanager"
	"github.com/gmc-dev/gmc/internal/notify/channel"
	"github.com/gmc-dev/gmc/internal/notify/email"
	"github.com/gmc-dev/gmc/internal/notify/slack"
	"github.com/gmc-dev/gmc/internal/notify/telegram"
	"github.com/gmc-dev/gmc/internal/notify/webhook"
)

// Notifier delivers one notification over one channel.
type Notifier = channel.Notifier

// Notification is one aggregation group's alerts at one flush.
type Notification = channel.Notification

// Retry bounds the retries of a failing delivery: waits start at Initial and
// double up to Max; at most Attempts tries in all.
type Retry struct {
	Initial  time.Duration
	Max      time.Duration
	Attempts int
}

// Options configure a Dispatcher.
type Options struct {
	// Config must be normalised and valid (LoadConfig, or Normalise then
	// Validate, as config.Load does); New does not check it again.
	Config     Config
	Logger     *slog.Logger
	Registerer prometheus.Registerer
	// Now is the clock of alert and silence logic; nil means time.Now.
	// Timers (group_wait, group_interval, retries) run on the real clock.
	Now func() time.Time
	// HTTPClient is used by the HTTP channels; nil means one with a 10 s timeout.
	HTTPClient *http.Client
	// ExternalURL is gmc's address, linked from messages.
	ExternalURL string
	// Retry defaults to 250 ms doubling up to 10 s, 6 attempts.
	Retry Retry
	// Timeout bounds one delivery attempt; 0 means 15 s.
	Timeout time.Duration
	// SilencesFile keeps the silences across restarts when set.
	SilencesFile string
	// SilenceRetention keeps expired silences listed this long; 0 means 5 days.
	SilenceRetention time.Duration
	// InhibitHold is how long an alert an inhibition source muted stays
	// held back after that source resolves (0: DefaultInhibitHold; negative:
	// none, Alertmanager's behaviour). See inhibitor.Holds.
	InhibitHold time.Duration
	// MaxSilences bounds active and pending silences (0: DefaultMaxSilences),
	// MaxSilenceSizeBytes one silence (0: DefaultMaxSilenceSizeBytes); over
	// them a new silence is refused with 400, as by Alertmanager's limits.
	MaxSilences         int
	MaxSilenceSizeBytes int
	// ForwardQueue bounds the alerts waiting for each Alertmanager; 0 means 10000.
	ForwardQueue int
	// HA, when set, shares the notification log with the peers of a highly
	// available group (internal/cluster), as Alertmanager's cluster mode does.
	HA HA
	// NotificationLogFile, without HA, keeps the notification log (what each
	// receiver was told, Alertmanager's nflog) across restarts; empty keeps
	// it in memory only.
	NotificationLogFile string
	// Version is reported by /api/v2/status.
	Version string
	// Outcomes, when set, is told at each flush of an aggregation group
	// (not one inside a mute time interval) what it did with each of its
	// alerts firing: whether a receiver has been told it fires, or what
	// muted it; and of each alert resolved whose resolve a receiver was
	// told at this flush (Outcome.ResolvedNotified). It runs on the
	// group's goroutine: it must not block long.
	Outcomes func([]Outcome)
	// Notifiers, when set, replaces the channels built from Config for the
	// receivers it names (tests and embedders).
	Notifiers map[string][]Notifier
}

// Outcome is what one flush of an aggregation group did with one alert
// firing at it, or with one resolved whose resolve it told a receiver
// (Options.Outcomes).
type Outcome struct {
	Alert *model.Alert
	At    time.Time // the flush
	// Notified: a receiver of the group has been told the alert fires
	// since it started (a notification delivered at this flush, or one
	// the notification log has from since).
	Notified bool
	// InhibitedBy are the labels of the alerts inhibiting it (or holding
	// it back, see inhibitor.Holds), SilencedBy the silences muting it;
	// both empty when it was not muted.
	InhibitedBy []model.LabelSet
	SilencedBy  []Silence
	// ResolvedNotified: the alert had resolved, and a notification
	// holding it resolved was delivered to a receiver at this flush (one
	// with send_resolved). Notified, InhibitedBy and SilencedBy are then
	// empty: they are of alerts firing.
	ResolvedNotified bool
}

// integration is one channel of one receiver.
type integration struct {
	channel      string // "slack", "telegram", ...
	index        int
	receiver     string
	notifier     channel.Notifier
	sendResolved bool
}

// receiver is a receiver's built channels.
type receiver struct {
	name       string
	grouped    []*integration
	forwarders []*forwarder
}

// routing is what the notify configuration builds and a reload replaces:
// the route tree, the receivers (their integrations and Alertmanager
// forwarders), the templates, the time intervals and the inhibitor.
type routing struct {
	cfg       Config
	root      *route
	recv      map[string]*receiver
	tmpl      *channel.Templates       // the templates: globs and Alertmanager's defaults
	intervals *timeinterval.Intervener // the time_intervals routes name
	inhibit   *inhibitor
}

// Dispatcher is the running pipeline.
type Dispatcher struct {
	opts     Options
	logger   *slog.Logger
	now      func() time.Time
	m        *metrics
	silences *Silences
	nlog     notificationLog // nil: what each group remembers itself
	local    *localLog       // the file-backed nlog without HA
	alerts   alertStore      // every alert received, for /api/v2/alerts
	// cur is the routing in force, replaced whole by a reload (Prepare).
	cur     atomic.Pointer[routing]
	started time.Time

	mu      sync.Mutex
	groups  map[string]*aggrGroup
	ctx     context.Context // set by Run; nil before
	flushes atomic.Int64    // group flushes done, for Status and tests
	stopped bool
	wg      sync.WaitGroup
}

// New builds the channels and the routing tree; nothing is sent before Run.
func New(opts Options) (*Dispatcher, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Registerer == nil {
		opts.Registerer = prometheus.NewRegistry()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if opts.Retry.Initial <= 0 {
		opts.Retry.Initial = 250 * time.Millisecond
	}
	if opts.Retry.Max <= 0 {
		opts.Retry.Max = 10 * time.Second
	}
	if opts.Retry.Attempts <= 0 {
		opts.Retry.Attempts = 6
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 15 * time.Second
	}
	if opts.SilenceRetention <= 0 {
		opts.SilenceRetention = DefaultSilenceRetention
	}
	if opts.ForwardQueue <= 0 {
		opts.ForwardQueue = 10000
	}
	d := &Dispatcher{
		opts:   opts,
		logger: opts.Logger,
		now:    opts.Now,
		m:      newMetrics(opts.Registerer),
		groups: map[string]*aggrGroup{},
	}
	d.started = opts.Now()
	sil, err := newSilences(opts.Now, opts.SilenceRetention, opts.SilencesFile)
	if err != nil {
		return nil, err
	}
	sil.maxCount = cmp.Or(opts.MaxSilences, DefaultMaxSilences)
	sil.maxSize = cmp.Or(opts.MaxSilenceSizeBytes, DefaultMaxSilenceSizeBytes)
	d.silences = sil
	switch {
	case opts.HA != nil:
		d.nlog = opts.HA
	case opts.NotificationLogFile != "":
		reg := opts.Registerer
		if reg == nil {
			reg = prometheus.NewRegistry()
		}
		if d.local, err = openLocalLog(opts.NotificationLogFile, opts.Logger, reg); err != nil {
			return nil, err
		}
		d.nlog = d.local
	}
	r, err := d.build(opts.Config)
	if err != nil {
		return nil, err
	}
	d.cur.Store(r)
	return d, nil
}

// build builds the routing of cfg.
func (d *Dispatcher) build(cfg Config) (*routing, error) {
	r := &routing{cfg: cfg, recv: map[string]*receiver{}, intervals: timeinterval.NewIntervener(cfg.intervals())}
	r.inhibit = newInhibitor(cfg.InhibitRules, d.opts.Now)
	r.inhibit.hold = max(0, cmp.Or(d.opts.InhibitHold, DefaultInhibitHold))
	var err error
	if r.tmpl, err = channel.LoadTemplates("", cfg.Templates); err != nil {
		return nil, err
	}
	for i := range cfg.Receivers {
		rc, err := d.buildReceiver(&cfg.Receivers[i], r.tmpl)
		if err != nil {
			return nil, fmt.Errorf("receivers[%d] (%s).%w", i, cfg.Receivers[i].Name, err)
		}
		r.recv[rc.name] = rc
	}
	if cfg.Route.Receiver != "" {
		r.root = newRoute(&cfg.Route, nil, 0)
	}
	return r, nil
}

// Prepare builds the routing of cfg (validated, as config.Load does) for
// a reload and returns the function that puts it in force; an error
// (a template or a receiver that does not build) changes nothing. As
// Alertmanager's reload: the aggregation groups are rebuilt from the
// alerts received (the new routes' groups, group_wait anew); the
// notification log keeps a receiver that was told of an alert in a group
// of the same key from being told again; the inhibitor is rebuilt from
// the alerts received; the Alertmanager forwarders of a receiver kept by
// name hand their queues to their successors. Silences are untouched.
func (d *Dispatcher) Prepare(cfg Config) (func(), error) {
	r, err := d.build(cfg)
	if err != nil {
		return nil, err
	}
	return func() { d.apply(r) }, nil
}

// apply puts r in force (see Prepare).
func (d *Dispatcher) apply(r *routing) {
	now := d.now()
	var alerts []*model.Alert
	for _, sa := range d.alerts.list() {
		alerts = append(alerts, sa.alert)
	}
	r.inhibit.observe(alerts)
	d.mu.Lock()
	defer d.mu.Unlock()
	old := d.cur.Swap(r)
	for _, g := range d.groups {
		close(g.stop)
	}
	d.m.groups.Sub(float64(len(d.groups)))
	d.groups = map[string]*aggrGroup{}
	for name, rc := range old.recv {
		for i, f := range rc.forwarders {
			if f.cancel != nil {
				f.cancel()
			}
			if nr := r.recv[name]; nr != nil && i < len(nr.forwarders) {
				f.mu.Lock()
				nr.forwarders[i].enqueue(f.queue)
				f.queue = nil
				f.mu.Unlock()
			}
		}
	}
	if d.ctx != nil && !d.stopped {
		for _, rc := range r.recv {
			for _, f := range rc.forwarders {
				d.startForwarder(f)
			}
		}
	}
	if d.stopped || r.root == nil {
		return
	}
	var created []*aggrGroup
	for _, a := range alerts {
		created = append(created, d.group(r, a, now, nil)...)
	}
	for _, g := range created {
		d.startGroup(g)
	}
}

// startForwarder runs f until Run's context ends or a reload replaces it.
// Caller holds d.mu, with Run started.
func (d *Dispatcher) startForwarder(f *forwarder) {
	ctx, cancel := context.WithCancel(d.ctx)
	f.cancel = cancel
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		f.run(ctx)
	}()
}

func (d *Dispatcher) buildReceiver(rc *Receiver, tmpl *channel.Templates) (*receiver, error) {
	r := &receiver{name: rc.Name}
	add := func(ch string, i int, n channel.Notifier, sendResolved bool) {
		r.grouped = append(r.grouped, &integration{channel: ch, index: i, receiver: rc.Name, notifier: n, sendResolved: sendResolved})
	}
	if ns, ok := d.opts.Notifiers[rc.Name]; ok {
		for i, n := range ns {
			add("custom", i, n, true)
		}
		return r, nil
	}
	client := d.opts.HTTPClient
	for i, c := range rc.SlackConfigs {
		n, err := slack.New(c, client, tmpl)
		if err != nil {
			return nil, fmt.Errorf("slack_configs[%d].%w", i, err)
		}
		add("slack", i, n, c.Resolved())
	}
	for i, c := range rc.TelegramConfigs {
		n, err := telegram.New(c, client, tmpl)
		if err != nil {
			return nil, fmt.Errorf("telegram_configs[%d].%w", i, err)
		}
		add("telegram", i, n, c.Resolved())
	}
	for i, c := range rc.EmailConfigs {
		n, err := email.New(c, d.now, tmpl)
		if err != nil {
			return nil, fmt.Errorf("email_configs[%d].%w", i, err)
		}
		add("email", i, n, c.Resolved())
	}
	for i, c := range rc.WebhookConfigs {
		n, err := webhook.New(c, client)
		if err != nil {
			return nil, fmt.Errorf("webhook_configs[%d].%w", i, err)
		}
		add("webhook", i, n, c.Resolved())
	}
	for i, c := range rc.AlertmanagerConfigs {
		n, err := alertmanager.New(c, client)
		if err != nil {
			return nil, fmt.Errorf("alertmanager_configs[%d].%w", i, err)
		}
		r.forwarders = append(r.forwarders, newForwarder(d, rc.Name, i, n))
	}
	return r, nil
}

// Silences returns the silence store.
func (d *Dispatcher) Silences() *Silences { return d.silences }

// Run starts the aggregation groups' timers and the Alertmanager forwarders,
// and blocks until ctx is done; then it waits for deliveries in flight
// (bounded by the retry policy) and returns nil.
func (d *Dispatcher) Run(ctx context.Context) error {
	d.mu.Lock()
	if d.ctx != nil || d.stopped {
		d.mu.Unlock()
		return fmt.Errorf("run notify dispatcher: already running")
	}
	d.ctx = ctx
	for _, g := range d.groups {
		d.startGroup(g)
	}
	for _, r := range d.cur.Load().recv {
		for _, f := range r.forwarders {
			d.startForwarder(f)
		}
	}
	d.mu.Unlock()
	var logDone chan struct{}
	logCtx, stopLog := context.WithCancel(context.Background())
	defer stopLog()
	if d.local != nil {
		logDone = make(chan struct{})
		go func() {
			defer close(logDone)
			d.local.run(logCtx)
		}()
	}
	<-ctx.Done()
	d.mu.Lock()
	d.stopped = true
	d.mu.Unlock()
	d.wg.Wait()
	if err := d.silences.Snapshot(); err != nil { // the change log folded in
		d.logger.Error("snapshot silences", "err", err)
	}
	if logDone != nil { // the last snapshot, once every group has stopped
		stopLog()
		<-logDone
	}
	return nil
}

// group inserts a into the aggregation groups of r's routes it matches,
// creating those missing (returned, to start), and adds it to forward's
// queues of their receivers' forwarders (forward nil: not forwarded).
// Caller holds d.mu.
func (d *Dispatcher) group(r *routing, a *model.Alert, now time.Time, forward map[*forwarder][]*model.Alert) []*aggrGroup {
	var created []*aggrGroup
	for _, rt := range r.root.match(a.Labels) {
		rc := r.recv[rt.receiver]
		if rc == nil {
			continue
		}
		if forward != nil {
			for _, f := range rc.forwarders {
				forward[f] = append(forward[f], a)
			}
		}
		if len(rc.grouped) == 0 {
			continue
		}
		gl := rt.groupLabels(a.Labels)
		key := rt.key + ":" + gl.String()
		g, ok := d.groups[key]
		if !ok {
			g = newAggrGroup(d, key, rt, gl, rc)
			d.groups[key] = g
			d.m.groups.Inc()
			created = append(created, g)
		}
		g.insert(a, now)
	}
	return created
}

// startGroup runs a group's goroutine once Run has started. Caller holds d.mu.
func (d *Dispatcher) startGroup(g *aggrGroup) {
	if d.ctx == nil || d.stopped || g.started {
		return
	}
	g.started = true
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		g.run(d.ctx)
	}()
}

// Send hands alerts to the pipeline; the rules side calls it on every
// evaluation with every firing alert, and once more with EndsAt set when an
// alert resolves. It does not block on delivery.
func (d *Dispatcher) Send(alerts ...*model.Alert) {
	if len(alerts) == 0 {
		return
	}
	now := d.now()
	r := d.cur.Load()
	resolveTimeout := time.Duration(r.cfg.Global.ResolveTimeout)
	if resolveTimeout == 0 {
		resolveTimeout = DefaultResolveTimeout
	}
	valid := make([]*model.Alert, 0, len(alerts))
	for _, a := range alerts {
		if a == nil {
			continue
		}
		if err := a.Validate(); err != nil {
			d.m.invalid.Inc()
			d.logger.Warn("dropping invalid alert", "alert", a.Labels.String(), "err", err)
			continue
		}
		cp := *a
		if cp.StartsAt.IsZero() {
			cp.StartsAt = now
		}
		if cp.EndsAt.IsZero() {
			cp.EndsAt = now.Add(resolveTimeout)
		}
		valid = append(valid, &cp)
	}
	d.m.received.Add(float64(len(valid)))
	d.alerts.remember(valid, now)
	if r.root == nil || len(valid) == 0 {
		return
	}
	// Before any group sees them, so alerts sent together inhibit each
	// other at the first flush.
	r.inhibit.observe(valid)
	forward := map[*forwarder][]*model.Alert{}
	var created []*aggrGroup
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.stopped {
		return
	}
	if cur := d.cur.Load(); cur != r { // a reload since: route by the new routing
		r = cur
		r.inhibit.observe(valid)
		if r.root == nil {
			return
		}
	}
	for _, a := range valid {
		created = append(created, d.group(r, a, now, forward)...)
	}
	// New groups start after every alert of this call is in, so alerts sent
	// together are notified together even with group_wait 0.
	for _, g := range created {
		d.startGroup(g)
	}
	for f, as := range forward {
		f.enqueue(as)
	}
}
