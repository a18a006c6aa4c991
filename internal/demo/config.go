package demo

import (
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/prometheus/alertmanager/pkg/labels"
	commoncfg "github.com/prometheus/common/config"

	"github.com/gmc-dev/gmc/internal/bench"
	"github.com/gmc-dev/gmc/internal/config"
	"github.com/gmc-dev/gmc/internal/duration"
	"github.com/gmc-dev/gmc/internal/ingest"
	"github.com/gmc-dev/gmc/internal/notify"
	"github.com/gmc-dev/gmc/internal/notify/email"
	"github.com/gmc-dev/gmc/internal/notify/slack"
	"github.com/gmc-dev/gmc/internal/notify/telegram"
	"github.com/gmc-dev/gmc/internal/notify/webhook"
	"github.com/gmc-dev/gmc/internal/sla"
)

// Environment variables of gmc demo.
const (
	EnvPGDSN         = "GMC_DEMO_PG_DSN"        // PostgreSQL for the DB query latency benchmark
	EnvSlackURL      = "GMC_SLACK_WEBHOOK_URL"  // Slack incoming webhook
	EnvSlackChannel  = "GMC_SLACK_CHANNEL"      // optional
	EnvTelegramToken = "GMC_TELEGRAM_BOT_TOKEN" // with GMC_TELEGRAM_CHAT_ID
	EnvTelegramChat  = "GMC_TELEGRAM_CHAT_ID"
	EnvSMTPHost      = "GMC_SMTP_SMARTHOST" // host:port, with GMC_SMTP_FROM and GMC_SMTP_TO
	EnvSMTPFrom      = "GMC_SMTP_FROM"
	EnvSMTPTo        = "GMC_SMTP_TO"
	EnvSMTPUser      = "GMC_SMTP_USERNAME" // optional
	EnvSMTPPassword  = "GMC_SMTP_PASSWORD" // optional
)

// EnvVar is one of gmc demo's environment variables and what it sets.
type EnvVar struct{ Name, Doc string }

// Environment is gmc demo's environment, for its --help: the channels its
// notifications go to beside the console receiver, and the benchmarks'
// PostgreSQL.
func Environment() []EnvVar {
	return []EnvVar{
		{EnvSlackURL, "Slack incoming webhook URL: notifications also go to Slack"},
		{EnvSlackChannel, "Slack channel (optional; the webhook's own by default)"},
		{EnvTelegramToken, "Telegram bot token, with " + EnvTelegramChat + ": notifications also go to Telegram"},
		{EnvTelegramChat, "Telegram chat ID"},
		{EnvSMTPHost, "SMTP smarthost host:port, with " + EnvSMTPFrom + " and " + EnvSMTPTo + ": notifications also go by e-mail"},
		{EnvSMTPFrom, "e-mail sender"},
		{EnvSMTPTo, "e-mail recipient"},
		{EnvSMTPUser, "SMTP user name (optional)"},
		{EnvSMTPPassword, "SMTP password (optional)"},
		{EnvPGDSN, "PostgreSQL DSN for the DB query latency benchmark (optional)"},
	}
}

// ConfigParams are what the demo's configuration depends on.
type ConfigParams struct {
	// Listen and DataDir are gmc's address and data directory; MarketData
	// the scraped market-data target; ReceiverURL the console's webhook;
	// PGDSN the PostgreSQL of the DB latency benchmark (empty: a stand-in).
	Listen, DataDir, MarketData, ReceiverURL, PGDSN string
	// GatewayURL is the order gateway's POST /orders, benchmarked when set.
	GatewayURL               string
	BenchEvery, EvalInterval time.Duration
	// Getenv reads the notification channels' variables (Env*).
	Getenv func(string) string
}

