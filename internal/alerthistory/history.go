// Package alerthistory is the alert history: every state transition of
// every alert (pending, firing, resolved, inactive) appended to a JSON lines
// file and folded into episodes, one per alert from becoming active until it
// resolves, served at GET /alerts/history. The rules manager records the
// transitions (rules.Manager) and continues, after a restart, the episodes
// that were open when gmc stopped (Adopt, Orphans); the server opens the
// history, owns it and closes it.
package alerthistory

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/gmc-dev/gmc/internal/httpapi"
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
	// NotEvaluated, on the first event of an episode's alert after a
	// restart (or its end, if it ended while gmc was down), is when gmc
	// did not evaluate it: from its last evaluation before the stop until
	// the first after the start.
	NotEvaluated *Span `json:"not_evaluated,omitempty"`
	// Unjudged, on the first event of an episode's alert after a restart
	// (or its end), is when gmc evaluated it without seeing it active
	// before it continued or ended it: from its first evaluation since
	// the start until this event. The rule's windows may have lacked the
	// data of the outage then (a rate needs two samples since the
	// restart), so its state then is not known either.
	Unjudged *Span `json:"unjudged,omitempty"`
	// Notify, on an event with no State, is what the notification
	// pipeline did with the episode's alert at one of its flushes (see
	// History.Notified): folded into the episode's Notify.
	Notify *Notify `json:"notify,omitempty"`
}

// Notify is what gmc's notification pipeline did with an episode's alert
// while it fired, as the flushes of its notification groups saw it.
// A post-incident reader tells the alert that paged from those that were
// inhibited or silenced throughout and never notified anyone.
type Notify struct {
	// NotifiedAt is the first flush at which a receiver had been told the
	// alert fires; nil: none had.
	NotifiedAt *time.Time `json:"notified_at,omitempty"`
	// Unmuted: some flush found it neither inhibited nor silenced (it may
	// still not have been notified: a delivery that failed).
	Unmuted bool `json:"unmuted,omitempty"`
	// InhibitedBy are the labels of the alerts that inhibited it at some
	// flush; SilencedBy the silences that muted it at some flush.
	InhibitedBy []map[string]string `json:"inhibited_by,omitempty"`
	SilencedBy  []Silence           `json:"silenced_by,omitempty"`
	// ResolvedNotifiedAt is the first flush at which a receiver was told
	// the alert resolved (a notification delivered then holding it
	// resolved); nil: none was (no receiver with send_resolved, or not
	// yet).
	ResolvedNotifiedAt *time.Time `json:"resolved_notified_at,omitempty"`
}

// Silence is a silence that muted an alert, as it was then.
type Silence struct {
	ID        string `json:"id"`
	CreatedBy string `json:"created_by"`
	Comment   string `json:"comment"`
}

// merge folds o into n, reporting whether n changed.
func (n *Notify) merge(o *Notify) bool {
	changed := false
	if o.NotifiedAt != nil && (n.NotifiedAt == nil || o.NotifiedAt.Before(*n.NotifiedAt)) {
		t := *o.NotifiedAt
		n.NotifiedAt, changed = &t, true
	}
	if o.ResolvedNotifiedAt != nil && (n.ResolvedNotifiedAt == nil || o.ResolvedNotifiedAt.Before(*n.ResolvedNotifiedAt)) {
		t := *o.ResolvedNotifiedAt
		n.ResolvedNotifiedAt, changed = &t, true
	}
	if o.Unmuted && !n.Unmuted {
		n.Unmuted, changed = true, true
	}
	for _, ls := range o.InhibitedBy {
		if !slices.ContainsFunc(n.InhibitedBy, func(x map[string]string) bool { return maps.Equal(x, ls) }) {
			n.InhibitedBy, changed = append(n.InhibitedBy, ls), true
		}
	}
	for _, sil := range o.SilencedBy {
		if !slices.ContainsFunc(n.SilencedBy, func(x Silence) bool { return x.ID == sil.ID }) {
			n.SilencedBy, changed = append(n.SilencedBy, sil), true
		}
	}
	return changed
}

