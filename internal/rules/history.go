package rules

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"time"

	promrules "github.com/prometheus/prometheus/rules"
)

// Event is one alert state transition, one line of the history file.
type Event struct {
	Time        time.Time         `json:"time"`
	Group       string            `json:"group"`
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations,omitempty"`
	// State is the new state: "pending", "firing", "resolved" (was firing)
	// or "inactive" (was pending and went away without firing).
	State      string     `json:"state"`
	ActiveAt   time.Time  `json:"active_at"`
	FiredAt    *time.Time `json:"fired_at,omitempty"`
	ResolvedAt *time.Time `json:"resolved_at,omitempty"`
	Value      string     `json:"value"`
}

// Episode is one alert from becoming active until it resolves: what fired,
// when, and for how long. /alerts/history lists episodes.
type Episode struct {
	Alertname   string            `json:"alertname"`
	Service     string            `json:"service,omitempty"`
	Severity    string            `json:"severity,omitempty"`
	Group       string            `json:"group"`
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations,omitempty"`
	State       string            `json:"state"`
	ActiveAt    time.Time         `json:"active_at"`
	FiredAt     *time.Time        `json:"fired_at,omitempty"`
	ResolvedAt  *time.Time        `json:"resolved_at,omitempty"`
	// FiringSeconds is how long it fired: until resolved, or until the last
	// transition seen if still firing (see LastChange).
	FiringSeconds float64   `json:"firing_seconds"`
	LastChange    time.Time `json:"last_change"`
	Value         string    `json:"value"`
}

// history keeps episodes in memory and appends every event to a JSON lines
// file. Each event is one write(2) of a whole line followed by fsync; a torn
// last line (crash mid-write) is skipped on load. Past maxBytes the file is
// renamed to history.jsonl.1 (replacing the previous one) and a new one
// started, so the history takes at most 2×maxBytes on disk.
type history struct {
	mu          sync.Mutex
	path        string // "" keeps history in memory only
	f           *os.File
	size        int64
	maxBytes    int64
	maxEpisodes int
	episodes    map[string]*Episode
	order       []string // keys, oldest first
	logger      *slog.Logger
	// open holds the episodes read from disk that were still pending or
	// firing when gmc stopped, by group and labels (see adopt).
	open map[string]string
}

func openHistory(dataDir string, maxBytes int64, maxEpisodes int, logger *slog.Logger) (*history, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	h := &history{maxBytes: maxBytes, maxEpisodes: maxEpisodes, episodes: map[string]*Episode{}, logger: logger, open: map[string]string{}}
	if dataDir == "" {
		return h, nil
	}
	dir := filepath.Join(dataDir, "alerts")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create alert history dir %s: %w", dir, err)
	}
	h.path = filepath.Join(dir, "history.jsonl")
	for _, p := range []string{h.path + ".1", h.path} {
		if err := h.load(p); err != nil {
			return nil, err
		}
	}
	for k, ep := range h.episodes {
		if ep.State == "pending" || ep.State == "firing" {
			h.open[alertKey(ep.Group, ep.Labels)] = k
		}
	}
	f, err := os.OpenFile(h.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open alert history %s: %w", h.path, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("stat alert history %s: %w", h.path, err)
	}
	h.f, h.size = f, st.Size()
	if h.size > 0 && !endsWithNewline(h.path) {
		// A torn last line: end it so the next event starts a clean line.
		if _, err := f.Write([]byte("\n")); err != nil {
			f.Close()
			return nil, fmt.Errorf("repair alert history %s: %w", h.path, err)
		}
		h.size++
	}
	return h, nil
}

func endsWithNewline(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return true
	}
	defer f.Close()
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, mustSize(f)-1); err != nil {
		return true
	}
	return b[0] == '\n'
}

func mustSize(f *os.File) int64 {
	st, err := f.Stat()
	if err != nil {
		return 0
	}
	return st.Size()
}

func (h *history) load(path string) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read alert history %s: %w", path, err)
	}
	defer f.Close()
	r := bufio.NewReader(f)
	bad := 0
	for {
		line, err := r.ReadBytes('\n')
		if len(line) > 1 {
			var ev Event
			if jerr := json.Unmarshal(line, &ev); jerr != nil {
				bad++
			} else {
				h.apply(ev)
			}
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("read alert history %s: %w", path, err)
		}
	}
	if bad > 0 {
		h.logger.Warn("skipped unreadable alert history lines", "file", path, "lines", bad)
	}
	return nil
}

