package agent

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// Relative bearer_token_file and tls_config files resolve against the
// configuration file's directory, from any working directory; Validate
// leaves the configuration as it was.
func TestLoadConfigFileRelativePaths(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "etc")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	yml := `gmc_url: https://gmc.example:9900
bearer_token_file: token
tls_config: {ca_file: certs/ca.pem, cert_file: certs/agent.pem, key_file: /abs/agent.key}
spool: {dir: ./spool}
processes: [{service: risk, pidfile: /run/risk.pid}]
`
	if err := os.WriteFile(filepath.Join(dir, "agent.yml"), []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Chdir(root)
	cfg, err := LoadConfigFile(filepath.Join("etc", "agent.yml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ field, got, want string }{
		{"bearer_token_file", cfg.BearerTokenFile, filepath.Join("etc", "token")},
		{"tls_config.ca_file", cfg.TLSConfig.CAFile, filepath.Join("etc", "certs", "ca.pem")},
		{"tls_config.cert_file", cfg.TLSConfig.CertFile, filepath.Join("etc", "certs", "agent.pem")},
		{"tls_config.key_file", cfg.TLSConfig.KeyFile, "/abs/agent.key"},
		{"spool.dir", cfg.Spool.Dir, "./spool"},
	} {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.field, c.got, c.want)
		}
	}
	before := cfg
	before.Processes = append([]Process(nil), cfg.Processes...)
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(cfg, before) {
		t.Errorf("Validate changed the config: %+v, want %+v", cfg, before)
	}
}
