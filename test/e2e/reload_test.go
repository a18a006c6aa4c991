package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// TestReloadOnSIGHUP starts the gmc binary with a push token read from a
// file, rewrites the file and sends SIGHUP to its PID: the new token pushes
// and the old one is refused; a reload that fails (the token file gone)
// keeps the token in force. A second gmc takes its basic-auth users from a
// Prometheus web config: after the file names another user and a SIGHUP,
// the new user is let in and the old one refused; a web config broken on
// disk refuses every request (exporter-toolkit reads it on each request, as
// in Prometheus) until it is fixed.
func TestReloadOnSIGHUP(t *testing.T) {
	t.Run("token file", func(t *testing.T) {
		dir := t.TempDir()
		tokenFile := filepath.Join(dir, "push.token")
		mustWriteFile(t, tokenFile, "old-push\n")
		mustWriteFile(t, filepath.Join(dir, "gmc.yml"), fmt.Sprintf("auth:\n  tokens:\n    - {role: write, token_file: %s}\n    - {role: admin, token: adm}\n", tokenFile))
		gmc := startReloadGMC(t, dir, nil)
		push := func(token string) int {
			t.Helper()
			return reloadCall(t, gmc, http.MethodPost, "/api/v1/push", `{"service":"oms","metrics":{"orders":1}}`,
				func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+token) })
		}
		expect := func(when string, wantOld, wantNew int) {
			t.Helper()
			if o, n := push("old-push"), push("new-push"); o != wantOld || n != wantNew {
				t.Errorf("%s: old token %d (want %d), new token %d (want %d)", when, o, wantOld, n, wantNew)
			}
		}
		expect("at start", http.StatusNoContent, http.StatusUnauthorized)
		mustWriteFile(t, tokenFile, "new-push\n")
		// Token files are read only at a reload.
		expect("token file rewritten, before SIGHUP", http.StatusNoContent, http.StatusUnauthorized)
		sighup(t, gmc, true)
		expect("after SIGHUP", http.StatusUnauthorized, http.StatusNoContent)
		if err := os.Remove(tokenFile); err != nil {
			t.Fatal(err)
		}
		sighup(t, gmc, false)
		expect("after a failed reload (token file gone)", http.StatusUnauthorized, http.StatusNoContent)
	})

	t.Run("web config users", func(t *testing.T) {
		dir := t.TempDir()
		webFile := filepath.Join(dir, "web.yml")
		mustWriteFile(t, webFile, webConfigUsers(t, "alice", "alice-pw"))
		mustWriteFile(t, filepath.Join(dir, "gmc.yml"), "auth:\n  web_config_user_roles: {alice: read, bob: read}\n")
		// exporter-toolkit asks every request for the web config's users,
		// /-/ready included (as Prometheus does).
		gmc := startReloadGMC(t, dir, []string{"--web.config.file", webFile}, "alice", "alice-pw")
		query := func(user, password string) int {
			t.Helper()
			return reloadCall(t, gmc, http.MethodGet, "/api/v1/query?query=1", "",
				func(r *http.Request) { r.SetBasicAuth(user, password) })
		}
		expect := func(when string, wantAlice, wantBob int) {
			t.Helper()
			if a, b := query("alice", "alice-pw"), query("bob", "bob-pw"); a != wantAlice || b != wantBob {
				t.Errorf("%s: alice %d (want %d), bob %d (want %d)", when, a, wantAlice, b, wantBob)
			}
		}
		expect("at start", http.StatusOK, http.StatusUnauthorized)
		mustWriteFile(t, webFile, webConfigUsers(t, "bob", "bob-pw"))
		// exporter-toolkit reads the file on every request and refuses alice
		// at once; gmc lets bob in only once it has read the file again.
		expect("web config rewritten, before SIGHUP", http.StatusUnauthorized, http.StatusUnauthorized)
		sighup(t, gmc, true)
		expect("after SIGHUP", http.StatusUnauthorized, http.StatusOK)
		mustWriteFile(t, webFile, "basic_auth_users: [not a map\n")
		sighup(t, gmc, false)
		expect("web config broken on disk (exporter-toolkit: 500)", http.StatusInternalServerError, http.StatusInternalServerError)
		mustWriteFile(t, webFile, webConfigUsers(t, "bob", "bob-pw"))
		expect("web config fixed, no reload needed", http.StatusUnauthorized, http.StatusOK)
	})
}

// startReloadGMC starts gmc with dir/gmc.yml and extra arguments and waits
// until /-/ready answers 200 (with basic credentials user, password when
// given).
func startReloadGMC(t *testing.T, dir string, extra []string, userPassword ...string) *proc {
	t.Helper()
	addr := freeAddr(t)
	gmc := spawn(t, "gmc", gmcBinary, addr, dir, append([]string{"server", "--web.listen-address", addr,
		"--storage.path", filepath.Join(dir, "data"), "--config", filepath.Join(dir, "gmc.yml")}, extra...))
	eventually(t, readyTimeout, 100*time.Millisecond, "gmc ready", func() error {
		select {
		case <-gmc.done:
			gmc.dumpLog(t)
			t.Fatalf("gmc exited: %v", gmc.waitErr)
		default:
		}
		code := reloadCall(t, gmc, http.MethodGet, "/-/ready", "", func(r *http.Request) {
			if len(userPassword) == 2 {
				r.SetBasicAuth(userPassword[0], userPassword[1])
			}
		})
		if code != http.StatusOK {
			return fmt.Errorf("/-/ready: %d", code)
		}
		return nil
	})
	return gmc
}

// sighup sends SIGHUP to gmc's PID and waits until its log shows the
// reload's outcome once more than before: "credentials loaded" when ok, else
// the error line "reload on SIGHUP".
func sighup(t *testing.T, gmc *proc, ok bool) {
	t.Helper()
	marker := "reload on SIGHUP"
	if ok {
		marker = "credentials loaded"
	}
	before := countInLog(t, gmc, marker)
	if err := gmc.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatalf("SIGHUP to gmc (pid %d): %v", gmc.cmd.Process.Pid, err)
	}
	eventually(t, 15*time.Second, 50*time.Millisecond, "gmc logs the reload's outcome", func() error {
		if n := countInLog(t, gmc, marker); n <= before {
			return fmt.Errorf("%q logged %d times, as before the SIGHUP", marker, n)
		}
		return nil
	})
}

func countInLog(t *testing.T, p *proc, s string) int {
	t.Helper()
	b, err := os.ReadFile(p.logPath)
	if err != nil {
		t.Fatalf("read log of %s: %v", p.name, err)
	}
	return strings.Count(string(b), s)
}

// reloadCall sends one request to gmc, set up by with, and returns its
// status (0: no answer).
func reloadCall(t *testing.T, gmc *proc, method, path, body string, with func(*http.Request)) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, gmc.URL()+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	with(req)
	resp, err := httpClient().Do(req)
	if err != nil {
		return 0 // not listening yet, or gone: no answer
	}
	resp.Body.Close()
	return resp.StatusCode
}

// webConfigUsers is a Prometheus web config with one basic-auth user.
func webConfigUsers(t *testing.T, user, password string) string {
	t.Helper()
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("basic_auth_users:\n  %s: %s\n", user, hash)
}

func mustWriteFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}
