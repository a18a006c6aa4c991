package ingest

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/prometheus/prompb"
)

// TestDecodedBytesInFlight: while other requests hold most of
// limits.max_decoded_bytes_in_flight, a remote-write request that does not fit
// waits, then gets 429 with Retry-After naming the limit; once they finish it
// is written. One that could never fit gets 413.
func TestDecodedBytesInFlight(t *testing.T) {
	const max = 64 << 10
	e := newTestEnv(t, func(l *Limits) { l.MaxDecodedBytesInFlight = max })
	e.in.inflight.wait = 50 * time.Millisecond
	// A body decoding to ~20 KiB: 200 series with long label values.
	var ts []prompb.TimeSeries
	for i := range 200 {
		ts = append(ts, series([]string{"__name__", "bomb", "i", strings.Repeat("x", 80) + string(rune('a'+i%26)) + string(rune('a'+i/26))},
			prompb.Sample{Timestamp: nowMs, Value: float64(i)}))
	}
	body := encodeWrite(t, ts...)
	release, err := e.in.inflight.acquire(context.Background(), max-1000)
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodPost, "/api/v1/write", bytes.NewReader(body))
	for k, v := range rwHeaders {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	e.in.RemoteWrite().ServeHTTP(w, r)
	if code, msg := w.Code, w.Body.String(); code != http.StatusTooManyRequests || !strings.Contains(msg, "limits.max_decoded_bytes_in_flight 65536 reached") {
		t.Fatalf("with the bound held: %d %q, want 429 naming the limit", code, msg)
	}
	if got := w.Header().Get("Retry-After"); got != "1" {
		t.Errorf("429's Retry-After = %q, want 1", got)
	}
	if got := testutil.ToFloat64(e.in.inflight.full); got != 1 {
		t.Errorf("limit hits = %v, want 1", got)
	}
	release()
	if code, msg := do(t, e.in.RemoteWrite(), http.MethodPost, "/api/v1/write", rwHeaders, body); code != http.StatusNoContent {
		t.Fatalf("after release: %d %q", code, msg)
	}
	if got := testutil.ToFloat64(e.in.inflight.bytes); got != 0 {
		t.Errorf("bytes in flight after the requests = %v, want 0", got)
	}
	small := newTestEnv(t, func(l *Limits) { l.MaxDecodedBytesInFlight = 1 << 10 })
	if code, msg := do(t, small.in.RemoteWrite(), http.MethodPost, "/api/v1/write", rwHeaders, body); code != http.StatusRequestEntityTooLarge ||
		!strings.Contains(msg, "exceeds limits.max_decoded_bytes_in_flight 1024") {
		t.Fatalf("body over the whole bound: %d %q, want 413", code, msg)
	}
}
