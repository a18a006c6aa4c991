package rules

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/textparse"
	"github.com/prometheus/prometheus/storage"

	"github.com/gmc-dev/gmc/internal/sla"
	"github.com/gmc-dev/gmc/sdk"
)

// TestSLALatencyOnSDKNativeHistogram checks the latency indicator on the
// native histogram the SDK really produces. Latencies are observed into
// sdk.Metrics' gmc_order_latency_seconds (a client_golang registry, native
// schema 5 from the SDK's bucket factor 1.03), gathered once a synthetic
// minute and stored as a Prometheus scrape stores them: encoded as
// delimited protobuf, parsed by Prometheus's textparse, appended to a real
// TSDB. The SLA "orders under 500µs" is evaluated every 5 minutes.
//
// Per minute, 1000 orders:
//
//	minutes 1…90   (phase 1): 997 at 150…450µs, 3 slow (800µs, 1.5ms, 3ms)  → 0.3% over 500µs
//	minutes 91…120 (phase 2): 900 at 150…450µs, 100 at 450.5, 451.5 … 549.5µs → 50 over (5%)
//
// The bound. A native histogram knows exactly how many observations lie
// below each bucket boundary; histogram_fraction(0, 500µs, …) interpolates
// only inside the bucket holding 500µs, at schema 5 (2^-351/32, 2^-350/32]
// = (498.97µs, 509.90µs]. So the fraction's error is at most the share of
// observations in that bucket: none in phase 1 (the figures are exact, to
// float rounding), 11 of 1000 in phase 2 (500.5 … 509.5µs). Each error
// ratio is asserted within (observations in that bucket) / (observations)
// over the window's increases, and the test checks the bucket holds what
// this comment says.
func TestSLALatencyOnSDKNativeHistogram(t *testing.T) {
	const threshold = 500 * time.Microsecond
	db := openTSDB(t, filepath.Join(t.TempDir(), "tsdb"))
	now := t0
	m := newManager(t, db, Options{
		Now: func() time.Time { return now }, EvalInterval: 5 * time.Minute,
		SLAs: []sla.SLA{{
			Name: "matching-latency", Service: "matching-engine", Objective: 99,
			Windows:   []sla.Duration{sla.Duration(time.Hour), sla.Duration(24 * time.Hour)},
			Indicator: sla.Indicator{Latency: &sla.Latency{Threshold: sla.Duration(threshold)}},
		}},
	})
	reg := prometheus.NewRegistry()
	metrics, err := sdk.NewMetrics(sdk.MetricsOptions{Service: "matching-engine", Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}

	us := func(v float64) time.Duration { return time.Duration(v * float64(time.Microsecond)) }
	minute := func(k int) []time.Duration {
		var out []time.Duration
		if k == 0 {
			return out
		}
		fast := 997
		if k > 90 {
			fast = 900
		}
		for j := range fast {
			out = append(out, us(150+300*(float64(j)+0.5)/float64(fast)))
		}
		if k <= 90 {
			return append(out, 800*time.Microsecond, 1500*time.Microsecond, 3*time.Millisecond)
		}
		for j := range 100 {
			out = append(out, us(450+float64(j)+0.5))
		}
		return out
	}
	// The bucket of 500µs at schema 5, computed independently of the
	// client library: (2^((i-1)/32), 2^(i/32)] with i = ceil(32·log2(v)).
	bucketOf := func(v float64) int { return int(math.Ceil(32 * math.Log2(v))) }
	thBucket := bucketOf(threshold.Seconds())
	if lo, hi := math.Exp2(float64(thBucket-1)/32), math.Exp2(float64(thBucket)/32); !(lo > 498.97e-6 && lo < 498.98e-6 && hi > 509.89e-6 && hi < 509.90e-6) {
		t.Fatalf("bucket of 500µs = (%g, %g], want (498.97µs, 509.90µs]", lo, hi)
	}
	// Per-minute counts: bad (over 500µs) and in the threshold's bucket.
	bad, inBucket := map[int]int{}, map[int]int{}
	for k := 1; k <= 120; k++ {
		for _, d := range minute(k) {
			if d > threshold {
				bad[k]++
			}
			if bucketOf(d.Seconds()) == thBucket {
				inBucket[k]++
			}
		}
	}
	if bad[1] != 3 || inBucket[1] != 0 || bad[120] != 50 || inBucket[120] != 11 {
		t.Fatalf("distribution: phase 1 bad %d in-bucket %d, phase 2 bad %d in-bucket %d; want 3 0 50 11",
			bad[1], inBucket[1], bad[120], inBucket[120])
	}
	// ratio returns the error ratio and its bound over the increases of
	// minutes from…to (1000 orders each).
	ratio := func(from, to int) (want, bound float64) {
		var b, in int
		for k := from; k <= to; k++ {
			b, in = b+bad[k], in+inBucket[k]
		}
		n := float64(1000 * (to - from + 1))
		return float64(b) / n, float64(in) / n
	}

	ctx := context.Background()
	check := func(at int, windows map[string][2]float64) {
		t.Helper()
		got, err := slaReporter(m).ErrorRatios(ctx, slaReporter(m).SLAs()[0], t0.Add(time.Duration(at)*time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		for w, wb := range windows {
			g, ok := got[w]
			if !ok || math.Abs(g-wb[0]) > wb[1]+1e-12 {
				t.Errorf("minute %d: error ratio over %s = %v (present %v), want %v ± %v", at, w, g, ok, wb[0], wb[1])
			} else {
				t.Logf("minute %d: error ratio over %s = %.6f, hand-computed %.6f ± %.6f (error %.2g)", at, w, g, wb[0], wb[1], g-wb[0])
			}
		}
	}

	for k := 0; k <= 120; k++ {
		for _, d := range minute(k) {
			metrics.ObserveOrder(d, sdk.ResultSuccess)
		}
		ts := t0.Add(time.Duration(k) * time.Minute)
		appendGathered(t, db, reg, ts)
		if k%5 == 0 {
			now = ts
			m.EvalAll(ctx, now)
		}
		if k == 90 {
			// PromQL ranges are left-open: the window w at minute 90
			// holds the samples after 90-w, so the increases of minutes
			// 90-w+2 … 90 (rate extrapolates errors and total alike).
			// All in phase 1: exact.
			r := func(from int) [2]float64 { w, b := ratio(from, 90); return [2]float64{w, b + 1e-9} }
			check(90, map[string][2]float64{"5m": r(87), "30m": r(62), "1h": r(32), "2h": r(2), "6h": r(1)})
		}
	}

	// At minute 120. The 1d and 3d ratios come from the 5m recordings: the
	// evaluation at minute 5j records the increases of minutes 5j-3 … 5j;
	// j = 1…18 are phase 1 (12 orders bad of 4000), j = 19…24 phase 2
	// (200 of 4000, 44 in the threshold's bucket).
	r := func(from int) [2]float64 { w, b := ratio(from, 120); return [2]float64{w, b} }
	long := [2]float64{(18*12 + 6*200) / 96000.0, 6 * 44 / 96000.0}
	// The SLA's period is 1d, so its burn alerts also read 12m, 48m and 144m
	// (the workbook's windows scaled to a day, see sla.SLA.BurnAlerts).
	want := map[string][2]float64{"5m": r(117), "12m": r(110), "30m": r(92), "48m": r(74), "1h": r(62), "2h": r(2), "144m": r(1), "6h": r(1), "1d": long}
	// Spelled out: over 1h, 29 phase-1 minutes and 30 phase-2 minutes.
	if w := want["1h"]; w[0] != (29*3+30*50)/59000.0 || w[1] != 30*11/59000.0 {
		t.Fatalf("hand-computed 1h ratio = %v", w)
	}
	check(120, want)

	// The SLA's status over 1h: 99% objective, achievement 100·(1 - ratio).
	st := slaReporter(m).Status()[0]
	for _, ws := range st.Windows {
		if ws.Window != "1h" {
			continue
		}
		w := want["1h"]
		if ws.Achievement == nil || math.Abs(*ws.Achievement-100*(1-w[0])) > 100*w[1] || *ws.Met {
			t.Errorf("1h achievement = %v met %v, want %v ± %v, not met", deref(ws.Achievement), ws.Met, 100*(1-w[0]), 100*w[1])
		}
	}
}

// appendGathered stores what reg gathers at ts as a Prometheus scrape does:
// delimited protobuf (the format that carries native histograms), parsed by
// textparse, each float or histogram sample appended to db.
func appendGathered(t *testing.T, db storage.AppendableV2, reg prometheus.Gatherer, ts time.Time) {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	format := expfmt.NewFormat(expfmt.TypeProtoDelim)
	enc := expfmt.NewEncoder(&buf, format)
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			t.Fatal(err)
		}
	}
	p, err := textparse.New(buf.Bytes(), string(format), labels.NewSymbolTable(), textparse.ParserOptions{})
	if p == nil {
		t.Fatalf("protobuf parser: %v", err)
	}
	app := db.AppenderV2(context.Background())
	histograms := 0
	for {
		e, err := p.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		var ls labels.Labels
		switch e {
		case textparse.EntrySeries:
			_, _, v := p.Series()
			p.Labels(&ls)
			if _, err := app.Append(0, ls, 0, ts.UnixMilli(), v, nil, nil, storage.AOptions{}); err != nil {
				t.Fatal(err)
			}
		case textparse.EntryHistogram:
			_, _, h, fh := p.Histogram()
			p.Labels(&ls)
			if ls.Get(model.MetricNameLabel) == sdk.MetricOrderLatency {
				histograms++
				if h == nil || h.Schema != 5 {
					t.Fatalf("%s is not an integer native histogram of schema 5: %v %v", ls, h, fh)
				}
			}
			if _, err := app.Append(0, ls, 0, ts.UnixMilli(), 0, h, fh, storage.AOptions{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	if histograms != 1 {
		t.Fatalf("gathered %d native %s histograms, want 1", histograms, sdk.MetricOrderLatency)
	}
}
