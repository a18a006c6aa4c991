// Trends: one metric of one service over 7 or 30 days of whole hours, from
// GET /trends/{service} (internal/trend): the hourly series with the
// fitted forecast line, load by hour of day and day of week, the
// week-over-week change, the peaks, and the forecast with its model and
// error. #/trends/<service>?metric=…&window=7d|30d.
import {getJSON, query, labelValues, NotFound, NotAvailable} from './api.js';
import {LineChart, card, PALETTE} from './chart.js';
import {h, addFirst, add, fill, units, kpi, num, when, clock} from './util.js';
import * as Q from './queries.js';

const WINDOWS = ['7d', '30d'];

/** params reads the page's metric and window from the hash. */
function params() {
  const q = new URLSearchParams(location.hash.split('?')[1] || '');
  // A link from a page's range (#/trends?range=30d) opens that window
  // when it is one (it opened 7d, t-user18 F6).
  const w = WINDOWS.find((x) => x === q.get('window')) || WINDOWS.find((x) => x === q.get('range')) || '7d';
  return {metric: q.get('metric') || '', window: w};
}

/** trendUnit picks a unit from the metric's name and kind (a counter's values are per-second rates). */
export function trendUnit(metric, kind) {
  // p99: a classic histogram's quantile, in its buckets' unit.
  if (kind === 'p99') return trendUnit(metric.replace(/_bucket$/, ''), 'gauge');
  if (kind === 'counter') {
    if (/_bytes_total$/.test(metric)) return units.bps;
    return units.rate;
  }
  if (/_bytes$/.test(metric)) return units.bytes;
  if (/_seconds$/.test(metric)) return units.s;
  if (/_us$/.test(metric)) return units.us;
  if (/_percent$/.test(metric)) return units.pct;
  return units.count;
}

/** nextHour is the first whole hour after t (ms), local "HH:MM". */
export function nextHour(t) {
  const d = new Date(t);
  d.setMinutes(0, 0, 0);
  d.setHours(d.getHours() + 1);
  return clock(d).slice(0, 5);
}

// The metrics offered first, in this order, when the service has them.
const PREFERRED = ['gmc_orders_total', 'gmc_requests_total', 'tps', 'gmc_order_latency_seconds_count', 'node_cpu_seconds_total'];

