package demo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb"

	"github.com/gmc-dev/gmc/internal/atomicfile"
	"github.com/gmc-dev/gmc/internal/sla"
	"github.com/gmc-dev/gmc/sdk"
)

// History defaults: one sample a minute (a month is then ~4.5 M samples
// over ~110 series) and one TSDB block per day.
const (
	DefaultHistoryInterval = time.Minute
	historyBlock           = 24 * time.Hour
	// HistoryMarker is the file in the data dir recording a backfill, so a
	// restarted demo does not write the same month twice.
	HistoryMarker = "demo-history.json"
)

// HistoryOptions configure Backfill.
type HistoryOptions struct {
	// Dir is gmc's TSDB data dir (the server's data_dir), before the server
	// opens it.
	Dir string
	// End is where the history stops (the server's start); Span how far
	// back it reaches; Interval the spacing of samples (default 1m).
	End      time.Time
	Span     time.Duration
	Interval time.Duration
	Seed     int64
	Logger   *slog.Logger
	// Host is the agent's instance label (the host name) and RootDevice,
	// RootFSType, RootAvail, RootSize, MemAvailable, MemTotal describe the
	// host now, so the backfilled host series end where the live agent's
	// begin. Zero values get plausible stand-ins.
	Host                   string
	RootDevice, RootFSType string
	RootAvail, RootSize    float64
	// RootFree is the root filesystem's free space, root's reserve
	// included (node_filesystem_free_bytes); zero: RootAvail.
	RootFree               float64
	MemAvailable, MemTotal float64
	// HostNow gathers the host's counters now as the agent reports them
	// (agent.HostGatherer): the history's CPU seconds by cpu and mode and
	// network and disk I/O by device end at them, at Now (when they were
	// read; zero: time.Now()). Nil: no CPU, network or disk history.
	HostNow prometheus.Gatherer
	Now     time.Time
	// SLAs are gmc's SLAs: their recording rules (sla.BackfillRecords) are
	// backfilled over the history, as the rule manager would have
	// recorded them, so the SLA page's charts cover it.
	SLAs []sla.SLA
}

// HistoryResult says what Backfill wrote.
type HistoryResult struct {
	Start   time.Time `json:"start"`
	End     time.Time `json:"end"`
	Series  int       `json:"series"`
	Samples int       `json:"samples"`
	Blocks  int       `json:"blocks"`
	// PnL is each account's gmc_pnl at the history's end, where the live
	// strategies start (Options.StartPnL), so the desk's PnL does not
	// fall back to 0 at the join (t-user4 #6: a 2.41k "drawdown").
	PnL map[string]float64 `json:"pnl,omitempty"`
	// Skipped is true when a previous run had already backfilled Dir.
	Skipped bool `json:"-"`
}

// Backfill writes Span of plausible history of the simulated trading system
// and its host into Dir as TSDB blocks (one per day, as promtool's
// create-blocks-from does), so the 7- and 30-day views have data on first
// start. The load follows a trading week: quiet nights, a busy US session
// (13:30-20:00 UTC), quiet weekends, ~1% growth a week; latency rises with
// load; the root filesystem fills slowly towards today's free space.
// Counters start at 0 at the history's start; the live services' counters
// start at 0 again (a reset, which rate() handles). A second call on the
// same Dir does nothing (HistoryMarker).
func Backfill(ctx context.Context, o HistoryOptions) (HistoryResult, error) {
	if o.Interval <= 0 {
		o.Interval = DefaultHistoryInterval
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Span <= 0 {
		return HistoryResult{}, errors.New("backfill: span must be positive")
	}
	marker := filepath.Join(o.Dir, HistoryMarker)
	if b, err := os.ReadFile(marker); err == nil {
		var prev HistoryResult
		if json.Unmarshal(b, &prev) == nil {
			prev.Skipped = true
			return prev, nil
		}
	}
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return HistoryResult{}, fmt.Errorf("create data dir %s: %w", o.Dir, err)
	}
	g := newHistoryGen(o)
	end := o.End.Truncate(o.Interval)
	start := end.Add(-o.Span)
	res := HistoryResult{Start: start, End: end, Series: len(g.series)}
	var days []ulid.ULID // each day's block
	for from := start; from.Before(end); from = from.Add(historyBlock) {
		to := from.Add(historyBlock)
		if to.After(end) {
			to = end
		}
		n, id, err := g.writeBlock(ctx, o.Dir, from, to)
		if err != nil {
			return res, err
		}
		days = append(days, id)
		res.Samples += n
		res.Blocks++
	}
	res.PnL = maps.Clone(g.pnl)
	if len(o.SLAs) > 0 {
		n, err := backfillSLARecords(ctx, o, start, end, days)
		if err != nil {
			return res, err
		}
		res.Samples += n
	}
	b, _ := json.Marshal(res)
	if err := atomicfile.Write(marker, b, 0o644); err != nil {
		return res, err
	}
	o.Logger.Info("demo history written", "start", start, "end", end, "series", res.Series, "samples", res.Samples, "blocks", res.Blocks)
	return res, nil
}

