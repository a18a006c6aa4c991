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

	// Alerting: Prometheus-format alerts and rules, history, SLAs, and
	// Alertmanager-style silences.
	mux.HandleFunc("GET /api/v1/alerts", s.rules.Alerts)
	mux.HandleFunc("GET /api/v1/rules", s.rules.Rules)
	mux.HandleFunc("GET /alerts/history", s.rules.History)
	mux.HandleFunc("GET /sla", s.rules.SLA().List)
	mux.HandleFunc("GET /sla/{name}", s.rules.SLA().Get)
	silences := s.notify.API()
	mux.HandleFunc("GET /api/v2/silences", silences.ListSilences)
	mux.HandleFunc("POST /api/v2/silences", silences.PostSilence)
	mux.HandleFunc("GET /api/v2/silence/{id}", silences.GetSilence)
	mux.HandleFunc("DELETE /api/v2/silence/{id}", silences.DeleteSilence)
	mux.HandleFunc("GET /api/v1/notifications/status", silences.Status)

	// Benchmark reports.
	mux.HandleFunc("GET /benchmark/report", s.reports.Latest)
	mux.HandleFunc("GET /benchmark/reports", s.reports.List)
	mux.HandleFunc("GET /benchmark/report/{id}", s.reports.One)

	// Web dashboard: / (no-cache), /assets/ (hashed, immutable), /api/ui/events (SSE alert banner).
	for _, r := range s.ui.Routes() {
		mux.HandleFunc(r.Method+" "+r.Path, r.Handler)
	}
	return mux
}
