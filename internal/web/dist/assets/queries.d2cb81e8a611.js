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
  // ">= 0" drops the NaN of a histogram with no observations in the
  // window, so "or" falls through to the next kind of latency.
  return `(histogram_quantile(${q}, sum ${b}(rate(${LAT}${sel}[${rw}]))) * 1e6 >= 0)` +
    ` or (histogram_quantile(${q}, sum ${bl}(rate(${LAT}_bucket${sel}[${rw}]))) * 1e6 >= 0)`;
}

/** reqQuantileBy is the q-quantile of the SDK's request latency (messages, bars, …) in µs. */
export function reqQuantileBy(q, by, sel, rw) {
  const b = by ? `by (${by}) ` : '';
  const bl = by ? `by (${by}, le) ` : 'by (le) ';
  return `(histogram_quantile(${q}, sum ${b}(rate(gmc_request_latency_seconds${sel}[${rw}]))) * 1e6 >= 0)` +
    ` or (histogram_quantile(${q}, sum ${bl}(rate(gmc_request_latency_seconds_bucket${sel}[${rw}]))) * 1e6 >= 0)`;
}

/**
 * inTier adds __tier__="1m" to a selector ('' or '{…}'): a quantile over
 * whole minutes read from the 1m tier, each window's exact increase of
 * the buckets (a subquery stepping by whole minutes is on whole minutes;
 * tier.Select adds the buckets' edges). Without a 1m tier gmc reads raw
 * samples.
 */
const inTier = (sel) => (sel ? sel.replace(/\}$/, ', __tier__="1m"}') : '{__tier__="1m"}');

/**
 * peakOf is, for each point, the highest value of e (an expression over a
 * window win, whole minutes) on every whole win within the point's
 * lookback lb (its step; the bridge's and tail's: the time since the point
 * before): a one-minute incident shows near its height on a 7d or 30d
 * chart, where a quantile over the step's rate window (2h at 7d)
 * averaged it away. (api.peakWindow picks win, api.peakLookback lb.)
 */
export const peakOf = (e, lb, win) => `max_over_time((${e})[${lb}:${win}])`;

/** peakQuantileBy is the worst q-quantile over win of order latency (µs) within each point's lookback lb, by `by`. */
export const peakQuantileBy = (q, by, sel, lb, win) => peakOf(quantileBy(q, by, inTier(sel), win), lb, win);

/** peakReqQuantileBy is peakQuantileBy of the SDK's request latency. */
export const peakReqQuantileBy = (q, by, sel, lb, win) => peakOf(reqQuantileBy(q, by, inTier(sel), win), lb, win);

/**
 * ENTRY picks the series where orders enter the desk: the services whose
 * metrics carry stage="entry" (sdk MetricsOptions.Stage); when none does,
 * the services named like a gateway (GATEWAY). Every order is counted once
 * there (strategies, risk, matching count the same orders again at their hops).
 */
export const ENTRY = 'stage="entry"';
export const GATEWAY = '.*gateway.*';
const byEntry = (e) => `(${e(ENTRY)}) or ((${e(`service=~"${GATEWAY}"`)}) unless on () (${e(ENTRY)}))`;

/**
 * ordersBegan is when the orders counters of matchers m ('a="b", …')
 * began, if within the window rw (a duration): the first sample's time
 * (each step of the subquery keeps the samples of the 2 s before it: a
 * plain timestamp() looks back 5 minutes, to a sample from before a
 * stop), unless one of them had a sample in the window before; else 0
 * (the window is whole). In the first minute after a start a 1m rate
 * spread ~36 s of orders over 60 s (1.42k/s at 3k/s, t-user10 #1).
 */
const ordersBegan = (m, rw, resumed = false) => resumed ? firstIn('gmc_orders_total', m, rw)
  : `(${firstIn('gmc_orders_total', m, rw)}` +
  ` unless on () count(last_over_time(gmc_orders_total{${m}}[${rw}] offset ${rw})))` +
  ` or on () (0 * count(last_over_time({__name__=~"gmc_orders_total|tps", ${m}}[${rw}])))`;

/**
 * firstIn is the time of the first sample of metric{m} within rw (by, when
 * given: by those labels), as ordersBegan reads it. resumed (ordersBegan,
 * began): rw is the time since gmc served again after an outage of its
 * own (api.resumedAt), which its data began after: no check of the data
 * before it (a sample before the outage, 84 s earlier, is not in the
 * window's start: the 1m rate spread 34 s of orders over 60 s, t-user17 F4).
 */
const firstIn = (metric, m, rw, by = null) => `min${by ? ` by (${by}) ` : ''}(min_over_time((timestamp(${metric}${m ? `{${m}}` : ''}) > time() - 2)[${rw}:1s]))`;

/**
 * ordersGrowth is the orders counted within rw, from each series' first
 * sample in it to its last (no extrapolation); with ordersBegan and
 * ordersNewest (the newest sample's time), the orders/s over the data
 * present (api.firstMinute). None when a counter reset within rw (its lowest
 * sample is then not its first).
 */
