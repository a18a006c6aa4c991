// Trading page: PnL and risk exposure per account and strategy, with trends.
import {queryRange, align, last, seriesName} from './api.js';
import {LineChart, card, panel, sparkline, topN, PALETTE} from './chart.js';
import {h, units, kpi} from './util.js';
import * as Q from './queries.js';

export function mount(main) {
  const kpis = h('div', {class: 'kpis'});
  const grid = h('div', {class: 'grid'});
  const mk = (id, title, note, unit) => panel(grid, title, note, LineChart, {id, unit});
  const C = {
    pnl: mk('pnl', 'PnL', 'by account / strategy', units.money),
    gross: mk('gross', 'Gross exposure', 'by account / strategy', units.money),
    net: mk('net', 'Net exposure', 'by account / strategy', units.money),
    acct: mk('pnl-account', 'PnL by account', 'sum over strategies', units.money),
  };
  const tbl = card('Accounts and strategies', {wide: true});
  main.append(h('div', {class: 'page-head'}, h('h1', {}, 'Trading')), kpis, grid, tbl.el);

  return {
    async refresh(w, signal) {
      const [pnl, exp] = await Promise.all([queryRange(Q.trading.pnl, w, signal), queryRange(Q.trading.exposure, w, signal)]);
      const P = align(pnl, w);
      const E = align(exp, w);
      const key = (m) => `${m.account || ''}\u0000${m.strategy || ''}`;
      const rows = new Map();
      const row = (m) => {
        const k = key(m);
        if (!rows.has(k)) rows.set(k, {account: m.account || '', strategy: m.strategy || '', pnl: null, gross: null, net: null});
        return rows.get(k);
      };
      const pnlS = pnl.map((s, i) => { row(s.metric).pnl = P.ys[i]; return {label: seriesName(s.metric, ['account', 'strategy']), data: P.ys[i]}; });
      const grossS = [];
      const netS = [];
      exp.forEach((s, i) => {
        const r = row(s.metric);
        const d = {label: seriesName(s.metric, ['account', 'strategy']), data: E.ys[i]};
        if (s.metric.kind === 'net') { r.net = E.ys[i]; netS.push(d); } else { r.gross = E.ys[i]; grossS.push(d); }
      });
      const byAbs = (ys) => Math.abs(last(ys) ?? 0);
      const show = (c, s) => {
        const t = topN(s, 10, byAbs);
        c.card.note.textContent = s.length > 10 ? `top 10 of ${s.length}` : 'by account / strategy';
        c.chart.update(P.xs, t);
      };
      show(C.pnl, pnlS);
      show(C.gross, grossS);
      show(C.net, netS);

      // Account totals: strategy-level rows summed (an account-level row,
      // strategy="", is used when the account has no strategy rows).
      const accts = new Map();
      for (const r of rows.values()) {
        if (!r.pnl) continue;
        const a = accts.get(r.account) || {strat: null, own: null};
        const add = (acc, ys) => (acc ? acc.map((v, i) => (v == null && ys[i] == null ? null : (v || 0) + (ys[i] || 0))) : ys.slice());
        if (r.strategy) a.strat = add(a.strat, r.pnl); else a.own = r.pnl;
        accts.set(r.account, a);
      }
      C.acct.chart.update(P.xs, [...accts.entries()].sort().map(([acct, a]) => ({label: acct || '(none)', data: a.strat || a.own})));

      const all = [...accts.values()].map((a) => last(a.strat || a.own) || 0);
      const totalPnl = all.reduce((x, y) => x + y, 0);
      const totalGross = [...rows.values()].filter((r) => r.strategy && r.gross).reduce((x, r) => x + (last(r.gross) || 0), 0);
      kpis.replaceChildren(
        kpi('Total PnL', units.money.fmt(totalPnl), totalPnl < 0 ? 'bad' : 'good'),
        kpi('Gross exposure', units.money.fmt(totalGross)),
        kpi('Accounts', String(accts.size)),
        kpi('Strategies', String([...rows.values()].filter((r) => r.strategy).length)));

      const sorted = [...rows.values()].sort((a, b) => a.account.localeCompare(b.account) || a.strategy.localeCompare(b.strategy));
      tbl.body.replaceChildren(h('div', {class: 'table-wrap'}, h('table', {class: 'tbl', 'data-rows': sorted.length},
        h('thead', {}, h('tr', {}, ['Account', 'Strategy', 'PnL', 'Trend', 'Gross', 'Net'].map((t) => h('th', {}, t)))),
        h('tbody', {}, sorted.length ? sorted.map((r) => {
          const v = last(r.pnl || []);
          return h('tr', {},
            h('td', {}, r.account || '—'), h('td', {}, r.strategy || h('span', {class: 'muted'}, 'account')),
            h('td', {class: 'num ' + (v < 0 ? 'neg' : 'pos')}, units.money.fmt(v)),
            h('td', {}, sparkline(r.pnl || [], v < 0 ? PALETTE[3] : PALETTE[2])),
            h('td', {class: 'num'}, units.money.fmt(last(r.gross || []))),
            h('td', {class: 'num'}, units.money.fmt(last(r.net || []))));
        }) : h('tr', {}, h('td', {colspan: 6, class: 'muted'}, 'No gmc_pnl or gmc_risk_exposure series in this time range.'))))));
    },
    destroy() { Object.values(C).forEach((c) => c.chart.destroy()); },
  };
}
