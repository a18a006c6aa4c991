package query

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"

	"github.com/klauspost/compress/gzhttp"
	"github.com/klauspost/compress/gzip"

	"github.com/gmc-dev/gmc/internal/httpapi"
)

// Routes lists every endpoint of the Prometheus HTTP API gmc serves, with
// the methods Prometheus accepts (GET, and form-encoded POST where
// Prometheus takes it). The server mounts them as `Method + " " + Path`.
// Answers are compressed (gzip or zstd) when the client accepts it, as
// Prometheus compresses its API: a dashboard's range queries shrink about
// tenfold. Remote read answers in snappy-framed protobuf and is left alone.
// gzip at its fastest level: a 1.8 MB range answer (20 series × 3600
// points) compresses in a third of the default level's time to ~8% more
// bytes (BenchmarkRespondRange), and on the loopback or a LAN the time is
// what counts.
//
// A client on the loopback gets its answers uncompressed (unless
// query.compress_loopback): there the bytes cost next to nothing to move,
// and compressing them cost gmc and the client the most of anything but
// evaluation. bench/soak's heavy answer (36 MB of JSON, 4x smaller gzipped)
// took ~350 ms of CPU to gzip and ~330 ms for the client to gunzip; gzip was
// 22 % of gmc's CPU under 32 such queries. A request that a proxy says it
// forwards (Forwarded, X-Forwarded-For, X-Real-IP, Via) is compressed as
// any other.
func (a *API) Routes() []httpapi.Route {
	rs := a.routes()
	for i, r := range rs {
		if r.Path != "/api/v1/read" {
			rs[i].Handler = a.compress(r.Handler)
		}
	}
	return rs
}

// compress wraps h to compress its answers (gzip at its fastest level, or
// zstd) when the client accepts it and is not on the loopback (unless
// a.compressLoopback).
func (a *API) compress(h http.HandlerFunc) http.HandlerFunc {
	wrap, err := gzhttp.NewWrapper(gzhttp.CompressionLevel(gzip.BestSpeed))
	if err != nil {
		panic(fmt.Sprintf("query: gzip wrapper: %v", err)) // the level is a constant
	}
	compressed := wrap(h)
	return func(w http.ResponseWriter, r *http.Request) {
		if !a.compressLoopback.Load() && loopbackClient(r) {
			h(w, r)
			return
		}
		compressed(w, r)
	}
}

// loopbackClient reports whether r comes from the loopback and no proxy
// says it forwards another client's request.
func loopbackClient(r *http.Request) bool {
	for _, h := range []string{"Forwarded", "X-Forwarded-For", "X-Real-Ip", "Via"} {
		if r.Header.Get(h) != "" {
			return false
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}

func (a *API) routes() []httpapi.Route {
	return append([]httpapi.Route{
		{Method: "GET", Path: "/api/v1/query", Handler: a.Query},
		{Method: "POST", Path: "/api/v1/query", Handler: a.Query},
		{Method: "GET", Path: "/api/v1/query_range", Handler: a.QueryRange},
		{Method: "POST", Path: "/api/v1/query_range", Handler: a.QueryRange},
		{Method: "GET", Path: "/api/v1/query_exemplars", Handler: a.QueryExemplars},
		{Method: "POST", Path: "/api/v1/query_exemplars", Handler: a.QueryExemplars},
		{Method: "GET", Path: "/api/v1/format_query", Handler: a.FormatQuery},
		{Method: "POST", Path: "/api/v1/format_query", Handler: a.FormatQuery},
		{Method: "GET", Path: "/api/v1/series", Handler: a.Series},
		{Method: "POST", Path: "/api/v1/series", Handler: a.Series},
		{Method: "GET", Path: "/api/v1/labels", Handler: a.Labels},
		{Method: "POST", Path: "/api/v1/labels", Handler: a.Labels},
		{Method: "GET", Path: "/api/v1/label/{name}/values", Handler: a.LabelValues},
		// gmc's own: each series' first sample (seriesstart.go).
		{Method: "GET", Path: "/api/v1/series_start", Handler: a.SeriesStart},
		{Method: "POST", Path: "/api/v1/series_start", Handler: a.SeriesStart},
		{Method: "GET", Path: "/api/v1/status/buildinfo", Handler: a.BuildInfo},
		{Method: "GET", Path: "/api/v1/status/runtimeinfo", Handler: a.RuntimeInfo},
		// Another Prometheus reading gmc (federate.go).
		{Method: "GET", Path: "/federate", Handler: a.Federate},
		{Method: "POST", Path: "/api/v1/read", Handler: a.RemoteRead},
	}, a.statusRoutes()...) // status.go: status and discovery, /api/v1/metadata
}
