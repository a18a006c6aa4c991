// Risk: PnL, drawdown and exposure against its limit, for the desk
// (#/risk), one account (#/risk/acct-1) or one strategy of an account
// (#/risk/acct-1%2Fmomentum). Every money figure carries its account's
// currency (gmc_account_info); backtest and paper accounts are shown, but
// kept out of the desk's totals.
import {query, queryRange, align, last} from './api.js';
import {LineChart, panel, card, sparkline, topN, PALETTE} from './chart.js';
import {h, fill, add, units, kpi, pill, reEsc, when, dur, clock} from './util.js';
import * as Q from './queries.js';

/** money formats an amount with its currency: "−1.2M USD"; says so when the account states none (sig: units.money's, an axis's). */
export function money(v, cur, sig) {
  if (v == null || !isFinite(v)) return '–';
  return `${units.money.fmt(v, sig)} ${cur || '(no currency)'}`;
}

/** scopeOf reads the page argument: "" is the desk, "acct" an account, "acct/strategy" one strategy. */
export function scopeOf(arg) {
  if (!arg) return {};
  const i = arg.indexOf('/');
  return i < 0 ? {account: arg} : {account: arg.slice(0, i), strategy: arg.slice(i + 1)};
}

/**
 * below is how far now is below top, 0 when it is not: two sums of the same
 * values added in another order differ in the last bits (a drawdown of
 * exactly 0 read "4.55e-13 USD").
 */
function below(top, now) {
  const d = top - now;
  return d <= 1e-9 * Math.max(1, Math.abs(top), Math.abs(now)) ? 0 : d;
}

/**
 * maxInRange says the deepest drawdown of the range: read every FINE
 * second up to FINE_SPAN (exact); beyond, the chart's steps give a lower
 * bound (troughs between steps are not seen) and hi, when known, the most
 * it can be. The 1h tile said "≥ 904 USD (at the chart's 12s steps)" where
 * the raw 1 s data gave 1,264.9 (t-user6 #8).
 */
function maxInRange(text, w, fine, hi) {
  if (fine) return `max in range ${text} (read every ${FINE}s)` + spanFrom(w);
  if (w.step <= FINE) return `max in range ${text}` + spanFrom(w);
  return `max in range ≥ ${text} (at the chart's ${w.step}s steps)` + (hi ? `, at most ${hi}` : '') + spanFrom(w);
}

/**
 * spanFrom says where a range ending now begins when that is a minute or
 * more before now − its length: its points are on the step grid (the
 * first at the last step boundary − the length), and the peak, the
 * drawdowns and the table are all over that span (Risk 7d read the peak of
 * the last 7d25m, not saying so, t-user11 #2).
 */
function spanFrom(w) {
  if (w.gend == null || w.end - w.gend < 60) return '';
  return ` · from ${when(w.start * 1000)}, the chart's first step (${dur(Math.round(w.end - w.gend))} before now − ${dur(w.gend - w.start)})`;
}

/** FINE_SPAN is the longest range (s) read every FINE second for its deepest drawdown: 3h, 10,801 points of one series. */
export const FINE_SPAN = 3 * 3600;

/** pnlSel is the gmc_pnl selector of a scope, narrowed by extra (the desk's live accounts of one currency). */
function pnlSel(scope, extra) {
  const m = [];
  if (scope.account != null) m.push(`account=${JSON.stringify(scope.account)}`);
  if (scope.strategy != null) m.push(`strategy=${JSON.stringify(scope.strategy)}`);
  if (extra) m.push(extra);
  return `gmc_pnl${m.length ? `{${m.join(', ')}}` : ''}`;
}

/** deepest is the largest fall of ys below its running peak (gaps skipped), or null without data. */
export function deepest(ys) {
  let peak = -Infinity;
  let d = null;
  for (const v of ys) {
    if (v == null) continue;
    peak = Math.max(peak, v);
    d = Math.max(d ?? 0, peak - v);
  }
  return d;
}

/**
 * rangeDrawdown is the deepest drawdown of sum(gmc_pnl) of a scope in the
 * range w. Up to FINE_SPAN it reads the sum every FINE second (the demo's
 * and a scrape's raw interval at most): {exact: d, peak}, peak the sum's
 * highest then (the peak the drawdown now is below). Beyond, {hi: d}: the
 * most it can be, from each step's bounds — the running sum of each
 * series' own raw highest (a peak the sum cannot pass) less the sum of
 * their raw lowest in the step (a trough it cannot pass).
 */
export async function rangeDrawdown(scope, extra, w, signal) {
  const sel = pnlSel(scope, extra);
  if (w.end - w.start <= FINE_SPAN) {
    const r = await queryRange(`sum(${sel})`, {start: Math.floor(w.start), end: Math.ceil(w.end), step: FINE}, signal);
    const ys = r.length ? r[0].values.map(([, v]) => parseFloat(v)) : [];
    return {exact: deepest(ys), peak: highest(ys)};
  }
  const [hiR, loR] = await Promise.all([
    queryRange((lb) => `sum(max_over_time(${sel}[${lb}]))`, w, signal),
    queryRange((lb) => `sum(min_over_time(${sel}[${lb}]))`, w, signal),
  ]);
  if (!hiR.length || !loR.length) return {hi: null};
  const H = inRange(align(hiR, w).ys[0]);
  const L = inRange(align(loR, w).ys[0]);
  let peak = -Infinity;
  let d = null;
  H.forEach((v, i) => {
    if (v != null) peak = Math.max(peak, v);
    if (L[i] != null && peak > -Infinity) d = Math.max(d ?? 0, peak - L[i]);
  });
  return {hi: d};
}

/**
 * drawdown is, at each point, how far the series is below its running
 * peak within the range (0 at a new high). peaks, when given, are the
 * highest values within each step's window: a peak between two of the
 * steps' samples counts (the step samples alone lost it, t-user3 #2).
 * troughs, when given, are the lowest within each step's window: a point
 * but the last (the range's end, now) is then the deepest of its step,
 * its trough below the peak before the step (the chart's legend said max
 * 100 beside a tile's 1.3k read every second, t-user6 #8). falls, when
 * given, are each step's deepest fall below a peak within the step: a
 * peak and a trough inside one step (a step's highest and lowest do not
 * say which came first).
 */
