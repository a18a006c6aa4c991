package ingest

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// TestStallWatch: a write request counts as a stall of gmc's ingest while it
// has taken StallAfter so far (until: now), once it ended after that long
// (until: its end), or when its client gave up; quick requests do not.
func TestStallWatch(t *testing.T) {
	t0 := time.Date(2026, 12, 5, 2, 49, 20, 0, time.UTC)
	var clock atomic.Int64
	clock.Store(t0.UnixNano())
	now := func() time.Time { return time.Unix(0, clock.Load()).UTC() }
	set := func(d time.Duration) { clock.Store(t0.Add(d).UnixNano()) }
	w := newStallWatch(now, promauto.With(prometheus.NewRegistry()))
	release := make(chan struct{})
	entered := make(chan struct{}, 1)
	h := w.wrap(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			entered <- struct{}{}
			<-release
		}
		rw.WriteHeader(http.StatusNoContent)
	}))
	serve := func(path string, ctx context.Context) {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequestWithContext(ctx, http.MethodPost, path, strings.NewReader("x")))
	}

	serve("/quick", context.Background())
	if got := w.stalledUntil(now()); !got.IsZero() {
		t.Fatalf("after a quick request: stalled until %v, want never", got)
	}
	var wg sync.WaitGroup
	wg.Go(func() { serve("/slow", context.Background()) })
	<-entered
	set(StallAfter - time.Millisecond)
	if got := w.stalledUntil(now()); !got.IsZero() {
		t.Errorf("a request in flight for %v: stalled until %v, want not yet", StallAfter-time.Millisecond, got)
	}
	set(StallAfter + time.Second)
	if got := w.stalledUntil(now()); !got.Equal(now()) {
		t.Errorf("a request in flight for %v: stalled until %v, want now (%v)", StallAfter+time.Second, got, now())
	}
	if from, _ := w.stalled(now()); !from.Equal(t0) {
		t.Errorf("a request in flight since %v: stalled from %v", t0, from)
	}
	set(StallAfter + 2*time.Second)
	close(release)
	wg.Wait()
	end := now()
	set(StallAfter + 5*time.Second)
	if from, until := w.stalled(now()); !from.Equal(t0) || !until.Equal(end) {
		t.Errorf("after the slow request: stalled from %v until %v, want %v to its end %v", from, until, t0, end)
	}
	serve("/quick", context.Background())
	if got := w.stalledUntil(now()); !got.Equal(end) {
		t.Errorf("a quick request moved the stall to %v (want %v)", got, end)
	}
	set(StallAfter + 6*time.Second)
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // the client gave up
	serve("/quick", ctx)
	if from, until := w.stalled(now()); !from.Equal(now()) || !until.Equal(now()) {
		t.Errorf("after a request its client gave up: stalled from %v until %v, want a new stall at its start and end %v", from, until, now())
	}
}

// TestWriteRoutesWatched: every write route of the Ingester is timed for
// StalledUntil (a request whose client gave up counts); the Pushgateway's
// read-only API is not.
func TestWriteRoutesWatched(t *testing.T) {
	e := newTestEnv(t, nil)
	var tick atomic.Int64 // a clock that moves a second at every reading
	in, err := New(Options{Appendable: e.db, Limits: DefaultLimits(), Now: func() time.Time {
		return ingestTestNow().Add(time.Duration(tick.Add(1)) * time.Second)
	}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, r := range in.Routes() {
		path := strings.TrimSuffix(r.Path, "/") + "/x"
		if r.Method == http.MethodPost {
			path = r.Path
		}
		before := in.StalledUntil(in.now())
		req := httptest.NewRequestWithContext(ctx, cmpOr(r.Method, http.MethodPut), path, strings.NewReader(""))
		r.Handler(httptest.NewRecorder(), req)
		got := in.StalledUntil(in.now())
		watched := got.After(before)
		if want := r.Method != http.MethodGet; watched != want {
			t.Errorf("%s %s: timed for stalls %v, want %v", r.Method, r.Path, watched, want)
		}
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