func episodeKey(ev Event) string {
	return alertKey(ev.Group, ev.Labels) + strconv.FormatInt(ev.ActiveAt.UnixMilli(), 10)
}

// alertKey identifies an alert (not one episode of it): group and labels.
func alertKey(group string, lset map[string]string) string {
	keys := make([]string, 0, len(lset))
	for k := range lset {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	s := group + "\xff"
	for _, k := range keys {
		s += k + "\xfe" + lset[k] + "\xff"
	}
	return s
}

// adopt returns the episode of the alert (group, labels) that was still
// open when gmc last stopped, once: an alert active again after a restart
// continues that episode rather than starting a second one.
func (h *history) adopt(group string, lset map[string]string) (Episode, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	ak := alertKey(group, lset)
	k, ok := h.open[ak]
	if !ok {
		return Episode{}, false
	}
	delete(h.open, ak)
	ep, ok := h.episodes[k]
	if !ok {
		return Episode{}, false
	}
	return *ep, true
}

// orphans removes and returns the episodes open at the last stop that no
// alert has adopted, of the groups keep selects.
func (h *history) orphans(keep func(group string) bool) []Episode {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []Episode
	for ak, k := range h.open {
		ep, ok := h.episodes[k]
		if !ok {
			delete(h.open, ak)
			continue
		}
		if keep(ep.Group) {
			out = append(out, *ep)
			delete(h.open, ak)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ActiveAt.Before(out[j].ActiveAt) })
	return out
}

// apply folds ev into the episodes. The caller holds mu (or owns h).
func (h *history) apply(ev Event) {
	k := episodeKey(ev)
	ep, ok := h.episodes[k]
	if !ok {
		ep = &Episode{
			Alertname: ev.Labels["alertname"], Service: ev.Labels["service"], Severity: ev.Labels["severity"],
			Group: ev.Group, Labels: ev.Labels, ActiveAt: ev.ActiveAt,
		}
		h.episodes[k] = ep
		h.order = append(h.order, k)
		for len(h.order) > h.maxEpisodes {
			delete(h.episodes, h.order[0])
			h.order = h.order[1:]
		}
	}
	ep.State, ep.Value, ep.LastChange = ev.State, ev.Value, ev.Time
	if ev.Annotations != nil {
		ep.Annotations = ev.Annotations
	}
	if ev.FiredAt != nil && ep.FiredAt == nil {
		ep.FiredAt = ev.FiredAt // the first firing of the episode (a restart fires it again)
	}
	if ev.ResolvedAt != nil {
		ep.ResolvedAt = ev.ResolvedAt
	}
	switch {
	case ep.FiredAt != nil && ep.ResolvedAt != nil:
		ep.FiringSeconds = ep.ResolvedAt.Sub(*ep.FiredAt).Seconds()
	case ep.FiredAt != nil:
		ep.FiringSeconds = ev.Time.Sub(*ep.FiredAt).Seconds()
	}
}

// add records an event in memory and on disk.
func (h *history) add(ev Event) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.apply(ev)
	if h.f == nil {
		return nil
	}
	b, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("encode alert history event: %w", err)
	}
	b = append(b, '\n')
	if h.size > 0 && h.size+int64(len(b)) > h.maxBytes {
		if err := h.rotate(); err != nil {
			return err
		}
	}
	if _, err := h.f.Write(b); err != nil {
		return fmt.Errorf("write alert history %s: %w", h.path, err)
	}
	h.size += int64(len(b))
	if err := h.f.Sync(); err != nil {
		return fmt.Errorf("sync alert history %s: %w", h.path, err)
	}
	return nil
}

func (h *history) rotate() error {
	if err := h.f.Close(); err != nil {
		return fmt.Errorf("close alert history %s: %w", h.path, err)
	}
	h.f = nil
	if err := os.Rename(h.path, h.path+".1"); err != nil {
		return fmt.Errorf("rotate alert history %s: %w", h.path, err)
	}
	f, err := os.OpenFile(h.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("open alert history %s: %w", h.path, err)
	}
	if d, err := os.Open(filepath.Dir(h.path)); err == nil {
		_ = d.Sync() // persist the rename; best effort
		d.Close()
	}
	h.f, h.size = f, 0
	return nil
}

