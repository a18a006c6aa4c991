package web

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// flushRecorder is an http.ResponseWriter an event stream can flush, safe
// to read while the stream writes.
type flushRecorder struct {
	mu  sync.Mutex
	rec *httptest.ResponseRecorder
}

func (f *flushRecorder) Header() http.Header { return f.rec.Header() }
func (f *flushRecorder) WriteHeader(code int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rec.WriteHeader(code)
}

func (f *flushRecorder) Write(b []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.rec.Write(b)
}
func (f *flushRecorder) Flush() {}

// TestEventsOneReadPerInterval: every open event stream polled the alert
// source on its own, and with it the raw error counters each firing
// burn-rate alert's drain hint reads (sla.Reporter.Drain): three tabs made
// three reads a second. The streams share one snapshot per Interval, none
// older than one Interval. Three streams open at once over 2.5 intervals:
// polls at 0, 1 and 2 intervals, one read each (9 reads on the old code);
// a change is in every stream's next snapshot.
func TestEventsOneReadPerInterval(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var reads atomic.Int64
		var name atomic.Pointer[string]
		first := "A"
		name.Store(&first)
		src := func(ctx context.Context) ([]Alert, error) {
			reads.Add(1)
			n := *name.Load()
			return []Alert{{Name: n, State: "firing", Labels: map[string]string{"alertname": n}}}, nil
		}
		ui, err := New(Options{Alerts: src, Interval: time.Second, Ping: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		recs := make([]*flushRecorder, 3)
		for i := range recs {
			recs[i] = &flushRecorder{rec: httptest.NewRecorder()}
			req := httptest.NewRequestWithContext(ctx, http.MethodGet, "/api/ui/events", nil)
			wg.Go(func() { ui.Handler().ServeHTTP(recs[i], req) })
		}
		synctest.Wait()
		if got := reads.Load(); got != 1 {
			t.Errorf("three streams opened at once: %d reads of the alerts, want 1", got)
		}
		sent := func(when, want string) {
			t.Helper()
			for i, r := range recs {
				r.mu.Lock()
				got := r.rec.Body.String()
				r.mu.Unlock()
				if got != want {
					t.Errorf("%s: stream %d sent %q, want %q", when, i, got, want)
				}
			}
		}
		a := "retry: 2000\n\n" +
			`event: alerts` + "\n" + `data: {"available":true,"alerts":[{"name":"A","state":"firing","labels":{"alertname":"A"}}]}` + "\n\n"
		b := `event: alerts` + "\n" + `data: {"available":true,"alerts":[{"name":"B","state":"firing","labels":{"alertname":"B"}}]}` + "\n\n"
		// Half an interval on, B fires instead of A: no stream has read it
		// yet; at the next poll, all have.
		time.Sleep(500 * time.Millisecond)
		second := "B"
		name.Store(&second)
		synctest.Wait()
		sent("before the next poll", a)
		time.Sleep(500 * time.Millisecond)
		synctest.Wait()
		sent("at the next poll", a+b)
		if got := reads.Load(); got != 2 {
			t.Errorf("three streams at their second poll: %d reads of the alerts, want 2", got)
		}
		time.Sleep(1500 * time.Millisecond)
		synctest.Wait()
		if got := reads.Load(); got != 3 {
			t.Errorf("three streams over 2.5 intervals: %d reads of the alerts, want 3 (one per interval)", got)
		}
		cancel()
		wg.Wait()
		sent("at the end", a+b)
	})
}

// TestEventsSharedReadOfEndedStream: a stream that ends while its read
// for all runs (its tab closed) leaves the streams that waited for it
// neither its cancellation's error nor nothing: they read again.
func TestEventsSharedReadOfEndedStream(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var reads atomic.Int64
		src := func(ctx context.Context) ([]Alert, error) {
			if reads.Add(1) == 1 { // the first read lasts until its stream ends
				<-ctx.Done()
				return nil, ctx.Err()
			}
			return []Alert{{Name: "A", State: "firing", Labels: map[string]string{"alertname": "A"}}}, nil
		}
		ui, err := New(Options{Alerts: src, Interval: time.Second, Ping: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		ctx1, end1 := context.WithCancel(context.Background())
		ctx2, end2 := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		rec1, rec2 := &flushRecorder{rec: httptest.NewRecorder()}, &flushRecorder{rec: httptest.NewRecorder()}
		wg.Go(func() {
			ui.Handler().ServeHTTP(rec1, httptest.NewRequestWithContext(ctx1, http.MethodGet, "/api/ui/events", nil))
		})
		synctest.Wait()
		wg.Go(func() {
			ui.Handler().ServeHTTP(rec2, httptest.NewRequestWithContext(ctx2, http.MethodGet, "/api/ui/events", nil))
		})
		synctest.Wait()
		if got := reads.Load(); got != 1 {
			t.Fatalf("a second stream while the first's read runs: %d reads, want 1 (it waits)", got)
		}
		end1()
		synctest.Wait()
		end2()
		wg.Wait()
		want := "retry: 2000\n\n" +
			`event: alerts` + "\n" + `data: {"available":true,"alerts":[{"name":"A","state":"firing","labels":{"alertname":"A"}}]}` + "\n\n"
		if got := rec2.rec.Body.String(); got != want {
			t.Errorf("the stream that waited sent %q, want %q", got, want)
		}
		if got := reads.Load(); got != 2 {
			t.Errorf("%d reads, want 2 (the ended stream's, then the waiting one's own)", got)
		}
	})
}
