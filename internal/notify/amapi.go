package notify

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/alertmanager/pkg/labels"
	"github.com/prometheus/common/model"
)

// Alertmanager's API v2 for alerts: POST /api/v2/alerts takes alerts as a
// Prometheus server (or any client of Alertmanager) sends them, GET lists
// them as amtool and Grafana's Alertmanager data source read them, with
// /api/v2/alerts/groups, /api/v2/receivers and /api/v2/status beside. The
// JSON shapes are those of Alertmanager's OpenAPI spec (api/v2/openapi.yaml).

// alertGC is how long a resolved alert stays in the store, as Alertmanager's
// default --alerts.gc-interval.
const alertGC = 30 * time.Minute

// alertStore holds the newest version of every alert the pipeline received.
type alertStore struct {
	mu     sync.Mutex
	alerts map[model.Fingerprint]*storedAlert
}

type storedAlert struct {
	alert     *model.Alert
	updatedAt time.Time
}

// remember stores alerts received at now and drops those resolved for
// longer than alertGC.
func (s *alertStore) remember(alerts []*model.Alert, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.alerts == nil {
		s.alerts = map[model.Fingerprint]*storedAlert{}
	}
	for _, a := range alerts {
		s.alerts[a.Fingerprint()] = &storedAlert{alert: a, updatedAt: now}
	}
	for fp, sa := range s.alerts {
		if sa.alert.ResolvedAt(now.Add(-alertGC)) {
			delete(s.alerts, fp)
		}
	}
}

// list returns the stored alerts, sorted by fingerprint.
func (s *alertStore) list() []storedAlert {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]storedAlert, 0, len(s.alerts))
	for _, sa := range s.alerts {
		out = append(out, *sa)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].alert.Fingerprint() < out[j].alert.Fingerprint() })
	return out
}

// gettableAlert is Alertmanager's gettableAlert.
type gettableAlert struct {
	Annotations  model.LabelSet `json:"annotations"`
	EndsAt       time.Time      `json:"endsAt"`
	Fingerprint  string         `json:"fingerprint"`
	Receivers    []receiverName `json:"receivers"`
	StartsAt     time.Time      `json:"startsAt"`
	Status       alertStatus    `json:"status"`
	UpdatedAt    time.Time      `json:"updatedAt"`
	GeneratorURL string         `json:"generatorURL,omitempty"`
	Labels       model.LabelSet `json:"labels"`
}

type receiverName struct {
	Name string `json:"name"`
}

type alertStatus struct {
	InhibitedBy []string `json:"inhibitedBy"`
	SilencedBy  []string `json:"silencedBy"`
	State       string   `json:"state"`
}

// Alert states of Alertmanager's API.
const (
	alertActive     = "active"
	alertSuppressed = "suppressed"
)

// gettable renders a stored alert with its receivers and what suppresses it.
func (d *Dispatcher) gettable(sa storedAlert, silences []Silence, now time.Time) gettableAlert {
	a := sa.alert
	ga := gettableAlert{
		Annotations: a.Annotations, EndsAt: a.EndsAt, Fingerprint: a.Fingerprint().String(),
		Receivers: []receiverName{}, StartsAt: a.StartsAt, UpdatedAt: sa.updatedAt,
		GeneratorURL: a.GeneratorURL, Labels: a.Labels,
		Status: alertStatus{InhibitedBy: []string{}, SilencedBy: []string{}, State: alertActive},
	}
	if ga.Annotations == nil {
		ga.Annotations = model.LabelSet{}
	}
	r := d.cur.Load()
	if r.root != nil {
		seen := map[string]bool{}
		for _, rt := range r.root.match(a.Labels) {
			if !seen[rt.receiver] {
				seen[rt.receiver] = true
				ga.Receivers = append(ga.Receivers, receiverName{rt.receiver})
			}
		}
	}
	for _, s := range silences {
		if s.State(now) == SilenceActive && s.Matchers.Matches(a.Labels) {
			ga.Status.SilencedBy = append(ga.Status.SilencedBy, s.ID)
		}
	}
	for _, fp := range r.inhibit.sources(a.Labels) {
		ga.Status.InhibitedBy = append(ga.Status.InhibitedBy, fp.String())
	}
	if len(ga.Status.SilencedBy) > 0 || len(ga.Status.InhibitedBy) > 0 {
		ga.Status.State = alertSuppressed
	}
	return ga
}

