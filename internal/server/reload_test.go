package server_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gmc-dev/gmc/internal/config"
	"github.com/gmc-dev/gmc/internal/server"
	"github.com/gmc-dev/gmc/internal/server/servertest"
)

// syncBuffer is a log sink safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestReloadSLAs: SIGHUP and POST /-/reload read the credentials only, so
// an SLA added to gmc.yml took effect, and was backfilled, at the next
// start. A server runs with one SLA over 50 minutes of two services' data;
// its gmc.yml then gets a second SLA (on /sla, its rule groups evaluated,
// its recordings backfilled over the stored data), the second SLA's
// objective changes (/sla and its rule say so), a bad file (an invalid
// objective, a YAML error) leaves the running SLAs serving and the reload
// answers 500 with the field or the line, and the second SLA is removed
// (gone from /sla and the rules).
func TestReloadSLAs(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "gmc.yml")
	write := func(yml string) {
		t.Helper()
		if err := os.WriteFile(file, []byte(yml), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	load := func() (config.Config, error) {
		cfg, err := config.LoadFile(file)
		cfg.Server.ListenAddress, cfg.Server.DataDir = "127.0.0.1:0", filepath.Join(dir, "data")
		return cfg, err
	}
	head := "alerting: {default_rules: false, evaluation_interval: 1h}\n"
	write(head + ordersSLA)
	cfg, err := load()
	if err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	srv := servertest.Serve(t, server.Options{Config: cfg, LoadConfig: load, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	base := servertest.Ready(t, srv)

	// 50 minutes every 30 s (within the TSDB's 1h out-of-order window:
	// the orders SLA's rules wrote at the start): me with 1 error in 100,
	// gw with 1 in 1000.
	now := time.Now().Truncate(time.Second)
	var objs []string
	for i := 100; i >= 1; i-- {
		ts, k := now.Add(-time.Duration(i)*30*time.Second), 100-i
		for _, svc := range []struct {
			name string
			errs int
		}{{"me", k}, {"gw", k / 10}} {
			objs = append(objs, fmt.Sprintf(`{"service":%q,"instance":"%s-1","timestamp":%d,"metrics":{"app_requests_total":%d,"app_errors_total":%d}}`,
				svc.name, svc.name, ts.Unix(), 100*k, svc.errs))
		}
	}
	if code, resp := do(t, "POST", base+"/api/v1/push", "application/json", []byte("["+strings.Join(objs, ",")+"]")); code != http.StatusNoContent {
		t.Fatalf("push: %d %s", code, resp)
	}

	type slaState struct {
		Objective float64
		State     string
	}
	slas := func() map[string]slaState {
		t.Helper()
		code, body := do(t, "GET", base+"/sla", "", nil)
		if code != http.StatusOK {
			t.Fatalf("/sla: %d %s", code, body)
		}
		var r struct {
			Data []struct {
				Name      string  `json:"name"`
				Objective float64 `json:"objective"`
				State     string  `json:"state"`
			} `json:"data"`
		}
		if err := json.Unmarshal([]byte(body), &r); err != nil {
			t.Fatal(err)
		}
		out := map[string]slaState{}
		for _, s := range r.Data {
			out[s.Name] = slaState{s.Objective, s.State}
		}
		return out
	}
	// rules are the rules of the SLA groups by group, each as "name expr".
	rules := func() map[string][]string {
		t.Helper()
		code, body := do(t, "GET", base+"/api/v1/rules", "", nil)
		if code != http.StatusOK {
			t.Fatalf("/api/v1/rules: %d %s", code, body)
		}
		var r struct {
			Data struct {
				Groups []struct {
					Name  string `json:"name"`
					Rules []struct {
						Name   string `json:"name"`
						Query  string `json:"query"`
						Health string `json:"health"`
					} `json:"rules"`
				} `json:"groups"`
			} `json:"data"`
		}
		if err := json.Unmarshal([]byte(body), &r); err != nil {
			t.Fatal(err)
		}
		out := map[string][]string{}
		for _, g := range r.Data.Groups {
			for _, rl := range g.Rules {
				out[g.Name] = append(out[g.Name], rl.Name+" "+rl.Query)
			}
		}
		return out
	}
	reload := func() (int, string) {
		t.Helper()
		return do(t, "POST", base+"/-/reload", "", nil)
	}
	gwSLA := func(objective string) string {
		return `  - name: gw-orders
    service: gw
    objective: ` + objective + `
    indicator:
      ratio:
        errors: 'app_errors_total{service="gw"}'
        total: 'app_requests_total{service="gw"}'
`
	}

	if got := slas(); len(got) != 1 {
		t.Fatalf("/sla before the reload = %v, want orders only", got)
	}
	// Added.
	write(head + ordersSLA + gwSLA("99"))
	if code, body := reload(); code != http.StatusOK {
		t.Fatalf("reload: %d %s", code, body)
	}
	if got := slas(); len(got) != 2 || got["gw-orders"].Objective != 99 || got["orders"].Objective != 99 {
		t.Fatalf("/sla after gw-orders was added = %v", got)
	}
	if rs := rules(); len(rs["sla:gw-orders:raw"]) == 0 || len(rs["sla:gw-orders:slow"]) == 0 {
		t.Fatalf("rule groups after gw-orders was added: %v", rs)
	}
	// Its raw group evaluates at once: 1 error in 1000 over 5m.
	waitFor(t, 10*time.Second, "gw-orders's 5m error ratio recorded", func() bool {
		v := promVector(t, base, `sla:error_ratio:rate5m{sla="gw-orders"}`)
		return len(v) == 1
	})
	// Its recordings are backfilled over the data stored before it.
	waitFor(t, time.Minute, "gw-orders's recordings backfilled", func() bool {
		return strings.Contains(logs.String(), `msg="sla recordings backfilled over the data stored before them" component=sla sla=gw-orders group=raw`)
	})

	// Changed: its objective.
	write(head + ordersSLA + gwSLA("99.9"))
	if code, body := reload(); code != http.StatusOK {
		t.Fatalf("reload: %d %s", code, body)
	}
	if got := slas(); len(got) != 2 || got["gw-orders"].Objective != 99.9 {
		t.Fatalf("/sla after gw-orders's objective changed = %v", got)
	}
	if rs := rules(); !strings.Contains(strings.Join(rs["sla:gw-orders:raw"], "\n"), "(1 - 0.999)") {
		t.Fatalf("gw-orders's burn alerts after its objective changed: %v", rs["sla:gw-orders:raw"])
	}

	// Bad files change nothing.
	for _, bad := range []struct{ yml, want string }{
		{head + ordersSLA + gwSLA("101"), "line 12: slas[1].objective: 101 must be"},
		{head + ordersSLA + gwSLA("99.5") + "  - name: [\n", "line 17: did not find expected node content"},
	} {
		write(bad.yml)
		code, body := reload()
		if code != http.StatusInternalServerError || !strings.Contains(body, bad.want) {
			t.Errorf("reload of a bad file: %d %q, want 500 naming %s", code, body, bad.want)
		}
		if got := slas(); len(got) != 2 || got["gw-orders"].Objective != 99.9 {
			t.Fatalf("/sla after a bad reload = %v, want the SLAs in force", got)
		}
	}
	if !strings.Contains(logs.String(), "slas[1].objective") {
		t.Error("the failed reload was not logged with its error")
	}

	// Removed.
	write(head + ordersSLA)
	if code, body := reload(); code != http.StatusOK {
		t.Fatalf("reload: %d %s", code, body)
	}
	if got := slas(); len(got) != 1 || got["orders"].Objective != 99 {
		t.Fatalf("/sla after gw-orders was removed = %v", got)
	}
	if code, _ := do(t, "GET", base+"/sla/gw-orders", "", nil); code != http.StatusNotFound {
		t.Errorf("/sla/gw-orders after it was removed: %d, want 404", code)
	}
	rs := rules()
	if _, ok := rs["sla:gw-orders:raw"]; ok {
		t.Fatalf("rule groups after gw-orders was removed: %v", rs)
	}
	if len(rs["sla:orders:raw"]) == 0 {
		t.Fatalf("orders's rule groups are gone after another SLA was removed: %v", rs)
	}
}
