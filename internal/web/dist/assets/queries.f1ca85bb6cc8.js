// The PromQL behind the pages. Every figure is one query over all services
// (sum by (service)), so a page with 50 services still runs a handful.
// Names: the SDK (gmc_order_latency_seconds native + classic histogram,
// gmc_orders_total{result}), JSON push (tps, latency_us, cpu_percent), the
// agent (node_exporter names; gmc_process_*{service} per host) and the benchmark runner (gmc_bench_*).

const LAT = 'gmc_order_latency_seconds';

/** quantileBy is the q-quantile of order latency in µs, grouped by `by`. */
export function quantileBy(q, by, sel, rw) {
  const b = by ? `by (${by}) ` : '';
  const bl = by ? `by (${by}, le) ` : 'by (le) ';
  return `histogram_quantile(${q}, sum ${b}(rate(${LAT}${sel}[${rw}]))) * 1e6` +
    ` or histogram_quantile(${q}, sum ${bl}(rate(${LAT}_bucket${sel}[${rw}]))) * 1e6`;
}

export const overview = {
  // Orders/s where a service handles orders; else requests/s (messages,
  // bars: the SDK's gmc_requests_total); else the JSON-pushed tps.
  tps: (rw) => `(sum by (service) (rate(gmc_orders_total[${rw}])) > 0)` +
    ` or sum by (service) (rate(gmc_requests_total[${rw}])) or sum by (service) (tps)`,
  p99: (rw) => quantileBy(0.99, 'service', '', rw) + ' or max by (service) (latency_us)',
  errors: (rw) => `100 * sum by (service) (rate(gmc_orders_total{result!="success"}[${rw}])) / sum by (service) (rate(gmc_orders_total[${rw}]))`,
};

export function service(name, rw, hostRe) {
  const s = `{service=${JSON.stringify(name)}}`;
  const hs = `instance=~${JSON.stringify(hostRe)}`;
  return {
    p50: quantileBy(0.5, '', s, rw),
    p90: quantileBy(0.9, '', s, rw),
    p99: quantileBy(0.99, '', s, rw),
    pushedLatency: `max by (instance) (latency_us${s})`,
    native: `sum(rate(${LAT}${s}[${rw}]))`,
    classic: `sum by (le) (rate(${LAT}_bucket${s}[${rw}]))`,
    tps: `sum by (result) (rate(gmc_orders_total${s}[${rw}])) or sum by (instance) (tps${s})`,
    procCPU: `100 * sum by (instance) (rate(gmc_process_cpu_seconds_total${s}[${rw}]))` +
      ` or 100 * sum by (instance) (rate(process_cpu_seconds_total${s}[${rw}])) or sum by (instance) (cpu_percent${s})`,
    procMem: `sum by (instance) (gmc_process_resident_memory_bytes${s}) or sum by (instance) (process_resident_memory_bytes${s})`,
    hostCPU: `100 * (1 - avg by (instance) (rate(node_cpu_seconds_total{mode="idle", ${hs}}[${rw}])))`,
    hostMem: `node_memory_MemTotal_bytes{${hs}} - node_memory_MemAvailable_bytes{${hs}}`,
    hostDisk: `sum by (instance) (rate(node_disk_read_bytes_total{${hs}}[${rw}]) + rate(node_disk_written_bytes_total{${hs}}[${rw}]))`,
    hostNetRx: `sum by (instance) (rate(node_network_receive_bytes_total{device!="lo", ${hs}}[${rw}]))`,
    hostNetTx: `sum by (instance) (rate(node_network_transmit_bytes_total{device!="lo", ${hs}}[${rw}]))`,
  };
}

export const trading = {
  pnl: 'sum by (account, strategy) (gmc_pnl)',
  exposure: 'sum by (account, strategy, kind) (gmc_risk_exposure)',
};

export const bench = {
  // Runs are sparse: each step looks back exactly one step, so a run shows
  // as one point.
  median: (w) => `last_over_time(gmc_bench_median[${w.step}s])`,
  regression: (w) => `max by (benchmark) (max_over_time(gmc_bench_regression[${w.step}s]))`,
};

export const slaBurn = 'sla:error_ratio:rate1h';
