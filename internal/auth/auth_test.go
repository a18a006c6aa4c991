package auth

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"golang.org/x/crypto/bcrypt"
)

func TestRequiredRole(t *testing.T) {
	for _, tc := range []struct {
		method, path string
		want         Role
	}{
		{"GET", "/-/healthy", RoleNone},
		{"GET", "/-/ready", RoleNone},
		{"POST", "/api/v1/write", RoleWrite},
		{"POST", "/api/v1/push", RoleWrite},
		{"PUT", "/metrics/job/oms/instance/a", RoleWrite},
		{"DELETE", "/metrics/job/oms", RoleWrite},
		{"POST", "/api/v1/otlp/v1/metrics", RoleWrite},
		{"POST", "/v1/metrics", RoleWrite},
		{"GET", "/api/v1/query", RoleRead},
		{"POST", "/api/v1/query_range", RoleRead},
		{"GET", "/", RoleRead},
		{"GET", "/metrics", RoleRead},
		{"GET", "/api/v2/silences", RoleRead},
		{"POST", "/api/v2/silences", RoleAdmin},
		{"DELETE", "/api/v2/silence/abc", RoleAdmin},
		{"GET", "/debug/pprof/goroutine", RoleAdmin},
		{"POST", "/-/reload", RoleAdmin},
		{"POST", "/benchmark/run", RoleAdmin},
	} {
		if got := RequiredRole(tc.method, tc.path); got != tc.want {
			t.Errorf("RequiredRole(%s %s) = %q, want %q", tc.method, tc.path, got, tc.want)
		}
	}
}

func newGuard(t *testing.T, cfg Config, listen string) (*Guard, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	g, err := New(Options{Config: cfg, ListenAddress: listen, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	return g, reg
}

func serve(g *Guard, method, path string, header map[string]string) *httptest.ResponseRecorder {
	h := g.Wrap(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTeapot) }))
	r := httptest.NewRequest(method, "http://127.0.0.1:9900"+path, strings.NewReader("x"))
	for k, v := range header {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestRolesWithTokensAndBasicAuth(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "admin.token")
	if err := os.WriteFile(file, []byte("admin-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("GMC_TEST_READ_TOKEN", "read-secret")
	hash, err := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	g, reg := newGuard(t, Config{
		Tokens: []Token{
			{Role: RoleWrite, Token: "write-secret"},
			{Role: RoleRead, TokenEnv: "GMC_TEST_READ_TOKEN"},
			{Role: RoleAdmin, TokenFile: file},
		},
		BasicAuthUsers: map[string]User{"alice": {PasswordHash: string(hash), Role: RoleRead}},
	}, "127.0.0.1:9900")
	bearer := func(tok string) map[string]string { return map[string]string{"Authorization": "Bearer " + tok} }
	basic := func(u, p string) map[string]string {
		r, _ := http.NewRequest("GET", "/", nil)
		r.SetBasicAuth(u, p)
		return map[string]string{"Authorization": r.Header.Get("Authorization")}
	}
	for _, tc := range []struct {
		name         string
		method, path string
		header       map[string]string
		want         int
	}{
		{"health needs nothing", "GET", "/-/healthy", nil, http.StatusTeapot},
		{"no credentials", "GET", "/api/v1/query", nil, http.StatusUnauthorized},
		{"wrong token", "POST", "/api/v1/write", bearer("nope"), http.StatusUnauthorized},
		{"write token writes", "POST", "/api/v1/write", bearer("write-secret"), http.StatusTeapot},
		{"write token cannot read", "GET", "/api/v1/query", bearer("write-secret"), http.StatusForbidden},
		{"read token reads (from env)", "GET", "/api/v1/query", bearer("read-secret"), http.StatusTeapot},
		{"read token cannot write", "POST", "/api/v1/write", bearer("read-secret"), http.StatusForbidden},
		{"read token cannot silence", "POST", "/api/v2/silences", bearer("read-secret"), http.StatusForbidden},
		{"read token cannot pprof", "GET", "/debug/pprof/goroutine", bearer("read-secret"), http.StatusForbidden},
		{"admin token (from file) silences", "POST", "/api/v2/silences", bearer("admin-secret"), http.StatusTeapot},
		{"admin token writes", "POST", "/api/v1/write", bearer("admin-secret"), http.StatusTeapot},
		{"basic user reads", "GET", "/", basic("alice", "pw"), http.StatusTeapot},
		{"basic user again (cached)", "GET", "/", basic("alice", "pw"), http.StatusTeapot},
		{"basic user wrong password", "GET", "/", basic("alice", "no"), http.StatusUnauthorized},
		{"unknown basic user", "GET", "/", basic("bob", "pw"), http.StatusUnauthorized},
		{"basic user cannot write", "POST", "/api/v1/push", basic("alice", "pw"), http.StatusForbidden},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := serve(g, tc.method, tc.path, tc.header)
			if w.Code != tc.want {
				t.Fatalf("%s %s: %d %q, want %d", tc.method, tc.path, w.Code, w.Body.String(), tc.want)
			}
			if w.Code == http.StatusUnauthorized && w.Header().Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
		})
	}
	if got := testutil.ToFloat64(g.denied.WithLabelValues("forbidden")); got != 5 {
		t.Errorf("gmc_http_requests_denied_total{reason=forbidden} = %v, want 5", got)
	}
	_ = reg
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{Tokens: []Token{{Role: "root", Token: "x"}}}, `auth.tokens[0].role: "root" is not one of read, write, admin`},
		{Config{Tokens: []Token{{Role: RoleRead}}}, "auth.tokens[0]: set exactly one of token, token_file, token_env"},
		{Config{Tokens: []Token{{Role: RoleRead, Token: "a", TokenEnv: "B"}}}, "auth.tokens[0]: set exactly one of token, token_file, token_env"},
		{Config{BasicAuthUsers: map[string]User{"a": {PasswordHash: "plain", Role: RoleRead}}}, "auth.basic_auth_users.a.password_hash: not a bcrypt hash"},
	} {
		err := tc.cfg.Validate()
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("Validate() = %v, want %q", err, tc.want)
		}
	}
	if _, err := New(Options{Config: Config{Tokens: []Token{{Role: RoleRead, TokenEnv: "GMC_TEST_UNSET_VAR"}}}}); err == nil ||
		err.Error() != "auth.tokens[0]: token_env GMC_TEST_UNSET_VAR is unset or empty" {
		t.Errorf("New with an unset token_env: %v", err)
	}
}

