package e2e

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang/snappy"
	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	remoteapi "github.com/prometheus/client_golang/exp/api/remote"
	commoncfg "github.com/prometheus/common/config"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	writev2 "github.com/prometheus/prometheus/prompb/io/prometheus/write/v2"
	"github.com/prometheus/prometheus/storage/remote"
)

// rw2Request builds a snappy-compressed remote-write 2.0 request of the
// given series (labels, one float sample or histogram each at t), with
// metadata and an exemplar on the first, as Prometheus's queue manager
// builds them (one symbols table).
func rw2Request(t *testing.T, tMs int64, floats []rw2Float, hist labels.Labels) []byte {
	t.Helper()
	st := writev2.NewSymbolTable()
	var req writev2.Request
	first := true
	for _, f := range floats {
		ls, v := f.ls, f.v
		ts := writev2.TimeSeries{
			LabelsRefs: st.SymbolizeLabels(ls, nil),
			Samples:    []writev2.Sample{{Value: v, Timestamp: tMs}},
		}
		if first {
			ts.Metadata = writev2.Metadata{Type: writev2.Metadata_METRIC_TYPE_COUNTER, HelpRef: st.Symbolize("Orders filled."), UnitRef: st.Symbolize("orders")}
			ts.Exemplars = []writev2.Exemplar{{LabelsRefs: st.SymbolizeLabels(labels.FromStrings("trace_id", "abc"), nil), Value: v, Timestamp: tMs}}
			first = false
		}
		req.Timeseries = append(req.Timeseries, ts)
	}
	if hist.Len() > 0 {
		h := &histogram.Histogram{Count: 3, Sum: 4.5, Schema: 0, PositiveSpans: []histogram.Span{{Offset: 0, Length: 2}}, PositiveBuckets: []int64{1, 1}}
		req.Timeseries = append(req.Timeseries, writev2.TimeSeries{
			LabelsRefs: st.SymbolizeLabels(hist, nil),
			Histograms: []writev2.Histogram{writev2.FromIntHistogram(0, tMs, h)},
			Metadata:   writev2.Metadata{Type: writev2.Metadata_METRIC_TYPE_HISTOGRAM, HelpRef: st.Symbolize("Fill latency.")},
		})
	}
	req.Symbols = st.Symbols()
	b, err := req.Marshal()
	must(t, err, "marshal")
	return snappy.Encode(nil, b)
}

// rw2Float is one float series of a request.
type rw2Float struct {
	ls labels.Labels
	v  float64
}

