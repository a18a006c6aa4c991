package rules

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
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
	dir := t.TempDir()
	db := openTSDB(t, filepath.Join(dir, "tsdb"))
	idle := labels.FromStrings("__name__", "node_cpu_seconds_total", "instance", "vm", "cpu", "0", "mode", "idle")
	ctx := context.Background()
	var s sink
	h := openHistory(t, dir)
	m := newManager(t, db, Options{History: h, DefaultRules: true, EvalInterval: 10 * time.Second, Sink: s.send})
	v, prev := 0.0, time.Duration(0)
	// idleFrac of each second idle since the previous sample.
	sample := func(at time.Duration, idleFrac float64) {
		v += idleFrac * (at - prev).Seconds()
		prev = at
		appendFloat(t, db, idle, t0.Add(at), v)
	}
	for at := time.Duration(0); at <= 10*time.Minute; at += 10 * time.Second {
		f := 0.021 // 97.9 % busy
		if at > 5*time.Minute {
			f = 0.065 // 93.5 % busy
		}
		if eased > 0 && at > eased {
			f = 0.5
		}
		sample(at, f)
		m.EvalAll(ctx, t0.Add(at))
	}
	if got := activeOf(t, m, "HostCPUHigh"); len(got) != 1 || got[0] != ":firing" {
		t.Fatalf("HostCPUHigh before the stop: %v, want firing", got)
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	s.take()
	// Down from 10m to 11m52s; the CPU is 10 % busy from then on.
	h2 := openHistory(t, dir)
	m2 := newManager(t, db, Options{History: h2, DefaultRules: true, EvalInterval: 2 * time.Second, Sink: s.send})
	restart := 10*time.Minute + 112*time.Second
	for at := restart; at <= restart+3*time.Minute; at += 2 * time.Second {
		if (at-restart)%(10*time.Second) == 0 {
			sample(at, 0.9)
		}
		m2.EvalAll(ctx, t0.Add(at))
	}
	var res []*model.Alert
	for _, b := range s.take() {
		for _, a := range b {
			if a.Labels["alertname"] == "HostCPUHigh" && !a.EndsAt.After(t0.Add(restart+3*time.Minute)) {
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
