// Package slack delivers notifications to a Slack incoming webhook.
package slack

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	commoncfg "github.com/prometheus/common/config"
	"github.com/prometheus/common/model"

	"github.com/gmc-dev/gmc/internal/notify/channel"
)

// Config is one slack_configs entry.
type Config struct {
	channel.SendResolved `yaml:",inline"`
	// APIURL is the incoming webhook's URL (a secret); or APIURLFile.
	// The names are Alertmanager's, so its tools (amtool config routes)
	// read gmc's configuration as written.
	APIURL     commoncfg.Secret `yaml:"api_url,omitempty" json:"api_url,omitempty"`
	APIURLFile string           `yaml:"api_url_file,omitempty" json:"api_url_file,omitempty"`
	// WebhookURL and WebhookURLFile are gmc's earlier names for APIURL
	// and APIURLFile, still read; Normalise moves them over.
	WebhookURL     commoncfg.Secret `yaml:"webhook_url,omitempty" json:"webhook_url,omitempty"`
	WebhookURLFile string           `yaml:"webhook_url_file,omitempty" json:"webhook_url_file,omitempty"`
	// Channel overrides the webhook's default channel ("#alerts").
	Channel   string `yaml:"channel,omitempty" json:"channel,omitempty"`
	Username  string `yaml:"username,omitempty" json:"username,omitempty"`
	IconEmoji string `yaml:"icon_emoji,omitempty" json:"icon_emoji,omitempty"`
	// Title and Text are templates (Alertmanager's language and fields)
	// for the message's title and attachment text; empty means gmc's
	// built-in ones.
	Title string `yaml:"title,omitempty" json:"title,omitempty"`
	Text  string `yaml:"text,omitempty" json:"text,omitempty"`
}

// Normalise moves the earlier names' values to api_url and api_url_file
// when those are not set (both set is an error Validate reports).
func (c *Config) Normalise() {
	if c.APIURL == "" && c.APIURLFile == "" {
		c.APIURL, c.APIURLFile = c.WebhookURL, c.WebhookURLFile
		c.WebhookURL, c.WebhookURLFile = "", ""
	}
}

// Validate checks the config; errors name the field.
func (c *Config) Validate() error {
	if c.WebhookURL != "" || c.WebhookURLFile != "" {
		return fmt.Errorf("webhook_url: gmc's earlier name for api_url; set one of them, not both")
	}
	return channel.CheckSecretURL(c.APIURL, c.APIURLFile, "api_url")
}

// SetDirectory resolves a relative api_url_file against dir, the
// directory of the configuration file.
func (c *Config) SetDirectory(dir string) {
	c.APIURLFile = commoncfg.JoinDir(dir, c.APIURLFile)
	c.WebhookURLFile = commoncfg.JoinDir(dir, c.WebhookURLFile)
}

// CheckTemplates renders the config's templates against sample data.
func (c *Config) CheckTemplates(ts *channel.Templates) error {
	if err := ts.Check(c.Title, false); err != nil {
		return fmt.Errorf("title: %w", err)
	}
	if err := ts.Check(c.Text, false); err != nil {
		return fmt.Errorf("text: %w", err)
	}
	return nil
}

// Notifier posts to one Slack webhook.
type Notifier struct {
	cfg    Config
	url    string
	client *http.Client
	tmpl   *channel.Templates
}

var _ channel.Notifier = (*Notifier)(nil)

// New builds a Notifier; it reads api_url_file once. tmpl renders the
// config's templates (nil: the built-in text only).
func New(cfg Config, client *http.Client, tmpl *channel.Templates) (*Notifier, error) {
	u, err := channel.ResolveSecretURL(cfg.APIURL, cfg.APIURLFile, "api_url")
	if err != nil {
		return nil, err
	}
	return &Notifier{cfg: cfg, url: u, client: client, tmpl: tmpl}, nil
}

// Message is the incoming-webhook payload.
type Message struct {
	Channel     string       `json:"channel,omitempty"`
	Username    string       `json:"username,omitempty"`
	IconEmoji   string       `json:"icon_emoji,omitempty"`
	Text        string       `json:"text"`
	Attachments []Attachment `json:"attachments"`
}

// Attachment is one Slack message attachment.
type Attachment struct {
	Color     string   `json:"color"`
	Title     string   `json:"title"`
	TitleLink string   `json:"title_link,omitempty"`
	Text      string   `json:"text"`
	Fallback  string   `json:"fallback"`
	Fields    []Field  `json:"fields,omitempty"`
	MrkdwnIn  []string `json:"mrkdwn_in"`
}

// Field is one short name/value pair of an attachment.
type Field struct {
	Title string `json:"title"`
	Value string `json:"value"`
	Short bool   `json:"short"`
}

// maxText bounds the attachment text; Slack truncates messages past ~40k characters.
const maxText = 8000

// Build turns a notification into the Slack payload: the config's title and
// text templates when set, else gmc's built-in text.
func (n *Notifier) Build(no *channel.Notification) Message {
	title := n.tmpl.Render("title", n.cfg.Title, no, func() string { return escape(no.Title()) })
	color := "good"
	if no.Status == channel.StatusFiring {
		color = "danger"
	}
	var b strings.Builder
	for _, a := range no.Alerts {
		fmt.Fprintf(&b, "• *%s* %s", a.Status, escape(a.Summary()))
		if pairs := no.OwnLabels(a); len(pairs) > 0 {
			fmt.Fprintf(&b, " (%s)", escape(strings.Join(pairs, ", ")))
		}
		b.WriteString("\n")
	}
	text, _ := channel.Truncate(n.tmpl.Render("text", n.cfg.Text, no, func() string { return strings.TrimSuffix(b.String(), "\n") }), maxText)
	var fields []Field
	for _, k := range channel.SortedNames(no.CommonLabels) {
		if k == "alertname" {
			continue
		}
		fields = append(fields, Field{Title: k, Value: escape(string(no.CommonLabels[model.LabelName(k)])), Short: true})
	}
	link := no.ExternalURL
	if link == "" && len(no.Alerts) > 0 {
		link = no.Alerts[0].GeneratorURL
	}
	return Message{
		Channel:   n.cfg.Channel,
		Username:  n.cfg.Username,
		IconEmoji: n.cfg.IconEmoji,
		Text:      title,
		Attachments: []Attachment{{
			Color:     color,
			Title:     title,
			TitleLink: link,
			Text:      text,
			Fallback:  title,
			Fields:    fields,
			MrkdwnIn:  []string{"text"},
		}},
	}
}

// Notify posts the notification.
func (n *Notifier) Notify(ctx context.Context, no *channel.Notification) error {
	if _, err := channel.PostJSON(ctx, n.client, n.url, n.Build(no)); err != nil {
		return fmt.Errorf("post to slack webhook: %w", err)
	}
	return nil
}

// escape applies Slack's three mandatory escapes.
func escape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}