// Span is a time interval, [From, Until].
type Span struct {
	From  time.Time `json:"from"`
	Until time.Time `json:"until"`
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
	// FiringSeconds is how long it was seen firing: from FiredAt until
	// resolved, or until the last transition seen if still firing (see
	// LastChange), less the spans it was not evaluated (NotEvaluated) or
	// not judged (Unjudged); while its state is unknown (Unknown), until
	// its last evaluation before the stop.
	FiringSeconds float64   `json:"firing_seconds"`
	LastChange    time.Time `json:"last_change"`
	Value         string    `json:"value"`
	// NotEvaluated are the spans within the episode when gmc was down (a
	// crash or a stop, then a restart that continued or ended it): its
	// state then is not known, as an ALERTS series has a gap there. An
	// episode cut by a kill -9 read as firing the whole outage (t-user14
	// F6: "firing ~12 m", 11 m 46 s of it gmc down).
	NotEvaluated []Span `json:"not_evaluated,omitempty"`
	// Unjudged are the spans after a restart when gmc evaluated its alert
	// without seeing it active, before it continued or ended the episode
	// (Event.Unjudged). firing_seconds leaves them out too.
	Unjudged []Span `json:"unjudged,omitempty"`
	// Unknown, on an episode open at the last stop that gmc has neither
	// continued nor ended since its restart, says why its state is not
	// known now: List gives it the State "unknown", and its
	// firing_seconds end at its last evaluation before the stop.
	Unknown *Unknown `json:"unknown,omitempty"`
	// Notify is what the notification pipeline did with it while it
	// fired: notified, or suppressed (inhibited by which alerts, silenced
	// by which silences) and never notified. Absent when no notification
	// group flushed it firing (no route to a receiver, a mute time
	// interval, resolved before its group's first flush): not known.
	Notify *Notify `json:"notify,omitempty"`
}

// Unknown is why an episode open at the last stop has no known state
// since the restart (Episode.Unknown).
type Unknown struct {
	// Since is its alert's last evaluation before the stop (or its last
	// transition, without a record of that evaluation).
	Since time.Time `json:"since"`
	// Restart is gmc's first evaluation of its alert since the start.
	Restart time.Time `json:"restart"`
	// JudgedBy is when gmc ends the episode at the latest, unless its
	// alert is active again by then (and the episode continues): once
	// its rules' windows hold the data since the restart.
	JudgedBy time.Time `json:"judged_by"`
}

// firingFor is how long ep was seen firing from FiredAt to end: the time
// less its spans not evaluated or not judged within it.
func (ep *Episode) firingFor(end time.Time) float64 {
	if ep.FiredAt == nil {
		return 0
	}
	d := end.Sub(*ep.FiredAt)
	for _, sp := range slices.Concat(ep.NotEvaluated, ep.Unjudged) {
		from, until := sp.From, sp.Until
		if from.Before(*ep.FiredAt) {
			from = *ep.FiredAt
		}
		if until.After(end) {
			until = end
		}
		if until.After(from) {
			d -= until.Sub(from)
		}
	}
	return max(0, d.Seconds())
}

// History keeps episodes in memory and appends every event to a JSON lines
// file, Dir/history.jsonl. Each event is one write(2) of a whole line
// followed by fsync; a torn last line (crash mid-write) is skipped on load.
// Past MaxBytes the file is renamed to history.jsonl.1 (replacing the
// previous one) and a new one started, so the history takes at most
// 2×MaxBytes on disk. Safe for concurrent use.
type History struct {
	mu          sync.Mutex
	path        string // "" keeps history in memory only
	f           *os.File
	size        int64
	maxBytes    int64
	maxEpisodes int
	episodes    map[string]*Episode
	order       []string // keys, oldest first
	logger      *slog.Logger
	// fired indexes the episodes that fired by alert labels and first
	// firing (notifyKey), for Notified.
	fired map[string][]string
	// early holds, by notifyKey, what a flush told Notified of an alert
	// whose firing the rules had not recorded yet (they hand it to the
	// notification pipeline first, which may flush at once): Add folds it
	// in when they do. At most maxEarly (alerts from elsewhere, the
	// Alertmanager API's, never have an episode).
	early map[string]*Notify
	// open holds the episodes read from disk that were still pending or
	// firing when gmc stopped, by group and labels (see Adopt).
	open map[string]string
	now  func() time.Time
}

