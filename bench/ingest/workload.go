package main

import (
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
)

// The workload of /work/shared/BASELINES.md: series with 10 labels in the
// shape of a trading system, 40% counters and 60% noisy gauges, one sample
// per series per round, rounds 1 s apart in sample time.

// metricKind says how a metric's values move from round to round.
type metricKind int

const (
	kindCounter  metricKind = iota // integer counter, strictly increasing
	kindLatency                    // integer microseconds around a per-series mean
	kindPnL                        // dollars with cents, noisy around a per-series level
	kindNotional                   // arbitrary float, ±10% around a per-series level
	kindDepth                      // small integer queue depth
)

// metrics are the 10 metric names; series s has metric s%10, so 4 in 10
// series are counters and 6 in 10 are gauges.
var metrics = [10]struct {
	name string
	kind metricKind
}{
	{"trading_orders_sent_total", kindCounter},
	{"trading_fills_total", kindCounter},
	{"trading_order_rejects_total", kindCounter},
	{"marketdata_messages_received_total", kindCounter},
	{"order_latency_us", kindLatency},
	{"marketdata_feed_lag_us", kindLatency},
	{"strategy_pnl_usd", kindPnL},
	{"position_notional_usd", kindNotional},
	{"order_queue_depth", kindDepth},
	{"risk_exposure_usd", kindNotional},
}

var (
	services = [20]string{
		"matching-engine", "order-gateway", "risk-engine", "position-keeper", "md-feed-handler",
		"md-normalizer", "smart-order-router", "fix-gateway", "drop-copy", "pnl-calculator",
		"margin-service", "pricing-engine", "hedger", "market-maker", "stat-arb",
		"execution-algo", "reference-data", "settlement", "audit-log", "clearing-bridge",
	}
	venues     = [8]string{"XNAS", "XNYS", "BATS", "ARCX", "IEXG", "XCME", "BINANCE", "COINBASE"}
	strategies = [12]string{
		"mm-tight", "mm-wide", "momentum-1m", "momentum-5m", "mean-rev", "pairs",
		"basis", "funding-arb", "twap", "vwap", "pov", "iceberg",
	}
	regions = [3]string{"us-east-1", "eu-west-1", "ap-northeast-1"}
	bases   = [25]string{
		"BTC", "ETH", "SOL", "XRP", "ADA", "DOGE", "AVAX", "DOT", "LINK", "MATIC", "LTC", "BCH", "ATOM",
		"AAPL", "MSFT", "NVDA", "AMZN", "GOOG", "META", "TSLA", "JPM", "ES", "NQ", "CL", "GC",
	}
	quotes = [20]string{
		"USD", "USDT", "USDC", "EUR", "GBP", "JPY", "BTC", "ETH", "CHF", "AUD",
		"CAD", "HKD", "SGD", "KRW", "F25", "G25", "H25", "M25", "U25", "Z25",
	}
)

// seriesLabels returns the sorted label pairs of series s. Series are unique:
// (service, symbol, account) is a one-to-one function of s/10.
func seriesLabels(s int) [][2]string {
	k := s / 10
	svc := k % len(services)
	rest := k / len(services)
	sym := rest % (len(bases) * len(quotes))
	return [][2]string{
		{"__name__", metrics[s%10].name},
		{"account", "acct-" + strconv.Itoa(rest/(len(bases)*len(quotes)))},
		{"env", "prod"},
		{"instance", services[svc] + "-" + strconv.Itoa(rest%4) + ":9100"},
		{"job", services[svc]},
		{"region", regions[svc%len(regions)]},
		{"service", services[svc]},
		{"strategy", strategies[(rest/7)%len(strategies)]},
		{"symbol", bases[sym%len(bases)] + "-" + quotes[sym/len(bases)]},
		{"venue", venues[rest%len(venues)]},
	}
}

// mix is splitmix64's finaliser: a cheap, well-spread hash.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// sampleValue is the value of series s in round r: stateless, so any sender
// can compute it in a few nanoseconds, and deterministic, so every target
// receives the same bytes.
func sampleValue(s, r int) float64 {
	p := mix(uint64(s) + 0x9e3779b97f4a7c15)         // per-series parameters
	h := mix(uint64(s)<<32 ^ uint64(r) ^ 0x5bd1e995) // per-sample noise
	switch metrics[s%10].kind {
	case kindCounter:
		step := 1 + p%200 // increments per second; the jitter stays below step so it only increases
		return float64((p>>8)%1_000_000 + uint64(r)*step + h%step)
	case kindLatency:
		mean := 50 + p%2000
		return float64(mean - mean/4 + h%(mean/2+1))
	case kindPnL:
		level := float64(int64(p%2_000_000) - 1_000_000)
		return level + float64(int64(h%1_000_000)-500_000)/100
	case kindNotional:
		level := float64(1_000 + p%10_000_000)
		return level * (1 + (float64(h%2000)-1000)/10_000)
	default:
		return float64(h % 64)
	}
}

