package notify

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReloadRoutesAndReceivers: a reload's routing is in force at once,
// as Alertmanager's: an alert received before it reaches the receiver its
// new route names (the groups are rebuilt from the alerts received), the
// receiver it had reached is not told again, a reload that changes
// nothing tells nobody again (the notification log), and a configuration
// whose templates do not load changes nothing.
func TestReloadRoutesAndReceivers(t *testing.T) {
	a, b := &recorder{}, &recorder{}
	dir := t.TempDir()
	yml := func(recv string) string {
		return `
route:
  receiver: ` + recv + `
  group_by: [alertname]
  group_wait: 0s
  group_interval: 1h
  repeat_interval: 4h
receivers: [{name: a}, {name: b}]
`
	}
	h := start(t, yml("a"), map[string][]Notifier{"a": {a}, "b": {b}}, func(o *Options) {
		o.NotificationLogFile = filepath.Join(dir, "nflog")
	})
	reload := func(y string) error {
		t.Helper()
		cfg, err := LoadConfig([]byte(y))
		if err != nil {
			t.Fatal(err)
		}
		apply, err := h.d.Prepare(cfg)
		if err != nil {
			return err
		}
		apply()
		return nil
	}
	h.d.Send(h.alert("alertname", "Down"))
	waitFor(t, "a told", func() bool { return a.count() == 1 })

	if err := reload(yml("b")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "b told of the alert received before the reload", func() bool { return b.count() == 1 })
	if got := b.notifications()[0].Alerts; len(got) != 1 || got[0].Labels["alertname"] != "Down" {
		t.Fatalf("b told %v", got)
	}
	if got := h.d.cur.Load().root.receiver; got != "b" {
		t.Fatalf("root route's receiver %q after the reload", got)
	}

	// The same routing again: its group is rebuilt and flushed, and the
	// notification log keeps b from being told twice.
	if err := reload(yml("b")); err != nil {
		t.Fatal(err)
	}
	h.waitFlushes(t, 1)
	if a.count() != 1 || b.count() != 1 {
		t.Errorf("after a reload that changed nothing: a told %d times, b %d, want 1 each", a.count(), b.count())
	}

	// Templates that do not parse: nothing changes.
	bad := filepath.Join(dir, "bad.tmpl")
	if err := os.WriteFile(bad, []byte(`{{ define "x" }}{{ .Foo `), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := LoadConfig([]byte(yml("a")))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Templates = []string{bad}
	_, err = h.d.Prepare(cfg)
	if err == nil || !strings.Contains(err.Error(), "bad.tmpl") {
		t.Fatalf("reload with a bad template: %v", err)
	}
	if got := h.d.cur.Load().root.receiver; got != "b" {
		t.Errorf("root route's receiver %q after a failed reload, want b", got)
	}
}
