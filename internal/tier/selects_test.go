package tier

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/prometheus/model/labels"
	promstorage "github.com/prometheus/prometheus/storage"
)

// TestSelectsCounted: gmc_tier_selects_total counts each selector a query
// reads by what answered it, so a dashboard's queries can be seen to read
// a tier (t-user18 F11: the 7d page read raw data only, and nothing said
// so). A 1h max at a 1h step on the hour reads the 1h tier; the same at a
// step off every tier's grid (2016 s) reads raw data; a series lookup
// reads no samples and is not counted.
func TestSelectsCounted(t *testing.T) {
	f := newFixture(t)
	reg := prometheus.NewRegistry()
	f.set.Close()
	f.opts.Registerer = reg
	f.open(t)
	for _, tr := range f.set.Tiers() {
		f.catchUp(t, tr)
	}
	q := f.set.Queryable(5 * 60 * 1000)
	at := t0.Add(rawSpan).Truncate(time.Hour)
	count := func(tier string) float64 { return testutil.ToFloat64(f.set.selects.WithLabelValues(tier)) }
	f.rangeQuery(t, q, `max_over_time(g{i="a"}[1h])`, at.Add(-2*time.Hour), at, time.Hour)
	if n, raw := count("1h"), count(RawTier); n != 1 || raw != 0 {
		t.Errorf("on the hour's grid: 1h tier %v, raw %v selectors; want 1, 0", n, raw)
	}
	f.rangeQuery(t, q, `max_over_time(g{i="a"}[2016s])`, at.Add(-2*time.Hour), at, 2016*time.Second)
	if n, raw := count("1h"), count(RawTier); n != 1 || raw != 1 {
		t.Errorf("off the grids: 1h tier %v, raw %v selectors; want 1, 1", n, raw)
	}
	// A series lookup (the query lanes count a query's series so before it
	// runs) reads no samples and is no query's selector: counted as raw,
	// every page's query read raw data too.
	qr, err := q.Querier(at.Add(-2*time.Hour).UnixMilli(), at.UnixMilli())
	if err != nil {
		t.Fatal(err)
	}
	set := qr.Select(context.Background(), false, &promstorage.SelectHints{Start: at.Add(-2 * time.Hour).UnixMilli(), End: at.UnixMilli(), Func: "series"}, labels.MustNewMatcher(labels.MatchEqual, "__name__", "g"))
	for set.Next() {
	}
	qr.Close()
	if n, raw := count("1h"), count(RawTier); n != 1 || raw != 1 {
		t.Errorf("after a series lookup: 1h tier %v, raw %v selectors; want 1, 1", n, raw)
	}
	if n, err := testutil.GatherAndCount(reg, "gmc_tier_selects_total"); err != nil || n != 2 {
		t.Errorf("registered: %d series of gmc_tier_selects_total (%v), want 2", n, err)
	}
}
