package alerthistory

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func event(i int, state string) Event {
	return Event{Time: t0.Add(time.Duration(i) * time.Minute), Group: "g", State: state,
		Labels: map[string]string{"alertname": "A", "n": string(rune('a' + i))}, ActiveAt: t0.Add(time.Duration(i) * time.Minute), Value: "1"}
}

func TestTornLineAndRotation(t *testing.T) {
	dir := t.TempDir()
	h, err := Open(Options{Dir: dir, MaxBytes: 400, MaxEpisodes: 100})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if err := h.Add(event(i, "pending")); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	if err := h.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	path := filepath.Join(dir, "history.jsonl")
	if _, err := os.Stat(path + ".1"); err != nil {
		t.Fatalf("no rotated file after 5 events in 400 bytes: %v", err)
	}
	// A crash mid-write leaves a torn line.
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"time":"2026-01-01T00:`)
	f.Close()
	h, err = Open(Options{Dir: dir, MaxBytes: 1 << 20, MaxEpisodes: 100})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Add(event(9, "firing")); err != nil {
		t.Fatal(err)
	}
	h.Close()
	h, err = Open(Options{Dir: dir, MaxBytes: 1 << 20, MaxEpisodes: 100})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	eps := h.List(Filter{}, time.Now())
	// Event 0 may have rotated away (one previous file is kept); the newest
	// events and the one written after the torn line are all there.
	if len(eps) < 3 || eps[0].Labels["n"] != "j" || eps[0].State != "firing" {
		t.Fatalf("episodes after torn line = %+v", eps)
	}
}

// Episodes open at a stop are adopted once, and the ones no alert adopts
// are handed out as orphans of the groups asked for.
func TestAdoptAndOrphans(t *testing.T) {
	dir := t.TempDir()
	h, err := Open(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	for i, st := range []string{"firing", "pending", "resolved"} {
		ev := event(i, st)
		if st == "resolved" {
			ev.Group = "other"
		}
		if err := h.Add(ev); err != nil {
			t.Fatal(err)
		}
	}
	h.Close()
	h, err = Open(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	a := event(0, "").Labels
	if ep, ok := h.Adopt("g", a); !ok || !ep.ActiveAt.Equal(t0) || ep.State != "firing" {
		t.Fatalf("Adopt = %+v, %v; want the firing episode of 0m", ep, ok)
	}
	if _, ok := h.Adopt("g", a); ok {
		t.Fatal("an episode was adopted twice")
	}
	if o := h.Orphans(func(g string) bool { return g == "other" }); len(o) != 0 {
		t.Fatalf("orphans of a group with no open episode = %+v", o)
	}
	// The pending episode, open at the stop and not adopted: unknown once
	// marked so, and only then.
	if u := h.Unknown(); len(u) != 0 {
		t.Fatalf("Unknown before SetUnknown = %+v, want none", u)
	}
	h.SetUnknown("g", event(1, "").Labels, Unknown{Since: t0.Add(time.Minute), Restart: t0.Add(2 * time.Minute)})
	if u := h.Unknown(); len(u) != 1 || u[0].Labels["n"] != "b" || u[0].State != "unknown" {
		t.Fatalf("Unknown = %+v, want the pending episode of 1m in state unknown", u)
	}
	o := h.Orphans(func(g string) bool { return g == "g" })
	if len(o) != 1 || o[0].Labels["n"] != "b" || o[0].State != "pending" {
		t.Fatalf("orphans = %+v, want the pending episode of 1m", o)
	}
	if o := h.Orphans(func(string) bool { return true }); len(o) != 0 {
		t.Fatalf("orphans handed out twice: %+v", o)
	}
}

func TestServeHTTP(t *testing.T) {
	now := t0.Add(time.Hour)
	h, err := Open(Options{Now: func() time.Time { return now }, MaxEpisodes: 3})
	if err != nil {
		t.Fatal(err)
	}
	fired := t0.Add(30 * time.Second)
	for i := range 4 {
		ev := event(i, "pending")
		ev.Labels["service"] = "gw"
		switch i {
		case 1:
			ev.State = "inactive" // pending, then cleared: ended before since=2m
		case 3:
			ev.State, ev.FiredAt = "firing", &fired
		}
		if err := h.Add(ev); err != nil {
			t.Fatal(err)
		}
	}
	get := func(q string) (int, []Episode, string) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/alerts/history?"+q, nil))
		var resp struct {
			Status string
			Data   struct{ Episodes []Episode }
		}
		_ = json.Unmarshal(rec.Body.Bytes(), &resp)
		return rec.Code, resp.Data.Episodes, rec.Body.String()
	}
	// MaxEpisodes keeps the newest three; newest first; a firing episode
	// has fired up to now.
	code, eps, body := get("")
	if code != http.StatusOK || len(eps) != 3 || eps[0].Labels["n"] != "d" || eps[2].Labels["n"] != "b" {
		t.Fatalf("all: %d %s", code, body)
	}
	if want := now.Sub(fired).Seconds(); eps[0].FiringSeconds != want {
		t.Fatalf("firing_seconds = %v, want %v", eps[0].FiringSeconds, want)
	}
	for q, n := range map[string]int{
		"limit=2": 2, "service=gw": 3, "service=other": 0, "alertname=B": 0,
		"since=" + t0.Add(2*time.Minute).Format(time.RFC3339): 2,
	} {
		if code, eps, body := get(q); code != http.StatusOK || len(eps) != n || !strings.Contains(body, `"episodes":[`) {
			t.Errorf("%s: %d %s, want %d episodes", q, code, body, n)
		}
	}
	for _, q := range []string{"since=yesterday", "limit=0", "limit=x"} {
		if code, _, body := get(q); code != http.StatusBadRequest || !strings.Contains(body, `"errorType":"bad_data"`) {
			t.Errorf("%s: %d %s, want 400 bad_data", q, code, body)
		}
	}
}

// TestListKeepsOpenEpisodes: an episode that began before since and is
// still open (firing, pending, of unknown state) overlaps the range and is
// listed; one that ended before since is not.
func TestListKeepsOpenEpisodes(t *testing.T) {
	h, err := Open(Options{MaxEpisodes: 100})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	fired := t0.Add(time.Minute)
	firing := event(0, "firing")
	firing.FiredAt = &fired
	resolvedAt := t0.Add(5 * time.Minute)
	ended := event(1, "resolved")
	ended.ResolvedAt, ended.FiredAt = &resolvedAt, &fired
	for _, ev := range []Event{firing, event(2, "pending"), event(1, "firing"), ended} {
		if ev.State == "firing" && ev.FiredAt == nil {
			ev.FiredAt = &fired
		}
		if err := h.Add(ev); err != nil {
			t.Fatal(err)
		}
	}
	now := t0.Add(3 * time.Hour)
	got := map[string]string{}
	for _, ep := range h.List(Filter{Since: t0.Add(2 * time.Hour)}, now) {
		got[ep.Labels["n"]] = ep.State
	}
	if want := map[string]string{"a": "firing", "c": "pending"}; len(got) != len(want) || got["a"] != want["a"] || got["c"] != want["c"] {
		t.Errorf("episodes listed since 2h after they began: %v, want the open ones %v (the one resolved at 5m left out)", got, want)
	}
}
