package query

import "net/http"

// Route is one endpoint: a method, a net/http ServeMux pattern path and
// its handler.
type Route struct {
	Method  string
	Path    string
	Handler http.HandlerFunc
}

// Routes lists every endpoint of the Prometheus HTTP API gmc serves, with
// the methods Prometheus accepts (GET, and form-encoded POST where
// Prometheus takes it). The server mounts them as `Method + " " + Path`.
func (a *API) Routes() []Route {
	return []Route{
		{"GET", "/api/v1/query", a.Query},
		{"POST", "/api/v1/query", a.Query},
		{"GET", "/api/v1/query_range", a.QueryRange},
		{"POST", "/api/v1/query_range", a.QueryRange},
		{"GET", "/api/v1/query_exemplars", a.QueryExemplars},
		{"POST", "/api/v1/query_exemplars", a.QueryExemplars},
		{"GET", "/api/v1/format_query", a.FormatQuery},
		{"POST", "/api/v1/format_query", a.FormatQuery},
		{"GET", "/api/v1/series", a.Series},
		{"POST", "/api/v1/series", a.Series},
		{"GET", "/api/v1/labels", a.Labels},
		{"POST", "/api/v1/labels", a.Labels},
		{"GET", "/api/v1/label/{name}/values", a.LabelValues},
		{"GET", "/api/v1/metadata", a.Metadata},
		{"GET", "/api/v1/status/buildinfo", a.BuildInfo},
		{"GET", "/api/v1/status/runtimeinfo", a.RuntimeInfo},
	}
}
