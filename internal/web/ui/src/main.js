// gmc dashboard: hash routing (#/page/arg?range=1h, shareable), the time
// range picker, the refresh loop and the live alert banner (SSE).
import {RANGES, rangeByKey, span, contact} from './api.js';
import {h, clock} from './util.js';
import * as overview from './overview.js';
import * as service from './service.js';
import * as trading from './trading.js';
import * as sla from './sla.js';
import * as alerts from './alerts.js';
import * as benchmarks from './benchmarks.js';
import * as host from './host.js';

const PAGES = {overview, service, host, trading, sla, alerts, benchmarks};
const NAV = [['overview', 'Overview'], ['trading', 'Trading'], ['host', 'Hosts'], ['sla', 'SLAs'], ['alerts', 'Alerts'], ['benchmarks', 'Benchmarks']];

/** parseHash reads "#/service/me?range=1h" → {page, arg, range}. */
function parseHash() {
  const raw = location.hash.replace(/^#\/?/, '');
  const [path, qs] = raw.split('?');
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  const q = new URLSearchParams(qs || '');
  const page = PAGES[parts[0]] ? parts[0] : 'overview';
  return {page, arg: parts[1] || '', range: rangeByKey(q.get('range') || (page === 'benchmarks' ? '30d' : '1h'))};
}

/** href builds a link to a page keeping the current time range. */
export function href(page, arg, rangeKey) {
  const r = rangeKey || parseHash().range.key;
  return `#/${page}${arg ? '/' + encodeURIComponent(arg) : ''}?range=${r}`;
}

const state = {route: null, page: null, timer: null, busy: false, ctrl: null, seq: 0};

function renderChrome(route) {
  const nav = document.getElementById('nav');
  nav.replaceChildren(...NAV.map(([p, label]) =>
    h('a', {href: href(p, '', route.range.key), class: route.page === p || (p === 'overview' && route.page === 'service') ? 'active' : null}, label)));
  const picker = document.getElementById('range');
  picker.replaceChildren(...RANGES.map((r) =>
    h('a', {href: href(route.page, route.arg, r.key), class: r.key === route.range.key ? 'active' : null, 'data-range': r.key},
      r.key === 'live' ? [h('span', {class: 'live-dot'}), 'Live'] : r.label)));
}

async function refresh() {
  if (state.busy || !state.page || conn.down) return;
  state.busy = true;
  const seq = state.seq;
  const ctrl = new AbortController();
  state.ctrl = ctrl;
  const main = document.getElementById('page');
  try {
    await state.page.refresh(span(state.route.range), ctrl.signal);
    if (seq === state.seq) {
      main.dataset.refreshed = String(Number(main.dataset.refreshed || 0) + 1);
      main.dataset.error = '';
      conn.dataAt = Date.now();
      conn.error = '';
      renderConn();
    }
  } catch (e) {
    if (e.name !== 'AbortError' && seq === state.seq) {
      main.dataset.error = e.message;
      conn.error = e.message;
      renderConn();
      console.error(e);
    }
  } finally {
    if (state.ctrl === ctrl) { state.busy = false; state.ctrl = null; }
  }
}

function route() {
  const r = parseHash();
  if (!location.hash) history.replaceState(null, '', href(r.page, r.arg, r.range.key));
  state.seq++;
  if (state.ctrl) state.ctrl.abort();
  state.busy = false;
  clearInterval(state.timer);
  if (state.page && state.page.destroy) state.page.destroy();
  state.route = r;
  renderChrome(r);
  const main = document.getElementById('page');
  main.replaceChildren();
  main.dataset.page = r.page;
  main.dataset.refreshed = '0';
  main.dataset.error = '';
  document.title = `gmc · ${r.arg || r.page}`;
  state.page = PAGES[r.page].mount(main, {arg: r.arg, range: r.range, href});
  refresh();
  state.timer = setInterval(refresh, r.range.refresh * 1000);
}

/**
 * The connection state. Every answer from gmc marks it up; a failed fetch,
 * a dropped event stream or a heartbeat (GET /-/healthy every second, 1.5 s
 * timeout) that fails marks it down within 3 s: the status strip says
 * "Disconnected … stale since HH:MM:SS", the page greys out and refreshes
 * stop. The heartbeat keeps going, and the first answer brings the page
 * back with a fresh refresh.
 */
const conn = {down: false, lastOK: Date.now(), since: null, dataAt: null, error: '', checking: false};

function markDown() {
  if (conn.down) return;
  conn.down = true;
  conn.since = conn.dataAt || conn.lastOK;
  if (state.ctrl) state.ctrl.abort();
  state.busy = false;
  renderConn();
}

function markUp() {
  conn.lastOK = Date.now();
  if (!conn.down) return;
  conn.down = false;
  conn.since = null;
  renderConn();
  if (es && es.readyState === EventSource.CLOSED) banner();
  refresh();
}

contact.listeners.push((ok) => (ok ? markUp() : markDown()));

async function heartbeat() {
  if (conn.checking) return;
  conn.checking = true;
  const c = new AbortController();
  const t = setTimeout(() => c.abort(), 1500);
  try {
    const res = await fetch('/-/healthy', {cache: 'no-store', signal: c.signal});
    if (res.ok) markUp(); else markDown();
  } catch {
    markDown();
  } finally {
    clearTimeout(t);
    conn.checking = false;
    renderConn();
  }
}

function renderConn() {
  const el = document.getElementById('conn');
  const main = document.getElementById('page');
  document.body.classList.toggle('stale', conn.down);
  main.dataset.stale = conn.down ? '1' : '';
  if (conn.down) {
    const age = Math.round((Date.now() - conn.since) / 1000);
    el.dataset.state = 'down';
    el.dataset.since = String(conn.since);
    el.replaceChildren(h('span', {class: 'conn-icon'}, '⚠'),
      h('strong', {}, 'Disconnected from gmc'),
      h('span', {}, ` — figures are stale since ${clock(conn.since)} (${age}s); retrying every second`));
    return;
  }
  el.dataset.since = '';
  if (conn.error) {
    el.dataset.state = 'error';
    el.replaceChildren(h('span', {class: 'conn-icon'}, '⚠'), h('span', {}, 'Refresh failed: ' + conn.error));
    return;
  }
  el.dataset.state = 'ok';
  el.replaceChildren(h('span', {class: 'live-dot'}), h('span', {}, conn.dataAt ? `updated ${clock(conn.dataAt)}` : 'connected'));
}

let es = null;

/** The live alert banner: one EventSource (re-opened after an outage). */
function banner() {
  const el = document.getElementById('banner');
  if (es) es.close();
  es = new EventSource('/api/ui/events');
  es.addEventListener('alerts', (ev) => {
    const d = JSON.parse(ev.data);
    const firing = d.alerts || [];
    el.dataset.state = !d.available ? 'unavailable' : firing.length ? 'firing' : 'ok';
    el.dataset.count = String(firing.length);
    document.body.classList.toggle('has-alerts', firing.length > 0);
    if (!firing.length) { el.hidden = true; el.replaceChildren(); return; }
    el.hidden = false;
    const shown = firing.slice(0, 4);
    el.replaceChildren(...[
      h('span', {class: 'banner-icon'}, '●'),
      h('strong', {}, `${firing.length} alert${firing.length > 1 ? 's' : ''} firing`),
      h('span', {class: 'banner-list'}, shown.map((a) =>
        h('a', {class: 'banner-item sev-' + (a.severity || 'none'), href: a.service ? href('service', a.service) : href('alerts')},
          a.name || 'alert', a.service ? ` · ${a.service}` : '', a.summary ? ` — ${a.summary}` : ''))),
      firing.length > shown.length ? h('a', {href: href('alerts')}, `+${firing.length - shown.length} more`) : null,
      h('a', {class: 'banner-more', href: href('alerts')}, 'All alerts →')].filter(Boolean));
  });
  es.onerror = () => { el.dataset.stream = 'reconnecting'; heartbeat(); };
  es.onopen = () => { el.dataset.stream = 'open'; markUp(); };
}

window.addEventListener('hashchange', route);
route();
banner();
renderConn();
setInterval(heartbeat, 1000);
setInterval(() => { if (conn.down) renderConn(); }, 1000);
