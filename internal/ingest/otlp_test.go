package ingest

import (
	"bytes"
	"compress/gzip"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	statuspb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/proto"
)

// otlpRequest builds an export request of one resource (service.name svc,
// plus attrs) holding the metrics add appends to its one scope.
func otlpRequest(svc string, attrs map[string]string, add func(ms pmetric.MetricSlice)) pmetricotlp.ExportRequest {
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	rm.Resource().Attributes().PutStr("service.name", svc)
	for k, v := range attrs {
		rm.Resource().Attributes().PutStr(k, v)
	}
	add(rm.ScopeMetrics().AppendEmpty().Metrics())
	return pmetricotlp.NewExportRequestFromMetrics(md)
}

// gauge appends a gauge with one data point per value (attribute k=v
// pairs), all at t.
func gauge(ms pmetric.MetricSlice, name string, t time.Time, v float64, kv ...string) {
	m := ms.AppendEmpty()
	m.SetName(name)
	dp := m.SetEmptyGauge().DataPoints().AppendEmpty()
	dp.SetTimestamp(pcommon.NewTimestampFromTime(t))
	dp.SetDoubleValue(v)
	for i := 0; i+1 < len(kv); i += 2 {
		dp.Attributes().PutStr(kv[i], kv[i+1])
	}
}

