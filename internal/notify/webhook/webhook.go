// Package webhook delivers notifications as Alertmanager's webhook payload
// (version 4), so receivers written for Alertmanager work unchanged.
package webhook

import (
	"context"
	"fmt"
	"net/http"
	"net/url"

	commoncfg "github.com/prometheus/common/config"

	"github.com/gmc-dev/gmc/internal/notify/channel"
)

// Config is one webhook_configs entry.
type Config struct {
	channel.SendResolved `yaml:",inline"`
	// URL receives the POST (a secret: it often carries a token); or URLFile.
	URL     commoncfg.Secret `yaml:"url,omitempty" json:"url,omitempty"`
	URLFile string           `yaml:"url_file,omitempty" json:"url_file,omitempty"`
	// MaxAlerts bounds the alerts in one message (0: all); the rest is counted
	// in truncatedAlerts.
	MaxAlerts uint64 `yaml:"max_alerts,omitempty" json:"max_alerts,omitempty"`
}

// Validate checks the config; errors name the field.
func (c *Config) Validate() error {
	return channel.CheckSecretURL(c.URL, c.URLFile, "url")
}

// SetDirectory resolves a relative url_file against dir, the directory of
// the configuration file.
func (c *Config) SetDirectory(dir string) { c.URLFile = commoncfg.JoinDir(dir, c.URLFile) }

// MarshalYAML shows the URL as scheme://host/<secret>: its path, query and
// user info often carry a token, while Alertmanager 0.25 (and its amtool)
// read a webhook url as a plain URL, so a bare <secret> would make
// `amtool config routes` refuse the config GET /api/v2/status returns.
func (c Config) MarshalYAML() (any, error) {
	type shown struct {
		channel.SendResolved `yaml:",inline"`
		URL                  string `yaml:"url,omitempty"`
		URLFile              string `yaml:"url_file,omitempty"`
		MaxAlerts            uint64 `yaml:"max_alerts,omitempty"`
	}
	out := shown{SendResolved: c.SendResolved, URLFile: c.URLFile, MaxAlerts: c.MaxAlerts}
	if c.URL != "" {
		out.URL = "<secret>"
		if u, err := url.Parse(string(c.URL)); err == nil && u.Scheme != "" && u.Host != "" {
			out.URL = u.Scheme + "://" + u.Host + "/<secret>"
		}
	}
	return out, nil
}

// Notifier posts to one URL.
type Notifier struct {
	cfg    Config
	url    string
	client *http.Client
}

var _ channel.Notifier = (*Notifier)(nil)

// New builds a Notifier; it reads url_file once.
func New(cfg Config, client *http.Client) (*Notifier, error) {
	u, err := channel.ResolveSecretURL(cfg.URL, cfg.URLFile, "url")
	if err != nil {
		return nil, err
	}
	return &Notifier{cfg: cfg, url: u, client: client}, nil
}

// Message is Alertmanager's webhook payload.
type Message struct {
	*channel.Notification
	Version string `json:"version"`
}

// Build returns the payload, truncated to MaxAlerts.
func (n *Notifier) Build(no *channel.Notification) Message {
	if n.cfg.MaxAlerts > 0 && uint64(len(no.Alerts)) > n.cfg.MaxAlerts {
		cp := *no
		cp.Alerts = no.Alerts[:n.cfg.MaxAlerts]
		cp.TruncatedAlerts = uint64(len(no.Alerts)) - n.cfg.MaxAlerts
		no = &cp
	}
	return Message{Notification: no, Version: "4"}
}

// Notify posts the payload.
func (n *Notifier) Notify(ctx context.Context, no *channel.Notification) error {
	if _, err := channel.PostJSON(ctx, n.client, n.url, n.Build(no)); err != nil {
		return fmt.Errorf("post to webhook: %w", err)
	}
	return nil
}
