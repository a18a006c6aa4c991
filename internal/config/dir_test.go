package config

import (
	"os"
	"path/filepath"
	"testing"
)

// Relative file paths in a configuration file resolve against the file's
// directory, whatever the working directory, as Prometheus and Alertmanager
// do; absolute ones and server.data_dir are left as written.
func TestLoadFileResolvesRelativePaths(t *testing.T) {
	root := t.TempDir()
	conf := filepath.Join(root, "etc", "gmc")
	for _, f := range []string{"rules/orders.yml", "secrets/slack", "secrets/telegram", "secrets/smtp", "certs/ca.pem", "secrets/token", "secrets/rw", "baseline.json"} {
		p := filepath.Join(conf, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("x\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	yml := `
server: {data_dir: ./data}
alerting:
  rule_files: [rules/*.yml, /abs/rules/*.yml]
notify:
  route: {receiver: ops}
  receivers:
    - name: ops
      slack_configs: [{api_url_file: secrets/slack}]
      telegram_configs: [{bot_token_file: secrets/telegram, chat_id: 1}]
      email_configs:
        - {smarthost: "smtp.example:587", from: a@example.com, to: b@example.com, auth_username: a@example.com,
           auth_password_file: secrets/smtp, tls_config: {ca_file: certs/ca.pem}}
      webhook_configs: [{url_file: secrets/slack}]
auth:
  tokens: [{role: write, token_file: secrets/token}]
remote_write:
  - url: https://vm.example/api/v1/write
    authorization: {credentials_file: secrets/rw}
    tls_config: {ca_file: certs/ca.pem}
benchmarks:
  baseline: baseline.json
  suite:
    - {name: build, kind: exec, exec: {command: [make], dir: src}}
    - {name: go, kind: gobench, gobench: {file: out/bench.txt}}
`
	if err := os.WriteFile(filepath.Join(conf, "gmc.yml"), []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	// From another working directory, the file named relatively and absolutely.
	t.Chdir(root)
	for _, path := range []string{filepath.Join("etc", "gmc", "gmc.yml"), filepath.Join(conf, "gmc.yml")} {
		cfg, err := LoadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		dir := filepath.Dir(path)
		j := func(p string) string { return filepath.Join(dir, p) }
		rcv := cfg.Notify.Receivers[0]
		rw := cfg.RemoteWrite[0].HTTPClientConfig
		for _, c := range []struct{ field, got, want string }{
			{"alerting.rule_files[0]", cfg.Alerting.RuleFiles[0], j("rules/*.yml")},
			{"alerting.rule_files[1]", cfg.Alerting.RuleFiles[1], "/abs/rules/*.yml"},
			{"slack api_url_file", rcv.SlackConfigs[0].APIURLFile, j("secrets/slack")},
			{"telegram bot_token_file", rcv.TelegramConfigs[0].BotTokenFile, j("secrets/telegram")},
			{"email auth_password_file", rcv.EmailConfigs[0].AuthPasswordFile, j("secrets/smtp")},
			{"email tls_config.ca_file", rcv.EmailConfigs[0].TLSConfig.CAFile, j("certs/ca.pem")},
			{"webhook url_file", rcv.WebhookConfigs[0].URLFile, j("secrets/slack")},
			{"auth token_file", cfg.Auth.Tokens[0].TokenFile, j("secrets/token")},
			{"remote_write credentials_file", rw.Authorization.CredentialsFile, j("secrets/rw")},
			{"remote_write tls_config.ca_file", rw.TLSConfig.CAFile, j("certs/ca.pem")},
			{"benchmarks.baseline", cfg.Benchmarks.Baseline, j("baseline.json")},
			{"exec.dir", cfg.Benchmarks.Suite[0].Exec.Dir, j("src")},
			{"gobench.file", cfg.Benchmarks.Suite[1].GoBench.File, j("out/bench.txt")},
			{"server.data_dir", cfg.Server.DataDir, "./data"},
		} {
			if c.got != c.want {
				t.Errorf("%s: %s = %q, want %q", path, c.field, c.got, c.want)
			}
		}
		// The resolved paths name the files beside the configuration.
		if m, _ := filepath.Glob(cfg.Alerting.RuleFiles[0]); len(m) != 1 {
			t.Errorf("%s: rule_files glob %q matches %v", path, cfg.Alerting.RuleFiles[0], m)
		}
		if _, err := os.Stat(cfg.Auth.Tokens[0].TokenFile); err != nil {
			t.Errorf("%s: %v", path, err)
		}
	}
	// Load (no file) leaves paths relative to the working directory.
	cfg, err := Load([]byte("alerting: {rule_files: [rules/*.yml]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Alerting.RuleFiles[0] != "rules/*.yml" {
		t.Errorf("Load: rule_files[0] = %q", cfg.Alerting.RuleFiles[0])
	}
}
