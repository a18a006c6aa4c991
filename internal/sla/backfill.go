package sla

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
	"github.com/prometheus/prometheus/tsdb/chunks"

	"github.com/gmc-dev/gmc/internal/tier"
)

// BackfillRecords evaluates the recording rules of the SLA's raw group
// (the 5m rates and the error ratios over windows up to 6h, the SLA page's
// burn chart's sla:error_ratio:rate1h among them) over [from, to) every
// step, as `promtool tsdb create-blocks-from rules` backfills recording
// rules over existing data, and hands each sample, with its record name and
// the group's labels, to emit. The slow group's windows (a day and more,
// each step reading days of samples) are BackfillSlowRecords'. The SLA
// must have been validated.
func (s SLA) BackfillRecords(ctx context.Context, engine promql.QueryEngine, q storage.Queryable, from, to time.Time, step time.Duration,
	emit func(lset labels.Labels, ms int64, v float64) error) (int, error) {
	return s.backfillGroup(ctx, engine, q, from, to, step, false, emit)
}

// BackfillSlowRecords is BackfillRecords for the SLA's slow group: its
// error ratios over a day and longer. q should be what the slow rules read
// (the tiers, sla.TierEdgeBuckets of a bucket at least: a 30d ratio reads
// 43,200 of the 1m tier's buckets a series at each step, where raw samples
// pushed every second are 2.6 M).
func (s SLA) BackfillSlowRecords(ctx context.Context, engine promql.QueryEngine, q storage.Queryable, from, to time.Time, step time.Duration,
	emit func(lset labels.Labels, ms int64, v float64) error) (int, error) {
	return s.backfillGroup(ctx, engine, q, from, to, step, true, emit)
}

// backfillGroup evaluates the recording rules of the SLA's raw group, or
// of its slow group, over [from, to) every step.
func (s SLA) backfillGroup(ctx context.Context, engine promql.QueryEngine, q storage.Queryable, from, to time.Time, step time.Duration, slow bool,
	emit func(lset labels.Labels, ms int64, v float64) error) (int, error) {
	if !to.After(from) {
		return 0, nil
	}
	n := 0
	for _, g := range s.RuleGroups() {
		if IsSlowGroup(g.Name) != slow {
			continue
		}
		for _, r := range g.Rules {
			if r.Record == "" {
				continue
			}
			record := func(m labels.Labels) labels.Labels {
				b := labels.NewBuilder(m)
				b.Set(model.MetricNameLabel, r.Record)
				for k, v := range g.Labels {
					b.Set(k, v)
				}
				return b.Labels()
			}
			// The range's end is inclusive: the last step is before to. It
			// ends at that step, as the rules evaluate there: ended 1 ms
			// before to, off every tier's grid, a window of fewer than
			// 1440 buckets read raw data where the slow rule reads the
			// 1m tier (the 7h12m ratio's, TestBackfillSlowGroup). Each step
			// of the slow group's range query over the tiers reads as its
			// rule's instant query at that time (tier's
			// TestRangeStepsEqualInstants; from f7e25a2 to t-tier23 it was
			// backfilled one instant query a step, while the tiers' reader
			// gave a range read's windows other edges).
			last := from.Add((to.Sub(from) - time.Millisecond) / step * step)
			qr, err := tier.Engine(engine).NewRangeQuery(ctx, q, nil, r.Expr, from, last, step)
			if err != nil {
				return n, fmt.Errorf("sla %s: backfill %s: %w", s.Name, r.Record, err)
			}
			res := qr.Exec(ctx)
			if res.Err != nil {
				qr.Close()
				return n, fmt.Errorf("sla %s: backfill %s: %w", s.Name, r.Record, res.Err)
			}
			m, err := res.Matrix()
			if err != nil {
				qr.Close()
				return n, fmt.Errorf("sla %s: backfill %s: %w", s.Name, r.Record, err)
			}
			for _, series := range m {
				lset := record(series.Metric)
				for _, p := range series.Floats {
					if err := emit(lset, p.T, p.F); err != nil {
						qr.Close()
						return n, err
					}
					n++
				}
			}
			qr.Close()
		}
	}
	return n, nil
}

