package server_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gmc-dev/gmc/internal/config"
)

// outagesOf reads /system/status's outages.
func outagesOf(t *testing.T, base string) []struct {
	From                 time.Time `json:"from"`
	Until                time.Time `json:"until"`
	Clean                bool      `json:"clean_stop"`
	StoppedWithinSeconds float64   `json:"stopped_within_seconds"`
} {
	t.Helper()
	_, body := do(t, "GET", base+"/system/status", "", nil)
	var st struct {
		Outages *[]struct {
			From                 time.Time `json:"from"`
			Until                time.Time `json:"until"`
			Clean                bool      `json:"clean_stop"`
			StoppedWithinSeconds float64   `json:"stopped_within_seconds"`
		} `json:"outages"`
	}
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatalf("/system/status: %v: %s", err, body)
	}
	if st.Outages == nil {
		t.Fatalf("/system/status has no outages: %s", body)
	}
	return *st.Outages
}

// TestOutagesRecorded: gmc says when it was down. A first start has no
// outage; after a stop and a start over the same data dir, one, from the
// stop (its shutdown's start) until the second start; after a run that
// did not stop (its record left as a kill -9 leaves it: no stop), from
// its last heartbeat, said not clean. (The Overview says it in words:
// web's TestBrowserOverviewSaysGmcWasDown.)
func TestOutagesRecorded(t *testing.T) {
	dir := t.TempDir()
	cfg := config.Default()
	base, stop := runServerIn(t, cfg, dir, time.Now)
	if got := outagesOf(t, base); len(got) != 0 {
		t.Fatalf("first start: outages %+v, want none", got)
	}
	beforeStop := time.Now()
	stop()
	afterStop := time.Now()
	time.Sleep(1500 * time.Millisecond)
	beforeStart := time.Now()
	base, stop = runServerIn(t, cfg, dir, time.Now)
	afterStart := time.Now()
	got := outagesOf(t, base)
	if len(got) != 1 {
		t.Fatalf("after a restart: outages %+v, want one", got)
	}
	o := got[0]
	if o.From.Before(beforeStop) || o.From.After(afterStop) || o.Until.Before(beforeStart) || o.Until.After(afterStart) || !o.Clean || o.StoppedWithinSeconds != 0 {
		t.Errorf("outage %+v, want from the stop (%s – %s) until the start (%s – %s), clean", o,
			beforeStop.Format(time.StampMilli), afterStop.Format(time.StampMilli), beforeStart.Format(time.StampMilli), afterStart.Format(time.StampMilli))
	}
	stop()

	// A run whose record has no stop (a crash): from its last heartbeat.
	p := filepath.Join(dir, "outages.json")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	alive := time.Now().Add(-time.Minute).UTC().Truncate(time.Millisecond)
	doc["run"] = map[string]any{"started": alive.Add(-time.Hour), "alive": alive}
	b, _ = json.Marshal(doc)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	base, _ = runServerIn(t, cfg, dir, time.Now)
	got = outagesOf(t, base)
	if len(got) != 2 {
		t.Fatalf("after a crash: outages %+v, want two", got)
	}
	if o := got[1]; !o.From.Equal(alive) || o.Clean || o.StoppedWithinSeconds != 5 || o.Until.Before(afterStart) {
		t.Errorf("the crash's outage %+v, want from the last heartbeat %s, not clean, stopped within 5 s", o, alive)
	}
}