// histSeries is one backfilled series: its labels and how its next value
// follows from the load at t over the past interval dt (seconds).
type histSeries struct {
	lset labels.Labels
	next func(t time.Time, dt float64, load float64) float64
}

type historyGen struct {
	o      HistoryOptions
	rng    *rand.Rand
	series []histSeries
	pnl    map[string]float64 // each account's PnL so far
}

func newHistoryGen(o HistoryOptions) *historyGen {
	g := &historyGen{o: o, rng: rand.New(rand.NewPCG(uint64(o.Seed), 17)), pnl: map[string]float64{}}
	// The live pushes and the scraped market-data carry the host label
	// (the SDK's default, the host name): so do their histories, and a
	// series does not split at the history's end.
	host := o.Host
	if host == "" {
		host = "demo-host"
	}
	pushed := func(svc, name string, kv ...string) labels.Labels {
		if svc == ServiceGateway {
			// As the live gateway's metrics (newService).
			kv = append(kv, "stage", sdk.StageEntry)
		}
		return labels.FromStrings(append([]string{"__name__", name, "service", svc, "instance", svc + "-1", "job", "gmc-demo", "host", host}, kv...)...)
	}
	counter := func(l labels.Labels, perSecond func(load float64) float64) {
		var c float64
		g.series = append(g.series, histSeries{l, func(_ time.Time, dt, load float64) float64 {
			c += math.Max(0, perSecond(load)*dt*(1+0.05*g.rng.NormFloat64()))
			return math.Round(c)
		}})
	}
	// Orders through the gateway, the engine and the risk checks, with the
	// latency histogram each records (the SDK's classic buckets).
	// The gateway's failures (rejects and errors) stay well inside the
	// demo's order-success SLA (99.99%), and the engine's latency inside
	// matching-latency (99% within 500 µs), so the history alone burns no
	// budget: the incidents of the live demo do.
	for _, svc := range []struct {
		name           string
		reject, errors float64
		median         float64
	}{
		// As the live services outside incidents: risk rejects only an
		// order past the hard position, which the strategies lean away
		// from, and the engine only a malformed one; the gateway's rare
		// errors (1 in 100k) stand in for the live incidents'. (They were 0.4 % risk rejects, which live has not:
		// a flat 0.4 % line dropping to 0 at the join, t-user4 #6.)
		{ServiceGateway, 0, 0.00001, 200e-6},
		{ServiceEngine, 0, 0, 60e-6},
		{ServiceRisk, 0, 0, 20e-6},
	} {
		for _, r := range []struct {
			result string
			share  float64
		}{{"success", 1 - svc.reject - svc.errors}, {"reject", svc.reject}, {"error", svc.errors}} {
			counter(pushed(svc.name, sdk.MetricOrders, "result", r.result), func(load float64) float64 {
				return DefaultOrdersPerSecond * load * r.share
			})
		}
		g.addLatency(pushed, svc.name, svc.median)
	}
	counter(pushed(ServiceBacktester, sdk.MetricRequests, "endpoint", "bar"), func(float64) float64 { return DefaultBacktestRate })
	counter(labels.FromStrings("__name__", sdk.MetricRequests, "service", ServiceMarketData, "instance", "market-data-1",
		"job", ServiceMarketData, "host", host, "endpoint", "message"), func(load float64) float64 { return DefaultMarketDataRate * (0.2 + 0.8*load) })
	end := o.End.Truncate(o.Interval)
	for i, def := range strategyDefs() {
		acct := accountName(uint32(i + 1))
		drift, vol := float64(def.drift), float64(def.vol)
		g.series = append(g.series, histSeries{
			pushed("strategy-"+def.name, sdk.MetricPnL, "account", acct, "strategy", def.name),
			func(_ time.Time, dt, load float64) float64 {
				// The random walk moves only while the market trades; the
				// live strategy continues from its last value (Result.PnL).
				g.pnl[acct] += load * dt / 60 * (drift/100 + vol/10*g.rng.NormFloat64())
				g.pnl[acct] = math.Round(g.pnl[acct]*100) / 100
				return g.pnl[acct]
			},
		})
		g.series = append(g.series, histSeries{
			pushed(ServiceRisk, sdk.MetricAccountInfo, "account", acct, "currency", currency, "mode", sdk.AccountLive),
			func(time.Time, float64, float64) float64 { return 1 },
		})
		g.addExposure(pushed, acct, def.name, end)
	}
	g.addHost()
	return g
}

