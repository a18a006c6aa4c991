package query

import (
	"context"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/labels"
)

func TestQueryMaxSeries(t *testing.T) {
	var samples []sample
	for i := range 5 {
		samples = append(samples, sample{lset: labels.FromStrings("__name__", "m", "i", strconv.Itoa(i)), t: 60_000, v: 1})
	}
	a, err := New(Options{Queryable: openStore(t, samples), Registerer: prometheus.NewRegistry(),
		Now: func() time.Time { return time.Unix(120, 0) }, MaxSeries: 3})
	if err != nil {
		t.Fatal(err)
	}
	code, body := call(t, a.Query, "GET", url.Values{"query": {"m"}, "time": {"60"}}, nil)
	want := `{"status":"error","errorType":"execution","error":"query returned 5 series, more than query.max_series 3: narrow the selector or pass limit="}`
	if code != 422 || body != want {
		t.Errorf("5 series over max_series 3: got %d %s\nwant 422 %s", code, body, want)
	}
	code, body = call(t, a.Query, "GET", url.Values{"query": {"m"}, "time": {"60"}, "limit": {"2"}}, nil)
	if code != 200 || strings.Count(body, `"metric"`) != 2 || !strings.Contains(body, "results truncated due to limit") {
		t.Errorf("with limit=2: got %d %s", code, body)
	}
	code, _ = call(t, a.Query, "GET", url.Values{"query": {`m{i!="0"}`}, "time": {"60"}}, nil)
	if code != 422 {
		t.Errorf("4 series: %d, want 422", code)
	}
	if code, body = call(t, a.Query, "GET", url.Values{"query": {`m{i=~"[012]"}`}, "time": {"60"}}, nil); code != 200 {
		t.Errorf("3 series: %d %s", code, body)
	}
}

// TestQueryConcurrencyQueue: with the small lane's one slot taken, a small
// query waits in the lane's queue (and times out there); once the slot is
// free it runs.
func TestQueryConcurrencyQueue(t *testing.T) {
	a := newLanesAPI(t, fixture(t), laneConfig(1, 1))
	if err := a.lanes.small.acquire(context.Background(), sourceGMC); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	code, body := call(t, a.Query, "GET", url.Values{"query": {"up"}, "time": {"60"}, "timeout": {"200ms"}}, nil)
	if code != 503 || !strings.Contains(body, `"errorType":"timeout"`) || !strings.Contains(body, "query queue (small lane, query.small_query_max_concurrency)") {
		t.Errorf("with the slot taken: %d %s, want 503 timeout in the small lane's queue", code, body)
	}
	if waited := time.Since(start); waited < 200*time.Millisecond {
		t.Errorf("answered after %s, before its timeout: it did not wait", waited)
	}
	a.lanes.small.release()
	if code, body := call(t, a.Query, "GET", url.Values{"query": {"up"}, "time": {"60"}}, nil); code != 200 {
		t.Errorf("with the slot free: %d %s", code, body)
	}
}

// TestQueryMaxResponseBytes: an answer whose JSON passes
// query.max_response_bytes is refused with 422 naming the bound; the same
// query with limit= fits.
func TestQueryMaxResponseBytes(t *testing.T) {
	var samples []sample
	for i := range 50 {
		for ts := int64(0); ts <= 600_000; ts += 15_000 {
			samples = append(samples, sample{lset: labels.FromStrings("__name__", "m", "i", strconv.Itoa(i)), t: ts, v: float64(ts)})
		}
	}
	a, err := New(Options{Queryable: openStore(t, samples), Registerer: prometheus.NewRegistry(),
		Now: func() time.Time { return time.Unix(600, 0) }, MaxResponseBytes: 4096})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"status":"error","errorType":"execution","error":"response exceeds query.max_response_bytes 4096 bytes of JSON: narrow the selector, widen the step or pass limit="}`
	rng := url.Values{"query": {"m"}, "start": {"0"}, "end": {"600"}, "step": {"15"}}
	if code, body := call(t, a.QueryRange, "GET", rng, nil); code != 422 || body != want {
		t.Errorf("50 series × 41 points: %d %s\nwant 422 %s", code, body, want)
	}
	rng.Set("limit", "1")
	if code, body := call(t, a.QueryRange, "GET", rng, nil); code != 200 || len(body) > 4096 {
		t.Errorf("with limit=1: %d, %d bytes", code, len(body))
	}
	if code, body := call(t, a.Series, "GET", url.Values{"match[]": {"m"}}, nil); code != 200 {
		t.Errorf("50 label sets (~1.3 KB): %d %s", code, body)
	}
	if code, body := call(t, a.Query, "GET", url.Values{"query": {"m"}, "time": {"600"}}, nil); code != 200 {
		t.Errorf("an instant vector of 50 (~3 KB): %d %s", code, body)
	}
}

// blockingWriter is a ResponseWriter whose Write waits until release is
// closed, announcing on writing that it started.
type blockingWriter struct {
	*httptest.ResponseRecorder
	writing, release chan struct{}
}

func (w *blockingWriter) Write(b []byte) (int, error) {
	close(w.writing)
	<-w.release
	return w.ResponseRecorder.Write(b)
}

// TestQueryGateHoldsUntilWritten: with one slot in its lane, a query whose
// answer is still being written keeps the slot — a second query waits in the
// queue and times out there with 503 — and the slot frees once it is written.
func TestQueryGateHoldsUntilWritten(t *testing.T) {
	a := newLanesAPI(t, fixture(t), laneConfig(1, 1))
	w := &blockingWriter{ResponseRecorder: httptest.NewRecorder(), writing: make(chan struct{}), release: make(chan struct{})}
	done := make(chan struct{})
	go func() {
		defer close(done)
		a.Query(w, httptest.NewRequest("GET", "/api?query=up&time=60", nil))
	}()
	<-w.writing
	code, body := call(t, a.Query, "GET", url.Values{"query": {"up"}, "time": {"60"}, "timeout": {"200ms"}}, nil)
	if code != 503 || !strings.Contains(body, `"errorType":"timeout"`) || !strings.Contains(body, "query queue (small lane, query.small_query_max_concurrency)") {
		t.Errorf("while the first answer is written: %d %s, want 503 timeout in the query queue", code, body)
	}
	close(w.release)
	<-done
	if w.Code != 200 {
		t.Errorf("first query: %d", w.Code)
	}
	if code, body := call(t, a.Query, "GET", url.Values{"query": {"up"}, "time": {"60"}}, nil); code != 200 {
		t.Errorf("after the first answer was written: %d %s", code, body)
	}
}
