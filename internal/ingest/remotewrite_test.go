package ingest

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/golang/snappy"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/prometheus/prompb"

	"github.com/gmc-dev/gmc/internal/duration"
)

func TestRemoteWriteFloats(t *testing.T) {
	e := newTestEnv(t, nil)
	body := encodeWrite(t,
		series([]string{"__name__", "order_latency_us", "service", "matching-engine", "venue", "xnas"},
			prompb.Sample{Timestamp: nowMs - 2000, Value: 312}, prompb.Sample{Timestamp: nowMs - 1000, Value: 298.5}),
		series([]string{"__name__", "orders_total", "service", "gateway"},
			prompb.Sample{Timestamp: nowMs - 1000, Value: 41000}),
	)
	code, msg := do(t, e.in.RemoteWrite(), http.MethodPost, "/api/v1/write", rwHeaders, body)
	if code != http.StatusNoContent {
		t.Fatalf("status %d (%s), want 204", code, msg)
	}
	// The same series again: served from the series cache this time.
	body = encodeWrite(t, series([]string{"__name__", "orders_total", "service", "gateway"},
		prompb.Sample{Timestamp: nowMs, Value: 41500}))
	if code, msg := do(t, e.in.RemoteWrite(), http.MethodPost, "/api/v1/write", rwHeaders, body); code != http.StatusNoContent {
		t.Fatalf("second write: status %d (%s), want 204", code, msg)
	}
	want := []string{
		`{__name__="order_latency_us", service="matching-engine", venue="xnas"} 1795607998000 312`,
		`{__name__="order_latency_us", service="matching-engine", venue="xnas"} 1795607999000 298.5`,
		`{__name__="orders_total", service="gateway"} 1795607999000 41000`,
		`{__name__="orders_total", service="gateway"} 1795608000000 41500`,
	}
	if got := e.stored(t); !slices.Equal(got, want) {
		t.Errorf("stored:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if got := e.in.SamplesTotal(); got != 4 {
		t.Errorf("SamplesTotal = %d, want 4", got)
	}
	wantCommitted := [][]string{{"order_latency_us", "orders_total"}, {"orders_total"}}
	if !slices.EqualFunc(e.committed, wantCommitted, slices.Equal) {
		t.Errorf("Committed calls = %q, want %q", e.committed, wantCommitted)
	}
}

func TestRemoteWriteHistograms(t *testing.T) {
	e := newTestEnv(t, nil)
	intH := prompb.Histogram{
		Count: &prompb.Histogram_CountInt{CountInt: 5}, Sum: 18.5, Schema: 0, ZeroThreshold: 0.001,
		ZeroCount:     &prompb.Histogram_ZeroCountInt{ZeroCountInt: 1},
		PositiveSpans: []prompb.BucketSpan{{Offset: 0, Length: 2}}, PositiveDeltas: []int64{2, 0},
		Timestamp: nowMs - 1000,
	}
	floatH := prompb.Histogram{
		Count: &prompb.Histogram_CountFloat{CountFloat: 4.5}, Sum: 10, Schema: 1, ZeroThreshold: 0.001,
		ZeroCount:     &prompb.Histogram_ZeroCountFloat{ZeroCountFloat: 0.5},
		PositiveSpans: []prompb.BucketSpan{{Offset: 1, Length: 2}}, PositiveCounts: []float64{1.5, 2.5},
		Timestamp: nowMs - 1000,
	}
	a := series([]string{"__name__", "fill_latency_seconds", "service", "me"})
	a.Histograms = []prompb.Histogram{intH}
	b := series([]string{"__name__", "slippage_bps", "service", "me"})
	b.Histograms = []prompb.Histogram{floatH}
	code, msg := do(t, e.in.RemoteWrite(), http.MethodPost, "/api/v1/write", rwHeaders, encodeWrite(t, a, b))
	if code != http.StatusNoContent {
		t.Fatalf("status %d (%s), want 204", code, msg)
	}
	want := []string{
		`{__name__="fill_latency_seconds", service="me"} 1795607999000 {count:5, sum:18.5, [-0.001,0.001]:1, (0.5,1]:2, (1,2]:2}`,
		`{__name__="slippage_bps", service="me"} 1795607999000 {count:4.5, sum:10, [-0.001,0.001]:0.5, (1,1.414213562373095]:1.5, (1.414213562373095,2]:2.5}`,
	}
	if got := e.stored(t); !slices.Equal(got, want) {
		t.Errorf("stored:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestRemoteWritePartialAcceptance(t *testing.T) {
	e := newTestEnv(t, nil)
	// Put a newer sample first so that an older one is out of order.
	first := encodeWrite(t, series([]string{"__name__", "pnl_usd", "service", "risk"}, prompb.Sample{Timestamp: nowMs, Value: 1}))
	if code, msg := do(t, e.in.RemoteWrite(), http.MethodPost, "/api/v1/write", rwHeaders, first); code != http.StatusNoContent {
		t.Fatalf("first write: status %d (%s)", code, msg)
	}
	long := strings.Repeat("x", 300)
	body := encodeWrite(t,
		series([]string{"__name__", "good_total", "service", "gw"}, prompb.Sample{Timestamp: nowMs, Value: 7}),
		series([]string{"__name__", "bad-name", "service", "gw"}, prompb.Sample{Timestamp: nowMs, Value: 1}),
		series([]string{"service", "gw", "__name__", "unsorted"}, prompb.Sample{Timestamp: nowMs, Value: 1}),
		series([]string{"__name__", "dup", "a", "1", "a", "2"}, prompb.Sample{Timestamp: nowMs, Value: 1}),
		series([]string{"service", "gw"}, prompb.Sample{Timestamp: nowMs, Value: 1}),
		series([]string{"__name__", "future", "service", "gw"}, prompb.Sample{Timestamp: nowMs + 3600_000, Value: 1}),
		series([]string{"__name__", "pnl_usd", "service", "risk"}, prompb.Sample{Timestamp: nowMs - 5000, Value: 2}),
		series([]string{"__name__", "longname", long, "v"}, prompb.Sample{Timestamp: nowMs, Value: 1}),
		series([]string{"__name__", "badlabel", "x-y", "v"}, prompb.Sample{Timestamp: nowMs, Value: 1}),
	)
	code, msg := do(t, e.in.RemoteWrite(), http.MethodPost, "/api/v1/write", rwHeaders, body)
	if code != http.StatusBadRequest {
		t.Fatalf("status %d (%s), want 400", code, msg)
	}
	for _, want := range []string{
		"accepted 2 samples, rejected 7",
		`{__name__="bad-name", service="gw"} @1795608000000: metric name "bad-name" is invalid`,
		`{__name__="dup", a="1", a="2"} @1795608000000: label "a" appears twice`,
		`{service="gw"} @1795608000000: has no metric name (label __name__)`,
		`{__name__="future", service="gw"} @1795611600000: timestamp is more than limits.max_future_skew (10m0s) in the future`,
		`{__name__="pnl_usd", service="risk"} @1795607995000: out of order sample`,
		`is longer than limits.max_label_name_length 256`,
		`{__name__="badlabel", x-y="v"} @1795608000000: label name "x-y" is invalid`,
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q\ndoes not contain %q", msg, want)
		}
	}
	want := []string{
		`{__name__="good_total", service="gw"} 1795608000000 7`,
		`{__name__="pnl_usd", service="risk"} 1795608000000 1`,
		`{__name__="unsorted", service="gw"} 1795608000000 1`, // sorted, as Prometheus does
	}
	if got := e.stored(t); !slices.Equal(got, want) {
		t.Errorf("stored:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestRemoteWriteRejectsManyReportsTen(t *testing.T) {
	e := newTestEnv(t, nil)
	var ts []prompb.TimeSeries
	for i := range 25 {
		ts = append(ts, series([]string{"__name__", "bad-" + string(rune('a'+i))}, prompb.Sample{Timestamp: nowMs, Value: 1}))
	}
	code, msg := do(t, e.in.RemoteWrite(), http.MethodPost, "/api/v1/write", rwHeaders, encodeWrite(t, ts...))
	if code != http.StatusBadRequest {
		t.Fatalf("status %d, want 400", code)
	}
	if !strings.HasPrefix(msg, "accepted 0 samples, rejected 25: ") || !strings.Contains(msg, "; and 15 more") ||
		!strings.Contains(msg, `"bad-j"`) || strings.Contains(msg, `"bad-k"`) {
		t.Errorf("message %q: want the first 10 named and 15 counted", msg)
	}
}

func TestRemoteWriteBadRequests(t *testing.T) {
	good := encodeWrite(t, series([]string{"__name__", "x", "service", "s"}, prompb.Sample{Timestamp: nowMs, Value: 1}))
	raw, _ := (&prompb.WriteRequest{Timeseries: []prompb.TimeSeries{series([]string{"__name__", "x"}, prompb.Sample{Timestamp: nowMs, Value: 1})}}).Marshal()
	threeSeries := encodeWrite(t,
		series([]string{"__name__", "a"}, prompb.Sample{Timestamp: nowMs, Value: 1}),
		series([]string{"__name__", "b"}, prompb.Sample{Timestamp: nowMs, Value: 1}),
		series([]string{"__name__", "c"}, prompb.Sample{Timestamp: nowMs, Value: 1}))
	tests := []struct {
		name    string
		method  string
		header  map[string]string
		body    []byte
		limits  func(*Limits)
		code    int
		message string
	}{
		{name: "get", method: http.MethodGet, code: http.StatusMethodNotAllowed, message: "remote write needs POST, got GET"},
		{name: "not snappy", body: []byte("hello, this is not snappy"), code: http.StatusBadRequest, message: "decode snappy body"},
		{name: "snappy of garbage protobuf", body: snappy.Encode(nil, []byte{0x0a, 0xff, 0xff, 0xff}), code: http.StatusBadRequest, message: "decode protobuf WriteRequest"},
		{name: "truncated protobuf", body: snappy.Encode(nil, raw[:len(raw)-3]), code: http.StatusBadRequest, message: "decode protobuf WriteRequest: timeseries[0]"},
		{name: "wrong wire type", body: snappy.Encode(nil, []byte{0x08, 0x01}), code: http.StatusBadRequest, message: "timeseries[0]: wrong wire type 0"},
		{name: "unknown protobuf message", header: map[string]string{"Content-Type": "application/x-protobuf;proto=io.prometheus.write.v3.Request"}, body: good,
			code: http.StatusUnsupportedMediaType, message: `protobuf message "io.prometheus.write.v3.Request" (Content-Type application/x-protobuf;proto=io.prometheus.write.v3.Request) is not supported`},
		{name: "remote write 2.0, truncated", header: map[string]string{"Content-Type": "application/x-protobuf;proto=io.prometheus.write.v2.Request"},
			body: snappy.Encode(nil, []byte{0x2a, 0x05, 0x0a}), code: http.StatusBadRequest, message: "decode protobuf io.prometheus.write.v2.Request"},
		{name: "gzip", header: map[string]string{"Content-Encoding": "gzip"}, body: good, code: http.StatusUnsupportedMediaType, message: "Content-Encoding gzip is not supported"},
		{name: "oversize body", body: good, limits: func(l *Limits) { l.MaxBodyBytes = 10 }, code: http.StatusRequestEntityTooLarge,
			message: "exceeds limits.max_body_bytes 10"},
		{name: "too many series", body: threeSeries, limits: func(l *Limits) { l.MaxSeriesPerRequest = 2 }, code: http.StatusBadRequest,
			message: "request has more than limits.max_series_per_request 2 series"},
		{name: "decoded too large", body: snappy.Encode(nil, make([]byte, 4000)), limits: func(l *Limits) { l.MaxBodyBytes = 400 },
			code: http.StatusRequestEntityTooLarge, message: "decoded body of 4000 bytes exceeds 3200"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newTestEnv(t, tc.limits)
			method := tc.method
			if method == "" {
				method = http.MethodPost
			}
			header := map[string]string{}
			for k, v := range rwHeaders {
				header[k] = v
			}
			for k, v := range tc.header {
				header[k] = v
			}
			code, msg := do(t, e.in.RemoteWrite(), method, "/api/v1/write", header, tc.body)
			if code != tc.code || !strings.Contains(msg, tc.message) {
				t.Errorf("got %d %q, want %d containing %q", code, msg, tc.code, tc.message)
			}
			if got := e.stored(t); len(got) != 0 {
				t.Errorf("stored %q, want nothing", got)
			}
		})
	}
}

func TestRemoteWriteLimits(t *testing.T) {
	tests := []struct {
		name    string
		limits  func(*Limits)
		ts      prompb.TimeSeries
		message string
	}{
		{name: "too many labels", limits: func(l *Limits) { l.MaxLabelsPerSeries = 2 },
			ts:      series([]string{"__name__", "x", "a", "1", "b", "2"}, prompb.Sample{Timestamp: nowMs, Value: 1}),
			message: `{__name__="x", a="1", b="2"} @1795608000000: has 3 labels, more than limits.max_labels_per_series 2`},
		{name: "value too long", limits: func(l *Limits) { l.MaxLabelValueLength = 3 },
			ts:      series([]string{"__name__", "x", "a", "toolong"}, prompb.Sample{Timestamp: nowMs, Value: 1}),
			message: `value of label "a" is 7 bytes, longer than limits.max_label_value_length 3`},
		{name: "name too long", limits: func(l *Limits) { l.MaxLabelNameLength = 3 },
			ts:      series([]string{"__name__", "x", "abcd", "v"}, prompb.Sample{Timestamp: nowMs, Value: 1}),
			message: `label name "abcd" is longer than limits.max_label_name_length 3`},
		{name: "too old", limits: func(l *Limits) { l.MaxSampleAge = duration.Duration(3600_000_000_000) },
			ts:      series([]string{"__name__", "x"}, prompb.Sample{Timestamp: nowMs - 2*3600_000, Value: 1}),
			message: `{__name__="x"} @1795600800000: timestamp is older than limits.max_sample_age (1h0m0s)`},
		{name: "future", limits: func(l *Limits) { l.MaxFutureSkew = duration.Duration(1_000_000_000) },
			ts:      series([]string{"__name__", "x"}, prompb.Sample{Timestamp: nowMs + 1001, Value: 1}),
			message: `{__name__="x"} @1795608001001: timestamp is more than limits.max_future_skew (1s) in the future`},
		{name: "invalid utf8 value",
			ts:      series([]string{"__name__", "x", "a", "\xff"}, prompb.Sample{Timestamp: nowMs, Value: 1}),
			message: `value of label "a" is not valid UTF-8`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newTestEnv(t, tc.limits)
			code, msg := do(t, e.in.RemoteWrite(), http.MethodPost, "/api/v1/write", rwHeaders, encodeWrite(t, tc.ts))
			if code != http.StatusBadRequest || !strings.Contains(msg, tc.message) {
				t.Errorf("got %d %q, want 400 containing %q", code, msg, tc.message)
			}
			if got := e.stored(t); len(got) != 0 {
				t.Errorf("stored %q, want nothing", got)
			}
		})
	}
}

func TestRemoteWriteSeriesCache(t *testing.T) {
	e := newTestEnv(t, nil)
	e.in.cache.max = 2 // a third series clears the cache
	write := func(ts int64, names ...string) {
		t.Helper()
		var all []prompb.TimeSeries
		for _, n := range names {
			all = append(all, series([]string{"__name__", n, "service", "s"}, prompb.Sample{Timestamp: ts, Value: float64(ts - nowMs)}))
		}
		if code, msg := do(t, e.in.RemoteWrite(), http.MethodPost, "/api/v1/write", rwHeaders, encodeWrite(t, all...)); code != http.StatusNoContent {
			t.Fatalf("status %d (%s)", code, msg)
		}
	}
	write(nowMs, "a", "b")
	if n := e.in.cache.len(); n != 2 {
		t.Fatalf("cache has %d entries, want 2", n)
	}
	// A reference the head no longer knows (as after head GC): the cached
	// labels recreate the series and the new reference is learned.
	e.in.cache.mu.Lock()
	var key string
	for k, v := range e.in.cache.m {
		if v.name == "a" {
			key = k
			v.ref = 1 << 40
			e.in.cache.m[k] = v
		}
	}
	e.in.cache.mu.Unlock()
	write(nowMs+1, "a", "b")
	if ref := e.in.cache.m[key].ref; ref == 1<<40 || ref == 0 {
		t.Errorf("cached ref of a = %d, want the head's", ref)
	}
	write(nowMs+2, "c") // over the bound: cleared, then c
	if n := e.in.cache.len(); n != 1 {
		t.Errorf("cache has %d entries, want 1 after clearing", n)
	}
	write(nowMs+3, "a", "b", "c")
	want := []string{
		`{__name__="a", service="s"} 1795608000000 0`,
		`{__name__="a", service="s"} 1795608000001 1`,
		`{__name__="a", service="s"} 1795608000003 3`,
		`{__name__="b", service="s"} 1795608000000 0`,
		`{__name__="b", service="s"} 1795608000001 1`,
		`{__name__="b", service="s"} 1795608000003 3`,
		`{__name__="c", service="s"} 1795608000002 2`,
		`{__name__="c", service="s"} 1795608000003 3`,
	}
	if got := e.stored(t); !slices.Equal(got, want) {
		t.Errorf("stored:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if got := testutil.ToFloat64(e.in.m.samples.WithLabelValues(protoRemoteWrite)); got != 8 {
		t.Errorf("gmc_ingest_samples_total = %v, want 8", got)
	}
	if got := testutil.ToFloat64(e.in.m.requests.WithLabelValues(protoRemoteWrite, "204")); got != 4 {
		t.Errorf("gmc_ingest_requests_total{code=204} = %v, want 4", got)
	}
}

func TestRemoteWriteConcurrentSenders(t *testing.T) {
	e := newTestEnv(t, nil)
	h := e.in.RemoteWrite()
	var wg sync.WaitGroup
	for s := range 4 {
		wg.Go(func() {
			for r := range 20 {
				var all []prompb.TimeSeries
				for i := range 50 {
					all = append(all, series([]string{"__name__", "m", "i", strconv.Itoa(i), "sender", strconv.Itoa(s)},
						prompb.Sample{Timestamp: nowMs - 100 + int64(r), Value: float64(r)}))
				}
				if code, msg := do(t, h, http.MethodPost, "/api/v1/write", rwHeaders, encodeWrite(t, all...)); code != http.StatusNoContent {
					t.Errorf("sender %d round %d: status %d (%s)", s, r, code, msg)
					return
				}
			}
		})
	}
	wg.Wait()
	if got := len(e.stored(t)); got != 4*20*50 {
		t.Errorf("stored %d samples, want %d", got, 4*20*50)
	}
	if got := e.in.cache.len(); got != 200 {
		t.Errorf("cache has %d series, want 200", got)
	}
}

func TestRemoteWriteInvalidHistograms(t *testing.T) {
	e := newTestEnv(t, nil)
	badSchema := series([]string{"__name__", "h_schema", "service", "me"})
	badSchema.Histograms = []prompb.Histogram{{Count: &prompb.Histogram_CountInt{CountInt: 1}, Schema: 42, Timestamp: nowMs}}
	badSpans := series([]string{"__name__", "h_spans", "service", "me"})
	badSpans.Histograms = []prompb.Histogram{{Count: &prompb.Histogram_CountInt{CountInt: 2}, PositiveSpans: []prompb.BucketSpan{{Length: 3}},
		PositiveDeltas: []int64{2}, Timestamp: nowMs}}
	good := series([]string{"__name__", "x", "service", "me"}, prompb.Sample{Timestamp: nowMs, Value: 1})
	code, msg := do(t, e.in.RemoteWrite(), http.MethodPost, "/api/v1/write", rwHeaders, encodeWrite(t, badSchema, badSpans, good))
	if code != http.StatusBadRequest {
		t.Fatalf("status %d (%s), want 400", code, msg)
	}
	for _, want := range []string{
		"accepted 1 samples, rejected 2",
		`{__name__="h_schema", service="me"} @1795608000000: histogram has an invalid schema`,
		`{__name__="h_spans", service="me"} @1795608000000: positive side: spans need 3 buckets, have 1 buckets`,
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q\ndoes not contain %q", msg, want)
		}
	}
	want := []string{`{__name__="x", service="me"} 1795608000000 1`}
	if got := e.stored(t); !slices.Equal(got, want) {
		t.Errorf("stored %q, want %q", got, want)
	}
}
