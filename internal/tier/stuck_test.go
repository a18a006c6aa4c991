package tier

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/labels"
	promstorage "github.com/prometheus/prometheus/storage"

	"github.com/gmc-dev/gmc/internal/duration"
	"github.com/gmc-dev/gmc/internal/query"
	"github.com/gmc-dev/gmc/internal/storage"
)

// TestStuckHourTierRebuilt: a 1h tier stuck by the job's old 5-day batches
// (before d29cd82) stayed stuck with the new ones until someone removed
// <data_dir>/tiers/1h by hand: the old batch had committed its first
// series' buckets up to 5 days past the watermark, so the TSDB refused
// every later bucket within 4 days of the watermark as "too old", whatever
// the batch. The fixture makes that tier for real: 300 counters over 6
// days at 5 minutes, the tier caught up normally over the first day (so
// it holds data to keep), then one batch of the old span (its error is
// the trial's), and the raw data's first 12 hours deleted (what raw
// retention would have done). The current job must still fail on it;
// reopened, the tier is found stuck and rebuilt, it catches up to the end,
// its first 12 hours (no longer in the raw data) are kept, and from there
// every raw sample is counted in it.
func TestStuckHourTierRebuilt(t *testing.T) {
	raw, dir := openRaw(t, storage.Options{Retention: 30 * 24 * time.Hour})
	const series, step, span = 300, 5 * time.Minute, 6 * 24 * time.Hour
	start := t0.Add(-span)
	ctx := context.Background()
	app := raw.AppenderV2(ctx)
	lsets := make([]labels.Labels, series)
	refs := make([]promstorage.SeriesRef, series)
	var err error
	for i := range lsets {
		lsets[i] = labels.FromStrings("__name__", "many_total", "i", fmt.Sprint(i))
	}
	for k, ts := 0, start.Add(7*time.Second); !ts.After(t0); k, ts = k+1, ts.Add(step) {
		for i := range lsets {
			if refs[i], err = app.Append(refs[i], lsets[i], 0, ts.UnixMilli(), float64(k*(1+i%7)), nil, nil, promstorage.AOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		if k%200 == 199 {
			if err := app.Commit(); err != nil {
				t.Fatal(err)
			}
			app = raw.AppenderV2(ctx)
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	now := t0.Add(10 * time.Minute)
	cfg := Config{Tiers: []Level{{Resolution: duration.Duration(time.Hour), Retention: duration.Duration(2 * 365 * 24 * time.Hour)}}}
	var logs bytes.Buffer
	open := func() (*Set, *Tier) {
		t.Helper()
		set, err := Open(Options{Config: cfg, Dir: dir, Raw: raw, Now: func() time.Time { return now }, Settle: time.Nanosecond,
			Logger: slog.New(slog.NewTextHandler(&logs, nil))})
		if err != nil {
			t.Fatal(err)
		}
		return set, set.Tiers()[0]
	}
	set, tr := open()
	// A day caught up by the job, then the old job's batch.
	for tr.Watermark() < start.Add(24*time.Hour).UnixMilli() {
		if _, err := set.Step(ctx, tr); err != nil {
			t.Fatal(err)
		}
	}
	wm := tr.Watermark()
	if _, err := set.downsample(ctx, tr, wm, wm+120*tr.res, tr.db, commitEvery); err == nil || !strings.Contains(err.Error(), "too old sample") {
		t.Fatalf("the old 5-day batch: %v, want the trial's too old sample", err)
	}
	if _, err := set.Step(ctx, tr); err == nil {
		t.Fatal("the job goes on with the tier the old batch left: the fixture is not stuck")
	}
	if err := set.Close(); err != nil {
		t.Fatal(err)
	}
	// Raw retention has deleted the first 12 hours since.
	cut := start.Add(12 * time.Hour).UnixMilli()
	if err := raw.Delete(ctx, 0, cut, labels.MustNewMatcher(labels.MatchEqual, "__name__", "many_total")); err != nil {
		t.Fatal(err)
	}

	set, tr = open()
	t.Cleanup(func() { set.Close() })
	if !strings.Contains(logs.String(), "stuck tier rebuilt") {
		t.Fatalf("reopened, the stuck tier was not rebuilt; log:\n%s", logs.String())
	}
	if got := tr.Watermark(); got != wm {
		t.Fatalf("rebuilt tier's watermark %s, want the stuck one's %s", time.UnixMilli(got).UTC(), time.UnixMilli(wm).UTC())
	}
	for range 100 {
		moved, err := set.Step(ctx, tr)
		if err != nil {
			t.Fatalf("watermark %s: %v", time.UnixMilli(tr.Watermark()).UTC(), err)
		}
		if !moved {
			break
		}
	}
	if got := tr.Watermark(); got != t0.UnixMilli() {
		t.Fatalf("watermark %s after the rebuild, want %s", time.UnixMilli(got).UTC(), t0)
	}
	if entries, _ := os.ReadDir(filepath.Join(dir, "tiers")); len(entries) != 1 {
		t.Errorf("tiers dir holds %v, want only 1h", entries)
	}
	q, err := query.New(query.Options{Queryable: raw, Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	eng := q.Engine()
	scalar := func(qa promstorage.Queryable, expr string, at time.Time) float64 {
		t.Helper()
		qry, err := eng.NewInstantQuery(ctx, qa, nil, expr, at)
		if err != nil {
			t.Fatal(err)
		}
		defer qry.Close()
		v, err := qry.Exec(ctx).Vector()
		if err != nil || len(v) != 1 {
			t.Fatalf("%s: %v %v", expr, v, err)
		}
		return v[0].F
	}
	// Kept: the tier's first 12 hours, which the raw data no longer has
	// (144 samples a series).
	first := start.Add(12 * time.Hour)
	if got := scalar(tr.db, `sum(sum_over_time(many_total{__agg__="count"}[12h]))`, first); got != 144*series {
		t.Errorf("tier's count over its first 12h after the rebuild = %v, want %d", got, 144*series)
	}
	// From there on, every raw sample.
	rng := "[132h]"
	rawCount := scalar(raw, `sum(count_over_time(many_total`+rng+`))`, t0)
	tierCount := scalar(tr.db, `sum(sum_over_time(many_total{__agg__="count"}`+rng+`))`, t0)
	if rawCount != tierCount || rawCount != 132*12*series {
		t.Errorf("over the last 132h the tier counts %v raw samples, the raw data has %v (%d written)", tierCount, rawCount, 132*12*series)
	}
}