const ordersGrowth = (m, rw) => `sum(last_over_time(gmc_orders_total{${m}}[${rw}]) - min_over_time(gmc_orders_total{${m}}[${rw}]))` +
  ` unless on () (sum(resets(gmc_orders_total{${m}}[${rw}])) > 0)`;
/** counted selects the series of a service's orders or requests (its rate tiles'; names: their metrics). */
const counted = (name, names = 'gmc_orders_total|gmc_requests_total|tps') => `{__name__=~"${names}", service=${JSON.stringify(name)}}`;
/**
 * SAMPLED selects the counters the Overview reads a service's silence from
 * (its rate figures': a gauge such as tps has no window to hold a silence).
 */
const SAMPLED_NAMES = 'gmc_orders_total|gmc_requests_total';
const SAMPLED = `{__name__=~"${SAMPLED_NAMES}"}`;
/** newestOf is each service's newest sample time of sel within the lookback (5m), up to a stale marker (off: an offset). */
const newestOf = (sel, off = '') => `max by (service) (timestamp(${sel}${off}))`;
/** reQuote escapes a name for a regular expression's match. */
const reQuote = (n) => n.replace(/[.*+?^$()|[\]{}\\]/g, '\\$&');
/** KPI_RANGE is api.KPI_WINDOW (queries.js imports nothing). */
const KPI_RANGE = '1m';
const ordersNewest = (m) => `max(timestamp(gmc_orders_total{${m}}))`;

