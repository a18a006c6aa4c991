// SLA page: achievement per window, budget left, burn rates.
import {getJSON, queryRange, align, NotAvailable} from './api.js';
import {LineChart, card} from './chart.js';
import {h, units, pill, bar, num} from './util.js';
import * as Q from './queries.js';

export function mount(main) {
  const list = h('div', {class: 'stack'});
  const burn = card('Burn rate', {note: '1h window; 1× spends the budget exactly over the SLA window', wide: true});
  const chart = new LineChart(burn.body, {id: 'burn', unit: units.x, min: 0});
  main.append(h('div', {class: 'page-head'}, h('h1', {}, 'SLAs')), burn.el, list);

  return {
    async refresh(w, signal) {
      let slas;
      try {
        slas = (await getJSON('/sla', signal)).data || [];
      } catch (e) {
        if (!(e instanceof NotAvailable)) throw e;
        list.replaceChildren(unavailable('SLAs', '/sla'));
        chart.update([w.start, w.end], []);
        return;
      }
      const res = await queryRange(Q.slaBurn, w, signal);
      const A = align(res, w);
      const obj = new Map(slas.map((s) => [s.name, s.objective]));
      chart.update(A.xs, res.map((s, i) => {
        const budget = 1 - (obj.get(s.metric.sla) ?? 99.9) / 100;
        return {label: s.metric.sla || '?', data: A.ys[i].map((v) => (v == null ? null : v / budget))};
      }), 'No recorded error ratios yet');

      list.replaceChildren(...(slas.length ? slas.map(slaCard) : [h('p', {class: 'muted'}, 'No SLA is configured.')]));
    },
    destroy() { chart.destroy(); },
  };
}

function slaCard(s) {
  const c = card(s.name, {note: `${s.service} · ${s.indicator} · objective ${units.pct9.fmt(s.objective)}`, wide: true});
  c.el.dataset.sla = s.name;
  const burning = s.burning ? pill(s.burning === 'page' ? 'bad' : 'warn', `burning (${s.burning})`) : null;
  c.body.append(
    h('div', {class: 'row'}, pill(s.state === 'ok' ? 'up' : s.state === 'no_data' ? 'unknown' : 'down', s.state.replace('_', ' ')), burning,
      s.error ? h('span', {class: 'err'}, s.error) : null),
    h('table', {class: 'tbl'},
      h('thead', {}, h('tr', {}, ['Window', 'Achievement', 'Error budget left', 'Burn rate', 'Met'].map((t) => h('th', {}, t)))),
      h('tbody', {}, (s.windows || []).map((x) => h('tr', {},
        h('td', {}, x.window),
        h('td', {class: 'num'}, units.pct9.fmt(x.achievement)),
        h('td', {}, x.error_budget_left == null ? h('span', {class: 'muted'}, 'no data') : bar(x.error_budget_left, `${num(x.error_budget_left * 100)}%`)),
        h('td', {class: 'num'}, units.x.fmt(x.burn_rate)),
        h('td', {}, x.met == null ? '–' : x.met ? pill('up', 'met') : pill('down', 'missed')))))),
    h('div', {class: 'burns'}, Object.entries(s.burn_rates || {}).map(([k, v]) =>
      h('span', {class: 'burn' + (v != null && v >= 14.4 ? ' hot' : v != null && v >= 1 ? ' warm' : '')}, h('b', {}, k), ' ', units.x.fmt(v)))));
  return c.el;
}

/** unavailable is the clean "not available yet" note for a missing endpoint. */
export function unavailable(what, path) {
  return h('div', {class: 'unavailable', 'data-unavailable': path},
    h('strong', {}, `${what} are not available on this server yet.`),
    h('span', {class: 'muted'}, ` ${path} answered 404; this page lights up when it exists.`));
}
