package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	smtp "github.com/emersion/go-smtp"
	"github.com/prometheus/common/model"
)

// The notification rows: what gmc delivers is compared with what the real
// Alertmanager 0.25 (or its amtool) produces from the same input — templates
// rendered by `amtool template render`, time intervals and the webhook body
// by a real Alertmanager given the same config and alerts.

// amDefaultTemplates are the Debian package's copies of Alertmanager 0.25's
// default templates (Debian ships them as files instead of embedding them).
const amDefaultTemplates = "/usr/share/prometheus/alertmanager/*.tmpl"

// hookCall is one POST a recorder received.
type hookCall struct {
	at   time.Time
	path string
	body []byte
}

// recorder is an HTTP receiver (webhook, Slack, Telegram Bot API) that keeps
// every request and answers as the Bot API does, which Slack and webhook
// senders accept too.
type recorder struct {
	mu    sync.Mutex
	calls []hookCall
}

func (rec *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rec.mu.Lock()
	rec.calls = append(rec.calls, hookCall{at: time.Now(), path: r.URL.Path, body: body})
	rec.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, `{"ok":true,"result":{}}`)
}

// received returns the calls to path so far.
func (rec *recorder) received(path string) []hookCall {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	var out []hookCall
	for _, c := range rec.calls {
		if c.path == path {
			out = append(out, c)
		}
	}
	return out
}

// waitCall waits for the first call to path and returns its body.
func (rec *recorder) waitCall(t *testing.T, path string) []byte {
	t.Helper()
	eventually(t, 30*time.Second, 100*time.Millisecond, "a request to "+path, func() error {
		if len(rec.received(path)) == 0 {
			return errors.New("none yet")
		}
		return nil
	})
	return rec.received(path)[0].body
}

// startAlertmanagerConfig starts the Debian Alertmanager with configYAML.
func startAlertmanagerConfig(t *testing.T, configYAML string) *proc {
	t.Helper()
	requirePeer(t, alertmanagerBinary, "prometheus-alertmanager")
	dir := t.TempDir()
	cfg := writeTemp(t, "am.yml", configYAML)
	return startProc(t, "alertmanager", alertmanagerBinary, dir, func(addr string) []string {
		return []string{"--config.file=" + cfg, "--storage.path=" + filepath.Join(dir, "data"),
			"--web.listen-address=" + addr, "--cluster.listen-address=", "--log.level=warn"}
	})
}

// startGMCNotify starts gmc without default rules and with notifyYAML (an
// Alertmanager-shaped config) under notify:.
func startGMCNotify(t *testing.T, notifyYAML string) *proc {
	t.Helper()
	return startGMC(t, t.TempDir(), "alerting:\n  default_rules: false\nnotify:\n"+indent(notifyYAML, "  "))
}

// postAlerts sends alerts to base's POST /api/v2/alerts, as Prometheus does.
func postAlerts(t *testing.T, base string, alerts []map[string]any) {
	t.Helper()
	body, err := json.Marshal(alerts)
	must(t, err, "encode alerts")
	code, answer, err := post(context.Background(), httpClient(), base+"/api/v2/alerts", "application/json", nil, body)
	must(t, err, "POST %s/api/v2/alerts", base)
	if code != http.StatusOK {
		t.Fatalf("POST %s/api/v2/alerts: %d %s", base, code, answer)
	}
}

// amtoolRender renders text with `amtool template render` against the
// template data in dataPath, with Alertmanager's default templates and the
// files of globs.
func amtoolRender(t *testing.T, dataPath, text string, html bool, globs ...string) string {
	t.Helper()
	requirePeer(t, amtoolBinary, "prometheus-alertmanager")
	args := []string{"template", "render", "--template.glob=" + amDefaultTemplates, "--template.data=" + dataPath, "--template.text=" + text}
	for _, g := range globs {
		args = append(args, "--template.glob="+g)
	}
	if html {
		args = append(args, "--template.type=html")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var stderr strings.Builder
	cmd := exec.CommandContext(ctx, amtoolBinary, args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("amtool template render %q: %v: %s", text, err, stderr.String())
	}
	return string(out)
}

// mailbox is an SMTP server on 127.0.0.1 that keeps every message.
type mailbox struct {
	mu   sync.Mutex
	msgs [][]byte
}

func (m *mailbox) NewSession(*smtp.Conn) (smtp.Session, error) { return &mailSession{box: m}, nil }

func (m *mailbox) messages() [][]byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([][]byte(nil), m.msgs...)
}

