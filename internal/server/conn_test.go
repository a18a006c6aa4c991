package server_test

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gmc-dev/gmc/internal/config"
)

// TestConnectionBounds: a client dripping a body is cut off after
// server.read_timeout, an idle keep-alive connection is closed after
// server.idle_timeout, and server.max_connections caps open connections (the
// next one is served only once another closes).
func TestConnectionBounds(t *testing.T) {
	cfg := config.Default()
	cfg.Server.ReadTimeout = config.Duration(time.Second)
	cfg.Server.IdleTimeout = config.Duration(time.Second)
	cfg.Server.MaxConnections = 2
	base := startServer(t, cfg)
	addr := strings.TrimPrefix(base, "http://")

	// closedWithin reads from c until it is closed, or fails after limit.
	closedWithin := func(c net.Conn, limit time.Duration) time.Duration {
		t.Helper()
		start := time.Now()
		_ = c.SetReadDeadline(start.Add(limit))
		_, err := io.Copy(io.Discard, c)
		if ne := net.Error(nil); errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("connection still open after %s", limit)
		}
		return time.Since(start)
	}

	t.Run("dripping body", func(t *testing.T) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := io.WriteString(c, "POST /api/v1/push HTTP/1.1\r\nHost: "+addr+"\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n["); err != nil {
			t.Fatal(err)
		}
		took := closedWithin(c, 15*time.Second)
		t.Logf("dripping connection closed after %s (read_timeout 1s)", took.Round(time.Millisecond))
	})

	t.Run("idle keep-alive", func(t *testing.T) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := io.WriteString(c, "GET /-/healthy HTTP/1.1\r\nHost: "+addr+"\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("healthy: %v %v", resp, err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		took := closedWithin(c, 15*time.Second)
		t.Logf("idle connection closed after %s (idle_timeout 1s)", took.Round(time.Millisecond))
	})

	t.Run("connection cap", func(t *testing.T) {
		var held []net.Conn
		for range 2 {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			held = append(held, c)
		}
		// Both slots are taken by silent connections: a third request waits.
		client := &http.Client{Timeout: 300 * time.Millisecond}
		if resp, err := client.Get(base + "/-/healthy"); err == nil {
			resp.Body.Close()
			t.Fatal("a third connection was served while max_connections 2 were open")
		}
		// The silent ones are cut by read_timeout; then requests pass again.
		deadline := time.Now().Add(15 * time.Second)
		for {
			resp, err := (&http.Client{Timeout: 2 * time.Second}).Get(base + "/-/healthy")
			if err == nil {
				resp.Body.Close()
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no request served after the held connections timed out: %v", err)
			}
		}
		for _, c := range held {
			c.Close()
		}
	})
}