export function drawdown(ys, peaks, troughs, falls) {
  let peak = -Infinity;
  return ys.map((v, i) => {
    const before = peak;
    const p = peaks ? peaks[i] : null;
    if (p != null) peak = Math.max(peak, p);
    if (v == null) return null;
    peak = Math.max(peak, v);
    // The last point is the range's end (now), as the tile's "now".
    const inner = i < ys.length - 1;
    const tr = troughs && inner ? troughs[i] : null;
    const fall = falls && inner && falls[i] != null ? falls[i] : 0;
    return Math.max(peak - v, fall, tr != null && before > -Infinity ? before - tr : 0);
  });
}

/** highest is the largest of the values given (ignoring gaps), or null. */
function highest(...lists) {
  let m = null;
  for (const l of lists) for (const v of l || []) if (v != null && (m == null || v > m)) m = v;
  return m;
}

/**
 * inRange blanks the points of step-window series (a step's peak, trough,
 * highest or fall: each over the step before its point) whose window is
 * not within the range: the first point is the range's start, its window
 * the step before the range (and a fall's inner peak reaches a step
 * further back, so its second too, before: 2). A peak there is not the
 * range's: the 7d desk drawdown took one 50 minutes before its range,
 * 76.2k USD where the range's own data said 61.6k and the table 52.8k on
 * one account (t-user10 #2).
 */
function inRange(ys, before = 1) {
  if (!ys) return ys;
  const out = ys.slice();
  for (let i = 0; i < Math.min(before, out.length); i++) out[i] = null;
  return out;
}

/**
 * within is the lowest (f = Math.min) or highest (Math.max) of ext (each
 * step's extreme within its window) at the steps where ys has a point;
 * null when none.
 */
function within(ext, ys, f) {
  return ext ? ext.filter((v, i) => v != null && ys[i] != null).reduce((a, v) => (a == null ? v : f(a, v)), null) : null;
}

/**
 * useBounds is a row's limit utilisation (%) within step i as bounds: hi
 * the most it can have been (each kind's highest exposure, |net| for net,
 * over its lowest limit in the step), lo the least (the lowest over the
 * highest limit); hiExact when every limit held through the step (hi was
 * then reached: the highest exposure over the limit), loExact when, too,
 * the row has one kind (with two, their lows need not be at one time).
 * Exact for a row of one series a kind, as expMax. Null without data.
 */
export function useBounds(r, i) {
  const at = (ys) => (ys ? ys[i] : null);
  const kinds = [];
  const add = (hi, lo, lmin, lmax) => {
    if (hi == null || lo == null || !(lmin > 0) || lmax == null) return;
    kinds.push({hi: (100 * hi) / lmin, lo: (100 * lo) / lmax, held: lmax - lmin <= 1e-12 * Math.abs(lmax)});
  };
  add(at(r.grossHi), at(r.grossLo), at(r.limGMin), at(r.limGMax));
  const nh = at(r.netHi);
  const nl = at(r.netLo);
  if (nh != null && nl != null) add(Math.max(Math.abs(nh), Math.abs(nl)), nl > 0 ? nl : nh < 0 ? -nh : 0, at(r.limNMin), at(r.limNMax));
  if (!kinds.length) return null;
  return {
    hi: Math.max(...kinds.map((k) => k.hi)), lo: Math.max(...kinds.map((k) => k.lo)),
    hiExact: kinds.every((k) => k.held), loExact: kinds.length === 1 && kinds[0].held,
  };
}

/** USE_BUDGET is how many steps useExtremes reads every FINE second per round, USE_ROUNDS how many rounds at most. */
export const USE_BUDGET = 4;
export const USE_ROUNDS = 2;

/**
 * useExtremes sets each row's utilisation max and min over the range
 * (r.useMax, r.useMin) true of the raw data within FINE: per step, where
 * every limit held the highest exposure over it (exact), else the values
 * reached at the step and read every res s (r.useHiS, r.useLoS); a step
 * whose bounds (useBounds) pass those is read again every FINE second (the
 * rows' utilisation in PromQL), the furthest first, USE_BUDGET a round,
 * USE_ROUNDS rounds. Where steps are left, r.useMost and r.useLeast are
 * the most and least the max and min can be. With a moving limit (the
 * demo's: the price), the highest exposure over the limit at the step
 * read 10.3 % where the utilisation reached 10.40 % (t-user14 F3).
 */
