package ingest

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/model/textparse"
	"github.com/prometheus/prometheus/prompb"
	writev2 "github.com/prometheus/prometheus/prompb/io/prometheus/write/v2"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	statuspb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// The fuzz targets run their seeds in the normal `go test`; explore with e.g.
// `go test -run '^$' -fuzz FuzzRemoteWrite ./internal/ingest`.

// FuzzRemoteWrite feeds a body (snappy-compressed by the target when
// compress is set, so the fuzzer reaches the protobuf walk) to the handler
// over a real TSDB. It asserts an allowed status and that a 204 accepted
// exactly the samples that Prometheus's own decoder finds in the request.
func FuzzRemoteWrite(f *testing.F) {
	valid := func(ts ...prompb.TimeSeries) []byte {
		b, err := (&prompb.WriteRequest{Timeseries: ts}).Marshal()
		if err != nil {
			f.Fatal(err)
		}
		return b
	}
	h := prompb.Histogram{Count: &prompb.Histogram_CountInt{CountInt: 2}, Sum: 3, PositiveSpans: []prompb.BucketSpan{{Length: 1}},
		PositiveDeltas: []int64{2}, Timestamp: nowMs}
	withHist := series([]string{"__name__", "h", "job", "j"})
	withHist.Histograms = []prompb.Histogram{h}
	f.Add(valid(series([]string{"__name__", "x", "service", "s"}, prompb.Sample{Timestamp: nowMs, Value: 1})), true)
	f.Add(valid(series([]string{"__name__", "x"}, prompb.Sample{Timestamp: nowMs, Value: 1}, prompb.Sample{Timestamp: nowMs + 1, Value: 2}),
		series([]string{"b", "1", "__name__", "y"}, prompb.Sample{Timestamp: nowMs, Value: 1})), true)
	f.Add(valid(withHist), true)
	f.Add([]byte{0x0a, 0x02, 0x0a, 0x00}, true)
	f.Add([]byte("not snappy at all"), false)
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0x0f}, false)

	e := newTestEnv(f, nil)
	handler := e.in.RemoteWrite()
	f.Fuzz(func(t *testing.T, data []byte, compress bool) {
		body := data
		if compress {
			body = snappy.Encode(nil, data)
		}
		before := e.in.SamplesTotal()
		r := httptest.NewRequest(http.MethodPost, "/api/v1/write", bytes.NewReader(body))
		w := httptest.NewRecorder()
		handler.ServeHTTP(w, r)
		switch w.Code {
		case http.StatusNoContent, http.StatusBadRequest, http.StatusRequestEntityTooLarge:
		default:
			t.Fatalf("status %d: %s", w.Code, w.Body)
		}
		if w.Code != http.StatusNoContent {
			return
		}
		plain := data
		if !compress {
			var err error
			if plain, err = snappy.Decode(nil, data); err != nil {
				t.Fatalf("204 for a body that is not snappy: %v", err)
			}
		}
		var req prompb.WriteRequest
		if err := req.Unmarshal(plain); err != nil {
			t.Fatalf("204 for a request Prometheus cannot decode: %v", err)
		}
		want := 0
		for _, ts := range req.Timeseries {
			want += len(ts.Samples) + len(ts.Histograms)
		}
		if got := e.in.SamplesTotal() - before; got != uint64(want) {
			t.Fatalf("204 but %d samples committed, want %d", got, want)
		}
	})
}

