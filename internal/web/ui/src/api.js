// Talking to gmc: the Prometheus HTTP API and the product REST API.
import {RangeCache, seriesKey, labelKey} from './live.js';
import {ago, num, holdText} from './util.js';

export {RangeCache};

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

/**
 * ready.uplot settles once the charting library has run: main.js starts it
 * after the first refresh sent its requests, and every answer waits for it
 * (getJSON) so a page that draws finds it there.
 */
export const ready = {uplot: Promise.resolve()};

/**
 * getJSON fetches a JSON document; 404 throws NotAvailable. Its answer
 * waits for the charting library (ready.uplot) unless lookup is set: a
 * look-up whose answer only names what to query next (a service's hosts)
 * goes on at once (the host panels' queries waited ~350 ms for uPlot's
 * set-up at load 25).
 */
export async function getJSON(path, signal, init = {}, lookup = false, meta = null) {
  let res;
  try {
    res = await fetch(path, {signal, ...init, headers: {Accept: 'application/json', ...(init.headers || {})}});
  } catch (e) {
    if (e.name !== 'AbortError') contact.ok(false);
    throw e;
  }
  if (meta) meta.headers = res.headers;
  if (!lookup) await ready.uplot;
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
    // The connection broke mid-answer: gmc is gone, not the answer bad.
    if (e instanceof TypeError) {
      contact.ok(false);
      throw e;
    }
    throw new Error(`${path}: ${res.status} ${res.statusText}: ${e.message}`);
  }
  if (!res.ok || body.status === 'error') throw new Error(body.error || `${path}: ${res.status}`);
  return body;
}

/** STATUS_FULL_EVERY is how often (ms) a Live page asks for the whole /system/status (ingest rate, storage). */
const STATUS_FULL_EVERY = 10000;

/**
 * serviceStatus is /system/status for one refresh of a page. Live (a
 * window with a cache) asks every second for the services' states only
 * (view=states: the browser keeps the answer and asks again with its ETag;
 * gmc answers 304 while no state changes) and for the whole status only
 * every STATUS_FULL_EVERY. An up service then has no age (it sent within
 * its stale_after); one that is not up gets its age from its last sample,
 * on gmc's clock.
 */
export async function serviceStatus(w, signal) {
  if (!w.grid || !w.cache) return getJSON('/system/status', signal);
  const c = w.cache;
  const now = Date.now();
  const full = !c.status || now - c.status.at > STATUS_FULL_EVERY;
  const [states, body] = await Promise.all([
    getJSON('/system/status?view=states', signal, {cache: 'no-cache'}),
    full ? getJSON('/system/status', signal) : null,
  ]);
  if (body) {
    const t = Date.parse(body.time);
    c.status = {at: now, body, skew: isFinite(t) ? t - now : 0};
  }
  const at = Date.now() + c.status.skew;
  const services = states.services.map((s) => ({...s, age_seconds: s.last_seen_ms != null ? Math.max(0, (at - s.last_seen_ms) / 1000) : null}));
  return {...c.status.body, services, view: 'states'};
}

