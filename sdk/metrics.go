package sdk

import (
	"errors"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metric names of the SDK. They are a stable contract: gmc's SLAs, alerts and
// dashboards are written against them.
const (
	MetricOrderLatency   = "gmc_order_latency_seconds"
	MetricRequestLatency = "gmc_request_latency_seconds"
	MetricRequests       = "gmc_requests_total"
	MetricOrders         = "gmc_orders_total"
	MetricPnL            = "gmc_pnl"
	MetricRiskExposure   = "gmc_risk_exposure"
	MetricRiskLimit      = "gmc_risk_limit"
	MetricAccountInfo    = "gmc_account_info"
)

// Result is the outcome of an order, the value of the result label of gmc_orders_total.
type Result string

// Order results.
const (
	ResultSuccess Result = "success" // accepted / acknowledged / filled as asked
	ResultReject  Result = "reject"  // refused by a rule: risk check, venue, validation
	ResultError   Result = "error"   // failed: timeout, crash, lost connection
)

// Exposure kinds, the value of the kind label of gmc_risk_exposure.
const (
	ExposureGross = "gross"
	ExposureNet   = "net"
)

// StageEntry is the MetricsOptions.Stage of the service where orders enter
// the desk (an order gateway).
const StageEntry = "entry"

// Account modes, the value of the mode label of gmc_account_info. The
// dashboard keeps backtest (and paper) PnL out of the desk's total.
const (
	AccountLive     = "live"
	AccountPaper    = "paper"
	AccountBacktest = "backtest"
)

// DefaultLatencyBucketFactor gives native histogram schema 5: 32 buckets per
// power of two, each at most 2.2% wider than the previous one, so a quantile
// read from the histogram is within ~2.2% of the observed one (about ±7 µs at
// 300 µs).
const DefaultLatencyBucketFactor = 1.03

// DefaultLatencyMaxBuckets bounds the native buckets of one latency
// histogram; beyond it client_golang halves the resolution rather than grow.
const DefaultLatencyMaxBuckets = 320

// DefaultLatencyBuckets are the classic buckets (seconds) kept beside the
// native ones, for tools that do not read native histograms: fine around the
// 100 µs–1 ms range of trading paths, coarse beyond.
func DefaultLatencyBuckets() []float64 {
	return []float64{
		10e-6, 25e-6, 50e-6, 75e-6, 100e-6, 150e-6, 200e-6, 250e-6, 300e-6, 350e-6, 400e-6, 450e-6,
		500e-6, 600e-6, 750e-6, 1e-3, 2.5e-3, 5e-3, 10e-3, 25e-3, 50e-3, 100e-3, 250e-3, 500e-3, 1,
	}
}

// MetricsOptions configure Metrics.
type MetricsOptions struct {
	// Service names the service; it becomes the service label of every metric.
	Service string
	// Stage, when set, becomes the stage label of every metric: StageEntry
	// marks the service where orders enter the desk, so the dashboard counts
	// the desk's orders there once (not again at every hop).
	Stage string
	// Registerer receives the metrics (a prometheus.NewRegistry() of your own,
	// which a Pusher gathers or Handler serves).
	Registerer prometheus.Registerer
	// LatencyBucketFactor of the native latency histograms;
	// DefaultLatencyBucketFactor when zero.
	LatencyBucketFactor float64
	// LatencyBuckets are the classic latency buckets (seconds);
	// DefaultLatencyBuckets() when nil.
	LatencyBuckets []float64
}

// Metrics are the standard metrics of a trading service, on client_golang.
// Its fields are the underlying collectors, for uses the methods do not cover.
type Metrics struct {
	// OrderLatency is gmc_order_latency_seconds: order receipt to
	// acknowledgement, native histogram (plus classic buckets).
	OrderLatency prometheus.Histogram
	// Orders is gmc_orders_total{result}: orders by result.
	Orders *prometheus.CounterVec
	// RequestLatency is gmc_request_latency_seconds{endpoint}: latency of any
	// other request the service serves.
	RequestLatency *prometheus.HistogramVec
	// Requests is gmc_requests_total{endpoint}: requests served; rate() is TPS.
	Requests *prometheus.CounterVec
	// PnL is gmc_pnl{account,strategy}: profit and loss in the account's currency.
	PnL *prometheus.GaugeVec
	// RiskExposure is gmc_risk_exposure{account,strategy,kind}: gross and net exposure.
	RiskExposure *prometheus.GaugeVec
	// RiskLimit is gmc_risk_limit{account,strategy,kind}: the limit on the
	// exposure of that kind (gross, or the absolute net), in the account's
	// currency; utilisation is exposure / limit.
	RiskLimit *prometheus.GaugeVec
	// AccountInfo is gmc_account_info{account,currency,mode} = 1: the
	// currency of the account's money figures (ISO 4217: USD, EUR …) and its
	// mode (live, paper or backtest).
	AccountInfo *prometheus.GaugeVec
}

// NewMetrics registers the metrics of one service on opts.Registerer.
func NewMetrics(opts MetricsOptions) (*Metrics, error) {
	if opts.Service == "" {
		return nil, errors.New("new metrics: Service is required")
	}
	if opts.Registerer == nil {
		return nil, errors.New("new metrics: Registerer is required")
	}
	if opts.LatencyBucketFactor == 0 {
		opts.LatencyBucketFactor = DefaultLatencyBucketFactor
	}
	if opts.LatencyBucketFactor <= 1 {
		return nil, errors.New("new metrics: LatencyBucketFactor must be greater than 1")
	}
	if opts.LatencyBuckets == nil {
		opts.LatencyBuckets = DefaultLatencyBuckets()
	}
	constLabels := prometheus.Labels{"service": opts.Service}
	if opts.Stage != "" {
		constLabels["stage"] = opts.Stage
	}
	reg := prometheus.WrapRegistererWith(constLabels, opts.Registerer)
	f := promauto.With(nil)
	latency := func(name, help string) prometheus.HistogramOpts {
		return prometheus.HistogramOpts{
			Name:                            name,
			Help:                            help,
			Buckets:                         opts.LatencyBuckets,
			NativeHistogramBucketFactor:     opts.LatencyBucketFactor,
			NativeHistogramMaxBucketNumber:  DefaultLatencyMaxBuckets,
			NativeHistogramMinResetDuration: 0,
		}
	}
	m := &Metrics{
		OrderLatency: f.NewHistogram(latency(MetricOrderLatency,
			"Order latency in seconds, from receipt to acknowledgement.")),
		Orders: f.NewCounterVec(prometheus.CounterOpts{
			Name: MetricOrders, Help: "Orders handled, by result: success, reject, error.",
		}, []string{"result"}),
		RequestLatency: f.NewHistogramVec(latency(MetricRequestLatency,
			"Request latency in seconds, by endpoint."), []string{"endpoint"}),
		Requests: f.NewCounterVec(prometheus.CounterOpts{
			Name: MetricRequests, Help: "Requests served, by endpoint; rate() is the throughput (TPS).",
		}, []string{"endpoint"}),
		PnL: f.NewGaugeVec(prometheus.GaugeOpts{
			Name: MetricPnL, Help: "Profit and loss, in the account's currency, by account and strategy.",
		}, []string{"account", "strategy"}),
		RiskExposure: f.NewGaugeVec(prometheus.GaugeOpts{
			Name: MetricRiskExposure, Help: "Risk exposure (notional, in the account's currency) by account, strategy and kind: gross or net.",
		}, []string{"account", "strategy", "kind"}),
		RiskLimit: f.NewGaugeVec(prometheus.GaugeOpts{
			Name: MetricRiskLimit, Help: "Limit on the risk exposure of a kind (gross, or absolute net), in the account's currency, by account and strategy.",
		}, []string{"account", "strategy", "kind"}),
		AccountInfo: f.NewGaugeVec(prometheus.GaugeOpts{
			Name: MetricAccountInfo, Help: "Always 1: the currency of an account's money figures and its mode (live, paper, backtest).",
		}, []string{"account", "currency", "mode"}),
	}
	for _, r := range []Result{ResultSuccess, ResultReject, ResultError} {
		m.Orders.WithLabelValues(string(r)) // every result exists from the start, so ratios are defined
	}
	for _, c := range []prometheus.Collector{m.OrderLatency, m.Orders, m.RequestLatency, m.Requests, m.PnL, m.RiskExposure, m.RiskLimit, m.AccountInfo} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// ObserveOrder records one order: its latency and its result.
func (m *Metrics) ObserveOrder(latency time.Duration, r Result) {
	m.OrderLatency.Observe(latency.Seconds())
	m.Orders.WithLabelValues(string(r)).Inc()
}

// ObserveRequest records one request to endpoint and its latency.
func (m *Metrics) ObserveRequest(endpoint string, latency time.Duration) {
	m.RequestLatency.WithLabelValues(endpoint).Observe(latency.Seconds())
	m.Requests.WithLabelValues(endpoint).Inc()
}

// SetPnL sets the PnL of a strategy in an account. Use strategy "" for the
// account's PnL not attributed to a strategy.
func (m *Metrics) SetPnL(account, strategy string, pnl float64) {
	m.PnL.WithLabelValues(account, strategy).Set(pnl)
}

// SetExposure sets the gross and net exposure of a strategy in an account.
func (m *Metrics) SetExposure(account, strategy string, gross, net float64) {
	m.RiskExposure.WithLabelValues(account, strategy, ExposureGross).Set(gross)
	m.RiskExposure.WithLabelValues(account, strategy, ExposureNet).Set(net)
}

// SetLimit sets the limit on a strategy's exposure of kind (ExposureGross or
// ExposureNet) in an account.
func (m *Metrics) SetLimit(account, strategy, kind string, limit float64) {
	m.RiskLimit.WithLabelValues(account, strategy, kind).Set(limit)
}

// SetAccount states an account's currency (ISO 4217 code, e.g. "USD") and
// mode (AccountLive, AccountPaper or AccountBacktest); it replaces what was
// set for the account before.
func (m *Metrics) SetAccount(account, currency, mode string) {
	m.AccountInfo.DeletePartialMatch(prometheus.Labels{"account": account})
	m.AccountInfo.WithLabelValues(account, currency, mode).Set(1)
}

// Handler serves the metrics of g at /metrics for scraping (text, OpenMetrics
// or protobuf as the scraper asks; protobuf carries native histograms).
func Handler(g prometheus.Gatherer) http.Handler {
	return promhttp.HandlerFor(g, promhttp.HandlerOpts{EnableOpenMetrics: true})
}