// addLatency adds svc's gmc_order_latency_seconds classic histogram:
// log-normal latencies whose median (idle: median) doubles at peak load.
func (g *historyGen) addLatency(pushed func(svc, name string, kv ...string) labels.Labels, svc string, idleMedian float64) {
	bounds := append(sdk.DefaultLatencyBuckets(), math.Inf(1))
	counts := make([]float64, len(bounds))
	var n, sum float64
	// One shared draw per step: every bucket series of the histogram sees the
	// same observations.
	var lastT time.Time
	var orders, median float64
	step := func(t time.Time, dt, load float64) {
		if t.Equal(lastT) {
			return
		}
		lastT = t
		orders = math.Round(DefaultOrdersPerSecond * load * dt)
		median = idleMedian * (1 + load*load) * (1 + 0.1*g.rng.NormFloat64())
		const sigma = 0.5
		for i, b := range bounds {
			counts[i] += math.Round(orders * normCDF((math.Log(b)-math.Log(median))/sigma))
		}
		n += orders
		sum += orders * median * math.Exp(sigma*sigma/2)
	}
	for i, b := range bounds {
		le := strconv.FormatFloat(b, 'g', -1, 64)
		if math.IsInf(b, 1) {
			le = "+Inf"
		}
		g.series = append(g.series, histSeries{pushed(svc, sdk.MetricOrderLatency+"_bucket", "le", le), func(t time.Time, dt, load float64) float64 {
			step(t, dt, load)
			return counts[i]
		}})
	}
	g.series = append(g.series,
		histSeries{pushed(svc, sdk.MetricOrderLatency+"_count"), func(t time.Time, dt, load float64) float64 { step(t, dt, load); return n }},
		histSeries{pushed(svc, sdk.MetricOrderLatency+"_sum"), func(t time.Time, dt, load float64) float64 { step(t, dt, load); return sum }},
	)
}

