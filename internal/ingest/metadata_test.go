package ingest

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/model/metadata"
	"github.com/prometheus/prometheus/prompb"
)

// TestMetadataFromSenders: remote-write 1.0's MetricMetadata (also alone in
// a request, as Prometheus sends it) and a text push's # TYPE and # HELP are
// kept by metric name, newest first; a malformed request keeps none.
func TestMetadataFromSenders(t *testing.T) {
	e := newTestEnv(t, nil)
	write := func(req *prompb.WriteRequest) (int, string) {
		b, err := req.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		return do(t, e.in.RemoteWrite(), http.MethodPost, "/api/v1/write", rwHeaders, snappy.Encode(nil, b))
	}
	if code, msg := write(&prompb.WriteRequest{Metadata: []prompb.MetricMetadata{
		{Type: prompb.MetricMetadata_COUNTER, MetricFamilyName: "orders_total", Help: "Orders placed.", Unit: "orders"},
		{Type: prompb.MetricMetadata_GAUGEHISTOGRAM, MetricFamilyName: "queue_depth", Help: "Depth."},
	}}); code != http.StatusNoContent {
		t.Fatalf("metadata-only write: %d %s", code, msg)
	}
	if code, msg := write(&prompb.WriteRequest{Metadata: []prompb.MetricMetadata{
		{Type: prompb.MetricMetadata_COUNTER, MetricFamilyName: "orders_total", Help: "Orders placed (v2)."},
	}}); code != http.StatusNoContent {
		t.Fatalf("second write: %d %s", code, msg)
	}
	body := "# HELP fills_total Fills.\n# TYPE fills_total counter\nfills_total 3\nno_meta 1\n"
	if code, msg := do(t, e.in.TextPush(), http.MethodPut, "/metrics/job/j", nil, []byte(body)); code != http.StatusOK {
		t.Fatalf("text push: %d %s", code, msg)
	}
	// Truncated: the whole request is refused, its metadata not kept.
	b, _ := (&prompb.WriteRequest{Metadata: []prompb.MetricMetadata{{Type: prompb.MetricMetadata_GAUGE, MetricFamilyName: "bad", Help: "x"}}}).Marshal()
	if code, _ := do(t, e.in.RemoteWrite(), http.MethodPost, "/api/v1/write", rwHeaders, snappy.Encode(nil, b[:len(b)-1])); code != http.StatusBadRequest {
		t.Fatalf("truncated write: %d, want 400", code)
	}
	got := fmt.Sprint(e.in.Metadata())
	want := fmt.Sprint(map[string][]metadata.Metadata{
		"orders_total": {{Type: "counter", Help: "Orders placed (v2)."}, {Type: "counter", Help: "Orders placed.", Unit: "orders"}},
		"queue_depth":  {{Type: "gaugehistogram", Help: "Depth."}},
		"fills_total":  {{Type: "counter", Help: "Fills."}},
	})
	if got != want {
		t.Errorf("metadata\n got %s\nwant %s", got, want)
	}
}

// TestMetadataBounds: a name keeps at most maxMetadataPerName variants, and
// the store at most maxMetadataNames names.
func TestMetadataBounds(t *testing.T) {
	s := newMetadataStore()
	for i := range maxMetadataPerName + 2 {
		s.add("m", metadata.Metadata{Type: "gauge", Help: fmt.Sprint(i)})
	}
	if got := s.snapshot()["m"]; len(got) != maxMetadataPerName || got[0].Help != fmt.Sprint(maxMetadataPerName+1) {
		t.Errorf("variants %v", got)
	}
	for i := range maxMetadataNames + 10 {
		s.add(fmt.Sprint("n", i), metadata.Metadata{Type: "gauge"})
	}
	if n := len(s.snapshot()); n != maxMetadataNames {
		t.Errorf("%d names kept, want %d", n, maxMetadataNames)
	}
}
