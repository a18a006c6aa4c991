package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/prompb"
)

// metricName is the pushed gauge; the rule fires when it exceeds 1000.
const metricName = "bench_latency_us"

// pusher remote-writes (1.0: protobuf + snappy) one sample per request, as
// a service's client or Prometheus's own remote-write would.
type pusher struct {
	url    string
	client *http.Client
}

func newPusher(addr string) *pusher {
	return &pusher{url: "http://" + addr + "/api/v1/write", client: &http.Client{Timeout: 10 * time.Second}}
}

// push writes bench_latency_us{service="bench",iter="<i>"} = v stamped now
// and returns the time just before the request was built.
func (p *pusher) push(ctx context.Context, i int, v float64) (time.Time, error) {
	start := time.Now()
	wr := prompb.WriteRequest{Timeseries: []prompb.TimeSeries{{
		Labels: []prompb.Label{
			{Name: "__name__", Value: metricName},
			{Name: "iter", Value: strconv.Itoa(i)},
			{Name: "service", Value: "bench"},
		},
		Samples: []prompb.Sample{{Value: v, Timestamp: start.UnixMilli()}},
	}}}
	raw, err := wr.Marshal()
	if err != nil {
		return start, fmt.Errorf("marshal write request: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.url, bytes.NewReader(snappy.Encode(nil, raw)))
	if err != nil {
		return start, err
	}
	req.Header.Set("Content-Type", "application/x-protobuf")
	req.Header.Set("Content-Encoding", "snappy")
	req.Header.Set("X-Prometheus-Remote-Write-Version", "0.1.0")
	resp, err := p.client.Do(req)
	if err != nil {
		return start, fmt.Errorf("remote-write to %s: %w", p.url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode/100 != 2 {
		return start, fmt.Errorf("remote-write to %s: HTTP %d: %s", p.url, resp.StatusCode, bytes.TrimSpace(body))
	}
	return start, nil
}