export function mount(main, ctx) {
  const p = params();
  const head = h('div', {class: 'page-head'}, h('h1', {}, 'Trends'));
  const pick = h('form', {class: 'filters trend-pick'});
  const kpis = h('div', {class: 'kpis'});
  const body = h('div', {});
  add(main, head, pick, kpis, body);
  let chart = null;
  let cacheKey = '';

  const go = (svc, metric, win) => {
    const q = new URLSearchParams({range: new URLSearchParams(location.hash.split('?')[1] || '').get('range') || '1h'});
    if (metric) q.set('metric', metric);
    q.set('window', win);
    location.hash = `#/trends/${encodeURIComponent(svc)}?${q}`;
  };

  return {
    async refresh(w, signal) {
      const status = await getJSON('/system/status', signal);
      const services = (status.services || []).map((s) => s.service).sort();
      // Open on where orders enter the desk (stage="entry", else named
      // like a gateway): the first service by name was a backtester that
      // counts no orders ("0/s").
      const entry = ctx.arg ? [] : (await query(Q.overview.gateways, null, signal)).map((s) => s.metric.service).filter((x) => services.includes(x)).sort();
      const svc = ctx.arg || entry[0] || services[0] || '';
      const names = svc ? await labelValues('__name__', `{service=${JSON.stringify(svc)}}`, null, signal) : [];
      // A classic histogram's _bucket metric is offered as its p99 (each
      // hour's worst one-minute p99: the hour of a latency incident peaks).
      const metrics = names.filter((n) => !/^(ALERTS|sla:|gmc_bench_)/.test(n));
      const metric = p.metric || PREFERRED.find((m) => metrics.includes(m)) || metrics[0] || '';
      const sel = (name, opts, val, on) => h('label', {}, name + ' ',
        h('select', {name, onchange: on}, opts.map((o) => h('option', {value: o, selected: o === val ? true : null}, /_bucket$/.test(o) ? `${o} (p99)` : o))));
      fill(pick,
        sel('service', services.length ? services : [svc], svc, (e) => go(e.target.value, '', p.window)),
        sel('metric', metrics.length ? metrics : [metric], metric, (e) => go(svc, e.target.value, p.window)),
        h('span', {class: 'range trend-window'}, WINDOWS.map((x) =>
          h('a', {href: '#', 'data-window': x, class: x === p.window ? 'active' : null, onclick: (e) => { e.preventDefault(); go(svc, metric, x); }}, x))));
      fill(head, h('h1', {}, 'Trends'), svc ? h('span', {class: 'muted'}, h('a', {href: ctx.href('service', svc)}, svc), ' · whole hours, UTC') : null);
      if (!svc || !metric) {
        fill(kpis);
        fill(body, h('p', {class: 'muted', 'data-empty': 'no-service'}, svc ? `${svc} has no metrics.` : 'No service has sent data yet.'));
        return;
      }
      // Hourly figures change once an hour: fetch again only then.
      const key = `${svc}\u0000${metric}\u0000${p.window}\u0000${Math.floor(Date.now() / 3600e3)}`;
      if (key === cacheKey) return;
      let t;
      try {
        t = await getJSON(`/trends/${encodeURIComponent(svc)}?` + new URLSearchParams({metric, window: p.window}), signal);
      } catch (e) {
        if (e instanceof NotAvailable) {
          fill(kpis);
          fill(body, h('p', {class: 'muted', 'data-empty': 'unavailable'}, 'Trends (GET /trends) are not available on this server.'));
          return;
        }
        if (!(e instanceof NotFound)) throw e;
        // No whole hour yet: say when the first one completes, if there is data now.
        const now = await query(`count({__name__=${JSON.stringify(metric)}, service=${JSON.stringify(svc)}})`, null, signal);
        fill(kpis);
        if (chart) { chart.destroy(); chart = null; }
        fill(body, h('div', {class: 'card wide trend-empty', 'data-empty': 'no-hours'},
          h('p', {}, now.length
            ? `Trends read complete hours only; the first hour of ${metric} for ${svc} completes at ${nextHour(Date.now())}.`
            : `Trends read complete hours only, and ${svc} has no ${metric} now nor in the whole hours of the last 14 days.`),
          h('p', {class: 'muted small'}, 'gmc said: ' + e.message)));
        cacheKey = '';
        return;
      }
      cacheKey = key;
      render(t);
      if (!t.series.length) {
        // No whole hour yet: say when the first one completes, above the hour in progress.
        addFirst(body, h('div', {class: 'card wide trend-empty', 'data-empty': 'no-hours'},
          h('p', {}, t.current_hour
            ? `Trends read complete hours only; the first hour of ${metric} for ${svc} completes at ${nextHour(Date.now())}.`
            : `Trends read complete hours only, and ${svc} has no ${metric} in the whole hours of this window.`),
          t.note ? h('p', {class: 'muted small'}, 'gmc said: ' + t.note) : null));
      }
    },
    destroy() { if (chart) chart.destroy(); },
  };

  function render(t) {
    const unit = trendUnit(t.metric, t.kind);
    // A classic histogram's p99 in its first bucket is only known to be at
    // most the bucket's bound (histogram_quantile interpolates from 0: 9.91
    // µs every hour with le=10 µs, where the orders took 2-4 µs, t-user12 F8).
    const val = (v) => (t.first_bucket != null && v <= t.first_bucket * (1 + 1e-9) ? `≤ ${unit.fmt(t.first_bucket)}` : unit.fmt(v));
    const f = t.forecast || {};
    const wow = t.week_over_week || {};
    const what = t.kind === 'counter' ? `${t.agg} of per-second rates over each hour`
      : t.kind === 'p99' ? 'the worst one-minute p99 within each hour' : `${t.agg} of hourly averages`;
    const ch = wow.change;
    // Hours with data for only part of the hour: in the chart, not in the peaks and profiles.
    const partial = (t.partial_hours || []).length;
    // Too short a span (two weeks), or no hour of the week seen twice: no line is fitted, and the page says why.
    const unfitted = f.status === 'insufficient_data' || f.status === 'insufficient_history' || f.status === 'not_measurable';
    fill(kpis,
      kpi('Week over week', ch == null ? 'unknown' : `${ch >= 0 ? '+' : '−'}${num(Math.abs(ch) * 100)}%`, null,
        ch == null ? (wow.reason || 'needs two weeks of data') : `${unit.fmt(wow.this_week_mean)} vs ${unit.fmt(wow.last_week_mean)} over the same ${wow.compared_hours} hours of each week`, ch),
      kpi('Peak', t.peaks && t.peaks.length ? val(t.peaks[0].value) : '–', null,
        [t.peaks && t.peaks.length ? `hour ending ${when(new Date(t.peaks[0].time * 1000))}` : '',
          partial ? `${partial} partial hour${partial > 1 ? 's' : ''} left out (under 90 % of the hour has data)` : ''].filter(Boolean).join(' · ')),
      kpi('Trend', f.status === 'not_measurable' ? 'not measurable' : unfitted ? 'not enough history' : `${f.slope_per_day >= 0 ? '+' : '−'}${unit.fmt(Math.abs(f.slope_per_day))} / day`, null,
        unfitted ? tooShort(f) : `± ${unit.fmt(2 * f.slope_stderr_per_day)} (2 s.e.) · R² ${num(f.r2)} · fitted on ${spanText(f)}`, unfitted ? null : f.slope_per_day),
      kpi('This hour so far', t.current_hour ? val(t.current_hour.value) : '–', null,
        t.current_hour ? `since ${new Date(t.current_hour.start * 1000).toISOString().slice(11, 16)} UTC (${num(t.current_hour.seconds / 60)} min), not in the analysis` : 'no data in the hour in progress'),
      // Hours with data, the partial ones among them said (it read "168 of
      // 168 hours" beside "1 partial hour left out", t-user4 #9).
      kpi('Coverage', `${num(t.coverage * 100)}%`, t.coverage < 0.5 ? 'warn' : null,
        `${t.series.length} of ${Math.round((t.end - t.start) / t.step_seconds) + 1} hours have data` +
        (partial ? `; ${partial} of them partial, left out of the peaks` : ''), t.coverage));

    const xs = t.series.map((p) => p[0]);
    // Partial hours (under 90 % of the hour has data: a rate over half an
    // hour's data reads about half the hour's) are not analysed: drawn apart
    // as dots, not on the line (the demo's hour before the live desk was
    // the line's last point at half the rate, t-user5 #6).
    const partialAt = new Set(t.partial_hours || []);
    const ys = t.series.map((p) => (partialAt.has(p[0]) ? null : p[1]));
    const pys = partialAt.size ? t.series.map((p) => (partialAt.has(p[0]) ? p[1] : null)) : null;
    const fit = f.status && !unfitted ? xs.map((x) => f.current + (f.slope_per_day * (x - t.end)) / 86400) : null;
    // Values in a classic histogram's first bucket read "≤ bound" in the legend too.
    const series = [{label: t.metric, data: ys, stat: t.first_bucket != null ? val : null}];
    if (fit) series.push({label: 'fitted line', data: fit, dash: [6, 4], color: '#8b949e', points: {show: false}});
    if (pys) series.push({label: 'partial hours (not analysed)', data: pys, color: PALETTE[2], points: {show: true, size: 6}});
    // The hour in progress, apart from the whole hours: its own dot at now.
    const cur = t.current_hour;
    if (cur && cur.end > (xs.at(-1) ?? -Infinity)) {
      xs.push(cur.end);
      ys.push(null);
      if (fit) fit.push(null);
      if (pys) pys.push(null);
      series.push({label: 'this hour so far', data: [...xs.slice(0, -1).map(() => null), cur.value], color: PALETTE[1], points: {show: true, size: 7}});
    }
    const main = card(`${t.metric} · ${t.window}`, {wide: true, note: what});
    if (chart) chart.destroy();
    // The axis spans the chosen window (a lone first hour sat at the far
    // left of an axis labelled with unrelated dates; 7d and 30d looked alike).
    const from = t.end - Number.parseInt(t.window, 10) * 86400;
    // A p99 on a log axis: an incident's milliseconds in the hour so far
    // drew the week's microseconds as a flat line on 0 (t-user13 F4).
    chart = new LineChart(main.body, {id: 'trend', unit, height: 240, log: t.kind === 'p99', xRange: [from, Math.max(t.end, cur ? cur.end : t.end)]});
    chart.update(xs, series);

    // Every bar of a profile is over the same mix: an hour of the day is
    // the mean of the same days' means at that hour, a day the mean over
    // the same hours of the day (profile_basis). A bar missing one of them
    // (a partial hour in a 7d window) has no mean: drawn as a gap with what
    // it lacks, not as a bar over other days (the demo's 12:00–13:00 bar
    // without its quiet Sunday stood 7.8 % above its neighbours, t-user18 F2).
    const basis = t.profile_basis || {days: [], hours: []};
    const lacks = (r) => (r.missing_days ? `no ${r.missing_days.join(', ')} value at this hour` : r.missing_hours ? `no value at ${r.missing_hours.map((x) => `${String(x).padStart(2, '0')}:00`).join(', ')}` : '');
    const prof = (title, id, rows, label, over) => {
      const c = card(title, {note: 'mean (bar) and max of the hourly values'});
      const max = Math.max(...rows.map((r) => r.max ?? 0), 0);
      const out = rows.filter((r) => r.mean == null && r.samples > 0);
      add(c.body, h('div', {class: 'profile', 'data-profile': id}, rows.map((r) => h('div', {class: 'profile-col' + (r.mean == null && r.samples > 0 ? ' profile-out' : ''), 'data-mean': r.mean ?? '', 'data-left-out': r.mean == null && r.samples > 0 ? lacks(r) : null,
        title: r.mean == null && r.samples > 0 ? `${label(r)}: left out, ${lacks(r)} in the window (a mean over other ${id === 'hour' ? 'days' : 'hours'} is not comparable); max ${unit.fmt(r.max)}, ${r.samples} hours`
          : `${label(r)}: mean ${unit.fmt(r.mean)}, max ${unit.fmt(r.max)}, ${r.samples} hours`},
        h('div', {class: 'profile-bar'},
          h('div', {class: 'profile-max', style: {height: max ? `${(100 * (r.max ?? 0)) / max}%` : '0'}}),
          h('div', {class: 'profile-mean', style: {height: max ? `${(100 * (r.mean ?? 0)) / max}%` : '0'}})),
        h('div', {class: 'profile-label'}, label(r, true))))),
      h('div', {class: 'muted small', 'data-profile-note': id}, [`scale 0 – ${val(max)}`, over,
        out.length ? `${out.map((r) => label(r, true)).join(', ')} left out: ${out.map(lacks).filter((x, i, a) => a.indexOf(x) === i).join('; ')} in the window` : ''].filter(Boolean).join(' · ')));
      return c.el;
    };
    const dayNames = basis.days.length === 7 ? 'all 7 days' : basis.days.map((d) => d.slice(0, 3)).join(', ');
    const hourNames = basis.hours.length === 24 ? 'all 24 hours' : `${basis.hours.length} hours of the day`;
    const fc = card('Forecast', {note: 'model, data span and error stated'});
    const lim = f.limit;
    add(fc.body, unfitted ? h('div', {class: 'trend-empty', 'data-forecast': f.status},
      h('p', {'data-refused': ''}, tooShort(f) + '.'),
      h('p', {class: 'muted small'}, f.reason ? `Not fitted: ${f.reason}.` : `Nothing is fitted until the data span ${num(f.need_hours)} h: a shorter span cannot tell growth from the weekly cycle.`))
      : h('table', {class: 'tbl trend-fc', 'data-forecast': f.status},
      h('tbody', {},
        h('tr', {}, h('td', {}, 'Model'), h('td', {}, f.model || '–')),
        h('tr', {}, h('td', {}, 'Fitted on'), h('td', {'data-span': f.span_hours}, spanText(f))),
        h('tr', {}, h('td', {}, 'Fitted now'), h('td', {class: 'num'}, unit.fmt(f.current))),
        h('tr', {}, h('td', {}, 'Slope'), h('td', {class: 'num'}, `${unit.fmt(f.slope_per_day)} / day ± ${unit.fmt(f.slope_stderr_per_day)} (1 s.e.)`)),
        h('tr', {}, h('td', {}, 'Error (RMSE)'), h('td', {class: 'num', 'data-rmse': f.rmse}, unit.fmt(f.rmse))),
        h('tr', {}, h('td', {}, 'R²'), h('td', {class: 'num'}, num(f.r2))),
        h('tr', {}, h('td', {}, 'Hourly points'), h('td', {class: 'num'}, String(f.points))),
        h('tr', {}, h('td', {}, 'Limit'), h('td', {}, lim == null ? 'none known for this metric' : unit.fmt(lim))),
        h('tr', {}, h('td', {}, 'Outlook'), h('td', {}, outlook(f))))));
    const pk = card('Peaks', {note: 'highest hours, at least 6 h apart'});
    add(pk.body, h('table', {class: 'tbl', 'data-peaks': (t.peaks || []).length},
      h('thead', {}, h('tr', {}, h('th', {}, 'Hour ending'), h('th', {}, 'Value'))),
      h('tbody', {}, (t.peaks || []).map((x) => h('tr', {}, h('td', {}, when(new Date(x.time * 1000))), h('td', {class: 'num'}, val(x.value)))))));
    fill(body, main.el, h('div', {class: 'grid'},
      prof('By hour of day (UTC, labelled by the hour\'s start)', 'hour', byStart(t.hour_of_day || []), (r, short) => (short ? String(r.start) : `${String(r.start).padStart(2, '0')}:00–${String((r.start + 1) % 24).padStart(2, '0')}:00 UTC`), basis.days.length ? `each the mean of ${dayNames}` : ''),
      prof('By day of week', 'day', t.day_of_week || [], (r, short) => (short ? r.day.slice(0, 3) : r.day), basis.hours.length ? `each over ${hourNames}` : ''),
      fc.el, pk.el),
    h('p', {class: 'muted small'}, `PromQL: ${t.expr}, at each whole hour ${when(new Date(t.start * 1000))} → ${when(new Date(t.end * 1000))}.`));
  }
}