export const overview = {
  // Orders/s of the services that count orders (a counter that ever
  // moved), or the JSON-pushed tps: one unit, orders.
  orders: (rw) => `sum by (service) (rate(gmc_orders_total[${rw}])) and on (service) (sum by (service) (gmc_orders_total) > 0)` +
    ` or sum by (service) (tps)`,
  // Each service's own requests (messages, bars …) by endpoint, in their
  // units: of the services that count no orders only (the Overview shows an
  // order service's orders; the test is the orders' own, a counter that
  // moved or tps, without their rate: a step with too few samples for a
  // rate has none for the requests' either). With 50 services the order
  // services' request series were 78 of the Live Overview's 217 range
  // series (0.46 MB of its 1.84 MB first answer), parsed and aligned for
  // nothing.
  requests: (rw) => `sum by (service, endpoint) (rate(gmc_requests_total[${rw}]))` +
    ' unless on (service) (sum by (service) (gmc_orders_total) > 0 or sum by (service) (tps))',
  p99: (rw) => quantileBy(0.99, 'service', '', rw) + ' or ' + reqQuantileBy(0.99, 'service', '', rw) + ' or max by (service) (latency_us)',
  // Order latency only: the "Worst p99" tile ranks trading paths, not a
  // backtest's day replays or other batch requests.
  orderP99: (rw) => quantileBy(0.99, 'service', '', rw),
  errors: (rw) => `100 * sum by (service) (rate(gmc_orders_total{result!="success"}[${rw}])) / (sum by (service) (rate(gmc_orders_total[${rw}])) > 0)`,
  // Desk throughput: orders at the gateway, counted once.
  deskOrders: (rw) => byEntry((m) => `sum(rate(gmc_orders_total{${m}}[${rw}])) or sum(tps{${m}})`),
  // When the entry services' data began within rw, and the orders and
  // newest sample since (ordersBegan, ordersGrowth, ordersNewest).
  deskBegan: (rw, resumed = false) => byEntry((m) => ordersBegan(m, rw, resumed)),
  deskGrowth: (rw) => byEntry((m) => ordersGrowth(m, rw)),
  deskNewest: byEntry((m) => ordersNewest(m)),
  // The same by service, for the Services table's rates (no tps: a gauge has no window).
  // Services that count no orders: their requests' (by endpoint, as the
  // table's requests column), so that column reads the rate over the data
  // present too (t-user15 F1: 28 s after a gmc restart the backtester read
  // 9.45k bars/s, the 1m rate of 28 s of data, where it ran 20k/s).
  began: (rw, resumed = false) => resumed
    ? `${firstIn('gmc_orders_total', '', rw, 'service')} or ${firstIn('gmc_requests_total', '', rw, 'service')}`
    : `${firstIn('gmc_orders_total', '', rw, 'service')}` +
    ` unless on (service) count by (service) (last_over_time(gmc_orders_total[${rw}] offset ${rw}))` +
    ` or (${firstIn('gmc_requests_total', '', rw, 'service')}` +
    ` unless on (service) count by (service) (last_over_time(gmc_requests_total[${rw}] offset ${rw})))`,
  growth: (rw) => `sum by (service) (last_over_time(gmc_orders_total[${rw}]) - min_over_time(gmc_orders_total[${rw}]))` +
    ` unless on (service) (sum by (service) (resets(gmc_orders_total[${rw}])) > 0)`,
  reqGrowth: (rw) => `sum by (service, endpoint) (last_over_time(gmc_requests_total[${rw}]) - min_over_time(gmc_requests_total[${rw}]))` +
    ` unless on (service) (sum by (service) (resets(gmc_requests_total[${rw}])) > 0)` +
    ' unless on (service) (sum by (service) (gmc_orders_total) > 0 or sum by (service) (tps))',
  newest: 'max by (service) (timestamp(gmc_orders_total)) or max by (service) (timestamp(gmc_requests_total))',
  // A silence of a service within the minute, read as its service page
  // reads it (serviceNow's sampled, api.backAt): the longest time between
  // its newest sample at one second and at the second before, from the
  // plain newest sample within the lookback (5m); a service whose newest
  // sample was gone the second before (back after a silence longer than
  // the lookback or ended by a stale marker, or new) reads 1e9 s
  // (parseFloat reads no "+Inf"; on the left: "or" keeps its side's
  // figure, and the seconds after such a return read 1). Only a sieve:
  // those over their stale_after are read to the second a round later
  // (sampledOf, with api.backAt; few). One instant query over every
  // service, in the first round's batch. Read from the newest sample
  // within the hour at each second (sampledOf's read, for every service)
  // it took 390–670 ms a refresh with 50 services (two [1h:1s]
  // subqueries: 7,320 steps of 205 series), 20–60 ms this way.
  silence: `max_over_time((${newestOf(SAMPLED)} unless on (service) ${newestOf(SAMPLED, ' offset 1s')})[${KPI_RANGE}:1s]) * 0 + 1e9` +
    ` or on (service) max_over_time((${newestOf(SAMPLED)} - ${newestOf(SAMPLED, ' offset 1s')})[${KPI_RANGE}:1s])`,
  // Live's: the newest sample at each second of its charts' window, by
  // service, read with them (their cache asks only the new seconds; see
  // serviceNow's sampledLive).
  sampledLive: `max by (service) (timestamp(${SAMPLED}))`,
  // The counters of the services named (serviceNow's counted): where
  // their raw series begin (api.seriesStart, api.markReturns).
  counted: (names) => `{__name__=~"gmc_orders_total|gmc_requests_total|tps", service=~${JSON.stringify(names.map(reQuote).join('|'))}}`,
  // sampleGaps of every service at once, by service (api.gapsRead), from
  // the counters its silence is read from here (SAMPLED: as sampledLive).
  sampleGaps: (lb, r, x, floor) => gapsOf(`max by (service) (timestamp(${SAMPLED}))`, lb, r, x, floor),
  // One service's newest sample within the hour (serviceNow's sampled).
  sampledOf: (name) => `max(max_over_time(timestamp(${counted(name, SAMPLED_NAMES)})[1h:1s]))`,
  // Since a service came back (kb: from its first sample since), its
  // orders counted (or its requests by endpoint, reqs), their first and
  // newest sample: the rate over the data since (api.rateSince).
  back: (name, kb, reqs) => {
    const m = `service=${JSON.stringify(name)}`;
    const c = reqs ? 'gmc_requests_total' : 'gmc_orders_total';
    return {
      growth: `sum${reqs ? ' by (endpoint) ' : ''}(last_over_time(${c}{${m}}[${kb}]) - min_over_time(${c}{${m}}[${kb}]))` +
        ` unless on () (sum(resets(${c}{${m}}[${kb}])) > 0)`,
      began: firstIn(c, m, kb),
      newest: `max(timestamp(${c}{${m}}))`,
    };
  },
  // The entry services seen in the last hour, with by="stage" when they
  // are picked by label: one that stopped is still known, so the Desk
  // figure can say it is down instead of forgetting it.
  gateways: byEntry((m) => `label_replace(count by (service) (last_over_time(gmc_orders_total{${m}}[1h])) or count by (service) (last_over_time(tps{${m}}[1h])), "by", "${m.startsWith('stage') ? 'stage' : 'name'}", "", "")`),
};

/** errorRate is the % of a selector's ('{…}') orders not successful, over rw. */
const errorRate = (sel, rw) => `100 * sum(rate(gmc_orders_total${sel.replace(/\}$/, ', result!="success"}')}[${rw}])) / (sum(rate(gmc_orders_total${sel}[${rw}])) > 0)`;

/**
 * service is the PromQL of a service page. hostSel selects its hosts'
 * series: host=~"a|b" (the host label the SDK and agent both set), or
 * instance=~"…" for data from before that label.
 */
