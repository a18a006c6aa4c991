// SLA page: achievement per window with its data coverage, budget left
// (or how far past it), achievement over time, burn rates.
import {getJSON, query, queryRange, align, keepPartial, coverExpr, NotAvailable, seriesStarts, runsBegan, markReturns} from './api.js';
import {labelKey} from './live.js';
import {LineChart, card, labelWidth, AXIS_TICKS} from './chart.js';
import {h, fill, add, units, pill, budgetBar, unavailable, downLine, showOutages} from './util.js';
import * as Q from './queries.js';

/** Y_LABEL is the height (px) of both charts' y axis title; Y_MIN their axes' least width. */
const Y_LABEL = 16;
const Y_MIN = 48;

/**
 * axisGroup sizes the y axes of the page's charts alike: as wide as the
 * widest tick label of any of them needs (labelWidth, in the axes' font),
 * so their plots start at the same x (the axes sized themselves apart and
 * 23:30 sat at x≈279 in one and 288 in the other, t-user6 #8). They were
 * a fixed 72 px, which cut off a label past ~9 characters (a burn rate of
 * "150000000×" beside an objective of 99.999999999 %). When a chart's
 * labels change the width, the others are laid out again (uPlot's
 * redraw with its axes recalculated).
 */
function axisGroup() {
  const need = new Map();
  const charts = [];
  let width = 0;
  return {
    add(c) { charts.push(c); },
    size(id) {
      return (u, values) => {
        if (values) need.set(id, labelWidth(values) + AXIS_TICKS);
        const w = Math.max(Y_MIN, ...need.values());
        if (w !== width) {
          const was = width;
          width = w;
          if (was) queueMicrotask(() => { for (const c of charts) if (c._u && c._u !== u) c._u.redraw(false, true); });
        }
        return w;
      };
    },
  };
}

/** SLAChart draws its y axis at the width of the page's axisGroup. */
class SLAChart extends LineChart {
  constructor(parent, opts, group) {
    super(parent, opts);
    group.add(this);
    this.group = group;
  }

  options(series) {
    const o = super.options(series);
    const y = o.axes[1];
    o.axes[1] = {...y, size: this.group.size(this.el.dataset.chart), label: y.label || '', labelSize: Y_LABEL, labelGap: y.labelGap || 2};
    return o;
  }
}

/** SLA_HOUR (s) is the window of the charts' recorded ratio, sla:error_ratio:rate1h. */
const SLA_HOUR = 3600;
const PARTIAL_NOTE = 'dashed: a window not yet covered by data (not judged), in min and max only where beyond every judged point, marked not judged; an SLA with no other point gives their figures, marked so';
const ACH_NOTE_TAIL = `dashed flat: objective; ${PARTIAL_NOTE}`;
const BURN_NOTE_TAIL = `1× spends the budget exactly over the SLA window; ${PARTIAL_NOTE}`;
const ACH_NOTE = `rolling 1h achievement; ${ACH_NOTE_TAIL}`;
const BURN_NOTE = `1h window; ${BURN_NOTE_TAIL}`;

/** setNote sets a card's note (card(…).note). */
function setNote(n, text) {
  if (n.textContent !== text) n.textContent = text;
}

/** dur is a step in s as "2.4 h", "48 min", "12 s". */
function dur(s) {
  return s >= 3600 ? `${+(s / 3600).toFixed(1)} h` : s >= 60 ? `${Math.round(s / 60)} min` : `${s} s`;
}

