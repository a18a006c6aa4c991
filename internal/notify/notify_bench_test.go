package notify

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
)

// BenchmarkSendToWebhook measures Send → webhook delivery through the whole
// pipeline (routing, a new group with group_wait 0, dedup, JSON, HTTP on
// loopback). Each iteration sends a new alert and waits for its POST; it
// reports the median and p99 latency.
func BenchmarkSendToWebhook(b *testing.B) {
	got := make(chan struct{}, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		got <- struct{}{}
	}))
	defer srv.Close()
	cfg, err := LoadConfig(fmt.Appendf(nil, `
route: {receiver: hook, group_by: ['...'], group_wait: 0s, group_interval: 1m}
receivers: [{name: hook, webhook_configs: [{url: %q}]}]
`, srv.URL))
	if err != nil {
		b.Fatal(err)
	}
	d, err := New(Options{Config: cfg, Registerer: prometheus.NewRegistry(), HTTPClient: srv.Client()})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	defer func() { cancel(); <-done }()

	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		now := time.Now()
		a := &model.Alert{
			Labels:   model.LabelSet{"alertname": "OrderLatencyHigh", "service": "matching-engine", "seq": model.LabelValue(fmt.Sprint(i))},
			StartsAt: now, EndsAt: now.Add(time.Minute),
		}
		d.Send(a)
		select {
		case <-got:
		case <-time.After(10 * time.Second):
			b.Fatal("no delivery")
		}
		lat = append(lat, time.Since(now))
	}
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}
