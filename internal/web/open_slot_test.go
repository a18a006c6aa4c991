package web_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/prompb"

	"github.com/gmc-dev/gmc/internal/config"
	"github.com/gmc-dev/gmc/internal/web/webtest"
)

// TestBrowserWorstWindowOpenSlot: the service page's "p99 worst 1m" (24h)
// and "error rate worst 1m" lines' newest point was the last whole
// minute's, so during an incident their legend's last read the minute
// before it (4.14 µs beside a p99 of 2.76 ms in a trial). Two hours of a
// service's classic latency histogram and orders every 5 s, 100 orders a
// second at 4 µs, all successful, but since the minute the page's now
// (held 25-50 s into a minute) is in: every order at 400 µs, half of them
// errors. The legends' last for the two worst-1m rows are the open
// minute's figures (497.5 µs, 50 %), not the whole minute before's (~5
// µs, 0 %), and the captions say the newest counts the open slot.
func TestBrowserWorstWindowOpenSlot(t *testing.T) {
	ctx := browser(t)
	st := startStackWith(t, 1, false, func(c *config.Config) { c.Storage.OutOfOrderWindow = config.Duration(3 * time.Hour) })
	const svc = "open-slot-svc"
	at := time.Now().Unix()
	for at%60 < 25 || at%60 > 50 {
		at--
	}
	now := time.Unix(at, 0)
	slot := time.Unix(at-at%60, 0)
	from := now.Add(-2 * time.Hour).Truncate(5 * time.Second)
	write := func(ctx context.Context, s ...prompb.TimeSeries) error { return webtest.Write(ctx, st.URL, s...) }
	if err := latencyHistory(context.Background(), write, []string{svc}, svc, from, now, slot, 5*time.Second, 100); err != nil {
		t.Fatal(err)
	}
	lbl := func(result string) []prompb.Label {
		return []prompb.Label{{Name: "__name__", Value: "gmc_orders_total"}, {Name: "job", Value: "peak"}, {Name: "result", Value: result}, {Name: "service", Value: svc}}
	}
	okS, badS := prompb.TimeSeries{Labels: lbl("success")}, prompb.TimeSeries{Labels: lbl("error")}
	var ok, bad float64
	for ts := from; !ts.After(now); ts = ts.Add(5 * time.Second) {
		if ts.After(slot) {
			ok += 50 * 5
			bad += 50 * 5
		} else if ts.After(from) {
			ok += 100 * 5
		}
		okS.Samples = append(okS.Samples, prompb.Sample{Timestamp: ts.UnixMilli(), Value: ok})
		badS.Samples = append(badS.Samples, prompb.Sample{Timestamp: ts.UnixMilli(), Value: bad})
	}
	if err := webtest.Write(context.Background(), st.URL, okS, badS); err != nil {
		t.Fatal(err)
	}
	pageClockStill(t, ctx, now)
	load(t, ctx, st.URL+"/#/service/"+svc+"?range=24h")

	lat := waitLegendStat(t, ctx, 30*time.Second, "latency", "p99 worst 1m", "last")
	scale := map[string]float64{"µs": 1, "ms": 1e3, "s": 1e6, "ns": 1e-3}
	f := strings.Fields(lat)
	v, err := strconv.ParseFloat(strings.TrimPrefix(f[0], "≥"), 64)
	if len(f) < 2 || err != nil || scale[f[1]] == 0 {
		t.Fatalf("the p99 worst 1m legend's last reads %q: not a latency", lat)
	}
	if got := v * scale[f[1]]; !near(got, 497.5, 0.01) {
		t.Errorf("the p99 worst 1m legend's last reads %q, want 497.5 µs (the open minute's p99 so far; the whole minute before was ~5 µs)", lat)
	}
	errTxt := waitLegendStat(t, ctx, 30*time.Second, "error-rate", "error rate worst 1m", "last")
	if got, err := strconv.ParseFloat(strings.TrimSuffix(errTxt, "%"), 64); err != nil || !near(got, 50, 0.01) {
		t.Errorf("the error rate worst 1m legend's last reads %q, want 50%% (the open minute's so far; the whole minute before was 0%%)", errTxt)
	}
	for _, stats := range []string{"latency", "error-rate"} {
		c := eval[string](t, ctx, `document.querySelector('[data-stats="`+stats+`"] caption')?.textContent || ''`)
		if !strings.Contains(c, "the newest over the last whole 1m and the open slot so far") {
			t.Errorf("the %s caption %q does not say the newest point counts the open slot", stats, c)
		}
	}
	screenshot(t, ctx, artifacts(t), "worst-window-open-slot")
}
