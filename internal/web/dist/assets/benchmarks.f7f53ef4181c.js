// Benchmarks page: the latest weekly report, each benchmark's trend from its
// gmc_bench_* series, regressions flagged.
import {getJSON, queryRange, align, sampleTimes, NotAvailable, NotFound} from './api.js';
import {seriesKey} from './live.js';
import {LineChart, card, sparkline, PALETTE} from './chart.js';
import {h, add, fill, benchUnit, pill, when, num, kpi, unavailable} from './util.js';
import * as Q from './queries.js';

const MAX_CHARTS = 24;

/**
 * MIN_RUN_SPACING (s): two runs of a scheduled benchmark are more than
 * this apart (schedule.every is at least 1 s and counts from a run's
 * end), so a step no longer than this holds at most one run of each.
 */
const MIN_RUN_SPACING = 1;

export function mount(main) {
  const kpis = h('div', {class: 'kpis'});
  const report = card('Latest report', {wide: true});
  const grid = h('div', {class: 'grid'});
  const charts = new Map();
  add(main, h('div', {class: 'page-head'}, h('h1', {}, 'Benchmarks')), kpis, report.el, h('h2', {class: 'section'}, 'Trends'), grid);

  // runTimes' answers by the newest point's time and window, kept while
  // a point is at that time: a closed step's runs do not change, and Live
  // asked them again every second (6 of its 7 requests a refresh).
  const runsAt = new Map();

  return {
    async refresh(w, signal) {
      // Each grid point's run time (runAt), where the steps are whole
      // minutes (the minute substeps then end at the step): ranges from a day up.
      const timed = w.step % 60 === 0 && !w.grid;
      // Each step's lowest and highest run (Q.bench.lo/hi: gmc answers
      // only the steps holding two or more), asked only where a step may
      // hold two: not at Live's 1 s step, every refresh.
      const ranged = w.step > MIN_RUN_SPACING;
      const [rep, med, reg, ats, los, his] = await Promise.all([
        getJSON('/benchmark/report?format=json', signal).catch((e) => (e instanceof NotAvailable || e instanceof NotFound ? e : Promise.reject(e))),
        queryRange(Q.bench.median, w, signal),
        queryRange(Q.bench.regression, w, signal),
        timed ? queryRange(Q.bench.runAt, w, signal) : [],
        ranged ? queryRange(Q.bench.lo, w, signal) : [],
        ranged ? queryRange(Q.bench.hi, w, signal) : [],
      ]);
      renderReport(rep, kpis, report);

      const A = align([...med, ...reg, ...ats, ...los, ...his], w);
      const regBy = new Map(reg.map((s, i) => [s.metric.benchmark, A.ys[med.length + i]]));
      const runKey = (m) => seriesKey(Object.fromEntries(Object.entries(m || {}).filter(([k]) => k !== '__name__')));
      const atBy = new Map(ats.map((s, i) => [runKey(s.metric), A.ys[med.length + reg.length + i]]));
      // Each step's lowest and highest run (the bar through its point:
      // chart.js whiskers), and over the window (the legend's min and max:
      // chart.js s.lo, s.hi), every run within a step included.
      const stepsBy = (ms, base) => new Map(ms.map((s, i) => [runKey(s.metric), A.ys[base + i]]));
      const extreme = (ys, f) => (ys || []).reduce((a, v) => (v == null ? a : a == null ? v : f(a, v)), null);
      const base = med.length + reg.length + ats.length;
      const loBy = stepsBy(los, base);
      const hiBy = stepsBy(his, base + los.length);
      const runs = await runTimes(med.slice(0, MAX_CHARTS), A, w, signal, runsAt);
      const nGrid = Math.floor(((w.gend != null ? w.gend : w.end) - w.start) / w.step + 1e-9) + 1;
      const seen = new Set();
      med.slice(0, MAX_CHARTS).forEach((s, i) => {
        const name = s.metric.benchmark || '?';
        const unit = benchUnit(s.metric.unit);
        const key = name + '|' + (s.metric.unit || '');
        seen.add(key);
        let c = charts.get(key);
        if (!c) {
          const cd = card(name, {note: s.metric.unit || ''});
          cd.el.dataset.benchmark = name;
          add(grid, cd.el);
          c = {card: cd, chart: new LineChart(cd.body, {id: 'bench-' + name, unit, height: 180})};
          charts.set(key, c);
        }
        const y = A.ys[i];
        const r = regBy.get(name) || [];
        const flagged = y.map((v, j) => (r[j] === 1 ? v : null));
        const n = flagged.filter((v) => v != null).length;
        c.card.note.textContent = (s.metric.unit || '') + (n ? ` · ${n} regression point${n > 1 ? 's' : ''}` : '');
        c.card.el.classList.toggle('regressed', n > 0);
        const lo = loBy.get(runKey(s.metric));
        const hi = hiBy.get(runKey(s.metric));
        c.chart.update(runXs(A.xs, y, atBy.get(runKey(s.metric)), runs.get(i), w, nGrid), [
          {label: 'median', data: y, color: PALETTE[0], points: {show: true, size: 5}, spanGaps: true, lastAt: runs.get(i), lastWhat: 'run',
            lo: extreme(lo, Math.min), hi: extreme(hi, Math.max),
            whiskers: lo && hi ? {lo, hi, what: 'bar: the lowest to the highest run in its point\'s step (the point: the last)'} : null},
          {label: 'regression', data: flagged, color: PALETTE[3], width: 0, points: {show: true, size: 9, fill: PALETTE[3]}, paths: () => null},
        ]);
      });
      for (const [k, c] of charts) if (!seen.has(k)) { c.chart.destroy(); c.card.el.remove(); charts.delete(k); }
      if (!med.length) fill(grid, h('p', {class: 'muted'}, 'No gmc_bench_* series in this time range.'));
      else grid.querySelector(':scope > p.muted')?.remove();
    },
    destroy() { for (const c of charts.values()) c.chart.destroy(); },
  };
}

