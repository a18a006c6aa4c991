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
	"slices"
	"strconv"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb"

	"github.com/gmc-dev/gmc/internal/atomicfile"
	"github.com/gmc-dev/gmc/internal/bench"
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
	// End is where the history stops (the server's start; the demo's live
	// desk starts 1h10m later), its order and message rates there the live
	// desk's (DefaultOrdersPerSecond, DefaultMarketDataRate) and larger or
	// smaller by the desk's daily and weekly pattern before; Span how far
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
	// HostBefore is an earlier reading of the same collectors (ReadHost;
	// the demo takes it before Calibrate runs the desk, ~10 s before Now):
	// each counter's rate between it and Now is the history's at its end,
	// so the history joins the live host's levels. Nil: the history runs
	// at each counter's mean since boot (network 16-41 KiB/s in the
	// history beside ~300 B/s live, t-user12 F11). With HostNow, the
	// host's memory and load average now (node_memory_*, node_load1) are
	// also the history's at its end, in place of MemAvailable and
	// MemTotal.
	HostBefore *HostReading
	// Model is the live desk's latencies as measured on this machine
	// (Calibrate): the history draws its latencies from them, so they
	// join the live desk's. Nil: the fitted stand-ins (fittedLatency).
	Model *LiveModel
	// Bench, when set, adds a history of the demo's benchmarks (see
	// BenchHistory): runs archived in Dir's bench archive, the weekly
	// reports, and their gmc_bench_* series in the history's blocks.
	Bench *BenchHistory
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
	// BenchRuns is how many benchmark runs the history holds (Bench).
	BenchRuns int `json:"bench_runs,omitempty"`
	// PnL is each account's gmc_pnl at the history's end, where the live
	// strategies start (Options.StartPnL), so the desk's PnL does not
	// fall back to 0 at the join (t-user4 #6: a 2.41k "drawdown").
	PnL map[string]float64 `json:"pnl,omitempty"`
	// Skipped is true when a previous run had already backfilled Dir.
	Skipped bool `json:"-"`
}

// WrittenHistory is what an earlier Backfill wrote into dir, if it did
// (its HistoryMarker).
func WrittenHistory(dir string) (HistoryResult, bool) {
	b, err := os.ReadFile(filepath.Join(dir, HistoryMarker))
	if err != nil {
		return HistoryResult{}, false
	}
	var prev HistoryResult
	if json.Unmarshal(b, &prev) != nil {
		return HistoryResult{}, false
	}
	return prev, true
}

// Backfill writes Span of plausible history of the simulated trading system
// and its host into Dir as TSDB blocks (one per day, as promtool's
// create-blocks-from does), so the 7- and 30-day views have data on first
// start. The load follows a trading week (deskLoad): a desk trading round
// the clock, busiest in the US session (13:30-20:00 UTC), quieter at night
// and at weekends, ~1% growth a week, at the live desk's rates at End;
// every latency has the live desk's distribution (o.Model, else fittedLatency),
// slightly slower when busy; the root filesystem fills slowly towards
// today's free space.
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
	if prev, ok := WrittenHistory(o.Dir); ok {
		prev.Skipped = true
		return prev, nil
	}
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return HistoryResult{}, fmt.Errorf("create data dir %s: %w", o.Dir, err)
	}
	g := newHistoryGen(o)
	end := o.End.Truncate(o.Interval)
	start := end.Add(-o.Span)
	res := HistoryResult{Start: start, End: end, Series: len(g.series) + len(g.native)}
	if o.Bench != nil {
		n, err := g.backfillBench(ctx, start, end)
		if err != nil {
			return res, fmt.Errorf("backfill benchmarks: %w", err)
		}
		res.BenchRuns = n
	}
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

// nativeSeries is one backfilled native histogram series.
type nativeSeries struct {
	lset labels.Labels
	next func(t time.Time, dt float64, load float64) *histogram.Histogram
}

