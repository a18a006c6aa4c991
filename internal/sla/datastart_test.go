package sla

import (
	"context"
	"math"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"

	"github.com/gmc-dev/gmc/internal/query"
	gmcstorage "github.com/gmc-dev/gmc/internal/storage"
)

// TestRecordedRatiosEqualStatusAtDataStart: /sla once read a window from
// the oldest raw sample on (a 30d window over 4 days of data read 4 days),
// where the recording rules read the whole window; since /sla reads a
// tier-read window whole (12dc1b7), both evaluate the same expression over
// the same range from the same tier, so at the start of the data, where the
// windows reach before the first sample, the recorded ratios equal /sla's
// bit for bit: the rules' expressions, read through the reader the server
// gives them (a tier over 1440 of its buckets), against
// Reporter.ErrorRatios, at unaligned times 40 minutes, 3 hours, 26 hours
// and 3 days into 4 days of data (an error counter that appears with its
// first error 2 hours in, a second instance 25 hours in). The one
// difference left is a tier catching up: between 1 and 6 hours behind, the
// rules read it (the raw samples past its watermark aggregated as they
// run) and /sla raw samples; the ratios then agree within the tier's
// precision (tierRatioTolerance).
func TestRecordedRatiosEqualStatusAtDataStart(t *testing.T) {
	dir := t.TempDir()
	db, err := gmcstorage.Open(gmcstorage.Options{Dir: filepath.Join(dir, "raw"), Registerer: prometheus.NewRegistry(), Retention: 60 * 24 * time.Hour, MinBlockDuration: testBlock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	start := time.Date(2026, 11, 16, 9, 0, 17, 0, time.UTC)
	end := start.Add(4 * 24 * time.Hour)
	type inst struct {
		ls         [2]labels.Labels
		refs       [2]storage.SeriesRef
		from       time.Time
		good, bad  float64
		badStarted bool
	}
	mk := func(name string, from time.Time) *inst {
		return &inst{from: from, ls: [2]labels.Labels{
			labels.FromStrings("__name__", "gmc_orders_total", "service", "gw", "instance", name, "result", "success"),
			labels.FromStrings("__name__", "gmc_orders_total", "service", "gw", "instance", name, "result", "reject"),
		}}
	}
	insts := []*inst{mk("a", start), mk("b", start.Add(25*time.Hour))}
	app := db.AppenderV2(context.Background())
	for ts := start; !ts.After(end); ts = ts.Add(time.Minute) {
		d := ts.Sub(start)
		load := 600 * (1 + 0.7*math.Sin(2*math.Pi*d.Hours()/24))
		ratio := 0.002 * (1 + math.Sin(d.Hours()/5))
		for _, in := range insts {
			if ts.Before(in.from) {
				continue
			}
			in.good += load * (1 - ratio)
			if d >= 2*time.Hour {
				in.bad += math.Round(load * ratio)
				in.badStarted = true
			}
			for i, v := range []float64{in.good, in.bad} {
				if i == 1 && !in.badStarted {
					continue
				}
				if in.refs[i], err = app.Append(in.refs[i], in.ls[i], 0, ts.UnixMilli(), v, nil, nil, storage.AOptions{}); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	now := start
	set := openTiers(t, db, filepath.Join(dir, "raw"), func() time.Time { return now })
	t.Cleanup(func() { set.Close() })
	q, err := query.New(query.Options{Queryable: db, Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	engine := q.Engine()
	s := SLA{Name: "orders", Service: "gw", Objective: 99, Indicator: Indicator{Ratio: &Ratio{}},
		Windows: []Duration{Duration(time.Hour), Duration(7 * 24 * time.Hour), Duration(30 * 24 * time.Hour)}}
	s.Normalise()
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	reporter := NewReporter(ReporterOptions{SLAs: []SLA{s}, Engine: engine, Queryable: db, Tiers: set, Now: func() time.Time { return now }})
	rulesReader := set.Queryable(query.DefaultLookbackDelta.Milliseconds()).WithUnaligned(TierEdgeBuckets)
	type rule struct {
		expr string
		w    time.Duration
	}
	exprs := map[string]rule{} // by window: the recording rule's expression
	for _, g := range s.RuleGroups() {
		for _, r := range g.Rules {
			for _, w := range s.RecordedWindows() {
				if r.Record == ErrorRatioRecord(w) {
					exprs[FormatWindow(w)] = rule{r.Expr, w}
				}
			}
		}
	}
	if len(exprs) != len(s.RecordedWindows()) {
		t.Fatalf("rules record %d of the %d windows", len(exprs), len(s.RecordedWindows()))
	}
	ctx := context.Background()
	recorded := func(expr string) (float64, bool) {
		t.Helper()
		qry, err := engine.NewInstantQuery(ctx, rulesReader, nil, expr, now)
		if err != nil {
			t.Fatal(err)
		}
		defer qry.Close()
		v, err := qry.Exec(ctx).Vector()
		if err != nil {
			t.Fatal(err)
		}
		if len(v) != 1 || math.IsNaN(v[0].F) || math.IsInf(v[0].F, 0) {
			return 0, false
		}
		return v[0].F, true
	}
	catchUp := func(behind time.Duration) {
		t.Helper()
		for _, tr := range set.Tiers() {
			for range 10_000 {
				if tr.Watermark() >= 0 && now.UnixMilli()-tr.Watermark() <= behind.Milliseconds() {
					break
				}
				moved, err := set.Step(ctx, tr)
				if err != nil {
					t.Fatal(err)
				}
				if !moved {
					break
				}
			}
		}
	}
	compare := func(tolerance float64) (tierRead, equal int) {
		t.Helper()
		want, err := reporter.ErrorRatios(ctx, s, now)
		if err != nil {
			t.Fatal(err)
		}
		for k, r := range exprs {
			got, ok := recorded(r.expr)
			w, okW := want[k]
			if ok != okW {
				t.Errorf("%s over %s: recorded %v (%v), /sla %v (%v)", now.Format(time.DateTime), k, got, ok, w, okW)
				continue
			}
			if !ok {
				continue
			}
			if got == w {
				equal++
			}
			if d := math.Abs(got-w) / math.Max(w, 1e-12); d > tolerance {
				t.Errorf("%s over %s: recorded %.12g, /sla %.12g (%.2g relative)", now.Format(time.DateTime), k, got, w, d)
			}
			if reporter.ratioTier(r.w, now) != nil {
				tierRead++
			}
		}
		return tierRead, equal
	}
	for _, at := range []time.Duration{40*time.Minute + 1234*time.Millisecond, 3*time.Hour + 7*time.Second, 26*time.Hour + 31*time.Second, 3*24*time.Hour + 250*time.Millisecond} {
		now = start.Add(at)
		catchUp(0)
		tierRead, equal := compare(0)
		t.Logf("%s into the data: %d ratios equal, %d of them read from the 1m tier", at, equal, tierRead)
		if at > 25*time.Hour && tierRead == 0 {
			t.Errorf("%s into the data: no window read the tier", at)
		}
	}
	// The tier 3 hours behind (catching up after a restart): the rules
	// read it, /sla raw samples.
	now = end
	catchUp(3*time.Hour + 30*time.Minute)
	if lag := time.Duration(now.UnixMilli()-set.Tiers()[0].Watermark()) * time.Millisecond; lag < time.Hour || lag > 6*time.Hour {
		t.Fatalf("1m tier %s behind, want 1-6 h", lag)
	}
	tierRead, equal := compare(tierRatioTolerance)
	if tierRead != 0 {
		t.Errorf("/sla read %d windows from a tier 3 h behind", tierRead)
	}
	t.Logf("the tier 3 h behind: %d of %d ratios bit-equal, the others within %g", equal, len(exprs), tierRatioTolerance)
}

// tierRatioTolerance is how far a ratio read from the 1m tier may be from
// the raw samples' (TestTierRatiosEqualRaw's bound).
const tierRatioTolerance = 1e-3
