package web_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/gmc-dev/gmc/internal/bench"
	"github.com/gmc-dev/gmc/internal/config"
)

// TestBrowserBenchLiveAsksNoExtremes: the Benchmarks page asked each
// step's lowest and highest run (Q.bench.lo/hi) on every refresh, every
// second on Live, where a 1 s step holds at most one run of a benchmark
// (its point). Live asks neither; 7d, whose 30-minute steps hold several,
// still does.
func TestBrowserBenchLiveAsksNoExtremes(t *testing.T) {
	ctx := browser(t)
	st := startStackWith(t, 1, false, func(c *config.Config) { c.Storage.OutOfOrderWindow = config.Duration(24 * time.Hour) })
	now := time.Now()
	var runs []*bench.Run
	for k := 1; k <= 12; k++ {
		runs = append(runs, throughputRun(fmt.Sprint("live-", k), "live-run", now.Add(-time.Duration(k*20)*time.Second),
			bench.Summary{N: 10, Median: float64(100 + k), Lo: 1, Hi: 2}, 1000))
	}
	writeBenchRuns(t, st.URL, runs...)
	recordEveryDocument(t, ctx)
	extremes := func() (n int, all int) {
		for _, r := range fetches(t, ctx) {
			if !strings.Contains(r.URL, "/api/") {
				continue
			}
			all++
			if strings.Contains(r.URL, "min_over_time(gmc_bench_median[") || strings.Contains(r.URL, "max_over_time(gmc_bench_median[") {
				n++
			}
		}
		return n, all
	}
	load(t, ctx, st.URL+"/#/benchmarks?range=live")
	if err := poll(ctx, 20*time.Second, `Number(document.getElementById('page').dataset.refreshed || 0) >= 4`); err != nil {
		t.Fatalf("Live did not refresh 4 times: %v", err)
	}
	if n, all := extremes(); all == 0 || n > 0 {
		t.Errorf("Live: %d of its %d requests ask a step's lowest or highest run, want none (a 1 s step holds one run)", n, all)
	}
	if _, err := run(ctx, 20*time.Second, chromedp.Navigate("about:blank")); err != nil {
		t.Fatal(err)
	}
	load(t, ctx, st.URL+"/#/benchmarks?range=7d")
	if n, _ := extremes(); n == 0 {
		t.Error("7d asks no step's lowest or highest run: its 30-minute steps hold several")
	}
}
