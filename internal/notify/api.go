package notify

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"time"

	"github.com/prometheus/alertmanager/pkg/labels"
	"github.com/prometheus/common/model"

	"github.com/gmc-dev/gmc/internal/httpapi"
)

// API serves silences in Alertmanager's v2 JSON shape (so amtool and
// Grafana's Alertmanager data source work) and the pipeline's status.
// Mount (Go 1.22 patterns):
//
//	GET    /api/v2/silences        ListSilences
//	POST   /api/v2/silences        PostSilence
//	GET    /api/v2/silence/{id}    GetSilence
//	DELETE /api/v2/silence/{id}    DeleteSilence
//	GET    /api/v1/notifications/status  Status
type API struct{ d *Dispatcher }

// API returns the HTTP handlers.
func (d *Dispatcher) API() *API { return &API{d: d} }

// gettableSilence is Alertmanager's v2 gettableSilence.
type gettableSilence struct {
	Silence
	Status struct {
		State SilenceState `json:"state"`
	} `json:"status"`
}

func (a *API) gettable(s Silence) gettableSilence {
	g := gettableSilence{Silence: s}
	g.Status.State = s.State(a.d.now())
	return g
}

// ListSilences answers GET /api/v2/silences; ?filter=<matcher> (repeatable)
// keeps silences having an equal matcher set, as Alertmanager does.
func (a *API) ListSilences(w http.ResponseWriter, r *http.Request) {
	var filter labels.Matchers
	for _, f := range r.URL.Query()["filter"] {
		ms, err := labels.ParseMatchers(f)
		if err != nil {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("filter: %q: %v", f, err))
			return
		}
		filter = append(filter, ms...)
	}
	out := []gettableSilence{}
	for _, s := range a.d.silences.List() {
		if len(filter) > 0 && !silenceMatchesFilter(s, filter) {
			continue
		}
		out = append(out, a.gettable(s))
	}
	writeJSON(w, http.StatusOK, out)
}

// silenceMatchesFilter keeps a silence when every filter matcher matches
// the value of one of the silence's equality matchers with the same name.
func silenceMatchesFilter(s Silence, filter labels.Matchers) bool {
	for _, f := range filter {
		found := false
		for _, m := range s.Matchers {
			if m.Name == f.Name && f.Matches(m.Value) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// PostSilence answers POST /api/v2/silences with {"silenceID": "..."}.
func (a *API) PostSilence(w http.ResponseWriter, r *http.Request) {
	var in Silence
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
	if err := dec.Decode(&in); err != nil {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("decode silence: %v", err))
		return
	}
	id, err := a.d.silences.Add(in)
	switch {
	case errors.Is(err, ErrSilenceNotFound):
		writeError(w, http.StatusNotFound, err.Error())
		return
	case err != nil:
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"silenceID": id})
}

// GetSilence answers GET /api/v2/silence/{id}.
func (a *API) GetSilence(w http.ResponseWriter, r *http.Request) {
	s, ok := a.d.silences.Get(r.PathValue("id"))
	if !ok {
		writeError(w, http.StatusNotFound, fmt.Sprintf("id %q: %v", r.PathValue("id"), ErrSilenceNotFound))
		return
	}
	writeJSON(w, http.StatusOK, a.gettable(s))
}

// DeleteSilence answers DELETE /api/v2/silence/{id} by expiring it.
func (a *API) DeleteSilence(w http.ResponseWriter, r *http.Request) {
	if err := a.d.silences.Expire(r.PathValue("id")); err != nil {
		code := http.StatusInternalServerError
		if errors.Is(err, ErrSilenceNotFound) {
			code = http.StatusNotFound
		}
		writeError(w, code, err.Error())
		return
	}
	w.WriteHeader(http.StatusOK)
}

// GroupStatus is one aggregation group in Status.
type GroupStatus struct {
	Key      string         `json:"groupKey"`
	Receiver string         `json:"receiver"`
	Labels   model.LabelSet `json:"labels"`
	Alerts   int            `json:"alerts"`
}

// Status answers GET /api/v1/notifications/status: the groups alive and
// the receivers configured, in the Prometheus API envelope.
func (a *API) Status(w http.ResponseWriter, _ *http.Request) {
	httpapi.WriteSuccess(w, a.d.Status())
}

// StatusData is the pipeline's state.
type StatusData struct {
	Groups    []GroupStatus `json:"groups"`
	Receivers []string      `json:"receivers"`
	Silences  int           `json:"activeSilences"`
	Flushes   int64         `json:"flushes"`
	Time      time.Time     `json:"time"`
}

// Status returns the pipeline's state.
func (d *Dispatcher) Status() StatusData {
	out := StatusData{Groups: []GroupStatus{}, Receivers: []string{}, Time: d.now(), Flushes: d.flushes.Load()}
	d.mu.Lock()
	for _, g := range d.groups {
		g.mu.Lock()
		out.Groups = append(out.Groups, GroupStatus{Key: g.key, Receiver: g.recv.name, Labels: g.labels, Alerts: len(g.alerts)})
		g.mu.Unlock()
	}
	d.mu.Unlock()
	sort.Slice(out.Groups, func(i, j int) bool { return out.Groups[i].Key < out.Groups[j].Key })
	for name := range d.cur.Load().recv {
		out.Receivers = append(out.Receivers, name)
	}
	sort.Strings(out.Receivers)
	for _, s := range d.silences.List() {
		if s.State(out.Time) == SilenceActive {
			out.Silences++
		}
	}
	return out
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// writeError writes Alertmanager's error body: a JSON string.
func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, msg)
}

// Routes are the silences' endpoints (Alertmanager v2) and the pipeline's
// status.
func (a *API) Routes() []httpapi.Route {
	return []httpapi.Route{
		{Method: http.MethodGet, Path: "/api/v2/silences", Handler: a.ListSilences},
		{Method: http.MethodPost, Path: "/api/v2/silences", Handler: a.PostSilence},
		{Method: http.MethodGet, Path: "/api/v2/silence/{id}", Handler: a.GetSilence},
		{Method: http.MethodDelete, Path: "/api/v2/silence/{id}", Handler: a.DeleteSilence},
		{Method: http.MethodGet, Path: "/api/v1/notifications/status", Handler: a.Status},
		// Alertmanager's API for alerts (amapi.go).
		{Method: http.MethodGet, Path: "/api/v2/alerts", Handler: a.GetAlerts},
		{Method: http.MethodPost, Path: "/api/v2/alerts", Handler: a.PostAlerts},
		{Method: http.MethodGet, Path: "/api/v2/alerts/groups", Handler: a.GetAlertGroups},
		{Method: http.MethodGet, Path: "/api/v2/receivers", Handler: a.GetReceivers},
		{Method: http.MethodGet, Path: "/api/v2/status", Handler: a.GetStatus},
	}
}