// list returns the episodes matching the filters, newest first; an episode
// still firing has fired for the time up to now.
func (h *history) list(since time.Time, service, alertname string, limit int, now time.Time) []Episode {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := []Episode{}
	for i := len(h.order) - 1; i >= 0 && len(out) < limit; i-- {
		ep := h.episodes[h.order[i]]
		if ep.LastChange.Before(since) && ep.ActiveAt.Before(since) {
			continue
		}
		if service != "" && ep.Service != service {
			continue
		}
		if alertname != "" && ep.Alertname != alertname {
			continue
		}
		e := *ep
		if e.State == "firing" && e.FiredAt != nil {
			e.FiringSeconds = max(0, now.Sub(*e.FiredAt).Seconds())
		}
		out = append(out, e)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].ActiveAt.After(out[j].ActiveAt) })
	return out
}

func (h *history) close() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.f == nil {
		return nil
	}
	err := h.f.Close()
	h.f = nil
	if err != nil {
		return fmt.Errorf("close alert history %s: %w", h.path, err)
	}
	return nil
}

// track records the state transitions of gr's alerts since its previous
// evaluation. The caller holds gr.mu.
func (m *Manager) track(gr *group, ts time.Time) {
	var events []Event
	present := map[uint64]bool{}
	for _, ar := range gr.g.AlertingRules() {
		ar.ForEachActiveAlert(func(a *promrules.Alert) {
			h := a.Labels.Hash()
			present[h] = true
			prev, ok := gr.seen[h]
			if !ok && a.State != promrules.StateInactive {
				// First seen since gmc started: continue the episode that was
				// open when it stopped, as Prometheus restores `for` state.
				if ep, found := m.history.adopt(gr.g.Name(), a.Labels.Map()); found && ep.ActiveAt.Before(a.ActiveAt) {
					a.ActiveAt = ep.ActiveAt
				}
			}
			if ok && prev.state == a.State && prev.activeAt.Equal(a.ActiveAt) {
				return
			}
			gr.seen[h] = seenAlert{state: a.State, activeAt: a.ActiveAt, labels: a.Labels.Map()}
			var state string
			switch a.State {
			case promrules.StatePending:
				state = "pending"
			case promrules.StateFiring:
				state = "firing"
			case promrules.StateInactive:
				if !ok || prev.state != promrules.StateFiring {
					return // a resolved alert seen for the first time (after a restart)
				}
				state = "resolved"
			default:
				return
			}
			events = append(events, alertEvent(gr, a, state, ts))
		})
	}
	if gr.evals == 2 {
		// Open at the last stop and not active over two evaluations since
		// (the first may lack data): it ended while gmc was down.
		for _, ep := range m.history.orphans(func(g string) bool { return g == gr.g.Name() }) {
			events = append(events, orphanEvent(ep, ts))
		}
	}
	for h, prev := range gr.seen {
		if present[h] {
			continue
		}
		delete(gr.seen, h)
		if prev.state == promrules.StatePending {
			// Pending alerts are dropped as soon as their condition stops.
			events = append(events, Event{Time: ts, Group: gr.g.Name(), State: "inactive", ActiveAt: prev.activeAt, Labels: prev.labels})
		}
	}
	for _, ev := range events {
		if err := m.history.add(ev); err != nil {
			m.metrics.historyErrs.Inc()
			m.logger.Error("record alert history", "err", err)
		}
	}
}

// orphanEvent ends an episode open at the last stop whose alert is no
// longer active: resolved (or inactive, if it never fired) at ts.
func orphanEvent(ep Episode, ts time.Time) Event {
	ev := Event{Time: ts, Group: ep.Group, Labels: ep.Labels, State: "inactive", ActiveAt: ep.ActiveAt, Value: ep.Value}
	if ep.FiredAt != nil {
		t := ts
		ev.State, ev.FiredAt, ev.ResolvedAt = "resolved", ep.FiredAt, &t
	}
	return ev
}

func alertEvent(gr *group, a *promrules.Alert, state string, ts time.Time) Event {
	ev := Event{
		Time: ts, Group: gr.g.Name(), Labels: a.Labels.Map(), Annotations: a.Annotations.Map(),
		State: state, ActiveAt: a.ActiveAt, Value: strconv.FormatFloat(a.Value, 'g', -1, 64),
	}
	if !a.FiredAt.IsZero() {
		t := a.FiredAt
		ev.FiredAt = &t
	}
	if !a.ResolvedAt.IsZero() {
		t := a.ResolvedAt
		ev.ResolvedAt = &t
	}
	return ev
}
