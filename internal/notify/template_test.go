package notify

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// loopback is an HTTP receiver keeping the JSON bodies posted to it.
type loopback struct {
	mu     sync.Mutex
	bodies []map[string]any
}

func (l *loopback) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	l.mu.Lock()
	l.bodies = append(l.bodies, m)
	l.mu.Unlock()
	_, _ = w.Write([]byte(`{"ok":true}`))
}

func (l *loopback) got() []map[string]any {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]map[string]any(nil), l.bodies...)
}

// TestTemplatesThroughChannels sends a real alert through the dispatcher
// to Slack and Telegram receivers on loopback, with templates from a
// templates: file, Alertmanager's functions and its default templates.
func TestTemplatesThroughChannels(t *testing.T) {
	var sl, tg loopback
	slSrv, tgSrv := httptest.NewServer(&sl), httptest.NewServer(&tg)
	defer slSrv.Close()
	defer tgSrv.Close()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "desk.tmpl"), []byte(
		`{{ define "desk.title" }}{{ .Status | title }}: {{ .CommonLabels.alertname }} on {{ .CommonLabels.service }}{{ end }}`), 0o644); err != nil {
		t.Fatal(err)
	}
	h := start(t, fmt.Sprintf(`
templates: [%q]
route:
  receiver: desk
  group_by: [alertname]
  group_wait: 0s
  group_interval: 10ms
receivers:
  - name: desk
    slack_configs:
      - webhook_url: %s/hook
        title: '{{ template "desk.title" . }}'
        text: '{{ range .Alerts }}{{ .Annotations.summary | toUpper }} ({{ .Labels.venue }}){{ end }}'
      - webhook_url: %s/hook
        title: '{{ template "slack.default.title" . }}'
    telegram_configs:
      - api_url: %s
        bot_token: "1:A"
        chat_id: 42
        message: '<b>{{ template "desk.title" . }}</b> {{ join ", " (.CommonLabels.SortedPairs.Values) }}'
`, filepath.Join(dir, "*.tmpl"), slSrv.URL, slSrv.URL, tgSrv.URL), nil, func(o *Options) { o.HTTPClient = slSrv.Client() })
	h.d.Send(h.alert("alertname", "FeedStale", "service", "md-gateway", "venue", "xlon"))
	waitFor(t, "both slack messages and the telegram one", func() bool { return len(sl.got()) == 2 && len(tg.got()) == 1 })
	titles := map[string]string{}
	for _, m := range sl.got() {
		att := m["attachments"].([]any)[0].(map[string]any)
		titles[att["title"].(string)] = att["text"].(string)
	}
	want := map[string]string{
		"Firing: FeedStale on md-gateway": "IT BROKE (xlon)",
		// Alertmanager's own default title, from its default templates.
		"[FIRING:1] FeedStale (md-gateway xlon)": "• *firing* it broke",
	}
	for title, text := range want {
		if got, ok := titles[title]; !ok || got != text {
			t.Errorf("slack title %q text %q; got %v", title, text, titles)
		}
	}
	if got := tg.got()[0]["text"]; got != "<b>Firing: FeedStale on md-gateway</b> FeedStale, md-gateway, xlon" {
		t.Errorf("telegram text %q", got)
	}
	if got := tg.got()[0]["parse_mode"]; got != "HTML" {
		t.Errorf("telegram parse_mode %q", got)
	}
}

// TestBadTemplateFailsConfig: a template that does not parse, calls an
// unknown function or names an unknown template, and a templates: file
// that does not parse, fail the config naming where.
func TestBadTemplateFailsConfig(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.tmpl")
	if err := os.WriteFile(bad, []byte(`{{ define "x" }}{{ .Status `), 0o644); err != nil {
		t.Fatal(err)
	}
	base := "route: {receiver: r}\nreceivers:\n  - name: r\n"
	for _, tc := range []struct{ yml, want string }{
		{base + "    slack_configs: [{webhook_url: 'http://127.0.0.1:1/x', title: '{{ .Status '}]\n",
			"receivers[0] (r).slack_configs[0].title: template: :1: unclosed action"},
		{base + "    slack_configs: [{webhook_url: 'http://127.0.0.1:1/x', text: '{{ .Status | shout }}'}]\n",
			`receivers[0] (r).slack_configs[0].text: template: :1: function "shout" not defined`},
		{base + "    telegram_configs: [{bot_token: '1:A', chat_id: 1, message: '{{ template \"nope\" . }}'}]\n",
			`receivers[0] (r).telegram_configs[0].message: template: :1:12: executing "" at <{{template "nope" .}}>: template "nope" not defined`},
		{base + "    email_configs: [{smarthost: 'h:25', from: a@b.c, to: d@e.f, html: '{{ range }}'}]\n",
			"receivers[0] (r).email_configs[0].html: template: :1: missing value for range"},
		{fmt.Sprintf("templates: [%q]\n", bad) + base + "    webhook_configs: [{url: 'http://127.0.0.1:1/x'}]\n",
			fmt.Sprintf("templates[0]: %q: template: bad.tmpl:1: unclosed action", bad)},
	} {
		_, err := LoadConfig([]byte(tc.yml))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("error %v\nwant it to contain %s", err, tc.want)
		}
	}
}
