package rules

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
)

// BenchmarkServiceSilentEval measures one evaluation of the default
// ServiceSilent expression, which runs on every push of a service's metric
// (its selector reads every series with a service label): 20 services of
// 10 series each, one sample a second over the last hour, and the
// newest-sample recording once a minute. "first_branch" is the expression
// reading the raw series only (exact within the 5m lookback); "newest_sample_record" the recording's own
// expression, evaluated once a minute (not on pushes); "before" the
// expression it replaced, with a [1h:1m] subquery over the raw series in
// place of the recording.
func BenchmarkServiceSilentEval(b *testing.B) {
	db := openTSDB(b, filepath.Join(b.TempDir(), "tsdb"))
	const services, perService = 20, 10
	now := time.Now().Truncate(time.Minute)
	app := db.AppenderV2(context.Background())
	for s := range services {
		svc := fmt.Sprintf("svc%d", s)
		for k := range perService {
			ls := labels.FromStrings("__name__", fmt.Sprintf("gmc_svc_metric_%d", k), "service", svc)
			var ref storage.SeriesRef
			for t := now.Add(-time.Hour); !t.After(now); t = t.Add(time.Second) {
				r, err := app.Append(ref, ls, 0, t.UnixMilli(), 1, nil, nil, storage.AOptions{})
				if err != nil {
					b.Fatal(err)
				}
				ref = r
			}
		}
		ls := labels.FromStrings("__name__", NewestSampleRecord, "service", svc)
		var ref storage.SeriesRef
		for t := now.Add(-time.Hour); !t.After(now); t = t.Add(time.Minute) {
			r, err := app.Append(ref, ls, 0, t.UnixMilli(), float64(t.Unix()), nil, nil, storage.AOptions{})
			if err != nil {
				b.Fatal(err)
			}
			ref = r
		}
	}
	if err := app.Commit(); err != nil {
		b.Fatal(err)
	}
	full := serviceSilentGroup(DefaultDownAfter, nil).Rules[0].Expr
	sel := fmt.Sprintf(`{service!="", __name__!~%q}`, ownSeriesRE)
	first := `(time() - max by (service) (timestamp(` + sel + `)) > 10) unless on (service) up{service!=""}`
	before := `(
  (time() - max by (service) (timestamp(` + sel + `)) > 10)
  or
  (
    (time() - max by (service) (max_over_time(timestamp(` + sel + `)[1h:1m])) > 10)
    unless on (service)
    max by (service) (timestamp(` + sel + `))
  )
)
unless on (service) up{service!=""}`
	engine := newEngine(prometheus.NewRegistry())
	for _, c := range []struct{ name, expr string }{
		{"full", full}, {"first_branch", first},
		{"newest_sample_record", newestSampleGroup().Rules[0].Expr}, {"before", before},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				q, err := engine.NewInstantQuery(context.Background(), db, nil, c.expr, now.Add(20*time.Second))
				if err != nil {
					b.Fatal(err)
				}
				if res := q.Exec(context.Background()); res.Err != nil {
					b.Fatal(res.Err)
				}
				q.Close()
			}
		})
	}
}