export function mount(main) {
  const list = h('div', {class: 'stack'});
  const ach = card('Achievement over time', {note: ACH_NOTE, wide: true});
  const axes = axisGroup();
  const achChart = new SLAChart(ach.body, {id: 'achievement', unit: units.pct9, partialStats: 'not judged'}, axes);
  const burn = card('Burn rate', {note: BURN_NOTE, wide: true});
  const chart = new SLAChart(burn.body, {id: 'burn', unit: units.x, min: 0, partialStats: 'not judged'}, axes);
  // gmc's own outages within the range, in the Overview's words (util.showOutages).
  const down = downLine();
  add(main, h('div', {class: 'page-head'}, h('h1', {}, 'SLAs')), down, ach.el, burn.el, list);
  const notes = (step, judging) => {
    // A point is dashed where the worst window of its step is not judged;
    // the legends' last is the newest judged window, at its time (Live's
    // newest point is its newest window).
    const of = `dashed where that window is not judged${judging ? '; the legend\'s last: the newest judged window, at its time' : ''}`;
    setNote(ach.note, `each point the worst (lowest) 1h achievement within its step (${dur(step)}), ${of}; ${ACH_NOTE_TAIL}`);
    setNote(burn.note, `each point the worst (highest) 1h burn within its step (${dur(step)}), ${of}; ${BURN_NOTE_TAIL}`);
  };
  // Where the recorded ratio's series begin (api.seriesStarts), asked
  // when a chart has a run of values begun in its matrix.
  const starts = seriesStarts();

  return {
    async refresh(w, signal) {
      // gmc's own outages (/system/status): it recorded no SLA ratio
      // while it was down, and says so as every page does.
      const [got, status] = await Promise.all([
        getJSON('/sla', signal).catch((e) => { if (e instanceof NotAvailable) return null; throw e; }),
        getJSON('/system/status', signal).catch((e) => (e.name === 'AbortError' ? Promise.reject(e) : {})),
      ]);
      showOutages(down, status.outages, w, ': it took in nothing and recorded no SLA ratio then (a gap in the charts there is gmc\'s)');
      if (!got) {
        fill(list, unavailable('SLAs', '/sla'));
        chart.update([w.start, w.end], []);
        achChart.update([w.start, w.end], []);
        return;
      }
      const slas = got.data || [];
      // Each point is the worst 1h ratio within its step, so no hour
      // falls between two points (sampled at 30d's 2.4 h steps, 58 % of
      // the time was in none). A point whose hour (and step) reaches
      // before its series' data began is partial (api.markPartial): drawn
      // dashed, out of the legends' min and max, as the table does not
      // judge such a window (a 1h ratio over 6 minutes of data read a
      // 106× burn, t-user9 #3).
      // At every step (24h: 5 min, 7d: 30 min) the 1h ratio sampled at
      // the steps missed the worst hours between them (7d read max 1.89×
      // where the worst rolling hour was 2.57×, which the 30d view showed,
      // t-user23 F2; 1h, 12 s, 85.9× for 88.9×, trial 29 F3): each point
      // is the worst within its step there too. The ratio is recorded at
      // each evaluation (on pushes, several a second, or the rules'
      // interval): at steps of a minute and less one holding no recorded
      // window takes the newest before it (Q.slaBurnStep), the window then
      // in force.
      const worst = w.step;
      const judging = !w.grid;
      notes(worst, judging);
      // The steps alone do not see a gap inside a point's reach (at 30d the
      // step before a 70-minute gap had a value and the hours after it,
      // 5-8 minutes of data each, read max 111×, t-user10 #3): each point
      // also counts the minutes of its reach the ratio was recorded at
      // (api.coverExpr), and one short of whole is partial.
      // Each point is also read over its judged windows and over the
      // others (Q.slaBurnWorstJudged): a point is the worst window within
      // its step, judged (whole) where that worst is a judged window,
      // whatever gap lies in its reach (t-user13 F9), and not judged
      // (dashed, and said so in the legends' max and min) where a window
      // not judged is worse. Drawn as the worst judged window alone, the
      // 30d step holding 89.6× windows after a gap read the history's
      // 0.1× (trial 28 F2). Not on Live: its 1 s point is one window, or
      // a few recorded within the second, whose reach (markPartial: the
      // lead, a reach long at 1 s, holds any gap) tells whether it is
      // judged; the read, a subquery, is no step gmc's cache keeps and
      // would be asked whole every second. Its legend's last is its
      // newest point.
      const reach = SLA_HOUR + worst;
      const [all, judged] = await Promise.all([
        queryRange(worst > 60 ? Q.slaBurnWorst : Q.slaBurnStep, w, signal, reach, coverExpr(Q.slaBurn)),
        judging ? queryRange(Q.slaBurnWorstJudged, w, signal) : null,
      ]);
      // Points taken as reaching before the data began (markPartial: no
      // value within the matrix's reach before them, an hour and a step)
      // of an SLA whose ratio was recorded before: it came back after a
      // silence longer than that (its service silent for over two hours:
      // the ratio is recorded for an hour after its last samples; or gmc
      // down that long: the backfill fills only the time before an SLA's
      // first recording, sla.BackfillStore), and their hours hold the
      // silence (api.markReturns). One request more, only when a run
      // seems to begin in the range.
      const marked = judged ? judgeSteps(all, judged, reach) : all;
      const st = await starts.tell(runsBegan(marked, w), [Q.slaBurn], [Q.slaBurn], w.at, signal);
      const res = markReturns(marked, w, st);
      const A = align(res, w);
      // The legends' last: the newest judged window and its time
      // (newestJudged).
      const lasts = judged ? await newestJudged(judged, A.xs, worst, signal) : null;
      const obj = new Map(slas.map((s) => [s.name, s.objective]));
      chart.update(A.xs, res.map((s, i) => {
        const budget = 1 - (obj.get(s.metric.sla) ?? 99.9) / 100;
        return {label: s.metric.sla || '?', data: keepPartial(A.ys[i], A.ys[i].map((v) => (v == null ? null : v / budget))),
          ...lastOf(lasts, s, (v) => v / budget)};
      }), 'No recorded error ratios yet');
      const series = [];
      res.forEach((s, i) => {
        const o = obj.get(s.metric.sla);
        series.push({label: s.metric.sla || '?', data: keepPartial(A.ys[i], A.ys[i].map((v) => (v == null ? null : 100 * (1 - v)))),
          ...lastOf(lasts, s, (v) => 100 * (1 - v))});
        if (o != null) series.push({label: `${s.metric.sla} objective`, data: A.xs.map(() => o), dash: [4, 4], width: 1, color: '#8b949e', noStats: true});
      });
      achChart.update(A.xs, series, 'No recorded error ratios yet');

      fill(list, ...(slas.length ? slas.map(slaCard) : [h('p', {class: 'muted'}, 'No SLA is configured.')]));
    },
    destroy() { chart.destroy(); achChart.destroy(); },
  };
}

