// Package channel is the contract between gmc's notification pipeline and its
// channels (notify/slack, notify/telegram, ...): the Notification a channel
// receives, the Notifier interface it implements, and the small helpers every
// channel shares (secrets read from files, JSON over HTTP, retry classes).
//
// It is a leaf package so that the channel packages can own their Config types
// while package notify, which imports them all, still hands them one type.
package channel

import (
	"context"
	"errors"
	"time"

	"github.com/prometheus/common/model"
)

// Notifier delivers one notification over one channel. Notify must be safe for
// concurrent use. An error wrapped with Permanent is not retried.
type Notifier interface {
	Notify(ctx context.Context, n *Notification) error
}

// Status of an alert or of a whole notification.
const (
	StatusFiring   = "firing"
	StatusResolved = "resolved"
)

// Notification is what one channel is asked to deliver: one aggregation group's
// alerts at one flush. Its JSON form is Alertmanager's template data, which the
// webhook channel sends as is (with version and groupKey).
type Notification struct {
	// GroupKey identifies the aggregation group (route and group labels).
	GroupKey string `json:"groupKey"`
	// TruncatedAlerts counts alerts left out of Alerts by a channel's limit.
	TruncatedAlerts uint64 `json:"truncatedAlerts"`
	// Status is "firing" when any alert fires, "resolved" otherwise.
	Status   string `json:"status"`
	Receiver string `json:"receiver"`
	// GroupLabels are the labels the route groups by.
	GroupLabels model.LabelSet `json:"groupLabels"`
	// CommonLabels and CommonAnnotations are the pairs shared by every alert.
	CommonLabels      model.LabelSet `json:"commonLabels"`
	CommonAnnotations model.LabelSet `json:"commonAnnotations"`
	// ExternalURL is where gmc can be reached (links in messages).
	ExternalURL string  `json:"externalURL"`
	Alerts      []Alert `json:"alerts"`
}

// Alert is one alert in a Notification, in Alertmanager's template shape: a
// firing alert has a zero EndsAt.
type Alert struct {
	Status       string         `json:"status"`
	Labels       model.LabelSet `json:"labels"`
	Annotations  model.LabelSet `json:"annotations"`
	StartsAt     time.Time      `json:"startsAt"`
	EndsAt       time.Time      `json:"endsAt"`
	GeneratorURL string         `json:"generatorURL"`
	Fingerprint  string         `json:"fingerprint"`
}

// Firing returns the alerts that fire.
func (n *Notification) Firing() []Alert { return n.filter(StatusFiring) }

// Resolved returns the alerts that are resolved.
func (n *Notification) Resolved() []Alert { return n.filter(StatusResolved) }

func (n *Notification) filter(status string) []Alert {
	var out []Alert
	for _, a := range n.Alerts {
		if a.Status == status {
			out = append(out, a)
		}
	}
	return out
}

// Title is a one-line summary, as Alertmanager's default titles:
// "[FIRING:2] HighLatency (matching-engine page)".
func (n *Notification) Title() string {
	s := "[" + upper(n.Status)
	if n.Status == StatusFiring {
		s += ":" + itoa(len(n.Firing()))
	}
	s += "]"
	if name, ok := n.GroupLabels[model.AlertNameLabel]; ok {
		s += " " + string(name)
	} else if name, ok := n.CommonLabels[model.AlertNameLabel]; ok {
		s += " " + string(name)
	}
	var rest []string
	for _, k := range sortedNames(n.GroupLabels) {
		if k != model.AlertNameLabel {
			rest = append(rest, string(n.GroupLabels[model.LabelName(k)]))
		}
	}
	if len(rest) > 0 {
		s += " (" + join(rest, " ") + ")"
	}
	return s
}

// SendResolved is embedded in every channel's Config: whether resolved
// alerts are notified. Unset means true, as in Alertmanager.
type SendResolved struct {
	SendResolved *bool `yaml:"send_resolved,omitempty" json:"send_resolved,omitempty"`
}

// Resolved reports whether resolved alerts are notified.
func (s SendResolved) Resolved() bool { return s.SendResolved == nil || *s.SendResolved }

// permanentError marks an error that retrying cannot fix (a 4xx answer, a bad
// token).
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// Permanent wraps err so that the pipeline does not retry it.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err: err}
}

// IsPermanent reports whether err, or an error it wraps, was marked Permanent.
func IsPermanent(err error) bool {
	var p *permanentError
	return errors.As(err, &p)
}