/**
 * runXs are a benchmark chart's x: each point at its run's time, not its
 * step's (a point is last_over_time over its step: a run at 02:43:03 was
 * drawn on a 7d chart's step 19 minutes later while its legend said the
 * run's time). at: each grid point's newest sample time (Q.bench.runAt,
 * null where not asked); newest: the newest point's run (runTimes), for
 * the bridge and tail too. A time outside its point's window (no run in
 * it: the lookback reaches the one before) or not after the point before
 * keeps the step's.
 */
export function runXs(xs, y, at, newest, w, nGrid) {
  let last = -1;
  for (let j = y.length - 1; j >= 0; j--) if (y[j] != null) { last = j; break; }
  const out = xs.slice();
  for (let j = 0; j < out.length; j++) {
    if (y[j] == null) continue;
    const lb = j === 0 ? w.step : xs[j] - xs[j - 1];
    const r = j === last && newest != null ? newest : j < nGrid && at ? at[j] : null;
    if (r != null && r > xs[j] - lb - 1e-3 && r <= xs[j] + 1e-3 && (j === 0 || r > out[j - 1])) out[j] = r;
  }
  return out;
}

/**
 * runTimes are the times of the runs the series' newest points are of
 * (by the series' index in med): a point is last_over_time over its step,
 * at the step's time, so the legend's "last … at" said the step's time
 * (03:02 for a run at 02:43:03 at 7d, t-user16 F4). Asked of gmc, one
 * query per distinct time of a newest point (one, when every benchmark
 * ran in the same step). kept holds the answers for points whose window
 * has closed (before the range's end) by time and window, for the next
 * refresh; those no point is at any more are dropped.
 */
async function runTimes(med, A, w, signal, kept) {
  const at = new Map();
  med.forEach((s, i) => {
    const y = A.ys[i];
    let j = y.length - 1;
    while (j >= 0 && y[j] == null) j--;
    if (j < 0) return;
    const t = A.xs[j];
    if (!at.has(t)) at.set(t, {lb: j > 0 ? t - A.xs[j - 1] : w.step, series: []});
    at.get(t).series.push(i);
  });
  const out = new Map();
  const end = w.gend != null ? w.gend : w.end;
  const used = new Set();
  await Promise.all([...at].map(([t, p]) => {
    const k = `${t}|${p.lb}`;
    used.add(k);
    let got = kept.get(k);
    if (!got) {
      got = sampleTimes('gmc_bench_median', t, p.lb, signal);
      // Kept once answered (a failed or aborted one is asked again).
      if (t < end - 1e-3) got.then(() => kept.set(k, got), () => {});
    }
    return got.then((m) => {
      for (const i of p.series) {
        const v = m.get(seriesKey(Object.fromEntries(Object.entries(med[i].metric || {}).filter(([x]) => x !== '__name__'))));
        if (v != null && v <= t + 1e-3 && v > t - p.lb - 1e-3) out.set(i, v);
      }
    });
  }));
  for (const k of kept.keys()) if (!used.has(k)) kept.delete(k);
  return out;
}