type mailSession struct{ box *mailbox }

func (s *mailSession) Mail(string, *smtp.MailOptions) error { return nil }
func (s *mailSession) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (s *mailSession) Reset()                               {}
func (s *mailSession) Logout() error                        { return nil }
func (s *mailSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.box.mu.Lock()
	s.box.msgs = append(s.box.msgs, b)
	s.box.mu.Unlock()
	return nil
}

// startSMTP serves a mailbox on 127.0.0.1 (no TLS) until the test ends.
func startSMTP(t *testing.T) (*mailbox, string) {
	t.Helper()
	box := &mailbox{}
	srv := smtp.NewServer(box)
	srv.Domain = "127.0.0.1"
	srv.ErrorLog = log.New(io.Discard, "", 0)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err, "listen for smtp")
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return box, ln.Addr().String()
}

// mailParts is a received e-mail: its decoded Subject and its parts by
// media type, line ends as LF.
func mailParts(t *testing.T, raw []byte) (string, map[string]string) {
	t.Helper()
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	must(t, err, "parse mail %q", raw)
	subject, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	must(t, err, "decode subject")
	parts := map[string]string{}
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	must(t, err, "content type")
	lf := func(b []byte) string { return strings.ReplaceAll(string(b), "\r\n", "\n") }
	if !strings.HasPrefix(mt, "multipart/") {
		b, _ := io.ReadAll(msg.Body)
		parts[mt] = lf(b)
		return subject, parts
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := mr.NextPart() // decodes quoted-printable
		if errors.Is(err, io.EOF) {
			break
		}
		must(t, err, "mail part")
		pt, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		b, err := io.ReadAll(p)
		must(t, err, "read part")
		parts[pt] = lf(b)
	}
	return subject, parts
}

// deskTemplates is a user template file using Alertmanager 0.25's functions.
const deskTemplates = `{{ define "desk.title" }}[{{ .Status | toUpper }}{{ if eq .Status "firing" }}:{{ .Alerts.Firing | len }}{{ end }}] {{ .GroupLabels.alertname }} on {{ .CommonLabels.service | title }}{{ end }}
{{ define "desk.text" }}{{ range .Alerts }}* {{ .Labels.severity | toUpper }} {{ .Annotations.summary }} (since {{ .StartsAt.Format "2006-01-02 15:04:05 MST" }}, fp {{ .Fingerprint }}, {{ .GeneratorURL }})
{{ end }}{{ join ", " .CommonLabels.SortedPairs.Values }} | {{ reReplaceAll "-([a-z]+)" "_$1" .CommonLabels.service }} | {{ if match "^matching" .CommonLabels.service }}engine{{ else }}other{{ end }} | {{ .CommonLabels.Remove .GroupLabels.Names | len }} | {{ .ExternalURL }} | {{ .Receiver | toLower }}{{ end }}
{{ define "desk.html" }}<h1>{{ template "desk.title" . }}</h1>{{ range .Alerts }}<p>{{ .Annotations.summary }}</p><div>{{ .Annotations.detail | safeHtml }}</div>{{ end }}{{ end }}
`

