package ingest

import (
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/prometheus/prompb"
)

// TestSameTimestampConflictInOneRequest: two samples of one series at one
// timestamp with different values get the same 400 whether they come in one
// request or in two; the first is kept, the second named. An exact repeat is
// accepted either way.
func TestSameTimestampConflictInOneRequest(t *testing.T) {
	nowStr := strconv.FormatInt(nowMs, 10)
	up := []string{"__name__", "up", "job", "api"}
	t.Run("remote-write, one series entry", func(t *testing.T) {
		e := newTestEnv(t, nil)
		code, body := do(t, e.in.RemoteWrite(), http.MethodPost, "/api/v1/write", rwHeaders,
			encodeWrite(t, series(up, prompb.Sample{Timestamp: nowMs, Value: 1}, prompb.Sample{Timestamp: nowMs, Value: 2})))
		wantConflict(t, code, body, 1, nowMs)
		wantStored(t, e, `{__name__="up", job="api"} `+nowStr+` 1`)
	})
	t.Run("remote-write, two series entries", func(t *testing.T) {
		e := newTestEnv(t, nil)
		code, body := do(t, e.in.RemoteWrite(), http.MethodPost, "/api/v1/write", rwHeaders,
			encodeWrite(t, series(up, prompb.Sample{Timestamp: nowMs, Value: 1}), series(up, prompb.Sample{Timestamp: nowMs, Value: 2})))
		wantConflict(t, code, body, 1, nowMs)
		wantStored(t, e, `{__name__="up", job="api"} `+nowStr+` 1`)
	})
	t.Run("remote-write, two requests", func(t *testing.T) {
		e := newTestEnv(t, nil)
		if code, body := do(t, e.in.RemoteWrite(), http.MethodPost, "/api/v1/write", rwHeaders,
			encodeWrite(t, series(up, prompb.Sample{Timestamp: nowMs, Value: 1}))); code != http.StatusNoContent {
			t.Fatalf("first request: %d %s", code, body)
		}
		code, body := do(t, e.in.RemoteWrite(), http.MethodPost, "/api/v1/write", rwHeaders,
			encodeWrite(t, series(up, prompb.Sample{Timestamp: nowMs, Value: 2})))
		wantConflict(t, code, body, 0, nowMs)
		wantStored(t, e, `{__name__="up", job="api"} `+nowStr+` 1`)
	})
	t.Run("remote-write, exact repeat", func(t *testing.T) {
		e := newTestEnv(t, nil)
		code, body := do(t, e.in.RemoteWrite(), http.MethodPost, "/api/v1/write", rwHeaders,
			encodeWrite(t, series(up, prompb.Sample{Timestamp: nowMs, Value: 1}), series(up, prompb.Sample{Timestamp: nowMs, Value: 1})))
		if code != http.StatusNoContent {
			t.Fatalf("exact repeat: %d %s, want 204", code, body)
		}
		wantStored(t, e, `{__name__="up", job="api"} `+nowStr+` 1`)
	})
	t.Run("text push", func(t *testing.T) {
		e := newTestEnv(t, nil)
		body := "orders_total{side=\"buy\"} 1 " + nowStr + "\norders_total{side=\"buy\"} 2 " + nowStr + "\n"
		code, resp := do(t, e.in.TextPush(), http.MethodPut, "/metrics/job/oms", map[string]string{"Content-Type": "text/plain; version=0.0.4"}, []byte(body))
		wantConflict(t, code, resp, 1, nowMs)
		wantStored(t, e, `{__name__="orders_total", job="oms", service="oms", side="buy"} `+nowStr+` 1`,
			// The push counts as failed for its Pushgateway group.
			`{__name__="push_failure_time_seconds", job="oms", service="oms"} `+nowStr+` 1.795608e+09`,
			`{__name__="push_time_seconds", job="oms", service="oms"} `+nowStr+` 0`)
	})
	t.Run("json push", func(t *testing.T) {
		e := newTestEnv(t, nil)
		sec := strconv.FormatInt(nowMs/1000, 10)
		body := `[{"service":"oms","timestamp":` + sec + `,"metrics":{"orders":1}},{"service":"oms","timestamp":` + sec + `,"metrics":{"orders":2}}]`
		code, resp := do(t, e.in.JSONPush(), http.MethodPost, "/api/v1/push", map[string]string{"Content-Type": "application/json"}, []byte(body))
		wantConflict(t, code, resp, 1, nowMs)
		wantStored(t, e, `{__name__="orders", service="oms"} `+nowStr+` 1`)
	})
}

func wantConflict(t *testing.T, code int, body string, accepted int, ts int64) {
	t.Helper()
	want := "accepted " + strconv.Itoa(accepted) + " samples, rejected 1: "
	if code != http.StatusBadRequest || !strings.HasPrefix(body, want) ||
		!strings.Contains(body, "@"+strconv.FormatInt(ts, 10)+": duplicate sample for timestamp") {
		t.Fatalf("got %d %q, want 400 %q… naming the duplicate sample", code, body, want)
	}
}

func wantStored(t *testing.T, e *testEnv, want ...string) {
	t.Helper()
	got := e.stored(t)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("stored:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
