package api

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/value"
	promstorage "github.com/prometheus/prometheus/storage"

	"github.com/gmc-dev/gmc/internal/query"
	"github.com/gmc-dev/gmc/internal/sla"
	"github.com/gmc-dev/gmc/internal/storage"
)

// now is the injected clock's time in every test: 2023-11-14T22:13:20Z.
var testNow = time.Unix(1_700_000_000, 0)

type sample struct {
	lset labels.Labels
	ago  time.Duration // before testNow
	v    float64
	h    *histogram.Histogram
}

func ls(kv ...string) labels.Labels { return labels.FromStrings(kv...) }

// fixture is a real TSDB holding:
//   - matching-engine: me-1 and me-2 latency_us, me-1 orders_total by side,
//     me-1 lat_hist (native histogram), me-2 ratio = NaN; newest sample 5s ago
//   - gateway: last sample 2m ago (stale)
//   - old-svc: last sample 2h ago (down, beyond the liveness lookback)
//   - ended: a sample 20s ago then a staleness marker 5s ago
//   - up{job="x"} without a service label
func fixture(t *testing.T) *storage.TSDB {
	t.Helper()
	st, err := storage.Open(storage.Options{Dir: t.TempDir(), Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	me := func(inst, name string, kv ...string) labels.Labels {
		return ls(append([]string{"__name__", name, "service", "matching-engine", "instance", inst}, kv...)...)
	}
	samples := []sample{
		{lset: ls("__name__", "cpu", "service", "old-svc", "instance", "o-1"), ago: 2 * time.Hour, v: 5},
		{lset: me("me-1", "latency_us"), ago: 60 * time.Second, v: 300},
		{lset: me("me-1", "latency_us"), ago: 10 * time.Second, v: 312},
		{lset: me("me-2", "latency_us"), ago: 5 * time.Second, v: 200.5},
		{lset: me("me-1", "orders_total", "side", "buy"), ago: 10 * time.Second, v: 1200},
		{lset: me("me-1", "orders_total", "side", "sell"), ago: 10 * time.Second, v: 1100},
		{lset: me("me-2", "ratio"), ago: 5 * time.Second, v: math.NaN()},
		{lset: me("me-1", "lat_hist"), ago: 10 * time.Second, h: &histogram.Histogram{
			Count: 5, Sum: 10, ZeroThreshold: 0.001, ZeroCount: 1,
			PositiveSpans: []histogram.Span{{Offset: 0, Length: 2}}, PositiveBuckets: []int64{2, 0},
		}},
		{lset: ls("__name__", "tps", "service", "gateway", "instance", "gw-1"), ago: 2 * time.Minute, v: 41000},
		{lset: ls("__name__", "tps", "service", "ended", "instance", "e-1"), ago: 20 * time.Second, v: 7},
		{lset: ls("__name__", "tps", "service", "ended", "instance", "e-1"), ago: 5 * time.Second, v: math.Float64frombits(value.StaleNaN)},
		{lset: ls("__name__", "up", "job", "x"), ago: time.Second, v: 1},
	}
	app := st.AppenderV2(context.Background())
	for _, s := range samples {
		ts := testNow.Add(-s.ago).UnixMilli()
		if _, err := app.Append(0, s.lset, 0, ts, s.v, s.h, nil, promstorage.AOptions{}); err != nil {
			t.Fatalf("append %s: %v", s.lset, err)
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	return st
}

func newAPI(t *testing.T, st *storage.TSDB, opts Options) *API {
	t.Helper()
	qa, err := query.New(query.Options{Queryable: st, Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	opts.Queryable, opts.Engine = st, qa.Engine()
	if opts.Now == nil {
		opts.Now = func() time.Time { return testNow }
	}
	opts.StaleAfter, opts.DownAfter = 30*time.Second, 5*time.Minute
	return New(opts)
}

func get(t *testing.T, h http.HandlerFunc, target string, path map[string]string) (int, string) {
	t.Helper()
	req := httptest.NewRequest("GET", target, nil)
	for k, v := range path {
		req.SetPathValue(k, v)
	}
	rec := httptest.NewRecorder()
	h(rec, req)
	b, _ := io.ReadAll(rec.Body)
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("%s: Content-Type = %q", target, ct)
	}
	return rec.Code, string(b)
}

func TestServiceMetrics(t *testing.T) {
	a := newAPI(t, fixture(t), Options{})
	ts := func(ago time.Duration) string {
		ms := testNow.Add(-ago).UnixMilli()
		return fmt.Sprintf(`"timestamp_ms":%d,"timestamp":%q`, ms, time.UnixMilli(ms).UTC().Format(time.RFC3339Nano))
	}
	tests := []struct {
		service string
		code    int
		want    string
	}{
		{
			service: "matching-engine", code: 200,
			want: `{"service":"matching-engine","time_ms":1700000000000,"time":"2023-11-14T22:13:20Z","lookback_seconds":300,"instances":{` +
				`"me-1":{` +
				`"lat_hist":[{"histogram":{"count":5,"sum":10},` + ts(10*time.Second) + `,"labels":{}}],` +
				`"latency_us":[{"value":312,` + ts(10*time.Second) + `,"labels":{}}],` +
				`"orders_total":[{"value":1200,` + ts(10*time.Second) + `,"labels":{"side":"buy"}},{"value":1100,` + ts(10*time.Second) + `,"labels":{"side":"sell"}}]},` +
				`"me-2":{` +
				`"latency_us":[{"value":200.5,` + ts(5*time.Second) + `,"labels":{}}],` +
				`"ratio":[{"value":"NaN",` + ts(5*time.Second) + `,"labels":{}}]}}}`,
		},
		{
			// Known, but its newest sample is older than the lookback window.
			service: "old-svc", code: 200,
			want: `{"service":"old-svc","time_ms":1700000000000,"time":"2023-11-14T22:13:20Z","lookback_seconds":300,"instances":{}}`,
		},
		{
			// Its only series ended with a staleness marker.
			service: "ended", code: 200,
			want: `{"service":"ended","time_ms":1700000000000,"time":"2023-11-14T22:13:20Z","lookback_seconds":300,"instances":{}}`,
		},
		{
			service: "nope", code: 404,
			want: `{"status":"error","errorType":"not_found","error":"service \"nope\" is not known: no series has service=\"nope\""}`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.service, func(t *testing.T) {
			code, body := get(t, a.ServiceMetrics, "/metrics/"+tc.service, map[string]string{"service": tc.service})
			if code != tc.code || body != tc.want {
				t.Errorf("got %d %s\nwant %d %s", code, body, tc.code, tc.want)
			}
		})
	}
}

func TestServiceHistory(t *testing.T) {
	a := newAPI(t, fixture(t), Options{})
	sec := func(ago time.Duration) string { return fmt.Sprint(testNow.Add(-ago).Unix()) }
	me := map[string]string{"service": "matching-engine"}
	tests := []struct {
		name   string
		params url.Values
		path   map[string]string
		code   int
		want   string
	}{
		{
			name:   "one metric, explicit range and step",
			params: url.Values{"metric": {"latency_us"}, "start": {sec(60 * time.Second)}, "end": {sec(0)}, "step": {"30s"}},
			path:   me, code: 200,
			want: `{"service":"matching-engine","start":"2023-11-14T22:12:20Z","end":"2023-11-14T22:13:20Z","step_seconds":30,"metrics":{"latency_us":[` +
				`{"instance":"me-1","labels":{},"points":[[1699999940,300],[1699999970,300],[1700000000,312]]},` +
				`{"instance":"me-2","labels":{},"points":[[1700000000,200.5]]}]}}`,
		},
		{
			name:   "comma list with RFC3339 times, a metric without data in range",
			params: url.Values{"metric": {"ratio, orders_total"}, "start": {"2023-11-14T22:13:00Z"}, "end": {"2023-11-14T22:13:05Z"}, "step": {"5"}},
			path:   me, code: 200,
			want: `{"service":"matching-engine","start":"2023-11-14T22:13:00Z","end":"2023-11-14T22:13:05Z","step_seconds":5,"metrics":{` +
				`"orders_total":[],"ratio":[]}}`,
		},
		{
			name:   "all metrics, histogram totals",
			params: url.Values{"start": {sec(0)}, "end": {sec(0)}},
			path:   me, code: 200,
			want: `{"service":"matching-engine","start":"2023-11-14T22:13:20Z","end":"2023-11-14T22:13:20Z","step_seconds":1,"metrics":{` +
				`"lat_hist":[{"instance":"me-1","labels":{},"points":[],"histograms":[[1700000000,{"count":5,"sum":10}]]}],` +
				`"latency_us":[{"instance":"me-1","labels":{},"points":[[1700000000,312]]},{"instance":"me-2","labels":{},"points":[[1700000000,200.5]]}],` +
				`"orders_total":[{"instance":"me-1","labels":{"side":"buy"},"points":[[1700000000,1200]]},{"instance":"me-1","labels":{"side":"sell"},"points":[[1700000000,1100]]}],` +
				`"ratio":[{"instance":"me-2","labels":{},"points":[[1700000000,"NaN"]]}]}}`,
		},
		{
			name: "unknown service", params: url.Values{}, path: map[string]string{"service": "nope"}, code: 404,
			want: `{"status":"error","errorType":"not_found","error":"service \"nope\" is not known: no series has service=\"nope\""}`,
		},
		{
			name: "unknown metric", params: url.Values{"metric": {"latency_us,tps"}}, path: me, code: 404,
			want: `{"status":"error","errorType":"not_found","error":"metric \"tps\" of service \"matching-engine\" is not known: no series has __name__=\"tps\", service=\"matching-engine\""}`,
		},
		{
			name: "bad start", params: url.Values{"start": {"yesterday"}}, path: me, code: 400,
			want: `{"status":"error","errorType":"bad_data","error":"invalid parameter \"start\": cannot parse \"yesterday\" to a valid timestamp"}`,
		},
		{
			name: "end before start", params: url.Values{"start": {"100"}, "end": {"50"}}, path: me, code: 400,
			want: `{"status":"error","errorType":"bad_data","error":"invalid parameter \"end\": end must not be before start"}`,
		},
		{
			name: "zero step", params: url.Values{"step": {"0"}}, path: me, code: 400,
			want: `{"status":"error","errorType":"bad_data","error":"invalid parameter \"step\": must be positive"}`,
		},
		{
			name: "too many points", params: url.Values{"step": {"0.1"}}, path: me, code: 400,
			want: `{"status":"error","errorType":"bad_data","error":"invalid parameter \"step\": 100ms gives more than 11000 points per series over 1h0m0s; use a larger step"}`,
		},
		{
			name: "bad metric name", params: url.Values{"metric": {"\xff"}}, path: me, code: 400,
			want: `{"status":"error","errorType":"bad_data","error":"invalid parameter \"metric\": \"\\xff\" is not a valid metric name"}`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, body := get(t, a.ServiceHistory, "/metrics/history/x?"+tc.params.Encode(), tc.path)
			if code != tc.code || body != tc.want {
				t.Errorf("got %d %s\nwant %d %s", code, body, tc.code, tc.want)
			}
		})
	}
}

func TestServiceHistoryDefaults(t *testing.T) {
	a := newAPI(t, fixture(t), Options{})
	code, body := get(t, a.ServiceHistory, "/metrics/history/matching-engine?metric=latency_us", map[string]string{"service": "matching-engine"})
	if code != 200 {
		t.Fatalf("got %d %s", code, body)
	}
	var resp ServiceHistoryResponse
	if err := json.Unmarshal([]byte(body), &resp); err != nil {
		t.Fatal(err)
	}
	// Last hour at ceil(3600/499) = 8s: at most 500 points.
	if resp.Start != "2023-11-14T21:13:20Z" || resp.End != "2023-11-14T22:13:20Z" || resp.StepSeconds != 8 {
		t.Errorf("range = %s..%s step %v, want 2023-11-14T21:13:20Z..2023-11-14T22:13:20Z step 8", resp.Start, resp.End, resp.StepSeconds)
	}
	me1 := resp.Metrics["latency_us"][0]
	// Samples 60s and 10s ago, each visible for 5m of lookback: the points
	// run from the first step at or after 60s ago to now.
	first, last := me1.Points[0], me1.Points[len(me1.Points)-1]
	if me1.Instance != "me-1" || first[0].(float64) != 1699999944 || first[1].(float64) != 300 ||
		last[0].(float64) != 1700000000 || last[1].(float64) != 312 || len(me1.Points) != 8 {
		t.Errorf("me-1 points = %v", me1.Points)
	}
}

func TestDefaultStep(t *testing.T) {
	for _, tc := range []struct {
		span time.Duration
		want time.Duration
	}{
		{0, time.Second},
		{10 * time.Second, time.Second},
		{499 * time.Second, time.Second},
		{500 * time.Second, 2 * time.Second},
		{time.Hour, 8 * time.Second},
		{24 * time.Hour, 174 * time.Second},
	} {
		got := defaultStep(tc.span)
		if got != tc.want {
			t.Errorf("defaultStep(%s) = %s, want %s", tc.span, got, tc.want)
		}
		if points := int(tc.span/got) + 1; points > MaxHistoryPoints {
			t.Errorf("defaultStep(%s) gives %d points", tc.span, points)
		}
	}
}

func TestSystemStatus(t *testing.T) {
	st := fixture(t)
	now := testNow
	var ingested atomic.Uint64
	ingested.Store(500)
	a := newAPI(t, st, Options{
		Now:             func() time.Time { return now },
		StorageStats:    st.Stats,
		SamplesIngested: ingested.Load,
		Version:         "1.2.3",
		Started:         testNow.Add(-time.Minute),
		SLAs: func(context.Context) []sla.Status {
			return []sla.Status{{Name: "latency", State: "ok"}}
		},
	})
	now = testNow.Add(10 * time.Second)
	ingested.Store(1500)

	code, body := get(t, a.SystemStatus, "/system/status", nil)
	if code != 200 {
		t.Fatalf("got %d %s", code, body)
	}
	var got struct {
		Status        string          `json:"status"`
		Version       string          `json:"version"`
		Time          string          `json:"time"`
		UptimeSeconds float64         `json:"uptime_seconds"`
		Storage       storage.Stats   `json:"storage"`
		Ingest        IngestStatus    `json:"ingest"`
		Services      []ServiceStatus `json:"services"`
		SLAs          []sla.Status    `json:"slas"`
	}
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatal(err)
	}
	if got.Status != "ok" || got.Version != "1.2.3" || got.Time != "2023-11-14T22:13:30Z" || got.UptimeSeconds != 70 {
		t.Errorf("header = %+v", got)
	}
	if got.Storage.HeadSeries != 10 {
		t.Errorf("head series = %d, want 10", got.Storage.HeadSeries)
	}
	if got.Ingest != (IngestStatus{SamplesTotal: 1500, SamplesPerSecond: 100, WindowSeconds: 10}) {
		t.Errorf("ingest = %+v, want 1000 samples over 10s", got.Ingest)
	}
	if len(got.SLAs) != 1 || got.SLAs[0].Name != "latency" || got.SLAs[0].State != "ok" {
		t.Errorf("slas = %+v, want the SLA source's one state: %s", got.SLAs, body)
	}
	// now is 10s after the samples' reference time.
	type svc struct {
		name, state string
		ago         time.Duration // before testNow; -1: not seen
		series      int
	}
	// ended is not listed: its only series ended with a staleness marker
	// (removed, as a deleted Pushgateway group or a dropped target).
	want := []svc{
		{"gateway", StateStale, 2 * time.Minute, 1},
		{"matching-engine", StateUp, 5 * time.Second, 6},
		{"old-svc", StateDown, -1, 0},
	}
	if len(got.Services) != len(want) {
		t.Fatalf("services = %+v", got.Services)
	}
	for i, w := range want {
		g := got.Services[i]
		if g.Service != w.name || g.State != w.state || g.Series != w.series {
			t.Errorf("service %d = %+v, want %+v", i, g, w)
		}
		if w.ago < 0 {
			if g.LastSeenMs != nil || g.LastSeen != nil || g.AgeSeconds != nil {
				t.Errorf("%s: last seen = %v, want null", w.name, g.LastSeen)
			}
			continue
		}
		seen := testNow.Add(-w.ago)
		if g.LastSeenMs == nil || *g.LastSeenMs != seen.UnixMilli() || *g.LastSeen != seen.UTC().Format(time.RFC3339Nano) ||
			*g.AgeSeconds != (w.ago+10*time.Second).Seconds() {
			t.Errorf("%s: last seen %v %v age %v, want %v", w.name, g.LastSeenMs, g.LastSeen, g.AgeSeconds, seen)
		}
	}

	// The rate is over the readings' last minute, whoever asked when: at
	// 100 samples/s with a client asking every 0.5 to 30 s, it is 100/s
	// over the time since the start (10.5 s, 14 s), then over a minute or
	// the least more the readings allow (t-user8 #6: over the time since
	// any client's previous call, 4.7 to 74 s; 792/s on the tile where the
	// counter gave 592/s). A burst in the last second moves it by its
	// share of the window, not by its share of a second.
	at, n := 10*time.Second, uint64(1500)
	ask := func(after time.Duration, rate float64) *IngestStatus {
		at += after
		n += uint64(rate * after.Seconds())
		return a.ingest(testNow.Add(at), n)
	}
	for _, c := range []struct {
		after time.Duration
		want  IngestStatus
		burst float64 // samples/s over after, else 100
	}{
		{after: 500 * time.Millisecond, want: IngestStatus{SamplesTotal: 1550, SamplesPerSecond: 100, WindowSeconds: 10.5}},
		{after: 3500 * time.Millisecond, want: IngestStatus{SamplesTotal: 1900, SamplesPerSecond: 100, WindowSeconds: 14}},
		{after: 30 * time.Second, want: IngestStatus{SamplesTotal: 4900, SamplesPerSecond: 100, WindowSeconds: 44}},
		{after: 30 * time.Second, want: IngestStatus{SamplesTotal: 7900, SamplesPerSecond: 100, WindowSeconds: 60}},
		{after: time.Second, burst: 6200, want: IngestStatus{SamplesTotal: 14100, SamplesPerSecond: 200, WindowSeconds: 61}},
	} {
		rate := 100.0
		if c.burst > 0 {
			rate = c.burst
		}
		if r := ask(c.after, rate); *r != c.want {
			t.Errorf("ingest %v after the start: %+v, want %+v", at, *r, c.want)
		}
	}
}

func TestSystemStatusStates(t *testing.T) {
	st := fixture(t)
	for _, tc := range []struct {
		after time.Duration // after testNow
		want  string        // state of matching-engine (newest sample 5s before testNow)
	}{
		{0, StateUp},
		{25 * time.Second, StateUp},
		{26 * time.Second, StateStale},
		{295 * time.Second, StateStale},
		{296 * time.Second, StateDown},
		{time.Hour, StateDown},
	} {
		a := newAPI(t, st, Options{Now: func() time.Time { return testNow.Add(tc.after) }})
		_, body := get(t, a.SystemStatus, "/system/status", nil)
		var got struct{ Services []ServiceStatus }
		if err := json.Unmarshal([]byte(body), &got); err != nil {
			t.Fatal(err)
		}
		for _, s := range got.Services {
			if s.Service == "matching-engine" && s.State != tc.want {
				t.Errorf("%s after: state %s, want %s", tc.after, s.State, tc.want)
			}
		}
	}
}

func TestFloatJSON(t *testing.T) {
	for _, tc := range []struct {
		f    float64
		want string
	}{
		{1.5, `1.5`}, {312, `312`}, {1e21, `1e+21`}, {math.NaN(), `"NaN"`}, {math.Inf(1), `"+Inf"`}, {math.Inf(-1), `"-Inf"`},
	} {
		b, err := json.Marshal(Float(tc.f))
		if err != nil || string(b) != tc.want {
			t.Errorf("Float(%v) = %s, %v; want %s", tc.f, b, err, tc.want)
		}
		var back Float
		if err := json.Unmarshal(b, &back); err != nil || (float64(back) != tc.f && !math.IsNaN(tc.f)) {
			t.Errorf("round trip of %s = %v, %v", b, back, err)
		}
	}
}

func TestOpenAPI(t *testing.T) {
	a := newAPI(t, fixture(t), Options{})
	rec := httptest.NewRecorder()
	a.OpenAPI(rec, httptest.NewRequest("GET", "/openapi.yaml", nil))
	if rec.Code != 200 || rec.Header().Get("Content-Type") != "application/yaml" {
		t.Fatalf("got %d %s", rec.Code, rec.Header().Get("Content-Type"))
	}
	if !strings.HasPrefix(rec.Body.String(), "openapi: 3.0.3\n") {
		t.Errorf("body starts %.40q", rec.Body.String())
	}
}

// TestIngestRateReadEverySecond: readings were taken only when
// /system/status was asked for, so a dashboard opened now and then got the
// rate over 1m10s to 3m45s (t-user12 F1: a 45 s outage averaged over
// 3m45s). Run takes one every second: asked after three quiet minutes, the
// rate is over the last minute, and a drop in it shows.
func TestIngestRateReadEverySecond(t *testing.T) {
	st := fixture(t)
	var mu sync.Mutex
	now, n := testNow, uint64(0)
	// The clock moves a second per reading: 100 samples/s for two minutes,
	// then none (the outage) for the last 45 s.
	tick := func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		now = now.Add(time.Second)
		if now.Sub(testNow) <= 135*time.Second {
			n += 100
		}
		return now
	}
	a := newAPI(t, st, Options{Now: tick, SamplesIngested: func() uint64 { mu.Lock(); defer mu.Unlock(); return n }})
	a.readEvery = time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { a.Run(ctx); close(done) }()
	deadline := time.Now().Add(20 * time.Second)
	for {
		mu.Lock()
		at := now
		mu.Unlock()
		if at.Sub(testNow) >= 180*time.Second || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	<-done
	mu.Lock()
	at, total := now, n
	mu.Unlock()
	got := a.ingest(at, total)
	if got.WindowSeconds < 60 || got.WindowSeconds > 62 {
		t.Errorf("window %v s after three minutes of readings and no call, want a minute", got.WindowSeconds)
	}
	// Over the last minute: the first 15 s at 100/s, then 45 s of none.
	if want := 100 * 15 / got.WindowSeconds; math.Abs(got.SamplesPerSecond-want) > 100/got.WindowSeconds+1e-9 {
		t.Errorf("rate %v/s, want %.1f/s (15 s of 100/s in the minute)", got.SamplesPerSecond, want)
	}
}
