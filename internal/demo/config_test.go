package demo

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/common/model"

	"github.com/gmc-dev/gmc/internal/notify"
	"github.com/gmc-dev/gmc/internal/sla"
)

// TestConfigReceivers checks that the env variables add the real
// channels beside the console webhook, and that a half-set Telegram is an
// error naming both variables.
func TestConfigReceivers(t *testing.T) {
	env := map[string]string{
		EnvSlackURL: "https://hooks.slack.example/T0/B0/x", EnvTelegramToken: "123:abc", EnvTelegramChat: "-1001",
		EnvSMTPHost: "smtp.example.com:587", EnvSMTPFrom: "gmc@example.com", EnvSMTPTo: "ops@example.com",
		EnvSMTPUser: "gmc", EnvSMTPPassword: "pw",
	}
	p := ConfigParams{
		Listen: "127.0.0.1:0", DataDir: t.TempDir(), MarketData: "127.0.0.1:9", ReceiverURL: "http://127.0.0.1:8/",
		BenchEvery: time.Minute, EvalInterval: 5 * time.Second, Getenv: func(k string) string { return env[k] },
		GatewayURL: "http://127.0.0.1:9910/orders",
	}
	cfg, channels, err := Config(p)
	if err != nil {
		t.Fatal(err)
	}
	if want := "[console (webhook http://127.0.0.1:8/) Slack Telegram e-mail to ops@example.com]"; fmt.Sprint(channels) != want {
		t.Errorf("channels %v, want %s", channels, want)
	}
	r := cfg.Notify.Receivers[0]
	if len(r.WebhookConfigs) != 1 || len(r.SlackConfigs) != 1 || len(r.TelegramConfigs) != 1 || r.TelegramConfigs[0].ChatID != -1001 || len(r.EmailConfigs) != 1 {
		t.Errorf("receiver %+v", r)
	}
	if len(cfg.SLAs) != 2 || cfg.SLAs[0].Objective != 99 || cfg.SLAs[1].Objective != 99.99 || !cfg.Alerting.DefaultRules {
		t.Errorf("SLAs %+v, default rules %v", cfg.SLAs, cfg.Alerting.DefaultRules)
	}
	if n := len(cfg.Benchmarks.Suite); n != 5 || cfg.Benchmarks.Suite[4].HTTP == nil || cfg.Benchmarks.Suite[4].HTTP.URL != p.GatewayURL {
		t.Errorf("%d benchmarks (want 4 and the order gateway's): %+v", n, cfg.Benchmarks.Suite)
	}
	env[EnvTelegramChat] = "not-a-number"
	if _, _, err := Config(p); err == nil || !strings.Contains(err.Error(), EnvTelegramChat) {
		t.Errorf("bad chat id: error %v", err)
	}
}

// burnRecorder records the firing alerts of each notification.
type burnRecorder struct {
	mu  sync.Mutex
	got [][]string // per notification: the long windows of its firing alerts
}

func (r *burnRecorder) Notify(_ context.Context, n *notify.Notification) error {
	var ws []string
	for _, a := range n.Alerts {
		if a.Status == "firing" {
			ws = append(ws, string(a.Labels["long_window"]))
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, ws)
	return nil
}

// TestConfigOneBurnOnePage: the demo's route had no group_wait, so when an
// errors incident made an SLA's slower burn alert (6h and 30m) fire a second
// before the faster one (1h and 5m) that mutes it, the slower paged alone and
// the faster 5 s later: two pages for one incident (t-user12 F14). The burn
// alerts wait in their group as the latency alerts do: one page, the fast
// burn, the slow one muted.
func TestConfigOneBurnOnePage(t *testing.T) {
	p := ConfigParams{
		Listen: "127.0.0.1:0", DataDir: t.TempDir(), MarketData: "127.0.0.1:9", ReceiverURL: "http://127.0.0.1:8/",
		BenchEvery: time.Minute, EvalInterval: 5 * time.Second, Getenv: func(string) string { return "" },
		GatewayURL: "http://127.0.0.1:9910/orders",
	}
	cfg, _, err := Config(p)
	if err != nil {
		t.Fatal(err)
	}
	rec := &burnRecorder{}
	d, err := notify.New(notify.Options{Config: cfg.Notify, Notifiers: map[string][]notify.Notifier{"demo": {rec}}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	burn := func(long, short string) *model.Alert {
		now := time.Now()
		return &model.Alert{Labels: model.LabelSet{"alertname": model.LabelValue(sla.AlertName), "sla": "order-success", "service": ServiceGateway,
			"severity": "page", "long_window": model.LabelValue(long), "short_window": model.LabelValue(short)},
			StartsAt: now, EndsAt: now.Add(time.Hour)}
	}
	d.Send(burn("6h", "30m"))
	time.Sleep(time.Second) // the faster burn's evaluation, a second later
	d.Send(burn("1h", "5m"))
	// Past the group's wait and two of its intervals: nothing more comes.
	time.Sleep(15 * time.Second)
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.got) != 1 || fmt.Sprint(rec.got[0]) != "[1h]" {
		t.Errorf("notifications (firing long windows each): %v, want one, the 1h burn's (the 6h muted)", rec.got)
	}
}

// TestEnvironmentNamesEveryVariableRead: every variable Config reads is in
// Environment, which gmc demo --help prints (t-user15 D1: the channels'
// variables were named nowhere but in the source).
func TestEnvironmentNamesEveryVariableRead(t *testing.T) {
	read := map[string]bool{}
	getenv := func(k string) string {
		read[k] = true
		switch k {
		case EnvTelegramChat:
			return "-1001"
		case EnvSlackURL:
			return "https://hooks.slack.example/T0/B0/x"
		case EnvSMTPHost:
			return "smtp.example.com:587"
		}
		return "ops@example.com"
	}
	p := ConfigParams{
		Listen: "127.0.0.1:0", DataDir: t.TempDir(), MarketData: "127.0.0.1:9", ReceiverURL: "http://127.0.0.1:8/",
		BenchEvery: time.Minute, EvalInterval: 5 * time.Second, Getenv: getenv, GatewayURL: "http://127.0.0.1:9910/orders",
	}
	if _, _, err := Config(p); err != nil {
		t.Fatal(err)
	}
	if len(read) < 9 {
		t.Fatalf("Config read %d variables, want the channels' 9 at least", len(read))
	}
	listed := map[string]bool{}
	for _, v := range Environment() {
		listed[v.Name] = v.Doc != ""
	}
	for k := range read {
		if !listed[k] {
			t.Errorf("Config reads %s, which Environment does not list with what it sets", k)
		}
	}
}
