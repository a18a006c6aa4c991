package ingest

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/prompb"
	writev2 "github.com/prometheus/prometheus/prompb/io/prometheus/write/v2"
)

// The cases of docs/ingest.md "Liberal input": what gmc accepts, as
// Prometheus, the Pushgateway or VictoriaMetrics do, though the specs ask
// senders not to send it; and the few it refuses on purpose.

func TestLiberalTextPush(t *testing.T) {
	pushed := func(name, labels string) string {
		return `{__name__="` + name + `", job="j", ` + labels + `service="j"} 1795608000000 1`
	}
	tests := []struct {
		name, body string
		code       int
		want       []string // stored samples of the body (push_time_seconds aside)
	}{
		{name: "no line feed after the last line", body: "a 1", code: http.StatusOK, want: []string{pushed("a", "")}},
		{name: "CRLF line ends", body: "# TYPE a gauge\r\na 1\r\nb 1\r\n", code: http.StatusOK, want: []string{pushed("a", ""), pushed("b", "")}},
		{name: "indented lines", body: "  # HELP a x\n\ta 1\n   b{k=\"v\"} 1\n", code: http.StatusOK, want: []string{pushed("a", ""), pushed("b", `k="v", `)}},
		{name: "blank lines and plain comments", body: "\n# a comment\n\na 1\n\n", code: http.StatusOK, want: []string{pushed("a", "")}},
		{name: "trailing comma and blanks in the label set", body: "a{ k = \"v\", } 1\n", code: http.StatusOK, want: []string{pushed("a", `k="v", `)}},
		{name: "no # TYPE (untyped), # HELP after the sample", body: "a 1\n# HELP a late help\n", code: http.StatusOK, want: []string{pushed("a", "")}},
		{name: "a label given twice is refused", body: "a{k=\"1\",k=\"2\"} 1\nb 1\n", code: http.StatusBadRequest, want: []string{pushed("b", "")}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newTestEnv(t, nil)
			code, msg := do(t, e.in.TextPush(), http.MethodPost, "/metrics/job/j", nil, []byte(tc.body))
			if code != tc.code {
				t.Fatalf("status %d (%q), want %d", code, msg, tc.code)
			}
			var got []string
			for _, s := range e.stored(t) {
				if !strings.Contains(s, "push_") {
					got = append(got, s)
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("stored:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

func TestLiberalRemoteWrite(t *testing.T) {
	e := newTestEnv(t, nil)
	// Labels out of order, one with an empty value; no Content-Type, no
	// version header, no Content-Encoding (snappy is assumed).
	body := encodeWrite(t, series([]string{"service", "gw", "__name__", "rw_unsorted", "zone", "", "az", "1"}, prompb.Sample{Timestamp: nowMs, Value: 1}))
	if code, msg := do(t, e.in.RemoteWrite(), http.MethodPost, "/api/v1/write", nil, body); code != http.StatusNoContent {
		t.Fatalf("1.0: status %d (%s), want 204", code, msg)
	}
	// 2.0: label references out of order, a first symbol that is not "",
	// and a series with metadata but no sample (Prometheus answers 400).
	syms := []string{"service", "gw", "__name__", "rw2_unsorted", "rw2_meta_only", "Help."}
	req := writev2.Request{Symbols: syms, Timeseries: []writev2.TimeSeries{
		{LabelsRefs: []uint32{0, 1, 2, 3}, Samples: []writev2.Sample{{Value: 2, Timestamp: nowMs}}},
		{LabelsRefs: []uint32{2, 4}, Metadata: writev2.Metadata{Type: writev2.Metadata_METRIC_TYPE_GAUGE, HelpRef: 5}},
	}}
	b, err := req.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	h := map[string]string{"Content-Type": "application/x-protobuf;proto=io.prometheus.write.v2.Request", "Content-Encoding": "snappy"}
	if code, msg := do(t, e.in.RemoteWrite(), http.MethodPost, "/api/v1/write", h, snappy.Encode(nil, b)); code != http.StatusNoContent {
		t.Fatalf("2.0: status %d (%s), want 204", code, msg)
	}
	want := []string{
		`{__name__="rw2_unsorted", service="gw"} 1795608000000 2`,
		`{__name__="rw_unsorted", az="1", service="gw"} 1795608000000 1`,
	}
	if got := e.stored(t); !slices.Equal(got, want) {
		t.Errorf("stored:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if md := e.in.Metadata()["rw2_meta_only"]; len(md) != 1 || md[0].Help != "Help." {
		t.Errorf("metadata of the sample-less series: %v", md)
	}
	// A label name twice is refused (Prometheus drops such a series silently).
	dup := encodeWrite(t, series([]string{"__name__", "rw_dup", "a", "1", "a", "2"}, prompb.Sample{Timestamp: nowMs, Value: 1}))
	if code, msg := do(t, e.in.RemoteWrite(), http.MethodPost, "/api/v1/write", rwHeaders, dup); code != http.StatusBadRequest || !strings.Contains(msg, `label "a" appears twice`) {
		t.Errorf("duplicate label: %d %q, want 400 naming it", code, msg)
	}
}
