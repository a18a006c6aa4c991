// Package email delivers notifications over SMTP with STARTTLS and
// authentication (PLAIN, or LOGIN-less servers without auth).
package email

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	htmlpkg "html"
	"maps"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/smtp"
	"net/textproto"
	"os"
	"slices"
	"strings"
	"time"

	commoncfg "github.com/prometheus/common/config"

	"github.com/gmc-dev/gmc/internal/notify/channel"
)

// Config is one email_configs entry.
type Config struct {
	channel.SendResolved `yaml:",inline"`
	// Smarthost is the SMTP server, host:port (usually port 587).
	Smarthost string `yaml:"smarthost" json:"smarthost"`
	From      string `yaml:"from" json:"from"`
	// To is a comma-separated list of addresses.
	To string `yaml:"to" json:"to"`
	// Hello is the name sent in EHLO; empty means "localhost".
	Hello        string `yaml:"hello,omitempty" json:"hello,omitempty"`
	AuthUsername string `yaml:"auth_username,omitempty" json:"auth_username,omitempty"`
	// AuthPassword is used with PLAIN auth (a secret); or AuthPasswordFile.
	AuthPassword     commoncfg.Secret `yaml:"auth_password,omitempty" json:"auth_password,omitempty"`
	AuthPasswordFile string           `yaml:"auth_password_file,omitempty" json:"auth_password_file,omitempty"`
	// RequireTLS refuses to send unless the server offers STARTTLS; nil means true.
	RequireTLS *bool `yaml:"require_tls,omitempty" json:"require_tls,omitempty"`
	// TLSConfig verifies the server after STARTTLS (ca, ca_file, server_name, insecure_skip_verify).
	TLSConfig commoncfg.TLSConfig `yaml:"tls_config,omitempty" json:"tls_config,omitempty"`
	// Headers are extra headers, each value a template; Subject replaces
	// gmc's subject line (Alertmanager's field).
	Headers map[string]string `yaml:"headers,omitempty" json:"headers,omitempty"`
	// HTML and Text are templates for the body (Alertmanager's fields): with
	// HTML the mail is multipart/alternative, Text (or gmc's built-in body)
	// being the plain part; empty means gmc's built-in plain body.
	HTML string `yaml:"html,omitempty" json:"html,omitempty"`
	Text string `yaml:"text,omitempty" json:"text,omitempty"`
}

// reservedHeaders are set by gmc itself and may not be templated.
var reservedHeaders = map[string]bool{"From": true, "To": true, "Date": true, "Message-Id": true,
	"Mime-Version": true, "Content-Type": true, "Content-Transfer-Encoding": true}

// CheckTemplates renders the config's templates against sample data.
func (c *Config) CheckTemplates(ts *channel.Templates) error {
	for _, k := range slices.Sorted(maps.Keys(c.Headers)) {
		if err := ts.Check(c.Headers[k], false); err != nil {
			return fmt.Errorf("headers.%s: %w", k, err)
		}
	}
	if err := ts.Check(c.HTML, true); err != nil {
		return fmt.Errorf("html: %w", err)
	}
	if err := ts.Check(c.Text, false); err != nil {
		return fmt.Errorf("text: %w", err)
	}
	return nil
}

// Validate checks the config; errors name the field.
func (c *Config) Validate() error {
	host, port, err := net.SplitHostPort(c.Smarthost)
	if err != nil || host == "" || port == "" {
		return fmt.Errorf("smarthost: %q is not host:port", c.Smarthost)
	}
	if _, err := mail.ParseAddress(c.From); err != nil {
		return fmt.Errorf("from: %q is not an e-mail address", c.From)
	}
	if c.To == "" {
		return errors.New("to: must be set")
	}
	if _, err := mail.ParseAddressList(c.To); err != nil {
		return fmt.Errorf("to: %q is not a list of e-mail addresses", c.To)
	}
	if c.AuthPassword != "" && c.AuthPasswordFile != "" {
		return errors.New("auth_password: set only one of auth_password and auth_password_file")
	}
	if (c.AuthPassword != "" || c.AuthPasswordFile != "") && c.AuthUsername == "" {
		return errors.New("auth_username: must be set with auth_password")
	}
	for k := range c.Headers {
		if reservedHeaders[textproto.CanonicalMIMEHeaderKey(k)] {
			return fmt.Errorf("headers.%s: set by gmc, cannot be configured", k)
		}
		if strings.ContainsAny(k, ": \r\n") || k == "" {
			return fmt.Errorf("headers: %q is not a header name", k)
		}
	}
	return nil
}

