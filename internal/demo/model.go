package demo

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"sync"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/gmc-dev/gmc/sdk"
)

// The live desk's model, shared by its services and by the history
// writer (Backfill): which latency each service measures, under which
// family name, at what rate, and (LiveModel) its distribution as the live
// services measure it on this machine. The history's latencies were a
// table fitted once to another machine's live run (the gateway's p99 was
// 1.4x the live desk's at the join, t-user7) and it lacked the families
// added to the live services since (cancel, feed, replay-day).

// Latency families: a service's order latency is its name; a request
// latency "service/endpoint"; the market-data feed's lateness feedFamily.
func orderFamily(svc string) string             { return svc }
func requestFamily(svc, endpoint string) string { return svc + "/" + endpoint }

const feedFamily = ServiceMarketData + "/feed"

// Request endpoints the live services time (gmc_request_latency_seconds).
const (
	endpointCancel    = "cancel"     // order-gateway: a strategy's cancel, through the engine
	endpointBatch     = "batch"      // market-data: decoding and applying one feedTick's messages
	endpointReplayDay = "replay-day" // backtester: one day of bars through the strategy
)

// latencyModel is a latency distribution the history draws from.
type latencyModel interface {
	// cdf is the share of latencies at most x (s) when all are scaled by k.
	cdf(x, k float64) float64
	// mean is the mean latency when all are scaled by k.
	mean(k float64) float64
	// bounds are the (unscaled) latencies outside which fewer than half
	// an observation of n lies.
	bounds(n float64) (lo, hi float64)
}

var (
	_ latencyModel = latencyShape{}
	_ latencyModel = (*measured)(nil)
)

// LiveModel is the live desk's latency distributions as its services
// measured them on this machine (Calibrate), by family: the history's
// latencies are drawn from them, so its end joins the live desk's start.
type LiveModel struct {
	latency map[string]latencyModel
	// counts are the requests (by requestFamily) and orders (by
	// orderFamily) each service counted; observed the latencies each
	// family measured.
	counts, observed map[string]float64
	// Took is how long the services ran.
	Took time.Duration
}

// rate is how many requests or orders of family the live desk handled a
// second (its services' counters over Took), 0 when unknown.
func (m *LiveModel) rate(family string) float64 {
	if m == nil || m.Took <= 0 {
		return 0
	}
	return m.counts[family] / m.Took.Seconds()
}

// observedRate is how many latencies of family the live desk measured a
// second, 0 when unknown.
func (m *LiveModel) observedRate(family string) float64 {
	if m == nil || m.Took <= 0 {
		return 0
	}
	return m.observed[family] / m.Took.Seconds()
}

// perSecond is the live desk's rate of family on this machine when
// measured, else nominal (the configured rate: on a busy machine the
// live desk falls short of it, 2,825 of 3,000 orders/s at load 20, and
// its feed ticker drops ticks, 47 of 100 batches/s).
func (m *LiveModel) perSecond(family string, nominal float64) float64 {
	if r := m.rate(family); r > 0 {
		return r
	}
	return nominal
}

// model is the distribution of family: measured when m has it, else the
// fitted stand-in (fittedLatency).
func (m *LiveModel) model(family string) latencyModel {
	if m != nil {
		if d, ok := m.latency[family]; ok {
			return d
		}
	}
	if s, ok := fittedLatency[family]; ok {
		return s
	}
	return fittedLatency["strategy"]
}