/**
 * outcome is the entry's verdict and its reason: the report's own
 * (verdict, verdict_reason), or for a report archived before it had them,
 * derived as the server does (a comparison that warns and is not
 * significant, or none at all, gave no verdict).
 */
export function outcome(e) {
  if (e.verdict) return {v: e.verdict, why: e.verdict_reason || ''};
  const c = e.latest && e.latest.comparison;
  if (e.latest_untrustworthy) return {v: 'none', why: e.latest_untrustworthy};
  if (!c) return {v: 'none', why: 'no earlier run to compare with'};
  if (c.regression) return {v: 'regression', why: ''};
  if (c.improvement) return {v: 'improvement', why: ''};
  if (c.warning && /^(baseline of |need at least |no samples)/.test(c.warning)) return {v: 'none', why: c.warning};
  return {v: 'unchanged', why: c.warning || ''};
}

/**
 * verdict is the row's status, as the report's own (Markdown, HTML) says
 * it: a run on a saturated host was not compared and a run without enough
 * baseline got no verdict, so each is neither ok nor a regression (grey);
 * a run worse once, not yet confirmed, is amber.
 */
function verdict(e) {
  const titled = (p, title) => { if (title) p.title = title; return p; };
  // A regression stands on its latest verdict while later runs give none
  // (skipped, a saturated host): red, as the BenchmarkRegression alert
  // that still fires, with when that verdict was and what came since (it
  // read "skipped" beside the firing alert).
  if (e.regressed && outcome(e).v !== 'regression') {
    const n = e.unjudged_since || 0;
    const since = `latest verdict ${e.standing_time ? when(e.standing_time) : 'earlier'}` + (n ? `; ${n} run${n === 1 ? '' : 's'} since without one` : '');
    const why = e.latest_skipped ? `then skipped: ${e.latest_skipped}` : e.latest_untrustworthy ? `not compared: ${e.latest_untrustworthy}` : outcome(e).why;
    return [titled(pill('down', 'regression'), `${since}${why ? ` (${why})` : ''}`), h('div', {class: 'muted small', 'data-standing': ''}, since)];
  }
  // The latest run failed (an exec command exited non-zero, a target was
  // unreachable): red, as the BenchmarkRunFailed alert, with why under the
  // pill (wrapping: a command's stderr can be long).
  if (e.latest_error) return [titled(pill('down', 'run failed'), e.latest_error), h('div', {class: 'cell-note hold-note', 'data-error': ''}, e.latest_error)];
  if (e.latest_skipped) return titled(pill('stale', 'skipped'), e.latest_skipped);
  if (e.latest_untrustworthy) return titled(pill('stale', 'not compared'), e.latest_untrustworthy);
  const {v, why} = outcome(e);
  switch (v) {
    case 'regression': return titled(pill('down', 'regression'), why);
    case 'worse': return titled(pill('warn', 'worse, unconfirmed'), why);
    case 'improvement': return titled(pill('up', 'improved'), why);
    case 'unchanged': return titled(pill('up', 'ok'), why);
    default: return titled(pill('none', 'no verdict'), why);
  }
}

/**
 * regressionsKpi is the Regressions tile: how many of the benchmarks were
 * compared, how many got no verdict and why (t-user5 #3: "5 of 5
 * compared" and green while three runs had a baseline of 2 runs). Green
 * only when every benchmark was judged and none regressed.
 */
