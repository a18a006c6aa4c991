package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"runtime/trace"
	"testing"
)

// TestReadTraceSeesConnections: readTrace finds an HTTP connection's
// goroutine woken by its request's bytes and its run after, in a trace of
// a server this process runs (what -trace reads from gmc), and takes for a
// connection's only the connection's own goroutine: not those it creates
// (net/http's background read per request) or wakes (here a helper),
// whose creating or waking event carries the connection's stack.
func TestReadTraceSeesConnections(t *testing.T) {
	wake := make(chan struct{})
	defer close(wake)
	go func() {
		for range wake { // woken by the handler
		}
	}()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { wake <- struct{}{} }))
	defer srv.Close()
	client := srv.Client()
	get := func() {
		resp, err := client.Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	get() // the connection exists before the trace: its goroutine waits for the next request
	var buf bytes.Buffer
	if err := trace.Start(&buf); err != nil {
		t.Fatal(err)
	}
	for range 20 {
		get()
	}
	trace.Stop()
	f, err := readTrace(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.wakes) < 20 {
		t.Errorf("%d connection wakes in the trace, want 20 or more: %s", len(f.wakes), f)
	}
	if f.conns != 1 {
		t.Errorf("%d goroutines taken for connections', want 1 (one keep-alive connection)", f.conns)
	}
	if f.span <= 0 {
		t.Errorf("trace spans %v", f.span)
	}
}