// SetDirectory resolves a relative auth_password_file and tls_config's
// files against dir, the directory of the configuration file.
func (c *Config) SetDirectory(dir string) {
	c.AuthPasswordFile = commoncfg.JoinDir(dir, c.AuthPasswordFile)
	c.TLSConfig.SetDirectory(dir)
}

func (c *Config) requireTLS() bool { return c.RequireTLS == nil || *c.RequireTLS }

// Notifier sends mail through one smarthost.
type Notifier struct {
	cfg      Config
	host     string
	password string
	tls      *tls.Config
	from     string
	to       []string
	now      func() time.Time
	tmpl     *channel.Templates
}

var _ channel.Notifier = (*Notifier)(nil)

// New builds a Notifier from a valid config; it reads auth_password_file
// and the TLS files once. tmpl renders the config's templates (nil: the
// built-in subject and body only).
func New(cfg Config, now func() time.Time, tmpl *channel.Templates) (*Notifier, error) {
	if now == nil {
		now = time.Now
	}
	password := string(cfg.AuthPassword)
	if cfg.AuthPasswordFile != "" {
		data, err := os.ReadFile(cfg.AuthPasswordFile)
		if err != nil {
			return nil, fmt.Errorf("auth_password_file: %w", err)
		}
		password = strings.TrimSpace(string(data))
	}
	host, _, _ := net.SplitHostPort(cfg.Smarthost)
	tc, err := commoncfg.NewTLSConfig(&cfg.TLSConfig)
	if err != nil {
		return nil, fmt.Errorf("tls_config: %w", err)
	}
	if tc.ServerName == "" {
		tc.ServerName = host
	}
	list, _ := mail.ParseAddressList(cfg.To)
	to := make([]string, len(list))
	for i, a := range list {
		to[i] = a.Address
	}
	from, _ := mail.ParseAddress(cfg.From)
	return &Notifier{cfg: cfg, from: from.Address, host: host, password: password, tls: tc, to: to, now: now, tmpl: tmpl}, nil
}

