// Alerts page: active alerts (/api/v1/alerts) and history (/alerts/history).
import {getJSON, NotAvailable} from './api.js';
import {card} from './chart.js';
import {h, pill, when, ago} from './util.js';
import {unavailable} from './sla.js';

export function mount(main, ctx) {
  const active = card('Active', {wide: true});
  const hist = card('History', {note: 'newest first', wide: true});
  main.append(h('div', {class: 'page-head'}, h('h1', {}, 'Alerts')), active.el, hist.el);
  const opt = (p) => p.catch((e) => (e instanceof NotAvailable ? null : Promise.reject(e)));
  const svc = (s) => (s ? h('a', {href: ctx.href('service', s)}, s) : '—');

  return {
    async refresh(w, signal) {
      const [a, hs] = await Promise.all([opt(getJSON('/api/v1/alerts', signal)), opt(getJSON(`/alerts/history?limit=200&since=${w.start}`, signal))]);
      if (a == null) active.body.replaceChildren(unavailable('Alerts', '/api/v1/alerts'));
      else {
        const as = a.data.alerts || [];
        active.note.textContent = `${as.filter((x) => x.state === 'firing').length} firing · ${as.filter((x) => x.state === 'pending').length} pending`;
        active.body.replaceChildren(h('table', {class: 'tbl', 'data-rows': as.length},
          h('thead', {}, h('tr', {}, ['Alert', 'State', 'Severity', 'Service', 'Since', 'Value', 'Summary'].map((t) => h('th', {}, t)))),
          h('tbody', {}, as.length ? as.map((x) => h('tr', {},
            h('td', {}, x.labels.alertname), h('td', {}, pill(x.state)), h('td', {}, pill(x.labels.severity || 'none', x.labels.severity || '—')),
            h('td', {}, svc(x.labels.service)), h('td', {}, when(x.activeAt)), h('td', {class: 'num'}, fmtVal(x.value)),
            h('td', {}, (x.annotations && (x.annotations.summary || x.annotations.description)) || ''))) :
            h('tr', {}, h('td', {colspan: 7, class: 'muted'}, 'Nothing is firing. All quiet.')))));
      }
      if (hs == null) hist.body.replaceChildren(unavailable('Alert history', '/alerts/history'));
      else {
        const eps = hs.data.episodes || [];
        hist.body.replaceChildren(h('table', {class: 'tbl', 'data-rows': eps.length},
          h('thead', {}, h('tr', {}, ['Alert', 'State', 'Service', 'Active at', 'Fired at', 'Resolved at', 'Firing for'].map((t) => h('th', {}, t)))),
          h('tbody', {}, eps.length ? eps.map((e) => h('tr', {},
            h('td', {}, e.alertname), h('td', {}, pill(e.state)), h('td', {}, svc(e.service)),
            h('td', {}, when(e.active_at)), h('td', {}, when(e.fired_at)), h('td', {}, when(e.resolved_at)),
            h('td', {class: 'num'}, e.fired_at ? ago(e.firing_seconds) : '—'))) :
            h('tr', {}, h('td', {colspan: 7, class: 'muted'}, 'No alert in this time range.')))));
      }
    },
  };
}

function fmtVal(v) {
  const f = parseFloat(v);
  return isFinite(f) ? String(+f.toPrecision(4)) : v || '';
}