export async function useExtremes(q, rows, xs, w, res, signal) {
  const fine = res <= FINE;
  const st = rows.map((r) => {
    const steps = [];
    let hi = null;
    let lo = null;
    r.use.forEach((u, i) => {
      if (u == null) return;
      hi = hi == null ? u : Math.max(hi, u);
      lo = lo == null ? u : Math.min(lo, u);
      if (i === 0) return; // its window is before the range (inRange)
      const b = useBounds(r, i);
      if (!b) return;
      const rh = [u, r.useHiS && r.useHiS[i]].filter((v) => v != null);
      const rl = [u, r.useLoS && r.useLoS[i]].filter((v) => v != null);
      hi = Math.max(hi, b.hiExact ? b.hi : Math.max(...rh));
      lo = Math.min(lo, b.loExact ? b.lo : Math.min(...rl));
      // Read every FINE second already (res), the step is known.
      if (fine) return;
      if (!b.hiExact || !b.loExact) steps.push({i, hi: b.hiExact ? null : b.hi, lo: b.loExact ? null : b.lo});
    });
    return {r, hi, lo, steps};
  });
  // The steps whose bounds pass a row's max or min found, and by how much (relative).
  const open = () => {
    const gain = new Map();
    for (const s of st) {
      for (const p of s.steps) {
        const g = Math.max(p.hi != null && s.hi != null && p.hi > s.hi * (1 + 1e-9) ? (p.hi - s.hi) / Math.max(s.hi, 1e-9) : 0,
          p.lo != null && s.lo != null && p.lo < s.lo * (1 - 1e-9) ? (s.lo - p.lo) / Math.max(s.lo, 1e-9) : 0);
        if (g > 0) gain.set(p.i, Math.max(gain.get(p.i) || 0, g));
      }
    }
    return [...gain.entries()].sort((a, b) => b[1] - a[1]).map(([i]) => i);
  };
  const key = (m) => `${m.account || ''}\u0000${m.strategy || ''}`;
  const tailAt = w.gend != null ? xs.length - 1 : -1;
  let read = 0;
  for (let round = 0; round < USE_ROUNDS; round++) {
    const todo = open().slice(0, USE_BUDGET);
    if (!todo.length) break;
    read += todo.length;
    const got = await Promise.all(todo.map((i) => {
      // The bridge and the tail (api.span): since the point before.
      const span = w.gend != null && xs[i] > w.gend + 1e-3 ? Math.max(1, Math.round(xs[i] - xs[i - 1])) : w.step;
      const t = i === tailAt ? w.at : xs[i];
      return Promise.all([query(q.useHi(span, FINE), t, signal), query(q.useLo(span, FINE), t, signal)]);
    }));
    todo.forEach((i, j) => {
      const [hs, ls] = got[j];
      const hv = new Map(hs.map((x) => [key(x.metric), parseFloat(x.value[1])]));
      const lv = new Map(ls.map((x) => [key(x.metric), parseFloat(x.value[1])]));
      for (const s of st) {
        const k = `${s.r.account}\u0000${s.r.strategy}`;
        const p = s.steps.find((x) => x.i === i);
        if (!p) continue;
        // Read every FINE second, the step is known: its bounds are done with.
        p.hi = null;
        p.lo = null;
        if (isFinite(hv.get(k))) s.hi = s.hi == null ? hv.get(k) : Math.max(s.hi, hv.get(k));
        if (isFinite(lv.get(k))) s.lo = s.lo == null ? lv.get(k) : Math.min(s.lo, lv.get(k));
      }
    });
  }
  for (const s of st) {
    s.r.useMax = s.hi;
    s.r.useMin = s.lo;
    const most = Math.max(...s.steps.filter((p) => p.hi != null).map((p) => p.hi));
    const least = Math.min(...s.steps.filter((p) => p.lo != null).map((p) => p.lo));
    s.r.useMost = s.hi != null && most > s.hi * (1 + 1e-9) ? most : null;
    s.r.useLeast = s.lo != null && least < s.lo * (1 - 1e-9) ? least : null;
  }
  return read;
}

/** FINE is the resolution (s) a peak is read at when it must be exact: the raw interval of the demo and of a scrape at most. */
export const FINE = 1;

/**
 * sumPeak finds the highest value of sum(gmc_pnl{extra}) in the range w
 * at FINE resolution without reading the whole range so finely (a 7d
 * range at 1 s took 5.5 s). Per step, the sum sampled every res seconds
 * (lo) is a value it reached, and the sum of each series' own raw highest
 * (hi) one it cannot pass; steps whose hi passes the best peak found are
 * read again every FINE second, highest hi first, at most budget of them.
 * Returns {peak, upper, exact, peaks}: peaks per step (lo, refined where
 * read again); upper the most the peak can be (= peak when exact). At 7d
 * the sampled peak alone (every 403 s) missed the demo's live peaks: a
 * drawdown of 0 where the raw data gave ~500 USD (t-user4 #1).
 *
 * known, when given, is a promise (asked beside lo and hi) of whether the
 * caller has the range's peak read every FINE second over the whole range
 * (rangeDrawdown's up to FINE_SPAN) and needs no more of this: every step
 * read again lies in that range on the same FINE grid, so it cannot pass
 * that peak, and no step is read again (a third round trip on Risk's
 * loads, after the charts' and the drawdown's, ~100 ms of a 1h load).
 * exact is then false where steps were left, as without reading them.
 */
export async function sumPeak(q, extra, w, res, signal, budget = 4, known = null) {
  const [lo, hi, done] = await Promise.all([
    queryRange(q.stepPeak('', w.step, res, extra), w, signal),
    queryRange((lb) => q.stepMax('', lb, extra), w, signal),
    known,
  ]);
  if (done) budget = 0;
  const L = lo.length ? inRange(align(lo, w).ys[0]) : null;
  const H = hi.length ? align(hi, w) : null;
  if (!H) return {peak: highest(L), upper: highest(L), exact: true, peaks: L};
  H.ys[0] = inRange(H.ys[0]);
  const peaks = (L || H.ys[0].map(() => null)).slice();
  let best = highest(peaks);
  const order = H.ys[0].map((v, i) => [v, i]).filter(([v]) => v != null).sort((a, b) => b[0] - a[0]);
  const tailAt = w.gend != null ? H.xs.length - 1 : -1;
  // The steps to read again: those whose hi passes the peak sampled,
  // highest first, at most budget of them, read at once (one round trip;
  // one after the other, stopping when the peak found passed the next
  // step's hi, took up to budget round trips: Risk's last 600 ms at load
  // 13). A step read that the sequential search would have skipped only
  // refines its peak; the peak, its bound and exactness are the same.
  const read = [];
  for (const [u, i] of order) {
    if (read.length >= budget || (best != null && u <= best + 1e-9 * Math.abs(best))) break;
    read.push(i);
  }
  const rs = await Promise.all(read.map((i) => {
    // One raw series in the step, or its peak read every FINE second.
    // The bridge and the tail (api.span): since the point before.
    const span = w.gend != null && H.xs[i] > w.gend + 1e-3 ? Math.max(1, Math.round(H.xs[i] - H.xs[i - 1])) : w.step;
    return query(q.stepPeak('', span, FINE, extra), i === tailAt ? w.at : H.xs[i], signal);
  }));
  read.forEach((i, j) => {
    const r = rs[j];
    const v = r.length ? parseFloat(r[0].value[1]) : null;
    if (v != null && isFinite(v)) {
      peaks[i] = peaks[i] == null ? v : Math.max(peaks[i], v);
      best = best == null ? v : Math.max(best, v);
    }
  });
  const k = read.length;
  const left = order.slice(k).filter(([u]) => best == null || u > best + 1e-9 * Math.abs(best));
  const upper = left.length ? Math.max(best ?? -Infinity, left[0][0]) : best;
  return {peak: best, upper, exact: !left.length, peaks};
}

