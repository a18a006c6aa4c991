package tier

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	promstorage "github.com/prometheus/prometheus/storage"
)

// TestLateSamplesAreCounted: samples that reach the raw data after the
// tier's watermark passed their buckets (an agent replaying its queue
// after an outage) are not in the tier, and the audit says how many: the
// tier's count aggregate plus the missed samples equals the raw data's
// count over the audited span, per tier.
func TestLateSamplesAreCounted(t *testing.T) {
	f := newFixture(t)
	f.opts.LateWindow = 30 * time.Minute
	f.set.Close()
	f.open(t)
	ctx := context.Background()
	starts := map[string]int64{}
	for _, tr := range f.set.Tiers() {
		f.catchUp(t, tr)
		if err := f.set.audit(ctx, tr); err != nil { // the first round marks where counting starts
			t.Fatal(err)
		}
		starts[tr.Name()] = tr.audited.Load()
		if want := floorTo(f.now.Add(-30*time.Minute).UnixMilli(), tr.res); starts[tr.Name()] != want {
			t.Fatalf("tier %s: audit starts at %v, want %v", tr.Name(), time.UnixMilli(starts[tr.Name()]).UTC(), time.UnixMilli(want).UTC())
		}
	}
	// 5 minutes of a replayed queue, one sample a second, behind both
	// watermarks (4h) and after the audits' starts (3h30m, 3h).
	late := labels.FromStrings("__name__", "replayed_total", "i", "x")
	app := f.raw.AppenderV2(ctx)
	const n = 300
	for i := range n {
		ms := t0.Add(3*time.Hour + 40*time.Minute + time.Duration(i)*time.Second).UnixMilli()
		if _, err := app.Append(0, late, 0, ms, float64(i), nil, nil, promstorage.AOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	// An hour later every bucket up to the raw data's end is LateWindow old.
	f.now = f.now.Add(time.Hour)
	for _, tr := range f.set.Tiers() {
		f.catchUp(t, tr)
		for range 10 {
			if err := f.set.audit(ctx, tr); err != nil {
				t.Fatal(err)
			}
		}
		st := tr.Stats()
		if st.LateMissed != n {
			t.Errorf("tier %s: %d late samples missed, want %d", tr.Name(), st.LateMissed, n)
		}
		// Written straight into the raw store, past the watch every gmc
		// write path goes through: the audit marks the tier late from
		// where it found them, for the job to re-aggregate.
		if st.LateFrom == 0 || st.LateFrom > float64(t0.Add(3*time.Hour+40*time.Minute).Unix()) {
			t.Errorf("tier %s: the audit marked it late from %v, want at or before the first late sample", tr.Name(), time.Unix(int64(st.LateFrom), 0).UTC())
		}
		through := time.Unix(int64(st.LateAudited), 0)
		if want := floorTo(f.now.Add(-30*time.Minute).UnixMilli(), tr.res); through.UnixMilli() != want {
			t.Errorf("tier %s: audited through %v, want LateWindow behind now, %v", tr.Name(), through.UTC(), time.UnixMilli(want).UTC())
		}
		// The raw data's count over the span, read with PromQL, equals the
		// tier's count aggregate plus the missed samples.
		span := through.Sub(time.UnixMilli(starts[tr.Name()]))
		rng := "[" + span.String() + "]"
		raw := f.rangeQuery(t, f.raw, "sum(count_over_time({__name__=~\".+\"}"+rng+"))", through, through, time.Minute)
		tiered := f.rangeQuery(t, tr.db, "sum(sum_over_time({__agg__=\"count\"}"+rng+"))", through, through, time.Minute)
		if len(raw) != 1 || len(tiered) != 1 {
			t.Fatalf("tier %s: raw %v, tier %v", tr.Name(), raw, tiered)
		}
		r, c := raw[0].Floats[0].F, tiered[0].Floats[0].F
		if r != c+n || float64(st.LateAuditedSamples) != r {
			t.Errorf("tier %s: raw count %v, tier count %v + %d missed; audit counted %d raw samples", tr.Name(), r, c, n, st.LateAuditedSamples)
		}
	}
	// The counts are kept with the watermark: after a restart they are
	// what they were (they restarted from 0), and the audit goes on from
	// where it was, not from the new start.
	before := map[string]Stats{}
	for _, tr := range f.set.Tiers() {
		before[tr.Name()] = tr.Stats()
	}
	f.set.Close()
	f.now = f.now.Add(40 * time.Minute) // an hour's bucket more is LateWindow old
	f.open(t)
	for _, tr := range f.set.Tiers() {
		b := before[tr.Name()]
		st := tr.Stats()
		if st.LateMissed != b.LateMissed || st.LateAuditedSamples != b.LateAuditedSamples || st.LateAudited != b.LateAudited {
			t.Errorf("tier %s after a restart: %d of %d missed through %v, before it %d of %d through %v", tr.Name(),
				st.LateMissed, st.LateAuditedSamples, st.LateAudited, b.LateMissed, b.LateAuditedSamples, b.LateAudited)
		}
		if err := f.set.audit(ctx, tr); err != nil {
			t.Fatal(err)
		}
		st = tr.Stats()
		if st.LateAudited <= b.LateAudited || st.LateMissed != n {
			t.Errorf("tier %s: the audit after a restart reached %v (before it %v), %d missed; want it past, %d", tr.Name(), st.LateAudited, b.LateAudited, st.LateMissed, n)
		}
	}
}

// TestLastBucketBeyondTheFirstWindow: the look-up of a series' last bucket
// searches 2 h, then 2 days, then the retention before the point asked
// for; a bucket older than the first window (a 3 h hole) is found, and the
// answer equals a search of the whole retention at once.
func TestLastBucketBeyondTheFirstWindow(t *testing.T) {
	f := newFixture(t)
	tr := f.set.Tiers()[0]
	f.catchUp(t, tr)
	at := t0.Add(rawSpan + 3*time.Hour).UnixMilli()
	read := func() []float64 {
		lb := &lastBuckets{t: tr, at: at}
		defer lb.close()
		var out []float64
		for _, inst := range []string{"a", "b"} {
			c, l, _, _, ok := lb.read(context.Background(), labels.FromStrings("__name__", "c_total", "i", inst))
			if !ok {
				t.Fatalf("c_total{i=%q}: no last bucket within the retention", inst)
			}
			out = append(out, c, l)
		}
		return out
	}
	windowed := read()
	saved := lookBack
	lookBack = []time.Duration{0}
	defer func() { lookBack = saved }()
	whole := read()
	if len(windowed) != len(whole) {
		t.Fatalf("windowed %v, whole retention %v", windowed, whole)
	}
	for i := range whole {
		if windowed[i] != whole[i] {
			t.Errorf("windowed search %v, whole retention %v", windowed, whole)
			break
		}
	}
}
