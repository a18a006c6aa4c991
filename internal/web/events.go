package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Alert is one firing alert as the banner shows it.
type Alert struct {
	Name        string            `json:"name"`
	Severity    string            `json:"severity,omitempty"`
	Service     string            `json:"service,omitempty"`
	Summary     string            `json:"summary,omitempty"`
	State       string            `json:"state"`
	ActiveAt    *time.Time        `json:"active_at,omitempty"`
	Value       string            `json:"value,omitempty"`
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations,omitempty"`
	// KeepFiringSince is set while the alert fires only because its rule's
	// keep_firing_for holds it: its condition has not held since then, and
	// its value and summary are of before (Prometheus's keepFiringSince).
	KeepFiringSince *time.Time `json:"keep_firing_since,omitempty"`
	// Drain is set on a firing SLA burn-rate alert whose errors have
	// ended: it fires on until its short window no longer holds them.
	Drain *Drain `json:"drain,omitempty"`
}

// Drain says when a firing burn-rate alert's errors ended and by when its
// short window (Window, as "5m") drains them (sla.Drain).
type Drain struct {
	ErrorsEnded time.Time `json:"errors_ended"`
	Clears      time.Time `json:"clears"`
	Window      string    `json:"window"`
}

// AlertSource returns the alerts firing now, those firing but silenced or
// inhibited (State "suppressed", Alertmanager's word: they notify nobody),
// and those whose state gmc does not know (State "unknown": an episode open
// when gmc stopped, not yet seen nor ended since its restart).
// ErrAlertsUnavailable (wrapped or not) means alerting is not part of this
// server.
type AlertSource func(ctx context.Context) ([]Alert, error)

// ErrAlertsUnavailable says the server has no alerting.
var ErrAlertsUnavailable = errors.New("alerting is not available on this server")

// NewAlert is the banner's view of one alert of Prometheus's alert model
// (labels, annotations, state, activeAt, value).
func NewAlert(labels, annotations map[string]string, state string, activeAt *time.Time, value string) Alert {
	return Alert{
		Name: labels["alertname"], Severity: labels["severity"], Service: labels["service"],
		Summary: firstNonEmpty(annotations["summary"], annotations["description"]),
		State:   state, ActiveAt: activeAt, Value: value, Labels: labels, Annotations: annotations,
	}
}

// Firing returns the firing alerts of as (pending ones left out), sorted by
// SortAlerts.
func Firing(as []Alert) []Alert {
	out := []Alert{}
	for _, a := range as {
		if a.State == "firing" {
			out = append(out, a)
		}
	}
	SortAlerts(out)
	return out
}

