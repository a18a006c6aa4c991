// Package webhook delivers notifications as Alertmanager's webhook payload
// (version 4), so receivers written for Alertmanager work unchanged.
package webhook

import (
	"context"
	"errors"
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
	if err := channel.CheckSecret(c.URL, c.URLFile, "url"); err != nil {
		return err
	}
	if c.URL != "" {
		if err := checkURL(string(c.URL)); err != nil {
			return fmt.Errorf("url: %w", err)
		}
	}
	return nil
}

func checkURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return errors.New("not an http(s) URL")
	}
	return nil
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
	u, err := channel.ResolveSecret(cfg.URL, cfg.URLFile, "url")
	if err != nil {
		return nil, err
	}
	if err := checkURL(u); err != nil {
		return nil, fmt.Errorf("url: %w", err)
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