/** withoutLabel is a metric without its label k. */
function withoutLabel(m, k) {
  const {[k]: _, ...rest} = m || {};
  return rest;
}

/**
 * judgeSteps marks each point of all (the worst 1h ratio within each
 * step, its points marked partial by their reach: markPartial, covered)
 * by judged (Q.slaBurnWorstJudged: the worst judged window within each
 * step, judged="1", and the worst not judged, judged="0"): a point whose
 * worst not-judged window is worse than every judged one, or which has
 * no judged window, is partial (not judged); one whose worst is a judged
 * window is whole. Its value stays all's, the worst window of its step
 * either way: the worst judged alone, drawn whole, hid a step's worse
 * windows (trial 28 F2: the 30d legend's max 67.4× where the 7d read
 * 89.6×). A point neither read tells of keeps all's mark. A point newly
 * partial that its series had points a reach (s) before holds a gap in
 * the data (api.covered's gap), else it reaches before the data began.
 */
export function judgeSteps(all, judged, reach) {
  const at = (t) => Math.round(Number(t) * 1000);
  const read = (flag) => new Map(judged.filter((s) => (s.metric || {}).judged === flag)
    .map((s) => [labelKey(withoutLabel(s.metric, 'judged')), new Map((s.values || []).map(([t, v]) => [at(t), parseFloat(v)]))]));
  const yes = read('1');
  const no = read('0');
  return all.map((s) => {
    const j = yes.get(labelKey(s.metric)) || new Map();
    const n = no.get(labelKey(s.metric)) || new Map();
    if (!j.size && !n.size) return s;
    const partial = new Set(s.partial || []);
    const gap = new Set(s.gap || []);
    const first = s.values && s.values.length ? Number(s.values[0][0]) : Infinity;
    for (const [t0] of s.values || []) {
      const t = Number(t0);
      const jv = j.get(at(t));
      const nv = n.get(at(t));
      if (jv == null && nv == null) continue;
      if (nv != null && (jv == null || nv > jv)) {
        if (!partial.has(t) && first < t - reach) gap.add(t);
        partial.add(t);
      } else {
        partial.delete(t);
        gap.delete(t);
      }
    }
    return {...s, partial, gap};
  });
}

/**
 * newestJudged reads, for each series of res, its newest judged window
 * (Q.slaNewestJudged) within the newest step judged has a judged window
 * at (xs: the chart's points; worst: the first point's step, s), and
 * resolves to a Map by labelKey of {v, at, newer}: the ratio, its time
 * (Unix s), and whether a newer window was recorded (in that step, or a
 * step after it has a window not judged: a point after it without
 * either read holds no window of its own, Q.slaBurnStep): every such
 * window is not judged. A series with no judged window in the range has
 * none.
 */
async function newestJudged(judged, xs, worst, signal) {
  const at = (t) => Math.round(Number(t) * 1000);
  const idx = new Map(xs.map((x, i) => [at(x), i]));
  const asks = [];
  for (const s of judged) {
    if ((s.metric || {}).judged !== '1' || !(s.values || []).length) continue;
    const m = withoutLabel(s.metric, 'judged');
    const z = Number(s.values[s.values.length - 1][0]);
    const i = idx.get(at(z));
    const from = i > 0 ? xs[i - 1] : z - worst;
    const sel = Object.entries(m).filter(([k]) => k !== '__name__').map(([k, v]) => `${k}=${JSON.stringify(String(v))}`).join(', ');
    asks.push(query(Q.slaNewestJudged(sel, Math.max(1, Math.round((z - from) * 1000)) + 'ms'), z, signal).then((r) => [labelKey(m), z, r]));
  }
  const out = new Map();
  for (const [key, z, r] of await Promise.all(asks)) {
    const got = (what) => {
      const x = r.find((y) => y.metric.what === what);
      return x ? parseFloat(x.value[1]) : null;
    };
    const v = got('v');
    const when = got('t');
    if (v == null || when == null) continue;
    const later = judged.some((s) => (s.metric || {}).judged === '0' && labelKey(withoutLabel(s.metric, 'judged')) === key &&
      (s.values || []).some(([t]) => Number(t) > z + 1e-3));
    const n = got('n');
    out.set(key, {v, at: when, newer: later || (n != null && n > when + 1e-3)});
  }
  return out;
}