function regressionsKpi(rep, es) {
  const skipped = rep.skipped_runs ? ` · ${rep.skipped_runs} run${rep.skipped_runs === 1 ? '' : 's'} skipped (host saturated)` : '';
  const none = es.filter((e) => outcome(e).v === 'none');
  const worse = es.filter((e) => outcome(e).v === 'worse').length;
  const compared = es.length - none.length;
  const byWhy = new Map();
  for (const e of none) byWhy.set(outcome(e).why, [...(byWhy.get(outcome(e).why) || []), e.name]);
  const why = [...byWhy].map(([r, names]) => `${r || 'no verdict'} (${names.join(', ')})`).join('; ');
  if (!es.length && !rep.regressions) {
    return kpi('Regressions', 'none compared', null, `no run completed this week${skipped}`);
  }
  if (compared === 0 && !rep.regressions) {
    return kpi('Regressions', 'none compared', null, `no benchmark's latest run got a verdict${why ? ': ' + why : ''}${skipped}`);
  }
  // Regressions standing on an earlier verdict (their latest run gave
  // none): counted, as the alert fires for them, and said so.
  const standing = es.filter((e) => e.regressed && outcome(e).v !== 'regression').map((e) => e.name);
  const sub = `${compared} of ${es.length} compared` + (none.length ? `, ${none.length} without a verdict: ${why}` : '') +
    (worse ? ` · ${worse} worse once, unconfirmed` : '') +
    (standing.length ? ` · regressed at the latest verdict, none since: ${standing.join(', ')}` : '') + skipped;
  const tone = rep.regressions ? 'bad' : none.length || worse ? null : 'good';
  return kpi('Regressions', String(rep.regressions ?? 0), tone, sub);
}

/**
 * countKpis are the Runs and Benchmarks tiles, counting what the page
 * lists: runs completed and skipped, benchmarks run or only skipped
 * ("RUNS 0 · BENCHMARKS 0" stood above five benchmarks whose runs were
 * all skipped, t-user6 #7). A report archived before it counted
 * benchmarks: those of its rows and its skips.
 */
export function countKpis(rep, es) {
  const skipped = rep.skipped_runs || 0;
  const runs = rep.runs ?? 0;
  let n = rep.benchmark_count;
  let ran = rep.benchmarks_run;
  if (n == null) {
    const names = new Set(es.map((e) => e.benchmark));
    ran = names.size;
    for (const k of rep.skips || []) names.add(k.benchmark);
    n = names.size;
  }
  // Runs whose figures were drawn, not measured (the demo's history) say so.
  const sim = rep.simulated_runs || 0;
  const runsT = kpi('Runs', skipped ? `${runs} of ${runs + skipped}` : String(runs), null,
    [skipped ? `${runs} completed, ${skipped} skipped (host saturated)` : runs ? 'completed this week' : null,
      sim ? `${sim === runs ? 'all' : sim} simulated (the demo's history, not measured)` : null].filter(Boolean).join(' · ') || null);
  runsT.dataset.simulated = String(sim);
  runsT.dataset.completed = String(runs);
  runsT.dataset.skipped = String(skipped);
  const benchT = kpi('Benchmarks', String(n), null,
    n && !ran ? 'none ran this week: every run skipped' : ran < n ? `${ran} ran, ${n - ran} only skipped this week` : null);
  benchT.dataset.count = String(n);
  benchT.dataset.ran = String(ran);
  return [runsT, benchT];
}