func TestBrowserDefences(t *testing.T) {
	g, _ := newGuard(t, Config{AllowedHosts: []string{"gmc.desk.internal"}}, "127.0.0.1:9900")
	h := g.Wrap(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTeapot) }))
	do := func(method, url string, header map[string]string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(method, url, strings.NewReader("up 1\n"))
		for k, v := range header {
			r.Header.Set(k, v)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	for _, tc := range []struct {
		name   string
		method string
		url    string
		header map[string]string
		want   int
	}{
		{"loopback host", "GET", "http://127.0.0.1:9900/", nil, http.StatusTeapot},
		{"localhost", "GET", "http://localhost:9900/", nil, http.StatusTeapot},
		{"ipv6 loopback", "GET", "http://[::1]:9900/", nil, http.StatusTeapot},
		{"configured name", "GET", "http://GMC.desk.internal:9900/", nil, http.StatusTeapot},
		{"DNS rebinding", "GET", "http://attacker.example/api/v1/query", nil, http.StatusMisdirectedRequest},
		{"cross-site text/plain push", "POST", "http://127.0.0.1:9900/metrics/job/x",
			map[string]string{"Content-Type": "text/plain", "Origin": "https://attacker.example", "Sec-Fetch-Site": "cross-site"}, http.StatusForbidden},
		{"cross-site silence, Origin only", "POST", "http://127.0.0.1:9900/api/v2/silences",
			map[string]string{"Content-Type": "text/plain", "Origin": "https://attacker.example"}, http.StatusForbidden},
		{"same-origin dashboard POST", "POST", "http://127.0.0.1:9900/api/v2/silences",
			map[string]string{"Origin": "http://127.0.0.1:9900", "Sec-Fetch-Site": "same-origin"}, http.StatusTeapot},
		{"client without browser headers", "POST", "http://127.0.0.1:9900/metrics/job/x",
			map[string]string{"Content-Type": "text/plain"}, http.StatusTeapot},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := do(tc.method, tc.url, tc.header)
			if w.Code != tc.want {
				t.Fatalf("%d %q, want %d", w.Code, w.Body.String(), tc.want)
			}
			for k, v := range map[string]string{"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY",
				"Content-Security-Policy": "frame-ancestors 'none'", "Referrer-Policy": "same-origin"} {
				if got := w.Header().Get(k); got != v {
					t.Errorf("%s: %q, want %q", k, got, v)
				}
			}
		})
	}
	// Beyond loopback any Host is served (names are the operator's), and
	// with no credentials configured a warning is kept for /system/status.
	open, _ := newGuard(t, Config{}, "0.0.0.0:9900")
	if st := open.Status(); st.LoopbackOnly || st.AuthEnabled || !strings.Contains(st.Warning, "no authentication") {
		t.Errorf("status beyond loopback without auth: %+v", st)
	}
	if w := serve(open, "GET", "/", nil); w.Code != http.StatusTeapot {
		t.Errorf("open server: %d", w.Code)
	}
	closed, _ := newGuard(t, Config{Tokens: []Token{{Role: RoleRead, Token: "t"}}}, "[::]:9900")
	if st := closed.Status(); st.Warning != "" || !st.AuthEnabled {
		t.Errorf("status beyond loopback with auth: %+v", st)
	}
	if st := g.Status(); !st.LoopbackOnly || st.Warning != "" {
		t.Errorf("status on loopback: %+v", st)
	}
}