// Options configure a History.
type Options struct {
	// Dir holds history.jsonl (gmc server: <data_dir>/alerts); it is
	// created if missing. Empty keeps the history in memory only.
	Dir string
	// MaxBytes rotates the file past this size (one previous file is
	// kept); default DefaultMaxBytes.
	MaxBytes int64
	// MaxEpisodes bounds the episodes kept in memory, oldest dropped
	// first; default DefaultMaxEpisodes.
	MaxEpisodes int
	Logger      *slog.Logger
	// Now is the clock of the HTTP listing (how long a firing episode has
	// fired so far); nil means time.Now.
	Now func() time.Time
}

// Defaults of Options.
const (
	DefaultMaxBytes    = 8 << 20
	DefaultMaxEpisodes = 10000
)

// Open reads the history back from opts.Dir (history.jsonl.1, then
// history.jsonl) and opens the file for appending.
func Open(opts Options) (*History, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = DefaultMaxBytes
	}
	if opts.MaxEpisodes <= 0 {
		opts.MaxEpisodes = DefaultMaxEpisodes
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	h := &History{maxBytes: opts.MaxBytes, maxEpisodes: opts.MaxEpisodes, episodes: map[string]*Episode{},
		logger: opts.Logger, open: map[string]string{}, fired: map[string][]string{}, early: map[string]*Notify{}, now: opts.Now}
	dir := opts.Dir
	if dir == "" {
		return h, nil
	}
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

func (h *History) load(path string) error {
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

// Adopt returns the episode of the alert (group, labels) that was still
// open when gmc last stopped, once: an alert active again after a restart
// continues that episode rather than starting a second one.
func (h *History) Adopt(group string, lset map[string]string) (Episode, bool) {
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
	ep.Unknown = nil
	return *ep, true
}

// SetUnknown marks the episode of the alert (group, labels) open at the
// last stop, not yet adopted nor ended, as of unknown state since the
// restart (Episode.Unknown), in memory, until its next event.
func (h *History) SetUnknown(group string, lset map[string]string, u Unknown) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if k, ok := h.open[alertKey(group, lset)]; ok {
		if ep, ok := h.episodes[k]; ok {
			ep.Unknown = &u
		}
	}
}

// Unadopted returns the episodes of group open at the last stop that no
// alert has adopted yet (see Adopt), leaving them open.
func (h *History) Unadopted(group string) []Episode {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []Episode
	for _, k := range h.open {
		if ep, ok := h.episodes[k]; ok && ep.Group == group {
			out = append(out, *ep)
		}
	}
	return out
}

// Unknown returns the episodes open at the last stop whose state is
// unknown since the restart (SetUnknown), in state "unknown", oldest first.
func (h *History) Unknown() []Episode {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []Episode
	for _, k := range h.open {
		if ep, ok := h.episodes[k]; ok && ep.Unknown != nil {
			e := *ep
			e.State = "unknown"
			out = append(out, e)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].ActiveAt.Before(out[j].ActiveAt) })
	return out
}

