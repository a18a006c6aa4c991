package sla

import (
	"context"
	"fmt"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/storage"
)

// BackfillRecords evaluates the recording rules of the SLA's raw group
// (the 5m rates and the error ratios over windows up to 6h, the SLA page's
// burn chart's sla:error_ratio:rate1h among them) over [from, to) every
// step, as `promtool tsdb create-blocks-from rules` backfills recording
// rules over existing data, and hands each sample, with its record name and
// the group's labels, to emit. The slow group's windows (a day and more,
// each step reading days of samples) are left to the rule manager. The
// SLA must have been validated.
func (s SLA) BackfillRecords(ctx context.Context, engine promql.QueryEngine, q storage.Queryable, from, to time.Time, step time.Duration,
	emit func(lset labels.Labels, ms int64, v float64) error) (int, error) {
	if !to.After(from) {
		return 0, nil
	}
	n := 0
	for _, g := range s.RuleGroups() {
		if IsSlowGroup(g.Name) {
			continue
		}
		for _, r := range g.Rules {
			if r.Record == "" {
				continue
			}
			// The range's end is inclusive: the last step is before to.
			qr, err := engine.NewRangeQuery(ctx, q, nil, r.Expr, from, to.Add(-time.Millisecond), step)
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
				b := labels.NewBuilder(series.Metric)
				b.Set(model.MetricNameLabel, r.Record)
				for k, v := range g.Labels {
					b.Set(k, v)
				}
				lset := b.Labels()
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
