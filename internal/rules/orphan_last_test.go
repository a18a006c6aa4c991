package rules

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
)

// TestOrphanResolvedLastSeenFiring: HostCPUHigh fires at 97.9 % busy, the
// CPU eases to 93.5 % (still firing, no transition recorded), gmc stops,
// and the CPU falls to 10 % while it is down. The resolve sent after the
// restart said "last seen firing: CPU of vm at 97.9%", the episode's first
// firing figure, where the last evaluations before the stop read 93–94 %
// (t-user16 F6). It now says the figure of the last evaluation before the
// stop at which the alert fired, and when that was. With the CPU at 50 %
// over the last minute before the stop, HostCPUHigh was kept firing
// (keep_firing_for) without its condition: last seen firing a minute
// before the stop.
func TestOrphanResolvedLastSeenFiring(t *testing.T) {
	for _, c := range []struct {
		name   string
		eased  time.Duration // 50 % busy after it (none: 0)
		seenAt time.Duration
	}{{"firing to the stop", 0, 10 * time.Minute}, {"kept firing", 9 * time.Minute, 9 * time.Minute}} {
		t.Run(c.name, func(t *testing.T) { testOrphanResolvedLastSeenFiring(t, c.eased, c.seenAt) })
	}
}

func testOrphanResolvedLastSeenFiring(t *testing.T, eased, seenAt time.Duration) {
	v, prev := 0.0, time.Duration(0)
	sent, _, end := cpuRestart(t, func(at time.Duration) float64 {
		f := 0.021 // 97.9 % busy
		if at > 5*time.Minute {
			f = 0.065 // 93.5 % busy
		}
		if eased > 0 && at > eased {
			f = 0.5
		}
		if at > 10*time.Minute {
			f = 0.9 // down from 10m to 11m52s; 10 % busy from then on
		}
		// f of each second idle since the previous sample.
		v += f * (at - prev).Seconds()
		prev = at
		return v
	})
	var res []*model.Alert
	for _, b := range sent {
		for _, a := range b {
			if a.Labels["alertname"] == "HostCPUHigh" && !a.EndsAt.After(end) {
				res = append(res, a)
			}
		}
	}
	if len(res) != 1 {
		t.Fatalf("HostCPUHigh resolves sent after the restart: %d, want 1", len(res))
	}
	text := string(res[0].Annotations[ResolvedSummaryAnnotation])
	want := "resolved; last seen firing at " + t0.Add(seenAt).Format(time.TimeOnly) + " UTC: CPU of vm at 93.5%, above 90%"
	if !strings.HasPrefix(text, want) || !strings.Contains(text, "found resolved at gmc's restart") {
		t.Errorf("HostCPUHigh's resolve says %q; want it to begin %q (its last evaluation before the stop) and say it was found resolved at the restart", text, want)
	}
	if got := string(res[0].Annotations["summary"]); got != "CPU of vm at 93.5%, above 90%" {
		t.Errorf("HostCPUHigh's resolve carries the summary %q, want its last firing evaluation's, CPU of vm at 93.5%%, above 90%%", got)
	}
}
