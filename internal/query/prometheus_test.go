package query

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gmc-dev/gmc/internal/storage"
)

// needBinary returns the path of a peer binary, skipping the test when it
// is missing (failing under CI=true).
func needBinary(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s not found (install the Debian package prometheus): %v", name, err)
		}
		t.Skipf("%s not found: %v", name, err)
	}
	return p
}

// openMetricsFixture is two hours of counters and gauges at 15s, with
// values that exercise number formatting.
func openMetricsFixture() string {
	var b strings.Builder
	const base = 1_700_000_000
	b.WriteString("# TYPE http_requests counter\n")
	for _, s := range []struct{ inst, code string }{{"a:1", "200"}, {"a:1", "500"}, {"b:1", "200"}} {
		for i := 0; i <= 480; i++ {
			v := float64(i*i%97) + float64(i)*3.25
			if s.code == "500" {
				v = float64(i / 7)
			}
			fmt.Fprintf(&b, "http_requests_total{job=\"api\",instance=%q,code=%q} %g %d\n", s.inst, s.code, v, base+i*15)
		}
	}
	b.WriteString("# TYPE latency_seconds gauge\n")
	for i := 0; i <= 480; i++ {
		fmt.Fprintf(&b, "latency_seconds{job=\"api\",instance=\"a:1\"} %g %d\n", 0.000123*float64(i%13)+1e-7, base+i*15)
		fmt.Fprintf(&b, "latency_seconds{job=\"api\",instance=\"b:1\"} %g %d\n", 1e21*float64(i%3), base+i*15)
	}
	b.WriteString("# EOF\n")
	return b.String()
}

// TestSameAnswersAsPrometheus writes the same blocks for a real Prometheus
// (Debian's 2.42) and for gmc and checks that both answer a set of API calls
// with the same bytes. The queries avoid what changed between Prometheus 2
// and 3 (left-open range windows, newer warnings).
func TestSameAnswersAsPrometheus(t *testing.T) {
	promBin := needBinary(t, "prometheus")
	promtool := needBinary(t, "promtool")
	dir := t.TempDir()
	om := filepath.Join(dir, "data.om")
	if err := os.WriteFile(om, []byte(openMetricsFixture()), 0o644); err != nil {
		t.Fatal(err)
	}
	promDir, gmcDir := filepath.Join(dir, "prom"), filepath.Join(dir, "gmc")
	for _, d := range []string{promDir, gmcDir} {
		out, err := exec.Command(promtool, "tsdb", "create-blocks-from", "openmetrics", om, d).CombinedOutput()
		if err != nil {
			t.Fatalf("promtool create-blocks-from: %v\n%s", err, out)
		}
	}

	// Prometheus on a free loopback port.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cfg := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfg, []byte("global: {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(promBin, "--config.file="+cfg, "--storage.tsdb.path="+promDir,
		"--storage.tsdb.retention.time=100y", "--web.listen-address="+addr)
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	ready := false
	for i := 0; i < 300 && !ready; i++ { // at most 30s
		resp, err := http.Get("http://" + addr + "/-/ready")
		if err == nil {
			ready = resp.StatusCode == 200
			resp.Body.Close()
		}
		if !ready {
			time.Sleep(100 * time.Millisecond)
		}
	}
	if !ready {
		t.Fatal("prometheus did not become ready in 30s")
	}

	st, err := storage.Open(storage.Options{Dir: gmcDir, Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	a := newAPI(t, st, 0)
	mux := http.NewServeMux()
	for _, r := range a.Routes() {
		mux.HandleFunc(r.Method+" "+r.Path, r.Handler)
	}

	const t0, t1 = "1700003600", "1700007200"
	calls := []struct {
		method, path string
		params       url.Values
	}{
		{"GET", "/api/v1/query", url.Values{"query": {"http_requests_total"}, "time": {t0}}},
		{"GET", "/api/v1/query", url.Values{"query": {"latency_seconds"}, "time": {"1700003600.5"}}},
		// Off the 15s grid: Prometheus 3 made range windows left-open, so
		// 2.42 and 3.x differ when a sample sits exactly on the window start.
		{"GET", "/api/v1/query", url.Values{"query": {`sum by (code) (rate(http_requests_total[5m]))`}, "time": {"1700007207"}}},
		{"POST", "/api/v1/query", url.Values{"query": {`http_requests_total offset 10m / on(instance, code) http_requests_total`}, "time": {t0}}},
		{"GET", "/api/v1/query", url.Values{"query": {`max_over_time(rate(http_requests_total[5m])[30m:1m])`}, "time": {t1}}},
		{"GET", "/api/v1/query", url.Values{"query": {`http_requests_total @ 1700001000`}, "time": {t1}}},
		{"GET", "/api/v1/query", url.Values{"query": {`scalar(sum(latency_seconds)) / 0`}, "time": {t0}}},
		{"GET", "/api/v1/query", url.Values{"query": {`sum(`}}},
		{"GET", "/api/v1/query_range", url.Values{"query": {`irate(http_requests_total[1m])`}, "start": {t0}, "end": {t1}, "step": {"60"}}},
		{"POST", "/api/v1/query_range", url.Values{"query": {`latency_seconds * 1000`}, "start": {"2023-11-14T23:13:20Z"}, "end": {"2023-11-15T00:13:20.5Z"}, "step": {"7.5"}}},
		{"GET", "/api/v1/query_range", url.Values{"query": {`quantile_over_time(0.9, latency_seconds[10m])`}, "start": {"1700003607"}, "end": {t1}, "step": {"5m"}}},
		{"GET", "/api/v1/query_range", url.Values{"query": {`up`}, "start": {t0}, "end": {t1}, "step": {"0.1"}}},
		{"GET", "/api/v1/series", url.Values{"match[]": {`http_requests_total{code="200"}`, `latency_seconds`}}},
		{"POST", "/api/v1/series", url.Values{"match[]": {`{job="api"}`}, "start": {t0}, "end": {t1}}},
		{"GET", "/api/v1/series", url.Values{}},
		{"GET", "/api/v1/labels", url.Values{}},
		{"GET", "/api/v1/labels", url.Values{"match[]": {"latency_seconds"}}},
		{"GET", "/api/v1/label/instance/values", url.Values{}},
		{"GET", "/api/v1/label/__name__/values", url.Values{"match[]": {`{instance="b:1"}`}}},
	}
	for _, c := range calls {
		t.Run(c.method+" "+c.path+" "+c.params.Encode(), func(t *testing.T) {
			promCode, promBody := do(t, c.method, "http://"+addr+c.path, c.params, nil)
			gmcCode, gmcBody := do(t, c.method, c.path, c.params, mux)
			if promCode != gmcCode || promBody != gmcBody {
				t.Errorf("prometheus: %d %s\ngmc:        %d %s", promCode, promBody, gmcCode, gmcBody)
			}
		})
	}
}

// do sends one API call, to the URL u or, with h set, to h in-process.
func do(t *testing.T, method, u string, params url.Values, h http.Handler) (int, string) {
	t.Helper()
	var body io.Reader
	if method == "POST" {
		body = strings.NewReader(params.Encode())
	} else if len(params) > 0 {
		u += "?" + params.Encode()
	}
	if h != nil {
		req := httptest.NewRequest(method, u, body)
		if method == "POST" {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code, rec.Body.String()
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	if method == "POST" {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}