// addHost adds the agent's view of the host (its metric and label names):
// load average, available memory, a root filesystem filling by about 1% of
// its size a day and ending at today's free space, and (with HostNow) CPU,
// network and disk counters ending at today's.
func (g *historyGen) addHost() {
	o := g.o
	host := o.Host
	if host == "" {
		host = "demo-host"
	}
	if o.RootSize <= 0 {
		o.RootSize = 500e9
	}
	if o.RootAvail <= 0 || o.RootAvail > o.RootSize {
		o.RootAvail = 0.4 * o.RootSize
	}
	if o.RootDevice == "" {
		o.RootDevice, o.RootFSType = "/dev/root", "ext4"
	}
	if o.MemAvailable <= 0 {
		o.MemAvailable = 8 << 30
	}
	if o.MemTotal < o.MemAvailable {
		o.MemTotal = 2 * o.MemAvailable
	}
	// The live agent's labels: instance and job (its external labels) and
	// host (its pusher's, the host name), which the host page selects on.
	node := func(name string, kv ...string) labels.Labels {
		return labels.FromStrings(append([]string{"__name__", name, "instance", host, "job", "gmc-agent", sdk.HostLabel, host}, kv...)...)
	}
	fs := []string{"device", o.RootDevice, "mountpoint", "/", "fstype", o.RootFSType}
	perDay := math.Min(0.01*o.RootSize, (o.RootSize-o.RootAvail)/(o.Span.Hours()/24+1))
	reserve := math.Max(0, o.RootFree-o.RootAvail)
	avail := func(t time.Time) float64 {
		days := o.End.Sub(t).Hours() / 24
		// Logs grow through the day and are rotated at midnight.
		logs := func(t time.Time) float64 { return float64(t.UTC().Hour()) / 24 * 0.3 * perDay }
		intraday := logs(t) - logs(o.End)
		return math.Max(0, math.Min(o.RootSize-reserve, o.RootAvail+days*perDay-intraday))
	}
	g.series = append(g.series,
		histSeries{node("node_load1"), func(_ time.Time, _, load float64) float64 {
			return math.Max(0, 0.3+1.6*load+0.15*g.rng.NormFloat64())
		}},
		histSeries{node("node_memory_MemAvailable_bytes"), func(_ time.Time, _, load float64) float64 {
			// Used memory (total - available now) swings ±20 % with the load.
			used := (o.MemTotal - o.MemAvailable) * (0.8 + 0.4*load) * (1 + 0.01*g.rng.NormFloat64())
			return math.Max(0, o.MemTotal-used)
		}},
		histSeries{node("node_memory_MemTotal_bytes"), func(time.Time, float64, float64) float64 { return o.MemTotal }},
		histSeries{node("node_filesystem_size_bytes", fs...), func(time.Time, float64, float64) float64 { return o.RootSize }},
		histSeries{node("node_filesystem_avail_bytes", fs...), func(t time.Time, _, _ float64) float64 { return avail(t) }},
		// Free includes root's reserve, which stays as it is now.
		histSeries{node("node_filesystem_free_bytes", fs...), func(t time.Time, _, _ float64) float64 {
			return math.Min(o.RootSize, avail(t)+reserve)
		}},
	)
	if o.HostNow != nil {
		now := o.Now
		if now.IsZero() {
			now = time.Now()
		}
		counters, boot := gatherHostCounters(o.HostNow)
		g.addHostCounters(node, counters, boot, now)
	}
}

