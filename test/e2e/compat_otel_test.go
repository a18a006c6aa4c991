package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/resource"
)

// otelMeter is an OpenTelemetry Go SDK meter provider exporting to gmc with
// the SDK's own OTLP/HTTP exporter, as a service instrumented with
// OpenTelemetry would, with no collector between. It exports when flushed.
func otelMeter(t *testing.T, endpoint string, res *resource.Resource, opts ...otlpmetrichttp.Option) *sdkmetric.MeterProvider {
	t.Helper()
	exp, err := otlpmetrichttp.New(context.Background(), append([]otlpmetrichttp.Option{
		otlpmetrichttp.WithEndpointURL(endpoint),
		otlpmetrichttp.WithRetry(otlpmetrichttp.RetryConfig{Enabled: false}),
	}, opts...)...)
	must(t, err, "otlp exporter")
	mp := sdkmetric.NewMeterProvider(
		sdkmetric.WithResource(res),
		sdkmetric.WithReader(sdkmetric.NewPeriodicReader(exp, sdkmetric.WithInterval(time.Hour))),
		// fill.size is recorded as an exponential histogram.
		sdkmetric.WithView(sdkmetric.NewView(sdkmetric.Instrument{Name: "fill.size"},
			sdkmetric.Stream{Aggregation: sdkmetric.AggregationBase2ExponentialHistogram{MaxSize: 160, MaxScale: 20}})),
	)
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	return mp
}

// queryOne runs q at now and returns its only series, failing otherwise.
func queryOne(ctx context.Context, t *testing.T, base, q string) series {
	t.Helper()
	r, err := instantQuery(ctx, base, q, time.Now().UnixMilli())
	must(t, err, "query %s", q)
	if len(r.Series) != 1 {
		t.Fatalf("%s: got %d series %+v, want 1", q, len(r.Series), r.Series)
	}
	return r.Series[0]
}

