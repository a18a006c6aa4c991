package query

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	promstorage "github.com/prometheus/prometheus/storage"

	"github.com/gmc-dev/gmc/internal/storage"
)

// TestFederateNativeHistograms: /federate served no native histogram in
// any format (t-user13 F8). In the protobuf exposition it now serves the
// newest one of each series, its buckets as stored; the text format, which
// has none, still leaves it out.
func TestFederateNativeHistograms(t *testing.T) {
	st, err := storage.Open(storage.Options{Dir: t.TempDir(), Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	now := time.Unix(1000, 0)
	h := &histogram.Histogram{
		Schema: 0, Count: 10, Sum: 14.5, ZeroThreshold: 1e-128,
		PositiveSpans:   []histogram.Span{{Offset: 0, Length: 2}},
		PositiveBuckets: []int64{4, 2},
	}
	app := st.AppenderV2(context.Background())
	ls := labels.FromStrings("__name__", "lat_seconds", "service", "s")
	if _, err := app.Append(0, ls, 0, now.Add(-time.Minute).UnixMilli(), 0, h, nil, promstorage.AOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := app.Append(0, labels.FromStrings("__name__", "up", "service", "s"), 0, now.UnixMilli(), 1, nil, nil, promstorage.AOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	a, err := New(Options{Queryable: st, Registerer: prometheus.NewRegistry(), Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	get := func(accept string) []*dto.MetricFamily {
		req := httptest.NewRequest(http.MethodGet, `/federate?match[]={service="s"}`, nil)
		req.Header.Set("Accept", accept)
		rec := httptest.NewRecorder()
		a.Federate(rec, req)
		dec := expfmt.NewDecoder(rec.Body, expfmt.Format(rec.Header().Get("Content-Type")))
		var out []*dto.MetricFamily
		for {
			mf := &dto.MetricFamily{}
			if err := dec.Decode(mf); errors.Is(err, io.EOF) {
				return out
			} else if err != nil {
				t.Fatalf("decode %s: %v", rec.Header().Get("Content-Type"), err)
			}
			out = append(out, mf)
		}
	}
	pb := get("application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.7,text/plain;version=0.0.4;q=0.3")
	if len(pb) != 2 || pb[0].GetName() != "lat_seconds" || pb[0].GetType() != dto.MetricType_HISTOGRAM || pb[1].GetName() != "up" {
		t.Fatalf("protobuf families %v, want lat_seconds (histogram) and up", pb)
	}
	m := pb[0].GetMetric()[0]
	hg := m.GetHistogram()
	if m.GetTimestampMs() != now.Add(-time.Minute).UnixMilli() || hg.GetSampleCount() != 10 || hg.GetSampleSum() != 14.5 || hg.GetSchema() != 0 ||
		hg.GetZeroThreshold() != 1e-128 || len(hg.GetPositiveSpan()) != 1 || hg.GetPositiveSpan()[0].GetLength() != 2 ||
		len(hg.GetPositiveDelta()) != 2 || hg.GetPositiveDelta()[0] != 4 || hg.GetPositiveDelta()[1] != 2 {
		t.Errorf("federated histogram %v at %d, want the stored one", hg, m.GetTimestampMs())
	}
	text := get("text/plain;version=0.0.4")
	if len(text) != 1 || text[0].GetName() != "up" {
		t.Errorf("text families %v, want up only", text)
	}
}
