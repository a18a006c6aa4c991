package query

import (
	"context"
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

// TestQueryConcurrencyQueue: with max_concurrency 1 and the one slot taken, a
// query waits in the queue (and times out there); once the slot is free it runs.
func TestQueryConcurrencyQueue(t *testing.T) {
	a, err := New(Options{Queryable: fixture(t), Registerer: prometheus.NewRegistry(),
		Now: func() time.Time { return time.Unix(120, 0) }, MaxConcurrency: 1, ActiveQueryDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	slot, err := a.tracker.Insert(context.Background(), "a long query")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	code, body := call(t, a.Query, "GET", url.Values{"query": {"up"}, "time": {"60"}, "timeout": {"200ms"}}, nil)
	if code != 503 || !strings.Contains(body, `"errorType":"timeout"`) || !strings.Contains(body, "query queue") {
		t.Errorf("with the slot taken: %d %s, want 503 timeout in the queue", code, body)
	}
	if waited := time.Since(start); waited < 200*time.Millisecond {
		t.Errorf("answered after %s, before its timeout: it did not wait", waited)
	}
	a.tracker.Delete(slot)
	if code, body := call(t, a.Query, "GET", url.Values{"query": {"up"}, "time": {"60"}}, nil); code != 200 {
		t.Errorf("with the slot free: %d %s", code, body)
	}
}
