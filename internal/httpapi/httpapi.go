// Package httpapi is the contract between a component and gmc's routing
// table: the Route a component exposes, the Prometheus JSON envelope
// ({"status":"success","data":…} / {"status":"error","errorType":…,"error":…})
// every JSON endpoint answers with, and the one parser of time and duration
// parameters.
package httpapi

import "net/http"

// Route is one endpoint: a method, a net/http ServeMux pattern path and its
// handler. Components expose their endpoints as []Route; server/routes.go
// mounts every one of them, so middleware wraps them all in one place.
type Route struct {
	Method  string
	Path    string
	Handler http.HandlerFunc
}

// Pattern is the route's net/http ServeMux pattern, "METHOD /path". A route
// without a method matches every method.
func (r Route) Pattern() string {
	if r.Method == "" {
		return r.Path
	}
	return r.Method + " " + r.Path
}

// Mount registers routes on mux.
func Mount(mux *http.ServeMux, routes []Route) {
	for _, r := range routes {
		mux.HandleFunc(r.Pattern(), r.Handler)
	}
}