// Notify sends one mail. Errors with an SMTP 5xx code are permanent.
func (n *Notifier) Notify(ctx context.Context, no *channel.Notification) error {
	msg, err := n.Build(no)
	if err != nil {
		return channel.Permanent(err)
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", n.cfg.Smarthost)
	if err != nil {
		return fmt.Errorf("connect to smarthost: %w", err)
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	} else {
		_ = conn.SetDeadline(time.Now().Add(time.Minute))
	}
	c, err := smtp.NewClient(conn, n.host)
	if err != nil {
		conn.Close()
		return fmt.Errorf("smtp greeting: %w", err)
	}
	// After Quit the connection is closed already; an error here loses nothing.
	defer func() { _ = c.Close() }()
	hello := n.cfg.Hello
	if hello == "" {
		hello = "localhost"
	}
	if err := c.Hello(hello); err != nil {
		return classify("ehlo", err)
	}
	if ok, _ := c.Extension("STARTTLS"); ok {
		if err := c.StartTLS(n.tls); err != nil {
			return classify("starttls", err)
		}
	} else if n.cfg.requireTLS() {
		return channel.Permanent(errors.New("smarthost does not offer STARTTLS (require_tls is true)"))
	}
	if n.cfg.AuthUsername != "" {
		if ok, mechs := c.Extension("AUTH"); !ok || !strings.Contains(strings.ToUpper(mechs), "PLAIN") {
			return channel.Permanent(errors.New("smarthost does not offer AUTH PLAIN"))
		}
		if err := c.Auth(smtp.PlainAuth("", n.cfg.AuthUsername, n.password, n.host)); err != nil {
			return classify("auth", err)
		}
	}
	if err := c.Mail(n.from); err != nil {
		return classify("mail from", err)
	}
	for _, rcpt := range n.to {
		if err := c.Rcpt(rcpt); err != nil {
			return classify("rcpt to "+rcpt, err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return classify("data", err)
	}
	if _, err := w.Write(msg); err != nil {
		return classify("write message", err)
	}
	if err := w.Close(); err != nil {
		return classify("end message", err)
	}
	return c.Quit()
}

// classify marks SMTP 5xx replies permanent.
func classify(step string, err error) error {
	err = fmt.Errorf("smtp %s: %w", step, err)
	var perr *textproto.Error
	if errors.As(err, &perr) && perr.Code >= 500 {
		return channel.Permanent(err)
	}
	return err
}

// Build renders the whole RFC 5322 message.
func (n *Notifier) Build(no *channel.Notification) ([]byte, error) {
	var b bytes.Buffer
	id := make([]byte, 12)
	_, _ = rand.Read(id)
	from, _ := mail.ParseAddress(n.cfg.From)
	hdr := func(k, v string) { fmt.Fprintf(&b, "%s: %s\r\n", k, v) }
	hdr("From", from.String())
	hdr("To", n.cfg.To)
	subject := no.Title()
	for _, k := range slices.Sorted(maps.Keys(n.cfg.Headers)) {
		if textproto.CanonicalMIMEHeaderKey(k) == "Subject" {
			subject = oneLine(n.tmpl.Render("headers.Subject", n.cfg.Headers[k], no, no.Title))
		}
	}
	hdr("Subject", mime.QEncoding.Encode("utf-8", subject))
	hdr("Date", n.now().Format(time.RFC1123Z))
	hdr("Message-Id", "<"+hex.EncodeToString(id)+"@gmc>")
	for _, k := range slices.Sorted(maps.Keys(n.cfg.Headers)) {
		if textproto.CanonicalMIMEHeaderKey(k) != "Subject" {
			v := n.tmpl.Render("headers."+k, n.cfg.Headers[k], no, func() string { return n.cfg.Headers[k] })
			hdr(textproto.CanonicalMIMEHeaderKey(k), mime.QEncoding.Encode("utf-8", oneLine(v)))
		}
	}
	hdr("MIME-Version", "1.0")
	text := n.tmpl.Render("text", n.cfg.Text, no, func() string { return Body(no) })
	if n.cfg.HTML == "" || n.tmpl == nil {
		hdr("Content-Type", "text/plain; charset=UTF-8")
		hdr("Content-Transfer-Encoding", "8bit")
		b.WriteString("\r\n")
		b.WriteString(crlf(text))
		return b.Bytes(), nil
	}
	html := n.tmpl.RenderHTML("html", n.cfg.HTML, no, func() string { return "<pre>" + htmlpkg.EscapeString(Body(no)) + "</pre>" })
	mw := multipart.NewWriter(&b)
	hdr("Content-Type", "multipart/alternative; boundary="+mw.Boundary())
	b.WriteString("\r\n")
	for _, part := range []struct{ ct, body string }{{"text/plain; charset=UTF-8", text}, {"text/html; charset=UTF-8", html}} {
		w, err := mw.CreatePart(textproto.MIMEHeader{"Content-Type": {part.ct}, "Content-Transfer-Encoding": {"quoted-printable"}})
		if err != nil {
			return nil, fmt.Errorf("build mail part: %w", err)
		}
		qw := quotedprintable.NewWriter(w)
		if _, err := qw.Write([]byte(crlf(part.body))); err != nil {
			return nil, fmt.Errorf("build mail part: %w", err)
		}
		if err := qw.Close(); err != nil {
			return nil, fmt.Errorf("build mail part: %w", err)
		}
	}
	if err := mw.Close(); err != nil {
		return nil, fmt.Errorf("build mail: %w", err)
	}
	return b.Bytes(), nil
}

// crlf turns the line ends of s into CRLF.
func crlf(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\n", "\r\n")
}

// oneLine keeps a header value on one line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// Body is the plain-text body listing every alert.
func Body(no *channel.Notification) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n\n", no.Title())
	for _, a := range no.Alerts {
		fmt.Fprintf(&b, "[%s] %s\n", strings.ToUpper(a.Status), a.Summary())
		fmt.Fprintf(&b, "  since: %s\n", a.StartsAt.UTC().Format(time.RFC3339))
		if a.Status == channel.StatusResolved {
			fmt.Fprintf(&b, "  ended: %s\n", a.EndsAt.UTC().Format(time.RFC3339))
		}
		for _, p := range channel.SortedPairs(a.Labels) {
			fmt.Fprintf(&b, "  %s\n", p)
		}
		if a.Status == channel.StatusResolved && len(a.Annotations) > 0 {
			b.WriteString("  annotations as of its last firing evaluation:\n")
		}
		for _, p := range channel.SortedPairs(a.Annotations) {
			fmt.Fprintf(&b, "  %s\n", p)
		}
		if a.GeneratorURL != "" {
			fmt.Fprintf(&b, "  source: %s\n", a.GeneratorURL)
		}
		b.WriteString("\n")
	}
	if no.ExternalURL != "" {
		fmt.Fprintf(&b, "Sent by gmc: %s\n", no.ExternalURL)
	}
	return b.String()
}
