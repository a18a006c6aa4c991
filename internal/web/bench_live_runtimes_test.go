package web_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gmc-dev/gmc/internal/bench"
	"github.com/gmc-dev/gmc/internal/config"
)

// TestBrowserBenchLiveKeepsRunTimes: on Live the Benchmarks page asked
// the time of each benchmark's newest run (runTimes: timestamp(…) over
// the newest point's step) on every refresh, every second, though a
// closed step's runs do not change (6 of its 7 requests a refresh). It
// asks them once for a point, until a newer run moves the point.
func TestBrowserBenchLiveKeepsRunTimes(t *testing.T) {
	ctx := browser(t)
	st := startStackWith(t, 1, false, func(c *config.Config) { c.Storage.OutOfOrderWindow = config.Duration(24 * time.Hour) })
	now := time.Now()
	var runs []*bench.Run
	for k := 1; k <= 3; k++ {
		runs = append(runs, throughputRun(fmt.Sprint("kept-", k), fmt.Sprint("kept-run-", k), now.Add(-time.Duration(20+k*7)*time.Second),
			bench.Summary{N: 10, Median: float64(100 + k), Lo: 1, Hi: 2}, 1000))
	}
	writeBenchRuns(t, st.URL, runs...)
	recordEveryDocument(t, ctx)
	asked := func() (n int) {
		for _, r := range fetches(t, ctx) {
			if strings.Contains(r.URL, "timestamp(gmc_bench_median)") && !strings.Contains(r.URL, "max_over_time(timestamp(") {
				n++
			}
		}
		return n
	}
	load(t, ctx, st.URL+"/#/benchmarks?range=live")
	if err := poll(ctx, 20*time.Second, `Number(document.getElementById('page').dataset.refreshed || 0) >= 2`); err != nil {
		t.Fatalf("Live did not refresh twice: %v", err)
	}
	first := asked()
	if first == 0 {
		t.Fatal("Live asked no run time: the legends' 'last … at' would be the step's")
	}
	if err := poll(ctx, 20*time.Second, `Number(document.getElementById('page').dataset.refreshed || 0) >= 7`); err != nil {
		t.Fatalf("Live did not refresh 7 times: %v", err)
	}
	if n := asked(); n != first {
		t.Errorf("run times asked %d times by the 2nd refresh, %d by the 7th: want them kept for points that did not move", first, n)
	}
}
