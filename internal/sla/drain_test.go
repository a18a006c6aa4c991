package sla_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"

	"github.com/gmc-dev/gmc/internal/sla"
	gmcstorage "github.com/gmc-dev/gmc/internal/storage"
)

// TestDrain: SLAErrorBudgetBurn (1h and 5m) fired on for 5 minutes after
// the demo's errors stopped, and the banner gave no hint why (issue 13):
// its 5m window held them. Drain gives when the errors ended (the newest
// sample of the error counter that rose) and when the 5m window no longer
// holds them. Orders every second over 10 minutes at services whose
// errors (gmc_orders_total{result!="success"}) rise for a while:
//
//   - ended: until 90s ago, then flat: ended 90s ago, clears 3m30s from now;
//     not said 2m ago (errors rising) nor 61s ago (none counted for 29s,
//     under a tenth of the window), said from 60s ago on;
//   - ongoing: until now: not ended;
//   - paused: until 5s ago (within 30s, a tenth of the window): not ended;
//   - silent: until 90s ago, then no sample: not known none came since;
//   - latency: an indicator whose errors are no counter of their own: not known.
//
// LastErrors, the same read without the quiet, gives "ended" from 61s
// before on and "paused" (5s ago), neither while the errors still rise.
func TestDrain(t *testing.T) {
	db, err := gmcstorage.Open(gmcstorage.Options{Dir: t.TempDir(), Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	now := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	type feed struct {
		svc            string
		errorsUntil    time.Time // errors rise each second from 4m ago until then
		errorsReported time.Time // the error counter's last sample
	}
	feeds := []feed{
		{"ended", now.Add(-90 * time.Second), now},
		{"ongoing", now, now},
		{"paused", now.Add(-5 * time.Second), now},
		{"silent", now.Add(-90 * time.Second), now.Add(-90 * time.Second)},
		{"latency", now.Add(-90 * time.Second), now},
	}
	app := db.AppenderV2(context.Background())
	errs := make([]float64, len(feeds))
	for x, n := now.Add(-10*time.Minute), 0.0; !x.After(now); x, n = x.Add(time.Second), n+1 {
		for i, f := range feeds {
			if !x.Before(now.Add(-4*time.Minute)) && !x.After(f.errorsUntil) {
				errs[i]++
			}
			ok := labels.FromStrings("__name__", "gmc_orders_total", "service", f.svc, "result", "success")
			bad := labels.FromStrings("__name__", "gmc_orders_total", "service", f.svc, "result", "error")
			if _, err := app.Append(0, ok, 0, x.UnixMilli(), 100*n, nil, nil, storage.AOptions{}); err != nil {
				t.Fatal(err)
			}
			if x.After(f.errorsReported) {
				continue
			}
			if _, err := app.Append(0, bad, 0, x.UnixMilli(), errs[i], nil, nil, storage.AOptions{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	var slas []sla.SLA
	for _, f := range feeds {
		s := sla.SLA{Name: f.svc, Service: f.svc, Objective: 99.9, Indicator: sla.Indicator{Ratio: &sla.Ratio{}}}
		if f.svc == "latency" {
			s.Indicator = sla.Indicator{Latency: &sla.Latency{Threshold: sla.Duration(time.Millisecond), Buckets: "classic"}}
		}
		s.Normalise()
		if err := s.Validate(); err != nil {
			t.Fatal(err)
		}
		slas = append(slas, s)
	}
	r := sla.NewReporter(sla.ReporterOptions{SLAs: slas, Queryable: db, Now: func() time.Time { return now }})
	ended, paused := now.Add(-90*time.Second), now.Add(-5*time.Second)
	endedDrain := &sla.Drain{ErrorsEnded: ended, Clears: ended.Add(5 * time.Minute)}
	for _, c := range []struct {
		svc  string
		at   time.Duration // before now
		want *sla.Drain
		last *sla.Drain // LastErrors: the newest errors, none counted since
	}{
		// Before: while its errors still rise, and until none has been
		// counted for 30s, the same timeline's "ended" is not said.
		{"ended", 2 * time.Minute, nil, nil},
		{"ended", 61 * time.Second, nil, endedDrain},
		{"ended", 60 * time.Second, endedDrain, endedDrain},
		{"ended", 0, endedDrain, endedDrain},
		{"ongoing", 0, nil, nil},
		{"paused", 0, nil, &sla.Drain{ErrorsEnded: paused, Clears: paused.Add(5 * time.Minute)}},
		{"silent", 0, nil, nil},
		{"latency", 0, nil, nil},
		{"no-such-sla", 0, nil, nil},
	} {
		t.Run(fmt.Sprintf("%s/%s before", c.svc, c.at), func(t *testing.T) {
			for _, f := range []struct {
				name string
				read func(context.Context, string, time.Duration, time.Time) (sla.Drain, bool, error)
				want *sla.Drain
			}{{"Drain", r.Drain, c.want}, {"LastErrors", r.LastErrors, c.last}} {
				got, ok, err := f.read(context.Background(), c.svc, 5*time.Minute, now.Add(-c.at))
				if err != nil {
					t.Fatal(err)
				}
				switch {
				case f.want == nil && ok:
					t.Errorf("%s = %+v, want none", f.name, got)
				case f.want != nil && (!ok || !got.ErrorsEnded.Equal(f.want.ErrorsEnded) || !got.Clears.Equal(f.want.Clears)):
					t.Errorf("%s = %+v (%v), want %+v", f.name, got, ok, *f.want)
				}
			}
		})
	}
}

// TestDrainAnnotateSeconds: errors last counted at 23:42:47.888 were
// counted after 23:42:47, and their 5m window clears at 23:47:47.888
// (trial 30 F3: the page said "no errors counted after 23:42:47 … clears
// by 23:47:47", each under a second early). A burn page says the next
// whole second for both, and the second the errors ended in.
func TestDrainAnnotateSeconds(t *testing.T) {
	ended := time.Date(2026, 12, 7, 23, 42, 47, 888e6, time.UTC)
	d := sla.Drain{ErrorsEnded: ended, Clears: ended.Add(5 * time.Minute)}
	for _, c := range []struct {
		at   time.Time
		want string
	}{
		{time.Date(2026, 12, 7, 23, 43, 0, 0, time.UTC), "SLA burns; no errors counted after 23:42:48 UTC (read at 23:43:00 UTC): unless they come back, the 5m window clears by 23:47:48 UTC"},
		{time.Date(2026, 12, 7, 23, 44, 0, 0, time.UTC), "SLA burned; its errors ended at 23:42:47 UTC, and the 5m window clears by 23:47:48 UTC"},
	} {
		as := model.LabelSet{"summary": "SLA burns its error budget"}
		d.Annotate(as, 5*time.Minute, c.at)
		if got := strings.ReplaceAll(string(as["summary"]), " its error budget", ""); got != c.want {
			t.Errorf("at %s: summary %q, want %q", c.at.Format(time.TimeOnly), got, c.want)
		}
	}
}
