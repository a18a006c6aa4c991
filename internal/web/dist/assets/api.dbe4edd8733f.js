// Talking to gmc: the Prometheus HTTP API and the product REST API.

/** NotAvailable is thrown when an endpoint is not part of this server (404). */
export class NotAvailable extends Error {
  constructor(path) {
    super(path + ' is not available on this server yet');
    this.path = path;
  }
}

/** NotFound is a 404 the endpoint explains (no report yet, unknown name). */
export class NotFound extends Error {
  constructor(path, message) {
    super(message);
    this.path = path;
  }
}

/**
 * contact is told of every answer from the server (true) and every failure
 * to reach it (false); main.js uses it for the disconnected state.
 */
export const contact = {listeners: [], ok(v) { for (const f of this.listeners) f(v); }};

/** getJSON fetches a JSON document; 404 throws NotAvailable. */
export async function getJSON(path, signal, init = {}) {
  let res;
  try {
    res = await fetch(path, {signal, ...init, headers: {Accept: 'application/json', ...(init.headers || {})}});
  } catch (e) {
    if (e.name !== 'AbortError') contact.ok(false);
    throw e;
  }
  contact.ok(true);
  if (res.status === 404) {
    // A known resource answering 404 (unknown service) is an error with a
    // message; a missing route is "not available".
    let body = null;
    try { body = await res.json(); } catch { /* plain-text 404 */ }
    if (body && body.errorType && body.error) throw new NotFound(path.split('?')[0], body.error);
    throw new NotAvailable(path.split('?')[0]);
  }
  let body;
  try {
    body = await res.json();
  } catch (e) {
    // An abort while the body is read (a new page, a lost heartbeat) is
    // an abort, not a failed refresh to report.
    if (e.name === 'AbortError') throw e;
    throw new Error(`${path}: ${res.status} ${res.statusText}: ${e.message}`);
  }
  if (!res.ok || body.status === 'error') throw new Error(body.error || `${path}: ${res.status}`);
  return body;
}

/** The time ranges of the picker; live refreshes every second. */
export const RANGES = [
  {key: 'live', label: 'Live', seconds: 300, refresh: 1},
  {key: '15m', label: '15m', seconds: 900, refresh: 10},
  {key: '1h', label: '1h', seconds: 3600, refresh: 15},
  {key: '6h', label: '6h', seconds: 6 * 3600, refresh: 30},
  {key: '24h', label: '24h', seconds: 86400, refresh: 60},
  {key: '7d', label: '7d', seconds: 7 * 86400, refresh: 300},
  {key: '30d', label: '30d', seconds: 30 * 86400, refresh: 300},
];

export function rangeByKey(key) {
  return RANGES.find((r) => r.key === key) || RANGES[2];
}

/**
 * span computes the query window of a range: it ends now (to the
 * millisecond; never at a step boundary in the past, which hid up to a
 * step of the newest data), with the step and the rate window for
 * rate()/increase() — at least 4 steps and 30s. A range may carry its own
 * end (an absolute or shifted range) and length.
 */
export function span(range, now = Date.now() / 1000) {
  const step = Math.max(1, Math.round(range.seconds / 300));
  const end = range.end != null ? range.end : Math.round(now * 1000) / 1000;
  const start = end - range.seconds;
  const rw = Math.max(4 * step, 30);
  return {start, end, step, rw: rw + 's', stepStr: step + 's'};
}

/** KPI_WINDOW is the rate window of the "now" figures (KPI tiles, table values): the same whatever the range picker shows. */
export const KPI_WINDOW = '1m';

/** query runs an instant PromQL query; returns data.result. */
export async function query(expr, time, signal) {
  const p = new URLSearchParams({query: expr});
  if (time != null) p.set('time', String(time));
  const body = await getJSON('/api/v1/query?' + p, signal);
  return body.data.result;
}

/** queryRange runs a range PromQL query; returns data.result (matrix). */
export async function queryRange(expr, w, signal) {
  const p = new URLSearchParams({query: expr, start: String(w.start), end: String(w.end), step: String(w.step)});
  const body = await getJSON('/api/v1/query_range?' + p, signal);
  return body.data.result;
}

/** labelValues lists the values of a label on series matching a selector. */
export async function labelValues(name, match, w, signal) {
  const p = new URLSearchParams();
  if (match) p.append('match[]', match);
  if (w) { p.set('start', String(w.start)); p.set('end', String(w.end)); }
  const body = await getJSON(`/api/v1/label/${encodeURIComponent(name)}/values?` + p, signal);
  return body.data || [];
}

/**
 * align turns a matrix into uPlot data: x = every step of the window, one
 * y array per series (null where the series has no point). Native
 * histogram points are ignored (see histogramColumns).
 */
export function align(result, w) {
  const n = Math.floor((w.end - w.start) / w.step) + 1;
  const xs = new Array(n);
  for (let i = 0; i < n; i++) xs[i] = w.start + i * w.step;
  const ys = result.map((s) => {
    const y = new Array(n).fill(null);
    for (const [t, v] of s.values || []) {
      const i = Math.round((t - w.start) / w.step);
      const f = parseFloat(v);
      if (i >= 0 && i < n && isFinite(f)) y[i] = f;
    }
    return y;
  });
  return {xs, ys};
}

/** lines aligns a matrix as chart series named by labels (see seriesName), each label prefixed. */
export function lines(result, w, labels, prefix = '') {
  const {ys} = align(result, w);
  return result.map((s, i) => ({label: prefix + seriesName(s.metric, labels), data: ys[i]}));
}

/** instantBy indexes an instant vector by one label: label value → number. */
export function instantBy(result, label) {
  const m = new Map();
  for (const s of result) {
    const f = parseFloat(s.value && s.value[1]);
    if (isFinite(f)) m.set(s.metric[label] ?? '', f);
  }
  return m;
}

/** scalarOf is the single value of an instant vector (null when empty). */
export function scalarOf(result) {
  if (!result.length) return null;
  const f = parseFloat(result[0].value && result[0].value[1]);
  return isFinite(f) ? f : null;
}

/** last is the newest non-null value of a y array. */
export function last(y) {
  for (let i = y.length - 1; i >= 0; i--) if (y[i] != null) return y[i];
  return null;
}

/** byLabel indexes the aligned series of a result by one label. */
export function byLabel(result, w, label) {
  const {xs, ys} = align(result, w);
  const m = new Map();
  result.forEach((s, i) => m.set(s.metric[label] ?? '', ys[i]));
  return {xs, m};
}

/** seriesName names a series by the given labels ("a / b"), or its metric. */
export function seriesName(metric, labels) {
  const parts = labels.map((l) => metric[l]).filter((v) => v != null && v !== '');
  if (parts.length) return parts.join(' / ');
  return metric.__name__ || '{}';
}

/**
 * topEdge is the largest finite bucket edge (le) in a `count by (…, le)`
 * result, times scale, by the label key (or '' for all); see util.capped.
 */
export function topEdge(result, key = null, scale = 1e6) {
  const m = new Map();
  for (const s of result) {
    const le = parseFloat(s.metric.le);
    if (!isFinite(le)) continue;
    const k = key ? s.metric[key] ?? '' : '';
    m.set(k, Math.max(m.get(k) ?? -Infinity, le * scale));
  }
  return m;
}
