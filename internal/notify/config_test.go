package notify

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"gopkg.in/yaml.v3"

	"github.com/gmc-dev/gmc/internal/notify/telegram"
)

const fullYAML = `
global: {resolve_timeout: 2m}
route:
  receiver: ops
  group_by: [alertname, service]
  routes:
    - receiver: pager
      matchers: ['severity="page"']
      group_wait: 0s
      group_interval: 10s
      repeat_interval: 30m
receivers:
  - name: ops
    slack_configs:
      - webhook_url: https://hooks.slack.example/services/T0/B0/TOKENSLACK
        channel: '#alerts'
    email_configs:
      - smarthost: smtp.example:587
        from: gmc@example.com
        to: ops@example.com
        auth_username: gmc@example.com
        auth_password: PASSWORDSMTP
  - name: pager
    telegram_configs:
      - bot_token: 123:TOKENTELEGRAM
        chat_id: -100
    webhook_configs:
      - url: https://hooks.example/TOKENWEBHOOK
        send_resolved: false
    alertmanager_configs:
      - url: http://127.0.0.1:9093
`

func TestLoadConfigDefaultsAndInheritance(t *testing.T) {
	c, err := LoadConfig([]byte(fullYAML))
	if err != nil {
		t.Fatal(err)
	}
	if time.Duration(*c.Route.GroupWait) != DefaultGroupWait || time.Duration(*c.Route.RepeatInterval) != DefaultRepeatInterval {
		t.Errorf("root defaults: %v %v", *c.Route.GroupWait, *c.Route.RepeatInterval)
	}
	if c.Receivers[1].TelegramConfigs[0].APIURL != "https://api.telegram.org" {
		t.Errorf("telegram api_url default %q", c.Receivers[1].TelegramConfigs[0].APIURL)
	}
	if sl := c.Receivers[0].SlackConfigs[0]; sl.APIURL != "https://hooks.slack.example/services/T0/B0/TOKENSLACK" || sl.WebhookURL != "" {
		t.Errorf("slack webhook_url (gmc's earlier name) not read as api_url: %+v", sl)
	}
	if y := c.String(); !strings.Contains(y, "api_url: <secret>") || strings.Contains(y, "webhook_url") {
		t.Errorf("config not written with Alertmanager's slack api_url:\n%s", y)
	}
	root := newRoute(&c.Route, nil, 0)
	page := root.children[0]
	if page.receiver != "pager" || page.groupWait != 0 || page.groupInterval != 10*time.Second || page.repeatInterval != 30*time.Minute {
		t.Errorf("page route %+v", page)
	}
	if _, ok := page.groupBy["service"]; !ok {
		t.Errorf("group_by not inherited: %v", page.groupBy)
	}
	if got := root.match(model.LabelSet{"alertname": "X"}); len(got) != 1 || got[0] != root {
		t.Errorf("unmatched alert routed to %v", got)
	}
	if got := root.match(model.LabelSet{"alertname": "X", "severity": "page"}); len(got) != 1 || got[0] != page {
		t.Errorf("page alert routed to %v", got)
	}
}