// TestCompatOpenTelemetry pushes a counter, a gauge, a histogram and an
// exponential histogram from the OpenTelemetry Go SDK straight to gmc's
// /v1/metrics and reads them back with PromQL under the names and labels
// Prometheus's OTLP receiver gives them.
func TestCompatOpenTelemetry(t *testing.T) {
	gmc := startGMC(t, t.TempDir(), "")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res := resource.NewSchemaless(
		attribute.String("service.name", "pricer"),
		attribute.String("service.instance.id", "pricer-1"),
		attribute.String("deployment.environment", "uat"),
	)

	compat(t, "OpenTelemetry Go SDK (otlpmetrichttp)", "export counter, gauge, histogram, exponential histogram to /v1/metrics (protobuf)",
		"200; PromQL reads trades_total, queue_depth, order_latency_seconds_* and the native histogram fill_size_bytes with job/instance from the resource", func(t *testing.T) {
			mp := otelMeter(t, gmc.URL()+"/v1/metrics", res)
			m := mp.Meter("desk/pricer")
			trades, err := m.Int64Counter("trades", metric.WithUnit("{trade}"))
			must(t, err, "counter")
			depth, err := m.Float64Gauge("queue.depth")
			must(t, err, "gauge")
			latency, err := m.Float64Histogram("order.latency", metric.WithUnit("s"), metric.WithDescription("time to fill"), metric.WithExplicitBucketBoundaries(0.1, 0.5, 1))
			must(t, err, "histogram")
			fill, err := m.Int64Histogram("fill.size", metric.WithUnit("By"))
			must(t, err, "exponential histogram")
			venue := metric.WithAttributes(attribute.String("venue", "xnas"))
			trades.Add(ctx, 3, venue)
			trades.Add(ctx, 4, venue)
			depth.Record(ctx, 12.5)
			for _, v := range []float64{0.05, 0.3, 0.3, 2} {
				latency.Record(ctx, v)
			}
			for _, v := range []int64{100, 200, 400} {
				fill.Record(ctx, v)
			}
			must(t, mp.ForceFlush(ctx), "export to gmc")

			id := `job="pricer",instance="pricer-1"`
			for q, want := range map[string]float64{
				`trades_total{` + id + `,venue="xnas",service="pricer"}`:         7,
				`queue_depth{` + id + `}`:                                        12.5,
				`order_latency_seconds_bucket{` + id + `,le="0.1"}`:              1,
				`order_latency_seconds_bucket{` + id + `,le="0.5"}`:              3,
				`order_latency_seconds_bucket{` + id + `,le="1"}`:                3,
				`order_latency_seconds_bucket{` + id + `,le="+Inf"}`:             4,
				`order_latency_seconds_count{` + id + `}`:                        4,
				`order_latency_seconds_sum{` + id + `}`:                          2.65,
				`histogram_count(fill_size_bytes{` + id + `})`:                   3,
				`histogram_sum(fill_size_bytes{` + id + `})`:                     700,
				`target_info{` + id + `,deployment_environment="uat"}`:           1,
				`count(target_info{service_name!="",job="pricer"}) or vector(0)`: 0,
			} {
				s := queryOne(ctx, t, gmc.URL(), q)
				if got := s.Points[0].V; math.Abs(got-want) > 1e-9 {
					t.Errorf("%s = %v, want %v", q, got, want)
				}
			}
			// Type, unit and description become the family's metadata.
			md, err := apiGet(ctx, gmc.URL()+"/api/v1/metadata?metric=order_latency_seconds")
			must(t, err, "metadata")
			if want := `{"order_latency_seconds":[{"type":"histogram","unit":"seconds","help":"time to fill"}]}`; string(md) != want {
				t.Errorf("metadata %s, want %s", md, want)
			}
			// The exponential histogram is stored as a native histogram.
			if s := queryOne(ctx, t, gmc.URL(), `fill_size_bytes{`+id+`}`); s.Points[0].H == nil || s.Points[0].H.Count != 3 {
				t.Errorf("fill_size_bytes is %+v, want a native histogram of 3 observations", s.Points)
			}
		})

	compat(t, "OpenTelemetry Go SDK (otlpmetrichttp)", "export with gzip compression",
		"200; the values are stored", func(t *testing.T) {
			mp := otelMeter(t, gmc.URL()+"/v1/metrics", resource.NewSchemaless(attribute.String("service.name", "gz")),
				otlpmetrichttp.WithCompression(otlpmetrichttp.GzipCompression))
			c, err := mp.Meter("gz").Float64Counter("pnl.usd")
			must(t, err, "counter")
			c.Add(ctx, 1234.5)
			must(t, mp.ForceFlush(ctx), "export to gmc")
			if s := queryOne(ctx, t, gmc.URL(), `pnl_usd_total{job="gz"}`); s.Points[0].V != 1234.5 {
				t.Fatalf("pnl_usd_total = %v, want 1234.5", s.Points[0].V)
			}
		})

	compat(t, "OpenTelemetry Go SDK (otlpmetrichttp)", "export a delta-temporality counter beside a cumulative one",
		"200 with partial_success naming the delta metric (refused as Prometheus refuses it); the SDK reports it; the cumulative one is stored", func(t *testing.T) {
			mp := otelMeter(t, gmc.URL()+"/v1/metrics", resource.NewSchemaless(attribute.String("service.name", "delta")),
				otlpmetrichttp.WithTemporalitySelector(func(k sdkmetric.InstrumentKind) metricdata.Temporality {
					if k == sdkmetric.InstrumentKindCounter {
						return metricdata.DeltaTemporality
					}
					return metricdata.CumulativeTemporality
				}))
			m := mp.Meter("delta")
			dc, err := m.Int64Counter("orders.delta")
			must(t, err, "counter")
			g, err := m.Int64Gauge("open.orders")
			must(t, err, "gauge")
			dc.Add(ctx, 5)
			g.Record(ctx, 9)
			err = mp.ForceFlush(ctx)
			if err == nil || !strings.Contains(err.Error(), "1 metric data points rejected") || !strings.Contains(err.Error(), "orders.delta") {
				t.Fatalf("SDK export error %v, want a partial success naming orders.delta", err)
			}
			if s := queryOne(ctx, t, gmc.URL(), `open_orders{job="delta"}`); s.Points[0].V != 9 {
				t.Fatalf("open_orders = %v, want 9", s.Points[0].V)
			}
			r, err := instantQuery(ctx, gmc.URL(), `{job="delta",__name__=~"orders.*"}`, time.Now().UnixMilli())
			must(t, err, "query")
			if len(r.Series) != 0 {
				t.Fatalf("the delta counter was stored: %+v", r.Series)
			}
		})

	compat(t, "curl (OTLP JSON)", "POST /v1/metrics with Content-Type application/json",
		"200 with a JSON ExportMetricsServiceResponse; the gauge is stored", func(t *testing.T) {
			now := time.Now().UnixNano()
			body := fmt.Sprintf(`{"resourceMetrics":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"jsonsvc"}}]},
"scopeMetrics":[{"metrics":[{"name":"spread.bps","gauge":{"dataPoints":[{"asDouble":1.75,"timeUnixNano":"%d","attributes":[{"key":"pair","value":{"stringValue":"EURUSD"}}]}]}}]}]}]}`, now)
			code, ct, out := postOTLP(ctx, t, gmc.URL()+"/v1/metrics", "application/json", []byte(body))
			if code != http.StatusOK || ct != "application/json" {
				t.Fatalf("%d %s: %s", code, ct, out)
			}
			var resp struct {
				PartialSuccess map[string]any `json:"partialSuccess"`
			}
			must(t, json.Unmarshal(out, &resp), "decode response %s", out)
			if len(resp.PartialSuccess) != 0 {
				t.Fatalf("partial success for a valid body: %s", out)
			}
			if s := queryOne(ctx, t, gmc.URL(), `spread_bps{job="jsonsvc",pair="EURUSD"}`); s.Points[0].V != 1.75 {
				t.Fatalf("spread_bps = %v, want 1.75", s.Points[0].V)
			}
		})

	compat(t, "curl (OTLP JSON)", "POST /v1/metrics with a body that does not decode",
		"400 with a google.rpc.Status naming the problem; nothing stored", func(t *testing.T) {
			code, ct, out := postOTLP(ctx, t, gmc.URL()+"/v1/metrics", "application/json", []byte(`{"resourceMetrics":[{"scopeMetrics":`))
			var st struct {
				Code    int    `json:"code"`
				Message string `json:"message"`
			}
			if code != http.StatusBadRequest || ct != "application/json" || json.Unmarshal(out, &st) != nil ||
				st.Code != 3 || !strings.Contains(st.Message, "decode OTLP JSON") {
				t.Fatalf("%d %s %s; want 400 with a Status of code 3 (INVALID_ARGUMENT)", code, ct, out)
			}
		})
}

// postOTLP posts body and returns the status, Content-Type and body.
func postOTLP(ctx context.Context, t *testing.T, url, ct string, body []byte) (int, string, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	must(t, err, "request")
	req.Header.Set("Content-Type", ct)
	resp, err := httpClient().Do(req)
	must(t, err, "post %s", url)
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil && !errors.Is(err, io.EOF) {
		t.Fatalf("read answer: %v", err)
	}
	return resp.StatusCode, resp.Header.Get("Content-Type"), out
}
