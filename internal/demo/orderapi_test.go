package demo

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/gmc-dev/gmc/internal/bench"
	"github.com/gmc-dev/gmc/sdk"
)

// startExchange runs a gateway, risk and engine (no pushing) until the
// test ends.
func startExchange(t *testing.T) *gateway {
	t.Helper()
	svc := func(name string) *service {
		s, err := newService(name, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	r := newRisk(svc(ServiceRisk), map[uint32]string{1: "momentum"})
	e := &engine{svc: svc(ServiceEngine), in: make(chan *request), risk: r}
	g := &gateway{svc: svc(ServiceGateway), in: make(chan *request), engine: e, risk: r, rng: rand.New(rand.NewPCG(1, 1))}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{}, 2)
	go func() { e.run(ctx); done <- struct{}{} }()
	go func() { g.run(ctx); done <- struct{}{} }()
	t.Cleanup(func() { cancel(); <-done; <-done })
	return g
}

func postOrder(t *testing.T, url, body string) (int, map[string]any) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("POST %s: decode the answer: %v", body, err)
	}
	return resp.StatusCode, out
}

// TestOrdersHTTP places orders over HTTP: a buy fills against a trader's
// resting sell and is counted in the gateway's SDK metrics, a passive one
// rests, and bad orders get a 400 naming the bad field.
func TestOrdersHTTP(t *testing.T) {
	g := startExchange(t)
	api := &orderAPI{gw: g}
	srv := httptest.NewServer(api)
	defer srv.Close()
	url := srv.URL + OrdersPath

	// A trader rests a sell of 3 lots at 100.00 through the gateway.
	rest, err := api.send(context.Background(), &request{order: Order{Account: 1, Side: Sell, Type: Limit, Price: 10000, Qty: 3}})
	if err != nil || rest.result != sdk.ResultSuccess || rest.left != 3 {
		t.Fatalf("resting sell: %+v, %v", rest, err)
	}
	code, res := postOrder(t, url, `{"symbol":"DEMO-USD","side":"buy","type":"limit","price":"100.00","qty":"2"}`)
	if code != http.StatusCreated || res["status"] != "filled" || res["fills"] != 1.0 || res["filled_qty"] != 2.0 || res["resting_qty"] != 0.0 {
		t.Fatalf("marketable buy: %d %v", code, res)
	}
	// A market buy of 5 takes the last lot and cancels the rest; numbers
	// are accepted as well as strings.
	code, res = postOrder(t, url, `{"symbol":"demo-usd","side":"BUY","type":"market","qty":5}`)
	if code != http.StatusCreated || res["status"] != "partially_filled" || res["filled_qty"] != 1.0 || res["resting_qty"] != 0.0 {
		t.Fatalf("market buy: %d %v", code, res)
	}
	// The benchmark's order rests.
	code, res = postOrder(t, url, GatewayBenchBody)
	if code != http.StatusCreated || res["status"] != "resting" || res["resting_qty"] != 1.0 {
		t.Fatalf("benchmark order: %d %v", code, res)
	}
	// 1 trader order + 3 over HTTP, all through the gateway's path.
	if n := testutil.ToFloat64(g.svc.m.Orders.WithLabelValues(string(sdk.ResultSuccess))); n != 4 {
		t.Errorf("gateway counted %v successful orders, want 4", n)
	}

	for _, tc := range []struct{ body, field string }{
		{`{"symbol":"DEMO-USD","side":`, "body"},
		{``, "body"},
		{`{"symbol":"DEMO-USD","side":"hold","type":"limit","price":"99","qty":"1"}`, "side"},
		{`{"symbol":"DEMO-USD","side":5,"type":"limit","price":"99","qty":"1"}`, "side"},
		{`{"symbol":"DEMO-USD","type":"limit","price":"99","qty":"1"}`, "side"},
		{`{"symbol":"DEMO-USD","side":"buy","type":"stop","price":"99","qty":"1"}`, "type"},
		{`{"symbol":"DEMO-USD","side":"buy","type":"limit","price":"99","qty":"-1"}`, "qty"},
		{`{"symbol":"DEMO-USD","side":"buy","type":"limit","price":"99","qty":-1}`, "qty"},
		{`{"symbol":"DEMO-USD","side":"buy","type":"limit","price":"99","qty":"0"}`, "qty"},
		{`{"symbol":"DEMO-USD","side":"buy","type":"limit","price":"99","qty":"1.5"}`, "qty"},
		{`{"symbol":"DEMO-USD","side":"buy","type":"limit","price":"99","qty":"lots"}`, "qty"},
		{`{"symbol":"DEMO-USD","side":"buy","type":"limit","price":"99.001","qty":"1"}`, "price"},
		{`{"symbol":"DEMO-USD","side":"buy","type":"limit","qty":"1"}`, "price"},
		{`{"symbol":"DEMO-USD","side":"buy","type":"market","price":"99","qty":"1"}`, "price"},
		{`{"symbol":"BTC-USD","side":"buy","type":"limit","price":"99","qty":"1"}`, "symbol"},
		{`{"symbol":"DEMO-USD","side":"buy","type":"limit","price":"99","qty":"1","tif":"ioc"}`, "tif"},
	} {
		code, res := postOrder(t, url, tc.body)
		msg, _ := res["error"].(string)
		if code != http.StatusBadRequest || !strings.HasPrefix(msg, tc.field) && !strings.Contains(msg, `"`+tc.field+`"`) {
			t.Errorf("POST %s: %d %q, want 400 naming %s", tc.body, code, msg, tc.field)
		}
	}
	if code, res := postOrder(t, url, `{"symbol":"`+strings.Repeat("x", maxOrderBody)+`"}`); code != http.StatusRequestEntityTooLarge {
		t.Errorf("oversized body: %d %v", code, res)
	}
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "POST" {
		t.Errorf("GET: %d, Allow %q", resp.StatusCode, resp.Header.Get("Allow"))
	}
	// None of the bad orders reached the gateway.
	if n := testutil.ToFloat64(g.svc.m.Orders.WithLabelValues(string(sdk.ResultSuccess))); n != 4 {
		t.Errorf("gateway counted %v successful orders after the bad ones, want 4", n)
	}
}

