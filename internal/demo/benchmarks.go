package demo

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/gmc-dev/gmc/internal/bench"
)

// Names of the in-process benchmarks RegisterBenchmarks offers to the
// benchmark runner's func kind (the names examples/bench uses).
const (
	FuncPlaceOrder = "matching-engine/place-order"
	FuncBacktest   = "backtest/replay-day"
	FuncPlayback   = "marketdata/playback"
	// FuncDBStandIn is an in-process stand-in for the DB query latency
	// benchmark, used when no PostgreSQL is given: a lookup of an account's
	// open orders in an in-memory index. It is not a database.
	FuncDBStandIn = "db/open-orders-standin"
)

// Names of the four standard benchmarks in the demo's suite.
const (
	BenchMatchingTPS = "matching-engine-tps"
	BenchBacktest    = "backtest-throughput"
	BenchPlayback    = "marketdata-playback"
	BenchDBQuery     = "db-query-latency"
	// BenchDBStandIn replaces BenchDBQuery when there is no PostgreSQL.
	BenchDBStandIn = "db-query-latency-standin"
	// BenchGatewayLatency is the order gateway latency over HTTP (the http
	// half of examples/bench/matching-engine-tps.yml).
	BenchGatewayLatency = "order-gateway-latency"
)

// RegisterBenchmarks registers the demo's in-process benchmarks in reg:
// place-order on a fresh book (TPS), a day of bars through the backtest
// (days/s, with bars/op), one market-data message played back (messages/s)
// and the DB stand-in (queries/s).
func RegisterBenchmarks(reg *bench.Registry) error {
	funcs := map[string]bench.Func{
		FuncPlaceOrder: func(b *bench.B) {
			orders := orderStream(1, 1<<16)
			pb := newPlaceBench()
			fills := 0
			b.ResetTimer()
			for i := range b.N {
				fills += pb.place(orders[i&(len(orders)-1)])
			}
			b.ReportMetric(float64(fills)/float64(b.N), "fills/op")
		},
		FuncBacktest: func(b *bench.B) {
			day := dayOfBars(3)
			b.ResetTimer()
			for range b.N {
				replayDay(day)
			}
			b.ReportMetric(barsPerDay, "bars/op")
		},
		FuncPlayback: func(b *bench.B) {
			p := &player{rec: recording(5, 1<<16)}
			b.ResetTimer()
			for range b.N {
				p.next()
			}
		},
		FuncDBStandIn: func(b *bench.B) {
			idx := newOpenOrders(7, 64, 10000)
			rows := make([]openOrder, 0, 10)
			b.ResetTimer()
			for i := range b.N {
				rows = idx.top(uint32(i%64), rows[:0])
			}
		},
	}
	for _, name := range slices.Sorted(maps.Keys(funcs)) {
		if err := reg.Register(name, funcs[name]); err != nil {
			return fmt.Errorf("register demo benchmarks: %w", err)
		}
	}
	return nil
}

// Benchmarks is the demo's suite of the four standard benchmarks, each run
// every `every`: matching-engine TPS, backtest throughput and market-data
// playback speed in-process, and DB query latency — against PostgreSQL at
// pgDSN (sql kind) when it is set, else the in-process stand-in, named
// BenchDBStandIn and labelled standin="true" so no one mistakes it for a
// database figure. When gatewayURL (Demo.GatewayURL) is set, the suite
// also loads the order gateway's HTTP front at a modest constant rate
// (500 orders/s for 5s after 1s of warm-up, latency corrected for
// coordinated omission): BenchGatewayLatency.
func Benchmarks(every time.Duration, pgDSN, gatewayURL string) []bench.Benchmark {
	sched := bench.Schedule{Every: bench.Duration(every)}
	fn := func(name, service, f string) bench.Benchmark {
		return bench.Benchmark{
			Name: name, Kind: bench.KindFunc, Schedule: sched,
			Labels: map[string]string{"service": service},
			Func:   &bench.FuncConfig{Name: f, Benchtime: bench.Duration(200 * time.Millisecond), Count: 6},
		}
	}
	suite := []bench.Benchmark{
		fn(BenchMatchingTPS, ServiceEngine, FuncPlaceOrder),
		fn(BenchBacktest, ServiceBacktester, FuncBacktest),
		fn(BenchPlayback, ServiceMarketData, FuncPlayback),
	}
	if pgDSN != "" {
		suite = append(suite, bench.Benchmark{
			Name: BenchDBQuery, Kind: bench.KindSQL, Schedule: sched,
			Labels: map[string]string{"service": "postgresql"},
			SQL: &bench.SQLConfig{
				Driver: "pgx", DSN: pgDSN,
				Query:      "SELECT relname, relpages FROM pg_class WHERE relkind = $1 ORDER BY relpages DESC LIMIT 10",
				Args:       []any{"r"},
				Iterations: 600, Warmup: 50, Connections: 2, Samples: 6, Quantile: 0.99,
			},
		})
	} else {
		b := fn(BenchDBStandIn, "db-standin", FuncDBStandIn)
		b.Labels["standin"] = "true"
		suite = append(suite, b)
	}
	if gatewayURL != "" {
		suite = append(suite, bench.Benchmark{
			Name: BenchGatewayLatency, Kind: bench.KindHTTP, Schedule: sched,
			Labels: map[string]string{"service": ServiceGateway},
			HTTP: &bench.HTTPConfig{
				URL: gatewayURL, Method: "POST", Body: GatewayBenchBody,
				Headers: map[string]string{"Content-Type": "application/json"},
				Rate:    500, Duration: bench.Duration(5 * time.Second), Warmup: bench.Duration(time.Second),
				// 6 windows: the fewest a verdict needs (bench.MinSamples);
				// with 5 the benchmark could never get one.
				Connections: 8, Timeout: bench.Duration(5 * time.Second), Samples: bench.MinSamples, Quantile: 0.99,
			},
		})
	}
	return suite
}

// openOrder is a row of the stand-in's open-orders table.
type openOrder struct {
	id      uint64
	account uint32
	price   int64
	qty     int64
}

// openOrders is the DB stand-in: open orders indexed by account, each
// account's rows sorted by price descending, as an index on
// (account, price DESC) would serve "the 10 best open orders of account X".
type openOrders struct {
	byAccount [][]openOrder
}

func newOpenOrders(seed uint64, accounts, rows int) *openOrders {
	rng := rand.New(rand.NewPCG(seed, 13))
	o := &openOrders{byAccount: make([][]openOrder, accounts)}
	for i := range rows {
		a := uint32(rng.IntN(accounts))
		o.byAccount[a] = append(o.byAccount[a], openOrder{id: uint64(i), account: a, price: 9900 + int64(rng.IntN(200)), qty: 1 + int64(rng.IntN(100))})
	}
	for _, rs := range o.byAccount {
		slices.SortFunc(rs, func(x, y openOrder) int { return int(y.price - x.price) })
	}
	return o
}

// top appends the 10 highest-priced open orders of account to dst.
func (o *openOrders) top(account uint32, dst []openOrder) []openOrder {
	rs := o.byAccount[int(account)%len(o.byAccount)]
	return append(dst, rs[:min(10, len(rs))]...)
}
