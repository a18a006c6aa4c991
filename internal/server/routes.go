package server

import (
	"net/http"
	"net/http/pprof"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// routes is gmc's one routing table; middleware (auth, limits, TLS) wraps
// what it returns.
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()

	// Self-monitoring.
	mux.HandleFunc("GET /-/healthy", func(w http.ResponseWriter, _ *http.Request) {
		w.Write([]byte("gmc is healthy.\n"))
	})
	mux.HandleFunc("GET /-/ready", func(w http.ResponseWriter, _ *http.Request) {
		if !s.ready.Load() {
			http.Error(w, "gmc is not ready.", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("gmc is ready.\n"))
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{Registry: s.reg}))
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)

	// Ingest.
	mux.Handle("POST /api/v1/write", s.ingester.RemoteWrite())
	mux.Handle("POST /api/v1/push", s.ingester.JSONPush())
	mux.Handle("/metrics/job/", s.ingester.TextPush())

	// Prometheus HTTP API.
	for _, r := range s.query.Routes() {
		mux.HandleFunc(r.Method+" "+r.Path, r.Handler)
	}

	// Product REST API.
	for _, r := range s.api.Routes() {
		mux.HandleFunc(r.Method+" "+r.Path, r.Handler)
	}
	return mux
}