// TestCompatNotifyTemplates sends one alert to gmc, whose Slack, Telegram and
// e-mail receivers use user and default templates, and renders each
// template with amtool 0.25 on the same alert's template data: the texts
// must be equal.
func TestCompatNotifyTemplates(t *testing.T) {
	requirePeer(t, amtoolBinary, "prometheus-alertmanager")
	dir := t.TempDir()
	tmplPath := filepath.Join(dir, "desk.tmpl")
	must(t, writeFile(tmplPath, deskTemplates), "write templates")
	rec := &recorder{}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	box, smtpAddr := startSMTP(t)

	const (
		slackTitle = `{{ template "desk.title" . }}`
		slackText  = `{{ template "desk.text" . }}`
		deskHTML   = `{{ template "desk.html" . }}`
	)
	gmc := startGMCNotify(t, fmt.Sprintf(`templates: [%q]
route: {receiver: Desk, group_by: [alertname], group_wait: 0s, group_interval: 1s, repeat_interval: 1h}
receivers:
  - name: Desk
    slack_configs:
      - {webhook_url: %q, title: %q, text: %q}
      - {webhook_url: %q, title: '{{ template "slack.default.title" . }}', text: '{{ template "slack.default.text" . }}'}
    telegram_configs:
      - {bot_token: "123:abc", chat_id: 42, api_url: %q, message: %q, parse_mode: HTML}
      - {bot_token: "456:def", chat_id: 42, api_url: %q, message: '{{ template "telegram.default.message" . }}'}
    email_configs:
      - {smarthost: %q, from: gmc@desk.test, to: ops@desk.test, require_tls: false, headers: {Subject: %q}, html: %q, text: %q}
      - {smarthost: %q, from: gmc@desk.test, to: dflt@desk.test, require_tls: false, headers: {Subject: '{{ template "email.default.subject" . }}'}, html: '{{ template "email.default.html" . }}'}
`, tmplPath, srv.URL+"/slack/user", slackTitle, slackText, srv.URL+"/slack/default",
		srv.URL, `{{ template "desk.title" . }}`+"\n"+slackText, srv.URL,
		smtpAddr, slackTitle, deskHTML, slackText, smtpAddr))

	labels := map[string]string{"alertname": "OrderLatencyHigh", "service": "matching-engine", "severity": "page", "venue": "xnas"}
	annotations := map[string]string{"summary": "p99 612µs > 500µs & rising", "detail": "<b>book depth</b> <i>thin</i>"}
	startsAt := time.Now().Add(-10 * time.Minute).UTC().Truncate(time.Second)
	generatorURL := "http://prometheus.desk.test/graph?g0.expr=latency"
	postAlerts(t, gmc.URL(), []map[string]any{{"labels": labels, "annotations": annotations, "startsAt": startsAt, "generatorURL": generatorURL}})

	// The same alert as Alertmanager's template data.
	ls := model.LabelSet{}
	for k, v := range labels {
		ls[model.LabelName(k)] = model.LabelValue(v)
	}
	data, err := json.Marshal(map[string]any{
		"receiver": "Desk", "status": "firing",
		"alerts": []map[string]any{{"status": "firing", "labels": labels, "annotations": annotations, "startsAt": startsAt,
			"endsAt": time.Time{}, "generatorURL": generatorURL, "fingerprint": ls.Fingerprint().String()}},
		"groupLabels": map[string]string{"alertname": labels["alertname"]}, "commonLabels": labels,
		"commonAnnotations": annotations, "externalURL": gmc.URL(),
	})
	must(t, err, "encode template data")
	dataPath := filepath.Join(dir, "data.json")
	must(t, writeFile(dataPath, string(data)), "write template data")
	render := func(text string, html bool) string { return amtoolRender(t, dataPath, text, html, tmplPath) }
	equal := func(t *testing.T, what, want, got string) {
		t.Helper()
		if want != got {
			t.Errorf("%s differs\namtool: %q\ngmc:    %q", what, want, got)
		}
	}
	slack := func(t *testing.T, path string) (string, string) {
		var m struct {
			Attachments []struct{ Title, Text string } `json:"attachments"`
		}
		must(t, json.Unmarshal(rec.waitCall(t, path), &m), "decode slack message")
		if len(m.Attachments) != 1 {
			t.Fatalf("slack message with %d attachments", len(m.Attachments))
		}
		return m.Attachments[0].Title, m.Attachments[0].Text
	}
	telegram := func(t *testing.T, token string) string {
		var m struct{ Text, ParseMode string }
		must(t, json.Unmarshal(rec.waitCall(t, "/bot"+token+"/sendMessage"), &m), "decode telegram message")
		return m.Text
	}
	email := func(t *testing.T, to string) (string, map[string]string) {
		var raw []byte
		eventually(t, 30*time.Second, 100*time.Millisecond, "a mail to "+to, func() error {
			for _, m := range box.messages() {
				if bytes.Contains(m, []byte("To: "+to)) {
					raw = m
					return nil
				}
			}
			return errors.New("none yet")
		})
		return mailParts(t, raw)
	}

	compat(t, "amtool template render", "slack_configs title and text from a user template file (toUpper, title, join, reReplaceAll, match, SortedPairs, Remove, Format)",
		"gmc's Slack attachment carries exactly amtool 0.25's rendering", func(t *testing.T) {
			title, text := slack(t, "/slack/user")
			equal(t, "title", render(slackTitle, false), title)
			equal(t, "text", render(slackText, false), text)
		})
	compat(t, "amtool template render", `slack_configs title and text "slack.default.title", "slack.default.text"`,
		"the same as amtool 0.25 with Alertmanager 0.25's default templates", func(t *testing.T) {
			title, text := slack(t, "/slack/default")
			equal(t, "title", render(`{{ template "slack.default.title" . }}`, false), title)
			equal(t, "text", render(`{{ template "slack.default.text" . }}`, false), text)
		})
	compat(t, "amtool template render", "telegram_configs message from a user template",
		"gmc's sendMessage text is exactly amtool 0.25's rendering", func(t *testing.T) {
			equal(t, "message", render(`{{ template "desk.title" . }}`+"\n"+slackText, false), telegram(t, "123:abc"))
		})
	compat(t, "amtool template render", `telegram_configs message "telegram.default.message"`,
		"the same as amtool 0.25 with Alertmanager 0.25's default templates", func(t *testing.T) {
			equal(t, "message", render(`{{ template "telegram.default.message" . }}`, false), telegram(t, "456:def"))
		})
	compat(t, "amtool template render", "email_configs Subject header, html (--template.type=html: escaping, safeHtml) and text from user templates",
		"gmc's mail has amtool 0.25's subject, HTML part and text part (line ends CRLF on the wire)", func(t *testing.T) {
			subject, parts := email(t, "ops@desk.test")
			equal(t, "Subject", render(slackTitle, false), subject)
			equal(t, "text/html", render(deskHTML, true), parts["text/html"])
			equal(t, "text/plain", render(slackText, false), parts["text/plain"])
		})
	compat(t, "amtool template render", `email_configs Subject "email.default.subject", html "email.default.html"`,
		"the same as amtool 0.25 with Alertmanager 0.25's default templates, but for the one later change in the Alertmanager v0.35 defaults gmc ships: the body's schema.org itemtype is https", func(t *testing.T) {
			subject, parts := email(t, "dflt@desk.test")
			equal(t, "Subject", render(`{{ template "email.default.subject" . }}`, false), subject)
			want := render(`{{ template "email.default.html" . }}`, true)
			const v025, v035 = `itemtype="http://schema.org/EmailMessage"`, `itemtype="https://schema.org/EmailMessage"`
			if !strings.Contains(want, v025) {
				t.Fatalf("amtool's email.default.html lacks %s: the known difference changed", v025)
			}
			equal(t, "text/html", strings.Replace(want, v025, v035, 1), parts["text/html"])
		})
}

