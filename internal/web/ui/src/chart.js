// Charts: uPlot line charts and a latency heatmap in the dashboard's dark
// theme, with units on every axis. Every chart element carries
// data-points (how many points it drew) for tests and curious operators.
import {h, add, fill, units, statOf, dur, patch, setText, clock} from './util.js';

// uPlot is a classic script main.js runs once the first queries are sent
// (api.ready.uplot): read when a chart is made, not when this module loads.
const uPlot = (...a) => new globalThis.uPlot(...a);

export const PALETTE = ['#4cc2ff', '#ffb547', '#7ee787', '#ff7b72', '#d2a8ff', '#56d4dd', '#f778ba', '#e3b341', '#a5d6ff', '#ffa198',
  '#8ddb8c', '#c297ff'];

const AXIS = '#8b949e';
const GRID = 'rgba(240,246,252,0.07)';
const FONT = '11px system-ui, -apple-system, "Segoe UI", sans-serif';

/** card is a titled panel; body receives the chart. */
export function card(title, opts = {}) {
  const note = h('span', {class: 'card-note'}, opts.note || '');
  const body = h('div', {class: 'card-body'});
  const el = h('section', {class: 'card' + (opts.wide ? ' wide' : '')},
    h('header', {class: 'card-head'}, h('h3', {}, title), note), body);
  return {el, body, note};
}

/** panel appends a card holding a new Chart(body, opts) to parent. */
export function panel(parent, title, note, Chart, opts) {
  const c = card(title, {note});
  add(parent, c.el);
  return {card: c, chart: new Chart(c.body, opts)};
}

let measureCtx = null;

/**
 * labelWidth is the width (px) of the widest of values drawn in the axes'
 * font (a canvas measures it: the same font the plot draws them in).
 */
export function labelWidth(values) {
  if (!measureCtx) measureCtx = document.createElement('canvas').getContext('2d');
  measureCtx.font = FONT;
  let w = 0;
  for (const v of values || []) w = Math.max(w, measureCtx.measureText(String(v)).width);
  return Math.ceil(w);
}

/** AXIS_TICKS is what a value axis takes besides its labels: uPlot's ticks (10 px) and gap (5 px), and 3 px to spare. */
export const AXIS_TICKS = 18;

function axisSize(u, values) {
  if (!values) return 48;
  const w = Math.max(...values.map((v) => String(v).length));
  return Math.max(48, 18 + w * 6.6);
}

const pad2 = (n) => String(n).padStart(2, '0');

/** timeValues labels the time axis in 24h local time, with the date when the ticks are a day or more apart. */
function timeValues(u, splits, axisIdx, space, found) {
  // The ticks' own spacing (timeSplits), not the one uPlot found for this width.
  const incr = splits.length > 1 ? splits[1] - splits[0] : found;
  return splits.map((ts) => {
    const d = new Date(ts * 1000);
    const hm = `${pad2(d.getHours())}:${pad2(d.getMinutes())}`;
    if (incr >= 86400) return `${pad2(d.getMonth() + 1)}-${pad2(d.getDate())}`;
    if (incr >= 3600 * 6) return `${pad2(d.getMonth() + 1)}-${pad2(d.getDate())} ${hm}`;
    if (incr < 60) return `${hm}:${pad2(d.getSeconds())}`;
    return hm;
  });
}

/** TIME_INCRS are the time axis' tick steps (s). */
const TIME_INCRS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 14400, 21600, 43200,
  86400, 2 * 86400, 7 * 86400, 14 * 86400, 28 * 86400];

/** TIME_TICKS is the most ticks a time axis has, whatever its width (a narrow card's labels still fit). */
const TIME_TICKS = 6;

/**
 * timeSplits are the time axis' ticks from its span alone: the smallest
 * step of TIME_INCRS giving at most TIME_TICKS, on whole multiples of it
 * in local time (a day step at local midnight). uPlot picked the step by
 * each plot's width, so the charts of one page at 30d ticked 11-05/11-14/
 * 11-23 and 11-05/11-13/11-21.
 */
export function timeSplits(min, max, tzOffset = new Date(min * 1000).getTimezoneOffset() * 60) {
  if (!(max > min)) return [min];
  const incr = TIME_INCRS.find((i) => (max - min) / i <= TIME_TICKS) || TIME_INCRS[TIME_INCRS.length - 1];
  const out = [];
  for (let t = Math.ceil((min - tzOffset) / incr) * incr + tzOffset; t <= max && out.length <= TIME_TICKS; t += incr) out.push(t);
  return out;
}

/**
 * xWindow is the time scale of a chart: its own pinned window (xRange),
 * else the page's window — [data-x-from, data-x-to] on the page element,
 * which main.js sets to the refresh's [start, end] — else its data's
 * span. Every time chart of a page so shares one x min and max, and so
 * its ticks: the heatmap's columns sit on a coarser grid than the lines'
 * points and its scale began at its first column, up to a column before
 * the range (a tick at a 15-minute start the other charts did not draw;
 * at 30d a longer span picked another tick step).
 */
function xWindow(el, pinned, lo, hi) {
  if (pinned) return pinned;
  const p = el.closest('[data-x-from]');
  const a = p ? Number(p.dataset.xFrom) : NaN;
  const b = p ? Number(p.dataset.xTo) : NaN;
  return b > a ? [a, b] : [lo, hi];
}

/**
 * timeAxis: ticks from the range (timeSplits), the same on every chart
 * of it, labelled by their spacing ("12-03 18:00" on multi-day ranges).
 */
function timeAxis() {
  return {stroke: AXIS, font: FONT, grid: {stroke: GRID, width: 1}, ticks: {stroke: GRID, width: 1}, values: timeValues,
    splits: (u, axisIdx, min, max) => timeSplits(min, max),
    space: (u) => (u.scales.x.max - u.scales.x.min > 2 * 86400 ? 90 : 60)};
}

/**
 * BINARY_INCRS are the tick steps of byte axes: powers of two of B, KiB,
 * MiB …, so ticks fall on 16 MiB, 32 MiB, not 19.1, 38.1 MiB.
 */
const BINARY_INCRS = [];
for (let k = 0; k <= 5; k++) for (let e = 0; e < 10; e++) BINARY_INCRS.push(2 ** e * 1024 ** k);

/**
 * tickLabels are an axis's labels of its ticks (splits): unit.fmt's, at 3
 * significant digits, or as many more as the tick spacing needs (up to 8):
 * the Risk page's backtest PnL over 200 USD read 47.9k, 47.9k, 47.8k,
 * 47.8k, 47.7k (t-user16 F3). Each label reads its tick's value (one more
 * digit would not change it: 47.825k, not 47.83k), so no two ticks of
 * different values read alike. A zero tick is "0": "0 µs" under "500 ms"
 * read as a unit change.
 */
export function tickLabels(splits, unit) {
  const at = (sig) => splits.map((v) => (v === 0 ? '0' : unit.fmt(v, sig)));
  let out = at(3);
  for (let sig = 3; sig < 8; sig++) {
    const more = at(sig + 1);
    if (more.every((l, i) => l === out[i])) return out;
    out = more;
  }
  return out;
}

function valueAxis(unit) {
  return {
    stroke: AXIS, font: FONT, labelFont: FONT, label: unit.label || null, labelSize: unit.label ? 16 : 0, labelGap: unit.label ? 2 : 0,
    incrs: unit.binary ? BINARY_INCRS : undefined,
    grid: {stroke: GRID, width: 1}, ticks: {stroke: GRID, width: 1},
    values: (u, splits) => tickLabels(splits, unit),
    size: axisSize,
  };
}

/**
 * boxWidth is the width a ResizeObserver reported (after layout, free);
 * chartWidth prefers it to clientWidth, which forces a layout of the page
 * whenever the DOM changed since the last one: once per chart drawn (a
 * host page of 14 charts spent ~100 ms in them).
 */
function boxWidth(entries) {
  const e = entries[entries.length - 1];
  return e ? Math.round(e.contentRect.width) : 0;
}

function chartWidth(c) {
  if (c.w > 0) return Math.max(200, c.w);
  return Math.max(200, c.el.clientWidth || c.el.parentElement.clientWidth || 400);
}

function countPoints(data) {
  let n = 0;
  for (let i = 1; i < data.length; i++) for (const v of data[i]) if (v != null) n++;
  return n;
}

function emptyNote(el, text) {
  let e = el.querySelector(':scope > .chart-empty');
  if (!text) { if (e) e.remove(); return; }
  if (!e) { e = h('div', {class: 'chart-empty'}); add(el, e); }
  setText(e, text);
}

/**
 * NEAR_PX is how far (px) below or above the viewport a chart is made with
 * the page: farther ones wait (Lazy, Sparks).
 */
const NEAR_PX = 200;
const NEAR = `${NEAR_PX}px 0px`;

/** shown are the charts of the document, told when the tab is shown again or printed (Lazy.draw). */
const shown = new Set();
document.addEventListener('visibilitychange', () => {
  if (!document.hidden) for (const c of shown) c.draw();
});
// A print shows every chart: each with its newest data.
window.addEventListener('beforeprint', () => {
  for (const c of shown) c.draw(true);
  for (const s of sparkSets) s.drawAll();
});

/** idle runs f when the browser is next idle (within 2 s). */
const idle = (f) => (globalThis.requestIdleCallback || setTimeout)(f, {timeout: 2000});

