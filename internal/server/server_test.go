package server_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/prompb"

	"github.com/gmc-dev/gmc/internal/config"
	"github.com/gmc-dev/gmc/internal/ingest"
	"github.com/gmc-dev/gmc/internal/server/servertest"
)

// startServer runs a gmc server in-process on a free loopback port.
func startServer(t *testing.T, cfg config.Config) string {
	t.Helper()
	_, base := servertest.Start(t, cfg)
	return base
}

func do(t *testing.T, method, u, contentType string, body []byte, hdr ...string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, u, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// promVector runs an instant query and returns "labels => value" lines.
func promVector(t *testing.T, base, q string) map[string]string {
	t.Helper()
	code, body := do(t, "GET", base+"/api/v1/query?query="+url.QueryEscape(q), "", nil)
	if code != http.StatusOK {
		t.Fatalf("query %s: %d %s", q, code, body)
	}
	var r struct {
		Status string
		Data   struct {
			ResultType string
			Result     []struct {
				Metric map[string]string
				Value  [2]any
			}
		}
	}
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, s := range r.Data.Result {
		out[fmt.Sprint(s.Metric)] = s.Value[1].(string)
	}
	return out
}

func TestPushByEveryProtocolReadBackThroughBothAPIs(t *testing.T) {
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, "# TYPE md_messages_total counter\nmd_messages_total{feed=\"itch\"} 1234\n")
	}))
	defer target.Close()
	cfg := config.Default()
	cfg.ScrapeConfigs = []ingest.ScrapeConfig{{
		JobName:        "market-data",
		ScrapeInterval: config.Duration(100 * time.Millisecond),
		StaticConfigs:  []ingest.StaticConfig{{Targets: []string{strings.TrimPrefix(target.URL, "http://")}}},
	}}
	base := startServer(t, cfg)
	now := time.Now()

	// Remote-write: a float series.
	rw, err := (&prompb.WriteRequest{Timeseries: []prompb.TimeSeries{{
		Labels:  []prompb.Label{{Name: "__name__", Value: "orders_total"}, {Name: "instance", Value: "gw-1"}, {Name: "service", Value: "order-gateway"}},
		Samples: []prompb.Sample{{Value: 7, Timestamp: now.UnixMilli()}},
	}}}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if code, body := do(t, "POST", base+"/api/v1/write", "application/x-protobuf", snappy.Encode(nil, rw),
		"Content-Encoding", "snappy", "X-Prometheus-Remote-Write-Version", "0.1.0"); code != http.StatusNoContent {
		t.Fatalf("remote-write: %d %s", code, body)
	}
	// JSON push.
	js := fmt.Sprintf(`{"service":"matching-engine","instance":"me-1","timestamp":%.3f,"labels":{"venue":"xnas"},"metrics":{"latency_us":312,"tps":41000}}`,
		float64(now.UnixMilli())/1000)
	if code, body := do(t, "POST", base+"/api/v1/push", "application/json", []byte(js)); code != http.StatusNoContent {
		t.Fatalf("json push: %d %s", code, body)
	}
	// Text push, Pushgateway-style.
	if code, body := do(t, "PUT", base+"/metrics/job/risk/instance/risk-1", "text/plain; version=0.0.4",
		[]byte("# TYPE exposure_gross gauge\nexposure_gross{account=\"acc-7\"} 1.5e+06\n")); code/100 != 2 {
		t.Fatalf("text push: %d %s", code, body)
	}

	wantProm := map[string]map[string]string{
		"orders_total": {"map[__name__:orders_total instance:gw-1 service:order-gateway]": "7"},
		"latency_us":   {"map[__name__:latency_us instance:me-1 service:matching-engine venue:xnas]": "312"},
		"tps":          {"map[__name__:tps instance:me-1 service:matching-engine venue:xnas]": "41000"},
		"exposure_gross": {
			"map[__name__:exposure_gross account:acc-7 instance:risk-1 job:risk service:risk]": "1500000",
		},
	}
	for q, want := range wantProm {
		if got := promVector(t, base, q); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("query %s = %v, want %v", q, got, want)
		}
	}

	// The product REST API sees the same values.
	code, body := do(t, "GET", base+"/metrics/matching-engine", "", nil)
	if code != http.StatusOK {
		t.Fatalf("/metrics/matching-engine: %d %s", code, body)
	}
	var latest struct {
		Instances map[string]map[string][]struct {
			Value       float64           `json:"value"`
			TimestampMS int64             `json:"timestamp_ms"`
			Labels      map[string]string `json:"labels"`
		} `json:"instances"`
	}
	if err := json.Unmarshal([]byte(body), &latest); err != nil {
		t.Fatal(err)
	}
	lat := latest.Instances["me-1"]["latency_us"]
	if len(lat) != 1 || lat[0].Value != 312 || lat[0].TimestampMS != now.UnixMilli() || lat[0].Labels["venue"] != "xnas" {
		t.Errorf("/metrics/matching-engine latency_us = %+v", lat)
	}
	if code, body := do(t, "GET", base+"/metrics/no-such-service", "", nil); code != http.StatusNotFound || !strings.Contains(body, `no-such-service`) {
		t.Errorf("unknown service: %d %s", code, body)
	}

	// Scraping: up and the target's own series arrive, labelled with service=job.
	deadline := time.Now().Add(10 * time.Second)
	for {
		up := promVector(t, base, `up{job="market-data",service="market-data"}`)
		msgs := promVector(t, base, `md_messages_total{service="market-data"}`)
		if len(up) == 1 && len(msgs) == 1 {
			for _, v := range up {
				if v != "1" {
					t.Errorf("up = %s, want 1", v)
				}
			}
			for _, v := range msgs {
				if v != "1234" {
					t.Errorf("md_messages_total = %s, want 1234", v)
				}
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("scraped series never arrived: up=%v msgs=%v", up, msgs)
		}
		time.Sleep(50 * time.Millisecond)
	}

	// /system/status knows every service.
	code, body = do(t, "GET", base+"/system/status", "", nil)
	if code != http.StatusOK {
		t.Fatalf("/system/status: %d %s", code, body)
	}
	for _, svc := range []string{"order-gateway", "matching-engine", "market-data"} {
		if !strings.Contains(body, `"service":"`+svc+`","state":"up"`) {
			t.Errorf("/system/status does not show %s up: %s", svc, body)
		}
	}
	// risk pushed through the Pushgateway API: its group's last push stays
	// current, not judged by down_after.
	if !strings.Contains(body, `"service":"risk","state":"pushed"`) {
		t.Errorf("/system/status does not show the Pushgateway group risk as pushed: %s", body)
	}
}

