package sla_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	promrules "github.com/prometheus/prometheus/rules"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/template"

	"github.com/gmc-dev/gmc/internal/sla"
	gmcstorage "github.com/gmc-dev/gmc/internal/storage"
)

// TestWindowsFromRawData writes 7 hours of an order counter before any SLA
// evaluation ever ran (as when gmc starts on existing data), with traffic
// five times higher in the last two hours and an error counter that only
// appears in the fourth hour, and checks every window's figures against an
// offline computation from the same samples: traffic-weighted, over the
// true window, within 0.1% relative. Windows mostly without data are shown
// with their coverage but not judged; an SLA whose error counter never
// existed has zero errors, not "no data".
func TestWindowsFromRawData(t *testing.T) {
	db, err := gmcstorage.Open(gmcstorage.Options{Dir: t.TempDir(), Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	start := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	// One sample every 10s ("minutes" counts them; 6 to a minute).
	const step = 10 * time.Second
	const minutes = 7 * 60 * 6
	now := start.Add(minutes * step)
	okLS := labels.FromStrings("__name__", "gmc_orders_total", "service", "gw", "result", "success")
	errLS := labels.FromStrings("__name__", "gmc_orders_total", "service", "gw", "result", "error")
	otherLS := labels.FromStrings("__name__", "gmc_orders_total", "service", "quiet", "result", "success")
	// good[k], bad[k]: counters at minute k; bad < 0 while it does not exist.
	good, bad := make([]float64, minutes+1), make([]float64, minutes+1)
	for k := 0; k <= minutes; k++ {
		bad[k] = -1
		if k == 0 {
			continue
		}
		rate := 1000.0
		if k > 300*6 {
			rate = 5000
		}
		good[k] = good[k-1] + rate
		switch {
		case k == 180*6:
			bad[k] = 0 // the error counter appears at 03:00
		case k > 180*6 && k <= 240*6:
			bad[k] = bad[k-1] + 20
		case k > 240*6:
			bad[k] = bad[k-1]
		}
	}
	app := db.AppenderV2(context.Background())
	for k := 0; k <= minutes; k++ {
		ts := start.Add(time.Duration(k) * step).UnixMilli()
		for _, s := range []struct {
			ls labels.Labels
			v  float64
		}{{okLS, good[k]}, {errLS, bad[k]}, {otherLS, good[k]}} {
			if s.v < 0 {
				continue
			}
			if _, err := app.Append(0, s.ls, 0, ts, s.v, nil, nil, storage.AOptions{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	// offline is the error ratio over (now-w, now] from the samples:
	// each counter's increase since its last sample before the window (or
	// since zero, for one born inside it). rate() extrapolates to the
	// window's edges at the window's average rate, an error bounded by one
	// sample interval over the window (here 10s, below 0.1% from 5m on).
	offline := func(w time.Duration) float64 {
		from := minutes - int(w/step) // last sample outside the window
		inc := func(c []float64) float64 {
			base := 0.0
			if from >= 0 && c[from] >= 0 {
				base = c[from]
			}
			return max(0, c[minutes]) - base
		}
		e, g := inc(bad), inc(good)
		return e / (e + g)
	}

	engine := promql.NewEngine(promql.EngineOpts{MaxSamples: 50_000_000, Timeout: time.Minute, LookbackDelta: 5 * time.Minute})
	slas := []sla.SLA{
		{Name: "orders", Service: "gw", Objective: 99.9, Indicator: sla.Indicator{Ratio: &sla.Ratio{}},
			Windows: []sla.Duration{sla.Duration(time.Hour), sla.Duration(3 * time.Hour), sla.Duration(24 * time.Hour), sla.Duration(30 * 24 * time.Hour)}},
		{Name: "quiet", Service: "quiet", Objective: 99.9, Indicator: sla.Indicator{Ratio: &sla.Ratio{}},
			Windows: []sla.Duration{sla.Duration(time.Hour)}},
	}
	for i := range slas {
		slas[i].Normalise()
		if err := slas[i].Validate(); err != nil {
			t.Fatal(err)
		}
	}
	r := sla.NewReporter(sla.ReporterOptions{SLAs: slas, Engine: engine, Queryable: db, Now: func() time.Time { return now }})
	// A caller that has given up (a closed tab) gets, and leaves in the
	// cache, a real answer, not "context canceled" for every reader.
	gone, cancel := context.WithCancel(context.Background())
	cancel()
	for _, st := range r.StatusContext(gone) {
		if st.Error != "" {
			t.Fatalf("status for a cancelled caller: %s", st.Error)
		}
	}
	sts := r.Status()
	if len(sts) != 2 || sts[0].Error != "" || sts[1].Error != "" {
		t.Fatalf("status = %+v", sts)
	}
	ratios, err := r.ErrorRatios(context.Background(), slas[0], now)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []time.Duration{5 * time.Minute, time.Hour, 3 * time.Hour, 6 * time.Hour, 24 * time.Hour, 72 * time.Hour, 30 * 24 * time.Hour} {
		want := offline(w)
		got, ok := ratios[sla.FormatWindow(w)]
		if !ok || !within(got, want, 1e-3) {
			t.Errorf("error ratio over %s = %v (present %v), offline %v", sla.FormatWindow(w), got, ok, want)
		}
	}
	type win struct {
		coverage float64
		judged   bool
		note     string
	}
	wants := map[string]win{
		"1h":  {1, true, ""},
		"3h":  {1, true, ""},
		"1d":  {7.0 / 24, false, "only 7h of data in the 1d window (29.2%): not judged"},
		"30d": {7.0 / 720, false, "only 7h of data in the 30d window (1.0%): not judged"},
	}
	for _, ws := range sts[0].Windows {
		w := wants[ws.Window]
		if ws.Coverage == nil || !within(*ws.Coverage, w.coverage, 1e-3) || (ws.Met != nil) != w.judged || ws.Note != w.note {
			t.Errorf("window %s: coverage %v met %v note %q; want coverage %v judged %v note %q", ws.Window, deref(ws.Coverage), ws.Met, ws.Note, w.coverage, w.judged, w.note)
		}
		e := offline(mustWindow(t, ws.Window))
		if ws.Achievement == nil || !within(*ws.Achievement, 100*(1-e), 1e-3) || !within(*ws.BurnRate, e/0.001, 1e-3) ||
			!within(*ws.ErrorBudgetLeft, 1-e/0.001, 1e-3) {
			t.Errorf("window %s: achievement %v burn %v left %v; offline error ratio %v", ws.Window, deref(ws.Achievement), deref(ws.BurnRate), deref(ws.ErrorBudgetLeft), e)
		}
	}
	// The 3h window (errors at 03:00-04:00 fell out of it) is met; the 1d
	// one is missed but not judged on 7h of data: the SLA is not "violated".
	if sts[0].State == "violated" {
		t.Errorf("state violated on windows mostly without data: %+v", sts[0])
	}
	if q := sts[1]; q.State != "ok" || q.Windows[0].Achievement == nil || *q.Windows[0].Achievement != 100 {
		t.Errorf("an SLA without any error series: %+v, want ok at 100%%", q)
	}

	// GET /sla/{name} answers that SLA's same figures; an unknown one 404.
	mux := http.NewServeMux()
	for _, rt := range r.Routes() {
		mux.HandleFunc(rt.Pattern(), rt.Handler)
	}
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/sla/orders", nil))
	var detail struct {
		Data sla.Detail `json:"data"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &detail); err != nil || rec.Code != http.StatusOK {
		t.Fatalf("GET /sla/orders: %d %s (%v)", rec.Code, rec.Body, err)
	}
	if d := detail.Data; d.SLA.Name != "orders" || len(d.Status.Windows) != len(sts[0].Windows) ||
		!within(deref(d.Status.Windows[0].Achievement), deref(sts[0].Windows[0].Achievement), 1e-12) {
		t.Errorf("GET /sla/orders = %+v, want the status %+v", d, sts[0])
	}
	rec = httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/sla/nope", nil))
	if rec.Code != http.StatusNotFound {
		t.Errorf("GET /sla/nope: %d, want 404", rec.Code)
	}
}

func within(got, want, rel float64) bool {
	if want == 0 {
		return math.Abs(got) < 1e-12
	}
	return math.Abs(got-want) <= rel*math.Abs(want)
}

func deref(p *float64) float64 {
	if p == nil {
		return math.NaN()
	}
	return *p
}

func mustWindow(t *testing.T, s string) time.Duration {
	t.Helper()
	n := strings.TrimRight(s, "mhd")
	var d time.Duration
	switch s[len(s)-1] {
	case 'm':
		d = time.Minute
	case 'h':
		d = time.Hour
	case 'd':
		d = 24 * time.Hour
	}
	var k int
	for _, c := range n {
		k = k*10 + int(c-'0')
	}
	return time.Duration(k) * d
}

// TestCoverageCountsHoles writes an order counter every 10s for 4h except
// a 70-minute hole (as gmc demo's history leaves before its start): the
// windows spanning the hole are covered only where samples are (a sample
// covering the 5m lookback after it), not from the oldest sample on, both
// in the Reporter and in the PromQL of the burn alert's coverage note.
func TestCoverageCountsHoles(t *testing.T) {
	db, err := gmcstorage.Open(gmcstorage.Options{Dir: t.TempDir(), Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	now := time.Date(2026, 3, 2, 4, 0, 0, 0, time.UTC)
	holeFrom, holeTo := now.Add(-2*time.Hour), now.Add(-50*time.Minute) // (holeFrom, holeTo) empty
	ls := labels.FromStrings("__name__", "gmc_orders_total", "service", "gw", "result", "success")
	app := db.AppenderV2(context.Background())
	v := 0.0
	for ts := now.Add(-4 * time.Hour); !ts.After(now); ts = ts.Add(10 * time.Second) {
		v += 100
		if ts.After(holeFrom) && ts.Before(holeTo) {
			continue
		}
		if _, err := app.Append(0, ls, 0, ts.UnixMilli(), v, nil, nil, storage.AOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	s := sla.SLA{Name: "orders", Service: "gw", Objective: 99.9, Indicator: sla.Indicator{Ratio: &sla.Ratio{}},
		Windows: []sla.Duration{sla.Duration(time.Hour), sla.Duration(3 * time.Hour), sla.Duration(24 * time.Hour)}}
	s.Normalise()
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	engine := promql.NewEngine(promql.EngineOpts{MaxSamples: 50_000_000, Timeout: time.Minute, LookbackDelta: 5 * time.Minute})
	r := sla.NewReporter(sla.ReporterOptions{SLAs: []sla.SLA{s}, Engine: engine, Queryable: db, Now: func() time.Time { return now }})
	cov, err := r.Coverage(context.Background(), s, now)
	if err != nil {
		t.Fatal(err)
	}
	// Held: the 2h before the hole and the 50m after it, not the 5m of
	// lookback after the hole's last sample (t-user11 #6: "over 4h 53m
	// of data" where the window held 4h 48m); the 1h window starts 10m
	// into the hole.
	held := map[string]time.Duration{
		"1h": 50 * time.Minute,
		"3h": time.Hour + 50*time.Minute,
		"1d": 2*time.Hour + 50*time.Minute,
	}
	for w, h := range held {
		want := h.Seconds() / mustWindow(t, w).Seconds()
		if got, ok := cov[w]; !ok || !within(got, want, 1e-3) {
			t.Errorf("coverage of %s = %v (present %v), want %v (%s held)", w, got, ok, want, h)
		}
	}
	// The burn alerts' coverage note counts the same time (their long
	// windows here: 12m, 48m and 2h24m, the last holding the hole), to
	// within a step of its subquery (1/3600 of the window, at least 1s) at
	// the hole's end; it counted 1m steps, the lookback after the hole's
	// last sample too.
	checked := 0
	defer func() {
		if checked < 3 {
			t.Errorf("%d burn alerts' coverage notes checked, want 3", checked)
		}
	}()
	qf := promrules.EngineQueryFunc(engine, db)
	for _, g := range s.RuleGroups() {
		for _, rl := range g.Rules {
			note := rl.Annotations["long_window_coverage"]
			long := rl.Labels["long_window"]
			if note == "" || long == "" {
				continue
			}
			// The data the long window holds: (-4h, -2h] and [-50m, 0].
			lw := mustWindow(t, long)
			h := time.Duration(0)
			if lw > 2*time.Hour {
				h = min(lw, 4*time.Hour) - 2*time.Hour
			}
			h += min(lw, 50*time.Minute)
			checked++
			e := template.NewTemplateExpander(context.Background(), note, "test", nil, model.TimeFromUnixNano(now.UnixNano()), template.QueryFunc(qf), nil, nil)
			out, err := e.Expand()
			if err != nil {
				t.Fatalf("expand %q: %v", note, err)
			}
			var pct float64
			if _, err := fmt.Sscanf(out, "%g%% of "+long+" holds data", &pct); err != nil {
				t.Fatalf("coverage note of the %s window: %q (%v)", long, out, err)
			}
			want := 100 * h.Seconds() / lw.Seconds()
			step := max(time.Second, (lw / 3600).Round(time.Second))
			if math.Abs(pct-want) > 100*step.Seconds()/lw.Seconds()+0.01 {
				t.Errorf("coverage note of the %s window: %q, want %.4g%% (%s of data)", long, out, want, h)
			}
		}
	}
}
