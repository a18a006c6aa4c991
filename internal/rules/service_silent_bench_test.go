package rules

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
)

// BenchmarkServiceSilentEval measures one evaluation of the default
// ServiceSilent expression, which runs on every push of a service's metric
// (its selector reads every series with a service label): 20 services of
// 10 series each, one sample a second over the last hour. "first_branch"
// is the expression without the [1h:1m] subquery half, for comparison.
func BenchmarkServiceSilentEval(b *testing.B) {
	db := openTSDB(b, filepath.Join(b.TempDir(), "tsdb"))
	const services, perService = 20, 10
	now := time.Now().Truncate(time.Second)
	app := db.AppenderV2(context.Background())
	for s := range services {
		for k := range perService {
			ls := labels.FromStrings("__name__", fmt.Sprintf("gmc_svc_metric_%d", k), "service", fmt.Sprintf("svc%d", s))
			var ref storage.SeriesRef
			for t := now.Add(-time.Hour); !t.After(now); t = t.Add(time.Second) {
				r, err := app.Append(ref, ls, 0, t.UnixMilli(), 1, nil, nil, storage.AOptions{})
				if err != nil {
					b.Fatal(err)
				}
				ref = r
			}
		}
	}
	if err := app.Commit(); err != nil {
		b.Fatal(err)
	}
	full := serviceSilentGroup(DefaultDownAfter, nil).Rules[0].Expr
	first := strings.SplitN(full, "\n  or\n", 2)[0] + "\n)"
	engine := newEngine(prometheus.NewRegistry())
	for _, c := range []struct{ name, expr string }{{"full", full}, {"first_branch", first}} {
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
