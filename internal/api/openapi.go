package api

import (
	_ "embed"
	"net/http"
)

// openAPIDoc describes the REST API, the ingest endpoints and the
// Prometheus API paths gmc serves.
//
//go:embed openapi.yaml
var openAPIDoc []byte

// OpenAPI is GET /openapi.yaml: the OpenAPI 3.0 document of gmc's HTTP API.
func (a *API) OpenAPI(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/yaml")
	w.Write(openAPIDoc)
}