/**
 * Lazy holds a chart's uPlot (u) and makes it only when it is wanted: a
 * chart on or near the screen at once; one an IntersectionObserver has
 * seen away from it (the lower half of a service or host page: 13-20
 * charts, each ~5-15 ms of set-up and drawing) when it comes near, when
 * the browser is next idle after the page is drawn, or when anything reads
 * u (tests, the console), whichever is first. Once made, new data of a
 * refresh is drawn at once only where someone can see it: a plot away from
 * the screen, or in a hidden tab, keeps it (stale) and draws it when it
 * comes near, when the tab is shown, or when u is read. Live redrew all
 * 13 charts of a service page every second, most of them below the fold.
 * Its figures (data-points, legends) are set at once either way.
 */
class Lazy {
  constructor(el, height) {
    this.el = el;
    // The plot's height from the start: the observer then sees where the
    // chart will be (empty, every chart of a page was near the screen).
    el.style.minHeight = height + 'px';
    el.chart = this; // for tests and the console
    this._u = null;
    // pending: the made-later plot's arguments (make's); near: what the
    // observer last said (null before its first report, or when it was of
    // a box without size: made at once unless hidden now, see away).
    this.pending = null;
    this.near = null;
    // stale: the newest data of a made plot, not drawn yet (set); end:
    // the time of the newest data's last point (update), for tests.
    this.stale = null;
    this.end = null;
    // blind: the last report was of a box without size (near null).
    this.blind = false;
    // placement: the page's Placement, deciding its first plots (or null).
    this.placement = null;
    shown.add(this);
    this.io = new IntersectionObserver((es) => {
      const e = es[es.length - 1];
      const r = e.boundingClientRect;
      // A box without size (its card hidden: display none) is nowhere: its
      // report says nothing of where the chart is once shown. Taken as far,
      // the Risk page's backtest card, hidden until its data came and then
      // on the screen, was left for later whenever the page's second round
      // came in before a frame (drawn with its legend and no plot).
      this.blind = !e.isIntersecting && r.width === 0 && r.height === 0;
      this.near = this.blind ? null : e.isIntersecting;
      if (this.near) this.draw();
    }, {rootMargin: NEAR});
    this.io.observe(el);
  }

  /**
   * away is whether the plot waits: its observer's last report saw it away
   * from the screen, or, with no report of a place (none yet, or of a box
   * without size), it is inside a hidden element now. A chart shown since
   * its report of no place is drawn, and asks for a report of where it is
   * (look): the observer reports changes only, and a chart shown below the
   * screen is not intersecting, as when it was hidden.
   */
  away() {
    if (this.near !== null) return !this.near;
    if (this.el.closest('[hidden]')) return true;
    if (this.blind) {
      this.blind = false;
      this.look();
    }
    return false;
  }

  /** look asks the observer for a report of where the chart is now (the next frame's). */
  look() {
    this.io.unobserve(this.el);
    this.io.observe(this.el);
  }

  get u() {
    if (this.pending || this.stale) {
      this.draw(true);
      // Made or redrawn for a reader: its scales and axes at once, not
      // when this task ends (uPlot commits in a microtask).
      this._u.batch(() => {});
    }
    return this._u;
  }

  /**
   * set gives the made plot the data of a refresh (apply: what goes with
   * it, e.g. the heatmap's columns): drawn at once if on or near the
   * screen in a shown tab, else kept for draw.
   */
  set(data, apply) {
    if (this.away() || document.hidden) {
      this.stale = {data, apply};
      return;
    }
    this.stale = null;
    if (apply) apply();
    this._u.setData(data);
  }

  /**
   * later makes the plot with args now if near the screen, else when
   * wanted; while the page's Placement holds its first plots, it decides.
   */
  later(...args) {
    if (this.placement && this.placement.hold(this, args)) return;
    if (!this.away()) {
      this.pending = null;
      this.make(...args);
      return;
    }
    this.wait(args);
  }

  /** wait keeps args for the plot made when it comes near, when the browser is next idle, or when read. */
  wait(args) {
    const first = !this.pending;
    this.pending = args;
    if (first) idle(() => this.draw());
  }

  /** draw makes the plot waiting in pending, or draws the data kept for it (stale) when it is wanted now (force: read). */
  draw(force = false) {
    const p = this.pending;
    if (p) {
      this.pending = null;
      this.make(...p);
      return;
    }
    const st = this.stale;
    if (!st || !this._u || (!force && (this.away() || document.hidden))) return;
    this.stale = null;
    if (st.apply) st.apply();
    this._u.setData(st.data);
  }

  destroy() {
    shown.delete(this);
    this.io.disconnect();
    this.ro.disconnect();
    this.pending = null;
    this.stale = null;
    if (this._u) this._u.destroy();
  }
}

/**
 * LineChart draws time series. update(xs, series) with series =
 * [{label, data, color?, width?, dash?, points?, stat?, whiskers?}] (stat:
 * the series' own formatter of values, for its legend; whiskers: see
 * drawWhiskers); bands = [[hiIdx, loIdx]] (1-based series indices) fills
 * between two series.
 */
export class LineChart extends Lazy {
  constructor(parent, {id, unit = units.count, height = 220, stacked = false, bands = null, legend = true, min = null, log = false, xRange = null, partialStats = null}) {
    super(h('div', {class: 'chart', 'data-chart': id, 'data-points': '0'}), height);
    this.unit = unit;
    // partialStats: what a series' legend says of figures over partial
    // windows when it has no whole point ("not judged": the SLA page's 1h
    // ratio over the data seen is known, only not judged; a rate over a
    // partial window is not known: null, its legend reads "–").
    this.partialStats = partialStats;
    // log: a log-10 y axis (values ≤ 0 are not drawn); xRange: [from, to]
    // (Unix s) pins the time axis to a window whatever the data cover
    // (else it is the page's: xWindow).
    this.log = log;
    this.xRange = xRange;
    this.height = height;
    this.bandsSpec = bands;
    this.legend = legend;
    this.min = min;
    // window: the rate (or quantile) window of each point ("30s"), or
    // {points, last} when the newest point's is shorter (api.windows),
    // said in the legend's "last" (a tile's "now, over 1m" and a legend's
    // last differed without saying why); null for gauges.
    this.window = null;
    // gone: what the legend's last says for every series when their source
    // is down now ("down since 18:02:53"); a series' own s.gone wins.
    this.gone = null;
    // peak: what a chart's peak lines are (queries.peakOf: each point the
    // worst one-minute quantile within its step), said in the legend's
    // caption after the points' window; null when it has none.
    this.peak = null;
    this.stats = h('table', {class: 'stats', 'data-stats': id});
    add(parent, this.el, this.stats);
    this.key = '';
    this.ro = new ResizeObserver((es) => { this.w = boxWidth(es); this.resize(); });
    this.ro.observe(this.el);
  }

  width() { return chartWidth(this); }

  resize() {
    if (this._u && Math.abs(this._u.width - this.width()) > 1) this._u.setSize({width: this.width(), height: this.height});
  }

  update(xs, series, emptyText = 'No data in this time range') {
    this.end = xs.at(-1) ?? null;
    const points = countPoints([xs, ...series.map((s) => s.data)]);
    // Points over partial windows (s.data.partial, see api.markPartial):
    // each such series draws them as a thin dashed line of its colour
    // (after every whole series: bands keep their indices) and keeps only
    // its whole points for its line and legend.
    series = withPartial(series);
    const data = [xs, ...series.map((s) => (this.log ? s.data.map((v) => (v != null && v > 0 ? v : null)) : s.data))];
    // Whiskers go with the data uPlot draws (drawWhiskers reads u.data).
    data.whiskers = series.filter((s) => s.whiskers).map((s) => ({...s.whiskers, color: s.color || PALETTE[series.indexOf(s) % PALETTE.length]}));
    this.el.dataset.points = String(points);
    this.el.dataset.series = String(series.filter((s) => !s.partialOf).length);
    this.el.dataset.partial = String(series.reduce((a, s) => a + (s.partialOf ? s.partialPoints : 0), 0));
    const key = series.map((s) => s.label + '|' + (s.color || '')).join('\n');
    if (this._u && key === this.key) this.set(data);
    else if (this._u) this.make(series, data, key);
    else this.later(series, data, key);
    emptyNote(this.el, points ? '' : emptyText);
    this.renderStats(series, xs);
  }

  make(series, data, key) {
    this.stale = null;
    if (this._u) this._u.destroy();
    this.key = key;
    this._u = uPlot(this.options(series), data, this.el);
  }