function addYs(a, b) {
  if (!a) return b.slice();
  return a.map((v, i) => (v == null && b[i] == null ? null : (v || 0) + (b[i] || 0)));
}

/** moneyUnit is a chart unit for amounts in the given currencies (one: every value carries it). */
function moneyUnit(curs) {
  const one = curs.length === 1 ? curs[0] : null;
  return {fmt: (v, sig) => (one != null ? money(v, one, sig) : units.money.fmt(v, sig)), label: one != null ? '' : curs.join(' · '), cur: curs.join(' ')};
}

/** setUnit changes a chart's unit; the chart is rebuilt at its next update. */
function setUnit(c, unit) {
  if (c.chart.unit.label === unit.label && c.chart.unit.cur === unit.cur) return;
  c.chart.unit = unit;
  c.chart.key = '';
}

export function mount(main, ctx) {
  const scope = scopeOf(ctx.arg);
  const level = scope.strategy != null ? 'strategy' : scope.account != null ? 'account' : 'desk';
  const kpis = h('div', {class: 'kpis'});
  const grid = h('div', {class: 'grid'});
  const mk = (id, title, note, unit, min) => panel(grid, title, note, LineChart, {id, unit, min});
  const by = level === 'desk' ? 'by account' : level === 'account' ? 'by strategy' : '';
  const C = {
    pnl: mk('pnl', 'PnL', by, units.money),
    dd: mk('drawdown', 'Drawdown', 'below the running peak of this range, the deepest in each step (the last: now)' + (by ? ', ' + by : ''), units.money, 0),
    use: mk('limit-use', 'Limit utilisation', 'exposure / limit; dashed: the limit (100%)', units.pct, 0),
    gross: mk('gross', level === 'desk' ? 'Gross exposure' : 'Gross exposure and limit', level === 'desk' ? 'by account' : 'dashed: limit', units.money, 0),
    net: mk('net', 'Net exposure', by, units.money),
    // On the desk page, backtest and paper PnL apart from the desk's.
    other: mk('pnl-other', 'Backtest and paper PnL', 'not in the desk total', units.money),
  };
  C.other.card.el.hidden = true;
  const tbl = card(level === 'desk' ? 'Accounts and strategies' : level === 'account' ? 'Strategies' : 'Strategy', {wide: true});
  const crumbs = [h('a', {href: ctx.href('risk', '')}, 'Risk')];
  if (scope.account != null) crumbs.push(' › ', scope.strategy != null ? h('a', {href: ctx.href('risk', scope.account)}, scope.account) : scope.account);
  if (scope.strategy != null) crumbs.push(' › ', scope.strategy);
  add(main, h('div', {class: 'page-head'}, h('h1', {'data-level': level}, crumbs)), kpis, grid, tbl.el);

  return {
    async refresh(w, signal) {
      const q = Q.risk(scope);
      const R = Math.max(1, Math.round(w.end - w.start)) + 's';
      // Peaks within each step, read at a twentieth of a step (at least
      // 1s: the demo's and a scrape's raw interval) for the drawdown.
      const res = Math.max(1, Math.round(w.step / 20));
      const groupBy = level === 'desk' ? 'account' : 'account, strategy';
      const [pnl, exp, lim, info, pnlNow, peak, members, gPeak, gMax, gTrough, gMin, gFall, eMax, eMin, gEMax, gEMin, lMin, lMax, uHi, uLo] = await Promise.all([
        queryRange(q.pnl, w, signal), queryRange(q.exposure, w, signal), queryRange(q.limit, w, signal),
        // Now (a range ending now) or at the range's end; now goes out with the charts' tails (api.queryRange).
        ...[Q.riskAccounts(R), q.pnl, q.peak(R), q.members(groupBy, R)].map((e) => query(e, w.gend != null ? w.at : w.end, signal)),
        queryRange(q.stepPeak(groupBy, w.step, res), w, signal),
        queryRange((lb) => q.stepMax(groupBy, lb), w, signal),
        // Troughs within each step, as the peaks: a group's sum read every
        // res seconds, a group of one series its raw lowest.
        queryRange(`min_over_time(sum by (${groupBy}) (${pnlSel(scope)})[${w.step}s:${res}s])`, w, signal),
        queryRange((lb) => `sum by (${groupBy}) (min_over_time(${pnlSel(scope)}[${lb}]))`, w, signal),
        queryRange(q.stepFall(groupBy, w.step, res), w, signal),
        // The exposure's highest and lowest within each step, for the
        // legends (at the steps alone, 30d read a strategy's utilisation
        // max 6.94 % where it reached 11.4 %, t-user13 F1).
        queryRange(q.expMax, w, signal), queryRange(q.expMin, w, signal),
        queryRange(q.expPeak(groupBy, w.step, res), w, signal), queryRange(q.expTrough(groupBy, w.step, res), w, signal),
        // The limit's lowest and highest within each step and the
        // utilisation read every res there: its max and min between the
        // steps while the limit moves (useExtremes).
        queryRange(q.limMin, w, signal), queryRange(q.limMax, w, signal),
        queryRange(q.useHi(w.step, res), w, signal), queryRange(q.useLo(w.step, res), w, signal),
      ]);
      // Accounts: currency and mode as stated in gmc_account_info; an
      // account that states none is live (its name saying "backtest" makes
      // it a backtest) and has no currency.
      const acct = new Map();
      for (const s of info) acct.set(s.metric.account || '', {currency: s.metric.currency || '', mode: s.metric.mode || 'live', stated: true});
      const meta = (a) => acct.get(a) || {currency: '', mode: /backtest/i.test(a) ? 'backtest' : 'live', stated: false};

      const P = align(pnl, w);
      const E = align(exp, w);
      const L = align(lim, w);
      const key = (m) => `${m.account || ''}\u0000${m.strategy || ''}`;
      const rows = new Map();
      const row = (m) => {
        const k = key(m);
        if (!rows.has(k)) {
          const a = meta(m.account || '');
          rows.set(k, {account: m.account || '', strategy: m.strategy || '', ...a, pnl: null, gross: null, net: null, limGross: null, limNet: null, use: null});
        }
        return rows.get(k);
      };
      pnl.forEach((s, i) => { row(s.metric).pnl = P.ys[i]; });
      exp.forEach((s, i) => { const r = row(s.metric); if (s.metric.kind === 'net') r.net = E.ys[i]; else r.gross = E.ys[i]; });
      lim.forEach((s, i) => { const r = row(s.metric); if (s.metric.kind === 'net') r.limNet = L.ys[i]; else r.limGross = L.ys[i]; });
      // Each row's highest and lowest within each step (first point
      // blanked: its window is before the range).
      const EX = align(eMax, w);
      const EN = align(eMin, w);
      eMax.forEach((s, i) => { row(s.metric)[s.metric.kind === 'net' ? 'netHi' : 'grossHi'] = inRange(EX.ys[i]); });
      eMin.forEach((s, i) => { row(s.metric)[s.metric.kind === 'net' ? 'netLo' : 'grossLo'] = inRange(EN.ys[i]); });
      const LN = align(lMin, w);
      const LX = align(lMax, w);
      lMin.forEach((s, i) => { row(s.metric)[s.metric.kind === 'net' ? 'limNMin' : 'limGMin'] = inRange(LN.ys[i]); });
      lMax.forEach((s, i) => { row(s.metric)[s.metric.kind === 'net' ? 'limNMax' : 'limGMax'] = inRange(LX.ys[i]); });
      const UH = align(uHi, w);
      const UL = align(uLo, w);
      uHi.forEach((s, i) => { row(s.metric).useHiS = inRange(UH.ys[i]); });
      uLo.forEach((s, i) => { row(s.metric).useLoS = inRange(UL.ys[i]); });
      const pNow = new Map(pnlNow.map((s) => [key(s.metric), parseFloat(s.value[1])]));
      const pPeak = new Map(peak.map((s) => [key(s.metric), parseFloat(s.value[1])]));
      for (const [k, r] of rows) {
        // Utilisation: the larger of gross / gross limit and |net| / net limit.
        const u = [];
        if (r.gross && r.limGross) u.push(r.gross.map((v, i) => (v == null || !r.limGross[i] ? null : (100 * v) / r.limGross[i])));
        if (r.net && r.limNet) u.push(r.net.map((v, i) => (v == null || !r.limNet[i] ? null : (100 * Math.abs(v)) / r.limNet[i])));
        const higher = (a, b) => a.map((v, i) => (v == null ? b[i] : b[i] == null ? v : Math.max(v, b[i])));
        r.use = u.length ? u.reduce(higher) : null;
        r.pnlNow = pNow.has(k) ? pNow.get(k) : null;
        r.dd = pNow.has(k) && pPeak.has(k) ? pPeak.get(k) - pNow.get(k) : null;
      }
      const all = [...rows.values()].sort((a, b) => a.account.localeCompare(b.account) || a.strategy.localeCompare(b.strategy));
      const inDesk = (r) => r.mode === 'live';
      const name = (r) => (level === 'desk' ? r.account || '(none)' : r.strategy || `${r.account} (account)`);

      // The drawdown tile's reads (the peak per step, read again every
      // FINE second where it may be higher, and the range read every FINE
      // second) need only the rows and the figures now: they go out now,
      // before the charts are drawn (~100 ms of script and uPlot at 1h),
      // not after (a round trip that waited for the drawing).
      const perCur = (rs, f) => {
        const m = new Map();
        for (const r of rs) {
          if (f(r) == null) continue;
          m.set(r.currency, (m.get(r.currency) || 0) + f(r));
        }
        return m;
      };
      // A strategy's own rows when the account has them, else its account row.
      const leaves = all.filter((r) => r.strategy || !all.some((x) => x.account === r.account && x.strategy));
      const live = leaves.filter(inDesk);
      const other = leaves.filter((r) => !inDesk(r));
      const pnlLive = perCur(live, (r) => r.pnlNow);
      // A step's peak read again cannot pass the peak of the range read
      // every FINE second (the same grid, within the range: sumPeak's
      // known): where that is read and the figure now is known, the tile
      // needs no step read again (drawdown now = that peak − now).
      const fineKnown = (deep, now) => deep.then((d) => d.peak != null && now != null, () => false);
      let deskDD = null;
      let ownDD = null;
      const rsOwn = level === 'strategy' ? all : leaves;
      const tot = perCur(rsOwn, (r) => r.pnlNow);
      const oneOwn = tot.size === 1 ? [...tot.values()][0] : null;
      if (level === 'desk') {
        const cs = [...new Set(live.filter((r) => r.pnl).map((r) => r.currency))].sort();
        const extras = cs.map((c) => `account=~${JSON.stringify([...new Set(live.filter((r) => r.currency === c).map((r) => r.account))].map(reEsc).join('|'))}`);
        const deeps = extras.map((x) => rangeDrawdown(scope, x, w, signal));
        deskDD = {cs, got: Promise.all([
          Promise.all(extras.map((x, i) => sumPeak(q, x, w, res, signal, 4, fineKnown(deeps[i], pnlLive.get(cs[i]))))),
          Promise.all(deeps),
        ])};
      } else {
        const deep = rangeDrawdown(scope, '', w, signal);
        ownDD = Promise.all([sumPeak(q, '', w, res, signal, 4, fineKnown(deep, oneOwn)), deep]);
      }
      // The utilisation legends' max and min, read between the steps
      // with the drawdown's reads.
      const useS = all.filter((r) => r.use).map((r) => ({label: `${r.account} / ${r.strategy || 'account'}`, data: r.use, row: r}));
      const useTop = topN(useS, 10, (ys) => last(ys) ?? 0);
      const useDone = useExtremes(q, useTop.map((s) => s.row), P.xs, w, res, signal);
      // Every chart, tile and the table are drawn together once these
      // are in (below, in one task), so the page shows one moment: the
      // charts drawn first showed a second the table, drawn after these
      // reads, did not yet (a trial's table read acct-1 net +7.9k beside
      // the legends' last −23.4k, the exposure of the next second).
      // A failed read of these (not an abort) leaves the charts, the
      // table and the other tiles drawn: the drawdown tile says it does not
      // know, the utilisation legends give their steps' own extremes and say why.
      const kept = (p) => p.then((v) => ({v}), (e) => (e.name === 'AbortError' ? Promise.reject(e) : {err: e}));
      const [ddR, useR] = await Promise.all([kept(deskDD ? deskDD.got : ownDD), kept(useDone)]);
      const ddGot = ddR.v;
      const useRead = useR.v;
      const ddUnknown = (label) => kpi(label, 'not known', null, `its peak's read failed: ${ddR.err.message || ddR.err}`);

      // Groups the charts draw: accounts on the desk page (strategy rows
      // summed; an account-level row only when it has no strategy rows),
      // strategies on an account's page, the one strategy on its own.
      const groups = new Map();
      for (const r of all) {
        const g = level === 'desk' ? r.account : r.strategy;
        const cur = groups.get(g) || {label: name(r), currency: r.currency, mode: r.mode, rows: []};
        cur.rows.push(r);
        groups.set(g, cur);
      }
      const sumOf = (rs, f) => {
        const own = rs.filter((r) => r.strategy);
        const use = own.length ? own : rs;
        let acc = null;
        for (const r of use) if (r[f]) acc = addYs(acc, r[f]);
        return acc;
      };
      // The desk's charts draw live accounts (backtest and paper apart).
      const curs = [...new Set([...groups.values()].filter((g) => level !== 'desk' || g.mode === 'live').map((g) => g.currency))].sort();
      const mixed = curs.length > 1;
      const lbl = (g) => g.label + (mixed ? ` (${g.currency || 'no currency'})` : '') + (g.mode !== 'live' ? ` · ${g.mode}` : '');
      const mu = moneyUnit(curs);
      for (const c of [C.pnl, C.dd, C.gross, C.net]) setUnit(c, mu);
      const byAbs = (ys) => Math.abs(last(ys) ?? 0);
      const show = (c, series, note) => {
        const t = topN(series, 10, byAbs);
        c.card.note.textContent = series.length > 10 ? `top 10 of ${series.length}` : note;
        c.chart.update(P.xs, t);
      };
      // Each group's peak within each step (the chart's running peak).
      // A group of one raw series: its own raw highest in each step (as
      // the table's); of several: the sum sampled every res seconds (a
      // peak between two samples is missed; the note says so).
      const gk = (m) => (level === 'desk' ? m.account || '' : m.strategy || '');
      const one = new Set(members.filter((s) => parseFloat(s.value[1]) === 1).map((s) => gk(s.metric)));
      const GP = align(gPeak, w);
      const GM = align(gMax, w);
      const gPeaks = new Map(gPeak.map((s, i) => [gk(s.metric), inRange(GP.ys[i])]));
      gMax.forEach((s, i) => { if (one.has(gk(s.metric))) gPeaks.set(gk(s.metric), inRange(GM.ys[i])); });
      const GT = align(gTrough, w);
      const GN = align(gMin, w);
      const gTroughs = new Map(gTrough.map((s, i) => [gk(s.metric), inRange(GT.ys[i])]));
      gMin.forEach((s, i) => { if (one.has(gk(s.metric))) gTroughs.set(gk(s.metric), inRange(GN.ys[i])); });
      const GF = align(gFall, w);
      const gFalls = new Map(gFall.map((s, i) => [gk(s.metric), inRange(GF.ys[i], 2)]));
      const sampled = members.some((s) => parseFloat(s.value[1]) > 1) ? `; peaks and troughs of a sum of series read every ${res}s` : '';
      const pnlS = [];
      const ddS = [];
      const otherS = [];
      for (const [gk, g] of groups) {
        const ys = sumOf(g.rows, 'pnl');
        if (!ys) continue;
        // Its legend's min and max: the lowest and highest within each
        // step, not only at the steps (a spike between two read 900 where
        // the PnL reached 1000); the backtest and paper accounts' too
        // (t-user15 F4: 30d min −1.31k USD where the backtest reached −2.19k).
        const ext = (l, f) => (l ? l.filter((v, i) => v != null && ys[i] != null).reduce((a, v) => (a == null ? v : f(a, v)), null) : null);
        const line = {label: lbl(g), data: ys, lo: ext(gTroughs.get(gk), Math.min), hi: ext(gPeaks.get(gk), Math.max)};
        if (level === 'desk' && g.mode !== 'live') { otherS.push(line); continue; }
        pnlS.push(line);
        ddS.push({label: lbl(g), data: drawdown(ys, gPeaks.get(gk), gTroughs.get(gk), gFalls.get(gk))});
      }
      show(C.pnl, pnlS, level === 'desk' ? 'live accounts' : by);
      C.other.card.el.hidden = !otherS.length;
      setUnit(C.other, moneyUnit([...new Set([...groups.values()].filter((g) => g.mode !== 'live').map((g) => g.currency))].sort()));
      show(C.other, otherS, 'by account; not in the desk total');
      show(C.dd, ddS, 'below the running peak of this range, the deepest in each step (the last: now)' + (by ? ', ' + by : '') + sampled);
      const grossS = [];
      const netS = [];
      // A group's highest and lowest within each step: its row's own when
      // it sums one row, else the sum read every res seconds (gEMax/gEMin).
      const gExt = new Map();
      const GEX = align(gEMax, w);
      const GEN = align(gEMin, w);
      gEMax.forEach((s, i) => { gExt.set(`${gk(s.metric)}\u0000${s.metric.kind === 'net' ? 'net' : 'gross'}Hi`, inRange(GEX.ys[i])); });
      gEMin.forEach((s, i) => { gExt.set(`${gk(s.metric)}\u0000${s.metric.kind === 'net' ? 'net' : 'gross'}Lo`, inRange(GEN.ys[i])); });
      for (const [k, g] of groups) {
        if (level === 'desk' && g.mode !== 'live') continue;
        const own = g.rows.filter((r) => r.strategy);
        const leafs = own.length ? own : g.rows;
        const ext = (f) => (leafs.length === 1 ? leafs[0][f] : gExt.get(`${k}\u0000${f}`));
        const gr = sumOf(g.rows, 'gross');
        if (gr) grossS.push({label: lbl(g), data: gr, lo: within(ext('grossLo'), gr, Math.min), hi: within(ext('grossHi'), gr, Math.max)});
        const nt = sumOf(g.rows, 'net');
        if (nt) netS.push({label: lbl(g), data: nt, lo: within(ext('netLo'), nt, Math.min), hi: within(ext('netHi'), nt, Math.max)});
      }
      if (level !== 'desk') {
        // The limit beside its exposure, dashed in the same colour.
        const withLim = [];
        grossS.forEach((s, i) => {
          const color = PALETTE[i % PALETTE.length];
          withLim.push({...s, color});
          const g = [...groups.values()].find((x) => lbl(x) === s.label);
          const l = g && sumOf(g.rows.filter((r) => r.limGross), 'limGross');
          if (l) withLim.push({label: s.label + ' limit', data: l, color, dash: [6, 4], noStats: false});
        });
        C.gross.chart.update(P.xs, withLim);
        C.gross.card.note.textContent = withLim.length > grossS.length ? 'dashed: limit' : 'no limit stated (gmc_risk_limit)';
      } else {
        show(C.gross, grossS, 'by account');
      }
      show(C.net, netS, by);
      // Headline figures, now; totals per currency over live accounts only.
      const curText = (m) => (m.size ? [...m.entries()].sort().map(([c, v]) => money(v, c)).join(' · ') : '–');
      const grossLive = perCur(live, (r) => last(r.gross || []));
      const worst = all.filter((r) => r.use && last(r.use) != null).sort((a, b) => last(b.use) - last(a.use))[0];
      const wu = worst ? last(worst.use) : null;
      const tiles = [];
      if (level === 'desk') {
        const one = pnlLive.size === 1 ? [...pnlLive.values()][0] : null;
        const desk = kpi('Desk PnL', curText(pnlLive), one == null ? null : one < 0 ? 'bad' : 'good', 'live accounts; backtest and paper excluded', one);
        desk.dataset.currencies = JSON.stringify(Object.fromEntries(pnlLive));
        tiles.push(desk);
        if (other.length) {
          tiles.push(kpi('Backtest / paper PnL', curText(perCur(other, (r) => r.pnlNow)), null, 'not in the desk total'));
        }
        // Drawdown now: the desk's peak in the range (read between the
        // steps, as the table's max_over_time) less its PnL now.
        const deskPnl = new Map();
        for (const r of live) if (r.pnl) deskPnl.set(r.currency, addYs(deskPnl.get(r.currency), r.pnl));
        if (ddR.err) {
          tiles.push(ddUnknown('Desk drawdown'));
        } else {
          const {cs} = deskDD;
          const [dPeaks, dDeep] = ddGot;
          const ddNow = new Map();
          const ddMax = new Map();
          const ddHi = new Map();
          const ddUp = new Map();
          const fine = dDeep.every((d) => d.exact != null);
          cs.forEach((c, i) => {
            const ys = deskPnl.get(c);
            const {peak: pk0, upper, exact, peaks: pk} = dPeaks[i];
            // Read every FINE second over the whole range, the peak is known.
            const d = dDeep[i];
            const top = highest([pk0, d.peak], ys);
            const now = pnlLive.get(c);
            const dn = top == null || now == null ? last(drawdown(ys, pk)) : below(top, now);
            ddNow.set(c, dn);
            if (!exact && d.peak == null && upper != null && now != null) ddUp.set(c, below(upper, now));
            const steps = Math.max(0, dn ?? 0, ...drawdown(ys, pk).filter((v) => v != null));
            ddMax.set(c, d.exact != null ? Math.max(d.exact, dn ?? 0) : steps);
            if (d.hi != null) ddHi.set(c, Math.max(d.hi, steps));
          });
          // Where the peak was not read in full, the figure is a bound: say so, with the most it can be.
          const mir = maxInRange(curText(ddMax), w, fine, ddHi.size === cs.length && cs.length ? curText(ddHi) : null);
          const t = kpi('Desk drawdown', (ddUp.size ? 'at least ' : '') + curText(ddNow), null,
            ddUp.size ? `at most ${curText(ddUp)} (peak read every ${FINE}s in part of the range) · ${mir}` : mir);
          t.dataset.exact = String(!ddUp.size);
          t.dataset.maxInRange = JSON.stringify(Object.fromEntries(ddMax));
          tiles.push(t);
        }
        tiles.push(kpi('Gross exposure', curText(grossLive), null, 'live accounts'));
      } else {
        const rs = rsOwn;
        const one = oneOwn;
        const m = meta(scope.account);
        tiles.push(kpi('PnL', curText(tot), one == null ? null : one < 0 ? 'bad' : 'good',
          m.mode !== 'live' ? `${m.mode} account: not in the desk total` : `${m.currency || 'no currency stated'} · live`, one));
        if (ddR.err) {
          tiles.push(ddUnknown('Drawdown'));
        } else {
          let sum = null;
          for (const r of rs) if (r.pnl) sum = addYs(sum, r.pnl);
          const [sp, deep] = ddGot;
          const pk = sp.peaks;
          const dd = sum ? drawdown(sum, pk) : [];
          const top = highest([sp.peak, deep.peak], sum);
          const dn = top != null && one != null ? below(top, one) : last(dd);
          const up = !sp.exact && deep.peak == null && sp.upper != null && one != null ? below(sp.upper, one) : null;
          const cur = m.currency;
          const steps = dd.length ? Math.max(0, dn ?? 0, ...dd.filter((v) => v != null)) : null;
          const mxV = deep.exact != null ? Math.max(deep.exact, dn ?? 0) : steps;
          const mx = money(mxV, cur);
          const mir = maxInRange(mx, w, deep.exact != null, deep.hi != null ? money(Math.max(deep.hi, steps ?? 0), cur) : null);
          const t = kpi('Drawdown', (up != null ? 'at least ' : '') + money(dn, cur), null,
            up != null ? `at most ${money(up, cur)} (peak read every ${FINE}s in part of the range) · ${mir}` : mir, dn);
          t.dataset.exact = String(up == null);
          t.dataset.maxInRange = String(mxV);
          tiles.push(t);
        }
        tiles.push(kpi('Gross exposure', curText(perCur(rs, (r) => last(r.gross || []))), null, 'now'));
      }
      tiles.push(kpi('Limit utilisation', wu == null ? 'no limit' : units.pct.fmt(wu), wu == null ? null : wu >= 100 ? 'bad' : wu >= 80 ? 'warn' : 'good',
        worst ? `highest: ${worst.account} / ${worst.strategy || 'account'}` : 'no gmc_risk_limit series', wu));
      fill(kpis, ...tiles);

      // A bound that reads as its figure does leaves the figure right to its digits.
      const pf = units.pct.fmt;
      const bounded = useTop.filter(({row: r}) => (r.useMost != null && pf(r.useMost) !== pf(r.useMax)) || (r.useLeast != null && pf(r.useLeast) !== pf(r.useMin))).length;
      const useWhy = `read every ${FINE}s within ${useRead} of the steps where the limit moved; within the others, each step's exposure over its lowest and highest limit bound them`;
      for (const s of useTop) Object.assign(s, {hi: s.row.useMax, lo: s.row.useMin, hiMost: s.row.useMost, loLeast: s.row.useLeast, boundWhy: useWhy});
      const limitLine = {label: 'limit', data: P.xs.map(() => 100), color: PALETTE[3], dash: [6, 4], noStats: true, points: {show: false}};
      C.use.chart.update(P.xs, useTop.length ? [...useTop, limitLine] : [],
        'No limits: export gmc_risk_limit{account, strategy, kind} beside gmc_risk_exposure');
      const exact = useR.err ? `; min/max: the steps' own (the read between them failed: ${useR.err.message || useR.err})` : res > FINE ? (bounded ? `; min/max bounded in ${bounded} rows (≥, ≤)` : `; min/max: the raw data's to the digits shown (read every ${FINE}s where the limit moved within a step)`) : '';
      C.use.card.note.textContent = (useS.length > 10 ? `top 10 of ${useS.length}; dashed: the limit (100%)` : 'exposure / limit; dashed: the limit (100%)') + exact;
      C.use.card.note.dataset.useRead = String(useRead);

      const link = (r) => (r.strategy ? h('a', {href: ctx.href('risk', `${r.account}/${r.strategy}`)}, r.strategy) : h('span', {class: 'muted'}, 'account'));
      const trs = all.map((r) => {
        const v = r.pnlNow;
        const u = r.use ? last(r.use) : null;
        return h('tr', {'data-account': r.account, 'data-strategy': r.strategy, 'data-mode': r.mode},
          h('td', {}, h('a', {href: ctx.href('risk', r.account)}, r.account || '—'), r.mode !== 'live' ? [' ', pill(r.mode === 'backtest' ? 'unknown' : 'warn', r.mode)] : null),
          h('td', {}, link(r)),
          h('td', {class: 'num ' + (v < 0 ? 'neg' : 'pos'), 'data-col': 'pnl', 'data-value': v}, money(v, r.currency)),
          h('td', {}, sparkline(r.pnl || [], v < 0 ? PALETTE[3] : PALETTE[2])),
          h('td', {class: 'num', 'data-col': 'drawdown', 'data-value': r.dd}, money(r.dd, r.currency)),
          h('td', {class: 'num', 'data-col': 'gross'}, money(last(r.gross || []), r.currency)),
          h('td', {class: 'num', 'data-col': 'limit'}, r.limGross ? money(last(r.limGross), r.currency) : h('span', {class: 'muted'}, 'none')),
          h('td', {class: 'num ' + (u >= 100 ? 'neg' : ''), 'data-col': 'use', 'data-value': u}, u == null ? '–' : units.pct.fmt(u)),
          h('td', {class: 'num', 'data-col': 'net'}, money(last(r.net || []), r.currency)));
      });
      fill(tbl.body, h('div', {class: 'table-wrap'}, h('table', {class: 'tbl', 'data-rows': trs.length},
        h('thead', {}, h('tr', {}, ['Account', 'Strategy', 'PnL', 'Trend', 'Drawdown', 'Gross', 'Limit', 'Use', 'Net'].map((t) => h('th', {}, t)))),
        h('tbody', {}, trs.length ? trs : h('tr', {}, h('td', {colspan: 9, class: 'muted'}, 'No gmc_pnl or gmc_risk_exposure series in this time range.'))))),
      // The second its figures are of: the charts' newest point (the
      // instant queries are asked at it, the rest are that point).
      h('p', {class: 'muted small', 'data-figures-at': String(P.xs.at(-1))}, `Figures at ${clock(P.xs.at(-1) * 1000)}, the charts' newest point. ` +
        'Drawdown: below the highest PnL of this range. Currency and mode from gmc_account_info; an account without it is counted as live, with no currency.'));
    },
    destroy() { Object.values(C).forEach((c) => c.chart.destroy()); },
  };
}
