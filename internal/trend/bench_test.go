package trend

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/labels"
	promstorage "github.com/prometheus/prometheus/storage"

	"github.com/gmc-dev/gmc/internal/query"
	"github.com/gmc-dev/gmc/internal/storage"
	"github.com/gmc-dev/gmc/internal/tier"
)

// BenchmarkTrends30d serves GET /trends/gw?window=30d over 30 days of one
// per-second counter with two 3-hour holes, read as gmc's server reads it:
// the hourly values through the caught-up tiers, the partial hours from
// the raw data.
func BenchmarkTrends30d(b *testing.B) {
	dir := b.TempDir()
	raw, err := storage.Open(storage.Options{Dir: dir, Registerer: prometheus.NewRegistry(), Retention: 60 * 24 * time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	defer raw.Close()
	now := end.Add(10 * time.Minute)
	from := now.Add(-30 * 24 * time.Hour)
	ls := labels.FromStrings("__name__", "orders_total", "service", "gw")
	app := raw.AppenderV2(context.Background())
	var ref promstorage.SeriesRef
	v := 0.0
	for ts, n := from, 0; !ts.After(now); ts, n = ts.Add(time.Second), n+1 {
		if d := ts.Sub(from); d > 100*time.Hour && d < 103*time.Hour || d > 500*time.Hour && d < 503*time.Hour {
			continue
		}
		v += float64(ts.Hour() + 1)
		if ref, err = app.Append(ref, ls, 0, ts.UnixMilli(), v, nil, nil, promstorage.AOptions{}); err != nil {
			b.Fatal(err)
		}
		if n%200_000 == 0 {
			if err := app.Commit(); err != nil {
				b.Fatal(err)
			}
			app = raw.AppenderV2(context.Background())
		}
	}
	if err := app.Commit(); err != nil {
		b.Fatal(err)
	}
	if err := raw.Compact(context.Background()); err != nil {
		b.Fatal(err)
	}
	cfg := tier.Config{}
	cfg.Normalise()
	set, err := tier.Open(tier.Options{Config: cfg, Dir: dir, Raw: raw, Now: func() time.Time { return now }})
	if err != nil {
		b.Fatal(err)
	}
	defer set.Close()
	for _, t := range set.Tiers() {
		for range 10_000 {
			moved, err := set.Step(context.Background(), t)
			if err != nil {
				b.Fatal(err)
			}
			if !moved {
				break
			}
		}
	}
	qa := set.Queryable(query.DefaultLookbackDelta.Milliseconds())
	q, err := query.New(query.Options{Queryable: qa, Registerer: prometheus.NewRegistry()})
	if err != nil {
		b.Fatal(err)
	}
	h := NewHandler(Options{Queryable: qa, Raw: raw, Engine: q.Engine(), Now: func() time.Time { return now }})
	b.Run("request", func(b *testing.B) {
		for b.Loop() {
			rec := httptest.NewRecorder()
			req := httptest.NewRequest(http.MethodGet, "/trends/gw?metric=orders_total&window=30d", nil)
			req.SetPathValue("service", "gw")
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				b.Fatalf("%d %s", rec.Code, rec.Body)
			}
		}
	})
	points, err := h.hourly(context.Background(), Expr(ServiceLabel, "gw", "orders_total", "counter", "sum"), now.Truncate(Step).Add(-30*24*time.Hour+Step), now.Truncate(Step))
	if err != nil || len(points) < 700 {
		b.Fatalf("%d points, %v", len(points), err)
	}
	b.Run("partial-hours", func(b *testing.B) {
		for b.Loop() {
			if err := h.markPartial(context.Background(), ServiceLabel, "gw", "orders_total", points); err != nil {
				b.Fatal(err)
			}
		}
	})
	n := 0
	for _, p := range points {
		if p.Partial {
			n++
		}
	}
	b.Logf("%d of %d hours partial", n, len(points))
}