  /**
   * renderStats is the legend's last / min / max of each series over the
   * range: of its whole points, and of its dashed points (over partial
   * windows) where they reach beyond them, marked so. A legend's max read
   * "error 0.0667/s" on a 24h chart whose dashed points over three bursts
   * of errors, each in a window holding a gap (gmc down), were drawn far
   * higher (t-user15 F5): a max or min must be true of what the chart
   * draws. A rate over a partial window spreads the data seen over the
   * whole window: it reads low, so it can raise a max ("≥ x": the highest
   * rate was at least that) but not lower a min (it is not a lower rate).
   * A quantile or a ratio (s.spread false) is the figure of the data seen:
   * either way, marked (partialStats' words, else "in a partial window").
   */
  renderStats(series, xs = []) {
    const shown = series.filter((s) => !s.noStats).slice(0, 12);
    const partial = series.filter((s) => s.partialOf);
    // What a min or max that is a dashed point is marked with: the
    // chart's partialStats words, else "in a partial window", said by a
    // "*" after the figure (the cell's title and the foot give the words):
    // written out, "80.8 ms in a partial window" pushed the p99 legend's
    // max column out of its card at 1600 px wide (t-user16 F2).
    const mark = this.partialStats || 'in a partial window';
    const star = this.partialStats ? ` ${mark}` : '*';
    const marked = this.partialStats ? `"${mark}"` : `"*" (${mark})`;
    const rows = shown.map((s, i) => {
      // A series may format its own values (s.stat): one service's p99 in
      // its +Inf bucket reads "> edge" of that service's histogram.
      const f = s.stat || statOf(this.unit);
      let lo = Infinity;
      let hi = -Infinity;
      let lastV = null;
      let lastI = -1;
      // A series with no whole point gives its partial points' figures,
      // each saying so, where the chart knows them (partialStats).
      const pj = this.partialStats && s.partialData && !s.data.some((v) => v != null) ? this.partialStats : null;
      (pj ? s.partialData : s.data).forEach((v, i) => { if (v != null) { lo = Math.min(lo, v); hi = Math.max(hi, v); lastV = v; lastI = i; } });
      // A series may know its extremes between its points (s.lo, s.hi:
      // the lowest and highest within each step's window).
      if (s.lo != null) lo = Math.min(lo, s.lo);
      if (s.hi != null) hi = Math.max(hi, s.hi);
      // And, where it knows them only within bounds, the most its max and
      // the least its min can be (s.hiMost, s.loLeast; why: s.boundWhy):
      // the cell says "≥ max" or "≤ min" and, on hover, the bound, where
      // the bound reads other than the figure (else the figure is right to
      // the digits it shows).
      // Its dashed points beyond the whole ones (see above): each the
      // extreme, its index, and what its window lacks.
      // A rate's read low (only in max, "≥"), its complement's ('high':
      // 1 - a rate) high (only in min, "≤").
      const low = s.spread !== false && s.spread !== 'high';
      const high = s.spread === 'high';
      let pHiI = -1;
      let pLoI = -1;
      if (!pj && s.partialData) {
        s.partialData.forEach((v, j) => {
          if (v == null) return;
          if (!high && v > hi && (pHiI < 0 || v > s.partialData[pHiI])) pHiI = j;
          if (!low && v < lo && (pLoI < 0 || v < s.partialData[pLoI])) pLoI = j;
        });
      }
      const pHi = pHiI >= 0 && f(s.partialData[pHiI]) !== f(hi) ? s.partialData[pHiI] : null;
      const pLo = pLoI >= 0 && f(s.partialData[pLoI]) !== f(lo) ? s.partialData[pLoI] : null;
      const hiMost = pHi == null && s.hiMost != null && s.hiMost > hi && f(s.hiMost) !== f(hi) ? s.hiMost : null;
      const loLeast = pLo == null && s.loLeast != null && s.loLeast < lo && f(s.loLeast) !== f(lo) ? s.loLeast : null;
      const color = s.color || PALETTE[series.indexOf(s) % PALETTE.length];
      // A series whose source is down now says so for its last (its
      // newest rate window still held figures from before it stopped).
      const gone = s.gone !== undefined ? s.gone : this.gone;
      // Its dashed points of each kind (the foot's), for tests.
      const ps = partial.find((x) => x.partialOf === s.label);
      const dashed = ps ? {'data-partial': String(ps.partialPoints), 'data-began': String(ps.beganPoints), 'data-ended': String(ps.endedPoints), 'data-gap': String(ps.gapPoints)} : {};
      if (pj && lastI >= 0 && !gone) {
        // Its points' kind: a series back after a silence holds a gap
        // (api.markReturns), not the start of its data.
        const kind = !ps || ps.beganPoints ? 'reaching before the data began' : ps.gapPoints ? 'holding a gap in the data' : 'reaching past the last sample';
        const why = `over a window ${kind} (dashed): the figure of the data seen, ${pj}`;
        const cell = (stat, v) => h('td', {class: 'num', 'data-stat': stat, 'data-not-judged': '', title: why}, f(v), h('span', {class: 'muted small'}, ` ${pj}`));
        return h('tr', {'data-series': s.label, 'data-not-judged': '', ...dashed},
          h('td', {}, h('span', {class: 'swatch', style: {background: color}}), s.label),
          cell('last', lastV), cell('min', lo), cell('max', hi));
      }
      // A min or max that is a dashed point says so in its cell (mark).
      const pCell = (stat, v, j, whole) => {
        const lacks = s.partialGap && s.partialGap.has(j) ? 'it holds a gap in the data'
          : s.partialEnded && s.partialEnded.has(j) ? 'it reaches past the last sample' : 'it reaches before the data began';
        const what = low ? 'the rate of the data seen in it, spread over the whole window: the highest rate was at least this'
          : high ? 'one less the rate of the data seen in it, spread over the whole window (it reads high): the lowest was at most this'
            : 'the figure of the data seen in it';
        return h('td', {class: 'num', 'data-stat': stat, 'data-partial-at': String(xs[j]), 'data-partial-value': String(v), 'data-mark': mark,
          title: `${mark}: the ${stat === 'max' ? 'highest' : 'lowest'} point drawn is dashed, over a window the data do not fill (${lacks}): ${what}; ` +
            `the ${stat === 'max' ? 'highest' : 'lowest'} over whole windows: ${isFinite(whole) ? f(whole) : 'none'}`},
        (low && stat === 'max' ? '≥ ' : high && stat === 'min' ? '≤ ' : '') + f(v), h('span', {class: 'muted small'}, star));
      };
      return h('tr', {'data-series': s.label, ...dashed},
        h('td', {}, h('span', {class: 'swatch', style: {background: color}}), s.label),
        gone ? h('td', {class: 'num muted', 'data-stat': 'last', 'data-gone': '', title: `the newest figure before it stopped: ${f(lastV)}`}, gone)
          : s.judgedLast !== undefined ? judgedLastCell(s.judgedLast, f, xs, mark, pLo != null ? Math.min(lo, pLo) : lo, pHi != null ? Math.max(hi, pHi) : hi)
            : lastCell(s, lastI, f(lastV), xs, this.window),
        pLo != null ? pCell('min', pLo, pLoI, lo)
          : h('td', {class: 'num', 'data-stat': 'min', 'data-least': loLeast, title: loLeast != null ? `at most ${f(lo)}, at least ${f(loLeast)}: ${s.boundWhy || ''}` : null},
            isFinite(lo) ? (loLeast != null ? '≤ ' : '') + f(lo) : '–'),
        pHi != null ? pCell('max', pHi, pHiI, hi)
          : h('td', {class: 'num', 'data-stat': 'max', 'data-most': hiMost, title: hiMost != null ? `at least ${f(hi)}, at most ${f(hiMost)}: ${s.boundWhy || ''}` : null},
            isFinite(hi) ? (hiMost != null ? '≥ ' : '') + f(hi) : '–'));
    });
    // window: a string (every point over it) or {points, last, bridge} (api.windows).
    const win = this.window == null ? null : typeof this.window === 'string' ? {points: this.window, last: this.window} : this.window;
    const same = win && dur(win.last) === dur(win.points);
    // The bridge: the point a tail's window before the last, over the
    // time since the last step (api.span).
    const bridge = win && win.bridge ? `the one ${dur(win.last)} before the last over ${dur(win.bridge)}` : '';
    // A row whose last is an older point (lastCell: "15.6/s at 23:55")
    // is over that point's window, not the header's: the header said
    // "last, over 1m" over a 19m12s point's errors/s, which read as the
    // last minute's (t-user14 F5). It then says so.
    const older = rows.some((r) => r.querySelector && r.querySelector('[data-last-at]'));
    const lastTh = win && older
      ? h('th', {'data-window': win.last, 'data-older': '', title: `the newest point over the ${dur(win.last)} before it; a row whose newest point is over a partial window gives its newest whole point, with its time and window`},
        `last, over ${dur(win.last)} or as said`)
      : win
      ? h('th', {'data-window': win.last, title: same ? `the newest point, over the ${dur(win.last)} before it` + (this.peak ? `; ${this.peak}` : ` (each point is over the ${dur(win.points)} before it)`)
        : `the newest point (now), over the ${dur(win.last)} before it; the other points, min and max are each over the ${dur(win.points)} before them` +
          (bridge ? `, but ${bridge} (the time since the last step, ${dur(win.last)} at least)` : '')}, `last, over ${dur(win.last)}`)
      : h('th', {}, 'last');
    // Points over a longer window than the last say so under the legend.
    // (The header says the last's window.)
    // Bars through points (whiskers) say what they span.
    const bars = shown.find((s) => s.whiskers && s.whiskers.lo.some((a, j) => a != null && s.whiskers.hi[j] > a));
    const barsWhat = bars ? bars.whiskers.what || 'a bar: the lowest to the highest within the point\'s step' : '';
    const caption = (win && !same) || this.peak || bars ? h('caption', {'data-points-window': win && !same ? win.points : null, 'data-bridge-window': (win && win.bridge) || null,
      'data-peak': this.peak ? '' : null, 'data-whiskers': bars ? '' : null, style: {textAlign: 'left'}},
    [win && !same ? `each point over ${dur(win.points)}` + (bridge ? `; ${bridge}` : '') : '', this.peak || '', barsWhat].filter(Boolean).join('; ')) : null;
    // Points over partial windows are said under the rows.
    // (ne of them reach past their series' last sample: its source
    // stopped, or paused, within their window; api.markStopped.)
    const np = partial.reduce((a, s) => a + s.partialPoints, 0);
    const ne = partial.reduce((a, s) => a + (s.endedPoints || 0), 0);
    // ng of them hold a step without data (api.gapped), nb reach before
    // their series' data began (withPartial: each point is said once).
    const ng = partial.reduce((a, s) => a + (s.gapPoints || 0), 0);
    const nb = np - ne - ng;
    // Of more than one kind, each kind names its series: the foot said
    // "4 points whose window reaches before the data began or past the
    // last sample or, 1 of them, holds a gap", which read as said of the
    // series begun a week ago whose points held the gap, where the 3
    // others were of services begun within the bridge's window.
    const named = (n, key, text) => {
      if (!n) return null;
      const names = partial.filter((s) => s[key] > 0).map((s) => s.partialOf);
      return `${n} ${text}: ${names.slice(0, 3).join(', ')}${names.length > 3 ? ` and ${names.length - 3} more` : ''}`;
    };
    const what = ng === np ? 'whose window holds a gap in the data (a step or more without a sample)'
      : ne === np ? 'whose window reaches past the last sample (a partial window: the source stopped)'
        : nb === np ? 'whose window reaches before the data began (a partial window)'
          : `over partial windows (${[named(nb, 'beganPoints', 'reaching before the data began'), named(ne, 'endedPoints', 'past the last sample'),
            named(ng, 'gapPoints', 'holding a gap in the data')].filter(Boolean).join('; ')})`;
    // A series with no whole point gives its partial figures (partialStats).
    const whole = new Set(shown.filter((s) => s.data.some((v) => v != null)).map((s) => s.label));
    const nj = this.partialStats ? partial.filter((s) => !whole.has(s.partialOf)).length : 0;
    // Their figures are in min and max only where beyond the whole
    // points' (above), marked; a rate's only in max (it reads low).
    const rates = partial.every((s) => s.spread !== false && s.spread !== 'high');
    const complements = partial.every((s) => s.spread === 'high');
    const beyond = rates ? `in max only where higher than every whole point, marked ${this.partialStats ? `"≥ … ${mark}"` : `"≥ …*" (${mark})`} (a rate over a partial window reads low: the highest was at least that), never in min`
      : complements ? `in min only where lower than every whole point, marked ${this.partialStats ? `"≤ … ${mark}"` : `"≤ …*" (${mark})`} (one less a rate over a partial window reads high: the lowest was at most that), never in max`
        : `in min or max only where beyond every whole point, marked ${marked}`;
    const out = nj === 0 ? beyond
      : nj === partial.length ? `${this.partialStats}: the legend gives their figures, marked so`
        : `${beyond}; a series with no other point gives their figures, marked ${this.partialStats}`;
    const foot = np ? h('tfoot', {}, h('tr', {}, h('td', {colspan: 4, class: 'muted small', 'data-partial': String(np), 'data-ended': String(ne), 'data-gap': String(ng), 'data-began': String(nb)},
      `dashed: ${np} point${np === 1 ? '' : 's'} ${what}, ${out}`))) : null;
    // Patched, not rebuilt: on Live most of a legend is the same every second.
    const minTh = h('th', {title: np ? `the lowest point over a whole window; a dashed one lower is given instead, marked ${marked}, unless a rate's (it reads low over a partial window)` : null}, 'min');
    const maxTh = h('th', {title: np ? `the highest point over a whole window; a dashed one higher is given instead, marked ${marked} (a rate's as "≥": the highest was at least that)` : null}, 'max');
    patch(this.stats, (rows.length ? [caption, h('thead', {}, h('tr', {}, h('th', {}, ''), lastTh, minTh, maxTh)), h('tbody', {}, rows), foot].filter(Boolean) : []));
  }

