package demo

import (
	"context"
	"encoding/binary"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// A recorded market-data message: a trade or a quote update of one
// instrument, in a fixed 24-byte little-endian layout as a feed handler
// reads it from a capture file.
const msgSize = 24

// recording is a capture of n market-data messages: a mean-reverting walk
// of the price around 10000 ticks.
func recording(seed uint64, n int) []byte {
	rng := rand.New(rand.NewPCG(seed, 7))
	buf := make([]byte, n*msgSize)
	price := int64(10000)
	for i := range n {
		price += int64(rng.IntN(3)) - 1 + (10000-price)/200
		m := buf[i*msgSize:]
		binary.LittleEndian.PutUint64(m[0:], uint64(i))
		binary.LittleEndian.PutUint64(m[8:], uint64(price))
		binary.LittleEndian.PutUint32(m[16:], uint32(1+rng.IntN(100)))
		m[20] = byte(1 + rng.IntN(2)) // side
		m[21] = byte(rng.IntN(2))     // 0 quote, 1 trade
	}
	return buf
}

// player replays a recording message by message.
type player struct {
	rec      []byte
	pos      int
	seq      uint64
	mid      int64
	volume   int64
	gaps     int64
	trades   int64
	lastSeen uint64
}

// next decodes and applies one message: sequence check, mid price, volume.
func (p *player) next() {
	if p.pos+msgSize > len(p.rec) {
		p.pos = 0
	}
	m := p.rec[p.pos : p.pos+msgSize]
	p.pos += msgSize
	seq := binary.LittleEndian.Uint64(m[0:])
	if seq != 0 && seq != p.lastSeen+1 {
		p.gaps++
	}
	p.lastSeen = seq
	p.mid = int64(binary.LittleEndian.Uint64(m[8:]))
	if m[21] == 1 {
		p.trades++
		p.volume += int64(binary.LittleEndian.Uint32(m[16:]))
	}
	p.seq++
}

// marketData is the market-data playback service: it replays a recording at
// a steady rate, publishes the mid price the strategies quote around, and
// counts messages in gmc_requests_total{endpoint="message"} (rate() is
// messages/s). gmc scrapes it: it serves /metrics instead of pushing.
//
// Its feed health: gmc_feed_gaps_total counts sequence gaps in the feed and
// gmc_feed_latency_seconds is how late each batch is applied after it was
// due (the playback's clock: scheduling delay plus decoding).
type marketData struct {
	svc  *service
	rate int
	mid  *atomic.Int64
	rec  []byte

	gaps    prometheus.Counter
	latency prometheus.Histogram
	// stall is how long each batch takes beyond its work: a machine too
	// busy to keep up (tests).
	stall time.Duration
}

func newMarketData(svc *service, rate int, mid *atomic.Int64, rec []byte) *marketData {
	f := promauto.With(svc.reg)
	return &marketData{
		svc: svc, rate: rate, mid: mid, rec: rec,
		gaps: f.NewCounter(prometheus.CounterOpts{Name: feedGapsMetric, Help: "Sequence gaps seen in the market-data feed."}),
		latency: f.NewHistogram(prometheus.HistogramOpts{
			Name: feedLatencyMetric, Help: "How late a market-data batch is applied after it was due.",
			Buckets: feedLatencyBuckets(), NativeHistogramBucketFactor: 1.1,
		}),
	}
}

// The feed's metrics (also in the history, model.go).
const (
	feedGapsMetric    = "gmc_feed_gaps_total"
	feedLatencyMetric = "gmc_feed_latency_seconds"
)

// feedTick is the playback's batch interval.
const feedTick = 10 * time.Millisecond

// feedResync is how late a batch may be, at most, on a machine too busy to
// keep up: the buckets reach past it (a ticker stalled longer reads > it).
const feedResync = time.Second

// feedLatencyBuckets are the classic buckets of gmc_feed_latency_seconds:
// 10 µs doubling up to 2.6 s, past the lateness the playback can reach
// (feedResync plus a tick). They ended at 81.9 ms, below what a busy
// machine made it, so every quantile read "> 81.9 ms".
func feedLatencyBuckets() []float64 {
	return prometheus.ExponentialBuckets(10e-6, 2, 19)
}

func (md *marketData) run(ctx context.Context) {
	const tick = feedTick
	pace := &pacer{rate: float64(md.rate)}
	p := &player{rec: md.rec}
	msgs := md.svc.m.Requests.WithLabelValues("message")
	// A batch is due when its tick fires (due): its lateness is how long
	// after that it is applied. The ticker keeps one tick while a batch
	// runs long and drops the rest, whose messages the next batch applies
	// (the pacer), so a slow batch makes the next one late by its own
	// delay, once. (The playback's clock was a due time advanced a tick a
	// batch: every dropped tick put it a tick further behind, until it
	// resynced a second later, so a busy machine read a 0-1 s sawtooth,
	// median 0.47 s at load 15, for a feed at most a few ticks behind.)
	md.svc.everyAt(ctx, tick, func(due time.Time) {
		start := time.Now()
		gaps := p.gaps
		n := pace.owed(start)
		for range n {
			p.next()
		}
		if md.stall > 0 {
			time.Sleep(md.stall)
		}
		md.mid.Store(p.mid)
		msgs.Add(float64(n))
		md.gaps.Add(float64(p.gaps - gaps))
		md.svc.m.RequestLatency.WithLabelValues(endpointBatch).Observe(time.Since(start).Seconds())
		md.latency.Observe(max(0, time.Since(due).Seconds()))
	})
}
