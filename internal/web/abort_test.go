package web_test

import (
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestBrowserAbortIsNoFailure: a refresh aborted while its answer's body
// is still arriving (the server hung: its event stream stopped pinging, so
// the page went "disconnected") is an abort, not "Refresh failed: …: 200 OK" (finding of
// the user review: on the busy demo host the order-gateway page showed that
// error with every chart empty after a heartbeat missed its 1.5 s).
func TestBrowserAbortIsNoFailure(t *testing.T) {
	ctx := browser(t)
	var stall atomic.Bool
	release := make(chan struct{})
	var stalled atomic.Int32
	// Range queries answer an empty matrix; while stall is set, they answer 200 with half a JSON body and
	// then waits; the event stream goes silent and /-/healthy hangs, so the
	// heartbeat times out and the page aborts the refresh mid-body.
	slowRange := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if stall.Load() {
			stalled.Add(1)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write([]byte(`{"status":"success","data":{"resultType":"matrix","result":[`))
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
			case <-release:
			}
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"success","data":{"resultType":"matrix","result":[]}}`))
	})
	healthy := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if stall.Load() {
			select {
			case <-r.Context().Done():
			case <-release:
			}
			return
		}
		_, _ = w.Write([]byte("gmc is healthy.\n"))
	})
	st := startStack(t, 2, false, withHandler("GET /api/v1/query_range", slowRange), withHandler("GET /-/healthy", healthy))
	load(t, ctx, st.URL+"/#/overview?range=live")
	stall.Store(true)
	st.mute.Store(true)
	if err := poll(ctx, 10*time.Second, `document.getElementById('conn').dataset.state === 'down'`); err != nil {
		stall.Store(false)
		st.mute.Store(false)
		close(release)
		t.Fatalf("the page never went disconnected: %v", err)
	}
	errText := eval[string](t, ctx, `document.getElementById('page').dataset.error || ''`)
	stall.Store(false)
	st.mute.Store(false)
	close(release)
	if stalled.Load() == 0 {
		t.Fatal("no query_range was stalled: the test did not exercise an abort mid-body")
	}
	if errText != "" {
		t.Errorf("an aborted refresh was reported as failed: %q", errText)
	}
	if err := poll(ctx, 10*time.Second, `document.getElementById('conn').dataset.state === 'ok'`); err != nil {
		t.Fatalf("did not recover: %v", err)
	}
	if txt := eval[string](t, ctx, `document.getElementById('conn').textContent`); strings.Contains(txt, "Refresh failed") {
		t.Errorf("after recovery the status says %q", txt)
	}
}
