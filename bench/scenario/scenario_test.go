package main

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"
	"time"
)

// TestScenario runs a short schedule (a pushed service down, the engine's
// latency with its two downstream strategies slow too, then the gateway's
// counters reset, a scrape target down, a service down with gmc
// restarted halfway) and requires the figures: every incident paged
// by exactly one notification group (the engine's latency only, its
// strategies' inhibited; none for the counter reset), nothing else paged,
// resolved within 15s of the end (a 20s grace for matching), a stopped
// service down in /system/status within 10s, and the SLA within 0.1% of the
// offline figure. It takes about 5 minutes; -short skips it. The error
// burst and flapping run in the 30-minute harness (go run ./bench/scenario):
// a burn alert needs 5 minutes of data behind it.
func TestScenario(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a 5-minute scenario")
	}
	sched := []Incident{
		{Kind: KindDown, Service: "engine", At: 30 * time.Second, Length: 30 * time.Second},
		{Kind: KindLatency, Service: "engine", At: 80 * time.Second, Length: 50 * time.Second},
		{Kind: KindCounterReset, Service: "gw", At: 130 * time.Second, Length: 15 * time.Second},
		{Kind: KindScrapeDown, Service: "feed", At: 150 * time.Second, Length: 45 * time.Second},
		{Kind: KindDown, Service: "risk", At: 215 * time.Second, Length: 40 * time.Second, Restart: true},
	}
	var log bytes.Buffer
	sc, err := Run(context.Background(), Options{Schedule: sched, Duration: 290 * time.Second, Grace: 20 * time.Second, DataDir: t.TempDir(), Log: &log})
	if sc != nil {
		t.Logf("\n%s", sc)
	}
	if err != nil {
		t.Fatal(err)
	}
	events := 0
	for dec := json.NewDecoder(&log); dec.More(); events++ {
		var ev map[string]any
		if err := dec.Decode(&ev); err != nil {
			t.Fatalf("injection log line %d: %v", events, err)
		}
	}
	if events != 2*len(sched)+1 {
		t.Errorf("injection log has %d events, want %d (inject and lift each, one restart)", events, 2*len(sched)+1)
	}
	if sc.Incidents != len(sched) || sc.Recall() != 1 {
		t.Errorf("recall %.2f over %d incidents (groups per incident %v), want every incident paged exactly once", sc.Recall(), sc.Incidents, sc.PerIncident)
	}
	if sc.Precision() < 0.95 {
		t.Errorf("precision %.2f, unmatched groups %v", sc.Precision(), sc.Unmatched)
	}
	for _, l := range sc.Late {
		t.Error(l)
	}
	if len(sc.Resolve) != len(sched)-1 {
		t.Errorf("%d resolved notifications for %d paging incidents", len(sc.Resolve), len(sched)-1)
	}
	for i, d := range sc.StatusDown {
		if d > 10*time.Second {
			t.Errorf("down incident %d: /system/status showed it down after %s, want within 10s", i, d)
		}
	}
	if len(sc.StatusDown) != 3 {
		t.Errorf("status showed %d of 3 stopped services down", len(sc.StatusDown))
	}
	if sc.SLAError > 0.001 {
		t.Errorf("SLA error %.4f%% relative, want ≤ 0.1%%", 100*sc.SLAError)
	}
}
