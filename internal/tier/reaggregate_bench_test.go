package tier

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	promstorage "github.com/prometheus/prometheus/storage"

	"github.com/gmc-dev/gmc/internal/storage"
)

// BenchmarkReaggregateLateHour: one late hour of 300 series (GMC_BENCH_SERIES)
// re-aggregated
// (the default tiers over 6 h of raw data every 15 s, half counters, half
// gauges; the last hour marked late in both): a round of the job for the
// 1m tier (60 buckets of every series: 126,000 samples rewritten) and for
// the 1h tier (one bucket: 2,100), each with its head flush, the delete and
// the rewrite of the blocks it tombstoned. The first round also writes the
// tier's 6 h head into a block; later rounds find it written. With
// GMC_BENCH_LATE (e.g. 2m) only that much is late: a writer steadily a
// little behind, which makes a round every minute. With GMC_BENCH_HIST=1
// the counters are native histograms (counterHistogram).
func BenchmarkReaggregateLateHour(b *testing.B) {
	series := 300
	if n, err := strconv.Atoi(os.Getenv("GMC_BENCH_SERIES")); err == nil && n > 0 {
		series = n
	}
	lateSpan := time.Hour
	if d, err := time.ParseDuration(os.Getenv("GMC_BENCH_LATE")); err == nil && d > 0 {
		lateSpan = d
	}
	hist := os.Getenv("GMC_BENCH_HIST") == "1"
	const span = 6 * time.Hour
	ctx := context.Background()
	dir := b.TempDir()
	raw, err := storage.Open(storage.Options{Dir: dir, Registerer: prometheus.NewRegistry(), OutOfOrderWindow: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	defer raw.Close()
	app := raw.AppenderV2(ctx)
	for i := range series {
		name := "load"
		if i%2 == 0 {
			name = "work_total"
		}
		ls := labels.FromStrings("__name__", name, "i", fmt.Sprint(i))
		var ref promstorage.SeriesRef
		for d := 15 * time.Second; d <= span; d += 15 * time.Second {
			v, fh := float64(int64(d/time.Second)*int64(i%7+1)%1000), (*histogram.FloatHistogram)(nil)
			if hist && name == "work_total" {
				v, fh = 0, counterHistogram(v)
			}
			if ref, err = app.Append(ref, ls, 0, t0.Add(d).UnixMilli(), v, nil, fh, promstorage.AOptions{}); err != nil {
				b.Fatal(err)
			}
		}
	}
	if err := app.Commit(); err != nil {
		b.Fatal(err)
	}
	now := t0.Add(span + time.Second)
	opts := Options{Dir: dir, Raw: raw, RawRetention: 15 * 24 * time.Hour, Now: func() time.Time { return now }, Settle: time.Nanosecond}
	opts.Config.Normalise()
	set, err := Open(opts)
	if err != nil {
		b.Fatal(err)
	}
	defer set.Close()
	for _, tr := range set.Tiers() {
		for range 1000 {
			moved, err := set.Step(ctx, tr)
			if err != nil {
				b.Fatal(err)
			}
			if !moved {
				break
			}
		}
		if wm := tr.Watermark(); wm != t0.Add(span).UnixMilli() {
			b.Fatalf("tier %s at %s", tr.Name(), fmtMS(wm))
		}
	}
	late := t0.Add(span - lateSpan).UnixMilli()
	for _, tr := range set.Tiers() {
		b.Run(tr.Name(), func(b *testing.B) {
			for range b.N {
				if err := tr.markLate(late + tr.res); err != nil {
					b.Fatal(err)
				}
				cleared, err := set.reaggregate(ctx, tr)
				if err != nil || !cleared {
					b.Fatal(cleared, err)
				}
			}
		})
	}
}