// TestCompatRemoteWrite2 sends remote-write 2.0 to gmc with Prometheus's own
// write client (storage/remote, the code of Prometheus 3's queue manager)
// and through Prometheus's queue manager itself (a gmc forwarding with
// protobuf_message: io.prometheus.write.v2.Request to another gmc).
func TestCompatRemoteWrite2(t *testing.T) {
	gmc := startGMC(t, t.TempDir(), "")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	u, err := url.Parse(gmc.URL() + "/api/v1/write")
	must(t, err, "url")
	client, err := remote.NewWriteClient("gmc", &remote.ClientConfig{
		URL:           &commoncfg.URL{URL: u},
		Timeout:       model.Duration(10 * time.Second),
		WriteProtoMsg: remoteapi.WriteV2MessageType,
	})
	must(t, err, "write client")
	now := time.Now().UnixMilli()

	compat(t, "Prometheus remote-write client (Go)", "Store io.prometheus.write.v2.Request: floats, a native histogram, an exemplar, metadata",
		"204; written headers say 2 samples, 1 histogram, 0 exemplars; values and metadata readable", func(t *testing.T) {
			body := rw2Request(t, now, []rw2Float{
				{labels.FromStrings("__name__", "rw2_fills_total", "service", "gw", "venue", "xnas"), 41},
				{labels.FromStrings("__name__", "rw2_fills_total", "service", "gw", "venue", "arca"), 7},
			}, labels.FromStrings("__name__", "rw2_fill_latency_seconds", "service", "gw"))
			rs, err := client.Store(ctx, body, 0)
			must(t, err, "store")
			if !rs.Confirmed || rs.Samples != 2 || rs.Histograms != 1 || rs.Exemplars != 0 {
				t.Fatalf("written stats %+v, want 2 samples, 1 histogram, 0 exemplars", rs)
			}
			r, err := instantQuery(ctx, gmc.URL(), `sum(rw2_fills_total) + sum(histogram_count(rw2_fill_latency_seconds))`, now)
			must(t, err, "query")
			if len(r.Series) != 1 || r.Series[0].Points[0].V != 51 {
				t.Fatalf("41 + 7 + 3 expected, got %+v", r.Series)
			}
			c, err := api.NewClient(api.Config{Address: gmc.URL(), Client: httpClient()})
			must(t, err, "api client")
			md, err := v1.NewAPI(c).Metadata(ctx, "", "")
			must(t, err, "metadata")
			got := fmt.Sprint(md["rw2_fills_total"], md["rw2_fill_latency_seconds"])
			if want := "[{counter Orders filled. orders}] [{histogram Fill latency. }]"; got != want {
				t.Fatalf("metadata %s, want %s", got, want)
			}
		})
	compat(t, "Prometheus remote-write client (Go)", "Store io.prometheus.write.v2.Request with an invalid series",
		"400 naming it, not retried; the valid series written and counted in the headers", func(t *testing.T) {
			body := rw2Request(t, now, []rw2Float{
				{labels.FromStrings("__name__", "rw2_ok", "service", "gw"), 1},
				{labels.FromStrings("service", "gw"), 2}, // no metric name
			}, labels.EmptyLabels())
			rs, err := client.Store(ctx, body, 0)
			if err == nil || !strings.Contains(err.Error(), "400") || !strings.Contains(err.Error(), "has no metric name") {
				t.Fatalf("err %v, want a 400 naming the series", err)
			}
			if rerr := (remote.RecoverableError{}); errors.As(err, &rerr) {
				t.Fatalf("a 400 must not be retried: %v", err)
			}
			if rs.Samples != 1 {
				t.Fatalf("written stats %+v, want 1 sample", rs)
			}
		})
	compat(t, "curl", "POST /api/v1/write with Content-Type proto=io.prometheus.write.v3.Request", "415 naming the messages gmc accepts", func(t *testing.T) {
		code, msg, err := post(ctx, httpClient(), gmc.URL()+"/api/v1/write", "application/x-protobuf;proto=io.prometheus.write.v3.Request",
			map[string]string{"Content-Encoding": "snappy"}, snappy.Encode(nil, nil))
		must(t, err, "post")
		if code != http.StatusUnsupportedMediaType || !strings.Contains(msg, "io.prometheus.write.v2.Request") {
			t.Fatalf("%d %q", code, msg)
		}
	})
	compat(t, "Prometheus queue manager (gmc remote_write)", "protobuf_message: io.prometheus.write.v2.Request to another gmc",
		"every pushed sample arrives", func(t *testing.T) {
			sender := startGMC(t, t.TempDir(), fmt.Sprintf(`remote_write:
  - url: %s/api/v1/write
    protobuf_message: io.prometheus.write.v2.Request
    queue_config:
      batch_send_deadline: 1s
`, gmc.URL()))
			tMs := time.Now().UnixMilli() // the queues send what is newer than the sender's start
			body := fmt.Sprintf("rw2_fwd_value{k=\"a\"} 1 %d\nrw2_fwd_value{k=\"a\"} 2 %d\nrw2_fwd_value{k=\"b\"} 3 %d\n", tMs, tMs+1, tMs+1)
			code, msg, err := put(ctx, httpClient(), sender.URL()+"/metrics/job/fwd", "text/plain; version=0.0.4", []byte(body))
			if err != nil || code != http.StatusOK {
				t.Fatalf("push: %d %q %v", code, msg, err)
			}
			eventually(t, 60*time.Second, 250*time.Millisecond, "forwarded samples", func() error {
				r, err := instantQuery(ctx, gmc.URL(), `sum(count_over_time(rw2_fwd_value[5m])) * 10 + sum(sum_over_time(rw2_fwd_value[5m]))`, time.Now().UnixMilli())
				if err != nil {
					return err
				}
				if len(r.Series) != 1 || r.Series[0].Points[0].V != 36 {
					return fmt.Errorf("3 samples summing 6 expected (36), got %+v", r.Series)
				}
				return nil
			})
		})
}