  options(series) {
    const unit = this.unit;
    const opts = {
      width: this.width(),
      height: this.height,
      // Drag across a chart to zoom every chart to that span; the cursor
      // is shared by every chart of the page (sync key "gmc").
      cursor: {points: {size: 6}, drag: {x: true, y: false, setScale: false}, sync: {key: 'gmc'}},
      hooks: {setSelect: [zoomSelect], draw: [drawWhiskers]},
      legend: {show: false},
      scales: {
        x: {time: true, range: (u, lo, hi) => xWindow(this.el, this.xRange, lo, hi)},
        y: this.log ? {distr: 3, log: 10, range: (u, lo, hi) => logRange(...whiskerSpan(u, lo, hi, true))}
          : {range: (u, lo, hi) => yRange(...whiskerSpan(u, lo, hi, false), this.min)},
      },
      axes: [timeAxis(), this.log ? {...valueAxis(unit), splits: logSplits, filter: (u, splits) => splits} : valueAxis(unit)],
      series: [{value: '{YYYY}-{MM}-{DD} {HH}:{mm}:{ss}'}, ...series.map((s, i) => {
        const color = s.color || PALETTE[i % PALETTE.length];
        return {
          label: s.label,
          stroke: color,
          width: s.width || 1.5,
          dash: s.dash,
          fill: s.fill,
          // A point with no neighbour draws no line: show it as a dot
          // (a sparse 24h series looked empty).
          points: s.points || {show: true, size: 5, filter: isolated},
          paths: s.paths,
          spanGaps: !!s.spanGaps,
          value: (u, v) => (s.stat || statOf(unit))(v),
        };
      })],
    };
    if (this.bandsSpec) opts.bands = this.bandsSpec.map(([hi, lo]) => ({series: [hi, lo], fill: 'rgba(76,194,255,0.12)'}));
    return opts;
  }

}

/**
 * lastCell is a legend's "last" of a series whose newest whole point is
 * at index i of xs: its value, or when newer points of the series are
 * partial (s.partialOf's) or it ends over two steps before the chart's
 * newest point, its value and when it was ("0.101× at 09:38"): at 7d the
 * SLA legend's last showed the history's ratio of 1 h 40 min before as
 * now, beside a table saying 79.6× (t-user10 #3). The "at …" may wrap
 * under the value (.last-at): on one line it pushed the p99 legend's max
 * out of its card at 1440 px (issue 13).
 */
function lastCell(s, i, text, xs, wins = null) {
  const n = xs.length;
  const later = s.partialData && s.partialData.some((v, j) => j > i && v != null);
  const step = n > 1 ? xs[1] - xs[0] : 0;
  if (i < 0 || i >= n - 1 || !(later || (step > 0 && xs[n - 1] - xs[i] > 2 * step))) return h('td', {class: 'num', 'data-stat': 'last'}, text);
  // A point of a sparse series (a benchmark's runs: last_over_time over
  // its step) is at its step's time, not its sample's: the series gives
  // its sample's (s.lastAt, asked of gmc) and what it is (s.lastWhat), and
  // the cell says that time (t-user16 F4: "at 03:02" for a run at 02:43:03).
  const sampled = s.lastAt != null && isFinite(s.lastAt);
  const at = sampled ? s.lastAt : xs[i];
  const d = new Date(at * 1000);
  const hm = `${pad2(d.getHours())}:${pad2(d.getMinutes())}`;
  const when = xs[n - 1] - at >= 86400 ? `${pad2(d.getMonth() + 1)}-${pad2(d.getDate())} ${hm}` : hm;
  if (sampled) {
    const what = s.lastWhat || 'sample';
    return h('td', {class: 'num', 'data-stat': 'last', 'data-last-at': String(at), 'data-sample-at': String(at), 'data-point-at': String(xs[i]),
      title: `the newest ${what}, at ${when}:${pad2(d.getSeconds())} (drawn on the chart's step ending ${clock(xs[i] * 1000)})`}, text, h('span', {class: 'last-at'}, ` at ${when}`));
  }
  // Its window: the bridge's (the point before the tail, when the range
  // has one) or the points' (window: a string or {points, last, bridge}).
  const win = wins == null ? null : typeof wins === 'string' ? {points: wins} : wins;
  const over = !win ? '' : win.bridge && i === n - 2 ? dur(win.bridge) : dur(win.points);
  return h('td', {class: 'num', 'data-stat': 'last', 'data-last-at': String(at), 'data-last-window': over || null,
    title: `the newest whole point, at ${when}${over ? `, over the ${over} before it` : ''}${later ? '; the points after it are over partial windows (dashed)' : ''}`},
  text, h('span', {class: 'last-at'}, ` at ${when}${over ? `, over ${over}` : ''}`));
}

/**
 * judgedLastCell is a legend's last that is a series' newest judged
 * window (s.judgedLast, the SLA page's where each point is the worst
 * window within its step: {v, at, newer}, or null for none in the range),
 * not its newest whole point: that point, the worst within its step, was
 * dated at the step's end, the history's 0.102× "at 17:54" from windows
 * ending by 16:25 (trial 28 F2). Its value at its own time ("0.102× at
 * 16:25"), said when it is over two minutes before the chart's newest
 * point or newer windows are not judged, which the cell then says too
 * ("; newer not judged": mark, the chart's partialStats). A last beyond
 * the row's min or max (lo, hi: its points', each its step's worst) says
 * it is one window: at 30d "last 99.999% at 19:28" beside "max 99.998%"
 * read as a contradiction (trial 29 F4).
 */
function judgedLastCell(j, f, xs, mark, lo, hi) {
  if (!j) {
    return h('td', {class: 'num muted', 'data-stat': 'last', 'data-no-judged': '', title: `the newest judged window (its hour wholly covered by data) is not known: none was read in the range`}, '–');
  }
  const end = xs.length ? xs[xs.length - 1] : j.at;
  const d = new Date(j.at * 1000);
  const hm = `${pad2(d.getHours())}:${pad2(d.getMinutes())}`;
  const when = end - j.at >= 86400 ? `${pad2(d.getMonth() + 1)}-${pad2(d.getDate())} ${hm}` : hm;
  const out = isFinite(lo) && isFinite(hi) && ((j.v < lo && f(j.v) !== f(lo)) || (j.v > hi && f(j.v) !== f(hi)));
  const title = `the newest judged 1h window (its hour wholly covered by data), the hour to ${when.length > 5 ? when.slice(0, 6) : ''}${clock(d)}` +
    (out ? `; one window, ${j.v < lo ? 'below the min' : 'above the max'}: each point is the worst window within its step, and this window is milder than that of its step` : '') +
    (j.newer ? `; the windows after it are ${mark} (not yet covered by data: dashed)` : '');
  const attrs = {class: 'num', 'data-stat': 'last', 'data-judged-at': String(j.at), 'data-newer-not-judged': j.newer ? '' : null, 'data-one-window': out ? '' : null, title};
  if (!j.newer && !out && end - j.at <= 120) return h('td', attrs, f(j.v));
  return h('td', {...attrs, 'data-last-at': String(j.at)}, f(j.v), h('span', {class: 'last-at'}, ` at ${when}${out ? ', one window' : ''}${j.newer ? `; newer ${mark}` : ''}`));
}