// alertFilter is the query of GET /api/v2/alerts and /api/v2/alerts/groups.
type alertFilter struct {
	matchers                    labels.Matchers
	receiver                    *regexp.Regexp
	active, silenced, inhibited bool
}

func parseAlertFilter(r *http.Request) (alertFilter, error) {
	f := alertFilter{active: true, silenced: true, inhibited: true}
	q := r.URL.Query()
	for _, s := range q["filter"] {
		m, err := labels.ParseMatchers(s)
		if err != nil {
			return f, fmt.Errorf("filter %q: %w", s, err)
		}
		f.matchers = append(f.matchers, m...)
	}
	for name, p := range map[string]*bool{"active": &f.active, "silenced": &f.silenced, "inhibited": &f.inhibited} {
		if v := q.Get(name); v != "" {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return f, fmt.Errorf("%s: %q is not a boolean", name, v)
			}
			*p = b
		}
	}
	if v := q.Get("unprocessed"); v != "" {
		if _, err := strconv.ParseBool(v); err != nil {
			return f, fmt.Errorf("unprocessed: %q is not a boolean", v)
		}
	}
	if v := q.Get("receiver"); v != "" {
		re, err := regexp.Compile("^(?:" + v + ")$")
		if err != nil {
			return f, fmt.Errorf("receiver: %w", err)
		}
		f.receiver = re
	}
	return f, nil
}

// keep reports whether the filter selects ga.
func (f alertFilter) keep(ga gettableAlert) bool {
	if !f.matchers.Matches(ga.Labels) {
		return false
	}
	if f.receiver != nil {
		ok := false
		for _, r := range ga.Receivers {
			ok = ok || f.receiver.MatchString(r.Name)
		}
		if !ok {
			return false
		}
	}
	switch {
	case ga.Status.State == alertActive:
		return f.active
	case !f.silenced && len(ga.Status.SilencedBy) > 0:
		return false
	case !f.inhibited && len(ga.Status.InhibitedBy) > 0:
		return false
	}
	return true
}

// Suppressed reports whether an alert with labels ls is silenced or
// inhibited now, as GET /api/v2/alerts shows it (status.state
// "suppressed"): such an alert notifies nobody.
func (d *Dispatcher) Suppressed(ls model.LabelSet) bool {
	now := d.now()
	for _, s := range d.silences.List() {
		if s.State(now) == SilenceActive && s.Matchers.Matches(ls) {
			return true
		}
	}
	return len(d.cur.Load().inhibit.sources(ls)) > 0
}

// currentAlerts are the alerts not resolved at now, rendered, that f selects.
func (d *Dispatcher) currentAlerts(f alertFilter, now time.Time) []gettableAlert {
	silences := d.silences.List()
	out := []gettableAlert{}
	for _, sa := range d.alerts.list() {
		if sa.alert.ResolvedAt(now) {
			continue
		}
		if ga := d.gettable(sa, silences, now); f.keep(ga) {
			out = append(out, ga)
		}
	}
	return out
}

// GetAlerts serves GET /api/v2/alerts.
func (a *API) GetAlerts(w http.ResponseWriter, r *http.Request) {
	f, err := parseAlertFilter(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, a.d.currentAlerts(f, a.d.now()))
}

// postableAlert is Alertmanager's postableAlert.
type postableAlert struct {
	Labels       model.LabelSet `json:"labels"`
	Annotations  model.LabelSet `json:"annotations"`
	StartsAt     time.Time      `json:"startsAt"`
	EndsAt       time.Time      `json:"endsAt"`
	GeneratorURL string         `json:"generatorURL"`
}