export function service(name, rw, hostSel, hostBy) {
  const s = `{service=${JSON.stringify(name)}}`;
  const hs = hostSel;
  const by = hostBy;
  return {
    p50: quantileBy(0.5, '', s, rw),
    p90: quantileBy(0.9, '', s, rw),
    p99: quantileBy(0.99, '', s, rw),
    rp50: reqQuantileBy(0.5, '', s, rw),
    rp90: reqQuantileBy(0.9, '', s, rw),
    rp99: reqQuantileBy(0.99, '', s, rw),
    // The worst p99 over win within each point's lookback lb (long ranges).
    p99Peak: (lb, win) => peakQuantileBy(0.99, '', s, lb, win),
    rp99Peak: (lb, win) => peakReqQuantileBy(0.99, '', s, lb, win),
    pushedLatency: `max by (instance) (latency_us${s})`,
    native: `sum(rate(${LAT}${s}[${rw}]))`,
    classic: `sum by (le) (rate(${LAT}_bucket${s}[${rw}]))`,
    rnative: `sum(rate(gmc_request_latency_seconds${s}[${rw}]))`,
    rclassic: `sum by (le) (rate(gmc_request_latency_seconds_bucket${s}[${rw}]))`,
    tps: `sum by (result) (rate(gmc_orders_total${s}[${rw}])) or sum by (instance) (tps${s})`,
    // Rejects and errors, % of orders (as the Overview's).
    errors: errorRate(s, rw),
    // The worst error rate over win within each point's lookback lb (long
    // ranges), from the 1m tier.
    errPeak: (lb, win) => peakOf(errorRate(inTier(s), win), lb, win),
    requests: `sum by (endpoint) (rate(gmc_requests_total${s}[${rw}]))`,
    reqP99: `(histogram_quantile(0.99, sum by (endpoint) (rate(gmc_request_latency_seconds${s}[${rw}]))) * 1e6 >= 0)` +
      ` or (histogram_quantile(0.99, sum by (endpoint, le) (rate(gmc_request_latency_seconds_bucket${s}[${rw}]))) * 1e6 >= 0)`,
    feedLat: `(histogram_quantile(0.99, sum (rate(gmc_feed_latency_seconds${s}[${rw}]))) * 1e6 >= 0)` +
      ` or (histogram_quantile(0.99, sum by (le) (rate(gmc_feed_latency_seconds_bucket${s}[${rw}]))) * 1e6 >= 0)`,
    feedGaps: `sum by (feed) (increase(gmc_feed_gaps_total${s}[${rw}]))`,
    procCPU: `100 * sum by (instance) (rate(gmc_process_cpu_seconds_total${s}[${rw}]))` +
      ` or 100 * sum by (instance) (rate(process_cpu_seconds_total${s}[${rw}])) or sum by (instance) (cpu_percent${s})`,
    procMem: `sum by (instance) (gmc_process_resident_memory_bytes${s}) or sum by (instance) (process_resident_memory_bytes${s})`,
    hostCPU: `100 * (1 - avg by (${by}) (rate(node_cpu_seconds_total{mode="idle", ${hs}}[${rw}])))`,
    hostMem: `sum by (${by}) (node_memory_MemTotal_bytes{${hs}} - node_memory_MemAvailable_bytes{${hs}})`,
    hostDisk: `sum by (${by}) (rate(node_disk_read_bytes_total{${hs}}[${rw}]) + rate(node_disk_written_bytes_total{${hs}}[${rw}]))`,
    hostNetRx: `sum by (${by}) (rate(node_network_receive_bytes_total{device!="lo", ${hs}}[${rw}]))`,
    hostNetTx: `sum by (${by}) (rate(node_network_transmit_bytes_total{device!="lo", ${hs}}[${rw}]))`,
  };
}

/**
 * edges are the finite bucket edges of the classic latency histograms
 * (count by (le), le ≠ +Inf) of one service (sel) or, with by, of all;
 * with a range r, of the series seen in it (last_over_time): a service
 * down now has no series now, and its p99 lost its "> last edge".
 */