/**
 * withPartial splits each series with points over partial windows
 * (s.data.partial, a Set of indices: api.align) in two: the series with
 * its whole points, and after all series one drawn thin and dashed in its
 * colour through its partial points and their neighbours (so it meets the
 * solid line), out of the legend (noStats). Colours are fixed first: a
 * series' palette colour is by its place among the series given.
 */
export function withPartial(series) {
  if (!series.some((s) => s.data && s.data.partial && s.data.partial.size)) return series;
  const out = [];
  const parts = [];
  series.forEach((s, i) => {
    const p = s.data && s.data.partial;
    const color = s.color || PALETTE[i % PALETTE.length];
    if (!p || !p.size) {
      out.push({...s, color});
      return;
    }
    const y = s.data;
    // partialGap, partialEnded, spread: for its legend's cells (renderStats).
    out.push({...s, color, data: y.map((v, j) => (p.has(j) ? null : v)), partialData: y.map((v, j) => (p.has(j) ? v : null)),
      partialGap: y.gap || null, partialEnded: y.ended || null, spread: y.spread});
    // Each partial point is said once, by the first that holds of: its
    // window holds a gap (the series has data on both sides of it, or is
    // back now), reaches past the last sample (the source stopped), or
    // else reaches before the data began.
    const gapPoints = y.gap ? y.gap.size : 0;
    const endedPoints = y.ended ? [...y.ended].filter((j) => !(y.gap && y.gap.has(j))).length : 0;
    parts.push({label: `${s.label} (partial window)`, color, width: 1, dash: [3, 3], noStats: true, partialOf: s.label, partialPoints: p.size,
      endedPoints, gapPoints, beganPoints: p.size - gapPoints - endedPoints, spread: y.spread,
      data: y.map((v, j) => (p.has(j) || (v != null && (p.has(j - 1) || p.has(j + 1))) ? v : null))});
  });
  return out.concat(parts);
}

/**
 * drawWhiskers draws, for each series with whiskers ({lo, hi}: arrays by
 * point, null where none), a bar from lo to hi through each of its points
 * that has both, capped at either end, in the series' colour: the extremes
 * within a point's step that the point (its last) leaves out. A benchmark
 * trend's legend gave the max of every run at 7d (84k) where the highest
 * dot drawn was ~80k. The chart's element notes what it drew
 * (data-whiskers: how many bars; data-whisker-lo/-hi: their extremes).
 */
function drawWhiskers(u) {
  const ws = u.data.whiskers || [];
  const el = u.root.parentElement;
  // A chart that never had whiskers is left alone (no attribute written
  // on each draw: 13 charts a second on a Live service page).
  if (!ws.length && (!el || el.dataset.whiskers == null)) return;
  const xs = u.data[0];
  const log = u.scales.y.distr === 3;
  const {ctx} = u;
  const {left, top, width, height} = u.bbox;
  const px = uPlot.pxRatio || 1;
  let n = 0;
  let lo = Infinity;
  let hi = -Infinity;
  ctx.save();
  ctx.beginPath();
  ctx.rect(left, top, width, height);
  ctx.clip();
  ctx.lineWidth = 1.5 * px;
  for (const w of ws) {
    ctx.strokeStyle = w.color;
    ctx.beginPath();
    for (let j = 0; j < xs.length; j++) {
      const a = w.lo[j];
      const b = w.hi[j];
      if (a == null || b == null || !(b > a) || (log && !(a > 0))) continue;
      const x = u.valToPos(xs[j], 'x', true);
      const y0 = u.valToPos(a, 'y', true);
      const y1 = u.valToPos(b, 'y', true);
      const cap = 3 * px;
      ctx.moveTo(x, y0); ctx.lineTo(x, y1);
      ctx.moveTo(x - cap, y0); ctx.lineTo(x + cap, y0);
      ctx.moveTo(x - cap, y1); ctx.lineTo(x + cap, y1);
      n++;
      lo = Math.min(lo, a);
      hi = Math.max(hi, b);
    }
    ctx.stroke();
  }
  ctx.restore();
  if (!el) return;
  const set = (k, v) => { if (el.dataset[k] !== v) el.dataset[k] = v; };
  set('whiskers', String(n));
  set('whiskerLo', n ? String(lo) : '');
  set('whiskerHi', n ? String(hi) : '');
}

/**
 * whiskerSpan widens a y scale's data range (lo, hi) to the whiskers' (a
 * bar above the highest point would be cut off); on a log scale, by
 * values above 0 only.
 */
function whiskerSpan(u, lo, hi, log) {
  for (const w of u.data.whiskers || []) {
    for (let j = 0; j < w.lo.length; j++) {
      const a = w.lo[j];
      const b = w.hi[j];
      if (a == null || b == null) continue;
      if (!log || a > 0) lo = lo == null ? a : Math.min(lo, a);
      if (!log || b > 0) hi = hi == null ? b : Math.max(hi, b);
    }
  }
  return [lo, hi];
}

/** zoomSelect turns a drag selection into a gmc-zoom event (main.js navigates). */
function zoomSelect(u) {
  const {left, width} = u.select;
  if (width < 5) return;
  const from = u.posToVal(left, 'x');
  const to = u.posToVal(left + width, 'x');
  u.setSelect({left: 0, width: 0, top: 0, height: 0}, false);
  window.dispatchEvent(new CustomEvent('gmc-zoom', {detail: {from, to}}));
}

/**
 * RUN_PX is the least width (CSS px) of a run of points drawn as a line:
 * a shorter run is drawn as dots at its newest, highest and lowest
 * points (isolated).
 */
const RUN_PX = 3;

/**
 * isolated lists the points drawn as dots (uPlot points.filter): a point
 * with no non-null neighbour, and the newest, highest and lowest points
 * of a run of points narrower than RUN_PX, whose line is not seen: at 7d
 * a burst after a gap is on the bridge and the tail, a minute apart
 * (0.01 px), and drew nothing at all (t-user10 #3); with a dot at the
 * newest alone, the bridge's 88.9× (the legend's max) was drawn nowhere
 * beside the tail's 56× (trial 29 F2).
 */
export function isolated(u, si) {
  const xs = u.data[0];
  const y = u.data[si];
  const px = (x) => (typeof u.valToPos === 'function' ? u.valToPos(x, 'x') : NaN);
  const out = [];
  for (let i = 0; i < y.length; i++) {
    if (y[i] == null) continue;
    let j = i;
    while (j + 1 < y.length && y[j + 1] != null) j++;
    if (j === i || Math.abs(px(xs[j]) - px(xs[i])) < RUN_PX) {
      let lo = j;
      let hi = j;
      for (let k = i; k < j; k++) {
        if (y[k] < y[lo]) lo = k;
        if (y[k] > y[hi]) hi = k;
      }
      out.push(...new Set([lo, hi, j].sort((a, b) => a - b)));
    }
    i = j;
  }
  return out;
}

export function yRange(lo, hi, min) {
  if (lo == null || hi == null) return [min ?? 0, (min ?? 0) + 1];
  if (min != null) lo = Math.min(lo, min);
  // An all-zero (or flat non-negative) series sits on the floor of a 0..x
  // axis, never in the middle of −1..1.
  if (lo === hi) {
    if (lo === 0) return [0, 1];
    const d = Math.abs(hi) * 0.1;
    return [lo >= 0 && lo - d < 0 ? 0 : lo - d, hi + d];
  }
  const pad = (hi - lo) * 0.08;
  return [lo >= 0 && lo - pad < 0 ? 0 : lo - pad, hi + pad];
}

/** logRange is a log axis' span: whole decades around the data (1 – 10 when there is none). */
export function logRange(lo, hi) {
  if (!(lo > 0) || !(hi > 0)) return [1, 10];
  const a = 10 ** Math.floor(Math.log10(lo));
  let b = 10 ** Math.ceil(Math.log10(hi));
  if (b <= a) b = a * 10;
  return [a, b];
}

/**
 * HeatmapChart draws a latency histogram over time: x time, y latency on a
 * log scale (µs), one cell per step and bucket, colour by share of the
 * step's events. update(xs, step, cols) with cols[i] = [[lo, hi, rate]...].
 */