// tsLen is the encoded length of every timestamp varint: millisecond
// timestamps between 2^35 (1971) and 2^42 (2109) take 6 bytes, which keeps
// the request layout fixed while timestamps advance.
const tsLen = 6

// template is one request of a sender's repeating cycle: a compressed
// remote-write body whose sample values and timestamps are patched in place
// before each send.
type template struct {
	block    []byte  // snappy block of a prompb.WriteRequest
	series   []int32 // series index of each sample slot
	round    []int32 // round of each slot, relative to the cycle's first round
	valuePos []int32 // offset in block of each slot's 8 value bytes
	tsPos    []int32 // offset in block of each slot's 6 timestamp bytes
}

// shard is the stream of one sender: it owns a fixed set of series, so their
// samples are always sent in order by one goroutine. The stream is round 0
// of every owned series, then round 1, and so on, cut into requests of batch
// samples; a request may therefore span two rounds (and hold two samples of
// a series) when the shard is not a multiple of batch, as Prometheus's own
// remote-write queues do.
type shard struct {
	templates      []*template
	series         int // series owned
	roundsPerCycle int // rounds covered by one pass over templates
}

// maxTemplates bounds the memory a shard's cycle may take.
const maxTemplates = 256

// newShard builds the request templates for the series [first, first+n),
// in remote-write 1.0 (proto 1) or 2.0 (proto 2).
func newShard(first, n, batch, proto int) (*shard, error) {
	l := lcm(n, batch)
	if l/batch > maxTemplates {
		return nil, fmt.Errorf("build shard of %d series: a cycle would need %d requests of %d samples (max %d); choose a series count whose share per sender is a multiple or divisor of the batch size", n, l/batch, batch, maxTemplates)
	}
	sh := &shard{series: n, roundsPerCycle: l / n}
	labels := make([][][2]string, n)
	for i := range labels {
		labels[i] = seriesLabels(first + i)
	}
	for t := 0; t < l/batch; t++ {
		var doc []byte
		var volatile []bool
		tp := &template{}
		var valueDoc, tsDoc []int
		var syms *symbols
		if proto == 2 {
			syms = newSymbols()
			for p := t * batch; p < (t+1)*batch; p++ {
				syms.add(labels[p%n])
			}
			doc = syms.appendTo(doc)
		}
		for p := t * batch; p < (t+1)*batch; p++ {
			i := p % n
			if proto == 2 {
				doc = appendTimeSeriesV2(doc, syms.refs(labels[i]), &valueDoc, &tsDoc)
			} else {
				doc = appendTimeSeries(doc, labels[i], &valueDoc, &tsDoc, 0)
			}
			tp.series = append(tp.series, int32(first+i))
			tp.round = append(tp.round, int32(p/n))
		}
		volatile = make([]bool, len(doc))
		for _, o := range valueDoc {
			for j := o; j < o+8; j++ {
				volatile[j] = true
			}
		}
		for _, o := range tsDoc {
			for j := o; j < o+tsLen; j++ {
				volatile[j] = true
			}
		}
		block, pos := encodeSnappyPatchable(doc, volatile)
		tp.block = block
		for k := range valueDoc {
			vp, tpos := pos[valueDoc[k]], pos[tsDoc[k]]
			if vp < 0 || pos[valueDoc[k]+7] != vp+7 || tpos < 0 || pos[tsDoc[k]+tsLen-1] != tpos+tsLen-1 {
				return nil, fmt.Errorf("build shard template %d: sample %d not in a literal", t, k)
			}
			tp.valuePos = append(tp.valuePos, vp)
			tp.tsPos = append(tp.tsPos, tpos)
		}
		sh.templates = append(sh.templates, tp)
	}
	return sh, nil
}

// appendTimeSeries appends one WriteRequest.timeseries entry (field 1) with
// the given labels and one sample whose value and timestamp are placeholders;
// it records the offsets (relative to base) of the value and timestamp bytes.
func appendTimeSeries(b []byte, labels [][2]string, valueOff, tsOff *[]int, base int) []byte {
	var ts []byte
	for _, l := range labels {
		ts = append(ts, 0x0a) // TimeSeries.labels
		ts = binary.AppendUvarint(ts, uint64(2+len(l[0])+uvarintLen(len(l[0]))+len(l[1])+uvarintLen(len(l[1]))))
		ts = append(ts, 0x0a) // Label.name
		ts = binary.AppendUvarint(ts, uint64(len(l[0])))
		ts = append(ts, l[0]...)
		ts = append(ts, 0x12) // Label.value
		ts = binary.AppendUvarint(ts, uint64(len(l[1])))
		ts = append(ts, l[1]...)
	}
	ts = append(ts, 0x12, 1+8+1+tsLen) // TimeSeries.samples
	ts = append(ts, 0x09)              // Sample.value, fixed64
	valueAt := len(ts)
	ts = append(ts, make([]byte, 8)...)
	ts = append(ts, 0x10) // Sample.timestamp, varint
	tsAt := len(ts)
	ts = append(ts, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01) // a 6-byte varint placeholder (2^35)

	b = append(b, 0x0a) // WriteRequest.timeseries
	b = binary.AppendUvarint(b, uint64(len(ts)))
	head := len(b)
	b = append(b, ts...)
	*valueOff = append(*valueOff, base+head+valueAt)
	*tsOff = append(*tsOff, base+head+tsAt)
	return b
}

