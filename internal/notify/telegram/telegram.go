// Package telegram delivers notifications through the Telegram Bot API's
// sendMessage method.
package telegram

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"strings"

	commoncfg "github.com/prometheus/common/config"

	"github.com/gmc-dev/gmc/internal/notify/channel"
)

// DefaultAPIURL is the Bot API's base URL.
const DefaultAPIURL = "https://api.telegram.org"

// Config is one telegram_configs entry.
type Config struct {
	channel.SendResolved `yaml:",inline"`
	// APIURL is the Bot API base URL; empty means DefaultAPIURL.
	APIURL string `yaml:"api_url,omitempty" json:"api_url,omitempty"`
	// BotToken is the bot's token (a secret); or BotTokenFile.
	BotToken     commoncfg.Secret `yaml:"bot_token,omitempty" json:"bot_token,omitempty"`
	BotTokenFile string           `yaml:"bot_token_file,omitempty" json:"bot_token_file,omitempty"`
	// ChatID is the chat, group or channel to post to.
	ChatID int64 `yaml:"chat_id" json:"chat_id"`
	// MessageThreadID posts into a forum topic when non-zero.
	MessageThreadID int `yaml:"message_thread_id,omitempty" json:"message_thread_id,omitempty"`
	// DisableNotifications sends the message silently.
	DisableNotifications bool `yaml:"disable_notifications,omitempty" json:"disable_notifications,omitempty"`
	// Message is a template (Alertmanager's language and field) for the
	// message text; empty means gmc's built-in HTML message.
	Message string `yaml:"message,omitempty" json:"message,omitempty"`
	// ParseMode is how Telegram reads the text: HTML (the default),
	// MarkdownV2 or Markdown, as in Alertmanager.
	ParseMode string `yaml:"parse_mode,omitempty" json:"parse_mode,omitempty"`
}

// Normalise fills APIURL's default.
func (c *Config) Normalise() {
	if c.APIURL == "" {
		c.APIURL = DefaultAPIURL
	}
	if c.ParseMode == "" {
		c.ParseMode = "HTML"
	}
}

// Validate checks a normalised config; errors name the field.
func (c *Config) Validate() error {
	if u, err := url.Parse(c.APIURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("api_url: %q is not an http(s) URL", c.APIURL)
	}
	if err := channel.CheckSecret(c.BotToken, c.BotTokenFile, "bot_token"); err != nil {
		return err
	}
	if c.ChatID == 0 {
		return errors.New("chat_id: must be set")
	}
	switch c.ParseMode {
	case "HTML", "MarkdownV2", "Markdown":
	default:
		return fmt.Errorf("parse_mode: %q is not HTML, MarkdownV2 or Markdown", c.ParseMode)
	}
	return nil
}

// CheckTemplates renders the config's template against sample data.
func (c *Config) CheckTemplates(ts *channel.Templates) error {
	if err := ts.Check(c.Message, false); err != nil {
		return fmt.Errorf("message: %w", err)
	}
	return nil
}

// SetDirectory resolves a relative bot_token_file against dir, the directory
// of the configuration file.
func (c *Config) SetDirectory(dir string) {
	c.BotTokenFile = commoncfg.JoinDir(dir, c.BotTokenFile)
}

// Notifier sends to one chat.
type Notifier struct {
	cfg      Config
	endpoint string
	client   *http.Client
	tmpl     *channel.Templates
}

var _ channel.Notifier = (*Notifier)(nil)

// New builds a Notifier from a normalised, valid config; it reads
// bot_token_file once. tmpl renders the message template (nil: the
// built-in message only).
func New(cfg Config, client *http.Client, tmpl *channel.Templates) (*Notifier, error) {
	token, err := channel.ResolveSecret(cfg.BotToken, cfg.BotTokenFile, "bot_token")
	if err != nil {
		return nil, err
	}
	endpoint := strings.TrimRight(cfg.APIURL, "/") + "/bot" + token + "/sendMessage"
	return &Notifier{cfg: cfg, endpoint: endpoint, client: client, tmpl: tmpl}, nil
}

// Message is the sendMessage request body.
type Message struct {
	ChatID                int64  `json:"chat_id"`
	MessageThreadID       int    `json:"message_thread_id,omitempty"`
	Text                  string `json:"text"`
	ParseMode             string `json:"parse_mode"`
	DisableWebPagePreview bool   `json:"disable_web_page_preview"`
	DisableNotification   bool   `json:"disable_notification"`
}

// maxText is Telegram's message limit (4096 characters); bytes keep it safe.
const maxText = 4096

// Build turns a notification into the sendMessage body; every text coming
// from labels or annotations is HTML-escaped.
func (n *Notifier) Build(no *channel.Notification) Message {
	parseMode := n.cfg.ParseMode
	if parseMode == "" {
		parseMode = "HTML"
	}
	if n.cfg.Message != "" && n.tmpl != nil {
		text, _ := channel.Truncate(n.tmpl.Render("message", n.cfg.Message, no, func() string { return n.builtin(no) }), maxText)
		return Message{ChatID: n.cfg.ChatID, MessageThreadID: n.cfg.MessageThreadID, Text: text, ParseMode: parseMode,
			DisableWebPagePreview: true, DisableNotification: n.cfg.DisableNotifications}
	}
	return Message{
		ChatID:                n.cfg.ChatID,
		MessageThreadID:       n.cfg.MessageThreadID,
		Text:                  n.builtin(no),
		ParseMode:             "HTML",
		DisableWebPagePreview: true,
		DisableNotification:   n.cfg.DisableNotifications,
	}
}

// builtin is gmc's own HTML message.
func (n *Notifier) builtin(no *channel.Notification) string {
	icon := "🔥"
	if no.Status == channel.StatusResolved {
		icon = "✅"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s <b>%s</b>\n", icon, html.EscapeString(no.Title()))
	for _, a := range no.Alerts {
		fmt.Fprintf(&b, "\n<b>%s</b> %s", html.EscapeString(a.Status), html.EscapeString(a.Summary()))
		if pairs := no.OwnLabels(a); len(pairs) > 0 {
			fmt.Fprintf(&b, "\n<code>%s</code>", html.EscapeString(strings.Join(pairs, " ")))
		}
	}
	if len(no.CommonLabels) > 0 {
		fmt.Fprintf(&b, "\n\n<i>%s</i>", html.EscapeString(strings.Join(channel.SortedPairs(no.CommonLabels), " ")))
	}
	text := b.String()
	if len(text) > maxText {
		// Cutting HTML could break a tag: fall back to the escaped title only.
		text = fmt.Sprintf("%s <b>%s</b>\n(%d alerts, message too long)", icon, html.EscapeString(no.Title()), len(no.Alerts))
	}
	return text
}

// Notify sends the message; the Bot API's {"ok":false} answers are errors.
func (n *Notifier) Notify(ctx context.Context, no *channel.Notification) error {
	answer, err := channel.PostJSON(ctx, n.client, n.endpoint, n.Build(no))
	var reply struct {
		OK          bool   `json:"ok"`
		Description string `json:"description"`
	}
	if jerr := json.Unmarshal(answer, &reply); jerr == nil && !reply.OK && reply.Description != "" {
		derr := fmt.Errorf("telegram sendMessage: %s", reply.Description)
		if err != nil && channel.IsPermanent(err) {
			return channel.Permanent(derr)
		}
		return derr
	}
	if err != nil {
		return fmt.Errorf("telegram sendMessage: %w", err)
	}
	return nil
}