// BackfillStoreOptions configure BackfillStore.
type BackfillStoreOptions struct {
	SLAs   []SLA
	Engine promql.QueryEngine
	// Raw is the raw store the rules read and write; Dir its TSDB's
	// directory, where the backfilled blocks are written.
	Raw storage.Queryable
	Dir string
	// Tiers get the backfilled recordings' aggregates (nil: none).
	Tiers *tier.Set
	// Slow is what the SLA's slow group reads, the tiers as its rules read
	// them (rules.Options.SLAQueryable); nil: the slow group is not
	// backfilled. SlowReady, if set, returns once Slow reads the tiers
	// (their watermarks near now), or ctx's error.
	Slow      storage.Queryable
	SlowReady func(context.Context) error
	// Step is the recordings' spacing; default BackfillStep. SlowStep is
	// the slow group's; default SlowBackfillStep.
	Step, SlowStep time.Duration
	Now            func() time.Time
	Logger         *slog.Logger
}

// BackfillStep is the default spacing of backfilled recordings.
const BackfillStep = time.Minute

// SlowBackfillStep is the default spacing of the slow group's backfilled
// recordings: every step of a 30d ratio reads a month of the 1m tier, so
// five times fewer than the rules' minute (a range query at a coarser step
// than 5 minutes, PromQL's lookback, would find some steps empty).
const SlowBackfillStep = 5 * time.Minute

// backfillMinGap: an SLA whose recordings begin less than this after its
// data is not backfilled (the rules' first evaluations need a few samples).
const backfillMinGap = 10 * time.Minute

// BackfillStore gives each SLA whose recordings begin later than its data
// (an SLA added to gmc over data already stored) the recordings of its raw
// group over that span, as BackfillRecords computes them, and with
// o.Slow those of its slow group (BackfillSlowRecords), written as one
// block a day into the raw TSDB's directory — which the TSDB loads at its
// next block reload, within a minute, as Prometheus loads promtool's
// backfilled blocks — and aggregated into the tiers (tier.Set.Backfill),
// whose job never goes back behind its watermark. It returns the samples
// written to the raw store.
func BackfillStore(ctx context.Context, o BackfillStoreOptions) (int, error) {
	if o.Step <= 0 {
		o.Step = BackfillStep
	}
	if o.SlowStep <= 0 {
		o.SlowStep = SlowBackfillStep
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	total := 0
	for _, s := range o.SLAs {
		now := o.Now().UnixMilli()
		data, err := s.firstSample(ctx, o.Raw, s.totalMatchers(), now)
		if err != nil {
			return total, fmt.Errorf("sla %s: backfill: %w", s.Name, err)
		}
		rec, err := s.firstSample(ctx, o.Raw, []*parser.VectorSelector{{LabelMatchers: []*labels.Matcher{
			labels.MustNewMatcher(labels.MatchEqual, model.MetricNameLabel, RequestsRate5m),
			labels.MustNewMatcher(labels.MatchEqual, "sla", s.Name),
		}}}, now)
		if err != nil {
			return total, fmt.Errorf("sla %s: backfill: %w", s.Name, err)
		}
		if data == math.MaxInt64 {
			continue // no data: nothing to backfill
		}
		step := o.Step.Milliseconds()
		from := time.UnixMilli((data + step - 1) / step * step)
		to := time.UnixMilli(min(rec, now))
		if to.Sub(from) < backfillMinGap {
			continue
		}
		n, err := s.backfillBlocks(ctx, o, from, to, func(d, end time.Time, emit func(labels.Labels, int64, float64) error) (int, error) {
			return s.BackfillRecords(ctx, o.Engine, o.Raw, d, end, o.Step, emit)
		})
		total += n
		if err != nil {
			return total, err
		}
		o.Logger.Info("sla recordings backfilled over the data stored before them", "sla", s.Name, "group", "raw",
			"from", from.UTC().Format(time.RFC3339), "to", to.UTC().Format(time.RFC3339), "samples", n)
		if o.Slow == nil {
			continue
		}
		// The slow group reads the tiers: once they have caught up (else
		// the reader falls back to raw samples, days of them a step).
		if o.SlowReady != nil {
			if err := o.SlowReady(ctx); err != nil {
				return total, err
			}
		}
		slowStep := o.SlowStep.Milliseconds()
		n, err = s.backfillBlocks(ctx, o, from, to, func(d, end time.Time, emit func(labels.Labels, int64, float64) error) (int, error) {
			// On whole SlowSteps.
			first := time.UnixMilli((d.UnixMilli() + slowStep - 1) / slowStep * slowStep)
			return s.BackfillSlowRecords(ctx, o.Engine, o.Slow, first, end, o.SlowStep, emit)
		})
		total += n
		if err != nil {
			return total, err
		}
		o.Logger.Info("sla recordings backfilled over the data stored before them", "sla", s.Name, "group", "slow",
			"from", from.UTC().Format(time.RFC3339), "to", to.UTC().Format(time.RFC3339), "samples", n)
	}
	return total, nil
}

// backfillBlocks writes the recordings eval computes over [from, to), a
// day at a time, as one block a day, and their aggregates into the tiers.
func (s SLA) backfillBlocks(ctx context.Context, o BackfillStoreOptions, from, to time.Time,
	eval func(d, end time.Time, emit func(labels.Labels, int64, float64) error) (int, error)) (int, error) {
	const day = 24 * time.Hour
	n := 0
	bySeries := map[uint64]*backfilled{}
	var order []uint64
	for d := from; d.Before(to); d = d.Add(day) {
		end := d.Add(day)
		if end.After(to) {
			end = to
		}
		w, err := tsdb.NewBlockWriter(slog.New(slog.DiscardHandler), o.Dir, day.Milliseconds())
		if err != nil {
			return n, fmt.Errorf("sla %s: backfill: %w", s.Name, err)
		}
		// One appender for the day: a later one would refuse samples
		// older than half a block before the newest.
		app := w.AppenderV2(ctx)
		emit := func(lset labels.Labels, ms int64, v float64) error {
			h := lset.Hash()
			b := bySeries[h]
			if b == nil {
				b = &backfilled{lset: lset}
				bySeries[h] = b
				order = append(order, h)
			}
			b.samples = append(b.samples, floatSample{ms, v})
			_, err := app.Append(0, lset, 0, ms, v, nil, nil, storage.AOptions{})
			return err
		}
		k, err := eval(d, end, emit)
		n += k
		if err == nil {
			err = app.Commit()
		} else {
			app.Rollback()
		}
		if err == nil && k > 0 {
			_, err = w.Flush(ctx)
		}
		if cerr := w.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return n, fmt.Errorf("sla %s: backfill %s: %w", s.Name, d.UTC().Format(time.DateOnly), err)
		}
	}
	if o.Tiers == nil || len(order) == 0 {
		return n, nil
	}
	series := make([]storage.Series, 0, len(order))
	for _, h := range order {
		b := bySeries[h]
		ss := make([]chunks.Sample, len(b.samples))
		for i := range b.samples {
			ss[i] = b.samples[i]
		}
		series = append(series, storage.NewListSeries(b.lset, ss))
	}
	if _, err := o.Tiers.Backfill(ctx, series, from.UnixMilli(), to.UnixMilli()); err != nil {
		return n, fmt.Errorf("sla %s: %w", s.Name, err)
	}
	return n, nil
}

