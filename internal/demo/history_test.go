package demo

import (
	"context"
	"math"
	"testing"
	"time"
)

func TestBackfillWritesAQueryableHistory(t *testing.T) {
	dir := t.TempDir()
	// A Tuesday 00:00 UTC: the 3 days before are Sat, Sun, Mon.
	end := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	// Memory as t-user3's machine: 92 % available.
	o := HistoryOptions{Dir: dir, End: end, Span: 3 * 24 * time.Hour, Seed: 1, Host: "h1", RootAvail: 100e9, RootSize: 400e9,
		MemAvailable: 18.4e9, MemTotal: 20e9}
	res, err := Backfill(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if res.Blocks != 3 || res.Series < 100 || res.Samples != res.Series*3*24*60 || res.Skipped {
		t.Fatalf("result %+v: want 3 blocks, >= 100 series, one sample per series per minute", res)
	}
	again, err := Backfill(context.Background(), o)
	if err != nil || !again.Skipped || again.Samples != res.Samples {
		t.Fatalf("second backfill: %+v, %v; want skipped with the first one's figures", again, err)
	}

	st, query := openHistory(t, dir)
	if s := st.Stats(); s.Blocks != 3 {
		t.Fatalf("%d blocks in the TSDB, want 3", s.Blocks)
	}
	at := single(t, query)
	const orders = `sum(rate(gmc_orders_total{service="order-gateway"}[1h]))`
	monday := end.Add(-24 * time.Hour)
	session := at(orders, monday.Add(16*time.Hour))
	night := at(orders, monday.Add(4*time.Hour))
	sunday := at(orders, monday.Add(-8*time.Hour))
	// The history ends at the live desk's 3000/s, here a weekday night
	// (0.45 of the busiest hour): the middle of the session runs at 0.81,
	// nights at 0.45, weekends at 0.45 of a weekday.
	if session < 4800 || session > 6000 || night < 2700 || night > 3300 || sunday < 0.35*session || sunday > 0.55*session {
		t.Errorf("order rates: session %.0f/s, night %.0f/s, Sunday afternoon %.0f/s", session, night, sunday)
	}
	// The native and classic histograms agree with the live desk's
	// latencies: the engine's median ~0.4 µs (the classic p50 falls in its
	// first bucket, 0-10 µs).
	p50 := at(`histogram_quantile(0.5, sum(rate(gmc_order_latency_seconds{service="matching-engine"}[1h])))`, monday.Add(16*time.Hour))
	if p50 < 0.3e-6 || p50 > 0.5e-6 {
		t.Errorf("native p50 latency in the session %v s, want 0.3-0.5 µs", p50)
	}
	if c := at(`histogram_quantile(0.5, sum by (le) (rate(gmc_order_latency_seconds_bucket{service="matching-engine"}[1h])))`, monday.Add(16*time.Hour)); c > 10e-6 {
		t.Errorf("classic p50 latency in the session %v s, want in the first bucket (≤ 10 µs)", c)
	}
	// The history alone keeps the demo's SLAs: matching within 500 µs for
	// 99% of orders, the gateway's orders ≥ 99.99% successful.
	within := at(`sum(rate(gmc_order_latency_seconds_bucket{service="matching-engine",le="0.0005"}[3d])) / sum(rate(gmc_order_latency_seconds_count{service="matching-engine"}[3d]))`, end)
	success := at(`sum(rate(gmc_orders_total{service="order-gateway",result="success"}[3d])) / sum(rate(gmc_orders_total{service="order-gateway"}[3d]))`, end)
	if within < 0.995 || success < 0.9999 {
		t.Errorf("over 3 days: %.4f of matches within 500 µs, %.6f of orders successful", within, success)
	}
	count := at(`sum(increase(gmc_order_latency_seconds_count{service="matching-engine"}[1h]))`, monday.Add(16*time.Hour))
	ordersInHour := at(`sum(increase(gmc_orders_total{service="matching-engine"}[1h]))`, monday.Add(16*time.Hour))
	if math.Abs(count-ordersInHour)/ordersInHour > 0.1 {
		t.Errorf("latency observations %.0f vs orders %.0f in an hour", count, ordersInHour)
	}
	// The host page (ui/src/queries.js host()) selects the agent's series by
	// host: the history's node series carry it, so its Load, Memory and
	// Filesystem charts cover the backfilled days (t-user3 #8: a single
	// dot at now).
	for _, expr := range []string{
		`{__name__=~"node_load1|node_load5|node_load15", host="h1"}`,
		`sum(node_memory_MemTotal_bytes{host="h1"} - node_memory_MemAvailable_bytes{host="h1"})`,
		`100 * (1 - max by (mountpoint) (node_filesystem_avail_bytes{fstype!~"tmpfs|overlay|squashfs", host="h1"}) / max by (mountpoint) (node_filesystem_size_bytes{fstype!~"tmpfs|overlay|squashfs", host="h1"}))`,
		// used = size - free, as df (the page since 7ba8667)
		`max by (mountpoint) (node_filesystem_free_bytes{fstype!~"tmpfs|overlay|squashfs", host="h1"})`,
	} {
		for _, ts := range []time.Time{end.Add(-71 * time.Hour), end} {
			if v := at(expr, ts); v <= 0 || math.IsNaN(v) {
				t.Errorf("%s at %s = %v, want a positive value from the history", expr, ts, v)
			}
		}
	}
	// The disk ends at today's free space and fills towards it.
	last := at(`node_filesystem_avail_bytes{instance="h1",mountpoint="/"}`, end)
	first := at(`node_filesystem_avail_bytes{instance="h1",mountpoint="/"}`, end.Add(-71*time.Hour))
	// (within the day's log growth, 0.3% of the size, rotated at midnight)
	if math.Abs(last-100e9) > 1.5e9 || first <= last {
		t.Errorf("free space %v three days ago, %v at the end; want falling to 1e11", first, last)
	}
}
