package config

import (
	"fmt"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// TestYAMLRedactsSecrets: every credential of gmc.yml, whether a
// commoncfg.Secret or a plain string, shows as <secret> in the YAML that
// /api/v1/status/config serves; the rest is shown as configured.
func TestYAMLRedactsSecrets(t *testing.T) {
	hash, err := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := Load([]byte(fmt.Sprintf(`
storage:
  mode: remote
  write_url: http://127.0.0.1:9/api/v1/push
  read_url: http://127.0.0.1:9/api/v1/read
  headers:
    X-Scope-OrgID: tenant-secret-1
auth:
  tokens:
    - role: admin
      token: token-secret-2
  basic_auth_users:
    alice:
      password_hash: %s
      role: read
notify:
  route:
    receiver: r
  receivers:
    - name: r
      telegram_configs:
        - bot_token: bot-secret-4
          chat_id: 1
benchmarks:
  suite:
    - name: db
      kind: sql
      schedule: {every: 1h}
      sql:
        driver: pgx
        dsn: postgres://u:pw-secret-5@127.0.0.1/db
        query: select 1
`, hash)))
	if err != nil {
		t.Fatal(err)
	}
	out, err := cfg.YAML()
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"tenant-secret-1", "token-secret-2", string(hash), "bot-secret-4", "pw-secret-5"} {
		if strings.Contains(out, secret) {
			t.Errorf("%s shown:\n%s", secret, out)
		}
	}
	if n := strings.Count(out, "<secret>"); n != 5 {
		t.Errorf("%d <secret> values, want 5:\n%s", n, out)
	}
	for _, kept := range []string{"X-Scope-OrgID:", "alice:", "role: admin", "chat_id: 1", "driver: pgx", "write_url: http://127.0.0.1:9/api/v1/push"} {
		if !strings.Contains(out, kept) {
			t.Errorf("%q missing:\n%s", kept, out)
		}
	}
}
