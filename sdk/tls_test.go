package sdk

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestPusherTLSAndBearerToken: pushes to an https gmc verify its certificate
// against TLSConfig's roots and carry the bearer token.
func TestPusherTLSAndBearerToken(t *testing.T) {
	var authorized, other atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") == "Bearer push-token" {
			authorized.Add(1)
			w.WriteHeader(http.StatusNoContent)
			return
		}
		other.Add(1)
		w.WriteHeader(http.StatusUnauthorized)
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the untrusted attempts' handshake errors
	srv.StartTLS()
	defer srv.Close()
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())

	// push runs a pusher until until holds or max passes.
	push := func(opts PusherOptions, until func(*Pusher) bool, max time.Duration) *Pusher {
		reg := prometheus.NewRegistry()
		opts.URL, opts.Gatherer, opts.Registerer = srv.URL, reg, reg
		opts.Interval, opts.SpoolDir, opts.MaxRetryBackoff = 10*time.Millisecond, t.TempDir(), 20*time.Millisecond
		p, err := NewPusher(opts)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), max)
		done := make(chan struct{})
		go func() { _ = p.Run(ctx); close(done) }()
		for !until(p) && ctx.Err() == nil {
			time.Sleep(10 * time.Millisecond)
		}
		cancel()
		<-done
		return p
	}
	succeeded := func(p *Pusher) bool { return testutil.ToFloat64(p.requests.WithLabelValues("success")) > 0 }
	p := push(PusherOptions{TLSConfig: &tls.Config{RootCAs: pool}, BearerToken: "push-token"}, succeeded, 10*time.Second)
	if ok := testutil.ToFloat64(p.requests.WithLabelValues("success")); ok == 0 || authorized.Load() == 0 || other.Load() != 0 {
		t.Errorf("with the CA and token: %v successes, %d authorized, %d other requests", ok, authorized.Load(), other.Load())
	}
	// Without the CA the certificate is not trusted: nothing is delivered.
	before := authorized.Load()
	p = push(PusherOptions{BearerToken: "push-token"}, func(*Pusher) bool { return false }, 300*time.Millisecond)
	if got := testutil.ToFloat64(p.requests.WithLabelValues("success")); got != 0 || authorized.Load() != before {
		t.Errorf("without the CA: %v successes", got)
	}
}