// writeFile writes data to path.
func writeFile(path, data string) error { return os.WriteFile(path, []byte(data), 0o644) }

// intervalZone picks a location whose local time is between 02:00 and
// 21:00 at now, so that intervals of a few hours around now stay within
// one local day (Alertmanager's times cannot cross midnight).
func intervalZone(t *testing.T, now time.Time) *time.Location {
	t.Helper()
	for _, name := range []string{"Asia/Tokyo", "Europe/London", "America/New_York"} {
		loc, err := time.LoadLocation(name)
		must(t, err, "load location %s", name)
		if h := now.In(loc).Hour(); h >= 2 && h < 21 {
			return loc
		}
	}
	t.Fatalf("no zone with a local time between 02:00 and 21:00 at %s", now)
	return nil
}

// alertnamesOf returns the alertnames in webhook payloads received at path,
// with the time of the first payload naming each.
func alertnamesOf(rec *recorder, path string) map[string]time.Time {
	out := map[string]time.Time{}
	for _, c := range rec.received(path) {
		var m struct {
			Alerts []struct {
				Labels map[string]string `json:"labels"`
			} `json:"alerts"`
		}
		if json.Unmarshal(c.body, &m) != nil {
			continue
		}
		for _, a := range m.Alerts {
			if _, ok := out[a.Labels["alertname"]]; !ok {
				out[a.Labels["alertname"]] = c.at
			}
		}
	}
	return out
}