// backfillSLARecords evaluates the SLAs' recording rules over the history
// just written, a day at a time, every history interval (the rules'
// evaluation at the demo's interval would be finer; a minute is
// promtool's default), and writes each day's into that day's block of the
// history (days): a block of their own, then both compacted into one, as
// the TSDB's vertical compaction would merge them later (warning of
// overlapping blocks at every start until then).
func backfillSLARecords(ctx context.Context, o HistoryOptions, start, end time.Time, days []ulid.ULID) (int, error) {
	// A read-only TSDB wants a WAL: an empty one while it is open, when
	// the dir has none yet (the server has not opened it).
	wal := filepath.Join(o.Dir, "wal")
	if _, err := os.Stat(wal); errors.Is(err, os.ErrNotExist) {
		if err := os.Mkdir(wal, 0o755); err != nil {
			return 0, fmt.Errorf("backfill SLA records: %w", err)
		}
		defer os.Remove(wal)
	}
	sandbox, err := os.MkdirTemp("", "gmc-demo-history-")
	if err != nil {
		return 0, fmt.Errorf("backfill SLA records: %w", err)
	}
	defer os.RemoveAll(sandbox)
	db, err := tsdb.OpenDBReadOnly(o.Dir, sandbox, slog.New(slog.DiscardHandler))
	if err != nil {
		return 0, fmt.Errorf("backfill SLA records: open the history: %w", err)
	}
	defer db.Close()
	engine := promql.NewEngine(promql.EngineOpts{MaxSamples: 50_000_000, Timeout: 10 * time.Minute, LookbackDelta: 5 * time.Minute})
	n := 0
	var merge [][]string // per day: its history block and its records'
	for day, from := 0, start; from.Before(end); day, from = day+1, from.Add(historyBlock) {
		to := from.Add(historyBlock)
		if to.After(end) {
			to = end
		}
		w, err := tsdb.NewBlockWriter(slog.New(slog.DiscardHandler), o.Dir, historyBlock.Milliseconds())
		if err != nil {
			return n, fmt.Errorf("backfill SLA records %s: %w", from.Format(time.DateOnly), err)
		}
		app := w.AppenderV2(ctx)
		for _, s := range o.SLAs {
			s.Normalise()
			if err := s.Validate(); err != nil {
				w.Close()
				return n, fmt.Errorf("backfill SLA records: %w", err)
			}
			k, err := s.BackfillRecords(ctx, engine, db, from, to, o.Interval, func(lset labels.Labels, ms int64, v float64) error {
				_, err := app.Append(0, lset, 0, ms, v, nil, nil, storage.AOptions{})
				return err
			})
			n += k
			if err != nil {
				w.Close()
				return n, err
			}
		}
		if err := app.Commit(); err != nil {
			w.Close()
			return n, fmt.Errorf("backfill SLA records %s: commit: %w", from.Format(time.DateOnly), err)
		}
		id, err := w.Flush(ctx)
		if err != nil {
			w.Close()
			return n, fmt.Errorf("backfill SLA records %s: write block: %w", from.Format(time.DateOnly), err)
		}
		if err := w.Close(); err != nil {
			return n, err
		}
		if id != (ulid.ULID{}) && day < len(days) && days[day] != (ulid.ULID{}) {
			merge = append(merge, []string{filepath.Join(o.Dir, days[day].String()), filepath.Join(o.Dir, id.String())})
		}
	}
	if err := db.Close(); err != nil {
		return n, fmt.Errorf("backfill SLA records: close the history: %w", err)
	}
	c, err := tsdb.NewLeveledCompactor(ctx, nil, slog.New(slog.DiscardHandler), []int64{historyBlock.Milliseconds()}, nil, nil)
	if err != nil {
		return n, fmt.Errorf("backfill SLA records: %w", err)
	}
	for _, dirs := range merge {
		if _, err := c.Compact(o.Dir, dirs, nil); err != nil {
			return n, fmt.Errorf("backfill SLA records: merge %v: %w", dirs, err)
		}
		for _, d := range dirs {
			if err := os.RemoveAll(d); err != nil {
				return n, fmt.Errorf("backfill SLA records: %w", err)
			}
		}
	}
	return n, nil
}