function renderReport(rep, kpis, report) {
  if (rep instanceof NotAvailable) {
    fill(kpis);
    fill(report.body, unavailable('Benchmark reports', '/benchmark/report'));
    return;
  }
  if (rep instanceof NotFound) {
    fill(kpis);
    report.note.textContent = '';
    fill(report.body, h('div', {class: 'unavailable', 'data-empty': '/benchmark/report'}, h('span', {class: 'muted'}, rep.message)));
    return;
  }
  const es = rep.benchmarks || [];
  fill(kpis,
    kpi('Report', rep.id || '–'),
    ...countKpis(rep, es),
    // "0 regressions" in green meant nothing when no run was compared
    // (every one on a saturated host): say so, neutral.
    regressionsKpi(rep, es));
  report.note.textContent = `${when(rep.from)} → ${when(rep.to)} · generated ${when(rep.generated)}`;
  // (fill: Element.replaceChildren writes a null as the text "null": t-user8 #5.)
  fill(report.body,
    h('div', {class: 'row'}, ['html', 'md', 'json'].map((f) => h('a', {href: `/benchmark/report?format=${f}`, target: '_blank', class: 'btn'}, f.toUpperCase()))),
    // No completed run: no table of figures (a header alone stood above
    // the skips), a sentence.
    es.length ? null : h('p', {class: 'muted', 'data-empty': 'runs'}, rep.skipped_runs
      ? 'No run completed this week: every scheduled run was skipped (below).' : 'No benchmark ran this week.'),
    es.length ? h('div', {class: 'table-wrap'}, h('table', {class: 'tbl', 'data-rows': es.length},
      h('thead', {}, h('tr', {}, ['Benchmark', 'Kind', 'Compared figure', 'Run p50 / p99', 'Change vs baseline', 'p', 'Runs', 'Trend', ''].map((t) => h('th', {}, t)))),
      h('tbody', {}, es.map((e) => {
        const u = benchUnit(e.unit);
        const c = e.latest && e.latest.comparison;
        const med = e.latest && e.latest.summary ? e.latest.summary.median : null;
        const ch = c ? `${c.change >= 0 ? '+' : ''}${num(c.change * 100)}%` + (c.change_lo || c.change_hi ? ` [${num(c.change_lo * 100)}, ${num(c.change_hi * 100)}]` : '') : '–';
        const judged = outcome(e).v !== 'none';
        return h('tr', {class: e.regressed ? 'regressed' : null, 'data-benchmark': e.name, 'data-verdict': outcome(e).v},
          h('td', {}, e.name, e.latest_simulated ? h('div', {class: 'muted small', 'data-simulated': '', title: e.latest_simulated}, 'latest run simulated (demo history)') : null), h('td', {}, e.kind), h('td', {class: 'num', 'data-col': 'median'}, u.fmt(med), h('div', {class: 'muted small'}, sampleWhat(e.latest))),
          h('td', {class: 'num', 'data-col': 'latency'}, e.latest && e.latest.latency ? `${u.fmt(e.latest.latency.p50)} / ${u.fmt(e.latest.latency.p99)}` : '–'),
          // Without a verdict the change and p are shown muted: a figure,
          // not a finding.
          h('td', {class: 'num' + (judged ? '' : ' muted'), 'data-col': 'change'}, ch), h('td', {class: 'num' + (judged ? '' : ' muted')}, c ? num(c.p) : '–'),
          h('td', {class: 'num'}, `${e.runs}${e.failed_runs ? ` (${e.failed_runs} failed)` : ''}`),
          h('td', {}, sparkline((e.trend || []).map((p) => p.median), e.regressed ? PALETTE[3] : PALETTE[0])),
          h('td', {'data-col': 'verdict'}, verdict(e)));
      })))) : null,
    // Runs the scheduler did not run (host saturated): what and why, while
    // it is the latest word on the benchmark (t-user5 #5: a skip stayed
    // after a later run completed; a report archived before the server
    // dropped those still lists them).
    skipList(rep, es));
}

function skipList(rep, es) {
  const latest = new Map();
  for (const e of es) {
    const t = Date.parse(e.latest_time);
    if (isFinite(t) && !(latest.get(e.benchmark) >= t)) latest.set(e.benchmark, t);
  }
  const skips = (rep.skips || []).filter((k) => !(latest.get(k.benchmark) > Date.parse(k.time)));
  if (!skips.length) return null;
  return h('ul', {class: 'skips', 'data-skips': skips.length}, skips.map((k) =>
    h('li', {'data-benchmark': k.benchmark}, h('b', {}, k.benchmark), ` skipped (latest ${when(k.time)}, ${k.count != null ? `${k.count} of its runs this week` : `${rep.skipped_runs} runs of all benchmarks this week`}): ${k.reason}`)));
}

/**
 * sampleWhat says what the compared median is the median of: for load
 * kinds (http, sql) each sample is one window's latency quantile, so it is
 * not the run's median latency (a 4.24 s "median" was the median of
 * per-window p99s).
 */
export function sampleWhat(res) {
  if (!res) return '';
  const q = res.sample_quantile;
  if (q) return `median of per-window p${num(q * 100)}`;
  return `median of ${(res.samples || []).length || 'the'} samples`;
}
