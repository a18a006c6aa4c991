package server_test

import (
	"net"
	"testing"

	"github.com/gmc-dev/gmc/internal/config"
	"github.com/gmc-dev/gmc/internal/server"
)

// A failed New releases what it had acquired: the data dir's storage can be
// opened again at once (the TSDB holds a lock on it while open).
func TestFailedNewReleasesStorage(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	cfg := config.Default()
	cfg.Normalise()
	cfg.Server.DataDir = t.TempDir()
	cfg.Server.ListenAddress = busy.Addr().String()
	if _, err := server.New(server.Options{Config: cfg}); err == nil {
		t.Fatal("New on a busy address: no error")
	}
	cfg.Server.ListenAddress = "127.0.0.1:0"
	srv, err := server.New(server.Options{Config: cfg})
	if err != nil {
		t.Fatalf("New after a failed New on the same data dir: %v", err)
	}
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
}

// Close without Run releases everything, and a second Close is a no-op.
func TestCloseIsIdempotent(t *testing.T) {
	cfg := config.Default()
	cfg.Normalise()
	cfg.Server.DataDir = t.TempDir()
	cfg.Server.ListenAddress = "127.0.0.1:0"
	srv, err := server.New(server.Options{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	addr := srv.Addr()
	for i := range 2 {
		if err := srv.Close(); err != nil {
			t.Fatalf("Close #%d: %v", i+1, err)
		}
	}
	// The listener is released: the address can be bound again.
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("address %s still bound after Close: %v", addr, err)
	}
	ln.Close()
	srv2, err := server.New(server.Options{Config: cfg})
	if err != nil {
		t.Fatalf("storage still held after Close: %v", err)
	}
	_ = srv2.Close()
}