/** spanText is the data a forecast was fitted on: "25 hourly points over 24 h (12-03 16:00 → 12-04 16:00)". */
function spanText(f) {
  const d = (x) => when(new Date(x * 1000)).slice(5, 16);
  return `${f.points} hourly points over ${num(f.span_hours)} h` + (f.points ? ` (${d(f.from)} → ${d(f.to)})` : '');
}

/**
 * tooShort says why no line is fitted, from the API's one threshold (the
 * span, need_hours): "not enough history: 24 h of the 335 h needed". The
 * Trend tile and the Forecast card both say it (the tile said "a line needs
 * 3 hourly points" beside the card's 335 h, t-user5 #8).
 */
export function tooShort(f) {
  if (f.status === 'not_measurable') return 'not measurable with these buckets';
  if (f.status === 'insufficient_history') return `not enough history: ${num(f.span_hours)} h of the ${num(f.need_hours)} h needed`;
  return `not enough data: ${num(f.span_hours)} h, but no hour of the week has values from two weeks`;
}

function outlook(f) {
  const d = (x) => when(new Date(x * 1000)).slice(0, 16);
  switch (f.status) {
    case 'approaching':
      return `reaches the limit ${d(f.reaches_at)} (between ${d(f.reaches_earliest)} and ${f.reaches_latest ? d(f.reaches_latest) : 'never'} at ± 2 s.e.)`;
    case 'reached': return 'the fitted line is already past the limit';
    case 'not_approaching': return 'not approaching the limit';
    case 'no_limit': return 'no limit to forecast against';
    case 'insufficient_data': case 'insufficient_history': case 'not_measurable': return tooShort(f);
    default: return f.status || '–';
  }
}

/**
 * byStart relabels the hour-of-day profile by each hour's start: the API
 * files a value under the UTC hour of its timestamp, the hour's end (11:00–
 * 12:00 in bucket 12), so bucket h is the hour starting at h−1. Sorted
 * 0…23 by start.
 */
export function byStart(rows) {
  return rows.map((r) => ({...r, start: (r.hour + 23) % 24})).sort((a, b) => a.start - b.start);
}