// TestTokenReload: a token file rewritten takes effect at Reload, not
// before; a Reload that fails (file gone) keeps the credentials in force.
func TestTokenReload(t *testing.T) {
	file := filepath.Join(t.TempDir(), "push.token")
	if err := os.WriteFile(file, []byte("old\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	g, _ := newGuard(t, Config{Tokens: []Token{{Role: RoleWrite, TokenFile: file}}}, "127.0.0.1:9900")
	push := func(tok string) int {
		return serve(g, "POST", "/api/v1/push", map[string]string{"Authorization": "Bearer " + tok}).Code
	}
	if code := push("old"); code != http.StatusTeapot {
		t.Fatalf("old token: %d", code)
	}
	if err := os.WriteFile(file, []byte("new\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code := push("new"); code != http.StatusUnauthorized {
		t.Errorf("new token before Reload: %d, want 401", code)
	}
	if err := g.Reload(); err != nil {
		t.Fatal(err)
	}
	if a, b := push("new"), push("old"); a != http.StatusTeapot || b != http.StatusUnauthorized {
		t.Errorf("after Reload: new %d (want 418), old %d (want 401)", a, b)
	}
	if err := os.Remove(file); err != nil {
		t.Fatal(err)
	}
	if err := g.Reload(); err == nil || !strings.Contains(err.Error(), "auth.tokens[0]: read token_file") {
		t.Errorf("Reload with the file gone: %v", err)
	}
	if code := push("new"); code != http.StatusTeapot {
		t.Errorf("after a failed Reload: %d, want the token in force still (418)", code)
	}
}

// TestWebConfigUserRoles: users of the Prometheus web config get the role
// auth.web_config_user_roles gives them; one without a role gets 403 saying
// so; a wrong password 401; a user removed from the file is refused after
// Reload.
func TestWebConfigUserRoles(t *testing.T) {
	hash, err := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	web := filepath.Join(t.TempDir(), "web.yml")
	write := func(users ...string) {
		var b strings.Builder
		b.WriteString("basic_auth_users:\n")
		for _, u := range users {
			fmt.Fprintf(&b, "  %s: %s\n", u, hash)
		}
		if err := os.WriteFile(web, []byte(b.String()), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("alice", "bob")
	g, err := New(Options{Config: Config{WebConfigUserRoles: map[string]Role{"alice": RoleRead}},
		ListenAddress: "127.0.0.1:9900", WebConfigFile: web, Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	basic := func(user, pass string) map[string]string {
		return map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))}
	}
	for _, tc := range []struct {
		user, pass, method, path string
		code                     int
		body                     string
	}{
		{"alice", "pw", "GET", "/api/v1/query", http.StatusTeapot, ""},
		{"alice", "pw", "POST", "/api/v1/push", http.StatusForbidden, "needs the write role; these credentials have read"},
		{"bob", "pw", "GET", "/api/v1/query", http.StatusForbidden, `user "bob" of the web config has no role: map it under auth.web_config_user_roles`},
		{"alice", "wrong", "GET", "/api/v1/query", http.StatusUnauthorized, "invalid credentials"},
	} {
		w := serve(g, tc.method, tc.path, basic(tc.user, tc.pass))
		if w.Code != tc.code || !strings.Contains(w.Body.String(), tc.body) {
			t.Errorf("%s:%s %s %s: %d %q, want %d %q", tc.user, tc.pass, tc.method, tc.path, w.Code, w.Body, tc.code, tc.body)
		}
	}
	write("bob")
	if err := g.Reload(); err != nil {
		t.Fatal(err)
	}
	if w := serve(g, "GET", "/api/v1/query", basic("alice", "pw")); w.Code != http.StatusUnauthorized {
		t.Errorf("alice after her removal and Reload: %d, want 401", w.Code)
	}
}