export class HeatmapChart extends Lazy {
  constructor(parent, {id, height = 240}) {
    super(h('div', {class: 'chart heatmap', 'data-chart': id, 'data-points': '0'}), height);
    this.height = height;
    // The colour scale and the readout of the cell under the cursor.
    this.scaleMax = h('span', {class: 'hm-max'}, '');
    this.readout = h('span', {class: 'hm-readout', 'data-readout': ''}, 'hover a cell for its bucket and share');
    // What the faded columns are (update's ended), when there are some.
    this.endedNote = h('span', {class: 'hm-ended', hidden: true}, '');
    // What the marked columns at the start are (update's before).
    this.beforeNote = h('span', {class: 'hm-before', hidden: true}, '');
    // What the marked columns after the first with data are (update's holes).
    this.holesNote = h('span', {class: 'hm-holes', hidden: true}, '');
    this.legend = h('div', {class: 'hm-legend'},
      h('span', {class: 'muted'}, 'share of the step\'s events: 0%'), h('span', {class: 'hm-ramp'}), this.scaleMax, this.beforeNote, this.holesNote, this.endedNote, this.readout);
    this.ended = new Set();
    this.silent = new Map();
    this.before = 0;
    this.holes = new Set();
    this.beganText = '';
    add(parent, this.el, this.legend);
    this.cols = [];
    this.ro = new ResizeObserver((es) => {
      this.w = boxWidth(es);
      if (this._u && this.w > 0 && Math.abs(this._u.width - chartWidth(this)) > 1) this._u.setSize({width: chartWidth(this), height: this.height});
    });
    this.ro.observe(this.el);
  }

  /**
   * update draws cols (cols[i] = [[lo, hi, rate]...] at xs[i]); ended
   * (optional) is {cols: a Set of indices, note}: the columns whose
   * window reaches past the source's last sample (its service stopped):
   * drawn faded (their events are the ones from before the stop, spread
   * over a window of silence too: at full colour a stopped service's
   * heatmap looked live), note said under the chart. silent (optional): a
   * Map of the columns whose window holds a silence of the source (index
   * → {from, until}, Unix s): their shares are of the events seen, their
   * events/s spread over the silence too (they read low), which the
   * readout says.
   */
  update(xs, step, cols, ended = null, gap = false, silent = null) {
    this.end = xs.at(-1) ?? null;
    const silentCols = silent || new Map();
    this.el.dataset.silent = String(silentCols.size);
    const endedCols = ended && ended.cols.size ? ended.cols : new Set();
    this.el.dataset.ended = String(endedCols.size);
    this.endedNote.hidden = !endedCols.size;
    setText(this.endedNote, endedCols.size ? `faded: ${endedCols.size} column${endedCols.size === 1 ? '' : 's'} ${ended.note}` : '');
    // The columns before the first one with data (the data began within
    // the range) hold no data, not zero events: marked grey and said, as
    // the columns after a stop are (an empty start read as a quiet one).
    const first = cols.findIndex((c) => c);
    const before = first > 0 ? first : 0;
    const span = xs.length > 1 ? xs[xs.length - 1] - xs[0] : 0;
    const began = before ? (span >= 86400 ? `${dayOf(xs[first])} ${clock(xs[first] * 1000)}` : clock(xs[first] * 1000)) : '';
    this.el.dataset.before = String(before);
    this.beforeNote.hidden = !before;
    // gap: the series has data before those columns (gmc was down, or
    // restarted): a gap in the data, not its start.
    this.gap = gap;
    this.el.dataset.beforeGap = gap && before ? '1' : '';
    setText(this.beforeNote, !before ? ''
      : gap ? `grey: ${before} column${before === 1 ? '' : 's'} in a gap in the data (there is data before it; the first column with data after it at ${began}): no data, not zero events`
        : `grey: ${before} column${before === 1 ? '' : 's'} before the data began (the first with data at ${began}): no data yet, not zero events`);
    // The columns without data after the first with data (a gap: gmc or
    // the service was down; or after the service's last sample) are no
    // data too: marked and said alike (t-user15 F2: a kill -9's 12 minutes
    // were left the plot's background, the colour of 0 %).
    const holes = new Set();
    if (first >= 0) cols.forEach((c, i) => { if (i > first && !c) holes.add(i); });
    this.el.dataset.holes = String(holes.size);
    this.holesNote.hidden = !holes.size;
    setText(this.holesNote, holes.size ? `grey: ${holes.size} column${holes.size === 1 ? '' : 's'} after the first with data ${holes.size === 1 ? 'has' : 'have'} no data (a gap in the data, or after the last sample): not zero events` : '');
    let lo = Infinity;
    let hi = 0;
    let cells = 0;
    let max = 0;
    for (const col of cols) {
      if (!col) continue;
      const tot = col.reduce((a, c) => a + c[2], 0);
      for (const c of col) {
        if (c[2] <= 0) continue;
        cells++;
        lo = Math.min(lo, c[0]);
        hi = Math.max(hi, c[1]);
        max = Math.max(max, c[2] / tot);
      }
    }
    setText(this.scaleMax, max ? units.pct.fmt(max * 100) : '–');
    this.el.dataset.points = String(cells);
    if (!cells) { lo = 1; hi = 1000; }
    const yr = [Math.max(lo / 1.15, 1e-3), Math.max(hi * 1.15, lo * 10)];
    // The columns and y range the plot reads (its scale, paint and
    // readout) go with the data they were drawn with (set).
    const apply = () => {
      this.cols = cols;
      this.ended = endedCols;
      this.silent = silentCols;
      this.before = before;
      this.holes = holes;
      this.beganText = began;
      this.step = step;
      this.max = max;
      this.yr = yr;
    };
    const data = [xs, xs.map(() => null)];
    // The plot is made once; a refresh gives it the new columns and y
    // range and redraws it (Live rebuilt it every second).
    if (this._u) this.set(data, apply);
    else {
      apply();
      this.later(data);
    }
    emptyNote(this.el, cells ? '' : 'No latency histogram in this time range');
  }

  make(data) {
    const unit = units.us;
    this._u = uPlot({
      width: chartWidth(this),
      height: this.height,
      legend: {show: false},
      cursor: {points: {show: false}, drag: {x: true, y: false, setScale: false}, sync: {key: 'gmc'}},
      scales: {x: {time: true, range: (u, lo, hi) => xWindow(this.el, null, lo, hi)}, y: {distr: 3, log: 10, range: () => this.yr}},
      axes: [timeAxis(), {...valueAxis(unit), splits: logSplits, filter: (u, splits) => splits}],
      series: [{}, {stroke: 'transparent', points: {show: false}}],
      hooks: {draw: [(u) => this.paint(u)], setCursor: [(u) => this.read(u)], setSelect: [zoomSelect]},
    }, data, this.el);
  }

  paint(u) {
    const {ctx} = u;
    const {left, top, width, height} = u.bbox;
    ctx.save();
    ctx.beginPath();
    ctx.rect(left, top, width, height);
    ctx.clip();
    const xs = u.data[0];
    // A column reaches half way to its neighbours (the tail, now, is
    // nearer its left one than a step).
    const x0Of = (i) => Math.round(u.valToPos(i > 0 ? (xs[i - 1] + xs[i]) / 2 : xs[i] - this.step / 2, 'x', true));
    if (this.before) {
      ctx.fillStyle = BEFORE_FILL;
      const x0 = x0Of(0);
      ctx.fillRect(x0, top, Math.max(1, x0Of(this.before) - x0), height);
    }
    const x1Of = (i) => Math.round(u.valToPos(i < xs.length - 1 ? (xs[i] + xs[i + 1]) / 2 : xs[i] + this.step / 2, 'x', true));
    if (this.holes.size) {
      ctx.fillStyle = BEFORE_FILL;
      for (const i of this.holes) ctx.fillRect(x0Of(i), top, Math.max(1, x1Of(i) - x0Of(i)), height);
    }
    for (let i = 0; i < this.cols.length; i++) {
      const col = this.cols[i];
      if (!col) continue;
      const tot = col.reduce((a, c) => a + c[2], 0);
      if (!tot) continue;
      const x0 = x0Of(i);
      const x1 = x1Of(i);
      ctx.globalAlpha = this.ended.has(i) ? ENDED_ALPHA : 1;
      for (const [lo, hi, v] of col) {
        if (v <= 0) continue;
        const y0 = Math.round(u.valToPos(hi, 'y', true));
        const y1 = Math.round(u.valToPos(Math.max(lo, this.yr[0]), 'y', true));
        const f = Math.sqrt(v / tot / this.max);
        ctx.fillStyle = heat(f);
        ctx.fillRect(x0, y0, Math.max(1, x1 - x0), Math.max(1, y1 - y0));
      }
    }
    ctx.restore();
  }

  /** read shows the bucket under the cursor: time, bounds, share and rate. */
  read(u) {
    const {left, top} = u.cursor;
    this.el.dataset.readout = '';
    if (left == null || left < 0 || !this.cols) return;
    const t = u.posToVal(left, 'x');
    const y = u.posToVal(top, 'y');
    const xs = u.data[0];
    let i = Math.max(0, Math.min(xs.length - 1, Math.round((t - xs[0]) / this.step)));
    if (i + 1 < xs.length && Math.abs(xs[i + 1] - t) < Math.abs(xs[i] - t)) i++;
    const col = this.cols[i];
    if (i < this.before) {
      const text = `${new Date(xs[i] * 1000).toLocaleTimeString([], {hour12: false})} · ` + (this.gap
        ? `no data: a gap in the data (the first column with data after it at ${this.beganText})`
        : `no data yet: before the data began (the first column with data at ${this.beganText})`);
      this.readout.textContent = text;
      this.el.dataset.readout = text;
      return;
    }
    if (!col) {
      const text = `${new Date(xs[i] * 1000).toLocaleTimeString([], {hour12: false})} · no data in this step` + (this.holes.has(i) ? ' (a gap in the data, or after the last sample): not zero events' : '');
      this.readout.textContent = text;
      this.el.dataset.readout = text;
      return;
    }
    const tot = col.reduce((a, c) => a + c[2], 0);
    const c = col.find(([lo, hi]) => y > lo && y <= hi);
    const at = new Date(u.data[0][i] * 1000).toLocaleTimeString([], {hour12: false});
    if (!c || !tot) { this.readout.textContent = `${at} · no events at ${units.us.fmt(y)}`; return; }
    const sl = this.silent.get(i);
    const text = `${at} · ${units.us.fmt(c[0])} – ${units.us.fmt(c[1])} · ${units.pct.fmt((100 * c[2]) / tot)} of events · ${units.rate.fmt(c[2])}` +
      (this.ended.has(i) ? ' · its window reaches past the last sample' : '') +
      (sl ? ` · its window holds ${dur(sl.until - sl.from)} without samples (${clock(sl.from * 1000)}–${clock(sl.until * 1000)}): the rate is spread over it (reads low), the share is of the events seen` : '');
    this.readout.textContent = text;
    this.el.dataset.readout = text;
  }

}

