package agent

import (
	"context"
	"encoding/pem"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gmc-dev/gmc/internal/duration"
)

// TestAgentTLSAndBearerTokenFile: an agent configured with tls_config's
// ca_file and bearer_token_file pushes to an https gmc_url, trusting the
// server's certificate through the CA file and sending the token of the file.
func TestAgentTLSAndBearerTokenFile(t *testing.T) {
	var authorized, other atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") == "Bearer agent-token" {
			authorized.Add(1)
			w.WriteHeader(http.StatusNoContent)
			return
		}
		other.Add(1)
		w.WriteHeader(http.StatusUnauthorized)
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	defer srv.Close()

	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	token := filepath.Join(dir, "token")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(token, []byte("agent-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.GMCURL = srv.URL + "/api/v1/write"
	cfg.Interval = duration.Duration(50 * time.Millisecond)
	cfg.Spool.Dir = filepath.Join(dir, "spool")
	cfg.Web.ListenAddress = ""
	cfg.TLSConfig.CAFile = ca
	cfg.BearerTokenFile = token
	a, err := New(Options{Config: cfg, Registry: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	waitUntil(t, "an authorized push over TLS", 10*time.Second, func() bool { return authorized.Load() > 0 })
	cancel()
	if err := <-done; err != nil {
		t.Errorf("agent run: %v", err)
	}
	if n := other.Load(); n != 0 {
		t.Errorf("%d pushes without the token", n)
	}
}
