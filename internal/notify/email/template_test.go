package email

import (
	"bytes"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gmc-dev/gmc/internal/notify/channel"
)

var messageID = regexp.MustCompile(`Message-Id: <[0-9a-f]+@gmc>\r\n`)

func fixedNow() time.Time { return time.Date(2026, 11, 25, 10, 1, 0, 0, time.UTC) }

// TestNoTemplateKeepsBuiltinMail: with the templates loaded but no headers,
// html or text configured, the mail is the built-in one (which
// TestSendOverSTARTTLSWithPlainAuth spells out), Message-Id aside.
func TestNoTemplateKeepsBuiltinMail(t *testing.T) {
	ts, err := channel.LoadTemplates("", nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Smarthost: "127.0.0.1:25", From: "alerts@gmc.test", To: "ops@gmc.test"}
	plain, _ := New(cfg, fixedNow, nil)
	with, _ := New(cfg, fixedNow, ts)
	a, _ := plain.Build(channel.Sample())
	b, _ := with.Build(channel.Sample())
	if x, y := messageID.ReplaceAll(a, nil), messageID.ReplaceAll(b, nil); !bytes.Equal(x, y) {
		t.Fatalf("templates loaded changed the mail:\n%s\n%s", x, y)
	}
}

// TestTemplatedMail renders a Subject header, an HTML and a text body from
// a templates file and Alertmanager's functions, and reads the mail back
// as a mail client would.
func TestTemplatedMail(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "desk.tmpl"), []byte(
		`{{ define "desk.subject" }}[{{ .Status | toUpper }}] {{ .CommonLabels.alertname }} on {{ len .Alerts.Firing }} service(s){{ end }}`), 0o644); err != nil {
		t.Fatal(err)
	}
	ts, err := channel.LoadTemplates("", []string{filepath.Join(dir, "*.tmpl")})
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Smarthost: "127.0.0.1:25", From: "alerts@gmc.test", To: "ops@gmc.test",
		Headers: map[string]string{"Subject": `{{ template "desk.subject" . }}`, "X-Desk": "{{ .Receiver }}"},
		HTML:    `<ul>{{ range .Alerts }}<li>{{ .Labels.service }}: {{ .Annotations.summary }}</li>{{ end }}</ul>`,
		Text:    `{{ range .Alerts }}{{ .Status }} {{ .Labels.service }}{{ "\n" }}{{ end }}`,
	}
	if err := cfg.CheckTemplates(ts); err != nil {
		t.Fatal(err)
	}
	n, err := New(cfg, fixedNow, ts)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := n.Build(channel.Sample())
	if err != nil {
		t.Fatal(err)
	}
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("read mail: %v\n%s", err, raw)
	}
	dec := new(mime.WordDecoder)
	subject, _ := dec.DecodeHeader(msg.Header.Get("Subject"))
	if subject != "[FIRING] HighLatency on 1 service(s)" || msg.Header.Get("X-Desk") != "ops" {
		t.Errorf("subject %q, X-Desk %q", subject, msg.Header.Get("X-Desk"))
	}
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/alternative" {
		t.Fatalf("content type %q: %v", msg.Header.Get("Content-Type"), err)
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	want := []struct{ ct, body string }{
		{"text/plain; charset=UTF-8", "firing matching<engine>\r\nresolved gateway\r\n"},
		// html/template escapes the label values.
		{"text/html; charset=UTF-8", "<ul><li>matching&lt;engine&gt;: p99 &gt; 1ms &amp; rising</li><li>gateway: </li></ul>"},
	}
	for i, w := range want {
		p, err := mr.NextPart()
		if err != nil {
			t.Fatalf("part %d: %v", i, err)
		}
		body, _ := io.ReadAll(p) // quoted-printable is decoded by the reader
		if p.Header.Get("Content-Type") != w.ct || string(body) != w.body {
			t.Errorf("part %d: %q %q, want %q %q", i, p.Header.Get("Content-Type"), body, w.ct, w.body)
		}
	}
	if _, err := mr.NextPart(); err != io.EOF {
		t.Errorf("more parts: %v", err)
	}
}

func TestCheckTemplatesNamesTheField(t *testing.T) {
	ts, err := channel.LoadTemplates("", nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Headers: map[string]string{"Subject": `{{ .Status | nosuchfunc }}`}}
	if err := cfg.CheckTemplates(ts); err == nil || !strings.HasPrefix(err.Error(), "headers.Subject: ") || !strings.Contains(err.Error(), `function "nosuchfunc" not defined`) {
		t.Fatalf("error %v", err)
	}
}
