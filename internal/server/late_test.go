package server_test

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/gmc-dev/gmc/internal/config"
	"github.com/gmc-dev/gmc/internal/tier"
)

// tierStats reads the downsampled tiers from /system/status.
func tierStats(t *testing.T, base string) map[string]tier.Stats {
	t.Helper()
	code, body := do(t, "GET", base+"/system/status", "", nil)
	if code != http.StatusOK {
		t.Fatalf("GET /system/status: %d %s", code, body)
	}
	var st struct {
		StorageTiers []tier.Stats `json:"storage_tiers"`
	}
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatal(err)
	}
	out := map[string]tier.Stats{}
	for _, s := range st.StorageTiers {
		out[s.Name] = s
	}
	return out
}

// TestLateWriteMarksTheTiers: a push whose sample lands in a minute the 1m
// tier's job has aggregated marks the tier late from that minute as the
// push returns (readers read raw data from there), and the job's next
// round re-aggregates it and clears the mark.
func TestLateWriteMarksTheTiers(t *testing.T) {
	start := time.Now().Add(-10 * time.Minute).Truncate(time.Minute)
	base, _ := runServerIn(t, config.Default(), t.TempDir(), nil)
	for ts := start; ts.Before(start.Add(5 * time.Minute)); ts = ts.Add(15 * time.Second) {
		pushAt(t, base, "orders", ts)
	}
	// The job's rounds are 15 s apart; it aggregates up to 2 minutes ago.
	waitFor(t, 90*time.Second, "the 1m tier past the pushes", func() bool {
		return tierStats(t, base)["1m"].Watermark >= float64(start.Add(5*time.Minute).Unix())
	})
	if lf := tierStats(t, base)["1m"].LateFrom; lf != 0 {
		t.Fatalf("1m tier late from %v before any late write", time.Unix(int64(lf), 0))
	}
	late := start.Add(2*time.Minute + 7*time.Second)
	pushAt(t, base, "orders", late)
	if lf := tierStats(t, base)["1m"].LateFrom; lf != float64(start.Add(2*time.Minute).Unix()) {
		t.Fatalf("1m tier late from %v after a write at %v, want %v", time.Unix(int64(lf), 0), late, start.Add(2*time.Minute))
	}
	waitFor(t, 90*time.Second, "the late minute re-aggregated", func() bool {
		st := tierStats(t, base)["1m"]
		return st.LateFrom == 0 && st.Reaggregated == 1
	})
}
