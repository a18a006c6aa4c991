package tier

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb"
)

// Backfill aggregates series the raw store gains behind the tiers'
// watermarks (an SLA's recordings backfilled over data already stored: the
// job never goes back, so the tiers would miss them) into every tier, over
// the tier's whole buckets in (from, to]. The series must be new to the
// tiers in that span and hold their samples in time order. Each tier gets
// one block in its directory, which its TSDB loads at its next block
// reload (within a minute); overlapping blocks are merged by compaction.
// It returns the samples written.
func (s *Set) Backfill(ctx context.Context, series []storage.Series, from, to int64) (int, error) {
	if s == nil || len(series) == 0 {
		return 0, nil
	}
	total := 0
	for _, t := range s.tiers {
		end := floorTo(to, t.res)
		start := floorTo(from-1, t.res) // samples after it count
		if end <= start {
			continue
		}
		n, err := t.backfill(ctx, series, start, end)
		total += n
		if err != nil {
			return total, fmt.Errorf("tier %s: backfill: %w", t.Name(), err)
		}
	}
	return total, nil
}

// backfill writes the aggregates of series in (from, to] as one block.
func (t *Tier) backfill(ctx context.Context, series []storage.Series, from, to int64) (int, error) {
	w, err := tsdb.NewBlockWriter(slog.New(slog.DiscardHandler), t.dir, max(t.block, to-from))
	if err != nil {
		return 0, err
	}
	defer w.Close()
	// One appender for the whole span: a later one would refuse samples
	// older than half a block before the newest.
	app := w.AppenderV2(ctx)
	n := 0
	lsets := make([]labels.Labels, len(aggs)+1) // and AggAtLast's
	refs := make([]storage.SeriesRef, len(aggs)+1)
	var appendErr error
	for _, sr := range series {
		base := sr.Labels()
		for i, a := range aggs {
			lsets[i], refs[i] = withAgg(base, a), 0
		}
		lsets[len(aggs)], refs[len(aggs)] = withAgg(base, AggAtLast), 0
		ag := &aggregator{res: t.res, from: from}
		ag.emit = func(b bucket) {
			if appendErr != nil {
				return
			}
			// As downsample writes them: a counter's marks only to the
			// counter aggregate (the last before a staleness marker to
			// the last one too), native histograms to last and counter,
			// floats to every aggregate (and AggAtLast where it is set).
			switch {
			case b.Start:
				if b.WithLast {
					if refs[5], appendErr = app.Append(refs[5], lsets[5], 0, b.End, b.Last, nil, nil, storage.AOptions{}); appendErr != nil {
						return
					}
					n++
				}
				refs[6], appendErr = app.Append(refs[6], lsets[6], 0, b.End, b.Counter, nil, b.CounterFH, storage.AOptions{})
				n++
			case b.FH != nil:
				refs[5], appendErr = app.Append(refs[5], lsets[5], 0, b.End, 0, nil, b.FH, storage.AOptions{})
				if appendErr == nil {
					refs[6], appendErr = app.Append(refs[6], lsets[6], 0, b.End, 0, nil, b.CounterFH, storage.AOptions{})
				}
				n += 2
			default:
				for i, a := range aggs {
					if refs[i], appendErr = app.Append(refs[i], lsets[i], 0, b.End, b.value(a), nil, nil, storage.AOptions{}); appendErr != nil {
						return
					}
					n++
				}
				if b.AtLast {
					i := len(aggs)
					refs[i], appendErr = app.Append(refs[i], lsets[i], 0, b.End, 1, nil, nil, storage.AOptions{})
					n++
				}
			}
		}
		if err := ag.run(sr.Iterator(nil), to); err != nil {
			app.Rollback()
			return n, fmt.Errorf("read %s: %w", base, err)
		}
		if appendErr != nil {
			app.Rollback()
			return n, fmt.Errorf("append aggregates of %s: %w", base, appendErr)
		}
	}
	if err := app.Commit(); err != nil {
		return n, fmt.Errorf("commit: %w", err)
	}
	if n == 0 {
		return 0, nil
	}
	if _, err := w.Flush(ctx); err != nil {
		return n, fmt.Errorf("write block: %w", err)
	}
	return n, nil
}