/** ENDED_ALPHA is the opacity of a heatmap column whose window reaches past its source's last sample. */
const ENDED_ALPHA = 0.3;

/** BEFORE_FILL marks the heatmap columns without data: before its data began, in a gap, after the last sample. */
const BEFORE_FILL = 'rgba(139,148,158,0.14)';

/** dayOf is a time (Unix s) as its local month and day, "12-01". */
function dayOf(t) {
  const d = new Date(t * 1000);
  return `${pad2(d.getMonth() + 1)}-${pad2(d.getDate())}`;
}

/**
 * logSplits are 1-2-5 steps of each decade within the scale, thinned to
 * one every 18 px so labels never overlap (decades first).
 */
function logSplits(u, axisIdx, min, max) {
  const cand = [];
  for (let e = Math.floor(Math.log10(min)); e <= Math.ceil(Math.log10(max)); e++) {
    for (const m of [1, 2, 5]) {
      const v = m * 10 ** e;
      if (v >= min && v <= max) cand.push(v);
    }
  }
  const px = (u.bbox.height / devicePixelRatio) || u.height || 200;
  const decades = Math.log10(max / min) || 1;
  const perDecade = px / decades;
  // 1-2-5 when a decade has room for three labels, else decades only
  // (every other decade when even those crowd).
  const keep = perDecade >= 54 ? cand : cand.filter((v) => Math.abs(Math.log10(v) % 1) < 1e-9 || Math.abs(Math.log10(v) % 1) > 1 - 1e-9);
  if (perDecade >= 18 || keep.length < 3) return keep;
  return keep.filter((v, i) => i % Math.ceil(18 / perDecade) === 0);
}

/** heatColor maps 0..1 to a dark-blue → cyan → yellow ramp. */
function heatColor(f) {
  const stops = [[13, 42, 74], [32, 120, 180], [76, 194, 255], [180, 230, 140], [255, 214, 90]];
  const x = Math.max(0, Math.min(1, f)) * (stops.length - 1);
  const i = Math.min(stops.length - 2, Math.floor(x));
  const t = x - i;
  const c = stops[i].map((a, k) => Math.round(a + (stops[i + 1][k] - a) * t));
  return `rgb(${c[0]},${c[1]},${c[2]})`;
}

/**
 * HEAT is the ramp in 256 steps, made once: a Live heatmap paints some
 * thousands of cells a second, and made each cell's colour string anew.
 */
const HEAT = Array.from({length: 256}, (_, i) => heatColor(i / 255));

/** heat is the ramp's colour of 0..1. */
function heat(f) {
  return HEAT[Math.round(Math.max(0, Math.min(1, f)) * 255)];
}

/** SPARK_W, SPARK_H are a sparkline's size (px). */
const SPARK_W = 96;
const SPARK_H = 22;

/**
 * sparkline is a tiny SVG line of a series (nulls skipped). A pixel
 * column draws only its lowest and highest point (in their order): a 1h
 * range has ~3 points a column, and the Overview's 100 sparklines of 301
 * points each were half the cost of its table (26 → 51 ms in Chromium at
 * load 25 against 96 points).
 */
export function sparkline(ys, color = PALETTE[0], emptyOnly = false) {
  // Points over partial windows (api.align) are not drawn: a tiny line
  // cannot mark them, and their ramp read as a quiet start.
  if (ys.partial) ys = ys.map((v, i) => (ys.partial.has(i) ? null : v));
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of ys) if (v != null) { if (v < lo) lo = v; if (v > hi) hi = v; }
  const W = SPARK_W;
  const H = SPARK_H;
  if (!isFinite(lo)) return h('span', {class: 'spark spark-empty'});
  // emptyOnly: the caller draws a line with points later (Sparks.cell).
  if (emptyOnly) return null;
  const n = Math.max(1, ys.length - 1);
  const r1 = (x) => Math.round(x * 10) / 10;
  const pts = [];
  const push = (i) => pts.push(r1((i / n) * W) + ',' + r1(hi === lo ? H / 2 : H - 2 - ((ys[i] - lo) / (hi - lo)) * (H - 4)));
  // a, b: the indices of the current column's lowest and highest point.
  let col = -1;
  let a = -1;
  let b = -1;
  const flush = () => {
    if (a < 0) return;
    push(Math.min(a, b));
    if (a !== b) push(Math.max(a, b));
  };
  for (let i = 0; i < ys.length; i++) {
    const v = ys[i];
    if (v == null) continue;
    const c = Math.floor((i / n) * W);
    if (c !== col) {
      flush();
      col = c;
      a = b = i;
    } else if (v < ys[a]) a = i;
    else if (v > ys[b]) b = i;
  }
  flush();
  const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
  svg.setAttribute('class', 'spark');
  svg.setAttribute('viewBox', `0 0 ${W} ${H}`);
  svg.setAttribute('width', W);
  svg.setAttribute('height', H);
  svg.dataset.points = String(pts.length);
  const pl = document.createElementNS('http://www.w3.org/2000/svg', 'polyline');
  pl.setAttribute('points', pts.join(' '));
  pl.setAttribute('fill', 'none');
  pl.setAttribute('stroke', color);
  pl.setAttribute('stroke-width', '1.5');
  add(svg, pl);
  return svg;
}

/** sparkSets are the Sparks of the document, told when it is printed. */
const sparkSets = new Set();

/**
 * Sparks draws the sparklines of a table's rows on or near the screen
 * with the page and the others when they come near (an
 * IntersectionObserver), when the browser is next idle after the first
 * refresh, or when the page is printed, whichever is first: the Overview's
 * 50 services drew 100 of them with every refresh, none of their rows on
 * a 1440 × 857 screen (the table begins below it).
 *
 * Which rows are near is decided without a layout (reading the rows'
 * places forced one of the whole page and its 50-row table inside the
 * refresh: 31 ms, more than the lines it saved). A row's cell is a
 * placeholder of the line's size (a line without points, smaller, is
 * drawn at once), so a row holding one is at least ROW_MIN tall. The
 * first refresh places the rows from where the table's box was before
 * the data (the observer's first report, the page not scrolled since:
 * what is above it only grows with the data), each at least ROW_MIN below
 * the one before: a row whose place so is further than NEAR_PX below the
 * screen is, and waits; the others are drawn (all of them when there is
 * no such report). A later refresh takes each row's cell's own report
 * (the cells stay: util.patch), and draws a cell it has none for.
 */
export class Sparks {
  constructor(box) {
    // want: the cells made since the last show, by their data-spark index;
    // todo: the placeholders in the document not drawn yet; near: each
    // cell's last report; top: the box's place in the page before the data.
    this.want = [];
    this.todo = new Map();
    this.near = new WeakMap();
    // top, far: the box's top and the far edge of the screen's margin
    // (viewport px) at the observer's first report on it, while the page
    // is not scrolled or resized since (moved): read so, not from
    // scrollY or innerHeight, which lay the page out when read.
    this.box = box;
    this.top = null;
    this.far = null;
    this.moved = false;
    this.onMove = () => { this.moved = true; };
    window.addEventListener('scroll', this.onMove, {passive: true});
    window.addEventListener('resize', this.onMove, {passive: true});
    this.gen = 0;
    this.io = new IntersectionObserver((es) => {
      for (const e of es) {
        if (e.target === box) {
          if (this.top == null && e.rootBounds) {
            this.top = e.boundingClientRect.top;
            this.far = e.rootBounds.bottom;
            this.moved = false;
          }
          continue;
        }
        this.near.set(e.target, e.isIntersecting);
        if (e.isIntersecting) this.draw(e.target);
      }
    }, {rootMargin: NEAR});
    this.io.observe(box);
    sparkSets.add(this);
  }

  cell(ys, color) {
    const line = sparkline(ys, color, true);
    if (line) return h('td', {}, line);
    this.want.push([ys, color]);
    // (Its size is app.css's .spark-wait: SPARK_W × SPARK_H.)
    return h('td', {'data-spark': String(this.want.length - 1)}, h('span', {class: 'spark spark-wait'}));
  }

  show(root) {
    this.io.disconnect();
    this.todo.clear();
    const want = this.want;
    this.want = [];
    const first = this.gen === 0;
    // The rows' lowest places (first refresh): from the box's, each row
    // holding a placeholder at least ROW_MIN below the one before.
    let y = first && this.top != null && !this.moved ? this.top : null;
    const far = this.far;
    window.removeEventListener('scroll', this.onMove);
    window.removeEventListener('resize', this.onMove);
    for (const tr of root.querySelectorAll('tr')) {
      const cells = [...tr.querySelectorAll(':scope > td[data-spark]')]
        .filter((td) => td.firstChild && td.firstChild.classList && td.firstChild.classList.contains('spark-wait') && want[Number(td.dataset.spark)]);
      for (const td of cells) {
        const known = this.near.get(td);
        const wait = document.hidden || (first ? y != null && y >= far : known === false);
        if (wait) this.todo.set(td, want[Number(td.dataset.spark)]);
        else fill(td, sparkline(...want[Number(td.dataset.spark)]));
      }
      if (y != null && cells.length) y += ROW_MIN;
    }
    // Every cell is watched: it is drawn when it comes near, and its
    // report is the next refresh's word on it.
    for (const td of root.querySelectorAll('td[data-spark]')) this.io.observe(td);
    // The first time, the rest are drawn when the browser is next idle, as
    // Lazy makes a plot; after, a row away from the screen waits to come
    // near, as a plot's new data does (Live redrew ~90 unseen lines a second).
    const gen = ++this.gen;
    if (this.todo.size && first) idle(() => { if (gen === this.gen) this.drawAll(); });
  }