// TestCompatNotifyTimeIntervals gives a real Alertmanager 0.25 and gmc the
// same time_intervals and routes (intervals chosen around the current time:
// neither allows a fake clock) and the same alerts, and compares what each
// delivers to a webhook receiver.
func TestCompatNotifyTimeIntervals(t *testing.T) {
	requirePeer(t, alertmanagerBinary, "prometheus-alertmanager")
	rec := &recorder{}
	srv := httptest.NewServer(rec)
	defer srv.Close()

	now := time.Now()
	loc := intervalZone(t, now)
	local := now.In(loc)
	hhmm := func(t time.Time) string { return t.Format("15:04") }
	// The mute of "MutedUntilSoon" ends at a minute boundary 90–150 s away:
	// time enough for both to start and show it held.
	end := local.Truncate(time.Minute).Add(2 * time.Minute)
	if local.Second() >= 30 {
		end = end.Add(time.Minute)
	}
	cfg := fmt.Sprintf(`route:
  receiver: hook
  group_by: [alertname]
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 1h
  routes:
    - {receiver: hook, matchers: ['alertname="MutedNow"'], mute_time_intervals: [now]}
    - {receiver: hook, matchers: ['alertname="MutedLater"'], mute_time_intervals: [later]}
    - {receiver: hook, matchers: ['alertname="ActiveNow"'], active_time_intervals: [now]}
    - {receiver: hook, matchers: ['alertname="ActiveLater"'], active_time_intervals: [later]}
    - {receiver: hook, matchers: ['alertname="MutedUntilSoon"'], mute_time_intervals: [until_soon]}
receivers:
  - name: hook
    webhook_configs: [{url: '%%s'}]
time_intervals:
  - name: now
    time_intervals:
      - {weekdays: [%s], times: [{start_time: '%s', end_time: '%s'}], location: %s}
  - name: later
    time_intervals:
      - {weekdays: [%s], location: %s}
      - {years: ['%d'], location: %s}
  - name: until_soon
    time_intervals:
      - {times: [{start_time: '%s', end_time: '%s'}], location: %s}
`, strings.ToLower(local.Weekday().String()), hhmm(local.Add(-time.Hour)), hhmm(local.Add(time.Hour)), loc,
		strings.ToLower(local.AddDate(0, 0, 3).Weekday().String()), loc, local.Year()+1, loc,
		hhmm(local.Add(-time.Hour)), hhmm(end), loc)
	am := startAlertmanagerConfig(t, fmt.Sprintf(cfg, srv.URL+"/am"))
	gmc := startGMCNotify(t, fmt.Sprintf(cfg, srv.URL+"/gmc"))
	var alerts []map[string]any
	for _, name := range []string{"MutedNow", "MutedLater", "ActiveNow", "ActiveLater", "MutedUntilSoon"} {
		alerts = append(alerts, map[string]any{"labels": map[string]string{"alertname": name, "service": "x"}})
	}
	for _, base := range []string{am.URL(), gmc.URL()} {
		postAlerts(t, base, alerts)
	}
	t.Logf("intervals in %s around %s; until_soon ends at %s", loc, hhmm(local), hhmm(end))

	delivered := func(t *testing.T, name string) {
		eventually(t, 30*time.Second, 100*time.Millisecond, name+" delivered by both", func() error {
			_, a := alertnamesOf(rec, "/am")[name]
			_, g := alertnamesOf(rec, "/gmc")[name]
			if !a || !g {
				return fmt.Errorf("Alertmanager delivered it: %v, gmc: %v", a, g)
			}
			return nil
		})
	}
	notDelivered := func(t *testing.T, name string) {
		_, a := alertnamesOf(rec, "/am")[name]
		_, g := alertnamesOf(rec, "/gmc")[name]
		if a || g {
			t.Fatalf("%s delivered by Alertmanager: %v, by gmc: %v", name, a, g)
		}
	}
	const client = "Alertmanager 0.25, same config"
	compat(t, client, "mute_time_intervals not holding now (weekdays, years, location)", "both deliver", func(t *testing.T) {
		delivered(t, "MutedLater")
	})
	compat(t, client, "active_time_intervals holding now (weekdays, times, location)", "both deliver", func(t *testing.T) {
		delivered(t, "ActiveNow")
	})
	compat(t, client, "mute_time_intervals ending at the next minute but one: the same alert muted, then not",
		"both hold it until the interval ends, then both deliver it", func(t *testing.T) {
			endAt := end
			eventually(t, time.Until(endAt)+45*time.Second, 200*time.Millisecond, "MutedUntilSoon after "+endAt.String(), func() error {
				a, aok := alertnamesOf(rec, "/am")["MutedUntilSoon"]
				g, gok := alertnamesOf(rec, "/gmc")["MutedUntilSoon"]
				if (aok && a.Before(endAt)) || (gok && g.Before(endAt)) {
					t.Fatalf("delivered while muted (until %s): Alertmanager at %v, gmc at %v", endAt, a, g)
				}
				if !aok || !gok {
					return fmt.Errorf("Alertmanager delivered it: %v, gmc: %v", aok, gok)
				}
				t.Logf("delivered after the mute ended: Alertmanager +%s, gmc +%s", a.Sub(endAt).Round(time.Millisecond), g.Sub(endAt).Round(time.Millisecond))
				return nil
			})
		})
	// Both have had over a minute to deliver these.
	compat(t, client, "mute_time_intervals holding now (weekdays, times, location)", "neither delivers", func(t *testing.T) {
		notDelivered(t, "MutedNow")
	})
	compat(t, client, "active_time_intervals not holding now (weekdays, years, location)", "neither delivers", func(t *testing.T) {
		notDelivered(t, "ActiveLater")
	})
}