// SortAlerts orders alerts by severity (critical/page, warning/ticket,
// others), then name, service and labels.
func SortAlerts(as []Alert) {
	rank := func(s string) int {
		switch strings.ToLower(s) {
		case "critical", "page":
			return 0
		case "warning", "ticket":
			return 1
		}
		return 2
	}
	slices.SortStableFunc(as, func(a, b Alert) int {
		if d := rank(a.Severity) - rank(b.Severity); d != 0 {
			return d
		}
		if c := strings.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		return strings.Compare(a.Service, b.Service)
	})
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

// eventData is the body of one "alerts" event.
type eventData struct {
	// Available is false when the server has no alerting.
	Available bool    `json:"available"`
	Alerts    []Alert `json:"alerts"`
	// Unknown are the alerts of unknown state (see AlertSource), apart:
	// the banner said nothing of them, as if all were quiet.
	Unknown []Alert `json:"unknown,omitempty"`
	// Suppressed counts the firing alerts silenced or inhibited, left out
	// of Alerts: the banner said "2 alerts firing" where the Alerts page
	// said "2 firing · 4 suppressed".
	Suppressed int    `json:"suppressed,omitempty"`
	Error      string `json:"error,omitempty"`
}

// serveEvents is GET /api/ui/events: a text/event-stream of "alerts" events,
// one at once and then one each time the set of firing alerts (or its
// availability) changes, polled every Interval, and a "ping" event every
// Ping whose data is the server's time in Unix milliseconds (the
// dashboard's heartbeat).
func (u *UI) serveEvents(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	if _, err := fmt.Fprint(w, "retry: 2000\n\n"); err != nil {
		return
	}
	_ = rc.Flush()

	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	// The alerts are read on their own goroutine, so a slow alert source
	// never holds up a ping: a busy server is still heard from.
	snaps := make(chan []byte, 1)
	done := make(chan struct{})
	defer func() { cancel(); <-done }()
	go func() {
		defer close(done)
		poll := time.NewTicker(u.opts.Interval)
		defer poll.Stop()
		for {
			b := u.sharedSnapshot(ctx)
			if ctx.Err() != nil {
				return
			}
			select {
			case <-snaps: // the writer has not taken the older one: drop it
			default:
			}
			snaps <- b
			select {
			case <-ctx.Done():
				return
			case <-poll.C:
			}
		}
	}()
	beat := time.NewTicker(u.opts.Ping)
	defer beat.Stop()
	var last []byte
	for {
		var event string
		select {
		case <-ctx.Done():
			return
		case <-u.done:
			return
		case <-beat.C:
			event = fmt.Sprintf("event: ping\ndata: %d\n\n", time.Now().UnixMilli())
		case b := <-snaps:
			if bytes.Equal(b, last) {
				continue
			}
			last = b
			event = fmt.Sprintf("event: alerts\ndata: %s\n\n", b)
		}
		if _, err := io.WriteString(w, event); err != nil {
			return
		}
		if err := rc.Flush(); err != nil {
			return
		}
	}
}

// sharedSnapshot is the JSON of the current "alerts" event, read once per
// Interval for all the event streams: each open tab polled Alerts on its
// own, and with it the raw error counters a firing burn-rate alert's drain
// reads (sla.Reporter.Drain), N reads an interval for N tabs. A snapshot
// begun less than Interval ago is reused, so none is older than one poll;
// a stream that finds one being read waits for it. A read whose stream
// ended while it ran is not kept (it may hold the cancellation's error):
// the streams that waited for it read again. Nil when ctx ends first.
func (u *UI) sharedSnapshot(ctx context.Context) []byte {
	sh := &u.snap
	for {
		sh.mu.Lock()
		if sh.b != nil && time.Since(sh.at) < u.opts.Interval {
			b := sh.b
			sh.mu.Unlock()
			return b
		}
		if wait := sh.reading; wait != nil {
			sh.mu.Unlock()
			select {
			case <-wait:
				continue
			case <-ctx.Done():
				return nil
			}
		}
		done := make(chan struct{})
		sh.reading = done
		begun := time.Now()
		sh.mu.Unlock()

		b := u.snapshot(ctx)
		sh.mu.Lock()
		if ctx.Err() == nil {
			sh.b, sh.at = b, begun
		}
		sh.reading = nil
		sh.mu.Unlock()
		close(done)
		return b
	}
}

// snapshot is the JSON of the current "alerts" event.
func (u *UI) snapshot(ctx context.Context) []byte {
	d := eventData{Available: true, Alerts: []Alert{}}
	if u.opts.Alerts == nil {
		d.Available = false
	} else {
		qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		as, err := u.opts.Alerts(qctx)
		cancel()
		switch {
		case errors.Is(err, ErrAlertsUnavailable):
			d.Available = false
		case err != nil:
			d.Error = err.Error()
			// Logged when it begins or changes, not at every poll while
			// it lasts; a read whose stream ended says nothing.
			if ctx.Err() == nil {
				u.alertsErr.Note(u.opts.Logger, struct{}{}, err, "read alerts for the dashboard")
			}
		default:
			u.alertsErr.Note(u.opts.Logger, struct{}{}, nil, "read alerts for the dashboard")
			for _, a := range as {
				switch a.State {
				case "unknown":
					d.Unknown = append(d.Unknown, a)
				case "suppressed":
					d.Suppressed++
				default:
					d.Alerts = append(d.Alerts, a)
				}
			}
		}
	}
	b, err := json.Marshal(d)
	if err != nil { // only plain strings and maps: cannot happen
		return []byte(`{"available":false,"alerts":[],"error":"encode alerts"}`)
	}
	return b
}