// writeBlock writes the samples in [from, to) as one block in dir.
func (g *historyGen) writeBlock(ctx context.Context, dir string, from, to time.Time) (int, ulid.ULID, error) {
	// The block writer logs every step at info; its errors are returned.
	w, err := tsdb.NewBlockWriter(slog.New(slog.DiscardHandler), dir, historyBlock.Milliseconds())
	if err != nil {
		return 0, ulid.ULID{}, fmt.Errorf("backfill %s: %w", from.Format(time.DateOnly), err)
	}
	defer w.Close()
	app := w.AppenderV2(ctx)
	dt := g.o.Interval.Seconds()
	n := 0
	for t := from; t.Before(to); t = t.Add(g.o.Interval) {
		load := tradingLoad(t, g.o.End)
		ms := t.UnixMilli()
		for _, s := range g.series {
			if _, err := app.Append(0, s.lset, 0, ms, s.next(t, dt, load), nil, nil, storage.AOptions{}); err != nil {
				return n, ulid.ULID{}, fmt.Errorf("backfill %s at %s: %w", s.lset, t, err)
			}
			n++
		}
	}
	if err := app.Commit(); err != nil {
		return n, ulid.ULID{}, fmt.Errorf("backfill %s: commit: %w", from.Format(time.DateOnly), err)
	}
	id, err := w.Flush(ctx)
	if err != nil {
		return n, ulid.ULID{}, fmt.Errorf("backfill %s: write block: %w", from.Format(time.DateOnly), err)
	}
	return n, id, w.Close()
}

// addExposure adds the risk service's gmc_risk_exposure (gross and net)
// and gmc_risk_limit (gross) for one account, as the live risk service
// publishes them: the position in lots wanders while the market trades,
// leaning back inside softPosition as the strategies do, times the price
// and tickValue; the limit is hardPosition lots at the price. The desk is
// flat at the history's end and the price back at the live book's 10000
// ticks, where the live risk service starts.
func (g *historyGen) addExposure(pushed func(svc, name string, kv ...string) labels.Labels, acct, strategy string, end time.Time) {
	var last time.Time
	var pos, net, price float64
	step := func(t time.Time, dt, load float64) {
		if t.Equal(last) {
			return
		}
		last = t
		pos += load * (-pos/softPosition*dt/60*20 + 40*math.Sqrt(dt/60)*g.rng.NormFloat64())
		pos = math.Max(-hardPosition, math.Min(hardPosition, pos))
		// Hours to the history's last sample, one interval before end.
		left := end.Sub(t.Add(g.o.Interval)).Hours()
		price = 10000 + 150*math.Sin(2*math.Pi*left/(5*24)) + 60*math.Sin(2*math.Pi*left/19)
		net = math.Round(pos*math.Min(1, left)) * price * tickValue
	}
	for _, kind := range []string{sdk.ExposureGross, sdk.ExposureNet} {
		g.series = append(g.series, histSeries{
			pushed(ServiceRisk, sdk.MetricRiskExposure, "account", acct, "strategy", strategy, "kind", kind),
			func(t time.Time, dt, load float64) float64 {
				step(t, dt, load)
				if kind == sdk.ExposureGross {
					return math.Abs(net)
				}
				return net
			},
		})
	}
	g.series = append(g.series, histSeries{
		pushed(ServiceRisk, sdk.MetricRiskLimit, "account", acct, "strategy", strategy, "kind", sdk.ExposureGross),
		func(t time.Time, dt, load float64) float64 {
			step(t, dt, load)
			return hardPosition * price * tickValue
		},
	})
}

// tradingLoad is the share (0-1) of peak order flow at t: the US session
// 13:30-20:00 UTC busy (opening and closing auctions busiest), a European
// morning, quiet nights and weekends, growing ~1% a week towards end.
func tradingLoad(t, end time.Time) float64 {
	u := t.UTC()
	h := float64(u.Hour()) + float64(u.Minute())/60
	var l float64
	switch {
	case h >= 13.5 && h < 20:
		x := (h - 13.5) / 6.5 // U-shaped session
		l = 0.65 + 0.35*(4*(x-0.5)*(x-0.5))
	case h >= 7 && h < 13.5:
		l = 0.3
	default:
		l = 0.08
	}
	if wd := u.Weekday(); wd == time.Saturday || wd == time.Sunday {
		l *= 0.15
	}
	weeks := end.Sub(t).Hours() / (24 * 7)
	return l * math.Pow(1.01, -weeks)
}

func normCDF(x float64) float64 { return 0.5 * math.Erfc(-x/math.Sqrt2) }
