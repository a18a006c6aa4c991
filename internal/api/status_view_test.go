package api

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// TestSystemStatusStatesView: view=states gives each service's state (and
// the last sample's time of one not up) with an ETag that stays while no
// state changes, so a poller gets 304; a state change gives a new body.
func TestSystemStatusStatesView(t *testing.T) {
	st := fixture(t)
	now := testNow
	a := newAPI(t, st, Options{Now: func() time.Time { return now }})
	ask := func(inm string) (*http.Response, string) {
		t.Helper()
		req := httptest.NewRequest("GET", "/system/status?view=states", nil)
		if inm != "" {
			req.Header.Set("If-None-Match", inm)
		}
		rec := httptest.NewRecorder()
		a.SystemStatus(rec, req)
		b, _ := io.ReadAll(rec.Body)
		return rec.Result(), string(b)
	}
	res, body := ask("")
	etag := res.Header.Get("ETag")
	if res.StatusCode != 200 || etag == "" || res.Header.Get("Cache-Control") != "no-cache" {
		t.Fatalf("states: %d, ETag %q, Cache-Control %q: %s", res.StatusCode, etag, res.Header.Get("Cache-Control"), body)
	}
	var got statesView
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]struct {
		state string
		seen  time.Duration // before testNow; 0: absent
	}{
		"gateway":         {StateStale, 2 * time.Minute},
		"matching-engine": {StateUp, 0},
		"old-svc":         {StateDown, 0},
	}
	if got.View != "states" || len(got.Services) != len(want) {
		t.Fatalf("states view %s", body)
	}
	for _, s := range got.Services {
		w := want[s.Service]
		if s.State != w.state || (w.seen == 0) != (s.LastSeenMs == nil) || (s.LastSeenMs != nil && *s.LastSeenMs != testNow.Add(-w.seen).UnixMilli()) {
			t.Errorf("%s: %+v, want %s seen %s before", s.Service, s, w.state, w.seen)
		}
	}
	// The full status for comparison: the states view is lighter.
	_, full := get(t, a.SystemStatus, "/system/status", nil)
	if len(body) >= len(full) {
		t.Errorf("states view %d bytes, full status %d", len(body), len(full))
	}

	// Seconds later, no state changed: same ETag, 304 with no body.
	now = testNow.Add(5 * time.Second)
	res, body = ask(etag)
	if res.StatusCode != http.StatusNotModified || body != "" || res.Header.Get("ETag") != etag {
		t.Errorf("unchanged states with If-None-Match: %d %q (ETag %q), want 304 and no body", res.StatusCode, body, res.Header.Get("ETag"))
	}
	if res, _ = ask("W/" + etag + `, "other"`); res.StatusCode != http.StatusNotModified {
		t.Errorf("a weak match in a list: %d, want 304", res.StatusCode)
	}
	// matching-engine goes stale 25 s after its newest sample (5 s before testNow).
	now = testNow.Add(30 * time.Second)
	res, body = ask(etag)
	if res.StatusCode != 200 || res.Header.Get("ETag") == etag {
		t.Fatalf("after a state change: %d, ETag %q (was %q)", res.StatusCode, res.Header.Get("ETag"), etag)
	}
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatal(err)
	}
	for _, s := range got.Services {
		if s.Service == "matching-engine" && (s.State != StateStale || s.LastSeenMs == nil || *s.LastSeenMs != testNow.Add(-5*time.Second).UnixMilli()) {
			t.Errorf("matching-engine 30 s on: %+v, want stale since its last sample", s)
		}
	}
	if code, _ := get(t, a.SystemStatus, "/system/status?view=nope", nil); code != http.StatusBadRequest {
		t.Errorf("view=nope: %d, want 400", code)
	}
}
