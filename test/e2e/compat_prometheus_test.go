package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/prompb"
	"github.com/prometheus/prometheus/storage/remote"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
)

// TestCompatPrometheusReadsGMC points a real Prometheus 2.42 at gmc, by
// federation and by remote read, and reads gmc by remote read's streamed
// chunks with Prometheus's own chunked reader.
func TestCompatPrometheusReadsGMC(t *testing.T) {
	gmc := startGMC(t, t.TempDir(), "")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	now := time.Now().UnixMilli()
	body := fmt.Sprintf("compat_fed_value{k=\"a\"} 42\ncompat_rr_value 1 %d\ncompat_rr_value 2 %d\n", now-60_000, now-30_000)
	code, msg, err := put(ctx, httpClient(), gmc.URL()+"/metrics/job/fedjob", "text/plain; version=0.0.4", []byte(body))
	if err != nil || code != http.StatusOK {
		t.Fatalf("push: %d %q %v", code, msg, err)
	}
	prom := startPrometheus(t, fmt.Sprintf(`
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: federate
    honor_labels: true
    metrics_path: /federate
    params:
      'match[]': ['{__name__=~"compat_fed.*"}']
    static_configs:
      - targets: ['%s']
remote_read:
  - url: %s/api/v1/read
    read_recent: true
`, gmc.addr, gmc.URL()))

	compat(t, "Prometheus 2.42", "scrape gmc's /federate (honor_labels)", "the series with gmc's labels and value", func(t *testing.T) {
		eventually(t, 60*time.Second, 250*time.Millisecond, "federated series in Prometheus", func() error {
			r, err := instantQuery(ctx, prom.URL(), `compat_fed_value{job="fedjob",k="a",service="fedjob"}`, time.Now().UnixMilli())
			if err != nil {
				return err
			}
			if len(r.Series) != 1 || r.Series[0].Points[0].V != 42 {
				return fmt.Errorf("got %+v", r.Series)
			}
			return nil
		})
	})
	compat(t, "Prometheus 2.42", "remote_read from gmc (/api/v1/read, samples)", "a range query in Prometheus answers gmc's samples", func(t *testing.T) {
		q := `compat_rr_value[5m]`
		want, err := instantQuery(ctx, gmc.URL(), q, now)
		must(t, err, "query gmc")
		if len(want.Series) != 1 || len(want.Series[0].Points) != 2 {
			t.Fatalf("gmc holds %+v, want 2 samples", want.Series)
		}
		got, err := instantQuery(ctx, prom.URL(), q, now)
		must(t, err, "query prometheus")
		if err := sameResult(want, got, 0); err != nil {
			t.Fatalf("Prometheus through remote read: %v", err)
		}
	})
	compat(t, "Prometheus remote-read client (Go)", "POST /api/v1/read accepting STREAMED_XOR_CHUNKS", "chunked frames with every sample", func(t *testing.T) {
		req := &prompb.ReadRequest{
			Queries: []*prompb.Query{{
				StartTimestampMs: now - 5*60_000, EndTimestampMs: now,
				Matchers: []*prompb.LabelMatcher{{Type: prompb.LabelMatcher_EQ, Name: "__name__", Value: "compat_rr_value"}},
			}},
			AcceptedResponseTypes: []prompb.ReadRequest_ResponseType{prompb.ReadRequest_STREAMED_XOR_CHUNKS},
		}
		data, err := req.Marshal()
		must(t, err, "marshal")
		hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, gmc.URL()+"/api/v1/read", bytes.NewReader(snappy.Encode(nil, data)))
		must(t, err, "request")
		hreq.Header.Set("Content-Encoding", "snappy")
		hreq.Header.Set("Content-Type", "application/x-protobuf")
		hreq.Header.Set("X-Prometheus-Remote-Read-Version", "0.1.0")
		resp, err := httpClient().Do(hreq)
		must(t, err, "remote read")
		defer resp.Body.Close()
		if ct := resp.Header.Get("Content-Type"); resp.StatusCode != http.StatusOK || ct != "application/x-streamed-protobuf; proto=prometheus.ChunkedReadResponse" {
			b, _ := io.ReadAll(resp.Body)
			t.Fatalf("%d %q: %s", resp.StatusCode, ct, b)
		}
		cr := remote.NewChunkedReader(resp.Body, 50<<20, nil)
		var values []float64
		for {
			var frame prompb.ChunkedReadResponse
			if err := cr.NextProto(&frame); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				t.Fatalf("read frame: %v", err)
			}
			for _, s := range frame.ChunkedSeries {
				for _, c := range s.Chunks {
					ch, err := chunkenc.FromData(chunkenc.EncXOR, c.Data)
					must(t, err, "chunk")
					it := ch.Iterator(nil)
					for it.Next() == chunkenc.ValFloat {
						_, v := it.At()
						values = append(values, v)
					}
				}
			}
		}
		if fmt.Sprint(values) != "[1 2]" {
			t.Fatalf("streamed samples %v, want [1 2]", values)
		}
	})
}

