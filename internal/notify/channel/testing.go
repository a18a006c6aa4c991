package channel

import (
	"strings"
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

// SampleResolved returns a resolved notification as Prometheus sends one:
// each alert keeps the annotations of its last firing evaluation. The
// first has a resolved_summary (as gmc's SLA burn alerts), the second a
// summary only; the channel tests check that neither reads as firing.
func SampleResolved() *Notification {
	start := time.Date(2026, 12, 4, 18, 5, 3, 0, time.UTC)
	return &Notification{
		GroupKey:          `{}:{alertname="SLABurnRate"}`,
		Status:            StatusResolved,
		Receiver:          "ops",
		GroupLabels:       model.LabelSet{"alertname": "SLABurnRate"},
		CommonLabels:      model.LabelSet{"alertname": "SLABurnRate", "severity": "page"},
		CommonAnnotations: model.LabelSet{},
		Alerts: []Alert{
			{
				Status: StatusResolved,
				Labels: model.LabelSet{"alertname": "SLABurnRate", "severity": "page", "sla": "orders"},
				Annotations: model.LabelSet{
					"summary":                 "SLA orders burns its error budget at least 14.4× faster than sustainable over 1h and 5m (1h: 61.2×, 5m: 14.8×)",
					ResolvedSummaryAnnotation: "SLA orders stopped burning its error budget at least 14.4× faster than sustainable over both 1h and 5m; at its last firing evaluation the burn was 1h: 61.2×, 5m: 14.8×",
				},
				StartsAt: start, EndsAt: start.Add(75 * time.Second), Fingerprint: "0000000000000002",
			},
			{
				Status:      StatusResolved,
				Labels:      model.LabelSet{"alertname": "SLABurnRate", "severity": "page", "sla": "fills"},
				Annotations: model.LabelSet{"summary": "queue depth is 42"},
				StartsAt:    start, EndsAt: start.Add(75 * time.Second), Fingerprint: "0000000000000003",
			},
		},
	}
}

// ResolvedSampleProblem says what a channel's text for SampleResolved gets
// wrong, "" when nothing: it must give the first alert's resolved_summary,
// mark the second's summary as last seen firing, and never give either
// firing summary as current.
func ResolvedSampleProblem(text string) string {
	switch {
	case !strings.Contains(text, "SLA orders stopped burning its error budget"):
		return "no resolved_summary for the SLA alert"
	case strings.Contains(text, "SLA orders burns"):
		return `the SLA alert's firing summary ("burns …") as if current`
	case !strings.Contains(text, "resolved; last seen firing: queue depth is 42"):
		return `the second alert's summary not marked "resolved; last seen firing"`
	}
	return ""
}