export function edges(metric, sel, by, r) {
  const b = by ? `${by}, le` : 'le';
  const m = sel ? sel.replace(/^\{/, '{le!="+Inf", ') : '{le!="+Inf"}';
  const over = (e) => (r ? `last_over_time(${e}[${r}])` : e);
  // Where the native histogram exists the quantiles come from it (see
  // quantileBy), and its buckets go past the classic ones' last edge: no
  // cap there (a 2.8 s p99 read "> 1 s").
  return `count by (${b}) (${over(metric + '_bucket' + m)}) unless on (${by || ''}) count by (${by || ''}) (${over(metric + (sel || ''))})`;
}

/** hostsNow are the Hosts index's figures, one per host: newest sample age, samples per minute, CPU busy %, memory used %, load and cores. */
export const hostsNow = {
  age: 'time() - max by (host) (timestamp(node_cpu_seconds_total{mode="idle"}))',
  perMin: 'max by (host) (count_over_time(node_load1[1m]))',
  cpu: '100 * (1 - avg by (host) (rate(node_cpu_seconds_total{mode="idle"}[1m])))',
  mem: '100 * (1 - sum by (host) (node_memory_MemAvailable_bytes) / sum by (host) (node_memory_MemTotal_bytes))',
  load: 'max by (host) (node_load1)',
  cores: 'count by (host) (count by (host, cpu) (node_cpu_seconds_total))',
};

/** serviceNow are a service page's KPI tiles: instant queries over KPI_WINDOW. */
export function serviceNow(name, k, kb = k, resumed = false) {
  const s = `{service=${JSON.stringify(name)}}`;
  return {
    orders: `sum(rate(gmc_orders_total${s}[${k}])) or sum(tps${s})`,
    // The orders/s over the data present in the service's first minute (api.covered).
    // (kb, resumed: the time since gmc served again after its own outage, api.resumedAt.)
    began: ordersBegan(`service=${JSON.stringify(name)}`, kb, resumed),
    growth: ordersGrowth(`service=${JSON.stringify(name)}`, kb),
    newest: ordersNewest(`service=${JSON.stringify(name)}`),
    // The newest sample of its orders or requests within the hour (asked
    // at each second of the window: a silence in it, api.backAt). Within
    // the hour, not the 5m lookback, and past stale markers (a failed
    // scrape's): a silence that began before the window is still told
    // from a service whose data began in it, in the refresh's first round
    // (read apart, a round later, it cost a new service's page a round
    // trip; at a 1m step it read market-data's 41 s as 1m12s). The inner
    // selector is evaluated once for the whole range, at 1 s.
    sampled: `max(max_over_time(timestamp(${counted(name)})[1h:1s]))`,
    // Live's: the newest sample at each second of its whole window, read
    // with its charts (their cache asks only the new seconds, which the
    // hour's subquery defeated: every refresh re-read the 330 s window).
    sampledLive: `max(timestamp(${counted(name)}))`,
    // Its counters as sampled reads them: where their raw series begin
    // tells a run of its rates that came back from one that began
    // (api.seriesStart, api.markReturns).
    counted: counted(name),
    // Whether the service counts orders at all (its counter ever moved).
    hasOrders: `sum(gmc_orders_total${s}) > 0 or sum(tps${s})`,
    errors: `100 * sum(rate(gmc_orders_total{service=${JSON.stringify(name)}, result!="success"}[${k}])) / (sum(rate(gmc_orders_total${s}[${k}])) > 0)`,
    requests: `sum by (endpoint) (rate(gmc_requests_total${s}[${k}]))`,
    p50: quantileBy(0.5, '', s, k) + ' or ' + reqQuantileBy(0.5, '', s, k) + ` or max(latency_us${s})`,
    p99: quantileBy(0.99, '', s, k) + ' or ' + reqQuantileBy(0.99, '', s, k) + ` or max(latency_us${s})`,
    // The endpoints the request latency is of (the tiles name them: a
    // backtester's p99 is of its day replays, not of its bars).
    latEndpoints: `count by (endpoint) (histogram_count(rate(gmc_request_latency_seconds${s}[${k}])) > 0 or rate(gmc_request_latency_seconds_bucket{service=${JSON.stringify(name)}, le="+Inf"}[${k}]) > 0)`,
  };
}

/**
 * sampleGaps is, at each point, the longest time between two samples of a
 * service's orders or requests (counted: as its tiles' sampled) whose
 * later sample came within the point's lookback lb (its step; the
 * bridge's and tail's, the time since the point before), and that later
 * sample's time, read on a grain of r seconds: at each grain point s the
 * newest sample within x seconds (L, through a failed scrape's stale
 * marker, as sampled) less the one at s − r. One figure holds both, the
 * gap (ms) times 1e8 plus the later sample's time modulo 1e5 s (ms), so
 * max_over_time takes the longest gap with its place (api.gapSilences
 * reads it back). Only gaps over floor ms are kept: a gap over the grain
 * is a run of grain points without a sample, anything at most 2r may be
 * two samples' spacing read across one grain point, and the service's
 * stale_after, when known, is what a silence is longer than. Nor is one
 * kept unless it is over twice the samples' spacing before it, the least
 * gap over none in the x seconds and two minutes (four grains at least)
 * before it: a sample a minute is no silence (the demo's backfilled
 * history held a 60 s gap at every 6h and 24h point, all of them dashed,
 * out of min and max: trial 29 F1),
 * nor the first gap of the data (no spacing before it to tell). A gap
 * over x is not read (the points between have no rate at all:
 * api.markPartial tells those).
 */
export const sampleGaps = (name, lb, r, x, floor) => gapsOf(`max(timestamp(${counted(name)}))`, lb, r, x, floor);

/** gapsOf is sampleGaps of ts, the newest sample's time of a source (of each, with a grouping). */
function gapsOf(ts, lb, r, x, floor) {
  const newest = `max_over_time((${ts})[${x}s:${r}s])`;
  const step = `idelta((${newest})[${2 * r}s:${r}s])`;
  const gap = `(${step} > 2 * min_over_time((${step} > 0)[${x + Math.max(120, 4 * r)}s:${r}s] offset ${r}s))`;
  return `max_over_time((round(${gap} * 1000) * 1e8 + round(${newest} % 1e5 * 1000) >= ${(floor + 1) * 1e8})[${lb}:${r}s])`;
}

/** host is the PromQL of a host page (Node Exporter Full's main rows). */
export function host(name, rw) {
  const hs = `host=${JSON.stringify(name)}`;
  return {
    cpuCores: `100 * (1 - avg by (cpu) (rate(node_cpu_seconds_total{mode="idle", ${hs}}[${rw}])))`,
    cpuModes: `100 * sum by (mode) (rate(node_cpu_seconds_total{mode!="idle", ${hs}}[${rw}])) / scalar(count(count by (cpu) (node_cpu_seconds_total{${hs}})))`,
    load: `{__name__=~"node_load1|node_load5|node_load15", ${hs}}`,
    cores: `count(count by (cpu) (node_cpu_seconds_total{${hs}}))`,
    memUsed: `sum(node_memory_MemTotal_bytes{${hs}} - node_memory_MemAvailable_bytes{${hs}})`,
    memCached: `sum(node_memory_Cached_bytes{${hs}} + node_memory_Buffers_bytes{${hs}})`,
    memTotal: `sum(node_memory_MemTotal_bytes{${hs}})`,
    swapUsed: `sum(node_memory_SwapTotal_bytes{${hs}} - node_memory_SwapFree_bytes{${hs}})`,
    // Space as df counts it: used = size − free (free includes the blocks
    // reserved for root), use% = used / (used + available); the reserve
    // (free − available) is neither. An agent without free_bytes: null.
    fsFree: `max by (mountpoint) (node_filesystem_free_bytes{fstype!~"tmpfs|overlay|squashfs", ${hs}})`,
    fsAvail: `max by (mountpoint) (node_filesystem_avail_bytes{fstype!~"tmpfs|overlay|squashfs", ${hs}})`,
    fsSize: `max by (mountpoint) (node_filesystem_size_bytes{fstype!~"tmpfs|overlay|squashfs", ${hs}})`,
    diskRead: `sum by (device) (rate(node_disk_read_bytes_total{${hs}}[${rw}]))`,
    diskWrite: `sum by (device) (rate(node_disk_written_bytes_total{${hs}}[${rw}]))`,
    diskBusy: `100 * sum by (device) (rate(node_disk_io_time_seconds_total{${hs}}[${rw}]))`,
    netRx: `sum by (device) (rate(node_network_receive_bytes_total{device!="lo", ${hs}}[${rw}]))`,
    netTx: `sum by (device) (rate(node_network_transmit_bytes_total{device!="lo", ${hs}}[${rw}]))`,
    // Received + sent (either may be missing).
    netErr: `sum by (device) (rate({__name__=~"node_network_(receive|transmit)_errs_total", device!="lo", ${hs}}[${rw}]))`,
    diskIOPS: `sum by (device) (rate(node_disk_reads_completed_total{${hs}}[${rw}]))`,
    diskWIOPS: `sum by (device) (rate(node_disk_writes_completed_total{${hs}}[${rw}]))`,
    // Average time per completed read / write (s), as Node Exporter Full's "Disk R/W time".
    diskRLat: `sum by (device) (rate(node_disk_read_time_seconds_total{${hs}}[${rw}])) / (sum by (device) (rate(node_disk_reads_completed_total{${hs}}[${rw}])) > 0)`,
    diskWLat: `sum by (device) (rate(node_disk_write_time_seconds_total{${hs}}[${rw}])) / (sum by (device) (rate(node_disk_writes_completed_total{${hs}}[${rw}])) > 0)`,
    netPktRx: `sum by (device) (rate(node_network_receive_packets_total{device!="lo", ${hs}}[${rw}]))`,
    netPktTx: `sum by (device) (rate(node_network_transmit_packets_total{device!="lo", ${hs}}[${rw}]))`,
    netDrop: `sum by (device) (rate({__name__=~"node_network_(receive|transmit)_drop_total", device!="lo", ${hs}}[${rw}]))`,
    ctxt: `sum(rate(node_context_switches_total{${hs}}[${rw}]))`,
    forks: `sum(rate(node_forks_total{${hs}}[${rw}]))`,
    procs: `{__name__=~"node_procs_running|node_procs_blocked", ${hs}}`,
    tcpEstab: `sum(node_netstat_Tcp_CurrEstab{${hs}})`,
    tcpRetrans: `sum(rate(node_netstat_Tcp_RetransSegs{${hs}}[${rw}]))`,
    tcpErr: `sum(rate(node_netstat_Tcp_InErrs{${hs}}[${rw}]))`,
    fsFiles: `max by (mountpoint) (node_filesystem_files{fstype!~"tmpfs|overlay|squashfs", ${hs}})`,
    fsFilesFree: `max by (mountpoint) (node_filesystem_files_free{fstype!~"tmpfs|overlay|squashfs", ${hs}})`,
    boot: `max(node_boot_time_seconds{${hs}})`,
    services: `count by (service) ({host=${JSON.stringify(name)}, service!=""})`,
  };
}

/** use is each (account, strategy)'s limit utilisation in % over the selector's matchers s (risk). */
const use = (s) => `100 * max by (account, strategy) (abs(sum by (account, strategy, kind) (gmc_risk_exposure${s}))` +
  ` / (min by (account, strategy, kind) (gmc_risk_limit${s}) > 0))`;

/** risk is the PromQL of the Risk page for a scope: {} (desk), {account} or {account, strategy}. */
export function risk(scope) {
  const m = [];
  if (scope.account != null) m.push(`account=${JSON.stringify(scope.account)}`);
  if (scope.strategy != null) m.push(`strategy=${JSON.stringify(scope.strategy)}`);
  const s = m.length ? `{${m.join(', ')}}` : '';
  return {
    pnl: `sum by (account, strategy) (gmc_pnl${s})`,
    exposure: `sum by (account, strategy, kind) (gmc_risk_exposure${s})`,
    limit: `min by (account, strategy, kind) (gmc_risk_limit${s})`,
    // The highest raw PnL in the range r: drawdown now is peak − PnL now.
    peak: (r) => `sum by (account, strategy) (max_over_time(gmc_pnl${s}[${r}]))`,
    // The highest PnL summed by `by` within each step's window, read every
    // res (a subquery: a peak between two steps is kept), for a chart's
    // running peak. extra narrows the series (the desk's live accounts).
    stepPeak: (by, step, res, extra) => {
      const sel = [...m, ...(extra ? [extra] : [])];
      return `max_over_time(sum by (${by}) (gmc_pnl${sel.length ? `{${sel.join(', ')}}` : ''})[${step}s:${res}s])`;
    },
    // The sum by `by` of each series' own highest raw value over lb: a
    // bound the sum's peak cannot pass, equal to it for one series.
    stepMax: (by, lb, extra) => {
      const sel = [...m, ...(extra ? [extra] : [])];
      return `sum by (${by}) (max_over_time(gmc_pnl${sel.length ? `{${sel.join(', ')}}` : ''}[${lb}]))`;
    },
    // The deepest fall of the PnL summed by `by` within each step's
    // window below its highest of the step before each point, read every
    // res: a peak and a trough inside one step (their order unknown to the
    // step's highest and lowest alone).
    stepFall: (by, step, res) => {
      const g = `sum by (${by}) (gmc_pnl${s})`;
      return `max_over_time((max_over_time(${g}[${step}s:${res}s]) - ${g})[${step}s:${res}s])`;
    },
    // How many raw series each group `by` sums over the range r.
    members: (by, r) => `count by (${by}) (last_over_time(gmc_pnl${s}[${r}]))`,
    // Each row's (account, strategy, kind) highest and lowest raw
    // exposure over lb (each step's window): the legends' max and min
    // between the chart's steps, exact for a row of one series.
    expMax: (lb) => `sum by (account, strategy, kind) (max_over_time(gmc_risk_exposure${s}[${lb}]))`,
    expMin: (lb) => `sum by (account, strategy, kind) (min_over_time(gmc_risk_exposure${s}[${lb}]))`,
    // The exposure summed by `by` (and kind), its highest and lowest
    // within each step's window read every res (a group of several rows).
    expPeak: (by, step, res) => `max_over_time(sum by (${by}, kind) (gmc_risk_exposure${s})[${step}s:${res}s])`,
    expTrough: (by, step, res) => `min_over_time(sum by (${by}, kind) (gmc_risk_exposure${s})[${step}s:${res}s])`,
    // Each row's limit (as q.limit) at its lowest and highest over lb:
    // where the two differ the limit moved within the step, and the
    // exposure's highest over the limit at the step is not the
    // utilisation's highest (t-user14 F3).
    limMin: (lb) => `min by (account, strategy, kind) (min_over_time(gmc_risk_limit${s}[${lb}]))`,
    limMax: (lb) => `min by (account, strategy, kind) (max_over_time(gmc_risk_limit${s}[${lb}]))`,
    // Each row's utilisation (%) at one instant, as the page computes it
    // from q.exposure and q.limit: the larger of gross over its limit and
    // |net| over its own (a kind without a limit, or a limit of 0, none),
    // read every res over each step's window (useHi, useLo).
    useHi: (step, res) => `max_over_time((${use(s)})[${step}s:${res}s])`,
    useLo: (step, res) => `min_over_time((${use(s)})[${step}s:${res}s])`,
  };
}

/** riskAccounts is each account's currency and mode (gmc_account_info) seen in the range r. */
/** latest is every series of a service but classic buckets and gmc's own (alerts, recording rules): its newest values. */
export const latest = (svc) => `{service=${JSON.stringify(svc)}, __name__!~"ALERTS|ALERTS_FOR_STATE|gmc_bench_.+|.+:.+|.+_bucket"}`;

export const riskAccounts = (r) => `max by (account, currency, mode) (last_over_time(gmc_account_info[${r}]))`;

export const bench = {
  // Runs are sparse: each step looks back exactly to the step before (lb:
  // a step, or for the tail the time since the last step; api.queryRange),
  // so a run shows as one point.
  median: (lb) => `last_over_time(gmc_bench_median[${lb}])`,
  // The time of the run median's point is of: the newest sample's within
  // the step (timestamp() at each minute of it; benchmarks.js runXs).
  runAt: (lb) => `max_over_time(timestamp(gmc_bench_median)[${lb}:1m])`,
  regression: (lb) => `max by (benchmark) (max_over_time(gmc_bench_regression[${lb}]))`,
  // Each step's lowest and highest run, where the step holds two or more:
  // the legend's min and max and the chart's bar through the step's point
  // (its point is only the last: at 7d the legend left out the runs
  // between the 30-minute steps of a benchmark run every 2m). A step of
  // one run is its point: no answer there (none at all where the steps are
  // shorter than the runs' spacing; Live does not ask, benchmarks.js).
  lo: (lb) => `min_over_time(gmc_bench_median[${lb}]) and count_over_time(gmc_bench_median[${lb}]) > 1`,
  hi: (lb) => `max_over_time(gmc_bench_median[${lb}]) and count_over_time(gmc_bench_median[${lb}]) > 1`,
};

export const slaBurn = 'sla:error_ratio:rate1h';
/** slaBurnWorst is the worst 1h error ratio over a lookback (each point's step: a function of it, see api.queryRange). */
export const slaBurnWorst = (lb) => `max_over_time(sla:error_ratio:rate1h[${lb}])`;
/**
 * slaBurnStep is slaBurnWorst, or where the lookback holds no recorded
 * window (a step shorter than the recording's interval: 15m's 3 s, Live's
 * 1 s) the newest before it, the window then in force, as sampled (* 1
 * drops its name, as max_over_time does: one series either way). For
 * steps of a minute and less: at 1h (12 s) the ratio sampled at the steps
 * read max 85.9× where the worst window, between two steps, was 88.9×
 * (trial 29 F3).
 */
export const slaBurnStep = (lb) => `${slaBurnWorst(lb)} or (${slaBurn} * 1)`;
/**
 * slaJudgedOf is true of a time whose hour before it had the ratio r at
 * each of its 60 minutes and at its start (within the lookback before
 * it): its window is judged. The minutes alone let a window begin up to
 * a minute before the data did: Live, read at each second, took a 1h
 * window over 59m45s of data for judged.
 */
const slaJudgedOf = (r) => `(count_over_time(${r}[1h:1m]) >= 60 and ${r} offset 1h)`;
const slaJudged = slaJudgedOf('sla:error_ratio:rate1h');

/** slaSub is the step of the SLA subqueries over a lookback: a minute, or a second under two minutes (the bridge's or the tail's), so it holds a point. */
function slaSub(lb) {
  const ms = String(lb).endsWith('ms') ? parseFloat(lb) : parseFloat(lb) * 1000;
  return ms < 120000 ? '1s' : '1m';
}

/**
 * slaBurnWorstJudged is the worst 1h error ratio over a lookback among
 * the windows judged (label judged="1": recorded at a minute whose hour
 * was wholly covered, slaJudged) and among those not judged (judged="0"),
 * each the highest recorded within the subquery's steps, so together
 * they hold every window the lookback's max_over_time reads (at an
 * aligned step: the minutes of a 2 h step are its whole reach). The SLA
 * page tells by them whether a step's worst window is judged: the worst
 * judged alone hid a step's worse not-judged windows (the 30d legend's
 * max 67.4× where the 7d one read 89.6×, trial 28 F2).
 */
export const slaBurnWorstJudged = (lb) => {
  const s = slaSub(lb);
  const hi = `max_over_time(sla:error_ratio:rate1h[${s}])`;
  return `label_replace(max_over_time((${hi} and ${slaJudged})[${lb}:${s}]), "judged", "1", "", "")` +
    ` or label_replace(max_over_time((${hi} unless ${slaJudged})[${lb}:${s}]), "judged", "0", "", "")`;
};

/**
 * slaNewestJudged is an SLA's newest judged 1h error ratio within a
 * lookback before the query's time (label what="v") and the time it was
 * recorded at (what="t", Unix s: the raw sample's, as timestamp() reads
 * raw samples; the value is the same sample's, the newest at the step),
 * read at the subquery's steps (slaSub), and the time of its newest
 * window, judged or not (what="n"). sel: the SLA's labels
 * as matchers ('sla="x", service="y"'). The legend's last is that window,
 * at its time: the worst within the newest whole step, dated at the
 * step's end, was the history's 0.102× "at 17:54" from before 16:25
 * beside a table saying BURNING (trial 28 F2).
 */
export const slaNewestJudged = (sel, lb) => {
  const s = slaSub(lb);
  const r = `sla:error_ratio:rate1h{${sel}}`;
  const judged = slaJudgedOf(r);
  return `label_replace(last_over_time((${r} and ${judged})[${lb}:${s}]), "what", "v", "", "")` +
    ` or label_replace(last_over_time((timestamp(${r}) and ${judged})[${lb}:${s}]), "what", "t", "", "")` +
    ` or label_replace(max_over_time(timestamp(${r})[${lb}:${s}]), "what", "n", "", "")`;
};

/**
 * hostLast is each host's (by label by: host or instance) newest agent
 * sample (Unix s) among sel's series: the newest within the lookback, else
 * the newest within r (a rate window: a host stopped longer ago than that
 * has runs markPartial sees ended). hostPerMin: its samples per minute.
 */
export const hostLast = (by, sel, r) => `max by (${by}) (timestamp(node_cpu_seconds_total{mode="idle", ${sel}}))` +
  ` or max by (${by}) (max_over_time(timestamp(node_cpu_seconds_total{mode="idle", ${sel}})[${r}:1m]))`;
export const hostPerMin = (by, sel) => `max by (${by}) (count_over_time(node_load1{${sel}}[1m]))`;
