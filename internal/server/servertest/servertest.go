// Package servertest runs an in-process gmc server for tests of other packages.
package servertest

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/gmc-dev/gmc/internal/config"
	"github.com/gmc-dev/gmc/internal/server"
)

// Run starts a gmc server with opts on a free loopback port and a fresh data
// dir (overriding opts.Config's), without waiting until it is ready, and
// stops it when the test ends (failing the test if Run returned an error).
// It is for tests that reach the server some other way than plain HTTP
// (TLS, tokens); the others use Start.
func Run(t testing.TB, opts server.Options) *server.Server {
	t.Helper()
	opts.Config.Server.ListenAddress = "127.0.0.1:0"
	opts.Config.Server.DataDir = t.TempDir()
	opts.Config.Normalise()
	if err := opts.Config.Validate(); err != nil {
		t.Fatal(err)
	}
	return Serve(t, opts)
}

// Serve starts a gmc server with opts as they are (its listen address and
// data dir too: a test restarting or reloading over one data dir) and
// stops it when the test ends, failing the test if Run returned an error.
func Serve(t testing.TB, opts server.Options) *server.Server {
	t.Helper()
	srv, _ := ServeStop(t, opts)
	return srv
}

// ServeStop is Serve for a test that stops the server before it ends (to
// start another over its data dir): stop stops it and waits for Run,
// failing the test if Run returned an error; it runs once, at the latest
// when the test ends.
func ServeStop(t testing.TB, opts server.Options) (*server.Server, func()) {
	t.Helper()
	srv, err := server.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	stop := sync.OnceFunc(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("gmc server: %v", err)
		}
	})
	t.Cleanup(stop)
	return srv, stop
}

// Start runs a gmc server with cfg as Run does, waits until it answers
// /-/ready over plain HTTP, and returns the server and its base URL.
func Start(t testing.TB, cfg config.Config) (*server.Server, string) {
	t.Helper()
	srv := Run(t, server.Options{Config: cfg})
	return srv, Ready(t, srv)
}

// Ready waits until srv answers /-/ready over plain HTTP (at most 10 s)
// and returns its base URL.
func Ready(t testing.TB, srv *server.Server) string {
	t.Helper()
	base := "http://" + srv.Addr()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(base + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return base
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("gmc server at %s not ready after 10s: %v", base, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
