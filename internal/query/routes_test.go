package query

import (
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/gmc-dev/gmc/internal/httpapi"
)

// TestRoutesCompress: the API answers gzip when the client accepts it, the
// same document as uncompressed, and remote read stays snappy.
func TestRoutesCompress(t *testing.T) {
	a := newAPI(t, fixture(t), 0)
	mux := http.NewServeMux()
	httpapi.Mount(mux, a.Routes())
	// A range answer big enough to be worth compressing (gzhttp leaves
	// answers under 1 KiB alone).
	q := "/api/v1/query_range?" + url.Values{"query": {"up"}, "start": {"0"}, "end": {"120"}, "step": {"1"}}.Encode()
	get := func(enc string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, q, nil)
		if enc != "" {
			req.Header.Set("Accept-Encoding", enc)
		}
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		return rec
	}
	plain := get("")
	if plain.Code != 200 || plain.Header().Get("Content-Encoding") != "" || !strings.Contains(plain.Body.String(), `"resultType":"matrix"`) {
		t.Fatalf("plain answer: %d %q %.200s", plain.Code, plain.Header().Get("Content-Encoding"), plain.Body)
	}
	gz := get("gzip")
	if ce := gz.Header().Get("Content-Encoding"); ce != "gzip" {
		t.Fatalf("Content-Encoding %q, want gzip", ce)
	}
	zr, err := gzip.NewReader(gz.Body)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != plain.Body.String() {
		t.Errorf("gzip answer decodes to %.200s…, want the plain %.200s…", b, plain.Body)
	}
	if gz.Body.Len() >= plain.Body.Len()/3 {
		t.Errorf("gzip answer %d bytes for %d plain", gz.Body.Len(), plain.Body.Len())
	}
	// Remote read is not wrapped.
	for _, r := range a.Routes() {
		if r.Path == "/api/v1/read" {
			req := httptest.NewRequest(http.MethodPost, "/api/v1/read", strings.NewReader("x"))
			req.Header.Set("Accept-Encoding", "gzip")
			rec := httptest.NewRecorder()
			r.Handler(rec, req)
			if ce := rec.Header().Get("Content-Encoding"); ce != "" {
				t.Errorf("remote read answered with Content-Encoding %q", ce)
			}
		}
	}
}
