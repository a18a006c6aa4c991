// Overview: every service with health, TPS, p99 latency, error rate, SLA
// achievement and error budget.
import {getJSON, queryRange, byLabel, last, NotAvailable} from './api.js';
import {LineChart, card, sparkline, topN, PALETTE} from './chart.js';
import {h, units, pill, bar, ago, num} from './util.js';
import * as Q from './queries.js';

const TOP = 10;

export function mount(main, ctx) {
  const kpis = h('div', {class: 'kpis'});
  const grid = h('div', {class: 'grid'});
  const tps = card('Throughput', {note: 'orders/s by service'});
  const p99 = card('p99 order latency', {note: 'by service'});
  const err = card('Error rate', {note: 'reject + error, by service'});
  grid.append(tps.el, p99.el, err.el);
  const charts = {
    tps: new LineChart(tps.body, {id: 'tps', unit: units.rate}),
    p99: new LineChart(p99.body, {id: 'p99', unit: units.us}),
    err: new LineChart(err.body, {id: 'errors', unit: units.pct, min: 0}),
  };
  const table = h('div', {class: 'table-wrap'});
  const svcCard = card('Services', {wide: true});
  svcCard.body.append(table);
  main.append(h('div', {class: 'page-head'}, h('h1', {}, 'Overview')), kpis, grid, svcCard.el);

  return {
    async refresh(w, signal) {
      const [status, tpsR, p99R, errR, slas] = await Promise.all([
        getJSON('/system/status', signal),
        queryRange(Q.overview.tps(w.rw), w, signal),
        queryRange(Q.overview.p99(w.rw), w, signal),
        queryRange(Q.overview.errors(w.rw), w, signal),
        getJSON('/sla', signal).then((b) => b.data || [], (e) => (e instanceof NotAvailable ? null : Promise.reject(e))),
      ]);
      const T = byLabel(tpsR, w, 'service');
      const P = byLabel(p99R, w, 'service');
      const E = byLabel(errR, w, 'service');
      const services = status.services || [];
      plot(charts.tps, tps, T);
      plot(charts.p99, p99, P);
      plot(charts.err, err, E);

      // SLA per service: the lowest achievement and budget over its SLAs.
      const slaBySvc = new Map();
      for (const s of slas || []) {
        const ws = (s.windows || []).filter((x) => x.achievement != null);
        const longest = ws[ws.length - 1];
        const cur = slaBySvc.get(s.service) || {ach: null, budget: null, objective: s.objective, names: []};
        cur.names.push(s.name);
        if (longest) {
          if (cur.ach == null || longest.achievement < cur.ach) { cur.ach = longest.achievement; cur.objective = s.objective; cur.window = longest.window; }
          for (const x of ws) if (x.error_budget_left != null && (cur.budget == null || x.error_budget_left < cur.budget)) cur.budget = x.error_budget_left;
        }
        slaBySvc.set(s.service, cur);
      }

      const up = services.filter((s) => s.state === 'up').length;
      const totalTPS = [...T.m.values()].reduce((a, y) => a + (last(y) || 0), 0);
      const worstP99 = Math.max(...[...P.m.values()].map((y) => last(y) ?? -Infinity));
      kpis.replaceChildren(
        kpi('Services up', `${up} / ${services.length}`, up === services.length ? 'good' : 'warn'),
        kpi('Total throughput', units.rate.fmt(totalTPS)),
        kpi('Worst p99', isFinite(worstP99) ? units.us.fmt(worstP99) : '–', worstP99 > 1000 ? 'bad' : null),
        kpi('Ingest', status.ingest ? units.rate.fmt(status.ingest.samples_per_second).replace('/s', ' samples/s') : '–'),
        kpi('SLAs', slas == null ? 'not available' : `${slas.filter((s) => s.state === 'ok').length} / ${slas.length} ok`,
          slas && slas.some((s) => s.state === 'violated') ? 'bad' : null),
      );

      const rows = services.map((s) => {
        const ty = T.m.get(s.service) || [];
        const py = P.m.get(s.service) || [];
        const ey = E.m.get(s.service) || [];
        const sl = slaBySvc.get(s.service);
        const budgetFrac = sl && sl.budget != null ? sl.budget : null;
        return h('tr', {'data-service': s.service},
          h('td', {}, h('a', {href: ctx.href('service', s.service)}, s.service)),
          h('td', {}, pill(s.state), h('span', {class: 'muted small'}, ' ', s.age_seconds != null ? ago(s.age_seconds) + ' ago' : '')),
          h('td', {class: 'num'}, units.rate.fmt(last(ty))), h('td', {}, sparkline(ty, PALETTE[0])),
          h('td', {class: 'num'}, units.us.fmt(last(py))), h('td', {}, sparkline(py, PALETTE[1])),
          h('td', {class: 'num'}, units.pct.fmt(last(ey))),
          h('td', {}, sl && sl.ach != null
            ? bar(sl.ach >= sl.objective ? 1 : Math.max(0.05, 1 - (sl.objective - sl.ach) / (100 - sl.objective)), `${units.pct9.fmt(sl.ach)} / ${units.pct9.fmt(sl.objective)} (${sl.window})`, sl.ach >= sl.objective ? 'good' : 'bad')
            : h('span', {class: 'muted'}, sl ? 'no data' : slas == null ? 'n/a' : '—')),
          h('td', {}, budgetFrac != null ? bar(budgetFrac, `${num(budgetFrac * 100)}% left`) : h('span', {class: 'muted'}, '—')));
      });
      table.replaceChildren(h('table', {class: 'tbl', 'data-rows': rows.length},
        h('thead', {}, h('tr', {}, ['Service', 'Health', 'TPS', '', 'p99', '', 'Errors', 'SLA achievement', 'Error budget'].map((t) => h('th', {}, t)))),
        h('tbody', {}, rows.length ? rows : h('tr', {}, h('td', {colspan: 9, class: 'muted'}, 'No service has sent data yet.')))));
    },
    destroy() { Object.values(charts).forEach((c) => c.destroy()); },
  };
}

function plot(chart, c, S) {
  const series = [...S.m.entries()].map(([label, data]) => ({label: label || '(none)', data}));
  const shown = topN(series, TOP, last).sort((a, b) => a.label.localeCompare(b.label));
  c.note.textContent = series.length > TOP ? `top ${TOP} of ${series.length} services` : `${series.length} service${series.length === 1 ? '' : 's'}`;
  chart.update(S.xs, shown);
}

function kpi(label, value, tone) {
  return h('div', {class: 'kpi' + (tone ? ' kpi-' + tone : '')}, h('div', {class: 'kpi-label'}, label), h('div', {class: 'kpi-value'}, value));
}

export {kpi};