// Orphans removes and returns the episodes open at the last stop that no
// alert has adopted, of the groups keep selects, oldest first.
func (h *History) Orphans(keep func(group string) bool) []Episode {
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

// notifyKey identifies the episodes of an alert (labels, any group) that
// first fired at firedAt: the alert the notification pipeline has, whose
// StartsAt is its episode's first firing.
func notifyKey(lset map[string]string, firedAt time.Time) string {
	return alertKey("", lset) + strconv.FormatInt(firedAt.UnixMilli(), 10)
}

// Notified folds n, what a flush of the notification pipeline did with
// the alert lset that first fired at firedAt, into that alert's episodes
// and records it (an event with no State) where it adds to them.
func (h *History) Notified(lset map[string]string, firedAt, at time.Time, n Notify) error {
	h.mu.Lock()
	nk := notifyKey(lset, firedAt)
	if len(h.fired[nk]) == 0 {
		e, ok := h.early[nk]
		if !ok {
			for k := range h.early {
				if len(h.early) < maxEarly {
					break
				}
				delete(h.early, k)
			}
			e = &Notify{}
			h.early[nk] = e
		}
		e.merge(&n)
		h.mu.Unlock()
		return nil
	}
	var evs []Event
	for _, k := range h.fired[nk] {
		ep, ok := h.episodes[k]
		if !ok {
			continue
		}
		cur := Notify{}
		if ep.Notify != nil {
			cur = *ep.Notify
			cur.InhibitedBy, cur.SilencedBy = slices.Clone(cur.InhibitedBy), slices.Clone(cur.SilencedBy)
		}
		if cur.merge(&n) {
			nn := n
			evs = append(evs, Event{Time: at, Group: ep.Group, Labels: ep.Labels, ActiveAt: ep.ActiveAt, Notify: &nn})
		}
	}
	h.mu.Unlock()
	for _, ev := range evs {
		if err := h.Add(ev); err != nil {
			return err
		}
	}
	return nil
}

// maxEarly bounds History.early.
const maxEarly = 1000

// apply folds ev into the episodes. The caller holds mu (or owns h).
func (h *History) apply(ev Event) {
	k := episodeKey(ev)
	ep, ok := h.episodes[k]
	if ev.State == "" {
		if ok && ev.Notify != nil {
			if ep.Notify == nil {
				ep.Notify = &Notify{}
			}
			ep.Notify.merge(ev.Notify)
		}
		return
	}
	if !ok {
		ep = &Episode{
			Alertname: ev.Labels["alertname"], Service: ev.Labels["service"], Severity: ev.Labels["severity"],
			Group: ev.Group, Labels: ev.Labels, ActiveAt: ev.ActiveAt,
		}
		h.episodes[k] = ep
		h.order = append(h.order, k)
		for len(h.order) > h.maxEpisodes {
			if old := h.episodes[h.order[0]]; old != nil && old.FiredAt != nil {
				h.unindex(notifyKey(old.Labels, *old.FiredAt), h.order[0])
			}
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
		nk := notifyKey(ep.Labels, *ep.FiredAt)
		h.fired[nk] = append(h.fired[nk], k)
	}
	if ev.ResolvedAt != nil {
		ep.ResolvedAt = ev.ResolvedAt
	}
	ep.NotEvaluated = addSpan(ep.NotEvaluated, ev.NotEvaluated)
	ep.Unjudged = addSpan(ep.Unjudged, ev.Unjudged)
	ep.Unknown = nil
	switch {
	case ep.FiredAt != nil && ep.ResolvedAt != nil:
		ep.FiringSeconds = ep.firingFor(*ep.ResolvedAt)
	case ep.FiredAt != nil:
		ep.FiringSeconds = ep.firingFor(ev.Time)
	}
}

// addSpan adds sp (if any, and not empty) to sps unless it holds it.
func addSpan(sps []Span, sp *Span) []Span {
	if sp != nil && sp.Until.After(sp.From) && !slices.ContainsFunc(sps, func(x Span) bool { return x.From.Equal(sp.From) && x.Until.Equal(sp.Until) }) {
		sps = append(sps, *sp)
	}
	return sps
}

// unindex removes episode k from h.fired[nk].
func (h *History) unindex(nk, k string) {
	ks := slices.DeleteFunc(h.fired[nk], func(x string) bool { return x == k })
	if len(ks) == 0 {
		delete(h.fired, nk)
	} else {
		h.fired[nk] = ks
	}
}

// Add records an event in memory and, with a Dir, on disk (fsynced).
func (h *History) Add(ev Event) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.apply(ev)
	if ep := h.episodes[episodeKey(ev)]; ev.State != "" && ep != nil && ep.FiredAt != nil {
		nk := notifyKey(ep.Labels, *ep.FiredAt)
		if e, ok := h.early[nk]; ok {
			delete(h.early, nk)
			if err := h.write(ev); err != nil {
				return err
			}
			ev = Event{Time: ev.Time, Group: ep.Group, Labels: ep.Labels, ActiveAt: ep.ActiveAt, Notify: e}
			h.apply(ev)
		}
	}
	return h.write(ev)
}

// write appends ev to the file, if any. The caller holds mu.
func (h *History) write(ev Event) error {
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

func (h *History) rotate() error {
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

// Filter selects episodes for List.
type Filter struct {
	// Since keeps the episodes active, changed or still open (pending,
	// firing, unknown) at or after it (zero: all).
	Since time.Time
	// Service and Alertname keep the episodes with these labels (empty: any).
	Service, Alertname string
	// Limit bounds the episodes returned (the newest kept); at most
	// DefaultLimit when zero or negative.
	Limit int
}

// DefaultLimit is List's limit when the filter sets none.
const DefaultLimit = 1000

// List returns the episodes f selects, newest first; an episode still
// firing has fired for the time up to now, and one open at the last stop
// and not yet continued nor ended since the restart (Unknown) is in state
// "unknown".
func (h *History) List(f Filter, now time.Time) []Episode {
	limit := f.Limit
	if limit <= 0 {
		limit = DefaultLimit
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	out := []Episode{}
	for i := len(h.order) - 1; i >= 0 && len(out) < limit; i-- {
		ep := h.episodes[h.order[i]]
		// An episode that ended before since is out; one still open
		// (pending, firing, or of unknown state since a restart) goes on
		// into the range however long ago it began: one firing for 2 h was
		// missing from a 1 h page's History, and the Active row had no
		// episode to read its outages from.
		open := ep.Unknown != nil || ep.State == "pending" || ep.State == "firing"
		if !open && ep.LastChange.Before(f.Since) && ep.ActiveAt.Before(f.Since) {
			continue
		}
		if f.Service != "" && ep.Service != f.Service {
			continue
		}
		if f.Alertname != "" && ep.Alertname != f.Alertname {
			continue
		}
		e := *ep
		if ep.Notify != nil { // merged into under mu
			n := *ep.Notify
			n.InhibitedBy, n.SilencedBy = slices.Clone(n.InhibitedBy), slices.Clone(n.SilencedBy)
			e.Notify = &n
		}
		switch {
		case e.Unknown != nil:
			// Not seen since the restart: its state now is not known,
			// and it was seen firing until its last evaluation.
			e.State = "unknown"
			if e.FiredAt != nil {
				e.FiringSeconds = e.firingFor(e.Unknown.Since)
			}
		case e.State == "firing" && e.FiredAt != nil:
			e.FiringSeconds = e.firingFor(now)
		}
		out = append(out, e)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].ActiveAt.After(out[j].ActiveAt) })
	return out
}

// Close closes the file; Add after Close keeps events in memory only. It
// is idempotent.
func (h *History) Close() error {
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

// ServeHTTP serves GET /alerts/history: episodes, newest first, with the
// filters since (RFC 3339 or Unix seconds), service, alertname and limit
// (default DefaultLimit), in the Prometheus JSON envelope.
func (h *History) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := Filter{Service: q.Get("service"), Alertname: q.Get("alertname")}
	if s := q.Get("since"); s != "" {
		t, err := httpapi.ParseTime(s)
		if err != nil {
			httpapi.WriteError(w, httpapi.ErrBadData, fmt.Errorf("invalid parameter \"since\": %q is neither RFC 3339 nor Unix seconds", s))
			return
		}
		f.Since = t
	}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			httpapi.WriteError(w, httpapi.ErrBadData, fmt.Errorf("invalid parameter \"limit\": %q is not a positive integer", s))
			return
		}
		f.Limit = n
	}
	httpapi.WriteSuccess(w, map[string]any{"episodes": h.List(f, h.now())})
}

// Routes are the history's endpoint, GET /alerts/history.
func (h *History) Routes() []httpapi.Route {
	return []httpapi.Route{{Method: http.MethodGet, Path: "/alerts/history", Handler: h.ServeHTTP}}
}