/**
 * lastOf is a chart series' judgedLast (chart.js renderStats: its
 * legend's last) from lasts (newestJudged's) for the series s of res,
 * its ratio turned into the chart's unit by f; {} when lasts is null
 * (Live: its newest point is its newest window), and judgedLast null
 * when the series has no judged window in the range.
 */
function lastOf(lasts, s, f) {
  if (!lasts) return {};
  const l = lasts.get(labelKey(s.metric));
  return {judgedLast: l ? {v: f(l.v), at: l.at, newer: l.newer} : null};
}

function slaCard(s) {
  const c = card(s.name, {note: `${s.service} · ${s.indicator} · objective ${units.pct9.fmt(s.objective)}`, wide: true});
  c.el.dataset.sla = s.name;
  // One pill per state: a burning SLA's says how hard ("burning (page)";
  // it showed "burning" beside "burning (page)"); a violated one that also
  // burns says both, two facts.
  const sev = s.burning === 'page' ? 'bad' : 'warn';
  const state = s.state === 'burning' ? pill(sev, `burning${s.burning ? ` (${s.burning})` : ''}`, 'the SLAErrorBudgetBurn alert firing for this SLA')
    : pill(s.state === 'ok' ? 'up' : s.state === 'no_data' || s.state === 'not_judged' ? 'unknown' : 'down', s.state.replace('_', ' '));
  const burning = s.burning && s.state !== 'burning' ? pill(sev, `burning (${s.burning})`) : null;
  // A burning SLA keeps the coverage caveat a not-judged one gives (only
  // not_judged carries a reason): no window judged, its first note.
  // The burn is the alert's (short windows); the windows' achievement is
  // another fact: said as not judged yet, not as "burning … not judged"
  // (t-user6 #3).
  const ws = s.windows || [];
  const note = ws.length && ws.every((x) => x.met == null) ? (ws.find((x) => x.note) || {}).note || '' : '';
  const caveat = s.reason || (note && s.state === 'burning' ? `achievement not judged yet: ${note.replace(/: not judged$/, '')}` : note);
  add(c.body,
    h('div', {class: 'row'}, state, burning,
      caveat ? h('span', {class: 'muted', 'data-reason': ''}, caveat) : null,
      s.error ? h('span', {class: 'err'}, s.error) : null),
    // The table scrolls within its card (.table-wrap), as the other
    // pages' do: at 480 px it ran 142 px past the window.
    h('div', {class: 'table-wrap'}, h('table', {class: 'tbl'},
      h('thead', {}, h('tr', {}, ['Window', 'Achievement', 'Coverage', 'Error budget left', 'Burn rate', 'Met'].map((t) => h('th', {}, t)))),
      h('tbody', {}, (s.windows || []).map((x) => h('tr', {'data-window': x.window},
        h('td', {}, x.window),
        h('td', {class: 'num'}, units.pct9.fmt(x.achievement)),
        h('td', {class: 'num', 'data-col': 'coverage', title: 'share of the window gmc has data for'}, coverage(x)),
        h('td', {'data-col': 'budget'}, x.error_budget_left == null ? h('span', {class: 'muted'}, 'no data') : budgetBar(x.error_budget_left, null, x.met != null)),
        h('td', {class: 'num'}, units.x.fmt(x.burn_rate)),
        h('td', {}, x.met == null ? '–' : x.met ? pill('up', 'met') : pill('down', 'missed'))))))),
    h('div', {class: 'burns'}, Object.entries(s.burn_rates || {}).sort(([a], [b]) => windowSeconds(a) - windowSeconds(b)).map(([k, v]) =>
      h('span', {class: 'burn' + (v != null && v >= 14.4 ? ' hot' : v != null && v >= 1 ? ' warm' : '')}, h('b', {}, k), ' ', units.x.fmt(v)))));
  return c.el;
}

/** windowSeconds is a window key ("5m", "1h", "3d") in seconds, to order the burn chips by. */
function windowSeconds(k) {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)$/.exec(k);
  return m ? parseFloat(m[1]) * {ms: 1e-3, s: 1, m: 60, h: 3600, d: 86400, w: 604800, y: 31536000}[m[2]] : Infinity;
}

/**
 * coverage is the share of a window gmc has data for, as /sla reports it
 * (coverage, 0..1); "unknown" when the server does not say.
 */
function coverage(x) {
  const c = x.coverage;
  if (c == null || !isFinite(c)) return h('span', {class: 'muted'}, 'unknown');
  return units.pct.fmt(c * 100);
}
