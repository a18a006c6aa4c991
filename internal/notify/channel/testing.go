package channel

import (
	"time"

	"github.com/prometheus/common/model"
)

// Sample returns a fixed two-alert notification (one firing, one resolved)
// whose text needs escaping; the channel tests share it.
func Sample() *Notification {
	start := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	return &Notification{
		GroupKey:          `{}:{alertname="HighLatency"}`,
		Status:            StatusFiring,
		Receiver:          "ops",
		GroupLabels:       model.LabelSet{"alertname": "HighLatency"},
		CommonLabels:      model.LabelSet{"alertname": "HighLatency", "severity": "page"},
		CommonAnnotations: model.LabelSet{},
		ExternalURL:       "http://gmc.example:9900",
		Alerts: []Alert{
			{
				Status:       StatusFiring,
				Labels:       model.LabelSet{"alertname": "HighLatency", "severity": "page", "service": "matching<engine>"},
				Annotations:  model.LabelSet{"summary": "p99 > 1ms & rising"},
				StartsAt:     start,
				GeneratorURL: "http://gmc.example:9900/graph?g0.expr=x",
				Fingerprint:  "0123456789abcdef",
			},
			{
				Status:      StatusResolved,
				Labels:      model.LabelSet{"alertname": "HighLatency", "severity": "page", "service": "gateway"},
				Annotations: model.LabelSet{},
				StartsAt:    start,
				EndsAt:      start.Add(5 * time.Minute),
				Fingerprint: "fedcba9876543210",
			},
		},
	}
}
