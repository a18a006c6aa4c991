package notify

import (
	"context"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/storage"

	"github.com/gmc-dev/gmc/internal/rules"
	"github.com/gmc-dev/gmc/internal/sla"
	gmcstorage "github.com/gmc-dev/gmc/internal/storage"
)

// stampedRecorder keeps each notification with the test clock's time.
type stampedRecorder struct {
	mu  sync.Mutex
	now func() time.Time
	got []string
	at  []time.Time
	// resolvedText is the last resolved_summary of a resolved alert.
	resolvedText string
}

func (r *stampedRecorder) Notify(_ context.Context, n *Notification) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	var as []string
	for _, a := range n.Alerts {
		as = append(as, string(a.Labels["long_window"])+" "+a.Status)
		if a.Status == "resolved" {
			r.resolvedText = string(a.Annotations["resolved_summary"])
		}
	}
	r.got = append(r.got, strings.Join(as, ", "))
	r.at = append(r.at, r.now())
	return nil
}

func (r *stampedRecorder) notifications() ([]string, []time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.got...), append([]time.Time(nil), r.at...)
}

// TestBurstPagesOnce runs an SLA's burn alerts (the rules manager, its
// recordings and ALERTS in a TSDB, evaluated every 10 s at stamped times)
// into the notification pipeline with the default inhibit rules, over
// 3 days of clean orders (100/s, objective 99.99%) and a 1-minute burst of
// 30% errors. The 1h & 5m pair pages during the burst and the 6h & 30m one
// becomes true too (muted while the faster fires); the faster resolves
// about 5 minutes after the burst, when it leaves its 5m window.
//
//   - "burst ends": before, the 6h & 30m pair, still true on the same
//     burst inside its 30m window, was un-muted and paged a second red
//     message for one incident (t-user13 F7). Now: one page, one resolve.
//   - "burn goes on" at 0.1% errors (10× the budget) after the burst: a
//     genuine slow burn still pages, once its 30m window holds only errors
//     after the faster page's end (30 minutes after it).
func TestBurstPagesOnce(t *testing.T) {
	for _, tc := range []struct {
		name  string
		after float64 // error ratio after the burst
	}{{"burst ends", 0}, {"burn goes on", 0.001}} {
		t.Run(tc.name, func(t *testing.T) {
			got, at, fastEnd, resolved := runBurst(t, tc.after)
			t.Logf("notifications %q at %v; resolved text %q", got, at, resolved)
			var slow []time.Time
			for i, n := range got {
				if strings.Contains(n, "6h firing") {
					slow = append(slow, at[i])
				}
			}
			if len(got) < 2 || got[0] != "1h firing" || !strings.Contains(got[1], "1h resolved") {
				t.Fatalf("notifications %q, want the fast burn's page, then its resolve", got)
			}
			// t-user13 F10b: "stopped burning … over both 1h and 5m" while
			// the 1h burn was still ~40×; the 5m one had fallen. The text
			// is rendered when the alert resolves and says which.
			if !regexp.MustCompile(`^SLA orders \(gw, objective 99.99%\) stopped burning its error budget at least 14.4× faster than sustainable: the 5m burn fell to [0-9.]+×, under 14.4× \(1h: still [0-9.]+×\)$`).MatchString(resolved) {
				t.Errorf("resolved text %q, want it to say the 5m burn fell and the 1h one's figure", resolved)
			}
			switch {
			case tc.after == 0 && len(slow) > 0:
				t.Errorf("notifications %q: the slow burn paged at %v for the burst the fast one paged and resolved (%v)", got, slow, fastEnd)
			case tc.after == 0 && len(got) != 2:
				t.Errorf("notifications %q, want 2: one page, one resolve", got)
			case tc.after > 0 && len(slow) == 0:
				t.Errorf("notifications %q: a burn going on at 10× after the burst never paged", got)
			case tc.after > 0 && (slow[0].Before(fastEnd.Add(29*time.Minute)) || slow[0].After(fastEnd.Add(31*time.Minute))):
				t.Errorf("the slow burn paged at %v, want 30m after the fast one's end (%v)", slow[0], fastEnd)
			}
		})
	}
}

