// Package alertmanager forwards raw alerts to a real Alertmanager through
// its POST /api/v2/alerts, as Prometheus does. Alertmanager groups, silences
// and routes them itself, so gmc's pipeline hands this channel every alert on
// every evaluation instead of grouped notifications.
package alertmanager

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/prometheus/common/model"

	"github.com/gmc-dev/gmc/internal/notify/channel"
)

// Config is one alertmanager_configs entry.
type Config struct {
	// URL is the Alertmanager's base URL, e.g. http://127.0.0.1:9093.
	URL string `yaml:"url" json:"url"`
}

// Validate checks the config; errors name the field.
func (c *Config) Validate() error {
	u, err := url.Parse(c.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("url: %q is not an http(s) URL", c.URL)
	}
	return nil
}

// Notifier posts alerts to one Alertmanager.
type Notifier struct {
	endpoint string
	client   *http.Client
}

var _ channel.Notifier = (*Notifier)(nil)

// New builds a Notifier from a valid config.
func New(cfg Config, client *http.Client) (*Notifier, error) {
	return &Notifier{endpoint: strings.TrimRight(cfg.URL, "/") + "/api/v2/alerts", client: client}, nil
}

// PostableAlert is one element of POST /api/v2/alerts.
type PostableAlert struct {
	Labels       model.LabelSet `json:"labels"`
	Annotations  model.LabelSet `json:"annotations,omitempty"`
	StartsAt     time.Time      `json:"startsAt,omitzero"`
	EndsAt       time.Time      `json:"endsAt,omitzero"`
	GeneratorURL string         `json:"generatorURL,omitempty"`
}

// Forward posts raw alerts as they came from the rules side.
func (n *Notifier) Forward(ctx context.Context, alerts []*model.Alert) error {
	body := make([]PostableAlert, len(alerts))
	for i, a := range alerts {
		body[i] = PostableAlert{Labels: a.Labels, Annotations: a.Annotations, StartsAt: a.StartsAt, EndsAt: a.EndsAt, GeneratorURL: a.GeneratorURL}
	}
	if _, err := channel.PostJSON(ctx, n.client, n.endpoint, body); err != nil {
		return fmt.Errorf("post alerts to alertmanager: %w", err)
	}
	return nil
}

// Notify posts a notification's alerts; a firing alert keeps its zero EndsAt,
// so Alertmanager applies its resolve_timeout.
func (n *Notifier) Notify(ctx context.Context, no *channel.Notification) error {
	alerts := make([]*model.Alert, len(no.Alerts))
	for i, a := range no.Alerts {
		alerts[i] = &model.Alert{Labels: a.Labels, Annotations: a.Annotations, StartsAt: a.StartsAt, EndsAt: a.EndsAt, GeneratorURL: a.GeneratorURL}
	}
	return n.Forward(ctx, alerts)
}
