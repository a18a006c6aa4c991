package main

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// alertName is the alert every target fires.
const alertName = "BenchLatencyHigh"

// webhookMsg is the part of Alertmanager's webhook payload the harness reads
// (gmc's webhook receiver sends the same shape).
type webhookMsg struct {
	Status string `json:"status"`
	Alerts []struct {
		Status string            `json:"status"`
		Labels map[string]string `json:"labels"`
	} `json:"alerts"`
}

// recorder keeps, per iteration, when the first firing and the first
// resolved notification of its alert arrived.
type recorder struct {
	mu       sync.Mutex
	firing   map[int]time.Time
	resolved map[int]time.Time
	bad      int // payloads that did not decode
	// changed is closed (and replaced) on every notification: a broadcast
	// to the waiters.
	changed chan struct{}
}

func newRecorder() *recorder {
	return &recorder{firing: map[int]time.Time{}, resolved: map[int]time.Time{}, changed: make(chan struct{})}
}

// ServeHTTP takes one webhook notification; its arrival time is read before
// the body, so decoding does not count against the target.
func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	at := time.Now()
	b, err := io.ReadAll(req.Body)
	var m webhookMsg
	if err == nil {
		err = json.Unmarshal(b, &m)
	}
	r.mu.Lock()
	if err != nil {
		r.bad++
	}
	for _, a := range m.Alerts {
		if a.Labels["alertname"] != alertName {
			continue
		}
		i, err := strconv.Atoi(a.Labels["iter"])
		if err != nil {
			continue
		}
		dst := r.firing
		if a.Status == "resolved" {
			dst = r.resolved
		}
		if _, seen := dst[i]; !seen {
			dst[i] = at
		}
	}
	close(r.changed)
	r.changed = make(chan struct{})
	r.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

// at returns when iteration i's firing (or resolved) notification arrived,
// and a channel closed at the next notification.
func (r *recorder) at(i int, resolved bool) (time.Time, bool, <-chan struct{}) {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := r.firing
	if resolved {
		m = r.resolved
	}
	t, ok := m[i]
	return t, ok, r.changed
}

// wait waits until iteration i's firing (or resolved) notification has
// arrived or the deadline passes.
func (r *recorder) wait(i int, resolved bool, deadline time.Time) (time.Time, bool) {
	for {
		t, ok, changed := r.at(i, resolved)
		if ok {
			return t, true
		}
		left := time.Until(deadline)
		if left <= 0 {
			return time.Time{}, false
		}
		timer := time.NewTimer(left)
		select {
		case <-changed:
		case <-timer.C:
		}
		timer.Stop()
	}
}

func (r *recorder) badPayloads() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.bad
}

// hookServer is the harness's loopback webhook listener; each target run
// gets its own path and recorder.
type hookServer struct {
	srv  *http.Server
	addr string
	mu   sync.Mutex
	recs map[string]*recorder
}

func startHook() (*hookServer, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	h := &hookServer{addr: l.Addr().String(), recs: map[string]*recorder{}}
	h.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		h.mu.Lock()
		rec := h.recs[req.URL.Path]
		h.mu.Unlock()
		if rec == nil {
			w.WriteHeader(http.StatusOK) // a stopped run's late notification
			return
		}
		rec.ServeHTTP(w, req)
	}), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = h.srv.Serve(l) }()
	return h, nil
}

// register returns the URL of a new recorder at /hook/<name>.
func (h *hookServer) register(name string) (string, *recorder) {
	rec := newRecorder()
	path := "/hook/" + name
	h.mu.Lock()
	h.recs[path] = rec
	h.mu.Unlock()
	return "http://" + h.addr + path, rec
}

func (h *hookServer) close() { _ = h.srv.Close() }