/** The time ranges of the picker; live refreshes every second. */
export const RANGES = [
  // Live keeps its window on the 1 s step grid, so each refresh fetches only the new interval (live.js).
  {key: 'live', label: 'Live', seconds: 300, refresh: 1, grid: true},
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
 * end (an absolute or shifted range) and length. from, when set, is where
 * the time axis starts (the range's start; its points from start). at is
 * the time the refresh's "now" figures (tiles, tails) are asked for and
 * stamped with: the end, or now for a range with its own end. endsNow
 * tells a range ending now (Live too) from one with its own end: gend
 * cannot, as it is null also when now falls on a step boundary.
 */
export function span(range, now = Date.now() / 1000) {
  const step = stepOf(range.seconds);
  const rw = Math.max(4 * step, 30);
  // tw: the tail's rate window (see queryRange).
  const tw = Math.min(rw, TAIL_WINDOW);
  const base = {step, rw: rw + 's', tw: tw + 's', stepStr: step + 's', grid: !!range.grid && range.end == null, endsNow: range.end == null};
  // A grid range (Live) ends at the last step boundary: at most a step ago.
  if (range.grid && range.end == null) {
    const end = Math.floor(now / step) * step;
    return {...base, start: end - range.seconds, end, at: end};
  }
  // A range with its own end (absolute, zoomed, shifted) has its points
  // on a grid that ends there: back from its end by whole steps, the
  // first at or after its start (from: the axis' start). A custom or
  // zoomed length need not be a multiple of its step, and a grid from
  // the start ended up to a step before the end (a zoom of 3599 s: 11 s;
  // of a month: up to 2.4 h) with the newest data on no point. The first
  // point's window (4 steps at least) reaches back past the start.
  if (range.end != null) {
    const n = Math.floor(range.seconds / step + 1e-9);
    return {...base, start: range.end - n * step, end: range.end, from: range.end - range.seconds, at: Math.round(now * 1000) / 1000};
  }
  // A range ending now: its steps fall on the step grid (multiples of the
  // step, up to gend, the last boundary) so gmc's step cache answers all
  // but the newest of them again, and one more point, the tail, is now.
  const end = Math.round(now * 1000) / 1000;
  const gend = Math.floor(end / step) * step;
  const w = {...base, start: gend - range.seconds, end, at: end, gend: gend < end ? gend : null};
  // The bridge: where the tail's window (a minute) is shorter than the
  // points' and does not reach back to the last step, one more point at
  // the tail's window's start (now − tw), over the time since the last
  // step (at least tw, as the tail: rate() needs two samples; within
  // tw of the last step it overlaps that step's window). Without
  // it the newest data between the last step and a minute ago was on no
  // point: at 7d up to 32.6 min, at 30d 2.4 h (an error burst 20 minutes
  // old read max 0.001 %, t-user8 #4).
  const bt = Math.round((end - tw) * 1000) / 1000;
  if (w.gend != null && tw < rw && bt - gend >= BRIDGE_MIN) {
    w.bridge = bt;
    w.bw = Math.round(Math.max(bt - gend, tw) * 1000) + 'ms';
  }
  return w;
}

/**
 * stepOf is a range's step: about 300 points (seconds / 300, at least 1 s),
 * and from a day up on the downsampled tiers' grid, so the tiers answer
 * its panels (docs/history.md, "Transparent reads": a tier reads when the
 * query's end, step and range are whole buckets): a whole number of
 * minutes under 10 minutes (the 1m tier: 24h at 300 s), of 10 minutes
 * under an hour (the 10m tier: 7d at 1800 s), of hours above (the 1h
 * tier: 30d at 7200 s), the one nearest seconds / 300 that divides the
 * range, so its grid starts on the tiers' grid too. The 7d range's old
 * 2016 s step and 24h's 288 s were on no tier's grid: their panels read
 * raw data only (t-user18 F11).
 */
export function stepOf(seconds) {
  const want = Math.max(1, Math.round(seconds / 300));
  if (seconds < 86400) return want;
  const unit = want < 600 ? 60 : want < 3600 ? 600 : 3600;
  const round = Math.max(unit, Math.round(want / unit) * unit);
  // The nearest multiple of unit that divides the range (a custom length
  // may have none near: then the nearest multiple).
  for (let d = 0; d <= round; d += unit) {
    for (const s of [round - d, round + d]) {
      if (s >= unit && seconds % s === 0 && Math.abs(s - want) <= want / 2) return s;
    }
  }
  return round;
}

/**
 * BRIDGE_MIN (s) is the least time between the last step and the tail's
 * window that gets a bridge point (span): less is within a sample
 * interval of the tail's window.
 */
export const BRIDGE_MIN = 1;

/**
 * grid lists the times of a window's points: start, start + step, … up to
 * its last step boundary, then its bridge (now − tw) and tail (now) when
 * it has them; index maps a point's time to its place (the tail's is
 * w.at, the bridge's its own time to the millisecond).
 */
export function grid(w) {
  const g = w.gend != null ? w.gend : w.end;
  const n = Math.floor((g - w.start) / w.step + 1e-9) + 1;
  const tail = w.gend != null;
  const bridge = tail && w.bridge != null;
  const xs = new Array(n + (bridge ? 1 : 0) + (tail ? 1 : 0));
  for (let i = 0; i < n; i++) xs[i] = w.start + i * w.step;
  if (bridge) xs[n] = w.bridge;
  if (tail) xs[xs.length - 1] = w.end;
  const lastAt = xs.length - 1;
  const index = (t) => (bridge && Math.abs(t - w.bridge) < 1e-3 ? n : tail && t > g + 1e-3 ? lastAt : Math.round((t - w.start) / w.step));
  return {xs, n: xs.length, index};
}

/**
 * PEAK_MIN_STEP (s) is the least step whose latency charts also show each
 * step's worst short-window quantile (queries.peakOf): the 6h range's (72
 * s) and longer. On them a point's quantile is over its rate window (4
 * steps: 2h at 7d, 8h at 30d), where a one-minute incident is under
 * 1 % of the observations and leaves the p99 (a 500 µs minute read 5 µs).
 */
export const PEAK_MIN_STEP = 72;

/** peaks tells whether a window's latency charts show peaks (PEAK_MIN_STEP). */
export const peaks = (w) => !w.grid && w.step >= PEAK_MIN_STEP;

/**
 * PEAK_PER_STEP is how many short windows a peak point takes its worst of:
 * the window is a tenth of the step in whole minutes, at least one (6h and
 * 24h: 1m, 7d: 3m, 30d: 12m). One-minute windows at every step cost the
 * Overview of 50 services 29.5 s at 7d against the mean p99's 3.2 s (load
 * 20): the engine evaluated 10,080 steps. A one-minute incident is 1/W of
 * a W-minute window's orders and still sets its p99 (500 − 2.5·W µs for a
 * 500 µs minute in a 5 µs desk: 492.5 µs at 7d, 470 µs at 30d).
 */
export const PEAK_PER_STEP = 10;

/**
 * peakWindow is the short window of a window's peak points: a tenth of
 * the step (PEAK_PER_STEP), in whole minutes. The bridge and tail take
 * the same (they took whole minutes: a legend labelled "worst 3m" had its
 * max 8.1 ms from the bridge's one-minute windows, where the worst 3m was
 * 2.4 ms, t-user11 #4).
 */
export const peakWindow = (w) => Math.max(1, Math.floor(w.step / PEAK_PER_STEP / 60)) + 'm';

/**
 * peakLookback is a peak point's lookback: lb (its step; the bridge's and
 * tail's, the time since the point before, in ms), at least one window
 * win (the tail's minute held no whole 3m window): the tail is then the
 * last whole window.
 */
export const peakLookback = (lb, win) => (String(lb).endsWith('ms') && parseFloat(lb) < parseFloat(win) * 60000 ? win : lb);

/** KPI_WINDOW is the rate window of the "now" figures (KPI tiles, table values): the same whatever the range picker shows. */
export const KPI_WINDOW = '1m';

/** KPI_SECONDS is KPI_WINDOW in seconds. */
export const KPI_SECONDS = 60;

/**
 * firstMinute is the orders/s over the data present when the orders counters
 * of a tile (the Desk's entry services, a service's) began within
 * KPI_WINDOW (began: queries' ordersBegan, its first sample; desk: the
 * tile's rate, an instant vector whose sample time is the refresh's now, w.at): {rate,
 * seconds (since the first sample), since (Unix s)}, rateSince from the
 * first sample (growth, newest: ordersGrowth, ordersNewest); else null
 * (the window is whole, or a counter reset within it: the 1m rate stands).
 */
export function firstMinute(desk, began, growth, newest) {
  const at = desk.length && desk[0].value ? Number(desk[0].value[0]) : NaN;
  const b = scalarOf(began);
  if (!(b > 0) || !isFinite(at) || at - b >= KPI_SECONDS - 1) return null;
  const r = rateSince(growth, b, newest, at);
  return r.rate != null ? {rate: r.rate, seconds: r.seconds, since: r.since} : null;
}

/**
 * backAt is when a service sent again after a silence longer than h (s,
 * its stale_after) within KPI_WINDOW before at: sampled is its newest
 * sample's time within the hour at each second of the window (a range
 * query of queries.serviceNow's sampled). Returns {at: that sample's
 * time, from: the newest before it} (Unix s) for the newest such silence,
 * else null: also when the window begins with no sample in the hour
 * before (the service's data began, which firstMinute says, or it was
 * silent over an hour). Its 1m rate then spread the seconds since over
 * the minute (the backtester read 5k bars/s after 53 s down, 20k/s since).
 */
export function backAt(sampled, at, h) {
  if (!(h > 0)) return null;
  const b = sampledSilences(sampled, h).filter((x) => x.until > at - KPI_SECONDS).at(-1);
  return b ? {at: b.until, from: b.from} : null;
}

/**
 * sampledSilences are the silences longer than h (s) in sampled (a
 * service's newest sample's time at each second: serviceNow's sampled or
 * sampledLive): [{from: the last sample before, until: the first after}]
 * (Unix s), oldest first. One that has not ended has no until: it is not
 * listed (the service is not up: api.markStopped).
 */
export function sampledSilences(sampled, h) {
  const out = [];
  let prev = null;
  for (const [, v] of (sampled[0] && sampled[0].values) || []) {
    const t = Number(v);
    if (prev != null && t - prev > h) out.push({from: prev, until: t});
    prev = t;
  }
  return out;
}

/**
 * gapGrain (s) is the grain at which a service's sample gaps are read at
 * each point of a window (queries.sampleGaps): a 24th of its step, at
 * least 1 s (1 s up to the 1h range's 12 s steps, 3 s at 6h, 12 s at 24h,
 * 75 s at 7d, 300 s at 30d), so a range reads some 7,300 grain points
 * whatever its length. A silence of up to twice the grain is not told
 * from the samples' spacing: it lowers a point's rate by at most 2/96
 * (its window is four steps).
 */
export const gapGrain = (w) => Math.max(1, Math.floor(w.step / 24));

/**
 * stepGaps reads expr(lb) (queries.sampleGaps over lookback lb) on the
 * points of a window's rates, in their batches: the steps from the rates'
 * lead (queryRange) to the grid's last step, each over its step (none
 * unless steps), and the bridge and the tail, each over the time since
 * the point before (without the steps, over their window at least).
 * Returns the matrix, the bridge's and tail's values appended.
 */
export function stepGaps(expr, w, signal, steps = true) {
  const lead = w.rw ? Math.ceil(parseFloat(w.rw) / w.step) : 0;
  const from = w.start - lead * w.step;
  const e = expr(w.step + 's');
  if (w.gend == null) return rangeAt(e, from, w.end, w.step, signal);
  const since = (a, z) => Math.max(1, Math.round((z - a) * 1000)) + 'ms';
  // Without the steps, the bridge and the tail are each read over their
  // window (bw, tw) at least: a silence that ended within it before the
  // point before is in no other answer.
  const over = (a, z, win) => since(steps ? a : Math.min(a, z - win), z);
  const b = w.bridge != null;
  return Promise.all([
    steps ? rangeAt(e, from, w.gend, w.step, signal) : [],
    b ? query(expr(over(w.gend, w.bridge, parseFloat(w.bw) / 1000)), w.bridge, signal) : [],
    query(expr(over(b ? w.bridge : w.gend, w.at, parseFloat(w.tw))), w.at, signal),
  ]).then(([m, bv, v]) => withTail(withTail(m, bv), v));
}

/**
 * liveWindow tells a Live window (the cache's 1 s grid ending now): its
 * silences are read from the newest sample at each second of the window,
 * with the charts (sampledSilences), not by stepGaps.
 */
export const liveWindow = (w) => !!w.cache && w.step === 1 && w.at === w.end;

/**
 * stepSilences tells whether the sample gaps of a window's sources are
 * read on its steps (gapsRead): up to PEAK_MIN_STEP (the 6h range's
 * step). On longer steps (24h, 7d, 30d) the steps' rates read the
 * downsampled tiers, and sampleGaps' timestamp() read every raw sample
 * over the range (3 selectors from raw data per page:
 * TestBrowserLongRangesReadTiers); only the bridge and the tail are read
 * there (their rates read raw data too, over the time since the last
 * step), and the charts say so (silencesNote).
 */
export const stepSilences = (w) => liveWindow(w) || w.step <= PEAK_MIN_STEP;

/**
 * silencesNote is what a chart whose points are marked for silences
 * (markSilences) says of them after its note: nothing where every point
 * is read (stepSilences), else which are.
 */
export function silencesNote(w) {
  if (stepSilences(w)) return '';
  return w.gend != null ? ' · silences marked at the newest points only (ranges over 6h)' : ' · silences not marked (ranges over 6h)';
}

/**
 * gapsRead reads, on the points of a window's rates (stepGaps, on
 * gapGrain's grain), the sample gaps of their sources: expr(lb, r, x,
 * floor) is queries' sampleGaps (a service page's, or the Overview's by
 * service), x the rates' window and two steps, floor (ms) the least
 * stale_after known (s, as of the last refresh; null before the first),
 * and at least two grains. Resolves to the matrix; [] when the read fails
 * (the points stay as markPartial has them, not the page blank); null on
 * Live (liveWindow: the charts' sampledLive says them). Above
 * PEAK_MIN_STEP only the bridge and the tail are read (stepSilences):
 * none on a window without them.
 */
export function gapsRead(expr, w, floor, signal) {
  const steps = stepSilences(w);
  if (liveWindow(w) || (!steps && w.gend == null)) return Promise.resolve(null);
  const r = gapGrain(w);
  const f = Math.round(Math.max(floor || 0, 2 * r) * 1000);
  return stepGaps((lb) => expr(lb, r, Math.ceil(parseFloat(w.rw)) + 2 * w.step, f), w, signal, steps)
    .catch((e) => (e.name === 'AbortError' ? Promise.reject(e) : []));
}

/**
 * silencesOf are one source's silences longer than h (s, its
 * stale_after) in a window's read of them: on Live (liveWindow) its newest
 * sample at each second (sampledSilences), else gapsRead's answer
 * (gapSilences, over two grains too). None when h is not known.
 */
export function silencesOf(read, w, h) {
  if (!(h > 0) || !read) return [];
  return liveWindow(w) ? sampledSilences(read, h) : gapSilences(read, Math.max(h, 2 * gapGrain(w)));
}

/**
 * gapSilences are the silences longer than h (s) in stepGaps' answer:
 * each point's longest gap and the time of the sample that ended it, read
 * back from queries.sampleGaps' one figure. [{from: the last sample
 * before, until: the sample that ended it}] (Unix s; until is the newest
 * sample within a grain of the point: the one that ended the gap, or
 * later by less than the grain).
 */
export function gapSilences(matrix, h) {
  const out = [];
  for (const s of matrix) {
    for (const [t0, v0] of s.values || []) {
      const t = Number(t0);
      const v = Number(v0);
      const gapMs = Math.floor(v / 1e8);
      // The sample's time modulo 1e5 s: it is at most the point's lookback
      // and a grain before the point (far under 1e5 s).
      let back = Math.round(((t % 1e5) - (v - gapMs * 1e8) / 1000) * 1000) / 1000;
      if (back < 0) back += 1e5;
      const until = Math.round((t - back) * 1000) / 1000;
      if (gapMs / 1000 > h) out.push({from: Math.round((until - gapMs / 1000) * 1000) / 1000, until});
    }
  }
  return out.sort((a, b) => a.until - b.until);
}

/**
 * rateSince is a counter's rate over the data since its first sample at
 * b (Unix s): its growth from that sample to its newest (newest, an
 * instant vector of that sample's time) over the time between (growth by
 * endpoint for requests: the one that grew most). Returns {rate, seconds
 * (since b, to at), since: b, endpoint}; {one: true} when there is no
 * time between (b unknown, or one sample since); {reset: true} when a
 * counter reset since (growth none). firstMinute reads a beginning so;
 * the Overview a service back from a silence (queries.overview.back).
 */
export function rateSince(growth, b, newest, at) {
  const n = scalarOf(newest);
  if (!(b > 0) || !(n > b)) return {one: true};
  const top = growth.map((s) => ({v: parseFloat(s.value && s.value[1]), endpoint: s.metric.endpoint || 'request'}))
    .filter((g) => isFinite(g.v)).sort((x, y) => y.v - x.v)[0];
  if (!top) return {reset: true};
  return {rate: top.v / (n - b), seconds: at - b, since: b, endpoint: top.endpoint};
}

/**
 * resumedAt is when gmc served again after the newest of its own outages
 * (/system/status's outages: it took in nothing between from and until),
 * in Unix s, when that was within KPI_WINDOW before at (s): the "now"
 * figures' 1m window then holds the outage's hole, and a 1m rate spread
 * the seconds of data since over the whole minute (34 s after a restart
 * the Desk orders tile read 1.64k/s at 3k/s, t-user17 F4). Else null.
 */
export function resumedAt(outages, at) {
  let u = null;
  for (const o of outages || []) {
    const t = Date.parse(o.until) / 1000;
    if (isFinite(t) && t <= at + 1e-3 && at - t < KPI_SECONDS - 1 && (u == null || t > u)) u = t;
  }
  return u;
}

/**
 * sinceResume is a refresh's /system/status and its "now" figures over
 * the data since gmc served again after its own outage (resumedAt):
 * ask(kb, resumed) sends the queries whose window that is (kb, the time
 * since, '34s', else KPI_WINDOW). known holds the outages as of the
 * page's last refresh (undefined before its first). Returns promises:
 * status, and now ({resumed, kb, r}, r ask's answer). The first refresh
 * asks beside the status over KPI_WINDOW, and again over the time since
 * only when the status says gmc served again within the window: asking
 * the status first put a round trip (~60 ms) before every page's first
 * queries.
 */
export function sinceResume(known, w, signal, ask) {
  const status = serviceStatus(w, signal);
  const pick = (outages) => {
    const resumed = resumedAt(outages, w.at);
    return {resumed, kb: resumed != null ? Math.max(1, Math.floor(w.at - resumed)) + 's' : KPI_WINDOW};
  };
  const guess = pick(known.outages);
  const r0 = ask(guess.kb, guess.resumed != null);
  if (known.outages !== undefined) return {status, now: r0.then((r) => ({...guess, r}))};
  const now = status.then((s) => {
    const got = pick(s.outages);
    if (got.resumed == null) return r0.then((r) => ({...got, r}));
    r0.catch(() => {});
    return ask(got.kb, true).then((r) => ({...got, r}));
  }, (e) => {
    r0.catch(() => {});
    return Promise.reject(e);
  });
  return {status, now};
}

/**
 * TAIL_WINDOW (s) is the longest rate window of a chart's newest point,
 * its tail (now): KPI_WINDOW, so a legend's "last" and a tile agree. The
 * points on the step grid keep the range's window (7200 s at 7d): over
 * that, a service or host started an hour ago read ~0 now (CPU by mode
 * 0.9 % beside CPU per core 100 %).
 */
export const TAIL_WINDOW = 60;

/**
 * windows are the rate windows of a chart's points, of its newest one
 * (the legend's "last": the tail's is shorter on long ranges) and of its
 * bridge (the point a tail's window before it, over the time since the
 * last step; null when there is none). same: an expression whose tail
 * and bridge keep the points' window (increase(): a count per window).
 */
export function windows(w, same = false) {
  return {points: w.rw, last: w.gend != null && !same ? w.tw : w.rw, bridge: w.gend != null && w.bridge != null && !same ? w.bw : null};
}

/**
 * shortened tells whether an expression's tail and bridge are read over
 * their own windows: it has range selectors over the points' window and
 * is not a count per window (increase(): over a shorter window it would
 * be a smaller count, not a newer one).
 */
function shortened(expr, w) {
  return !!w.tw && w.tw !== w.rw && !expr.includes('increase(') && expr.includes(`[${w.rw}]`);
}

/**
 * tailExpr is an expression of the grid's points for the tail: its range
 * selectors over the points' window ([7200s]) over the tail's instead.
 * Counts per window (increase) keep theirs.
 */
export function tailExpr(expr, w) {
  return shortened(expr, w) ? expr.split(`[${w.rw}]`).join(`[${w.tw}]`) : expr;
}

/** bridgeExpr is an expression of the grid's points for the bridge: over the bridge's window (span), as tailExpr. */
export function bridgeExpr(expr, w) {
  return w.bridge != null && shortened(expr, w) ? expr.split(`[${w.rw}]`).join(`[${w.bw}]`) : expr;
}

/** query runs an instant PromQL query; returns data.result. */
export function query(expr, time, signal) {
  const p = {};
  if (time != null) p.time = String(time);
  return batched('query', expr, p, signal);
}

/**
 * rangeAt runs a range PromQL query on exactly these points (start, end,
 * step: no lead, tail or cache, as queryRange's), batched with the
 * others of its tick and points; returns data.result (matrix).
 */
export function rangeAt(expr, start, end, step, signal) {
  return batched('query_range', expr, {start: String(start), end: String(end), step: String(step)}, signal);
}

/**
 * rangeParams are a range query's parameters: start, end, step, and for
 * the Live cache since and held (live.js RangeCache: the points it holds
 * up to held, as of gmc's write state since).
 */
function rangeParams(x) {
  const p = {start: String(x.start), end: String(x.end), step: String(x.step)};
  if (x.since != null) p.since = x.since;
  if (x.held != null) p.held = String(x.held);
  return p;
}

/**
 * queryRange runs a range PromQL query; returns data.result (matrix). A
 * window on the step grid with a cache (Live: main.js gives it one) is
 * answered by the cache, which fetches only the new interval.
 */
export function queryRange(expr, w, signal, reach = null, cover = null) {
  const fetchRange = (e, x, sig) => batched('query_range', e, rangeParams(x), sig);
  const at = (lookback) => (typeof expr === 'function' ? expr(lookback) : expr);
  // An expression over the range's rate window is also read for the steps
  // a window before the range (lead), so markPartial can tell a point
  // whose window reaches before its series' data began from a whole one.
  // An expression of a recorded ratio over its own window (reach, s: the
  // SLA page's sla:error_ratio:rate1h) is read a reach before the range.
  const e = at(w.step + 's');
  const lead = reach ? Math.ceil(reach / w.step) : w.rw && e.includes(`[${w.rw}]`) ? Math.ceil(parseFloat(w.rw) / w.step) : 0;
  // A rate spreads the data it holds over its window; a quantile or a
  // ratio of rates does not (markPartial's tail), nor a recorded ratio
  // read over its reach (the SLA page's: its partial hours are the ratio
  // of the data seen, not lowered by the rest; chart.js's legends). Its
  // complement (1 - a rate: host CPU busy from the idle rate) reads high
  // ('high': a trial's host CPU legend said "max ≥ 100%*" at 99.98 %).
  const spread = !reach && !/histogram_quantile|\//.test(e) && (/\(1 - .*\brate\(/.test(e) ? 'high' : true);
  const from = w.start - lead * w.step;
  // Live: the cache holds the lead steps too (its window begins at from),
  // and its answers are marked as every range's (they were not: the SLA
  // page's Live range drew an hour over 6 minutes of data as whole). No
  // coverage count (cover) there: Live reads the lead a reach long at its
  // 1 s step, so a gap longer than the lookback is a gap in its steps.
  if (w.cache && w.grid && w.start % w.step === 0 && w.end % w.step === 0) {
    return w.cache.get(e, {...w, start: from}, signal, fetchRange).then((m) => markPartial(m, w, lead, reach, spread));
  }
  // cover (reach mode): a count per point of the minutes its reach holds
  // data at (coverExpr), read on the same points; a point whose count is
  // short is partial too, whatever the steps around it (covered).
  const cv = reach && cover ? cover(reach) : null;
  // A rate over a window holding a gap in its data shorter than the window
  // (gmc down for an hour: the demo's history ends 70 minutes before its
  // live start) spreads the data around it over the gap: a traffic drop
  // drawn solid, and the legend's min (t-user13 F6). Its samples per step
  // (gapExpr) tell the steps without any.
  const ge = !reach && spread && lead ? gapExpr(e, w) : null;
  const gapsOf = (end) => (ge ? fetchRange(ge, {start: from, end, step: w.step}, signal) : Promise.resolve(null));
  if (w.gend == null) {
    return Promise.all([
      fetchRange(e, {start: from, end: w.end, step: w.step}, signal),
      cv ? fetchRange(cv.expr, {start: w.start, end: w.end, step: w.step}, signal) : [],
      gapsOf(w.end),
    ]).then(([m, c, gc]) => lastSamples(e, m, w, lead, reach, signal, fetchRange)
      .then((lasts) => gapped(covered(markPartial(m, w, lead, reach, spread, lasts), c, cv, w), gc, w)));
  }
  // The steps on the grid; the bridge (now − tw: the time since the last
  // step, see span) and the tail (now, beside the page's other instant
  // queries), their rates over their own windows (bridgeExpr, tailExpr).
  // An expression that takes a lookback gets, for each, the time since
  // the point before it: one sparse sample (a benchmark run) is on one point.
  // Every expression gets the bridge, so the lines of a chart (and the
  // gauges beside the rates) have a point there, not a gap.
  const lb = (a, z) => Math.max(1, Math.round((z - a) * 1000)) + 'ms';
  const b = w.bridge != null;
  // The bridge's window (the time since the last step: up to 2.4 h at
  // 30d) may hold a gap the steps do not see (a 70-minute one read as a
  // traffic drop, t-user10 #4): its minutes with data are counted
  // (bridgeCover) and a short count makes it partial.
  const bc = b && !reach ? bridgeCover(e, w) : null;
  const te = tailExpr(at(lb(b ? w.bridge : w.gend, w.end)), w);
  const had = spread && !reach ? tailHadEarly(te, w, signal) : null;
  return Promise.all([
    fetchRange(e, {start: from, end: w.gend, step: w.step}, signal),
    b ? query(bridgeExpr(at(lb(w.gend, w.bridge)), w), w.bridge, signal) : [],
    query(te, w.at, signal),
    cv ? fetchRange(cv.expr, {start: w.start, end: w.gend, step: w.step}, signal) : [],
    cv && b ? query(cv.expr, w.bridge, signal) : [],
    cv ? query(cv.expr, w.at, signal) : [],
    bc ? query(bc.expr, w.bridge, signal) : [],
    gapsOf(w.gend),
  ]).then(([m, bv, v, c, cb, ct, bcv, gc]) => {
    const all = withTail(withTail(m, bv), v);
    return Promise.all([
      lastSamples(e, all, w, lead, reach, signal, fetchRange),
      reach ? null : spread ? tailHad(te, all, w, signal, had) : tailHad(te, all.filter((s) => cameBack(s, w)), w, signal),
    ]).then(([lasts, had]) => {
      const out = gapped(markPartial(all, w, lead, reach, spread, lasts, had), gc, w);
      if (cv) return covered(out, withTail(withTail(c, cb), ct), cv, w);
      return bc ? covered(out, withTail([], bcv), bc, w) : out;
    });
  });
}

/**
 * tailHad tells which series had data before the window of the point
 * after the grid's last step whose window begins before that step: the
 * tail's (now − tw, now], where no bridge stands at its start (within 61
 * s of a step, span), or the bridge's, within tw of the step (its window
 * is then tw long, span's bw: from 61 s to 2 minutes after a step). A
 * series whose run of steps began at that step may have begun within
 * the window (markPartial then takes the point as partial, spread over
 * the time before its data) or long before it (its data older than the
 * step: the steps are too far apart to tell). Those of them with a value
 * of the tail's expression (te, over tw) at the window's start had two
 * samples before it: their point is whole. TestBrowserLastIsNow's 7d
 * tails, of data 15 minutes old, were dashed in the first minute after
 * each 2016 s step, and their bridges in the second
 * (TestBrowserBridgeWholeJustAfterAStep). One instant query, only when
 * such a series is in matrix (with its points after the grid), or its
 * answer asked beforehand (early: tailHadEarly); resolves to a Set of
 * their labelKeys, or null.
 */
export function tailHad(te, matrix, w, signal, early = null) {
  const from = tailHadFrom(w);
  if (from == null) return Promise.resolve(null);
  const begun = matrix.some((s) => {
    let run = null;
    let prev = null;
    for (const [t0] of s.values || []) {
      const t = Number(t0);
      if (prev == null || t - prev > w.step * 1.5) run = t;
      prev = t;
    }
    return prev != null && prev > w.gend + 1e-3 && run > from + 1e-6;
  });
  if (!begun) return Promise.resolve(null);
  return (early || query(te, from, signal)).then((r) => new Set((r || []).map((x) => labelKey(x.metric))));
}

/** cameBack tells a series (of a range's matrix) with a value before its last run of steps: its data came back after a gap. */
function cameBack(s, w) {
  const vs = s.values || [];
  for (let i = vs.length - 1; i > 0; i--) if (Number(vs[i][0]) - Number(vs[i - 1][0]) > w.step * 1.5) return true;
  return false;
}

/**
 * tailHadFrom is where tailHad asks its question (the start of the window
 * of the point after the grid's last step, when that is before the step;
 * Unix s to the ms), or null: no question.
 */
function tailHadFrom(w) {
  if (w.gend == null) return null;
  const from = (w.bridge != null ? w.bridge : w.at) - parseFloat(w.tw);
  return from >= w.gend - 1e-3 ? null : Math.round(from * 1000) / 1000;
}

/**
 * TAIL_HAD_EARLY (s): from this step up (24h, 7d, 30d) tailHad's question
 * goes out with the first round wherever it may be asked (a minute or two
 * after each step), not a round trip after the answer that asks it: a
 * series begun within the last step (up to 2 h at 30d: after a restart or
 * a deploy) made a 7d page wait that round (TestBrowserServiceWeekOneRound,
 * 80 s after a step). Shorter steps ask it a round later, only when such a
 * series is there: early it would go out with nearly every refresh.
 */
const TAIL_HAD_EARLY = 300;

/** tailHadEarly asks tailHad's question now where its step asks it early, or is null. */
function tailHadEarly(te, w, signal) {
  const from = w.step >= TAIL_HAD_EARLY ? tailHadFrom(w) : null;
  if (from == null) return null;
  const p = query(te, from, signal);
  // Not waited for when no series needs it.
  p.catch(() => {});
  return p;
}

/**
 * LAST_STEP (s) is the coarsest grain at which lastSamples finds a
 * series' last sample before the end of a run; lastStep, the grain for a
 * rate window of rw (s): a 240th of it (a point that many seconds past
 * the last sample, taken as whole, reads at most 0.4 % low), 1 s at least
 * (a 48 s window's point 3 s past the last sample read 927/s for 1k/s).
 */
export const LAST_STEP = 15;

export function lastStep(rw) {
  return Math.max(1, Math.min(LAST_STEP, Math.floor(rw / 240)));
}

/**
 * runEnds are the times of a series' points (markPartial's values, the
 * lead steps too) that end a run of values before the grid's last step
 * (the next step has none): where its rate, or the clause that keeps it,
 * stopped.
 */
export function runEnds(s, w) {
  const glast = w.gend != null ? w.gend : w.end;
  const vs = s.values || [];
  const out = [];
  for (let i = 0; i < vs.length; i++) {
    const t = Number(vs[i][0]);
    const next = i + 1 < vs.length ? Number(vs[i + 1][0]) : Infinity;
    if (next - t > w.step * 1.5 && t + w.step <= glast + 1e-3) out.push(t);
  }
  return out;
}

/**
 * lastExpr is a rate expression (e) made to have a value at a time only
 * where its series have a sample within the k seconds before it: its
 * rate, irate and increase over the range's window made count_over_time
 * over k s (as gapExpr); null when it has none.
 */
export function lastExpr(e, w, k) {
  if (!w.rw || !e.includes(`[${w.rw}]`) || !/\b(?:irate|rate|increase)\(/.test(e)) return null;
  return e.replace(/\b(?:irate|rate|increase)\(/g, 'count_over_time(').split(`[${w.rw}]`).join(`[${k}s]`);
}

/**
 * lastSamples asks, for each run of a rate expression's series that ends
 * before the grid's last step (runEnds), when the series' last sample
 * before the next step was: the newest step of lastStep's grain from a
 * rate window before the end to the next step at which lastExpr has a
 * value (the last sample is at most that time, less than a grain before
 * it). markPartial calls a
 * point past the last sample only after it. The end of the run is not
 * the last sample a rate window on: the Overview's Orders expression
 * keeps a service's rate "and on (service) (sum by (service)
 * (gmc_orders_total) > 0)", a clause whose run ends the 5-minute lookback
 * after the last sample, so a rate over 20m (24h), 2h (7d) or 8h
 * (30d) had its run cut 5 minutes after the last sample and every point
 * a window before that was called past the last sample and left out of
 * the legend, though its window held the data whole (t-user16 F1: 18
 * such points at 24h, the legend's last 05:26 where 05:40:48 was whole).
 * Resolves to a Map of `${series key}@${end}` to that time (s), or null
 * (no run ends, no rate, a recorded ratio's reach, or more than 4
 * distinct ends: markPartial then keeps its rule, a window before the end).
 */
export function lastSamples(e, matrix, w, lead, reach, signal, fetchRange) {
  const rw = parseFloat(w.rw);
  const k = lastStep(rw);
  const le = !reach && lead ? lastExpr(e, w, k) : null;
  if (!le) return Promise.resolve(null);
  const ends = [...new Set(matrix.flatMap((s) => runEnds(s, w)))].sort((a, b) => a - b);
  if (!ends.length || ends.length > 4) return Promise.resolve(null);
  const key = labelKey;
  return Promise.all(ends.map((end) => {
    // Up to the next step, the run's first without a value: the series
    // may have samples after the run's end (the 7d Orders' run ended at
    // 05:16:48, the step before 05:50:24, whose clause's lookback held no
    // sample: the history's last was at 05:42:00, and the point at 05:16:48
    // is whole). Steps on a grid of k (their answers are cached alike).
    const to = Math.floor((end + w.step) / k) * k;
    const start = Math.floor((end - rw) / k) * k;
    return fetchRange(le, {start, end: to, step: k}, signal).then((r) => {
      const out = [];
      for (const x of r || []) {
        const vs = x.values || [];
        if (vs.length) out.push([`${key(x.metric)}@${end}`, Number(vs[vs.length - 1][0])]);
      }
      return out;
    });
  })).then((rs) => new Map(rs.flat()));
}

/**
 * sampleTimes asks gmc when each series of a selector had its newest
 * sample within the lb seconds up to t (Unix s): the time of the sample a
 * point of last_over_time(selector[lb]) at t gives, where the point's
 * time is its step's (a benchmark run at 02:43:03 was drawn, and its
 * legend said "at 03:02", on a 7d chart's step 19 minutes later: t-user16
 * F4). timestamp(selector) at a step is the time of the newest sample
 * within the 5-minute lookback, so its steps every minute back from t
 * (under the lookback, none missed) give, at most, the newest at or
 * before t. One query_range of lb/60 steps (145 at 30d). Resolves to a
 * Map of series key (labels without __name__) to that time (s).
 */
export function sampleTimes(selector, t, lb, signal) {
  const step = Math.min(60, Math.max(1, Math.floor(lb)));
  const start = Math.round((t - Math.ceil(lb / step) * step) * 1000) / 1000;
  const key = (m) => seriesKey(Object.fromEntries(Object.entries(m || {}).filter(([k]) => k !== '__name__')));
  return batched('query_range', `timestamp(${selector})`, {start: String(start), end: String(t), step: String(step)}, signal).then((r) => {
    const out = new Map();
    for (const x of r || []) {
      let at = -Infinity;
      for (const [, v] of x.values || []) at = Math.max(at, Number(v));
      if (isFinite(at)) out.set(key(x.metric), at);
    }
    return out;
  });
}

/** GAP_MIN_STEP (s) is the least step whose points are checked for gaps: at shorter steps a gap longer than the lookback is a gap in the steps. */
export const GAP_MIN_STEP = 120;

/**
 * gapExpr is the samples per step of a rate expression's series (its
 * rate, irate and increase over the range's window made count_over_time
 * over a step), labelled as the expression's; null when it has none of
 * those or the step is under GAP_MIN_STEP.
 */
export function gapExpr(e, w) {
  if (w.step < GAP_MIN_STEP || !w.rw || !e.includes(`[${w.rw}]`) || !/\b(?:irate|rate|increase)\(/.test(e)) return null;
  return e.replace(/\b(?:irate|rate|increase)\(/g, 'count_over_time(').split(`[${w.rw}]`).join(`[${w.step}s]`);
}

/**
 * gapped adds to each series' partial points (markPartial) those on the
 * grid whose window may hold part of a step without a sample (counts:
 * gapExpr's matrix) between two with samples, or after the last when the
 * series has points after the grid, and notes them in gap (a Set of
 * times, as ended). Points after the grid (bridge, tail) are left to
 * bridgeCover; a series with samples in fewer than two thirds of its
 * steps is sampled too sparsely to tell, and a gap with no whole step in
 * it (under a step) is not seen.
 */
export function gapped(matrix, counts, w) {
  if (!counts) return matrix;
  const rw = parseFloat(w.rw);
  const g = w.gend != null ? w.gend : w.end;
  const key = labelKey;
  const steps = new Map();
  for (const s of counts) {
    const ts = (s.values || []).filter(([, v]) => parseFloat(v) > 0).map(([t]) => Number(t));
    // A series sampled less often than the step (a job pushing every 10
    // minutes at a 288 s step) misses steps by its nature: not a gap.
    if (ts.length < 2 || ts.length < 0.67 * ((ts.at(-1) - ts[0]) / w.step + 1)) continue;
    steps.set(key(s.metric), ts);
  }
  if (!steps.size) return matrix;
  return matrix.map((s) => {
    const ts = steps.get(key(s.metric));
    if (!ts) return s;
    // The steps without a sample between two with: and after the last,
    // up to the grid's last step, when the series has a point after the
    // grid (it came back: gmc restarted within the last window).
    const alive = (s.values || []).some(([t]) => Number(t) > g + 1e-3);
    const miss = [];
    for (let i = 1; i <= ts.length; i++) {
      const next = i < ts.length ? ts[i] : alive ? g + w.step : -Infinity;
      for (let u = ts[i - 1] + w.step; u < next - 1e-3; u += w.step) miss.push(u);
    }
    if (!miss.length) return s;
    const partial = new Set(s.partial || []);
    const gap = new Set(s.gap || []);
    for (const [t0] of s.values || []) {
      const t = Number(t0);
      if (t > g + 1e-3) continue;
      // The step u has no sample in (u − step, u]; the gap may reach into
      // the steps on either side (they have some): a point whose window
      // (t − rw, t] meets (u − 2·step, u + step] may hold part of it.
      if (miss.some((u) => t > u - 2 * w.step + 1e-3 && t - rw < u + w.step - 1e-3)) {
        partial.add(t);
        gap.add(t);
      }
    }
    return {...s, partial, gap};
  });
}

/**
 * COVER_STEP (s) is the grain at which a coverage count looks for data:
 * a minute, so a gap of a few minutes inside a window is seen whatever
 * the step (2.4 h at 30d).
 */
export const COVER_STEP = 60;

/**
 * coverExpr is the coverage count of a recorded series over each point's
 * reach (s): the minutes in it at which the series has a value (within
 * the lookback), and need, the count of a reach whole with data. The SLA
 * page's 1h ratio is recorded only while its hour holds data: a minute
 * without it is a minute the hours around it do not cover.
 */
export function coverExpr(selector) {
  return (reach) => {
    const r = Math.ceil(reach / COVER_STEP) * COVER_STEP;
    return {expr: `count_over_time((${selector})[${r}s:${COVER_STEP}s])`, need: r / COVER_STEP};
  };
}

/**
 * bridgeCover is the coverage count of the bridge's window (w.bw, the
 * time since the last step) of an expression over the range's window: the
 * minutes in it at which the expression over two minutes has a value, and
 * need, the count of a whole window less one at either end. Null for an
 * expression not read over its own window at the bridge (increase(),
 * lookbacks: see shortened) or a bridge shorter than 3 minutes.
 */
export function bridgeCover(expr, w) {
  if (w.bridge == null || !shortened(expr, w)) return null;
  const n = Math.floor(parseFloat(w.bw) / 1000 / COVER_STEP);
  if (n < 3) return null;
  const inner = expr.split(`[${w.rw}]`).join(`[${2 * COVER_STEP}s]`);
  return {expr: `count_over_time((${inner})[${n * COVER_STEP}s:${COVER_STEP}s])`, need: n - 2, at: w.bridge};
}

/**
 * covered adds to each series' partial points (markPartial) those whose
 * coverage count (counts: a matrix, by the series' labels but __name__;
 * cv.need, cv.at: only the point at that time) is short, or missing. The
 * tail (after w.gend: w.at) is matched as the tail.
 */
export function covered(matrix, counts, cv, w) {
  if (!cv) return matrix;
  const g = w.gend != null ? w.gend : Infinity;
  const bt = w.bridge != null ? w.bridge : null;
  const at = (t) => (t > g + 1e-3 && !(bt != null && Math.abs(t - bt) < 1e-3) ? 'tail' : Math.round(t * 1000));
  const key = labelKey;
  const by = new Map();
  for (const s of counts) {
    const c = new Map();
    for (const [t, v] of s.values || []) c.set(at(Number(t)), parseFloat(v));
    by.set(key(s.metric), c);
  }
  return matrix.map((s) => {
    const c = by.get(key(s.metric)) || new Map();
    const partial = new Set(s.partial || []);
    const gap = new Set(s.gap || []);
    // A short count in a window after the series' first value is a gap in
    // its data, not its start (markPartial's gap).
    const first = s.values && s.values.length ? Number(s.values[0][0]) : Infinity;
    for (const [t] of s.values || []) {
      if (cv.at != null && Math.abs(Number(t) - cv.at) > 1e-3) continue;
      if (!(c.get(at(Number(t))) >= cv.need)) {
        partial.add(Number(t));
        if (first < Number(t) - cv.need * COVER_STEP) gap.add(Number(t));
      }
    }
    return {...s, partial, gap};
  });
}

/**
 * markPartial finds the points of a range query over rate windows whose
 * window reaches before their series' data began (or before the end of a
 * gap in it), and drops the lead steps read before the range for it. Such
 * a point is not a rate over a whole window: rate() spreads the little
 * data it holds over the window (the Overview's 30d Orders legend read a
 * minimum of 516/s, the history's first 88 minutes over a 9h36m window,
 * where whole windows held ≥ 2,856/s). A non-empty value at a step means
 * the series had data then; a point is whole when its series had a value
 * at a step at least its window earlier, every step between with a value
 * too (a step without one is a window without data). Each series gets
 * partial: a Set of its partial points' times (align: y.partial).
 * A series with no value in the range is dropped, as the range query
 * alone would not have returned it.
 * reach (s), when given, is how far back every point's window reaches
 * (a recorded 1h ratio: 3600; its worst over each step: 3600 + step):
 * every point, the bridge and the tail too, is then partial unless its
 * series' run of values began at least that long before it (the tail's
 * window is the same hour as the others', so the rule can tell).
 * spread (default true): the expression is a rate, which spreads its data
 * over its window; false for a quantile or a ratio of rates (queryRange).
 * Each series keeps it (spread), for its legend: a rate over a partial
 * window reads low (the data seen spread over the whole window), a
 * quantile or a ratio is the figure of the data seen (chart.js).
 * lasts (lastSamples) and had (tailHad): what gmc said of the series'
 * last sample before a run's end and of data before the window of the
 * tail or the bridge (the one of them whose window begins before the
 * grid's last step).
 */
export function markPartial(matrix, w, lead, reach = null, spread = true, lasts = null, had = null) {
  if (!lead) return matrix;
  const lkey = labelKey;
  const rw = reach || parseFloat(w.rw);
  const g = w.gend != null ? w.gend : Infinity;
  // The grid's last step: a run of values that ends before it ended.
  const glast = w.gend != null ? w.gend : w.end;
  const from = w.start - 1e-6;
  // The bridge's time and window (s), when the window has one (span).
  const bt = w.gend != null && w.bridge != null ? w.bridge : null;
  const bw = bt != null ? parseFloat(w.bw) / 1000 : 0;
  const out = [];
  for (const s of matrix) {
    const partial = new Set();
    // gap: the partial points whose window reaches into a gap in the
    // series' data, not before it began: the series has a value before
    // the run the point is in (the Overview's 7d bridge over the
    // history/live gap was said to "reach before the data began", its
    // data begun weeks earlier, t-user13 F10d).
    const gap = new Set(s.gap || []);
    const first = s.values && s.values.length ? Number(s.values[0][0]) : null;
    const mark = (t, runAt) => {
      partial.add(t);
      if (first != null && runAt > first + 1e-6) gap.add(t);
    };
    const values = [];
    let run = null;
    let prev = null;
    for (const p of s.values || []) {
      const t = Number(p[0]);
      const before = prev;
      // The bridge and the tail are less than a step after the last step.
      if (prev == null || t - prev > w.step * 1.5) run = t;
      prev = t;
      if (t < from) continue;
      // The bridge is whole when its series had a value at the last step
      // (its data began before the bridge's window, which starts there)
      // in a run of steps begun a window before it.
      if (reach) {
        if (run > t - rw + 1e-6) mark(t, run);
      } else if (bt != null && Math.abs(t - bt) < 1e-3) {
        // Within tw of the step its window (tw) begins before it: had
        // tells a series begun at that step from one begun long before
        // (tailHad).
        if (before == null || Math.abs(before - g) > 1e-3 || (run > t - bw + 1e-6 && !(had && had.has(lkey(s.metric))))) mark(t, run);
      } else if (t <= g + 1e-3) {
        if (run > t - rw + 1e-6) mark(t, run);
      } else if ((spread || (first != null && run > first + 1e-6)) && (before == null || Math.abs(before - (bt != null ? bt : g)) > 1e-3 || (run > t - parseFloat(w.tw) + 1e-6 && !(had && had.has(lkey(s.metric)))))) {
        // The tail (now, over w.tw: a minute): its window begins where the
        // bridge's ends (or, without a bridge, within the last step's
        // window). Without a value there its series had no data at its
        // window's start: the data began (or came back) within it, and
        // its rate spread them over the whole window (the 7d Orders
        // legend's min 1.78k/s, a desk at 3k/s 36 s after its start,
        // t-user10 #1). With one, the tail is taken as whole: the steps
        // are too far apart to tell more (at 7d a series begun 15
        // minutes ago has no step before its bridge) -- unless that value
        // is of a run begun within the tail's window (a series begun 15 s
        // before a 7d step's end has a value there: its tail read 768/s,
        // a minute's rate over 15 s of data, as whole in a CI run of
        // TestBrowserDeskOrdersFirstMinute). A quantile or a ratio
        // (spread false) only where its run came back after a gap (a
        // value before the run): its steps are marked so whatever spread
        // (above), as Live's points are at each second, and its tail read
        // "p99 last 311 ms" solid on 15m where Live's newest point, over
        // the same 30 s holding a silence's end, was dashed (trial 29 F5).
        // Not where its data began within the window: those of the data
        // present are not lowered by the part of the window without data,
        // and a capped p99 of a service begun and gone within the minute
        // is its last word (TestBrowserCappedWhileDown).
        mark(t, run);
      }
      values.push(p);
    }
    // The end of a run (not for a recorded ratio: its value stays for
    // the lookback after the recording stops): a run of a rate that
    // stops before the grid's last step stopped a window after its data
    // did (rate() needs two samples in the window), so its points from a
    // window before its end reach past the last sample -- the line
    // sloped to zero over one rate window after a service stopped, a rate
    // over the data and the silence after it (t-user8 #8, t-user9 #6).
    // ended: the Set of those points' times (a subset of partial).
    // Where the time of the series' last sample before the run's end is
    // known (lasts: lastSamples), the points after it are those: the run
    // may have ended later than a window after it (a clause with its own
    // lookback cut it: t-user16 F1).
    const ended = new Set();
    if (!reach) {
      const vs = s.values || [];
      let runAt = 0;
      for (let i = 0; i < vs.length; i++) {
        const t = Number(vs[i][0]);
        const next = i + 1 < vs.length ? Number(vs[i + 1][0]) : Infinity;
        if (next - t <= w.step * 1.5) continue;
        // t ends a run: one that stopped if a later step of the grid had no value.
        if (t + w.step <= glast + 1e-3) {
          const last = lasts ? lasts.get(`${lkey(s.metric)}@${t}`) : undefined;
          const cut = last != null ? last : t - rw;
          for (let j = runAt; j <= i; j++) {
            const tj = Number(vs[j][0]);
            if (tj >= from && tj > cut + 1e-6) {
              partial.add(tj);
              ended.add(tj);
            }
          }
        }
        runAt = i + 1;
      }
    }
    const histograms = s.histograms ? s.histograms.filter((p) => Number(p[0]) >= from) : null;
    if (!values.length && !(histograms && histograms.length)) continue;
    // firstAt: the series' first value, its lead's too (markReturns).
    const x = {...s, values, partial, ended, gap, spread, firstAt: first};
    if (histograms) x.histograms = histograms;
    out.push(x);
  }
  return out;
}

/** keepPartial gives y (a copy of src made point by point) src's partial points, and returns it. */
export function keepPartial(src, y) {
  if (src && src.partial) y.partial = src.partial;
  if (src && src.ended) y.ended = src.ended;
  if (src && src.gap) y.gap = src.gap;
  if (src && src.spread !== undefined) y.spread = src.spread;
  return y;
}

/**
 * markStopped marks the points after their source's last sample: lastAt
 * (metric) is the time (s) of the newest sample of the service a series is
 * of when that service is not up now (/system/status's last_seen_ms), else
 * null. Each point after it is partial and ended (markPartial): its window
 * reaches past the last sample, so it is a figure of the data before it
 * and the silence since (a rate sloping to zero over one window, a gauge
 * held for the lookback), not of a running service: drawn dashed and left
 * out of min and max, while the legends say "down since …". markPartial
 * sees the same once the rate's run has ended; this is for the run still
 * going (within a rate window, or a gauge's lookback, of the stop).
 * Returns a new matrix (Live's cached series are not changed).
 */
export function markStopped(matrix, lastAt) {
  return matrix.map((s) => {
    const at = lastAt(s.metric);
    if (at == null) return s;
    const late = (s.values || []).filter((p) => Number(p[0]) > at + 1e-3).map((p) => Number(p[0]));
    if (!late.length) return s;
    const partial = new Set(s.partial || []);
    const ended = new Set(s.ended || []);
    for (const t of late) {
      partial.add(t);
      ended.add(t);
    }
    return {...s, partial, ended};
  });
}

/**
 * markSilences marks the points of rates, quantiles and ratios
 * (markPartial's spread true or false series) whose window holds part of
 * a silence of their source (silences(metric): the series' source's
 * [{from, until}], Unix s: no sample between the two; a page of one
 * service gives every series its own, the Overview each series its
 * service's). Each is partial and gap, drawn dashed: a rate over the data
 * around the silence spread over the whole window reads low, kept out of
 * min (the backtester's 1h Requests legend read min 1.27k/s for 20k/s a
 * few minutes after a 53 s silence, its points over windows holding it
 * drawn solid); a quantile or a ratio is of less data than its window
 * says (a p99 "last, over 1m" of the 14 s since a return was the 24h
 * range's max, solid: trial 31 F1), not the legend's last, in min or max
 * only where beyond every whole point and marked so (chart.js), as
 * markPartial's partial points of a quantile are. A point's window: the
 * tail's tw, the bridge's bw, the steps' rw (span). A silence with a
 * share marks only the points whose window holds more of it than that
 * share of the window. Returns a new matrix (Live's cached series are not
 * changed).
 */
export function markSilences(matrix, w, silences) {
  const win = pointWindow(w);
  const holds = (x, t) => {
    const held = Math.min(t, x.until) - Math.max(t - win(t), x.from);
    return t > x.from + 1e-3 && held > 1e-3 && (x.share == null || held > x.share * win(t));
  };
  return matrix.map((s) => {
    const xs = ((s.spread === true || s.spread === false) && silences(s.metric)) || [];
    if (!xs.length) return s;
    const hit = (s.values || []).map((p) => Number(p[0])).filter((t) => xs.some((x) => holds(x, t)));
    if (!hit.length) return s;
    const partial = new Set(s.partial || []);
    const gap = new Set(s.gap || []);
    for (const t of hit) {
      partial.add(t);
      gap.add(t);
    }
    return {...s, partial, gap};
  });
}

/** pointWindow gives the window (s) of a window's point at t (Unix s): the tail's tw, the bridge's bw, the steps' rw (span). */
export function pointWindow(w) {
  const g = w.gend != null ? w.gend : Infinity;
  const bt = w.gend != null && w.bridge != null ? w.bridge : null;
  return (t) => (bt != null && Math.abs(t - bt) < 1e-3 ? parseFloat(w.bw) / 1000 : t > g + 1e-3 ? parseFloat(w.tw) : parseFloat(w.rw));
}

/**
 * beganPoints are a series' partial points that markPartial (and the
 * marks after it) took as reaching before its data began: neither gap
 * nor ended. markPartial tells a gap only from a value earlier in the
 * matrix, so these are all of its first run of values.
 */
const beganPoints = (s) => [...(s.partial || [])].filter((t) => !(s.gap && s.gap.has(t)) && !(s.ended && s.ended.has(t)));

/**
 * runsBegan lists the series of a marked matrix (markPartial) with points
 * taken as reaching before their data began, each with b: the start of
 * the window of its first value (its lead's too, firstAt), before which
 * its run of values holds no data. Whether the series' data began there,
 * or came back after a silence longer than the matrix reaches (Live's
 * 5m30s, its window and lead), the matrix cannot tell: hadBefore can.
 * Returns [{metric, b}].
 */
export function runsBegan(matrix, w) {
  const win = pointWindow(w);
  return matrix.filter((s) => s.firstAt != null && beganPoints(s).length)
    .map((s) => ({metric: s.metric, b: s.firstAt - win(s.firstAt)}));
}

/**
 * hadBefore tells from gmc's answer to where raw series begin (st:
 * seriesStart's, asked up to st.end) whether a series of a query
 * (metric: its labels) had data at or before b (Unix s): true when a raw
 * series of the answer whose labels hold all of metric's has a sample
 * then; false when none has and the answer can tell (asked at or after
 * b, the raw store reaching b or gmc holding nothing older); else null
 * (not known: no answer, none of its raw series in it, asked before b,
 * or older data in the tiers only).
 */
export function hadBefore(st, metric, b) {
  if (!st) return null;
  const keys = Object.entries(metric || {}).filter(([k]) => k !== '__name__');
  const mine = st.series.filter((x) => keys.every(([k, v]) => x.metric[k] === v));
  if (mine.some((x) => x.first <= b + 1e-3)) return true;
  if (!mine.length || st.end == null || st.end < b - 1e-3) return null;
  if (st.rawFrom != null && st.rawFrom > b + 1e-3 && st.dataFrom != null && st.dataFrom < st.rawFrom - 1e-3) return null;
  return false;
}

/**
 * markReturns makes gap the points markPartial took as reaching before
 * their series' data began where the series had data before its run of
 * values (hadBefore: true): it came back after a silence longer than the
 * matrix reaches, and its first points' windows hold that silence. Those
 * were said to reach "before the data began" (a service back on Live
 * after 12 minutes, its data begun hours before). Where it is not known
 * (null) they stay as they are. Returns a new matrix.
 */
export function markReturns(matrix, w, st) {
  if (!st) return matrix;
  const win = pointWindow(w);
  return matrix.map((s) => {
    const pts = s.firstAt != null ? beganPoints(s) : [];
    if (!pts.length || hadBefore(st, s.metric, s.firstAt - win(s.firstAt)) !== true) return s;
    const gap = new Set(s.gap || []);
    for (const t of pts) gap.add(t);
    return {...s, gap};
  });
}

/** stoppedAt maps the services of a /system/status answer that are not up (nor a Pushgateway group) to their last sample's time (s). */
export function stoppedAt(services) {
  const m = new Map();
  for (const s of services || []) {
    if (s.state !== 'up' && s.state !== 'pushed' && s.last_seen_ms != null) m.set(s.service, s.last_seen_ms / 1000);
  }
  return m;
}

/** withTail appends each sample of an instant vector to the series of a matrix with its labels (a new series when none has them). */
export function withTail(matrix, vector) {
  const by = new Map(matrix.map((s) => [seriesKey(s.metric), s]));
  const out = matrix.slice();
  for (const x of vector) {
    const k = seriesKey(x.metric);
    let s = by.get(k);
    if (!s) {
      s = {metric: x.metric};
      out.push(s);
      by.set(k, s);
    } else {
      s = {...s};
      out[out.indexOf(by.get(k))] = s;
      by.set(k, s);
    }
    if (x.histogram) s.histograms = [...(s.histograms || []), x.histogram];
    if (x.value) s.values = [...(s.values || []), x.value];
  }
  return out;
}

/**
 * BATCH_LABEL tells apart the parts of a batched query. Queries of one
 * refresh sent in the same tick with the same parameters (window, time,
 * abort signal) go to the server as one PromQL query,
 * label_replace(q0, "__gmc_q", "0", "", "") or label_replace(q1, …) or …,
 * whose answer is split again by that label: a Live service page sends a
 * handful of requests a second instead of some thirty, which matters when
 * several tabs share the browser's six connections to gmc. If the batch
 * fails (one bad expression fails it all), each query is sent alone.
 */
const BATCH_LABEL = '__gmc_q';
let pending = [];

function batched(kind, expr, params, signal) {
  return new Promise((resolve, reject) => {
    // Range queries held as of a write state (since, held: the Live
    // cache's) join whatever their states and windows: the batch is asked
    // as of the oldest state, from the earliest held step and start (older
    // and earlier re-read more, never less; the cache drops what is before
    // its window), so answers got in one request stay in one the next
    // second (expressions without a rate window have no lead steps).
    const held = params.since ? {since: params.since, held: params.held, start: params.start} : null;
    const rest = held ? {...params, since: '*', held: '*', start: '*'} : params;
    const key = kind + '?' + new URLSearchParams(rest);
    let b = pending.find((x) => x.key === key && x.signal === signal);
    if (!b) {
      if (!pending.length) queueMicrotask(flush);
      b = {key, kind, params, signal, items: []};
      pending.push(b);
    } else if (held) {
      b.params = {...b.params, since: olderMark(b.params.since, held.since), held: String(Math.min(Number(b.params.held), Number(held.held))),
        start: String(Math.min(Number(b.params.start), Number(held.start)))};
    }
    b.items.push({expr, resolve, reject});
  });
}

/**
 * olderMark is the older of two of gmc's write states ("boot.tick",
 * Gmc-Writes); of two gmc processes', either (gmc then answers every
 * step: it knows its own only).
 */
function olderMark(a, b) {
  const [ba, ta] = a.split('.');
  const [bb, tb] = b.split('.');
  return ba === bb && Number(tb) < Number(ta) ? b : a;
}

function flush() {
  const bs = pending;
  pending = [];
  for (const b of bs) sendBatch(b);
}

/**
 * promQuery sends one query: GET, or POST with the parameters in the URL
 * when the query is long. A range query asked with since (live.js
 * RangeCache) has its answer's write state and first step evaluated in
 * result.writes and result.from (gmc's Gmc-Writes and Gmc-From headers;
 * see heldAs).
 */
async function promQuery(kind, expr, params, signal) {
  const p = new URLSearchParams(params);
  const meta = params.since != null ? {} : null;
  let body;
  if (expr.length <= 2000) {
    p.set('query', expr);
    body = await getJSON(`/api/v1/${kind}?` + p, signal, {}, false, meta);
  } else {
    body = await getJSON(`/api/v1/${kind}?` + p, signal, {method: 'POST', body: new URLSearchParams({query: expr}),
      headers: {'Content-Type': 'application/x-www-form-urlencoded'}}, false, meta);
  }
  return meta ? heldAs(body.data.result, meta.headers) : body.data.result;
}

/**
 * heldAs gives a range answer (or a part of a batched one) the write
 * state it is as of (writes: gmc's mark, the next request's since) and
 * its first step evaluated (from, Unix s: the steps before it were left
 * out, unchanged since the request's since); neither when gmc does not
 * watch its writes (remote storage mode).
 */
function heldAs(result, headers) {
  const writes = headers && headers.get('Gmc-Writes');
  const from = Number(headers && headers.get('Gmc-From'));
  if (writes && isFinite(from)) {
    result.writes = writes;
    result.from = from;
  }
  return result;
}

async function sendOne(b, it) {
  try {
    it.resolve(await promQuery(b.kind, it.expr, b.params, b.signal));
  } catch (e) {
    it.reject(e);
  }
}

async function sendBatch(b) {
  if (b.items.length === 1) return sendOne(b, b.items[0]);
  const expr = b.items.map((it, i) => `label_replace(${it.expr}, "${BATCH_LABEL}", "${i}", "", "")`).join(' or ');
  let res;
  try {
    res = await promQuery(b.kind, expr, b.params, b.signal);
  } catch (e) {
    if (e.name === 'AbortError' || (b.signal && b.signal.aborted)) {
      for (const it of b.items) it.reject(e);
      return;
    }
    await Promise.all(b.items.map((it) => sendOne(b, it)));
    return;
  }
  const parts = b.items.map(() => []);
  for (const s of res) {
    const m = {...s.metric};
    const i = Number(m[BATCH_LABEL]);
    delete m[BATCH_LABEL];
    if (parts[i]) parts[i].push({...s, metric: m});
  }
  b.items.forEach((it, i) => {
    if (res.writes) {
      parts[i].writes = res.writes;
      parts[i].from = res.from;
    }
    it.resolve(parts[i]);
  });
}

/** labelValues lists the values of a label on series matching a selector. */
export async function labelValues(name, match, w, signal) {
  const p = new URLSearchParams(match ? [['match[]', match]] : []);
  if (w) { p.set('start', String(w.start)); p.set('end', String(w.end)); }
  const body = await getJSON(`/api/v1/label/${encodeURIComponent(name)}/values?` + p, signal, {}, true);
  return body.data || [];
}

/**
 * seriesStart asks gmc where the raw series of the selectors (sels) begin,
 * up to end (Unix s): GET /api/v1/series_start (gmc's own, docs/compat.md),
 * from the TSDB's chunk index. Resolves to {rawFrom, dataFrom, series:
 * [{metric, first}], end}, first the series' earliest sample that is not a
 * staleness marker (Unix s), rawFrom the raw store's oldest sample and
 * dataFrom the oldest gmc holds, its tiers too (null: none).
 */
export async function seriesStart(sels, end, signal) {
  const p = new URLSearchParams(sels.map((s) => ['match[]', s]));
  p.set('end', String(end));
  const body = await getJSON('/api/v1/series_start?' + p, signal, {}, true);
  const d = body.data || {};
  return {rawFrom: d.raw_from ?? null, dataFrom: d.data_from ?? null, series: (d.series || []).filter((x) => x.first != null), end};
}

/**
 * seriesStarts keeps one page's answer to where the raw series of its
 * sources begin (seriesStart), asked once and handed out until it no
 * longer serves. Each source has a key (the Overview's: a service's name;
 * a service page's: its selectors, joined), sels are the selectors of the
 * keys asked, end (Unix s) the time asked up to:
 *
 * - answer(keys, sels, end, signal, maxAge): the kept answer while it
 *   holds every key and is younger than maxAge ms (default: no limit),
 *   else one asked now; a promise of it (null: the ask failed).
 * - tell(runs, keys, sels, end, signal): the answer that tells runs
 *   (runsBegan's, by hadBefore) where their series came back after a
 *   silence (markReturns): the kept one, asked again (once per return)
 *   when it does not hold keys or cannot tell a run whose window began
 *   after the time it was asked up to (a round later, the answer can);
 *   null without runs.
 *
 * A failed answer is kept as none (not asked again every refresh); an
 * aborted one is dropped and asked again (its promise rejects).
 */
export function seriesStarts() {
  let kept = null;
  const ask = (keys, sels, end, signal) => {
    const mine = {keys: new Set(keys), end, at: Date.now(), p: null};
    mine.p = seriesStart(sels, end, signal).catch((e) => {
      if (e.name !== 'AbortError') return null;
      if (kept === mine) kept = null;
      throw e;
    });
    kept = mine;
    return mine.p;
  };
  const holding = (keys, maxAge = Infinity) => (kept && keys.every((k) => kept.keys.has(k)) && Date.now() - kept.at <= maxAge ? kept : null);
  return {
    answer(keys, sels, end, signal, maxAge) {
      const k = holding(keys, maxAge);
      return k ? k.p : ask(keys, sels, end, signal);
    },
    async tell(runs, keys, sels, end, signal) {
      if (!runs.length) return null;
      const k = holding(keys);
      let aborted = false;
      const st = k ? await k.p.catch(() => { aborted = true; return null; }) : null;
      if (k && !aborted && !runs.some((x) => hadBefore(st, x.metric, x.b) == null && k.end < x.b - 1e-3)) return st;
      return ask(keys, sels, end, signal);
    },
  };
}

/**
 * align turns a matrix into uPlot data: x = every step of the window, one
 * y array per series (null where the series has no point). Native
 * histogram points are ignored (see histogramColumns). A y array whose
 * series has points over partial windows (markPartial) carries their
 * indices in y.partial (a Set): charts draw them apart, and their
 * legends give them as min or max only where beyond the whole points,
 * marked (chart.js; y.spread, as markPartial's); y.ended holds those of
 * them whose window reaches past the series' last sample (markStopped).
 */
export function align(result, w) {
  const {xs, n, index} = grid(w);
  const ys = result.map((s) => {
    const y = new Array(n).fill(null);
    for (const [t, v] of s.values || []) {
      const i = index(t);
      const f = parseFloat(v);
      if (i >= 0 && i < n && isFinite(f)) y[i] = f;
    }
    if (s.partial && s.partial.size) {
      const p = new Set();
      const e = new Set();
      const gp = new Set();
      for (const t of s.partial) {
        const i = index(t);
        if (i >= 0 && i < n && y[i] != null) {
          p.add(i);
          if (s.ended && s.ended.has(t)) e.add(i);
          if (s.gap && s.gap.has(t)) gp.add(i);
        }
      }
      if (p.size) y.partial = p;
      if (e.size) y.ended = e;
      if (gp.size) y.gap = gp;
      if (s.spread !== undefined) y.spread = s.spread;
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

/**
 * hostsStopped maps the hosts whose agent is not up now (hostState: by
 * the age of their newest sample, lastR, against their sampling interval,
 * perMinR; watching, /system/status's, when known) to their newest
 * sample's time (s): their charts' points after it are over windows
 * reaching past it (api.markStopped), as a stopped service's.
 */
export function hostsStopped(lastR, perMinR, by, watching = null) {
  const per = instantBy(perMinR, by);
  const m = new Map();
  for (const s of lastR) {
    const at = Number(s.value && s.value[0]);
    const last = parseFloat(s.value && s.value[1]);
    if (!isFinite(at) || !isFinite(last)) continue;
    const x = s.metric[by] ?? '';
    if (hostState(at - last, per.get(x), watching, at * 1000).state !== 'up') m.set(x, last);
  }
  return m;
}

/**
 * hostState is a host's state from its agent's newest sample: up within
 * 3 sample intervals (at least 5 s, the services' stale_after), stale within
 * 10 (at least 10 s), else down; the interval is read from the samples of
 * the last minute (1 s when unknown). No sample in the lookback: down.
 * Unknown instead of stale or down while gmc has watched for less than that
 * down threshold (watching, from /system/status: since its restart or its
 * ingest stall's end; nowMs on gmc's clock): the silence may be gmc's.
 */
export function hostState(age, perMin, watching, nowMs) {
  const every = perMin > 0 ? 60 / perMin : 1;
  const staleAfter = Math.max(5, 3 * every);
  const downAfter = Math.max(10, 10 * every);
  const st = age == null || !isFinite(age)
    ? {state: 'down', seen: 'no sample in 5m', why: 'no sample of node_cpu_seconds_total in the last 5 minutes'}
    : {state: age <= staleAfter ? 'up' : age <= downAfter ? 'stale' : 'down', seen: `${ago(Math.max(0, age))} ago`,
      why: `newest sample ${num(age)} s ago; the agent samples every ~${num(every)} s: up within ${num(staleAfter)} s, stale within ${num(downAfter)} s`};
  if (st.state === 'up' || !watching || !isFinite(nowMs) || nowMs - watching.from_ms > downAfter * 1000) return st;
  const ongoing = watching.cause === 'ingest_stall' && watching.until_ms == null;
  const why = holdText({...watching, judged_from_ms: ongoing ? null : watching.from_ms + downAfter * 1000});
  return {state: 'unknown', seen: `${why} · last sample ${st.seen}`, why: `not judged: ${why}; by its samples it would be ${st.state} (${st.why})`, hold: watching.cause};
}
