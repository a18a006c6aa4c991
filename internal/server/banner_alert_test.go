package server

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/gmc-dev/gmc/internal/rules"
)

// TestBannerAlertHeldSince: the dashboard's alert feed says when an alert
// held by keep_firing_for stopped meeting its condition (the banner's
// "held" chip reads keep_firing_since), and says nothing of it otherwise.
func TestBannerAlertHeldSince(t *testing.T) {
	active, since := time.Unix(1_796_000_000, 0), time.Unix(1_796_000_300, 0)
	a := &rules.APIAlert{Labels: labels.FromStrings("alertname", "HostCPUHigh", "severity", "warning", "instance", "vm"),
		State: "firing", ActiveAt: &active, KeepFiringSince: &since, Value: "90"}
	held := bannerAlert(a)
	if held.KeepFiringSince == nil || !held.KeepFiringSince.Equal(since) {
		t.Fatalf("held alert's KeepFiringSince %v, want %v", held.KeepFiringSince, since)
	}
	b, err := json.Marshal(held)
	if err != nil {
		t.Fatal(err)
	}
	if want := `"keep_firing_since":"` + since.Format(time.RFC3339); !strings.Contains(string(b), want) {
		t.Fatalf("the feed's alert %s has no %s", b, want)
	}
	a.KeepFiringSince = nil
	b, err = json.Marshal(bannerAlert(a))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "keep_firing_since") {
		t.Fatalf("an alert whose condition holds is sent as held: %s", b)
	}
}
