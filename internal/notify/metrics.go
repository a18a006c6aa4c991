package notify

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// metrics are the pipeline's own series, on the Registerer from Options.
type metrics struct {
	received      prometheus.Counter
	invalid       prometheus.Counter
	notifications *prometheus.CounterVec // {channel, receiver}: notifications tried (once, whatever the retries)
	failed        *prometheus.CounterVec // {channel, receiver}: notifications given up after retries
	requests      *prometheus.CounterVec // {channel, receiver}: attempts, retries included
	reqFailed     *prometheus.CounterVec // {channel, receiver}: failed attempts
	latency       *prometheus.HistogramVec
	dropped       *prometheus.CounterVec // {channel, receiver}: alerts dropped from a full forward queue
	groups        prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) *metrics {
	f := promauto.With(reg)
	cr := []string{"channel", "receiver"}
	return &metrics{
		received: f.NewCounter(prometheus.CounterOpts{
			Name: "gmc_alerts_received_total", Help: "Alerts handed to the notification pipeline.",
		}),
		invalid: f.NewCounter(prometheus.CounterOpts{
			Name: "gmc_alerts_invalid_total", Help: "Alerts rejected by the notification pipeline as invalid.",
		}),
		notifications: f.NewCounterVec(prometheus.CounterOpts{
			Name: "gmc_notifications_total", Help: "Notifications attempted, counted once whatever the retries.",
		}, cr),
		failed: f.NewCounterVec(prometheus.CounterOpts{
			Name: "gmc_notifications_failed_total", Help: "Notifications that failed after every retry.",
		}, cr),
		requests: f.NewCounterVec(prometheus.CounterOpts{
			Name: "gmc_notification_requests_total", Help: "Delivery attempts, retries included.",
		}, cr),
		reqFailed: f.NewCounterVec(prometheus.CounterOpts{
			Name: "gmc_notification_requests_failed_total", Help: "Delivery attempts that failed.",
		}, cr),
		latency: f.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "gmc_notification_latency_seconds",
			Help:    "Duration of one delivery attempt.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"channel"}),
		dropped: f.NewCounterVec(prometheus.CounterOpts{
			Name: "gmc_notification_alerts_dropped_total", Help: "Alerts dropped because a forward queue was full.",
		}, cr),
		groups: f.NewGauge(prometheus.GaugeOpts{
			Name: "gmc_notification_aggregation_groups", Help: "Aggregation groups alive.",
		}),
	}
}