  /** draw draws the sparkline of a placeholder cell not drawn yet. */
  draw(td) {
    const w = this.todo.get(td);
    if (!w) return;
    this.todo.delete(td);
    fill(td, sparkline(...w));
  }

  drawAll() {
    for (const td of [...this.todo.keys()]) this.draw(td);
  }

  destroy() {
    sparkSets.delete(this);
    window.removeEventListener('scroll', this.onMove);
    window.removeEventListener('resize', this.onMove);
    this.io.disconnect();
    this.todo.clear();
    this.gen++;
  }
}

/** ROW_MIN is the least height (px) of a table row holding a sparkline placeholder: the line's and its cell's padding. */
const ROW_MIN = 34;

/**
 * LEGEND_LINE is the height (px) of a line of a chart's legend (app.css
 * .stats' line-height), LEGEND_ROW of a row of one line (its cells' 1 px
 * padding above and below): a row is at least that tall, whatever the font.
 */
const LEGEND_LINE = 13;
const LEGEND_ROW = LEGEND_LINE + 2;

/** BODY_FONT is the page's font (app.css body), at a size. */
const BODY_FONT = (px) => `${px}px system-ui, -apple-system, "Segoe UI", Roboto, sans-serif`;

/**
 * lines is the least number of lines text wraps to in a box at most width
 * px wide, in the page's font of px: its width (a detached canvas measures
 * it, no layout) over the width, a space dropped at each break.
 */
function lines(text, px, width) {
  if (!text) return 0;
  if (!measureCtx) measureCtx = document.createElement('canvas').getContext('2d');
  measureCtx.font = BODY_FONT(px);
  const w = measureCtx.measureText(text).width;
  const space = measureCtx.measureText(' ').width;
  let n = 1;
  while (w - n * (width + space) > 0) n++;
  return n;
}

/**
 * legendLeast is the least height (px) of a chart's legend (its stats
 * table) in a card at most width px wide: a row of a line each, the
 * caption's and the foot's text wrapped (the foot's cell 2 px above and 1
 * below).
 */
function legendLeast(stats, width) {
  let n = 0;
  for (const part of stats.children) {
    if (part.tagName === 'CAPTION') n += lines(part.textContent, 11, width) * LEGEND_LINE;
    else if (part.tagName === 'TFOOT') n += lines(part.textContent, 12, width) * LEGEND_LINE + 3;
    else n += part.rows.length * LEGEND_ROW;
  }
  return n;
}

/**
 * Placement makes the plots of a page's charts that its first data put far
 * below the screen wait (Lazy.wait: made when they come near, when the
 * browser is next idle, or when read), deciding without a layout. A Lazy
 * decides by its own observer's last report, which at the first data is of
 * the page without them: legends empty, cards short. The host page so made
 * 9 plots at drawn where 6 were on the screen once the legends were in
 * (1440 × 857; each made plot a canvas, ~2 ms for its backing store at
 * 600 × 220, and uPlot's set-up); reading the charts' places after the
 * legends forced a layout of the whole page inside the drawing task (7.9
 * ms same tab, 20.3 new tab at load 15: t-web21, more than it saved).
 *
 * So each panel's chart is placed from one observer's first reports on its
 * card, plot and legend (their places before the data) and the least the
 * data add above it: a grid row's cards share their top, and the row's
 * content ends then at its lowest legend's bottom (the legends empty) and
 * after the data at least at any of its legends' top plus that legend's
 * least height now (legendLeast: a row of one line each, the caption and
 * foot wrapped in the card's width at the most); elements above the grid
 * (above: [el, px]) empty then and filled now add at least px each. A
 * chart whose plot's top so lies at or beyond the margin's far edge
 * (NEAR_PX below the screen) is far: its plot waits, and its chart asks its
 * own observer for a fresh report (Lazy.look), so a plot placed wrongly (a
 * word too long to wrap, say) is made the frame after, not at idle. The
 * others are decided as before (Lazy.later: their own report). At 1440 ×
 * 857 the bound gave the host page's third row 1,067 px, the layout 1,087:
 * its 3 plots wait (the margin's edge is at 1,057).
 *
 * It holds that what is above a chart only grows with the data: true of
 * the host page (its head, tiles, outage line and legends only gain rows);
 * a card hidden or shown since the reports ends the placing (the cards
 * after it may have moved up), as a scroll or resize since them does, or a
 * report missing (the data came before the first frame). Only the first
 * refresh is placed: after it, each chart's own report is of the page with
 * its data.
 *
 * A page calls begin() before its charts' first update and settle() after
 * the last, in the same task.
 */
export class Placement {
  constructor(panels, above = []) {
    this.panels = panels;
    this.above = above;
    // rects: each target's first report; edge: the margin's far edge then
    // (viewport px); moved: scrolled or resized since.
    this.rects = new Map();
    this.edge = null;
    this.moved = false;
    this.holding = false;
    this.done = false;
    this.held = [];
    this.onMove = () => { this.moved = true; };
    window.addEventListener('scroll', this.onMove, {passive: true});
    window.addEventListener('resize', this.onMove, {passive: true});
    this.io = new IntersectionObserver((es) => {
      for (const e of es) {
        if (this.rects.has(e.target) || !e.rootBounds) continue;
        this.rects.set(e.target, e.boundingClientRect);
        this.edge = e.rootBounds.bottom;
        this.moved = false;
      }
    }, {rootMargin: NEAR});
    for (const [el] of above) this.io.observe(el);
    for (const p of panels) {
      p.chart.placement = this;
      this.io.observe(p.card.el);
      this.io.observe(p.chart.el);
      this.io.observe(p.chart.stats);
    }
  }

  /**
   * begin holds the plots the charts' first data would make (Lazy.later)
   * until settle, called in the same task (and, should the page's code
   * throw before it, in a microtask queued now: no plot is left held).
   */
  begin() {
    if (this.done || this.holding) return;
    this.holding = true;
    queueMicrotask(() => this.settle());
  }

  /** hold keeps a chart's plot's arguments while holding; false when not. */
  hold(c, args) {
    if (!this.holding) return false;
    c.pending = args;
    if (!this.held.includes(c)) this.held.push(c);
    return true;
  }

  /** settle places the held charts: the far ones wait, the others are made or wait as their own reports say. */
  settle() {
    if (!this.holding) return;
    this.holding = false;
    const far = this.far();
    this.destroy();
    for (const c of this.held) {
      const args = c.pending;
      // (Made meanwhile for a reader.)
      if (!args) continue;
      c.pending = null;
      if (far.has(c)) {
        c.wait(args);
        c.look();
      } else c.later(...args);
    }
    this.held = [];
  }

  /** far is the set of the charts whose plot the data put beyond the margin's far edge, at the least. */
  far() {
    const out = new Set();
    if (this.moved || this.edge == null) return out;
    let above = 0;
    for (const [el, px] of this.above) {
      const r = this.rects.get(el);
      if (!r) return out;
      if (r.height === 0 && el.firstElementChild) above += px;
    }
    // A row's bottom is its cards' (stretched to the tallest) less their
    // padding below, taken as the least of any card's below its legend:
    // exact when the row holds only these cards, else the row's bottom.
    const cards = new Set(this.panels.map((p) => p.card.el));
    const own = this.panels.length > 0 && [...this.panels[0].card.el.parentElement.children].every((el) => cards.has(el));
    // Each grid row by its cards' top: its bottom then, and at the least after.
    const rows = new Map();
    const placed = [];
    for (const p of this.panels) {
      const rc = this.rects.get(p.card.el);
      const rs = this.rects.get(p.chart.stats);
      const rp = this.rects.get(p.chart.el);
      if (!rc || !rs || !rp) return out;
      const was = rc.width === 0 && rc.height === 0;
      if (was !== !!p.card.el.hidden) break;
      if (was) continue;
      const top = Math.round(rc.top);
      const row = rows.get(top) || {was: -Infinity, now: -Infinity};
      row.was = Math.max(row.was, own ? rs.bottom : rc.bottom);
      row.now = Math.max(row.now, rs.top + legendLeast(p.chart.stats, rc.width));
      rows.set(top, row);
      placed.push([p.chart, top, rp.top]);
    }
    const before = new Map();
    for (const top of [...rows.keys()].sort((x, y) => x - y)) {
      before.set(top, above);
      above += Math.max(0, rows.get(top).now - rows.get(top).was);
    }
    for (const [c, top, y] of placed) if (y + before.get(top) >= this.edge) out.add(c);
    return out;
  }

  destroy() {
    this.done = true;
    this.holding = false;
    this.io.disconnect();
    window.removeEventListener('scroll', this.onMove);
    window.removeEventListener('resize', this.onMove);
  }
}

/** topN keeps the n series with the largest newest value. */
export function topN(series, n, lastOf) {
  if (series.length <= n) return series;
  return [...series].sort((a, b) => (lastOf(b.data) ?? -Infinity) - (lastOf(a.data) ?? -Infinity)).slice(0, n);
}