func protoBody(tb testing.TB, req pmetricotlp.ExportRequest) []byte {
	tb.Helper()
	b, err := req.MarshalProto()
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

var otlpProtoHeaders = map[string]string{"Content-Type": "application/x-protobuf"}

// exportResponse decodes a 200 answer's ExportMetricsServiceResponse.
func exportResponse(tb testing.TB, body string) pmetricotlp.ExportResponse {
	tb.Helper()
	resp := pmetricotlp.NewExportResponse()
	if err := resp.UnmarshalProto([]byte(body)); err != nil {
		tb.Fatalf("decode response %q: %v", body, err)
	}
	return resp
}

// status decodes an error answer's google.rpc.Status.
func status(tb testing.TB, body string) *statuspb.Status {
	tb.Helper()
	var st statuspb.Status
	if err := proto.Unmarshal([]byte(body), &st); err != nil {
		tb.Fatalf("decode status %q: %v", body, err)
	}
	return &st
}

func TestOTLPStoresWhatPrometheusWould(t *testing.T) {
	e := newTestEnv(t, nil)
	now := ingestTestNow()
	req := otlpRequest("risk", map[string]string{"service.instance.id": "risk-1", "region": "ldn"}, func(ms pmetric.MetricSlice) {
		gauge(ms, "exposure.usd", now, 1.5e6, "book", "fx")
		m := ms.AppendEmpty()
		m.SetName("orders")
		m.SetUnit("{order}")
		s := m.SetEmptySum()
		s.SetIsMonotonic(true)
		s.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
		dp := s.DataPoints().AppendEmpty()
		dp.SetTimestamp(pcommon.NewTimestampFromTime(now))
		dp.SetIntValue(42)
		eh := ms.AppendEmpty()
		eh.SetName("fill")
		eh.SetUnit("By")
		ehs := eh.SetEmptyExponentialHistogram()
		ehs.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
		hp := ehs.DataPoints().AppendEmpty()
		hp.SetTimestamp(pcommon.NewTimestampFromTime(now))
		hp.SetScale(0)
		hp.SetCount(3)
		hp.SetSum(700)
		hp.Positive().SetOffset(6) // buckets (64,128], (128,256], (256,512]
		hp.Positive().BucketCounts().FromRaw([]uint64{1, 1, 1})
	})
	code, body := do(t, e.in.OTLPMetrics(), http.MethodPost, "/v1/metrics", otlpProtoHeaders, protoBody(t, req))
	if code != http.StatusOK {
		t.Fatalf("status %d: %q", code, body)
	}
	if ps := exportResponse(t, body).PartialSuccess(); ps.RejectedDataPoints() != 0 || ps.ErrorMessage() != "" {
		t.Fatalf("partial success %d %q", ps.RejectedDataPoints(), ps.ErrorMessage())
	}
	want := []string{
		`{__name__="exposure_usd", book="fx", instance="risk-1", job="risk", service="risk"} 1795608000000 1.5e+06`,
		`{__name__="fill_bytes", instance="risk-1", job="risk", service="risk"} 1795608000000 {count:3, sum:700, (64,128]:1, (128,256]:1, (256,512]:1}`,
		`{__name__="orders_total", instance="risk-1", job="risk", service="risk"} 1795608000000 42`,
		`{__name__="target_info", instance="risk-1", job="risk", region="ldn", service="risk"} 1795608000000 1`,
	}
	if got := e.stored(t); !slices.Equal(got, want) {
		t.Fatalf("stored\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if len(e.committed) != 1 || strings.Join(e.committed[0], " ") != "exposure_usd fill_bytes orders_total target_info" {
		t.Fatalf("listener told %v", e.committed)
	}
}

func TestOTLPPartialSuccess(t *testing.T) {
	e := newTestEnv(t, func(l *Limits) { l.MaxLabelValueLength = 8 })
	now := ingestTestNow()
	req := otlpRequest("gw", nil, func(ms pmetric.MetricSlice) {
		gauge(ms, "ok", now, 1)
		gauge(ms, "long", now, 2, "k", "a value longer than eight")
		gauge(ms, "future", now.Add(time.Hour), 3)
		m := ms.AppendEmpty()
		m.SetName("delta")
		s := m.SetEmptySum()
		s.SetAggregationTemporality(pmetric.AggregationTemporalityDelta)
		s.DataPoints().AppendEmpty().SetTimestamp(pcommon.NewTimestampFromTime(now))
	})
	code, body := do(t, e.in.OTLPMetrics(), http.MethodPost, "/v1/metrics", otlpProtoHeaders, protoBody(t, req))
	if code != http.StatusOK {
		t.Fatalf("status %d: %q", code, body)
	}
	ps := exportResponse(t, body).PartialSuccess()
	msg := ps.ErrorMessage()
	if ps.RejectedDataPoints() != 3 || !strings.Contains(msg, `invalid temporality and type combination for metric "delta"`) ||
		!strings.Contains(msg, `value of label "k" is 25 bytes, longer than limits.max_label_value_length 8`) ||
		!strings.Contains(msg, "limits.max_future_skew") || !strings.Contains(msg, "accepted 1 samples, rejected 2") {
		t.Fatalf("partial success %d %q", ps.RejectedDataPoints(), msg)
	}
	// No target_info: the resource has no attribute besides service.name
	// (Prometheus writes none then).
	want := []string{`{__name__="ok", job="gw", service="gw"} 1795608000000 1`}
	if got := e.stored(t); !slices.Equal(got, want) {
		t.Fatalf("stored\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestOTLPRequestErrors(t *testing.T) {
	e := newTestEnv(t, func(l *Limits) { l.MaxBodyBytes = 1 << 10; l.MaxSeriesPerRequest = 2 })
	valid := protoBody(t, otlpRequest("s", nil, func(ms pmetric.MetricSlice) { gauge(ms, "x", ingestTestNow(), 1) }))
	three := protoBody(t, otlpRequest("s", nil, func(ms pmetric.MetricSlice) {
		for _, n := range []string{"a", "b", "c"} {
			gauge(ms, n, ingestTestNow(), 1)
		}
	}))
	var bomb bytes.Buffer
	zw := gzip.NewWriter(&bomb)
	_, _ = zw.Write(make([]byte, 64<<10))
	_ = zw.Close()
	for _, tc := range []struct {
		name    string
		ct, ce  string
		body    []byte
		code    int
		message string
	}{
		{"not protobuf", "application/x-protobuf", "", []byte{0xff, 0xff}, 400, "decode OTLP protobuf ExportMetricsServiceRequest"},
		{"not gzip", "application/x-protobuf", "gzip", valid, 400, "decode gzip body"},
		{"gzip bomb", "application/x-protobuf", "gzip", bomb.Bytes(), 413, "decoded body exceeds 8192 bytes (limits.max_body_bytes × 8)"},
		{"too large", "application/x-protobuf", "", make([]byte, 2<<10), 413, "exceeds limits.max_body_bytes 1024"},
		{"text", "text/plain", "", valid, 415, `Content-Type "text/plain" is not supported`},
		{"snappy", "application/x-protobuf", "snappy", valid, 415, "Content-Encoding snappy is not supported"},
		{"too many points", "application/x-protobuf", "", three, 400, "request has 3 data points, more than limits.max_series_per_request 2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := map[string]string{"Content-Type": tc.ct}
			if tc.ce != "" {
				h["Content-Encoding"] = tc.ce
			}
			code, body := do(t, e.in.OTLPMetrics(), http.MethodPost, "/v1/metrics", h, tc.body)
			if code != tc.code {
				t.Fatalf("status %d, want %d: %q", code, tc.code, body)
			}
			if st := status(t, body); !strings.Contains(st.GetMessage(), tc.message) {
				t.Fatalf("status message %q, want it to contain %q", st.GetMessage(), tc.message)
			}
		})
	}
	if got := e.stored(t); len(got) != 0 {
		t.Fatalf("stored %v after refused requests", got)
	}
}

func TestOTLPGzipAndPromotedAttributes(t *testing.T) {
	e := newTestEnv(t, nil)
	in, err := New(Options{Appendable: e.db, Limits: DefaultLimits(), Now: ingestTestNow,
		OTLP: OTLP{PromoteResourceAttributes: []string{"region"}}})
	if err != nil {
		t.Fatal(err)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write(protoBody(t, otlpRequest("md", map[string]string{"region": "ny4"}, func(ms pmetric.MetricSlice) {
		gauge(ms, "lag", ingestTestNow(), 0.25)
	})))
	_ = zw.Close()
	code, body := do(t, in.OTLPMetrics(), http.MethodPost, "/v1/metrics",
		map[string]string{"Content-Type": "application/x-protobuf", "Content-Encoding": "gzip"}, gz.Bytes())
	if code != http.StatusOK {
		t.Fatalf("status %d: %q", code, body)
	}
	want := []string{
		`{__name__="lag", job="md", region="ny4", service="md"} 1795608000000 0.25`,
		`{__name__="target_info", job="md", region="ny4", service="md"} 1795608000000 1`,
	}
	if got := e.stored(t); !slices.Equal(got, want) {
		t.Fatalf("stored\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestOTLPValidate(t *testing.T) {
	for _, tc := range []struct {
		o    OTLP
		want string
	}{
		{OTLP{PromoteResourceAttributes: []string{"a", "b"}}, ""},
		{OTLP{PromoteResourceAttributes: []string{"a", ""}}, "otlp.promote_resource_attributes[1]: must not be empty"},
		{OTLP{PromoteResourceAttributes: []string{"a", "a"}}, `otlp.promote_resource_attributes[1]: "a" is listed twice`},
	} {
		err := tc.o.Validate()
		if got := ""; err != nil {
			got = err.Error()
			if got != tc.want {
				t.Errorf("%+v: %q, want %q", tc.o, got, tc.want)
			}
		} else if tc.want != "" {
			t.Errorf("%+v: accepted, want %q", tc.o, tc.want)
		}
	}
}

// TestOTLPWideResourceHasNoTargetInfo: the translator writes a target_info
// sample every 2.5 minutes between a resource's earliest and latest data
// point; a resource spanning more than maxTargetInfoSpan is written without
// it (one point at time 0 would otherwise cost millions of appends), and the
// answer says so.
func TestOTLPWideResourceHasNoTargetInfo(t *testing.T) {
	e := newTestEnv(t, nil)
	now := ingestTestNow()
	req := otlpRequest("bt", map[string]string{"region": "ldn"}, func(ms pmetric.MetricSlice) {
		gauge(ms, "old", now.Add(-2*time.Hour), 1)
		gauge(ms, "new", now, 2)
	})
	code, body := do(t, e.in.OTLPMetrics(), http.MethodPost, "/v1/metrics", otlpProtoHeaders, protoBody(t, req))
	if code != http.StatusOK {
		t.Fatalf("status %d: %q", code, body)
	}
	ps := exportResponse(t, body).PartialSuccess()
	if want := `target_info of resource service.name="bt" not written: its data points span 2h0m0s, more than 1h0m0s`; ps.RejectedDataPoints() != 0 || ps.ErrorMessage() != want {
		t.Fatalf("partial success %d %q, want 0 %q", ps.RejectedDataPoints(), ps.ErrorMessage(), want)
	}
	want := []string{
		`{__name__="new", job="bt", service="bt"} 1795608000000 2`,
		`{__name__="old", job="bt", service="bt"} 1795600800000 1`,
	}
	if got := e.stored(t); !slices.Equal(got, want) {
		t.Fatalf("stored\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