// FuzzRemoteWrite2 is FuzzRemoteWrite for remote-write 2.0: a 204 must
// have written exactly the samples and histograms Prometheus's decoder finds
// in the request, and said so in the written-counts headers.
func FuzzRemoteWrite2(f *testing.F) {
	valid := func(symbols []string, ts ...writev2.TimeSeries) []byte {
		b, err := (&writev2.Request{Symbols: symbols, Timeseries: ts}).Marshal()
		if err != nil {
			f.Fatal(err)
		}
		return b
	}
	syms := []string{"", "__name__", "x", "service", "s", "Help text."}
	f.Add(valid(syms, writev2.TimeSeries{LabelsRefs: []uint32{1, 2, 3, 4}, Samples: []writev2.Sample{{Value: 1, Timestamp: nowMs}}}), true)
	f.Add(valid(syms, writev2.TimeSeries{LabelsRefs: []uint32{3, 4, 1, 2}, Samples: []writev2.Sample{{Value: 1, Timestamp: nowMs}, {Value: 2, Timestamp: nowMs + 1}},
		Metadata: writev2.Metadata{Type: writev2.Metadata_METRIC_TYPE_GAUGE, HelpRef: 5}}), true)
	f.Add(valid(syms, writev2.TimeSeries{LabelsRefs: []uint32{1, 2}, Histograms: []writev2.Histogram{{Count: &writev2.Histogram_CountInt{CountInt: 2},
		Sum: 3, PositiveSpans: []writev2.BucketSpan{{Length: 1}}, PositiveDeltas: []int64{2}, Timestamp: nowMs}}}), true)
	f.Add(valid(syms, writev2.TimeSeries{LabelsRefs: []uint32{1, 9}, Samples: []writev2.Sample{{Value: 1, Timestamp: nowMs}}}), true)
	f.Add([]byte{0x2a, 0x02, 0x0a, 0x00}, true)
	f.Add([]byte("not snappy at all"), false)

	e := newTestEnv(f, nil)
	handler := e.in.RemoteWrite()
	f.Fuzz(func(t *testing.T, data []byte, compress bool) {
		body := data
		if compress {
			body = snappy.Encode(nil, data)
		}
		before := e.in.SamplesTotal()
		r := httptest.NewRequest(http.MethodPost, "/api/v1/write", bytes.NewReader(body))
		r.Header.Set("Content-Type", "application/x-protobuf;proto=io.prometheus.write.v2.Request")
		w := httptest.NewRecorder()
		handler.ServeHTTP(w, r)
		switch w.Code {
		case http.StatusNoContent, http.StatusBadRequest, http.StatusRequestEntityTooLarge:
		default:
			t.Fatalf("status %d: %s", w.Code, w.Body)
		}
		got := e.in.SamplesTotal() - before
		headers := w.Header().Get("X-Prometheus-Remote-Write-Samples-Written") + "+" + w.Header().Get("X-Prometheus-Remote-Write-Histograms-Written")
		var s, h uint64
		if _, err := fmt.Sscanf(headers, "%d+%d", &s, &h); err != nil || s+h != got {
			t.Fatalf("written headers %q, %d committed (%v)", headers, got, err)
		}
		if w.Code != http.StatusNoContent {
			return
		}
		plain := data
		if !compress {
			var err error
			if plain, err = snappy.Decode(nil, data); err != nil {
				t.Fatalf("204 for a body that is not snappy: %v", err)
			}
		}
		var req writev2.Request
		if err := req.Unmarshal(plain); err != nil {
			t.Fatalf("204 for a request Prometheus cannot decode: %v", err)
		}
		want := 0
		for _, ts := range req.Timeseries {
			want += len(ts.Samples) + len(ts.Histograms)
		}
		if got != uint64(want) {
			t.Fatalf("204 but %d samples committed, want %d", got, want)
		}
	})
}

// FuzzJSONPush feeds bodies to the JSON push handler over a real TSDB. It
// asserts an allowed status and that a 204 committed one sample per metric.
func FuzzJSONPush(f *testing.F) {
	f.Add([]byte(`{"service":"matching-engine","instance":"me-1","timestamp":1795607990.123,"labels":{"venue":"xnas"},"metrics":{"latency_us":312,"tps":41000}}`))
	f.Add([]byte(`[{"service":"a","metrics":{"x":1}},{"service":"b","metrics":{"y":null}}]`))
	f.Add([]byte(`{"service":"a","metrics":{"x":"1"}}`))
	f.Add([]byte(`{"service":"a","timestamp":1e300,"metrics":{"x":1}}`))
	f.Add([]byte(`[`))
	e := newTestEnv(f, nil)
	handler := e.in.JSONPush()
	f.Fuzz(func(t *testing.T, body []byte) {
		before := e.in.SamplesTotal()
		r := httptest.NewRequest(http.MethodPost, "/api/v1/push", bytes.NewReader(body))
		w := httptest.NewRecorder()
		handler.ServeHTTP(w, r)
		switch w.Code {
		case http.StatusNoContent, http.StatusBadRequest, http.StatusRequestEntityTooLarge:
		default:
			t.Fatalf("status %d: %s", w.Code, w.Body)
		}
		if w.Code != http.StatusNoContent {
			return
		}
		points, err := decodeJSONPoints(body)
		if err != nil {
			t.Fatalf("204 for a body that does not decode: %v", err)
		}
		want := 0
		for _, p := range points {
			want += len(p.Metrics)
		}
		if got := e.in.SamplesTotal() - before; got != uint64(want) {
			t.Fatalf("204 but %d samples committed, want %d", got, want)
		}
		if !json.Valid(body) {
			t.Fatalf("204 for invalid JSON")
		}
	})
}

// FuzzTextPush feeds a grouping path and a body to the text push handler
// over a real TSDB. It asserts an allowed status and that a 200 committed
// every sample the Prometheus parser finds in the body.
func FuzzTextPush(f *testing.F) {
	f.Add("job/settlement", []byte("# TYPE batches_total counter\nbatches_total 12\nlast_run_seconds{step=\"net\"} 3.5 1795607000000\n"), "")
	f.Add("job@base64/ZW9kL2JhdGNo/instance/x", []byte("a_bucket{le=\"1\"} 1\na_bucket{le=\"+Inf\"} 2\na_sum 3\na_count 2\n"), "")
	f.Add("job/om", []byte("# TYPE trades counter\ntrades_total 7 1795607000.5\n# EOF\n"), "application/openmetrics-text; version=1.0.0")
	f.Add("job/j/a", []byte("x 1\n"), "")
	f.Add("job/j", []byte("{\"quoted.name\"} 1\nx{a=\"\\xff\"} NaN\n"), "")
	e := newTestEnv(f, nil)
	handler := e.in.TextPush()
	f.Fuzz(func(t *testing.T, path string, body []byte, contentType string) {
		r, err := http.NewRequest(http.MethodPost, "http://gmc.test/metrics/"+path, bytes.NewReader(body))
		if err != nil {
			t.Skip("not a URL")
		}
		r.Header.Set("Content-Type", contentType)
		before := e.in.SamplesTotal()
		w := httptest.NewRecorder()
		handler.ServeHTTP(w, r)
		switch w.Code {
		case http.StatusOK, http.StatusBadRequest, http.StatusRequestEntityTooLarge:
		default:
			t.Fatalf("status %d: %s", w.Code, w.Body)
		}
		if w.Code != http.StatusOK {
			return
		}
		p, _, err := textParser(body, contentType, nil)
		if err != nil {
			t.Fatalf("200 for a body without a parser: %v", err)
		}
		want := 0
		for {
			entry, err := p.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("200 for a body that does not parse: %v", err)
			}
			if entry == textparse.EntrySeries || entry == textparse.EntryHistogram {
				want++
			}
		}
		if got := e.in.SamplesTotal() - before; got != uint64(want) {
			t.Fatalf("200 but %d samples committed, want %d", got, want)
		}
	})
}

