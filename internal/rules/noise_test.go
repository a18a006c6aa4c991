package rules

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/storage"
)

// active returns the services for which the alert named name is in state
// ("pending" or "firing").
func active(t *testing.T, m *Manager, name, state string) []string {
	t.Helper()
	var out []string
	for _, g := range m.Groups() {
		for _, r := range g.AlertingRules() {
			if r.Name() != name {
				continue
			}
			if err := r.LastError(); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			for _, a := range r.ActiveAlerts() {
				if a.State.String() == state {
					out = append(out, a.Labels.Get("service"))
				}
			}
		}
	}
	return out
}

// TestServiceSilentNoise replays the traffic of the pages without an
// incident: a scraped service whose single scrape failed (staleness markers,
// up = 0), a benchmark whose results carry a service label between runs,
// and gmc's own ALERTS series; none is a silent pushed service. A service
// pushing every second fires at down_after (8s), not before, per-service
// overrides apply, and it resolves with its next push.
func TestServiceSilentNoise(t *testing.T) {
	db := openTSDB(t, t.TempDir())
	m := newManager(t, db, Options{DefaultRules: true, ServiceDownAfter: map[string]time.Duration{"eod": time.Minute}})
	ctx := context.Background()
	stale := math.Float64frombits(value.StaleNaN)
	md := labels.FromStrings("__name__", "gmc_requests_total", "service", "market-data", "job", "md", "instance", "md:1")
	mdUp := labels.FromStrings("__name__", "up", "service", "market-data", "job", "md", "instance", "md:1")
	bt := labels.FromStrings("__name__", "gmc_requests_total", "service", "backtester", "instance", "bt-1")
	eod := labels.FromStrings("__name__", "gmc_pnl", "service", "eod", "instance", "eod-1")
	benchRes := labels.FromStrings("__name__", "gmc_bench_median", "service", "db-standin", "benchmark", "db")
	for sec := 0; sec <= 120; sec++ {
		ts := t0.Add(time.Duration(sec) * time.Second)
		switch {
		case sec == 100: // one failed scrape
			appendFloat(t, db, md, ts, stale)
			appendFloat(t, db, mdUp, ts, 0)
		default:
			appendFloat(t, db, md, ts, float64(sec))
			appendFloat(t, db, mdUp, ts, 1)
		}
		if sec%60 == 0 {
			appendFloat(t, db, benchRes, ts, 1)
		}
		if sec <= 30 || sec >= 115 { // the backtester stops for 85s
			appendFloat(t, db, bt, ts, float64(sec))
		} else {
			appendFloat(t, db, labels.FromStrings("__name__", "ALERTS", "service", "backtester", "alertname", "X", "alertstate", "firing"), ts, 1)
		}
		if sec == 0 || sec == 100 {
			appendFloat(t, db, eod, ts, 1)
		}
		m.EvalAll(ctx, ts)
		got := active(t, m, "ServiceSilent", "firing")
		var want []string
		switch {
		case sec > 38 && sec < 115: // pushed every second until 30s: down after 8s
			want = []string{"backtester"}
		}
		if sec > 60 && sec < 100 {
			want = append(want, "eod")
		}
		if !equalStrings(got, want) {
			t.Fatalf("at %ds ServiceSilent fires for %v, want %v", sec, got, want)
		}
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	seen := map[string]int{}
	for _, x := range a {
		seen[x]++
	}
	for _, x := range b {
		seen[x]--
	}
	for _, n := range seen {
		if n != 0 {
			return false
		}
	}
	return true
}

// latency appends one second of an order latency histogram (cumulative):
// fast orders at ~100µs and slow ones at ~2ms.
func appendLatency(t *testing.T, db storage.AppendableV2, svc string, ts time.Time, fast, slow float64) {
	t.Helper()
	fh := &histogram.FloatHistogram{
		Schema: 0, Count: fast + slow, Sum: fast*100e-6 + slow*2e-3,
		PositiveSpans:   []histogram.Span{{Offset: -13, Length: 1}, {Offset: 4, Length: 1}},
		PositiveBuckets: []float64{fast, slow},
	}
	app := db.AppenderV2(context.Background())
	ls := labels.FromStrings("__name__", "gmc_order_latency_seconds", "service", svc, "instance", svc+"-1")
	if _, err := app.Append(0, ls, 0, ts.UnixMilli(), 0, nil, fh, storage.AOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
}

// TestServiceLatencyHighNoise: a 4s blip of slow orders pages nothing; a
// sustained one (60s) fires after its `for` and resolves within 15s of its
// end.
func TestServiceLatencyHighNoise(t *testing.T) {
	db := openTSDB(t, t.TempDir())
	m := newManager(t, db, Options{DefaultRules: true})
	ctx := context.Background()
	var fast, slow float64
	var fired, resolved int = -1, -1
	const blipFrom, blipTo, incFrom, incTo = 60, 64, 120, 180
	for sec := 0; sec <= 240; sec++ {
		ts := t0.Add(time.Duration(sec) * time.Second)
		fast += 900
		if (sec > blipFrom && sec <= blipTo) || (sec > incFrom && sec <= incTo) {
			slow += 100 // 1 order in 10 takes 2ms
		}
		appendLatency(t, db, "engine", ts, fast, slow)
		m.EvalAll(ctx, ts)
		firing := len(active(t, m, "ServiceLatencyHigh", "firing")) > 0
		switch {
		case firing && sec < incFrom:
			t.Fatalf("ServiceLatencyHigh fires at %ds, on the %ds blip", sec, blipTo-blipFrom)
		case firing && fired < 0:
			fired = sec
		case !firing && fired >= 0 && resolved < 0:
			resolved = sec
		}
	}
	if fired < 0 || resolved < 0 {
		t.Fatalf("the 60s incident fired at %d, resolved at %d", fired, resolved)
	}
	if d := fired - incFrom; d < 20 || d > 30 {
		t.Errorf("fired %ds after the incident began, want its for (20s) plus at most 10s", d)
	}
	if d := resolved - incTo; d > 15 {
		t.Errorf("resolved %ds after the incident ended, want within 15s", d)
	}
	t.Logf("fired %ds after start, resolved %ds after end", fired-incFrom, resolved-incTo)
}
