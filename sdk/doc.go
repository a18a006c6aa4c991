// Package sdk is gmc's Go SDK for the services of a trading system: the
// standard metrics of a trading service on client_golang, and a Pusher that
// remote-writes any prometheus.Gatherer to gmc with a durable, bounded spool.
// Use Handler instead (or as well) to be scraped.
//
// It depends on client_golang, client_model, protobuf's protowire and
// klauspost/compress only (not on prometheus/prometheus), so it stays light
// for the services that import it.
//
// # Metric names (stable: gmc's SLAs, alerts and dashboards use them)
//
// Every metric carries service="<MetricsOptions.Service>".
//
//	gmc_order_latency_seconds                    histogram  order receipt → acknowledgement; native (schema 5, ≤2.2% bucket width) + classic buckets
//	gmc_orders_total{result}                     counter    orders by result: success | reject | error (all three exist from the start)
//	gmc_request_latency_seconds{endpoint}        histogram  latency of other requests, as gmc_order_latency_seconds
//	gmc_requests_total{endpoint}                 counter    requests served; rate() is the throughput in TPS
//	gmc_pnl{account,strategy}                    gauge      profit and loss in the account's currency (strategy="" = account level)
//	gmc_risk_exposure{account,strategy,kind}     gauge      exposure (notional) by kind: gross | net
//
// The Pusher adds its own (on PusherOptions.Registerer):
//
//	gmc_push_gathers_total, gmc_push_gather_errors_total, gmc_push_requests_total{result="success|retry|rejected"},
//	gmc_spool_requests, gmc_spool_bytes, gmc_spool_dropped_requests_total
//
// Typical queries:
//
//	histogram_quantile(0.99, sum by (service) (rate(gmc_order_latency_seconds[1m])))   p99 order latency
//	sum by (service) (rate(gmc_orders_total[1m]))                                      orders per second
//	sum by (service) (rate(gmc_orders_total{result="success"}[5m])) / sum by (service) (rate(gmc_orders_total[5m]))
//
// # Use
//
//	reg := prometheus.NewRegistry()
//	m, err := sdk.NewMetrics(sdk.MetricsOptions{Service: "matching-engine", Registerer: reg})
//	p, err := sdk.NewPusher(sdk.PusherOptions{URL: "http://127.0.0.1:9900", Gatherer: reg,
//		SpoolDir: "/var/lib/me/gmc-spool", Registerer: reg, ClassicHistograms: true})
//	go p.Run(ctx)
//	m.ObserveOrder(time.Since(start), sdk.ResultSuccess)
package sdk