// Config is gmc's configuration for the demo: the default rules, the
// product's SLAs, notifications to the console (and Slack, Telegram, e-mail
// when their variables are set), market-data scraped every second and the
// four standard benchmarks. It returns the notification channels in use.
func Config(p ConfigParams) (config.Config, []string, error) {
	cfg := config.Default()
	// The scraped market-data joins its host (the machine the demo runs
	// on) by the host label the SDK's pushes and the agent carry.
	hostname, _ := os.Hostname()
	cfg.Server.ListenAddress = p.Listen
	cfg.Server.DataDir = p.DataDir
	cfg.ScrapeConfigs = []ingest.ScrapeConfig{{
		JobName:        ServiceMarketData,
		ScrapeInterval: config.Duration(time.Second),
		ScrapeTimeout:  config.Duration(500 * time.Millisecond),
		StaticConfigs: []ingest.StaticConfig{{
			Targets: []string{p.MarketData},
			Labels:  map[string]string{"service": ServiceMarketData, "host": hostname},
		}},
	}}
	cfg.Alerting.DefaultRules = true
	cfg.Alerting.EvaluationInterval = config.Duration(p.EvalInterval)
	cfg.SLAs = []sla.SLA{
		{
			Name: "matching-latency", Service: ServiceEngine, Objective: 99,
			Description: "matching latency p99 < 500µs: 99% of orders matched within 500µs",
			// Classic buckets (le="0.0005"): the live pushes send them beside
			// the native ones, and --history writes only them, so the SLA
			// is judged over the history too.
			Indicator: sla.Indicator{Latency: &sla.Latency{Threshold: sla.Duration(500 * time.Microsecond), Buckets: "classic"}},
		},
		{
			Name: "order-success", Service: ServiceGateway, Objective: 99.99,
			Description: "order success rate ≥ 99.99%",
			Indicator:   sla.Indicator{Ratio: &sla.Ratio{}},
		},
	}
	d := func(t time.Duration) *duration.Duration { m := duration.Duration(t); return &m }
	rcv := notify.Receiver{Name: "demo", WebhookConfigs: []webhook.Config{{URL: commoncfg.Secret(p.ReceiverURL)}}}
	channels := []string{"console (webhook " + p.ReceiverURL + ")"}
	if u := p.Getenv(EnvSlackURL); u != "" {
		rcv.SlackConfigs = []slack.Config{{APIURL: commoncfg.Secret(u), Channel: p.Getenv(EnvSlackChannel)}}
		channels = append(channels, "Slack")
	}
	if tok, chat := p.Getenv(EnvTelegramToken), p.Getenv(EnvTelegramChat); tok != "" || chat != "" {
		id, err := strconv.ParseInt(chat, 10, 64)
		if tok == "" || err != nil {
			return config.Config{}, nil, fmt.Errorf("%s and %s: set both, the chat id an integer", EnvTelegramToken, EnvTelegramChat)
		}
		rcv.TelegramConfigs = []telegram.Config{{BotToken: commoncfg.Secret(tok), ChatID: id}}
		channels = append(channels, "Telegram")
	}
	if host := p.Getenv(EnvSMTPHost); host != "" {
		rcv.EmailConfigs = []email.Config{{
			Smarthost: host, From: p.Getenv(EnvSMTPFrom), To: p.Getenv(EnvSMTPTo),
			AuthUsername: p.Getenv(EnvSMTPUser), AuthPassword: commoncfg.Secret(p.Getenv(EnvSMTPPassword)),
		}}
		channels = append(channels, "e-mail to "+p.Getenv(EnvSMTPTo))
	}
	// Grouped by alertname and service (the default); besides the default
	// inhibitions, the matching engine's latency inhibits that of the
	// services whose orders it matches: one slow engine is one page.
	engineSlow, err := labels.ParseMatchers(`alertname="ServiceLatencyHigh", service="` + ServiceEngine + `"`)
	if err != nil {
		return config.Config{}, nil, err
	}
	clientsSlow, err := labels.ParseMatchers(`alertname="ServiceLatencyHigh", service=~"` + ServiceGateway + `|strategy-.+"`)
	if err != nil {
		return config.Config{}, nil, err
	}
	// Latency alerts wait 10s in their group: a client's may fire a moment
	// before the engine's, which must be there to mute it when the group
	// flushes (inhibition is decided at flush time, as in Alertmanager).
	latency, err := labels.ParseMatchers(`alertname="ServiceLatencyHigh"`)
	if err != nil {
		return config.Config{}, nil, err
	}
	// So do an SLA's burn alerts, 5s: a slower one (6h and 30m) may fire a
	// second before the faster one that mutes it, and paged alone 5s
	// before it (t-user12 F14: two pages for one errors incident).
	burn, err := labels.ParseMatchers(`alertname="` + sla.AlertName + `"`)
	if err != nil {
		return config.Config{}, nil, err
	}
	cfg.Notify = notify.Config{
		Route: notify.Route{
			Receiver:  "demo",
			GroupWait: d(0), GroupInterval: d(5 * time.Second), RepeatInterval: d(time.Hour),
			Routes: []notify.Route{
				{Matchers: notify.Matchers(latency), GroupWait: d(10 * time.Second)},
				{Matchers: notify.Matchers(burn), GroupWait: d(5 * time.Second)},
			},
		},
		Receivers: []notify.Receiver{rcv},
		InhibitRules: append(notify.DefaultInhibitRules(), notify.InhibitRule{
			SourceMatchers: notify.Matchers(engineSlow), TargetMatchers: notify.Matchers(clientsSlow),
		}),
	}
	cfg.Benchmarks = bench.DefaultConfig()
	cfg.Benchmarks.Suite = Benchmarks(p.BenchEvery, p.PGDSN, p.GatewayURL)
	cfg.Normalise()
	if err := cfg.Validate(); err != nil {
		return config.Config{}, nil, fmt.Errorf("demo configuration: %w", err)
	}
	return cfg, channels, nil
}