// Calibrate runs the live desk's services in-process for d, as `gmc demo`
// runs them but unconnected (nothing pushed or served) and without
// incidents, and returns the latency distributions they measured: the
// native histograms of each service's registry.
func Calibrate(ctx context.Context, d time.Duration, seed int64) (*LiveModel, error) {
	dm, err := New(Options{GMCURL: "http://127.0.0.1:1", Seed: seed, IncidentEvery: -1})
	if err != nil {
		return nil, fmt.Errorf("calibrate: %w", err)
	}
	rctx, cancel := context.WithTimeout(ctx, d)
	var wg sync.WaitGroup
	started := time.Now()
	for _, f := range dm.work() {
		wg.Go(func() { f(rctx) })
	}
	wg.Wait()
	cancel()
	took := time.Since(started)
	if err := dm.closeAll(nil); err != nil {
		return nil, fmt.Errorf("calibrate: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("calibrate: %w", err)
	}
	m := &LiveModel{latency: map[string]latencyModel{}, counts: map[string]float64{}, observed: map[string]float64{}, Took: took}
	for _, s := range dm.services {
		mfs, err := s.reg.Gather()
		if err != nil {
			return nil, fmt.Errorf("calibrate: gather %s: %w", s.name, err)
		}
		for _, mf := range mfs {
			for _, x := range mf.GetMetric() {
				var family string
				switch mf.GetName() {
				case sdk.MetricOrders:
					m.counts[orderFamily(s.name)] += x.GetCounter().GetValue()
					continue
				case sdk.MetricRequests:
					m.counts[requestFamily(s.name, labelOf(x, "endpoint"))] += x.GetCounter().GetValue()
					continue
				case feedGapsMetric:
					m.counts[requestFamily(s.name, "gaps")] += x.GetCounter().GetValue()
					continue
				case sdk.MetricOrderLatency:
					family = orderFamily(s.name)
				case sdk.MetricRequestLatency:
					family = requestFamily(s.name, labelOf(x, "endpoint"))
				case feedLatencyMetric:
					family = feedFamily
				default:
					continue
				}
				if h := fromNative(x.GetHistogram()); h != nil {
					m.latency[family] = h
					m.observed[family] = float64(x.GetHistogram().GetSampleCount())
				}
			}
		}
	}
	if len(m.latency) == 0 {
		return nil, errors.New("calibrate: the services measured no latency")
	}
	return m, nil
}

func labelOf(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// measured is a latency distribution as a native histogram measured it:
// its buckets' bounds and the share of latencies up to each, log-linear
// within a bucket.
type measured struct {
	lo, hi []float64 // each bucket's bounds (s)
	cum    []float64 // the share of latencies at most hi[i]
	zero   float64   // the share in the zero bucket
	avg    float64
}

// fromNative reads a native histogram; nil when it has no observations.
func fromNative(h *dto.Histogram) *measured {
	n := float64(h.GetSampleCount())
	if h == nil || n == 0 || h.Schema == nil {
		return nil
	}
	f := math.Exp2(math.Exp2(-float64(h.GetSchema())))
	m := &measured{zero: float64(h.GetZeroCount()) / n, avg: h.GetSampleSum() / n}
	c := float64(h.GetZeroCount())
	var i int32
	var count int64
	k := 0
	for _, sp := range h.GetPositiveSpan() {
		i += sp.GetOffset()
		for range sp.GetLength() {
			count += h.GetPositiveDelta()[k]
			k++
			if count > 0 {
				up := math.Pow(f, float64(i))
				c += float64(count)
				m.lo, m.hi, m.cum = append(m.lo, up/f), append(m.hi, up), append(m.cum, c/n)
			}
			i++
		}
	}
	if len(m.hi) == 0 {
		return nil
	}
	return m
}

func (m *measured) cdf(x, k float64) float64 {
	y := x / k
	i := sort.SearchFloat64s(m.hi, y) // the first bucket with hi ≥ y
	if i == len(m.hi) {
		return 1
	}
	before := m.zero
	if i > 0 {
		before = m.cum[i-1]
	}
	if y <= m.lo[i] {
		return before
	}
	return before + (m.cum[i]-before)*math.Log(y/m.lo[i])/math.Log(m.hi[i]/m.lo[i])
}

func (m *measured) mean(k float64) float64 { return k * m.avg }

func (m *measured) bounds(float64) (lo, hi float64) { return m.lo[0], m.hi[len(m.hi)-1] }

// quantile is the latency below which a share q lies (log-linear within
// a bucket), for tests.
func (m *measured) quantile(q float64) float64 {
	i := sort.SearchFloat64s(m.cum, q)
	if i == len(m.cum) {
		return m.hi[len(m.hi)-1]
	}
	before := m.zero
	if i > 0 {
		before = m.cum[i-1]
	}
	if m.cum[i] == before {
		return m.hi[i]
	}
	return m.lo[i] * math.Pow(m.hi[i]/m.lo[i], (q-before)/(m.cum[i]-before))
}
