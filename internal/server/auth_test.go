package server_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gmc-dev/gmc/internal/auth"
	"github.com/gmc-dev/gmc/internal/config"
	"github.com/gmc-dev/gmc/internal/server"
	"github.com/gmc-dev/gmc/internal/server/servertest"
)

// TestTLSAndTokens runs gmc with a Prometheus web config serving TLS
// (exporter-toolkit) and the auth section's tokens: a write token pushes, a
// read token reads and cannot push, no token gets 401, plain HTTP is refused.
func TestTLSAndTokens(t *testing.T) {
	dir := t.TempDir()
	certPEM := writeSelfSigned(t, dir)
	webConfig := filepath.Join(dir, "web.yml")
	if err := os.WriteFile(webConfig, []byte("tls_server_config:\n  cert_file: "+filepath.Join(dir, "cert.pem")+"\n  key_file: "+filepath.Join(dir, "key.pem")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.Auth = auth.Config{Tokens: []auth.Token{{Role: auth.RoleWrite, Token: "w-token"}, {Role: auth.RoleRead, Token: "r-token"}}}
	srv := servertest.Run(t, server.Options{Config: cfg, WebConfigFile: webConfig})
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(certPEM)
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	base := "https://" + srv.Addr()
	call := func(method, path, token, body string) (int, string) {
		t.Helper()
		req, err := http.NewRequest(method, base+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if code, _ := call("GET", "/-/ready", "", ""); code == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("not ready over TLS")
		}
		time.Sleep(20 * time.Millisecond)
	}
	push := `{"service":"oms","metrics":{"orders":3}}`
	if code, body := call("POST", "/api/v1/push", "", push); code != http.StatusUnauthorized {
		t.Errorf("push without token: %d %s", code, body)
	}
	if code, body := call("POST", "/api/v1/push", "r-token", push); code != http.StatusForbidden {
		t.Errorf("push with the read token: %d %s", code, body)
	}
	if code, body := call("POST", "/api/v1/push", "w-token", push); code/100 != 2 {
		t.Fatalf("push with the write token: %d %s", code, body)
	}
	if code, body := call("GET", "/api/v1/query?query=orders", "w-token", ""); code != http.StatusForbidden {
		t.Errorf("query with the write token: %d %s", code, body)
	}
	code, body := call("GET", "/api/v1/query?query=orders", "r-token", "")
	if code != http.StatusOK || !strings.Contains(body, `"service":"oms"`) {
		t.Errorf("query with the read token: %d %s", code, body)
	}
	code, body = call("GET", "/system/status", "r-token", "")
	var st struct {
		Access auth.Status `json:"access"`
	}
	if err := json.Unmarshal([]byte(body), &st); code != http.StatusOK || err != nil || !st.Access.AuthEnabled || !st.Access.LoopbackOnly {
		t.Errorf("/system/status access: %d %v %s", code, err, body)
	}
	// Plain HTTP to the TLS port is not served.
	plain := &http.Client{Timeout: 5 * time.Second}
	if resp, err := plain.Get("http://" + srv.Addr() + "/-/healthy"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Error("plain HTTP served on the TLS listener")
		}
	}
}

// writeSelfSigned writes cert.pem and key.pem for 127.0.0.1 into dir and
// returns the certificate PEM.
func writeSelfSigned(t *testing.T, dir string) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "gmc test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	if err := os.WriteFile(filepath.Join(dir, "cert.pem"), certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "key.pem"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certPEM
}

// TestReloadTokens: POST /-/reload (admin only) reads a rewritten token
// file; the new token pushes, the old one no longer does.
func TestReloadTokens(t *testing.T) {
	file := filepath.Join(t.TempDir(), "push.token")
	if err := os.WriteFile(file, []byte("old-push\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.Auth = auth.Config{Tokens: []auth.Token{{Role: auth.RoleWrite, TokenFile: file}, {Role: auth.RoleAdmin, Token: "adm"}}}
	_, base := servertest.Start(t, cfg)
	call := func(method, path, token string) int {
		t.Helper()
		req, err := http.NewRequest(method, base+path, strings.NewReader(`{"service":"oms","metrics":{"orders":1}}`))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := call("POST", "/api/v1/push", "old-push"); code/100 != 2 {
		t.Fatalf("old token: %d", code)
	}
	if err := os.WriteFile(file, []byte("new-push\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code := call("POST", "/-/reload", "old-push"); code != http.StatusForbidden {
		t.Errorf("reload with a write token: %d, want 403", code)
	}
	if code := call("POST", "/-/reload", "adm"); code != http.StatusOK {
		t.Fatalf("reload with the admin token: %d", code)
	}
	if a, b := call("POST", "/api/v1/push", "new-push"), call("POST", "/api/v1/push", "old-push"); a/100 != 2 || b != http.StatusUnauthorized {
		t.Errorf("after reload: new token %d (want 2xx), old token %d (want 401)", a, b)
	}
}

// TestReloadAuthSection: a reload read the token files again but kept
// gmc.yml's auth section as it was at start, while answering that the
// configuration was reloaded. A token changed in gmc.yml is in force
// after the reload (the old one refused), a token file that cannot be
// read changes nothing (500), and a changed allowed_hosts is named as
// applying at the next start.
func TestReloadAuthSection(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "gmc.yml")
	write := func(auth string) {
		t.Helper()
		if err := os.WriteFile(file, []byte("auth:\n"+auth), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	load := func() (config.Config, error) {
		cfg, err := config.LoadFile(file)
		cfg.Server.ListenAddress, cfg.Server.DataDir = "127.0.0.1:0", filepath.Join(dir, "data")
		return cfg, err
	}
	write("  tokens: [{role: admin, token: adm}, {role: write, token: w1}]\n")
	cfg, err := load()
	if err != nil {
		t.Fatal(err)
	}
	srv := servertest.Serve(t, server.Options{Config: cfg, LoadConfig: load})
	base := servertest.Ready(t, srv)
	push := func(token string) int {
		t.Helper()
		code, _ := do(t, "POST", base+"/api/v1/push", "application/json", []byte(`{"service":"oms","metrics":{"orders":1}}`),
			"Authorization", "Bearer "+token)
		return code
	}
	reload := func() (int, string) {
		t.Helper()
		return do(t, "POST", base+"/-/reload", "", nil, "Authorization", "Bearer adm")
	}
	if code := push("w1"); code/100 != 2 {
		t.Fatalf("w1 before the reload: %d", code)
	}

	write("  tokens: [{role: admin, token: adm}, {role: write, token: w2}]\n  allowed_hosts: [gmc.desk.internal]\n")
	code, body := reload()
	if code != http.StatusOK || !strings.Contains(body, "applied: auth.tokens\n") ||
		!strings.Contains(body, "NOT applied, changed but in force only after a restart: auth.allowed_hosts\n") {
		t.Fatalf("reload: %d %q", code, body)
	}
	if a, b := push("w2"), push("w1"); a/100 != 2 || b != http.StatusUnauthorized {
		t.Errorf("after the reload: w2 %d (want 2xx), w1 %d (want 401)", a, b)
	}

	write("  tokens: [{role: admin, token: adm}, {role: write, token_file: " + filepath.Join(dir, "missing") + "}]\n")
	if code, body := reload(); code != http.StatusInternalServerError || !strings.Contains(body, "auth.tokens[1]") {
		t.Errorf("reload with a token file missing: %d %q, want 500 naming auth.tokens[1]", code, body)
	}
	if code := push("w2"); code/100 != 2 {
		t.Errorf("w2 after a failed reload: %d", code)
	}
}