// TestCompatPrometheusFederatesNativeHistograms: a real Prometheus 2.42
// with native histograms on scrapes gmc's /federate and reads the native
// histogram back (t-user13 F8: gmc skipped every histogram sample whatever
// the negotiated format, so the federating Prometheus had none, and only
// the classic _bucket series). The text format, which has no native
// histograms, still leaves them out.
func TestCompatPrometheusFederatesNativeHistograms(t *testing.T) {
	gmc := startGMC(t, t.TempDir(), "")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// 10 observations: 4 in (0.5, 1], 6 in (1, 2] (schema 0), sum 14.5.
	h := &histogram.Histogram{
		Schema: 0, Count: 10, Sum: 14.5,
		PositiveSpans:   []histogram.Span{{Offset: 0, Length: 2}},
		PositiveBuckets: []int64{4, 2}, // deltas: 4, 6
	}
	write := func() {
		req := &prompb.WriteRequest{Timeseries: []prompb.TimeSeries{{
			Labels:     promLabels("__name__", "compat_fed_latency_seconds", "service", "fedsvc", "instance", "fedsvc-1"),
			Histograms: []prompb.Histogram{prompb.FromIntHistogram(time.Now().UnixMilli(), h)},
		}}}
		code, msg, err := remoteWrite(ctx, httpClient(), gmc.URL(), req)
		if err != nil || code/100 != 2 {
			t.Fatalf("remote write: %d %q %v", code, msg, err)
		}
	}
	write()
	prom := startPrometheus(t, fmt.Sprintf(`
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: federate
    honor_labels: true
    metrics_path: /federate
    params:
      'match[]': ['{__name__="compat_fed_latency_seconds"}']
    static_configs:
      - targets: ['%s']
`, gmc.addr), "--enable-feature=native-histograms")

	compat(t, "Prometheus 2.42 (native histograms on)", "scrape gmc's /federate (protobuf)", "the native histogram, its count and sum", func(t *testing.T) {
		eventually(t, 60*time.Second, 250*time.Millisecond, "the federated native histogram in Prometheus", func() error {
			write() // stays within gmc's lookback
			var got []string
			for _, q := range []string{
				`histogram_count(compat_fed_latency_seconds{service="fedsvc",instance="fedsvc-1"})`,
				`histogram_sum(compat_fed_latency_seconds{service="fedsvc"})`,
				`histogram_quantile(0.5, compat_fed_latency_seconds{service="fedsvc"})`,
			} {
				r, err := instantQuery(ctx, prom.URL(), q, time.Now().UnixMilli())
				if err != nil {
					return err
				}
				if len(r.Series) != 1 {
					return fmt.Errorf("%s: %d series", q, len(r.Series))
				}
				got = append(got, fmt.Sprint(r.Series[0].Points[0].V))
			}
			// The median is the 5th of 10: the first of 6 in (1, 2],
			// interpolated linearly by Prometheus 2.42: 1 + 1/6.
			if want := "10 14.5 1.1666666666666667"; strings.Join(got, " ") != want {
				return fmt.Errorf("count, sum, median %v, want %s", got, want)
			}
			return nil
		})
	})
	compat(t, "Prometheus text format", "GET /federate of a native histogram", "left out (the text format has none)", func(t *testing.T) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, gmc.URL()+`/federate?match[]={__name__="compat_fed_latency_seconds"}`, nil)
		must(t, err, "request")
		req.Header.Set("Accept", "text/plain;version=0.0.4")
		resp, err := httpClient().Do(req)
		must(t, err, "federate")
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		must(t, err, "read")
		if resp.StatusCode != http.StatusOK || strings.Contains(string(b), "compat_fed_latency_seconds") {
			t.Fatalf("%d %q, want 200 without the histogram", resp.StatusCode, b)
		}
	})
}