// TestOrdersHTTPBounded: a request the gateway never answers ends with a
// 503 once its context ends, instead of blocking.
func TestOrdersHTTPBounded(t *testing.T) {
	api := &orderAPI{gw: &gateway{in: make(chan *request)}} // nothing reads in
	req := httptest.NewRequest(http.MethodPost, OrdersPath, strings.NewReader(GatewayBenchBody))
	ctx, cancel := context.WithCancel(req.Context())
	cancel()
	w := httptest.NewRecorder()
	api.ServeHTTP(w, req.WithContext(ctx))
	if w.Code != http.StatusServiceUnavailable || !strings.Contains(w.Body.String(), "busy") {
		t.Errorf("unanswered order: %d %s", w.Code, w.Body)
	}
}

// TestGatewayBenchmark: with a gateway URL the demo's suite has the
// order gateway latency benchmark, it validates, and it runs clean
// (shortened) against the HTTP front.
func TestGatewayBenchmark(t *testing.T) {
	srv := httptest.NewServer(&orderAPI{gw: startExchange(t)})
	defer srv.Close()
	suite := Benchmarks(time.Minute, "", srv.URL+OrdersPath)
	cfg := bench.Config{Suite: suite}
	cfg.Normalise()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if len(suite) != 5 || suite[4].Name != BenchGatewayLatency || suite[4].Kind != bench.KindHTTP {
		t.Fatalf("suite %+v", suite)
	}
	b := suite[4]
	b.HTTP.Rate, b.HTTP.Duration, b.HTTP.Warmup, b.HTTP.Samples = 200, bench.Duration(time.Second), 0, 2
	archive, err := bench.OpenArchive(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	one := bench.Config{Suite: []bench.Benchmark{b}}
	one.Normalise()
	r, err := bench.NewRunner(bench.Options{Config: one, Archive: archive})
	if err != nil {
		t.Fatal(err)
	}
	runs, err := r.RunAll(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 1 || len(runs[0].Results) != 1 {
		t.Fatalf("runs %+v", runs)
	}
	res := runs[0].Results[0]
	if res.Errors != 0 || res.Requests < 150 || res.Latency == nil || res.Latency.P99 <= 0 {
		t.Errorf("gateway benchmark: %d requests, %d errors, latency %+v", res.Requests, res.Errors, res.Latency)
	}
}
