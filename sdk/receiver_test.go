package sdk

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/klauspost/compress/snappy"
	"github.com/prometheus/prometheus/prompb"
)

// fakeReceiver is a remote-write 1.0 receiver that decodes every request with
// Prometheus's own prompb types, so the SDK's hand-written encoder is checked
// against the reference. While down, it answers 503.
type fakeReceiver struct {
	t   *testing.T
	srv *httptest.Server

	mu       sync.Mutex
	down     bool
	status   int // answer while up; 204 when zero
	requests []*prompb.WriteRequest
	// hold, when set, is called with each request's body read, before the
	// receiver looks at its state (set it before the first request).
	hold func()
}

func newFakeReceiver(t *testing.T) *fakeReceiver {
	t.Helper()
	r := &fakeReceiver{t: t}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *fakeReceiver) serve(w http.ResponseWriter, req *http.Request) {
	if req.URL.Path != RemoteWritePath || req.Method != http.MethodPost {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	// The body first: a request whose sender has gone is still whole.
	body, err := io.ReadAll(req.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if r.hold != nil {
		r.hold()
	}
	r.mu.Lock()
	down, status := r.down, r.status
	r.mu.Unlock()
	if down {
		http.Error(w, "down", http.StatusServiceUnavailable)
		return
	}
	if status != 0 {
		http.Error(w, "refused", status)
		return
	}
	if req.Header.Get("Content-Encoding") != "snappy" || req.Header.Get("Content-Type") != "application/x-protobuf" {
		r.t.Errorf("headers: Content-Encoding %q, Content-Type %q", req.Header.Get("Content-Encoding"), req.Header.Get("Content-Type"))
	}
	raw, err := snappy.Decode(nil, body)
	if err != nil {
		r.t.Errorf("snappy decode: %v", err)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var wr prompb.WriteRequest
	if err := wr.Unmarshal(raw); err != nil {
		r.t.Errorf("protobuf decode: %v", err)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	r.requests = append(r.requests, &wr)
	r.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func (r *fakeReceiver) setDown(down bool) {
	r.mu.Lock()
	r.down = down
	r.mu.Unlock()
}

func (r *fakeReceiver) received() []*prompb.WriteRequest {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*prompb.WriteRequest(nil), r.requests...)
}

// floatValues returns, for each request in order, the value of the first
// series named name.
func floatValues(reqs []*prompb.WriteRequest, name string) (values []float64, timestamps []int64) {
	for _, wr := range reqs {
		for _, ts := range wr.Timeseries {
			if seriesName(ts) == name && len(ts.Samples) == 1 {
				values = append(values, ts.Samples[0].Value)
				timestamps = append(timestamps, ts.Samples[0].Timestamp)
				break
			}
		}
	}
	return values, timestamps
}

func seriesName(ts prompb.TimeSeries) string {
	for _, l := range ts.Labels {
		if l.Name == "__name__" {
			return l.Value
		}
	}
	return ""
}
