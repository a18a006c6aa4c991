package tier

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	promstorage "github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
	"github.com/prometheus/prometheus/tsdb/chunks"
)

// fSample is a chunks.Sample of a float.
type fSample struct {
	t int64
	f float64
}

func (s fSample) T() int64                      { return s.t }
func (s fSample) ST() int64                     { return 0 }
func (s fSample) F() float64                    { return s.f }
func (s fSample) H() *histogram.Histogram       { return nil }
func (s fSample) FH() *histogram.FloatHistogram { return nil }
func (s fSample) Type() chunkenc.ValueType      { return chunkenc.ValFloat }
func (s fSample) Copy() chunks.Sample           { return s }

// TestBackfilledBlockAheadOfWatermark: an SLA's recordings backfilled into
// the tiers (Set.Backfill) before the job has caught up leave a block past
// a tier's watermark. The job can go on with such a tier, and reopened it
// is not taken for stuck (rebuilding it would drop the block): the
// detection's other side, beside TestStuckHourTierRebuilt. (Checked: with
// the detection forced on, this tier catches up too, so it is not stuck.)
func TestBackfilledBlockAheadOfWatermark(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	rec := labels.FromStrings("__name__", "sla:x:rate5m", "sla", "x")
	var ss []chunks.Sample
	for ts := t0.Add(time.Minute); !ts.After(t0.Add(rawSpan)); ts = ts.Add(time.Minute) {
		ss = append(ss, fSample{ts.UnixMilli(), 1})
	}
	if _, err := f.set.Backfill(ctx, []promstorage.Series{promstorage.NewListSeries(rec, ss)}, t0.UnixMilli(), t0.Add(rawSpan).UnixMilli()); err != nil {
		t.Fatal(err)
	}
	f.set.Close()
	var logs bytes.Buffer
	f.opts.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	f.open(t)
	if strings.Contains(logs.String(), "stuck") {
		t.Fatalf("a tier with a backfilled block past its watermark was taken for stuck:\n%s", logs.String())
	}
	for _, tr := range f.set.Tiers() {
		f.catchUp(t, tr)
		qr, err := tr.db.Querier(t0.UnixMilli(), t0.Add(rawSpan).UnixMilli())
		if err != nil {
			t.Fatal(err)
		}
		set := qr.Select(ctx, false, nil, labels.MustNewMatcher(labels.MatchEqual, "__name__", "sla:x:rate5m"), labels.MustNewMatcher(labels.MatchEqual, AggLabel, AggCount))
		n := 0
		for set.Next() {
			it := set.At().Iterator(nil)
			for it.Next() == chunkenc.ValFloat {
				n++
			}
		}
		qr.Close()
		if want := int(rawSpan / time.Duration(tr.res) / time.Millisecond); n != want {
			t.Errorf("tier %s: %d buckets of the backfilled series, want %d", tr.Name(), n, want)
		}
	}
}