func TestSelfMonitoring(t *testing.T) {
	base := startServer(t, config.Default())
	for path, want := range map[string]string{
		"/-/healthy":               "healthy",
		"/-/ready":                 "ready",
		"/metrics":                 "prometheus_tsdb_head_series",
		"/api/v1/status/buildinfo": `"status":"success"`,
		"/openapi.yaml":            "openapi:",
		"/":                        "<!doctype html",
	} {
		code, body := do(t, "GET", base+path, "", nil)
		if code != http.StatusOK || !strings.Contains(body, want) {
			t.Errorf("GET %s = %d, body without %q", path, code, want)
		}
	}
}

// TestCardinalityLimitsWired checks that the server's TSDB head enforces the
// configured cardinality limits: a service over limits.max_series_per_service
// gets 429 naming it (its known series still written), another service does not,
// and the refusal shows in gmc's own metrics.
func TestCardinalityLimitsWired(t *testing.T) {
	cfg := config.Default()
	cfg.Limits.MaxSeriesPerService = 2
	base := startServer(t, cfg)
	ts := float64(time.Now().UnixMilli()) / 1000
	push := func(service string, metrics string) (int, string) {
		return do(t, "POST", base+"/api/v1/push", "application/json",
			[]byte(fmt.Sprintf(`{"service":%q,"timestamp":%.3f,"metrics":{%s}}`, service, ts, metrics)))
	}
	if code, body := push("greedy", `"a":1,"b":2`); code != http.StatusNoContent {
		t.Fatalf("two series: %d %s", code, body)
	}
	code, body := push("greedy", `"c":3`)
	if code != http.StatusTooManyRequests || !strings.Contains(body, `service "greedy" has limits.max_series_per_service 2 series`) {
		t.Errorf("third series of greedy: %d %q, want 429 naming the limit and the service", code, body)
	}
	if code, body := push("modest", `"a":1,"b":2`); code != http.StatusNoContent {
		t.Errorf("another service: %d %s, want 204", code, body)
	}
	_, metrics := do(t, "GET", base+"/metrics", "", nil)
	if !strings.Contains(metrics, `gmc_ingest_series_limited_total{limit="max_series_per_service"} 1`) {
		t.Error(`/metrics lacks gmc_ingest_series_limited_total{limit="max_series_per_service"} 1`)
	}
}

// TestSilenceLimitsFromConfig checks that gmc.yml's silences section reaches
// the silence store: past silences.max_silences a POST gets Alertmanager's 400.
func TestSilenceLimitsFromConfig(t *testing.T) {
	cfg := config.Default()
	cfg.Silences.MaxSilences = 1
	base := startServer(t, cfg)
	body := fmt.Sprintf(`{"matchers":[{"name":"service","value":"a","isRegex":false}],"endsAt":%q,"createdBy":"ops","comment":"maintenance"}`,
		time.Now().Add(time.Hour).UTC().Format(time.RFC3339))
	if code, msg := do(t, "POST", base+"/api/v2/silences", "application/json", []byte(body)); code != http.StatusOK {
		t.Fatalf("first silence: %d %s", code, msg)
	}
	code, msg := do(t, "POST", base+"/api/v2/silences", "application/json", []byte(body))
	if code != http.StatusBadRequest || !strings.Contains(msg, "exceeded maximum number of silences: 1 (limit: 1)") {
		t.Errorf("second silence over silences.max_silences 1: %d %s", code, msg)
	}
}

// instantValue is the value of the instant query q at at (now when zero)
// as /api/v1/query prints it, "" when it has no series; more than one
// series fails the test.
func instantValue(t *testing.T, base, q string, at time.Time) string {
	t.Helper()
	u := base + "/api/v1/query?query=" + url.QueryEscape(q)
	if !at.IsZero() {
		u += fmt.Sprintf("&time=%d", at.Unix())
	}
	code, body := do(t, "GET", u, "", nil)
	if code != http.StatusOK {
		t.Fatalf("query %s: %d %s", q, code, body)
	}
	var r struct {
		Data struct {
			Result []struct {
				Value [2]any `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal([]byte(body), &r); err != nil || len(r.Data.Result) > 1 {
		t.Fatalf("query %s: %v %s", q, err, body)
	}
	if len(r.Data.Result) == 0 {
		return ""
	}
	return fmt.Sprint(r.Data.Result[0].Value[1])
}
