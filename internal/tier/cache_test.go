package tier

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/prometheus/promql"

	"github.com/gmc-dev/gmc/internal/query"
)

// cachePanels are panels over the tiers alone (they end at the tiers'
// watermark), each read as the engine reads it and as EvalPanel does: a
// plain selector on the 1m tier at steps whose K-buckets merge 5 and 10 of
// its buckets (coarsen's runs), and at its own step (no merge), with NaN,
// ±Inf, negative zeros and a staleness marker among the values, and a
// series that stops (a K-bucket's last sample more than the lookback
// before its end); range functions over the 1m, 10m and 1h tiers.
var cachePanels = []struct {
	expr string
	step time.Duration
}{
	{"m", 10 * time.Minute},
	{"max(m)", 10 * time.Minute},
	{"avg by (g) (m)", 5 * time.Minute},
	{"min(tie)", 10 * time.Minute},
	{"stop", 10 * time.Minute},
	{"max(stop)", 10 * time.Minute},
	{"sum(stop)", 5 * time.Minute},
	{"sum by (i) (tie)", time.Minute},
	{`m{g="2"}`, 10 * time.Minute},
	{"max by (g) (max_over_time(m[30m]))", 10 * time.Minute},
	{"min_over_time(m[1h])", time.Hour},
	{"min(min_over_time(m[1h]))", time.Hour},
	{"sum by (g) (sum_over_time(m[10m]))", time.Minute},
	{"avg by (g) (avg_over_time(m[1h]))", 10 * time.Minute},
	{"sum(rate(c_total[1h]))", 10 * time.Minute},
	{"topk(3, increase(c_total[30m]))", 5 * time.Minute},
}

// TestTiersReadThroughDecodedCache: the tiers' buckets are read through
// the decoded-sample cache (Options.Decoded), a float chunk's samples a run
// at a time (coarsen over NextFloats), and every panel answers the same
// bits with the cache off (each chunk through its own iterator, sample by
// sample), with it cold (decoded into it) and warm (read from it), through
// the engine and EvalPanel. Before, the tiers were read without the cache:
// no chunk of theirs was ever in it.
func TestTiersReadThroughDecodedCache(t *testing.T) {
	f := newPanelFixture(t)
	tq := f.set.Queryable(5 * 60 * 1000)
	end := t0.Add(rawSpan)
	for _, tr := range f.set.Tiers() {
		if tr.Watermark() != end.UnixMilli() {
			t.Fatalf("tier %s: watermark %s, want %s (the panels read the tiers alone)", tr.Name(), fmtMS(tr.Watermark()), end)
		}
	}
	// The tiers' heads, 4 h long after the job, are compactable, and each
	// TSDB's own loop compacts them in the background: a compaction
	// between the cold and the warm read moved their chunks into a block,
	// under new references the cache had not seen ("read again: 45 chunks
	// decoded", 6 of 16 runs at load 9-19). Compacted first, the reads
	// find the chunks where they stay.
	for _, tr := range f.set.Tiers() {
		if err := tr.db.Compact(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	start := end.Add(-3 * time.Hour)
	read := func() []promql.Matrix {
		t.Helper()
		var out []promql.Matrix
		for _, p := range cachePanels {
			out = append(out, f.rangeQuery(t, tq, p.expr, start, end, p.step))
			expr, err := panelParser.ParseExpr(p.expr)
			if err != nil {
				t.Fatal(err)
			}
			m, _, done, err := tq.EvalPanel(context.Background(), expr, start, end, p.step, 5*time.Minute, 50_000_000, nil)
			if err != nil {
				t.Fatal(err)
			}
			if direct := tq.PanelShape(expr); done != direct {
				t.Fatalf("%s: evaluated directly %v, want %v", p.expr, done, direct)
			}
			out = append(out, m)
		}
		return out
	}
	f.cache.SetMaxBytes(0)
	off := read()
	f.cache.SetMaxBytes(query.DefaultDecodedCacheMaxBytes)
	cold := read()
	if f.cache.Misses() == 0 {
		t.Fatal("no chunk of the tiers was decoded into the cache")
	}
	misses, hits := f.cache.Misses(), f.cache.Hits()
	warm := read()
	if f.cache.Misses() != misses || f.cache.Hits() <= hits {
		t.Errorf("read again: %d chunks decoded (want 0), %d found in the cache", f.cache.Misses()-misses, f.cache.Hits()-hits)
	}
	for i, p := range cachePanels {
		for j, via := range []string{"engine", "EvalPanel"} {
			k := 2*i + j
			if len(off[k]) == 0 && via == "engine" {
				t.Fatalf("%s: no answer", p.expr)
			}
			if msg := bitsDiffer(off[k], cold[k]); msg != "" {
				t.Errorf("%s (%s), cold cache against none: %s", p.expr, via, msg)
			}
			if msg := bitsDiffer(off[k], warm[k]); msg != "" {
				t.Errorf("%s (%s), warm cache against none: %s", p.expr, via, msg)
			}
		}
	}
}

// TestTierCacheAfterRewrite: chunks of a tier read into the decoded-sample
// cache are not read again once the job has rewritten their buckets (late
// samples re-aggregated: the old buckets deleted, the new ones written into
// the head or a block): what the tiers answer through the warm cache then
// equals what they answer without it, bit for bit, and holds the late
// samples (a spike of 1000 in g{i="a"}).
func TestTierCacheAfterRewrite(t *testing.T) {
	for _, c := range []struct {
		name   string
		window time.Duration
	}{{"head", oooWindow}, {"block", 30 * time.Minute}} {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			saved := headRewriteWindow
			headRewriteWindow = c.window
			defer func() { headRewriteWindow = saved }()
			f := lateFixture(t)
			for _, tr := range f.set.Tiers() {
				if err := tr.db.FlushHead(ctx); err != nil { // the buckets in blocks: kept by reference
					t.Fatal(err)
				}
			}
			tq := f.set.Queryable(5 * 60 * 1000)
			start, end := t0.Add(3*time.Hour), t0.Add(rawSpan)
			exprs := []struct {
				expr string
				step time.Duration
			}{
				{"max(g)", 10 * time.Minute}, {"g", time.Minute}, {"max_over_time(g[30m])", 10 * time.Minute},
				{"max_over_time(g[1h])", time.Hour}, {"rate(c_total[1h])", 10 * time.Minute},
			}
			read := func() []promql.Matrix {
				var out []promql.Matrix
				for _, e := range exprs {
					out = append(out, f.rangeQuery(t, tq, e.expr, start, end, e.step))
				}
				return out
			}
			read()
			hits := f.cache.Hits()
			read()
			if f.cache.Hits() == hits {
				t.Fatal("nothing read from the cache before the rewrite")
			}
			writeLate(t, f)
			for _, tr := range f.set.Tiers() {
				if cleared, err := f.set.reaggregate(ctx, tr); err != nil || !cleared {
					t.Fatalf("tier %s: re-aggregation cleared %v: %v", tr.Name(), cleared, err)
				}
			}
			warm := read()
			f.cache.SetMaxBytes(0)
			off := read()
			for i, e := range exprs {
				if d := bitsDiffer(off[i], warm[i]); d != "" {
					t.Errorf("%s after the rewrite, without the cache, then through it: %s", e.expr, d)
				}
			}
			if m := off[2]; len(m) != 2 || !slices.ContainsFunc(m[0].Floats, func(p promql.FPoint) bool { return p.F == 1000 }) {
				t.Errorf("max_over_time(g[30m]) after the rewrite: %v, want g{i=\"a\"}'s late spike of 1000", m)
			}
		})
	}
}