func TestSecretsRedacted(t *testing.T) {
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenFile, []byte("123:TOKENFROMFILE\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := LoadConfig([]byte(fullYAML))
	if err != nil {
		t.Fatal(err)
	}
	c.Receivers[1].TelegramConfigs = append(c.Receivers[1].TelegramConfigs, telegramWithFile(tokenFile))
	js, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	for name, shown := range map[string]string{"yaml": c.String(), "json": strings.NewReplacer(`\u003c`, "<", `\u003e`, ">").Replace(string(js))} {
		for _, secret := range []string{"TOKENSLACK", "PASSWORDSMTP", "TOKENTELEGRAM", "TOKENWEBHOOK", "TOKENFROMFILE"} {
			if strings.Contains(shown, secret) {
				t.Errorf("%s shows secret %s:\n%s", name, secret, shown)
			}
		}
		if strings.Count(shown, "<secret>") != 4 {
			t.Errorf("%s: want 4 <secret>, got:\n%s", name, shown)
		}
		if !strings.Contains(shown, "smtp.example:587") || !strings.Contains(shown, "http://127.0.0.1:9093") {
			t.Errorf("%s lost non-secret fields:\n%s", name, shown)
		}
	}
	// A secret from a file is used by the channel.
	d, err := New(Options{Config: c})
	if err != nil {
		t.Fatalf("new with bot_token_file: %v", err)
	}
	if n := len(d.cur.Load().recv["pager"].grouped); n != 3 {
		t.Errorf("pager channels %d, want 3", n)
	}
}

func telegramWithFile(file string) telegram.Config {
	return telegram.Config{BotTokenFile: file, ChatID: 7}
}

func TestValidateNamesField(t *testing.T) {
	for _, tc := range []struct{ yml, want string }{
		{`route: {receiver: nope}
receivers: [{name: a}]`, `route.receiver: no receiver named "nope"`},
		{`receivers: [{name: a}]`, `route.receiver: the root route must name a receiver`},
		{`route: {receiver: a, routes: [{matchers: ['severity=~"(']}]}
receivers: [{name: a}]`, `matchers: line 1`},
		{`route: {receiver: a, routes: [{receiver: b}]}
receivers: [{name: a}]`, `route.routes[0].receiver: no receiver named "b"`},
		{`route: {receiver: a, group_by: [alertname, "bad-name"]}
receivers: [{name: a}]`, `route.group_by: "bad-name" is not a label name`},
		{`route: {receiver: a, group_interval: 0s}
receivers: [{name: a}]`, `route.group_interval: must be positive`},
		{`route: {receiver: a}
receivers: [{name: a}, {name: a}]`, `receivers[1].name: receiver "a" is defined twice`},
		{`route: {receiver: a}
receivers: [{name: a, slack_configs: [{channel: x}]}]`, `receivers[0] (a).slack_configs[0].api_url: must be set (or api_url_file)`},
		{`route: {receiver: a}
receivers: [{name: a, slack_configs: [{api_url: "http://127.0.0.1:1/a", webhook_url: "http://127.0.0.1:1/b"}]}]`, `receivers[0] (a).slack_configs[0].webhook_url: gmc's earlier name for api_url`},
		{`route: {receiver: a}
receivers: [{name: a, webhook_configs: [{url: "not a url"}]}]`, `receivers[0] (a).webhook_configs[0].url: not an http(s) URL`},
		{`route: {receiver: a}
receivers: [{name: a, alertmanager_configs: [{url: ""}]}]`, `receivers[0] (a).alertmanager_configs[0].url: "" is not an http(s) URL`},
		{`route: {receiver: a}
receivers: [{name: a, email_configs: [{smarthost: "x:25", from: a@b, to: c@d, auth_password: p}]}]`, `receivers[0] (a).email_configs[0].auth_username: must be set with auth_password`},
		{`route: {receiver: a, typo: 1}
receivers: [{name: a}]`, `field typo not found`},
	} {
		_, err := LoadConfig([]byte(tc.yml))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s\n  err %v\n want %q", tc.yml, err, tc.want)
		}
	}
	if _, err := LoadConfig(nil); err != nil {
		t.Errorf("empty config (notifications off) rejected: %v", err)
	}
}

// Validate checks and never changes the config, normalised or not; the
// defaults come from Normalise alone.
func TestValidateDoesNotMutate(t *testing.T) {
	decode := func() Config {
		var c Config
		if err := yaml.Unmarshal([]byte(fullYAML), &c); err != nil {
			t.Fatal(err)
		}
		return c
	}
	raw, want := decode(), decode()
	_ = raw.Validate() // telegram's api_url is unset: invalid until normalised
	if !reflect.DeepEqual(raw, want) {
		t.Errorf("Validate changed a raw config:\n%s\nwant\n%s", raw, want)
	}
	norm, want := decode(), decode()
	norm.Normalise()
	want.Normalise()
	if err := norm.Validate(); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(norm, want) {
		t.Errorf("Validate changed a normalised config:\n%s\nwant\n%s", norm, want)
	}
	if want.Route.GroupWait == nil || want.Receivers[1].TelegramConfigs[0].APIURL != telegram.DefaultAPIURL || want.InhibitRules == nil {
		t.Errorf("Normalise left defaults unset: %s", want)
	}
}