type historyGen struct {
	o      HistoryOptions
	rng    *rand.Rand
	series []histSeries
	native []nativeSeries
	pnl    map[string]float64 // each account's PnL so far
	// bench are the benchmark history's samples (backfillBench), by time.
	bench []bench.Sample
	// endLoad is deskLoad at End: a rate at load l is the live desk's
	// times l/endLoad, so the history's last values are the live desk's
	// first. Normalised at the live desk's start (1h10m later in the demo)
	// instead, a history ending on Friday 23:00 was 1.28× the live rates
	// of Saturday 00:14 and stepped down at the join, gateway orders
	// 3,826 → 2,980/s (t-user6 #1).
	endLoad float64
}

func newHistoryGen(o HistoryOptions) *historyGen {
	g := &historyGen{o: o, rng: rand.New(rand.NewPCG(uint64(o.Seed), 17)), pnl: map[string]float64{}}
	g.endLoad = deskLoad(o.End, o.End)
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
	// The live desk's rate at load l (deskLoad): its rate now times
	// l/endLoad, so the history ends at the live desk's rates.
	live := func(rate, load float64) float64 { return rate * load / g.endLoad }
	// Orders through the gateway, the engine and the risk checks, and each
	// strategy's round trips, with the latency histogram each records (the
	// SDK's native and classic buckets).
	// The gateway's failures (rejects and errors) stay well inside the
	// demo's order-success SLA (99.99%), and the engine's latency inside
	// matching-latency (99% within 500 µs), so the history alone burns no
	// budget: the incidents of the live demo do.
	type svcOrders struct {
		name           string
		share          float64 // of the desk's orders
		reject, errors float64
	}
	svcs := []svcOrders{
		// As the live services outside incidents: risk rejects only an
		// order past the hard position, which the strategies lean away
		// from, and the engine only a malformed one; the gateway's rare
		// errors (1 in 100k) stand in for the live incidents'. (They were 0.4 % risk rejects, which live has not:
		// a flat 0.4 % line dropping to 0 at the join, t-user4 #6.)
		{ServiceGateway, 1, 0, 0.00001},
		{ServiceEngine, 1, 0, 0},
		{ServiceRisk, 1, 0, 0},
	}
	for _, def := range strategyDefs() {
		svcs = append(svcs, svcOrders{"strategy-" + def.name, float64(def.ordersShare) / 100, 0, 0})
	}
	for _, svc := range svcs {
		orders := g.o.Model.perSecond(orderFamily(svc.name), DefaultOrdersPerSecond*svc.share)
		for _, r := range []struct {
			result string
			share  float64
		}{{"success", 1 - svc.reject - svc.errors}, {"reject", svc.reject}, {"error", svc.errors}} {
			counter(pushed(svc.name, sdk.MetricOrders, "result", r.result), func(load float64) float64 {
				return live(orders, load) * r.share
			})
		}
		g.addLatency(g.rng, func(name string) labels.Labels { return pushed(svc.name, name) }, sdk.MetricOrderLatency,
			g.o.Model.model(orderFamily(svc.name)), sdk.DefaultLatencyBuckets(), true, func(load float64) float64 {
				return live(orders, load)
			})
	}
	// The families added since (cancel, replay-day, batch and feed
	// latency) draw from a stream of their own: the other series are what
	// they were for a seed.
	extra := rand.New(rand.NewPCG(uint64(o.Seed), 18))
	// Each order the strategies keep working is cancelled later through
	// the gateway (live: cancels/s ≈ orders/s), each cancel timed.
	cancelRate := g.o.Model.perSecond(requestFamily(ServiceGateway, endpointCancel), DefaultOrdersPerSecond)
	cancels := func(load float64) float64 { return live(cancelRate, load) }
	counter(pushed(ServiceGateway, sdk.MetricRequests, "endpoint", endpointCancel), cancels)
	g.addLatency(extra, func(name string) labels.Labels { return pushed(ServiceGateway, name, "endpoint", endpointCancel) }, sdk.MetricRequestLatency,
		g.o.Model.model(requestFamily(ServiceGateway, endpointCancel)), sdk.DefaultLatencyBuckets(), true, cancels)
	// The backtester replays a day of bars at its steady rate, whatever
	// the desk's load, and times each day's replay.
	bars := g.o.Model.perSecond(requestFamily(ServiceBacktester, "bar"), DefaultBacktestRate)
	counter(pushed(ServiceBacktester, sdk.MetricRequests, "endpoint", "bar"), func(float64) float64 { return bars })
	g.addLatency(extra, func(name string) labels.Labels { return pushed(ServiceBacktester, name, "endpoint", endpointReplayDay) }, sdk.MetricRequestLatency,
		g.o.Model.model(requestFamily(ServiceBacktester, endpointReplayDay)), sdk.DefaultLatencyBuckets(), true,
		func(float64) float64 { return bars / barsPerDay }).steady = true
	// Each day replayed is a request too (ObserveRequest counts it), and
	// the backtest's PnL is reported under its own account, a backtest's
	// (the Risk page keeps it out of the desk's total): both existed only
	// live (t-user12 F11). The PnL moves by the strategy's PnL over the
	// days replayed in each step, drawn from the spread of its PnL over
	// replayed days (backtestDaySD); the live backtester
	// continues from the last (Result.PnL).
	// (A stream of their own, as the families above.)
	days := func(float64) float64 { return bars / barsPerDay }
	btRng := rand.New(rand.NewPCG(uint64(o.Seed), 19))
	var replayed float64
	g.series = append(g.series, histSeries{pushed(ServiceBacktester, sdk.MetricRequests, "endpoint", endpointReplayDay), func(_ time.Time, dt, _ float64) float64 {
		replayed += math.Max(0, days(0)*dt*(1+0.05*btRng.NormFloat64()))
		return math.Round(replayed)
	}})
	g.series = append(g.series, histSeries{
		pushed(ServiceBacktester, sdk.MetricAccountInfo, "account", backtestAccount, "currency", currency, "mode", sdk.AccountBacktest),
		func(time.Time, float64, float64) float64 { return 1 },
	})
	btSD := backtestDaySD(o.Seed)
	g.series = append(g.series, histSeries{
		pushed(ServiceBacktester, sdk.MetricPnL, "account", backtestAccount, "strategy", backtestStrategy),
		func(_ time.Time, dt, _ float64) float64 {
			n := days(0) * dt
			g.pnl[backtestAccount] += math.Sqrt(n) * btSD * btRng.NormFloat64()
			g.pnl[backtestAccount] = math.Round(g.pnl[backtestAccount]*100) / 100
			return g.pnl[backtestAccount]
		},
	})
	// market-data, scraped (its target's labels; text exposition: classic
	// buckets only): messages, a batch each feedTick timed, how late each
	// batch is applied (the feed's latency) and sequence gaps (none: the
	// recording has none, as live).
	md := func(name string, kv ...string) labels.Labels {
		return labels.FromStrings(append([]string{"__name__", name, "service", ServiceMarketData, "instance", "market-data-1",
			"job", ServiceMarketData, "host", host}, kv...)...)
	}
	messages := g.o.Model.perSecond(requestFamily(ServiceMarketData, "message"), DefaultMarketDataRate)
	counter(md(sdk.MetricRequests, "endpoint", "message"), func(load float64) float64 { return live(messages, load) })
	// A batch each feedTick, or as many as the ticker delivered live.
	batchRate := float64(time.Second / feedTick)
	if r := g.o.Model.observedRate(requestFamily(ServiceMarketData, endpointBatch)); r > 0 {
		batchRate = r
	}
	batches := func(float64) float64 { return batchRate }
	g.addLatency(extra, func(name string) labels.Labels { return md(name, "endpoint", endpointBatch) }, sdk.MetricRequestLatency,
		g.o.Model.model(requestFamily(ServiceMarketData, endpointBatch)), sdk.DefaultLatencyBuckets(), false, batches).steady = true
	g.addLatency(extra, func(name string) labels.Labels { return md(name) }, feedLatencyMetric,
		g.o.Model.model(feedFamily), feedLatencyBuckets(), false, batches).steady = true
	counter(md(feedGapsMetric), func(float64) float64 { return 0 })
	end := o.End.Truncate(o.Interval)
	for i, def := range strategyDefs() {
		acct := accountName(uint32(i + 1))
		drift, vol := float64(def.drift), float64(def.vol)
		g.series = append(g.series, histSeries{
			pushed("strategy-"+def.name, sdk.MetricPnL, "account", acct, "strategy", def.name),
			func(_ time.Time, dt, load float64) float64 {
				// The random walk moves only while the market trades: as
				// the live strategy's (pnlStep: vol per √second) over the
				// step's trading time, its seconds times the load relative
				// to the live desk's (load/endLoad, 1 at the history's
				// end), so the history's last minutes move as the live
				// desk's first. (It moved load·dt/60·vol/10 a step: a
				// 2-minute stddev of 5.35 USD for acct-1 beside the live
				// desk's 755, t-user9 #5.) The drift stays the history's
				// own, drift/100 a minute at load 1: the live drift (4
				// USD/s for momentum) over 30 days would be millions.
				// The live strategy continues from the last value
				// (Result.PnL).
				g.pnl[acct] += load*dt/60*drift/100 + pnlStep(0, vol, dt*load/g.endLoad, g.rng)
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

// latencyShape is an order latency distribution: a log-normal body
// (median, sigma) and a slower tail (a share tail of the orders, its
// median tailRatio times the body's, tailSigma): scheduling delays and
// cache misses of a process that otherwise answers in microseconds.
type latencyShape struct {
	median, sigma              float64
	tail, tailRatio, tailSigma float64
}

// fittedLatency are stand-ins for the live desk's latencies by family
// (LiveModel), used when none were measured (Backfill without a Model:
// tests): mixtures fitted to the live demo's native-histogram quantiles
// (1, 10, 50, 90, 99 and 99.9 %), the order families on 4 minutes at load
// 2-10 (e.g. the gateway's 1.11/1.47/2.30/4.79/28.8/102.5 µs, fitted
// 1.03/1.54/2.56/4.41/29.0/102 µs), the others roughly on one 4 s
// calibration at load ~20 (2026-12-05; cancel p50/p90/p99 0.60/1.23/13.6
// µs, a batch's mean 6.2 µs, replay-day p99 164 ms; the feed's lateness is
// the machine's scheduling delay, µs idle and 150 ms mean at that load).
// Calibrate measures them all instead. The history's latency had medians of 200, 60 and 20 µs,
// ~60x the live desk's: every 30d latency chart dropped at the join
// (t-user5 #6).
var fittedLatency = map[string]latencyShape{
	orderFamily(ServiceGateway):                     {2.5e-6, 0.39, 0.030, 7.9, 0.90},
	orderFamily(ServiceEngine):                      {0.37e-6, 0.74, 0.038, 4.6, 1.53},
	orderFamily(ServiceRisk):                        {52e-9, 0.15, 0.046, 2.6, 0.58},
	"strategy":                                      {3.9e-6, 0.31, 0.033, 8.2, 0.90},
	requestFamily(ServiceGateway, endpointCancel):   {0.6e-6, 0.55, 0.03, 10, 0.9},
	requestFamily(ServiceMarketData, endpointBatch): {5e-6, 0.5, 0.03, 5, 1},
	feedFamily: {200e-6, 1, 0.1, 50, 1.5},
	requestFamily(ServiceBacktester, endpointReplayDay): {72e-3, 0.05, 0.05, 1.5, 0.3},
}

// cdf is the share of latencies at most x when the medians are scaled by k.
func (s latencyShape) cdf(x, k float64) float64 {
	return s.cdfLog(math.Log(x / (k * s.median)))
}

// cdfLog is cdf at ln(x / (k·median)).
func (s latencyShape) cdfLog(lx float64) float64 {
	return (1-s.tail)*normCDF(lx/s.sigma) + s.tail*normCDF((lx-math.Log(s.tailRatio))/s.tailSigma)
}

// mean is the mean latency when the medians are scaled by k.
func (s latencyShape) mean(k float64) float64 {
	return k * s.median * ((1-s.tail)*math.Exp(s.sigma*s.sigma/2) + s.tail*s.tailRatio*math.Exp(s.tailSigma*s.tailSigma/2))
}

// bounds: beyond z sigmas of either component a normal tail holds half an
// observation of n.
func (s latencyShape) bounds(n float64) (lo, hi float64) {
	z := math.Sqrt2 * math.Erfinv(1-1/n)
	lm := math.Log(s.median)
	lt := lm + math.Log(s.tailRatio)
	return math.Exp(math.Min(lm-z*s.sigma, lt-z*s.tailSigma)), math.Exp(math.Max(lm+z*s.sigma, lt+z*s.tailSigma))
}

// nativeSchema is the schema of the history's native histograms: the live
// SDK's (bucket factor 1.03, at most 320 buckets) settles at 4 for the
// demo's latencies (buckets 2^(1/16) = 1.044 apart).
const nativeSchema = 4

// histLatency is one backfilled latency histogram; steady: its latencies
// do not follow the desk's load (a backtest, the feed's clock).
type histLatency struct{ steady bool }

// addLatency adds a latency histogram named metric, its series labelled
// by lset(name): classic buckets (bounds) and, with native, the native
// histogram too (as the SDK pushes both; a scraped service's text
// exposition has classic buckets only). Its latencies are the model's at
// perSecond(load) a second, a little slower when busy (unless steady: the
// median 1.15x at the busiest hour against 0.85+0.15·load there, as 1 at
// End's load).
func (g *historyGen) addLatency(rng *rand.Rand, lset func(name string) labels.Labels, metric string, model latencyModel, bounds []float64, native bool,
	perSecond func(load float64) float64,
) *histLatency {
	hl := &histLatency{}
	bounds = append(slices.Clone(bounds), math.Inf(1))
	counts := make([]float64, len(bounds))
	nb := &nativeBuckets{}
	var n, sum float64
	// One shared draw per step: every series of the histogram sees the
	// same observations.
	var lastT time.Time
	step := func(t time.Time, dt, load float64) {
		if t.Equal(lastT) {
			return
		}
		lastT = t
		orders := math.Round(perSecond(load) * dt)
		k := math.Exp(0.05 * rng.NormFloat64())
		if !hl.steady {
			k *= (0.85 + 0.15*load) / (0.85 + 0.15*g.endLoad)
		}
		for i, b := range bounds {
			counts[i] += math.Round(orders * model.cdf(b, k))
		}
		if native {
			addNative(nb, model, k, orders)
		}
		n += orders
		sum += orders * model.mean(k)
	}
	for i, b := range bounds {
		le := strconv.FormatFloat(b, 'g', -1, 64)
		if math.IsInf(b, 1) {
			le = "+Inf"
		}
		l := labels.NewBuilder(lset(metric+"_bucket")).Set("le", le).Labels()
		g.series = append(g.series, histSeries{l, func(t time.Time, dt, load float64) float64 {
			step(t, dt, load)
			return counts[i]
		}})
	}
	g.series = append(g.series,
		histSeries{lset(metric + "_count"), func(t time.Time, dt, load float64) float64 { step(t, dt, load); return n }},
		histSeries{lset(metric + "_sum"), func(t time.Time, dt, load float64) float64 { step(t, dt, load); return sum }},
	)
	if native {
		g.native = append(g.native, nativeSeries{lset(metric), func(t time.Time, dt, load float64) *histogram.Histogram {
			step(t, dt, load)
			return nativeHistogram(nb, n, sum)
		}})
	}
	return hl
}

// nativeBuckets holds cumulative native bucket counts by index (schema
// nativeSchema) from 1 ns to 4 s, and the lowest and highest index used.
type nativeBuckets struct {
	c      [nativeMax - nativeMin + 1]float64
	lo, hi int32
}

const (
	nativeMin = -30 << nativeSchema // 2^-30 s, ~1 ns
	nativeMax = 2 << nativeSchema   // 4 s
)

// addNative adds n latencies of model (scaled by k) to the cumulative
// native bucket counts c: each bucket's expected count, rounded as a
// running total so the buckets add up to n, over the buckets within the
// model's bounds for n.
func addNative(c *nativeBuckets, model latencyModel, k, n float64) {
	if n <= 0 {
		return
	}
	const perBucket = math.Ln2 / (1 << nativeSchema) // ln of a bucket's width
	from, to := model.bounds(n)
	lo := max(int32(math.Floor(math.Log(k*from)/perBucket)), nativeMin)
	hi := min(int32(math.Ceil(math.Log(k*to)/perBucket)), nativeMax)
	if c.lo == 0 && c.hi == 0 {
		c.lo, c.hi = lo, hi
	}
	c.lo, c.hi = min(c.lo, lo), max(c.hi, hi)
	var prev float64
	for i := lo; i <= hi; i++ {
		cum := n
		if i < hi {
			cum = math.Round(n * model.cdf(math.Exp(float64(i)*perBucket), k))
		}
		c.c[i-nativeMin] += cum - prev
		prev = cum
	}
}

// nativeHistogram is the cumulative native histogram of c (one span from
// the lowest to the highest bucket used), count n and sum.
func nativeHistogram(c *nativeBuckets, n, sum float64) *histogram.Histogram {
	h := &histogram.Histogram{Schema: nativeSchema, ZeroThreshold: prometheus.DefNativeHistogramZeroThreshold, Count: uint64(n), Sum: sum}
	if n == 0 {
		return h
	}
	// Trim empty buckets at either end.
	lo, hi := c.lo, c.hi
	for lo < hi && c.c[lo-nativeMin] == 0 {
		lo++
	}
	for hi > lo && c.c[hi-nativeMin] == 0 {
		hi--
	}
	h.PositiveSpans = []histogram.Span{{Offset: lo, Length: uint32(hi - lo + 1)}}
	h.PositiveBuckets = make([]int64, 0, hi-lo+1)
	var prev int64
	for i := lo; i <= hi; i++ {
		v := int64(c.c[i-nativeMin])
		h.PositiveBuckets = append(h.PositiveBuckets, v-prev)
		prev = v
	}
	return h
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
	// The host's memory and load average now, through the agent's
	// collectors: the history's end (MemAvailable was read before the
	// demo's desk ran; the history's used memory was 0.8 GiB beside 2-2.5
	// GiB live, t-user12 F11).
	var load1 float64
	if o.HostNow != nil {
		gs := hostGauges(o.HostNow)
		if av, tot := gs["node_memory_MemAvailable_bytes"], gs["node_memory_MemTotal_bytes"]; av > 0 && tot >= av {
			o.MemAvailable, o.MemTotal = av, tot
		}
		load1 = gs["node_load1"]
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
			if load1 > 0 {
				// The load average now at the history's end, following
				// the desk's load before.
				return math.Max(0, load1*(0.3+1.6*load)/(0.3+1.6*g.endLoad)+0.15*g.rng.NormFloat64())
			}
			return math.Max(0, 0.3+1.6*load+0.15*g.rng.NormFloat64())
		}},
		histSeries{node("node_memory_MemAvailable_bytes"), func(_ time.Time, _, load float64) float64 {
			// Used memory (total - available now) swings ±20 % with the
			// load, the used memory now at the end's load.
			used := (o.MemTotal - o.MemAvailable) * (0.8 + 0.4*load) / (0.8 + 0.4*g.endLoad) * (1 + 0.01*g.rng.NormFloat64())
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
		g.addHostCounters(node, counters, boot, now, hostRates(o.HostBefore, counters, now))
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
		load := deskLoad(t, g.o.End)
		ms := t.UnixMilli()
		for _, s := range g.series {
			if _, err := app.Append(0, s.lset, 0, ms, s.next(t, dt, load), nil, nil, storage.AOptions{}); err != nil {
				return n, ulid.ULID{}, fmt.Errorf("backfill %s at %s: %w", s.lset, t, err)
			}
			n++
		}
		for _, s := range g.native {
			if _, err := app.Append(0, s.lset, 0, ms, 0, s.next(t, dt, load), nil, storage.AOptions{}); err != nil {
				return n, ulid.ULID{}, fmt.Errorf("backfill %s at %s: %w", s.lset, t, err)
			}
			n++
		}
	}
	// The benchmark runs of the block's time (each series' in time order).
	for _, smp := range g.bench {
		if smp.T < from.UnixMilli() || smp.T >= to.UnixMilli() {
			continue
		}
		if _, err := app.Append(0, smp.Labels, 0, smp.T, smp.V, nil, nil, storage.AOptions{}); err != nil {
			return n, ulid.ULID{}, fmt.Errorf("backfill %s at %d: %w", smp.Labels, smp.T, err)
		}
		n++
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

// deskLoad is the desk's load at t as a share of its busiest hour: a desk
// trading round the clock (the live demo does), busiest at the US
// session's open and close (13:30 and 20:00 UTC), 0.8 of that between,
// 0.65 in the European morning, 0.45 at night, weekends at 0.45 of a
// weekday, ramping in and out over about an hour (no steps), and ~1%
// growth a week towards ref. The history's rates are the live desk's times
// deskLoad(t)/deskLoad(End): the old 0.08 nights and 0.15 weekends, taken
// as shares of the live rate, made Friday night's history 240/s against
// the live desk's 2.9k/s (t-user5 #6).
func deskLoad(t, ref time.Time) float64 {
	u := t.UTC()
	h := float64(u.Hour()) + float64(u.Minute())/60 + float64(u.Second())/3600
	l := interp(h, dayKnots)
	// Hours since Monday 00:00: the weekend ramps in from Friday 22:00 to
	// Saturday 02:00 and out from Sunday 22:00 to Monday 02:00.
	hw := float64((int(u.Weekday())+6)%7)*24 + h
	var weekend float64
	switch {
	case hw < 2:
		weekend = 1 - (hw+2)/4
	case hw >= 118 && hw < 122:
		weekend = (hw - 118) / 4
	case hw >= 122 && hw < 166:
		weekend = 1
	case hw >= 166:
		weekend = 1 - (hw-166)/4
	}
	l *= 1 - 0.55*weekend
	weeks := ref.Sub(t).Hours() / (24 * 7)
	return l * math.Pow(1.01, -weeks)
}

// dayKnots is a weekday's load by UTC hour, linear between the knots: the
// session's U (1 at the open and close, 0.8 at midday) and its ramps.
var dayKnots = [][2]float64{
	{0, 0.45}, {6.5, 0.45}, {7.5, 0.65}, {13, 0.65}, {13.5, 1}, {14.5, 0.87}, {15.5, 0.81}, {16.75, 0.8},
	{18, 0.81}, {19, 0.87}, {20, 1}, {20.75, 0.45}, {24, 0.45},
}

// interp is the piecewise-linear function through knots (sorted by x) at x.
func interp(x float64, knots [][2]float64) float64 {
	for i := 1; i < len(knots); i++ {
		if x <= knots[i][0] {
			a, b := knots[i-1], knots[i]
			return a[1] + (b[1]-a[1])*(x-a[0])/(b[0]-a[0])
		}
	}
	return knots[len(knots)-1][1]
}

func normCDF(x float64) float64 { return 0.5 * math.Erfc(-x/math.Sqrt2) }
