package demo

import (
	"fmt"
	"strings"
	"testing"
	"time"
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
