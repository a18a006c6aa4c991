package api

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"gopkg.in/yaml.v3"

	"github.com/gmc-dev/gmc/internal/query"
)

// openAPIPaths parses openapi.yaml into path → lower-case methods.
func openAPIPaths(t *testing.T) map[string]map[string]any {
	t.Helper()
	var doc struct {
		OpenAPI string                    `yaml:"openapi"`
		Paths   map[string]map[string]any `yaml:"paths"`
	}
	if err := yaml.Unmarshal(openAPIDoc, &doc); err != nil {
		t.Fatalf("parse openapi.yaml: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.0.") {
		t.Fatalf("openapi = %q, want 3.0.x", doc.OpenAPI)
	}
	return doc.Paths
}

func TestOpenAPIDocumentsEveryRoute(t *testing.T) {
	paths := openAPIPaths(t)
	st := fixture(t)
	qa, err := query.New(query.Options{Queryable: st, Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	type route struct{ method, path string }
	var routes []route
	for _, r := range newAPI(t, st, Options{}).Routes() {
		routes = append(routes, route{r.Method, r.Path})
	}
	for _, r := range qa.Routes() {
		routes = append(routes, route{r.Method, r.Path})
	}
	// The ingest endpoints (internal/ingest) are documented here too.
	routes = append(routes,
		route{"POST", "/api/v1/write"},
		route{"POST", "/api/v1/push"},
		route{"POST", "/v1/metrics"},
		route{"PUT", "/metrics/job/{job}"},
		route{"POST", "/metrics/job/{job}"},
		route{"GET", "/trends/{service}"}, // internal/trend
		route{"DELETE", "/metrics/job/{job}"},
	)
	if len(routes) < 24 {
		t.Fatalf("only %d routes", len(routes))
	}
	for _, r := range routes {
		op, ok := paths[r.path][strings.ToLower(r.method)]
		if !ok {
			t.Errorf("%s %s is not in openapi.yaml", r.method, r.path)
			continue
		}
		m, _ := op.(map[string]any)
		if _, ok := m["responses"]; !ok {
			t.Errorf("%s %s has no responses", r.method, r.path)
		}
	}
}

func TestOpenAPIRefsResolve(t *testing.T) {
	var doc map[string]any
	if err := yaml.Unmarshal(openAPIDoc, &doc); err != nil {
		t.Fatal(err)
	}
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if k == "$ref" {
					ref, _ := x.(string)
					if !resolves(doc, ref) {
						t.Errorf("$ref %q does not resolve", ref)
					}
				}
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(doc)
}

// resolves reports whether a local "#/a/b/c" reference names a node of doc.
func resolves(doc map[string]any, ref string) bool {
	if !strings.HasPrefix(ref, "#/") {
		return false
	}
	var cur any = doc
	for _, part := range strings.Split(ref[2:], "/") {
		m, ok := cur.(map[string]any)
		if !ok {
			return false
		}
		if cur, ok = m[part]; !ok {
			return false
		}
	}
	return true
}
