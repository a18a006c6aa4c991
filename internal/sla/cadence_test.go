package sla_test

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/storage"

	"github.com/gmc-dev/gmc/internal/sla"
	gmcstorage "github.com/gmc-dev/gmc/internal/storage"
)

// TestCoverageByOwnCadence: /sla's coverage counted every gap of up to
// 5 minutes between samples as data, and up to 5 minutes after a series
// stopped (t-user16 F7: gmc's own 1m52s outage in samples 1 s apart, 1h
// coverage 39.3 % where the samples covered 36.1 %). A gap is data only
// when it is no hole by the series' own cadence (span.Hole: at most 3 times
// its mean interval over the 10 minutes up to the gap's end, and 5
// minutes). Order counters (success and error) every second:
//
//   - trial: the trial's samples, 06:54:46 to 07:18:19 with no sample
//     between 07:14:04 and 07:15:56: 19m18s + 2m23s = 21m41s of the hour
//     (the 5m rule: 23m33s, 39.25 %);
//   - stopped: two hours to 4 minutes ago (the 5m rule counted the 4
//     minutes as data still coming in);
//   - hole: two hours to now but a 112 s hole ending 10 minutes ago: its
//     30m window is 93.8 % covered, no longer judged (the 5m rule: 100 %,
//     judged met); its 1h window, 96.9 %, still is.
func TestCoverageByOwnCadence(t *testing.T) {
	db, err := gmcstorage.Open(gmcstorage.Options{Dir: t.TempDir(), Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	now := time.Date(2026, 12, 6, 7, 18, 19, 0, time.UTC)
	at := func(h, m, s int) time.Time { return time.Date(2026, 12, 6, h, m, s, 0, time.UTC) }
	// Each service's counters every second in [from, to], none in
	// (holeFrom, holeTo), written in time order across services.
	type feed struct {
		svc                        string
		from, to, holeFrom, holeTo time.Time
	}
	app := db.AppenderV2(context.Background())
	for x, n := now.Add(-2*time.Hour), 0.0; !x.After(now); x, n = x.Add(time.Second), n+1 {
		for _, f := range []feed{
			{"trial", at(6, 54, 46), now, at(7, 14, 4), at(7, 15, 56)},
			{"stopped", now.Add(-2 * time.Hour), now.Add(-4 * time.Minute), now, now},
			{"hole", now.Add(-2 * time.Hour), now, now.Add(-10*time.Minute - 112*time.Second), now.Add(-10 * time.Minute)},
		} {
			if x.Before(f.from) || x.After(f.to) || x.After(f.holeFrom) && x.Before(f.holeTo) {
				continue
			}
			ok := labels.FromStrings("__name__", "gmc_orders_total", "service", f.svc, "result", "success")
			bad := labels.FromStrings("__name__", "gmc_orders_total", "service", f.svc, "result", "error")
			if _, err := app.Append(0, ok, 0, x.UnixMilli(), 1000*n, nil, nil, storage.AOptions{}); err != nil {
				t.Fatal(err)
			}
			if _, err := app.Append(0, bad, 0, x.UnixMilli(), 500*n, nil, nil, storage.AOptions{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	engine := promql.NewEngine(promql.EngineOpts{MaxSamples: 50_000_000, Timeout: time.Minute, LookbackDelta: 5 * time.Minute})
	for _, c := range []struct {
		svc  string
		want map[string]time.Duration // the data each window holds
	}{
		{"trial", map[string]time.Duration{"1h": 21*time.Minute + 41*time.Second, "30m": 21*time.Minute + 41*time.Second, "5m": 3*time.Minute + 8*time.Second}},
		{"stopped", map[string]time.Duration{"1h": 56 * time.Minute, "30m": 26 * time.Minute, "5m": time.Minute}},
		{"hole", map[string]time.Duration{"1h": time.Hour - 112*time.Second, "30m": 30*time.Minute - 112*time.Second, "5m": 5 * time.Minute}},
	} {
		t.Run(c.svc, func(t *testing.T) {
			s := sla.SLA{Name: c.svc, Service: c.svc, Objective: 50, Indicator: sla.Indicator{Ratio: &sla.Ratio{}},
				Windows: []sla.Duration{sla.Duration(30 * time.Minute), sla.Duration(time.Hour)}}
			s.Normalise()
			if err := s.Validate(); err != nil {
				t.Fatal(err)
			}
			r := sla.NewReporter(sla.ReporterOptions{SLAs: []sla.SLA{s}, Engine: engine, Queryable: db, Now: func() time.Time { return now }})
			cov, err := r.Coverage(context.Background(), s, now)
			if err != nil {
				t.Fatal(err)
			}
			for w, held := range c.want {
				want := held.Seconds() / mustWindow(t, w).Seconds()
				if got, ok := cov[w]; !ok || math.Abs(got-want) > 1e-9 {
					t.Errorf("coverage of %s = %.6f (present %v), want %.6f (%s of data)", w, got, ok, want, held)
				}
			}
			if c.svc != "hole" {
				return
			}
			// The 30m window is no longer judged (93.8 % < 95 %); the 1h
			// window is, met (a third of the orders fail: objective 50 %).
			st := r.StatusContext(context.Background())
			if len(st) != 1 || len(st[0].Windows) != 2 {
				t.Fatalf("status %+v", st)
			}
			for _, ws := range st[0].Windows {
				switch ws.Window {
				case "30m":
					if ws.Met != nil || ws.Note != "only 28m8s of data in the 30m window (93.8%): not judged" {
						t.Errorf("30m: met %v, note %q; want not judged, only 28m8s of data (93.8%%)", ws.Met, ws.Note)
					}
				case "1h":
					if ws.Met == nil || !*ws.Met || ws.Note != "" {
						t.Errorf("1h: met %v, note %q; want judged met", ws.Met, ws.Note)
					}
				}
			}
		})
	}
}
