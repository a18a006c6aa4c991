package query

import (
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

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

// TestRoutesLoopbackUncompressed: a client on the loopback gets the plain
// answer though it accepts gzip, unless a proxy header says the request
// was forwarded or query.compress_loopback is on; others get gzip.
func TestRoutesLoopbackUncompressed(t *testing.T) {
	st := fixture(t)
	q := "/api/v1/query_range?" + url.Values{"query": {"up"}, "start": {"0"}, "end": {"120"}, "step": {"1"}}.Encode()
	for _, loopbackToo := range []bool{false, true} {
		a, err := New(Options{Queryable: st, Registerer: prometheus.NewRegistry(), Now: func() time.Time { return time.Unix(120, 0) }, CompressLoopback: loopbackToo})
		if err != nil {
			t.Fatal(err)
		}
		mux := http.NewServeMux()
		httpapi.Mount(mux, a.Routes())
		for _, c := range []struct {
			remote, header string
			plain          bool
		}{
			{"127.0.0.1:40000", "", true},
			{"127.3.4.5:40000", "", true},
			{"[::1]:40000", "", true},
			{"[::ffff:127.0.0.1]:40000", "", true},
			{"127.0.0.1:40000", "X-Forwarded-For", false},
			{"127.0.0.1:40000", "Forwarded", false},
			{"127.0.0.1:40000", "X-Real-Ip", false},
			{"127.0.0.1:40000", "Via", false},
			{"192.0.2.7:40000", "", false},
			{"[2001:db8::1]:40000", "", false},
			{"@", "", false}, // a unix socket's peer
		} {
			req := httptest.NewRequest(http.MethodGet, q, nil)
			req.RemoteAddr = c.remote
			req.Header.Set("Accept-Encoding", "gzip, zstd")
			if c.header != "" {
				req.Header.Set(c.header, "198.51.100.9")
			}
			rec := httptest.NewRecorder()
			mux.ServeHTTP(rec, req)
			want := "zstd"
			if c.plain && !loopbackToo {
				want = ""
			}
			if got := rec.Header().Get("Content-Encoding"); rec.Code != http.StatusOK || got != want {
				t.Errorf("compress_loopback %v, from %s with %q: %d, Content-Encoding %q, want %q", loopbackToo, c.remote, c.header, rec.Code, got, want)
			}
		}
	}
}
