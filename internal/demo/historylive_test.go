package demo

import (
	"context"
	"math"
	"net"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/gmc-dev/gmc/sdk"
)

// TestHistoryBacktesterAsLive: t-user12 F11. The live backtester counts
// each replayed day as a request and reports its PnL under the account
// "backtest" (mode backtest); the history had neither, so the backtester
// page's replay-day requests and the Risk page's backtest PnL began at the
// live start. The history has both, in the live names and labels, the
// days at the bars' rate / 1,440, the PnL moving; the live backtester
// starts at the history's PnL (it started at 0).
func TestHistoryBacktesterAsLive(t *testing.T) {
	dir := t.TempDir()
	end := time.Date(2026, 12, 4, 19, 20, 0, 0, time.UTC)
	res, err := Backfill(context.Background(), HistoryOptions{Dir: dir, End: end, Span: 24 * time.Hour, Seed: 3, Host: "h1"})
	if err != nil {
		t.Fatal(err)
	}
	_, query := openHistory(t, dir)
	bt := `service="backtester"`
	bars := query(`sum(rate(gmc_requests_total{`+bt+`, endpoint="bar"}[1h]))`, end)
	days := query(`sum(rate(gmc_requests_total{`+bt+`, endpoint="replay-day"}[1h]))`, end)
	if len(bars) != 1 || len(days) != 1 || math.Abs(days[0].F*barsPerDay/bars[0].F-1) > 0.05 {
		t.Errorf("the history's backtester: bars/s %v, replay-day requests/s %v; want one a %d bars", bars, days, barsPerDay)
	}
	pnl := query(`gmc_pnl{`+bt+`, account="backtest", strategy="sma-crossover"}`, end)
	info := query(`gmc_account_info{`+bt+`, account="backtest", mode="backtest", currency="USD"}`, end)
	if len(pnl) != 1 || len(info) != 1 {
		t.Fatalf("the history's backtest PnL %v and account %v: want one series each, as live", pnl, info)
	}
	if pnl[0].F != res.PnL["backtest"] {
		t.Errorf("the backtest PnL ends at %v, the result says %v", pnl[0].F, res.PnL["backtest"])
	}
	if v := query(`changes(gmc_pnl{`+bt+`}[1h])`, end); len(v) != 1 || v[0].F < 30 {
		t.Errorf("the backtest PnL changed %v times in the last hour, want it to move", v)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	d, err := New(Options{GMCURL: "http://127.0.0.1:1", MarketDataListener: ln, StartPnL: res.PnL})
	if err != nil {
		t.Fatal(err)
	}
	defer d.closeAll(nil)
	mfs, err := d.backtester.svc.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := math.NaN()
	for _, mf := range mfs {
		if mf.GetName() == sdk.MetricPnL {
			got = mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	if got != res.PnL["backtest"] {
		t.Errorf("the live backtest PnL starts at %v, want the history's %v", got, res.PnL["backtest"])
	}
}

// TestHistoryHostJoinsLiveLevels: t-user12 F11. The history's host series
// ran at each counter's mean since boot and the memory read before the
// demo's desk ran: network 16-41 KiB/s in the history beside ~300 B/s
// live, memory used 0.8 GiB beside 2-2.5 GiB. With a reading of the
// agent's collectors before (HostBefore) the history ends at the rates
// between the two readings and at the memory and load average now. The
// host here is a fixed one (fakeHost): booted 2 days ago, its network
// device carrying 40 KiB/s on average since boot but 300 B/s now, using
// 2.4 GiB of 8 now; the history (3 days, so the boot is inside it) ends at
// 300 B/s (at most 2 % off), 2.4 GiB used and a load of 3, its counters
// still end at or below their values now, and each core counts one second
// a second before and after the boot.
func TestHistoryHostJoinsLiveLevels(t *testing.T) {
	now := time.Date(2026, 12, 4, 20, 30, 0, 0, time.UTC)
	boot := now.Add(-48 * time.Hour)
	const before = 10 * time.Second
	up := now.Sub(boot).Seconds()
	rx := 40 * 1024 * up // the device's bytes since boot
	host := func(at time.Duration) prometheus.Gatherer {
		return fakeHost(boot, rx-300*at.Seconds(), up-at.Seconds(), 2.4*(1<<30))
	}
	dir := t.TempDir()
	end := now.Add(-70 * time.Minute)
	o := HistoryOptions{Dir: dir, End: end, Span: 3 * 24 * time.Hour, Seed: 1, Host: "h1",
		MemAvailable: 7.5 * (1 << 30), MemTotal: 8 * (1 << 30), // read before the desk ran
		HostNow: host(0), Now: now}
	o.HostBefore = ReadHost(host(before))
	o.HostBefore.at = now.Add(-before)
	if _, err := Backfill(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	_, query := openHistory(t, dir)
	hs := `host="h1"`
	near := func(what string, got []float64, want, tol float64) {
		t.Helper()
		if len(got) != 1 || math.Abs(got[0]/want-1) > tol {
			t.Errorf("%s at the history's end: %v, want %.4g (now)", what, got, want)
		}
	}
	vals := func(expr string, ts time.Time) []float64 {
		var out []float64
		for _, s := range query(expr, ts) {
			out = append(out, s.F)
		}
		return out
	}
	// The rate now is at the load now; the end's at the end's (the
	// network's shape, byLoad(0.3), is 1 at the load now).
	rate := vals(`rate(node_network_receive_bytes_total{device="eth0", `+hs+`}[10m])`, end)
	l0, l1 := deskLoad(end, end), deskLoad(now, end)
	want := 300 * (0.3 + 0.7*l0/l1) // byLoad(0.3) normalised at the load now
	near("network rx B/s", rate, want, 0.02)
	// Used memory and the load average have noise of their own (1 % and
	// 0.15 of a standard deviation).
	used := vals(`node_memory_MemTotal_bytes{`+hs+`} - node_memory_MemAvailable_bytes{`+hs+`}`, end)
	near("memory used", used, 2.4*(1<<30), 0.04)
	near("load1", vals(`node_load1{`+hs+`}`, end), 3, 0.2)
	// Six hours before the end still at the level now (the last hours run
	// at the rate now), and the excess since boot counted before that.
	if r := vals(`rate(node_network_receive_bytes_total{device="eth0", `+hs+`}[10m])`, end.Add(-5*time.Hour)); len(r) != 1 || r[0] > 2000 {
		t.Errorf("network rx 5 h before the end %v B/s, want the level now (~300 B/s)", r)
	}
	if r := vals(`rate(node_network_receive_bytes_total{device="eth0", `+hs+`}[10m])`, end.Add(-30*time.Hour)); len(r) != 1 || r[0] < 30*1024 {
		t.Errorf("network rx 30 h before the end %v B/s, want the traffic the counter holds since boot (> 40 KiB/s)", r)
	}
	for _, s := range query(`node_network_receive_bytes_total{device="eth0", `+hs+`}`, end) {
		if s.F > rx {
			t.Errorf("rx ends at %v, above its value now %v", s.F, rx)
		}
	}
	// CPU: each core counts one second a second, before and after the cut.
	for _, ts := range []time.Time{end, end.Add(-3 * time.Hour), end.Add(-30 * time.Hour), end.Add(-60 * time.Hour)} {
		v := vals(`sum(rate(node_cpu_seconds_total{`+hs+`}[10m]))`, ts)
		if len(v) != 1 || math.Abs(v[0]-1) > 0.01 {
			t.Errorf("CPU seconds a second at %s: %v, want 1 (one core)", ts, v)
		}
	}
}

// fakeHost is a host booted at boot with one network device, eth0, that
// received rx bytes, one core that spent cpu seconds (a tenth idle, the
// rest user), 8 GiB of memory with used in use, and a load average of 3.
func fakeHost(boot time.Time, rx, cpu, used float64) prometheus.Gatherer {
	gauge := func(name string, v float64) *dto.MetricFamily {
		return &dto.MetricFamily{Name: &name, Type: dto.MetricType_GAUGE.Enum(), Metric: []*dto.Metric{{Gauge: &dto.Gauge{Value: &v}}}}
	}
	counter := func(name string, v float64, kv ...string) *dto.Metric {
		m := &dto.Metric{Counter: &dto.Counter{Value: &v}}
		for i := 0; i+1 < len(kv); i += 2 {
			m.Label = append(m.Label, &dto.LabelPair{Name: &kv[i], Value: &kv[i+1]})
		}
		return m
	}
	fam := func(name string, ms ...*dto.Metric) *dto.MetricFamily {
		return &dto.MetricFamily{Name: &name, Type: dto.MetricType_COUNTER.Enum(), Metric: ms}
	}
	return prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) {
		return []*dto.MetricFamily{
			gauge("node_boot_time_seconds", float64(boot.Unix())),
			gauge("node_memory_MemAvailable_bytes", 8*(1<<30)-used),
			gauge("node_memory_MemTotal_bytes", 8*(1<<30)),
			gauge("node_load1", 3),
			fam("node_network_receive_bytes_total", counter("node_network_receive_bytes_total", rx, "device", "eth0")),
			fam("node_cpu_seconds_total", counter("", 0.1*cpu, "cpu", "0", "mode", "idle"), counter("", 0.9*cpu, "cpu", "0", "mode", "user")),
		}, nil
	})
}

// TestHistoryCPUFollowsLoadOnABusyHost: t-user18 F7. On a machine busy
// with other work when the history is written, the idle counter's rate
// now is 0: the history ran every core at that rate, 100 % busy for the
// whole month, flat. The busy share is capped (cpuBusyRef at the load now,
// cpuBusyMax at any load) and swings with the desk's load: idle is above 0
// at every hour and the busy share is higher in the session than at a
// weekend night. Both ways the history's CPU is built: a boot inside the
// history (the user trial's, 5 h before: before it nothing bounds the
// counters), and a boot long before it (the counters join their values
// now, the idle one holding half the uptime).
func TestHistoryCPUFollowsLoadOnABusyHost(t *testing.T) {
	now := time.Date(2026, 12, 6, 12, 30, 0, 0, time.UTC) // a Sunday, as the trial's
	end := now.Add(-70 * time.Minute)
	const before = 10 * time.Second
	for _, tc := range []struct {
		name string
		boot time.Time
		idle float64 // idle seconds since boot (not counting now: its rate is 0)
		from time.Time
	}{
		{"boot inside the history", now.Add(-6*time.Hour - 40*time.Minute), 60, end.Add(-8*24*time.Hour + time.Hour)},
		{"boot before the history", now.Add(-60 * 24 * time.Hour), 30 * 24 * 3600, end.Add(-8*24*time.Hour + time.Hour)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			up := now.Sub(tc.boot).Seconds()
			host := func(at time.Duration) prometheus.Gatherer {
				return busyHost(tc.boot, tc.idle, up-tc.idle-at.Seconds())
			}
			dir := t.TempDir()
			o := HistoryOptions{Dir: dir, End: end, Span: 8 * 24 * time.Hour, Interval: 5 * time.Minute, Seed: 1, Host: "h1",
				MemAvailable: 4 * (1 << 30), MemTotal: 8 * (1 << 30), HostNow: host(0), Now: now}
			o.HostBefore = ReadHost(host(before))
			o.HostBefore.at = now.Add(-before)
			if _, err := Backfill(context.Background(), o); err != nil {
				t.Fatal(err)
			}
			_, query := openHistory(t, dir)
			busyAt := func(ts time.Time) float64 {
				t.Helper()
				v := query(`1 - rate(node_cpu_seconds_total{mode="idle", host="h1"}[30m])`, ts)
				all := query(`sum(rate(node_cpu_seconds_total{host="h1"}[30m]))`, ts)
				if len(v) != 1 || len(all) != 1 {
					t.Fatalf("CPU at %s: busy %v, all modes %v", ts, v, all)
				}
				if math.Abs(all[0].F-1) > 0.01 {
					t.Errorf("CPU seconds a second at %s: %v, want 1 (one core)", ts, all[0].F)
				}
				return v[0].F
			}
			lo, hi := 1.0, 0.0
			for ts := tc.from.Add(time.Hour); ts.Before(end); ts = ts.Add(time.Hour) {
				if tc.boot.After(tc.from) && !ts.Before(tc.boot.Add(-30*time.Minute)) {
					// The reset at the boot, and the hours after it: the
					// counters since boot bound them (60 s idle in 6h40m:
					// busy, as the machine was).
					break
				}
				b := busyAt(ts)
				lo, hi = min(lo, b), max(hi, b)
				if b > cpuBusyMax+0.02 {
					t.Errorf("busy %.3f at %s, over the cap %v", b, ts, cpuBusyMax)
				}
			}
			// Thursday's session (load 1) against Saturday night (0.2).
			session, night := busyAt(time.Date(2026, 12, 3, 14, 0, 0, 0, time.UTC)), busyAt(time.Date(2026, 12, 5, 3, 0, 0, 0, time.UTC))
			t.Logf("busy share: %.3f-%.3f over the history; Thursday 14:00 %.3f, Saturday 03:00 %.3f", lo, hi, session, night)
			if session < night+0.2 {
				t.Errorf("busy %.3f in Thursday's session, %.3f on Saturday night: want it to follow the load", session, night)
			}
		})
	}
}

// busyHost is a host booted at boot with one core that spent idle seconds
// idle and user seconds busy: between two readings only user counts (its
// idle rate is 0, a machine saturated by other work).
func busyHost(boot time.Time, idle, user float64) prometheus.Gatherer {
	gauge := func(name string, v float64) *dto.MetricFamily {
		return &dto.MetricFamily{Name: &name, Type: dto.MetricType_GAUGE.Enum(), Metric: []*dto.Metric{{Gauge: &dto.Gauge{Value: &v}}}}
	}
	counter := func(v float64, kv ...string) *dto.Metric {
		m := &dto.Metric{Counter: &dto.Counter{Value: &v}}
		for i := 0; i+1 < len(kv); i += 2 {
			m.Label = append(m.Label, &dto.LabelPair{Name: &kv[i], Value: &kv[i+1]})
		}
		return m
	}
	name := "node_cpu_seconds_total"
	return prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) {
		return []*dto.MetricFamily{
			gauge("node_boot_time_seconds", float64(boot.Unix())),
			gauge("node_memory_MemAvailable_bytes", 4*(1<<30)),
			gauge("node_memory_MemTotal_bytes", 8*(1<<30)),
			gauge("node_load1", 9),
			{Name: &name, Type: dto.MetricType_COUNTER.Enum(), Metric: []*dto.Metric{counter(idle, "cpu", "0", "mode", "idle"), counter(user, "cpu", "0", "mode", "user")}},
		}, nil
	})
}
