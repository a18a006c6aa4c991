// Overview: every service with health, TPS, p99 latency, error rate, SLA
// achievement and error budget.
import {getJSON, query, queryRange, byLabel, align, last, instantBy, scalarOf, KPI_WINDOW, NotAvailable} from './api.js';
import {LineChart, card, sparkline, topN, PALETTE} from './chart.js';
import {h, units, pill, bar, ago, num, kpi, perSec} from './util.js';
import * as Q from './queries.js';

const TOP = 10;

export function mount(main, ctx) {
  const kpis = h('div', {class: 'kpis'});
  const grid = h('div', {class: 'grid'});
  const tps = card('Orders', {note: 'orders/s by service'});
  const p99 = card('p99 latency', {note: 'by service'});
  const err = card('Error rate', {note: 'reject + error, by service'});
  grid.append(tps.el, p99.el, err.el);
  const charts = {
    tps: new LineChart(tps.body, {id: 'tps', unit: units.rate, min: 0}),
    p99: new LineChart(p99.body, {id: 'p99', unit: units.us, min: 0}),
    err: new LineChart(err.body, {id: 'errors', unit: units.pct, min: 0}),
  };
  const table = h('div', {class: 'table-wrap'});
  const svcCard = card('Services', {wide: true, note: 'figures are now (1m rates); trends over the range'});
  svcCard.body.append(table);
  main.append(h('div', {class: 'page-head'}, h('h1', {}, 'Overview')), kpis, grid, svcCard.el);

  return {
    async refresh(w, signal) {
      const K = KPI_WINDOW;
      const inst = (e) => query(e, null, signal);
      const [status, tpsR, reqR, p99R, errR, slas, ordersNow, reqNow, p99Now, errNow, desk, gws] = await Promise.all([
        getJSON('/system/status', signal),
        queryRange(Q.overview.orders(w.rw), w, signal),
        queryRange(Q.overview.requests(w.rw), w, signal),
        queryRange(Q.overview.p99(w.rw), w, signal),
        queryRange(Q.overview.errors(w.rw), w, signal),
        getJSON('/sla', signal).then((b) => b.data || [], (e) => (e instanceof NotAvailable ? null : Promise.reject(e))),
        inst(Q.overview.orders(K)), inst(Q.overview.requests(K)), inst(Q.overview.p99(K)), inst(Q.overview.errors(K)),
        inst(Q.overview.deskOrders(K)), inst(Q.overview.gateways),
      ]);
      const T = byLabel(tpsR, w, 'service');
      const P = byLabel(p99R, w, 'service');
      const E = byLabel(errR, w, 'service');
      const services = status.services || [];
      plot(charts.tps, tps, T);
      plot(charts.p99, p99, P);
      plot(charts.err, err, E);

      // Each service's requests in its own unit: the endpoint with the most traffic.
      const reqNowBy = new Map();
      for (const s of reqNow) {
        const v = parseFloat(s.value[1]);
        const cur = reqNowBy.get(s.metric.service);
        if (isFinite(v) && (!cur || v > cur.v)) reqNowBy.set(s.metric.service, {v, endpoint: s.metric.endpoint || 'request'});
      }
      const reqA = align(reqR, w);
      const reqSeries = new Map();
      reqR.forEach((s, i) => { if ((reqNowBy.get(s.metric.service) || {}).endpoint === (s.metric.endpoint || 'request')) reqSeries.set(s.metric.service, reqA.ys[i]); });
      const oNow = instantBy(ordersNow, 'service');
      const pNow = instantBy(p99Now, 'service');
      const eNow = instantBy(errNow, 'service');

      const slaBySvc = slaSummary(slas);
      const up = services.filter((s) => s.state === 'up').length;
      const deskV = scalarOf(desk);
      const gwNames = gws.map((s) => s.metric.service).filter(Boolean).sort();
      const worstP99 = Math.max(...[...pNow.values()], -Infinity);
      kpis.replaceChildren(
        kpi('Services up', `${up} / ${services.length}`, up === services.length ? 'good' : 'warn'),
        kpi('Desk orders', gwNames.length ? perSec(deskV ?? 0, 'orders') : 'unknown',
          null, gwNames.length ? `counted once, at ${gwNames.join(', ')}` : 'no gateway service (name matching *gateway*) reports orders', deskV),
        kpi('Worst p99', isFinite(worstP99) ? units.us.fmt(worstP99) : '–', worstP99 > 1000 ? 'bad' : null, 'now, over 1m', worstP99),
        kpi('Ingest', status.ingest ? perSec(status.ingest.samples_per_second, 'samples') : '–'),
        kpi('SLAs', slas == null ? 'not available' : `${slas.filter((s) => s.state === 'ok').length} / ${slas.length} ok`,
          slas && slas.some((s) => s.state === 'violated') ? 'bad' : null),
      );

      const rows = services.map((s) => {
        const name = s.service;
        const hasOrders = oNow.has(name) || T.m.has(name);
        const rq = reqNowBy.get(name);
        const rateTxt = hasOrders ? perSec(oNow.get(name) ?? 0, 'orders') : rq ? perSec(rq.v, rq.endpoint + 's') : '–';
        const ty = hasOrders ? T.m.get(name) || [] : reqSeries.get(name) || [];
        const py = P.m.get(name) || [];
        const sl = slaBySvc.get(name);
        return h('tr', {'data-service': name},
          h('td', {}, h('a', {href: ctx.href('service', name)}, name)),
          h('td', {}, pill(s.state), h('span', {class: 'muted small'}, ' ', s.age_seconds != null ? ago(s.age_seconds) + ' ago' : '')),
          h('td', {class: 'num', 'data-col': 'rate'}, rateTxt), h('td', {}, sparkline(ty, PALETTE[0])),
          h('td', {class: 'num', 'data-col': 'p99'}, units.us.fmt(pNow.get(name))), h('td', {}, sparkline(py, PALETTE[1])),
          h('td', {class: 'num', 'data-col': 'errors'}, hasOrders ? units.pct.fmt(eNow.get(name)) : '–'),
          h('td', {'data-col': 'sla'}, sl && sl.ach != null
            ? bar(sl.ach >= sl.objective ? 1 : Math.max(0.05, 1 - (sl.objective - sl.ach) / (100 - sl.objective)), `${units.pct9.fmt(sl.ach)} / ${units.pct9.fmt(sl.objective)} (${sl.window})`, sl.ach >= sl.objective ? 'good' : 'bad')
            : h('span', {class: 'muted'}, sl ? 'no data' : slas == null ? 'n/a' : '—')),
          h('td', {'data-col': 'budget'}, sl && sl.budget != null ? budgetBar(sl.budget, sl.window) : h('span', {class: 'muted'}, '—')));
      });
      table.replaceChildren(h('table', {class: 'tbl', 'data-rows': rows.length},
        h('thead', {}, h('tr', {}, ['Service', 'Health', 'Rate (own unit)', '', 'p99', '', 'Errors', 'SLA achievement', 'Error budget'].map((t) => h('th', {}, t)))),
        h('tbody', {}, rows.length ? rows : h('tr', {}, h('td', {colspan: 9, class: 'muted'}, 'No service has sent data yet.')))));
    },
    destroy() { Object.values(charts).forEach((c) => c.destroy()); },
  };
}