// FuzzOTLP feeds a body (protobuf or JSON as isJSON says, gzip-compressed by
// the target when gz is set) to the OTLP handler over a real TSDB. It asserts
// an allowed status, that a body pdata decodes is accepted (200) and one it
// does not is refused (400), and that every answer decodes in the OTLP shape.
func FuzzOTLP(f *testing.F) {
	now := ingestTestNow()
	full := otlpRequest("svc", map[string]string{"host.name": "h1"}, func(ms pmetric.MetricSlice) {
		gauge(ms, "g", now, 1, "k", "v")
		h := ms.AppendEmpty()
		h.SetName("lat")
		h.SetUnit("s")
		hs := h.SetEmptyHistogram()
		hs.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
		dp := hs.DataPoints().AppendEmpty()
		dp.SetTimestamp(pcommon.NewTimestampFromTime(now))
		dp.SetCount(2)
		dp.SetSum(0.3)
		dp.ExplicitBounds().FromRaw([]float64{0.1, 1})
		dp.BucketCounts().FromRaw([]uint64{1, 1, 0})
		eh := ms.AppendEmpty()
		eh.SetName("fill")
		ehs := eh.SetEmptyExponentialHistogram()
		ehs.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
		ep := ehs.DataPoints().AppendEmpty()
		ep.SetTimestamp(pcommon.NewTimestampFromTime(now))
		ep.SetCount(1)
		ep.SetSum(3)
		ep.Positive().BucketCounts().FromRaw([]uint64{1})
	})
	pb, err := full.MarshalProto()
	if err != nil {
		f.Fatal(err)
	}
	js, err := full.MarshalJSON()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(pb, false, false)
	f.Add(pb, false, true)
	f.Add(js, true, false)
	f.Add([]byte(`{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"x","sum":{"aggregationTemporality":1,"dataPoints":[{"asInt":"1"}]}}]}]}]}`), true, false)
	f.Add([]byte{0x0a, 0x02, 0x12, 0x00}, false, false)
	f.Add([]byte("not a body"), false, true)

	e := newTestEnv(f, nil)
	handler := e.in.OTLPMetrics()
	f.Fuzz(func(t *testing.T, data []byte, isJSON, gz bool) {
		body := data
		h := map[string]string{"Content-Type": "application/x-protobuf"}
		if isJSON {
			h["Content-Type"] = "application/json"
		}
		if gz {
			var b bytes.Buffer
			zw := gzip.NewWriter(&b)
			_, _ = zw.Write(data)
			_ = zw.Close()
			body = b.Bytes()
			h["Content-Encoding"] = "gzip"
		}
		decodes := func() bool {
			req := pmetricotlp.NewExportRequest()
			if isJSON {
				return req.UnmarshalJSON(data) == nil
			}
			return req.UnmarshalProto(data) == nil
		}()
		code, out := do(t, handler, http.MethodPost, "/v1/metrics", h, body)
		switch {
		case code == http.StatusOK && decodes:
			resp := pmetricotlp.NewExportResponse()
			var err error
			if isJSON {
				err = resp.UnmarshalJSON([]byte(out))
			} else {
				err = resp.UnmarshalProto([]byte(out))
			}
			if err != nil {
				t.Fatalf("200 with an answer that does not decode: %v", err)
			}
		case code == http.StatusBadRequest && !decodes, code == http.StatusRequestEntityTooLarge:
			var st statuspb.Status
			var err error
			if isJSON {
				err = protojson.Unmarshal([]byte(out), &st)
			} else {
				err = proto.Unmarshal([]byte(out), &st)
			}
			if err != nil || st.GetMessage() == "" {
				t.Fatalf("%d with no Status: %q (%v)", code, out, err)
			}
		case code == http.StatusBadRequest && decodes:
			if !strings.Contains(out, "limits.max_series_per_request") {
				t.Fatalf("a body pdata decodes was refused: %q", out)
			}
		default:
			t.Fatalf("status %d (pdata decodes the body: %v): %q", code, decodes, out)
		}
	})
}
