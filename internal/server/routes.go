package server

import (
	"net/http"
	"net/http/pprof"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/gmc-dev/gmc/internal/httpapi"
)

// routes is gmc's one routing table: every component's routes pass through
// it, and middleware (auth, limits, TLS) wraps what it returns.
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	for _, rs := range [][]httpapi.Route{
		s.selfRoutes(),          // /-/healthy, /-/ready, /metrics, /debug/pprof/
		s.ingester.Routes(),     // remote-write, JSON push, Pushgateway text push
		s.query.Routes(),        // the Prometheus HTTP API
		s.api.Routes(),          // the product REST API
		s.trends.Routes(),       // GET /trends/{service} (docs/history.md)
		s.tiers.Routes(),        // POST /api/v1/admin/tiers/reaggregate (docs/history.md)
		s.rules.Routes(),        // Prometheus-format alerts and rules
		s.history.Routes(),      // GET /alerts/history
		s.sla.Routes(),          // SLAs
		s.notify.API().Routes(), // Alertmanager-style silences, notification status
		s.reports.Routes(),      // benchmark reports
		s.ui.Routes(),           // the dashboard: /, /assets/, /api/ui/events (SSE)
	} {
		httpapi.Mount(mux, rs)
	}
	// Auth, Host and cross-origin checks and security headers first; then
	// each answer's write deadline.
	return s.guard.Wrap(writeDeadline(mux, func() time.Duration { return time.Duration(s.cfg.Load().Server.WriteTimeout) }))
}

// writeDeadline gives every answer d() to be written (server.write_timeout
// in force: a reload applies it to the requests after), except event
// streams, which stay open while the dashboard is; 0: no bound.
func writeDeadline(next http.Handler, d func() time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if d := d(); d > 0 && !strings.Contains(r.Header.Get("Accept"), "text/event-stream") {
			// Recorders in tests do not support deadlines; nothing to bound there.
			_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(d))
		}
		next.ServeHTTP(w, r)
	})
}

// selfRoutes are the self-monitoring endpoints.
func (s *Server) selfRoutes() []httpapi.Route {
	return []httpapi.Route{
		{Method: http.MethodGet, Path: "/-/healthy", Handler: func(w http.ResponseWriter, _ *http.Request) {
			_, _ = w.Write([]byte("gmc is healthy.\n"))
		}},
		{Method: http.MethodGet, Path: "/-/ready", Handler: func(w http.ResponseWriter, _ *http.Request) {
			if !s.ready.Load() {
				http.Error(w, "gmc is not ready.", http.StatusServiceUnavailable)
				return
			}
			_, _ = w.Write([]byte("gmc is ready.\n"))
		}},
		// Admin only (auth.RequiredRole: a POST that changes something).
		{Method: http.MethodPost, Path: "/-/reload", Handler: func(w http.ResponseWriter, _ *http.Request) {
			res, err := s.Reload()
			if err != nil {
				s.logger.Error("reload", "err", err)
				http.Error(w, "reload failed: "+err.Error(), http.StatusInternalServerError)
				return
			}
			_, _ = w.Write([]byte(res.String()))
		}},
		{Method: http.MethodGet, Path: "/metrics", Handler: promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{Registry: s.reg}).ServeHTTP},
		{Method: http.MethodGet, Path: "/debug/pprof/", Handler: pprof.Index},
		{Method: http.MethodGet, Path: "/debug/pprof/profile", Handler: pprof.Profile},
		{Method: http.MethodGet, Path: "/debug/pprof/trace", Handler: pprof.Trace},
	}
}