// backfilled is one backfilled series' samples, kept for the tiers.
type backfilled struct {
	lset    labels.Labels
	samples []floatSample
}

// floatSample is a chunks.Sample of a float.
type floatSample struct {
	t int64
	f float64
}

func (s floatSample) T() int64                      { return s.t }
func (s floatSample) ST() int64                     { return 0 }
func (s floatSample) F() float64                    { return s.f }
func (s floatSample) H() *histogram.Histogram       { return nil }
func (s floatSample) FH() *histogram.FloatHistogram { return nil }
func (s floatSample) Type() chunkenc.ValueType      { return chunkenc.ValFloat }
func (s floatSample) Copy() chunks.Sample           { return s }

// firstSample is the time (ms) of the oldest sample at or before maxt of
// any series one of sels selects, math.MaxInt64 without one.
func (s SLA) firstSample(ctx context.Context, q storage.Queryable, sels []*parser.VectorSelector, maxt int64) (int64, error) {
	qr, err := q.Querier(math.MinInt64/2, maxt)
	if err != nil {
		return 0, err
	}
	defer qr.Close()
	first := int64(math.MaxInt64)
	var it chunkenc.Iterator
	for _, vs := range sels {
		set := qr.Select(ctx, false, nil, vs.LabelMatchers...)
		for set.Next() {
			it = set.At().Iterator(it)
			if it.Next() != chunkenc.ValNone {
				first = min(first, it.AtT())
			}
			if err := it.Err(); err != nil {
				return 0, err
			}
		}
		if err := set.Err(); err != nil {
			return 0, err
		}
	}
	return first, nil
}