// runBurst returns the notifications of the burst scenario (each as
// "<long_window> <status>, …") with their stamped times, when the fast
// burn resolved, and the resolved_summary of the last resolved alert.
func runBurst(t *testing.T, after float64) ([]string, []time.Time, time.Time, string) {
	t.Helper()
	rec := &stampedRecorder{}
	h := start(t, `
route: {receiver: r, group_by: [alertname, service], group_wait: 0s, group_interval: 2ms, repeat_interval: 1h}
receivers: [{name: r}]
`, map[string][]Notifier{"r": {rec}})
	rec.now = h.clock.Now
	t0 := h.clock.Now()
	reg := prometheus.NewRegistry()
	db, err := gmcstorage.Open(gmcstorage.Options{Dir: t.TempDir(), Registerer: reg, OutOfOrderWindow: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	s := sla.SLA{Name: "orders", Service: "gw", Objective: 99.99, Indicator: sla.Indicator{Ratio: &sla.Ratio{}}}
	s.Normalise()
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	var sent [][]*model.Alert
	m, err := rules.New(rules.Options{
		Appendable: db, Queryable: db, Registerer: reg, Now: h.clock.Now, EvalInterval: 10 * time.Second,
		Engine: promql.NewEngine(promql.EngineOpts{Reg: reg, MaxSamples: 50_000_000, Timeout: time.Minute,
			LookbackDelta: 5 * time.Minute, EnableDelayedNameRemoval: true}),
		SLAs: []sla.SLA{s},
		Sink: func(as []*model.Alert) { sent = append(sent, as) },
	})
	if err != nil {
		t.Fatal(err)
	}
	okLS := labels.FromStrings("__name__", "gmc_orders_total", "service", "gw", "result", "success")
	errLS := labels.FromStrings("__name__", "gmc_orders_total", "service", "gw", "result", "error")
	// The burst's start: 3 days of clean orders before it (one sample a
	// minute, then every 10 s from 6 h before it), so that every window
	// holds data, as on a gmc that has run for days (over 6 h of data, the
	// 3d & 6h ticket fired on the burst's first seconds).
	burst := 72 * time.Hour
	ctx := context.Background()
	var good, bad float64
	var fastEnd time.Time
	fastWas := false
	step := time.Minute
	for at := time.Duration(0); at <= burst+45*time.Minute; at += step {
		if at >= burst-6*time.Hour {
			step = 10 * time.Second
		}
		ratio := 0.0
		switch {
		case at > burst && at <= burst+time.Minute:
			ratio = 0.3
		case at > burst+time.Minute:
			ratio = after
		}
		good += 100 * step.Seconds() * (1 - ratio)
		bad += 100 * step.Seconds() * ratio
		ts := t0.Add(at)
		app := db.AppenderV2(ctx)
		for _, s := range []struct {
			ls labels.Labels
			v  float64
		}{{okLS, good}, {errLS, bad}} {
			if _, err := app.Append(0, s.ls, 0, ts.UnixMilli(), s.v, nil, nil, storage.AOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		if err := app.Commit(); err != nil {
			t.Fatal(err)
		}
		if at < burst-10*time.Minute {
			continue
		}
		h.clock.Advance(ts.Sub(h.clock.Now()))
		sent = nil
		m.EvalAll(ctx, ts)
		fast := false
		for _, a := range m.ActiveAlerts() {
			fast = fast || a.Labels.Get("long_window") == "1h" && a.State == "firing"
		}
		if fastWas && !fast {
			fastEnd = ts
		}
		fastWas = fast
		for _, as := range sent {
			h.d.Send(as...)
		}
		if len(sent) > 0 {
			h.settle(t)
		}
	}
	got, times := rec.notifications()
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return got, times, fastEnd, rec.resolvedText
}

// settle waits until every group has flushed twice since now (so what was
// sent before is decided), or no group is left.
func (h *harness) settle(t *testing.T) {
	t.Helper()
	target := h.d.flushes.Load() + 2
	waitFor(t, "group flushes", func() bool {
		h.d.mu.Lock()
		n := len(h.d.groups)
		h.d.mu.Unlock()
		return n == 0 || h.d.flushes.Load() >= target
	})
}