// symbols is the symbol table of one remote-write 2.0 request: every label
// name and value once, "" first as the spec requires.
type symbols struct {
	list []string
	ref  map[string]uint32
}

func newSymbols() *symbols { return &symbols{list: []string{""}, ref: map[string]uint32{"": 0}} }

func (s *symbols) add(labels [][2]string) {
	for _, l := range labels {
		for _, v := range l {
			if _, ok := s.ref[v]; !ok {
				s.ref[v] = uint32(len(s.list))
				s.list = append(s.list, v)
			}
		}
	}
}

// refs returns the labels_refs of labels (name, value, name, value, …).
func (s *symbols) refs(labels [][2]string) []uint32 {
	out := make([]uint32, 0, 2*len(labels))
	for _, l := range labels {
		out = append(out, s.ref[l[0]], s.ref[l[1]])
	}
	return out
}

// appendTo appends the table as Request.symbols (field 4).
func (s *symbols) appendTo(b []byte) []byte {
	for _, v := range s.list {
		b = append(b, 0x22)
		b = binary.AppendUvarint(b, uint64(len(v)))
		b = append(b, v...)
	}
	return b
}

// appendTimeSeriesV2 appends one io.prometheus.write.v2.Request.timeseries
// entry (field 5) with the given labels_refs and one sample laid out as in
// appendTimeSeries (Sample.value and Sample.timestamp have the same field
// numbers in 2.0); it records the offsets of the value and timestamp bytes.
func appendTimeSeriesV2(b []byte, refs []uint32, valueOff, tsOff *[]int) []byte {
	var packed []byte
	for _, r := range refs {
		packed = binary.AppendUvarint(packed, uint64(r))
	}
	var ts []byte
	ts = append(ts, 0x0a) // TimeSeries.labels_refs, packed
	ts = binary.AppendUvarint(ts, uint64(len(packed)))
	ts = append(ts, packed...)
	ts = append(ts, 0x12, 1+8+1+tsLen) // TimeSeries.samples
	ts = append(ts, 0x09)              // Sample.value, fixed64
	valueAt := len(ts)
	ts = append(ts, make([]byte, 8)...)
	ts = append(ts, 0x10) // Sample.timestamp, varint
	tsAt := len(ts)
	ts = append(ts, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01)

	b = append(b, 0x2a) // Request.timeseries
	b = binary.AppendUvarint(b, uint64(len(ts)))
	head := len(b)
	b = append(b, ts...)
	*valueOff = append(*valueOff, head+valueAt)
	*tsOff = append(*tsOff, head+tsAt)
	return b
}

// patch writes the values and timestamps of the given cycle into the
// template in place and returns the body to send. startMs is the timestamp of
// round 0.
func (tp *template) patch(cycle, roundsPerCycle int, startMs int64) []byte {
	var tsBuf [tsLen]byte
	lastRound := int32(-1)
	for k, s := range tp.series {
		r := tp.round[k]
		if r != lastRound {
			putTimestamp(tsBuf[:], startMs+int64(cycle*roundsPerCycle+int(r))*1000)
			lastRound = r
		}
		binary.LittleEndian.PutUint64(tp.block[tp.valuePos[k]:], math.Float64bits(sampleValue(int(s), cycle*roundsPerCycle+int(r))))
		copy(tp.block[tp.tsPos[k]:], tsBuf[:])
	}
	return tp.block
}

// putTimestamp writes ms as a 6-byte varint; valid for 2^35 ≤ ms < 2^42.
func putTimestamp(b []byte, ms int64) {
	for i := 0; i < tsLen-1; i++ {
		b[i] = byte(ms) | 0x80
		ms >>= 7
	}
	b[tsLen-1] = byte(ms)
}

func uvarintLen(x int) int {
	n := 1
	for x >= 0x80 {
		x >>= 7
		n++
	}
	return n
}

func lcm(a, b int) int {
	x, y := a, b
	for y != 0 {
		x, y = y, x%y
	}
	return a / x * b
}