// PostAlerts serves POST /api/v2/alerts: the alerts enter the pipeline as
// gmc's own do (routing, grouping, inhibition, silences). 200 when all are
// valid; 400 naming the invalid ones, the others taken.
func (a *API) PostAlerts(w http.ResponseWriter, r *http.Request) {
	var in []postableAlert
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 16<<20))
	if err := dec.Decode(&in); err != nil {
		writeError(w, http.StatusBadRequest, "decode alerts: "+err.Error())
		return
	}
	alerts := make([]*model.Alert, 0, len(in))
	var bad []string
	now := a.d.now()
	for i, p := range in {
		al := &model.Alert{Labels: p.Labels, Annotations: p.Annotations, StartsAt: p.StartsAt, EndsAt: p.EndsAt, GeneratorURL: p.GeneratorURL}
		if al.Annotations == nil {
			al.Annotations = model.LabelSet{}
		}
		if al.StartsAt.IsZero() { // as Alertmanager: starts now
			al.StartsAt = now
			if !al.EndsAt.IsZero() && !al.EndsAt.After(now) {
				al.StartsAt = al.EndsAt
			}
		}
		if err := al.Validate(); err != nil {
			bad = append(bad, fmt.Sprintf("alert %d %s: %v", i, p.Labels, err))
			continue
		}
		alerts = append(alerts, al)
	}
	a.d.Send(alerts...)
	if len(bad) > 0 {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("%d of %d alerts invalid: %v", len(bad), len(in), bad))
		return
	}
	w.WriteHeader(http.StatusOK)
}

// alertGroup is Alertmanager's alertGroup.
type alertGroup struct {
	Alerts   []gettableAlert `json:"alerts"`
	Labels   model.LabelSet  `json:"labels"`
	Receiver receiverName    `json:"receiver"`
}

// GetAlertGroups serves GET /api/v2/alerts/groups: the aggregation groups
// with their current alerts.
func (a *API) GetAlertGroups(w http.ResponseWriter, r *http.Request) {
	f, err := parseAlertFilter(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	d := a.d
	now := d.now()
	silences := d.silences.List()
	type snap struct {
		key      string
		labels   model.LabelSet
		receiver string
		alerts   []*model.Alert
	}
	var snaps []snap
	d.mu.Lock()
	for _, g := range d.groups {
		g.mu.Lock()
		s := snap{key: g.key, labels: g.labels, receiver: g.recv.name}
		for _, al := range g.alerts {
			s.alerts = append(s.alerts, al)
		}
		g.mu.Unlock()
		snaps = append(snaps, s)
	}
	d.mu.Unlock()
	sort.Slice(snaps, func(i, j int) bool { return snaps[i].key < snaps[j].key })
	updated := map[model.Fingerprint]time.Time{}
	for _, sa := range d.alerts.list() {
		updated[sa.alert.Fingerprint()] = sa.updatedAt
	}
	out := []alertGroup{}
	for _, s := range snaps {
		if f.receiver != nil && !f.receiver.MatchString(s.receiver) {
			continue
		}
		g := alertGroup{Labels: s.labels, Receiver: receiverName{s.receiver}, Alerts: []gettableAlert{}}
		sort.Slice(s.alerts, func(i, j int) bool { return s.alerts[i].Fingerprint() < s.alerts[j].Fingerprint() })
		for _, al := range s.alerts {
			if al.ResolvedAt(now) {
				continue
			}
			if ga := d.gettable(storedAlert{alert: al, updatedAt: updated[al.Fingerprint()]}, silences, now); f.keep(ga) {
				g.Alerts = append(g.Alerts, ga)
			}
		}
		if len(g.Alerts) > 0 {
			out = append(out, g)
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// GetReceivers serves GET /api/v2/receivers.
func (a *API) GetReceivers(w http.ResponseWriter, _ *http.Request) {
	out := []receiverName{}
	for _, r := range a.d.cur.Load().cfg.Receivers {
		out = append(out, receiverName{r.Name})
	}
	writeJSON(w, http.StatusOK, out)
}

// GetStatus serves GET /api/v2/status as Alertmanager's alertmanagerStatus:
// the configuration (secrets hidden), uptime, version, and the cluster
// (disabled unless gmc runs as an HA pair).
func (a *API) GetStatus(w http.ResponseWriter, _ *http.Request) {
	d := a.d
	cluster := ClusterStatus{Status: "disabled", Peers: []PeerStatus{}}
	if d.opts.HA != nil {
		cluster = d.opts.HA.ClusterStatus()
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"cluster": cluster,
		"config":  map[string]string{"original": d.cur.Load().cfg.String()},
		"uptime":  d.started,
		"versionInfo": map[string]string{
			"branch": "", "buildDate": "", "buildUser": "", "revision": "",
			"goVersion": runtime.Version(), "version": d.opts.Version,
		},
	})
}