/**
 * slaSummary picks, per service, its worst SLA on one window — the longest
 * window with data — and reports that window's achievement and budget
 * together (never the achievement of one window beside another's budget).
 */
export function slaSummary(slas) {
  const m = new Map();
  for (const s of slas || []) {
    const ws = (s.windows || []).filter((x) => x.achievement != null);
    const longest = ws[ws.length - 1];
    const cur = m.get(s.service) || {ach: null, budget: null, objective: s.objective, window: null, names: []};
    cur.names.push(s.name);
    if (longest && (cur.ach == null || longest.achievement < cur.ach)) {
      cur.ach = longest.achievement;
      cur.objective = s.objective;
      cur.window = longest.window;
      cur.budget = longest.error_budget_left;
    }
    m.set(s.service, cur);
  }
  return m;
}

/** budgetBar shows the budget left; a spent budget reads "exhausted (−x %)". */
export function budgetBar(b, win) {
  if (b <= 0) return bar(0, `exhausted (${b < 0 ? '−' + num(-b * 100) : '0'} %)${win ? ' · ' + win : ''}`, 'bad');
  return bar(b, `${num(b * 100)}% left${win ? ' · ' + win : ''}`);
}

function plot(chart, c, S) {
  const series = [...S.m.entries()].map(([label, data]) => ({label: label || '(none)', data}));
  const shown = topN(series, TOP, last).sort((a, b) => a.label.localeCompare(b.label));
  c.note.textContent = series.length > TOP ? `top ${TOP} of ${series.length} services` : `${series.length} service${series.length === 1 ? '' : 's'}`;
  chart.update(S.xs, shown);
}