// webhookBodies returns the decoded JSON bodies received at path with
// externalURL removed (each side's own address), in arrival order.
func webhookBodies(t *testing.T, rec *recorder, path string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, c := range rec.received(path) {
		var m map[string]any
		must(t, json.Unmarshal(c.body, &m), "decode webhook body %s", c.body)
		delete(m, "externalURL")
		out = append(out, m)
	}
	return out
}

// firstWithStatus waits until both paths received a body with status and
// returns the first such body of each, as indented JSON.
func firstWithStatus(t *testing.T, rec *recorder, status string, paths ...string) []string {
	t.Helper()
	out := make([]string, len(paths))
	eventually(t, 30*time.Second, 100*time.Millisecond, "a "+status+" notification at "+strings.Join(paths, " and "), func() error {
		for i, p := range paths {
			out[i] = ""
			for _, b := range webhookBodies(t, rec, p) {
				if b["status"] == status {
					j, err := json.MarshalIndent(b, "", "  ")
					must(t, err, "encode")
					out[i] = string(j)
					break
				}
			}
			if out[i] == "" {
				return fmt.Errorf("none at %s yet", p)
			}
		}
		return nil
	})
	return out
}

// TestCompatNotifyWebhook sends the same alerts through a real Alertmanager
// 0.25 and gmc to one webhook receiver and requires the same JSON bodies,
// but for externalURL (each one's own address).
func TestCompatNotifyWebhook(t *testing.T) {
	requirePeer(t, alertmanagerBinary, "prometheus-alertmanager")
	rec := &recorder{}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	// group_wait 2s: Alertmanager takes the alerts of one POST one by one
	// and with 0s could notify the first alone.
	const cfg = `route: {receiver: desk-hook, group_by: [alertname, service], group_wait: 2s, group_interval: 1s, repeat_interval: 1h}
receivers:
  - name: desk-hook
    webhook_configs:
      - {url: '%[1]s/full', send_resolved: true}
      - {url: '%[1]s/trunc', send_resolved: true, max_alerts: 2}
`
	am := startAlertmanagerConfig(t, fmt.Sprintf(cfg, srv.URL+"/am"))
	gmc := startGMCNotify(t, fmt.Sprintf(cfg, srv.URL+"/gmc"))
	// startsAt now: Alertmanager flushes a new group at once when its first
	// alert started more than group_wait ago, and then sent me-2 alone
	// whenever the flush ran before the POST's two other alerts were in
	// (a CI run on a busy machine).
	startsAt := time.Now().UTC().Truncate(time.Millisecond)
	alerts := func(endsAt *time.Time) []map[string]any {
		var out []map[string]any
		for _, inst := range []string{"me-2", "me-1", "me-3"} {
			a := map[string]any{
				"labels":       map[string]string{"alertname": "PayloadTest", "service": "matching-engine", "instance": inst, "severity": "page"},
				"annotations":  map[string]string{"summary": "latency high on " + inst, "runbook": "https://runbooks.desk.test/latency"},
				"startsAt":     startsAt,
				"generatorURL": "http://prometheus.desk.test/graph?g0.expr=up",
			}
			if endsAt != nil {
				a["endsAt"] = *endsAt
			}
			out = append(out, a)
		}
		return out
	}
	for _, base := range []string{am.URL(), gmc.URL()} {
		postAlerts(t, base, alerts(nil))
	}
	same := func(t *testing.T, bodies []string) {
		t.Helper()
		if bodies[0] != bodies[1] {
			t.Fatalf("bodies differ\nAlertmanager: %s\ngmc:          %s", bodies[0], bodies[1])
		}
		t.Logf("both sent %s", bodies[0])
	}
	const client = "Alertmanager 0.25 webhook_configs, same alerts"
	compat(t, client, "firing notification of a group of 3 alerts",
		`the same JSON body (version "4", groupKey, truncatedAlerts 0, status, receiver, groupLabels, commonLabels, commonAnnotations, alerts with labels, annotations, startsAt, endsAt, generatorURL, fingerprint, in the same order); only externalURL differs`,
		func(t *testing.T) {
			same(t, firstWithStatus(t, rec, "firing", "/am/full", "/gmc/full"))
		})
	compat(t, client, "max_alerts: 2 on that group", "the same body: the same 2 alerts, truncatedAlerts 1", func(t *testing.T) {
		same(t, firstWithStatus(t, rec, "firing", "/am/trunc", "/gmc/trunc"))
	})
	compat(t, client, "the alerts resolved (endsAt in the past), send_resolved", "the same body with status resolved and each alert's endsAt", func(t *testing.T) {
		endsAt := time.Now().Add(-time.Second).UTC().Truncate(time.Millisecond)
		for _, base := range []string{am.URL(), gmc.URL()} {
			postAlerts(t, base, alerts(&endsAt))
		}
		same(t, firstWithStatus(t, rec, "resolved", "/am/full", "/gmc/full"))
	})
	compat(t, "amtool check-config", "webhook_configs with a template field (message:)",
		"refused by amtool 0.25 and by gmc check config, both naming the field: Alertmanager's webhook has no template, its body is always this JSON payload",
		func(t *testing.T) {
			bad := fmt.Sprintf(cfg, srv.URL) + "      - {url: 'http://127.0.0.1:1/', message: '{{ .Status }}'}\n"
			amOut, amErr := exec.Command(amtoolBinary, "check-config", writeTemp(t, "am.yml", bad)).CombinedOutput()
			gmcOut, gmcErr := exec.Command(gmcBinary, "check", "config",
				writeTemp(t, "gmc.yml", "notify:\n"+indent(bad, "  "))).CombinedOutput()
			if amErr == nil || gmcErr == nil || !bytes.Contains(amOut, []byte("message")) || !bytes.Contains(gmcOut, []byte("message")) {
				t.Fatalf("amtool check-config: %v\n%s\ngmc check config: %v\n%s", amErr, amOut, gmcErr, gmcOut)
			}
		})
}
