// gmc dashboard: hash routing (#/page/arg?range=1h, shareable), the time
// range picker, the refresh loop and the live alert banner (SSE).
import {RANGES, rangeByKey, span, contact, RangeCache, ready} from './api.js';
import {h, add, addFirst, fill, clock, when, patch} from './util.js';
import * as overview from './overview.js';
import * as service from './service.js';
import * as risk from './risk.js';
import * as sla from './sla.js';
import * as alerts from './alerts.js';
import * as benchmarks from './benchmarks.js';
import * as host from './host.js';
import * as trends from './trends.js';

// trading: the Risk page's earlier name, kept for saved links.
const PAGES = {overview, service, host, risk, trading: risk, trends, sla, alerts, benchmarks};
/** ALIASES are page names a user may type for a page of another name (the menu's "Hosts" is #/host). */
const ALIASES = {hosts: 'host', services: 'overview', slas: 'sla', alert: 'alerts', benchmark: 'benchmarks', bench: 'benchmarks', trend: 'trends'};
const NAV = [['overview', 'Overview'], ['risk', 'Risk'], ['host', 'Hosts'], ['trends', 'Trends'], ['sla', 'SLAs'], ['alerts', 'Alerts'], ['benchmarks', 'Benchmarks']];

/**
 * parseHash reads "#/service/me?range=1h" → {page, arg, range}. A range may
 * be absolute — from=…&to=… (unix seconds; drag-to-zoom writes it) — or
 * end elsewhere than now: end=… (time shift) or at=… (an alert's time,
 * shown a quarter of the range from the right).
 */
function parseHash() {
  const raw = location.hash.replace(/^#\/?/, '');
  const [path, qs] = raw.split('?');
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  const q = new URLSearchParams(qs || '');
  const name = ALIASES[parts[0]] || parts[0];
  const page = PAGES[name] ? name : 'overview';
  let range = rangeByKey(q.get('range') || (page === 'benchmarks' ? '30d' : '1h'));
  const from = Number(q.get('from'));
  const to = Number(q.get('to'));
  if (from > 0 && to > from) {
    range = {key: 'custom', label: 'custom', seconds: to - from, end: to, refresh: 3600, base: range.key};
  } else if (Number(q.get('end')) > 0 || Number(q.get('at')) > 0) {
    const end = Number(q.get('end')) || Number(q.get('at')) + range.seconds / 4;
    if (end < Date.now() / 1000) range = {...range, end, refresh: 3600, base: range.key};
  }
  // A page name gmc has none of shows the Overview, and says so (it
  // showed the Overview as if asked for).
  return {page, arg: PAGES[name] ? parts[1] || '' : '', range, unknown: parts[0] && !PAGES[name] ? parts[0] : ''};
}

/** href builds a link to a page keeping the current time range (relative ranges only). */
export function href(page, arg, rangeKey) {
  const r = rangeKey || parseHash().range.base || parseHash().range.key;
  return `#/${page}${arg ? '/' + encodeURIComponent(arg) : ''}?range=${r}`;
}

/** hrefAt links the current page with an absolute or shifted range. */
function hrefAt(route, params) {
  const base = `#/${route.page}${route.arg ? '/' + encodeURIComponent(route.arg) : ''}?range=${route.range.base || route.range.key}`;
  return base + Object.entries(params).map(([k, v]) => `&${k}=${Math.round(v)}`).join('');
}

// Drag-to-zoom on any chart (chart.js sends gmc-zoom with from/to in unix seconds).
window.addEventListener('gmc-zoom', (e) => {
  const {from, to} = e.detail;
  if (to - from >= 10) location.hash = hrefAt(state.route, {from, to});
});

const state = {route: null, page: null, timer: null, busy: false, ctrl: null, seq: 0, cache: null, startedAt: 0};

function renderChrome(route) {
  const nav = document.getElementById('nav');
  fill(nav, ...NAV.map(([p, label]) =>
    h('a', {href: href(p, '', route.range.key), class: route.page === p || (p === 'overview' && route.page === 'service') || (p === 'risk' && route.page === 'trading') ? 'active' : null}, label)));
  const picker = document.getElementById('range');
  // Trends picks its own window (7d/30d of whole hours): the global range
  // would do nothing there.
  // (style, not the hidden attribute: the header's CSS display wins over it.)
  picker.style.display = route.page === 'trends' ? 'none' : '';
  // Time shift: half a range earlier or later; "now" returns to a range ending now.
  const rg = route.range;
  const end = rg.end != null ? rg.end : Date.now() / 1000;
  const shift = (dir) => {
    const e = end + (dir * rg.seconds) / 2;
    return e >= Date.now() / 1000 ? href(route.page, route.arg, rg.base || rg.key)
      : rg.key === 'custom' ? hrefAt(route, {from: e - rg.seconds, to: e}) : hrefAt(route, {end: e});
  };
  const absolute = rg.end != null;
  fill(picker,
    h('a', {href: shift(-1), 'data-shift': 'back', title: 'half a range earlier'}, '‹'),
    ...RANGES.map((r) =>
      h('a', {href: href(route.page, route.arg, r.key), class: r.key === (rg.base || rg.key) && !absolute ? 'active' : null, 'data-range': r.key},
        r.key === 'live' ? [h('span', {class: 'live-dot'}), 'Live'] : r.label)),
    h('a', {href: shift(1), 'data-shift': 'forward', class: absolute ? null : 'disabled', title: 'half a range later'}, '›'),
    ...(absolute ? [h('span', {class: 'abs-range', 'data-absolute': String(Math.round(end))}, `${when(new Date((end - rg.seconds) * 1000))} → ${when(new Date(end * 1000))}`)] : []),
    // The custom range's form is made when it is first opened: two
    // datetime-local inputs cost a new tab's renderer its first date
    // formats (ICU) and a shadow tree each, ~20 ms at load 15 before the
    // page's first queries, for a form most loads never open.
    h('details', {class: 'custom', ontoggle: (e) => {
      const d = e.currentTarget;
      if (d.open && !d.querySelector('form')) add(d, customForm(route));
    }}, h('summary', {}, 'Custom')));
}

/** customForm is the custom range's form: from and to, local time to the second. */
function customForm(route) {
  return h('form', {class: 'custom-range', onsubmit: (e) => {
    e.preventDefault();
    const f = Date.parse(e.target.from.value) / 1000;
    const t = Date.parse(e.target.to.value) / 1000;
    if (f > 0 && t > f) location.hash = hrefAt(route, {from: f, to: t});
  }}, h('input', {type: 'datetime-local', name: 'from', step: 1, title: 'from'}), h('input', {type: 'datetime-local', name: 'to', step: 1, title: 'to'}),
  h('button', {class: 'btn', type: 'submit'}, 'Go'));
}

async function refresh() {
  if (state.busy || !state.page || conn.down) return;
  state.busy = true;
  state.startedAt = Date.now();
  const seq = state.seq;
  const ctrl = new AbortController();
  state.ctrl = ctrl;
  const main = document.getElementById('page');
  try {
    const w = span(state.route.range);
    if (w.grid) w.cache = state.cache;
    // Every time chart of the page spans this window (chart.js xWindow).
    main.dataset.xFrom = String(w.from ?? w.start);
    main.dataset.xTo = String(w.end);
    await state.page.refresh(w, ctrl.signal);
    if (seq === state.seq) {
      main.dataset.refreshed = String(Number(main.dataset.refreshed || 0) + 1);
      beat(document.querySelector('.range a.active .live-dot'));
      // The first figures are drawn: the event stream may open now.
      setTimeout(connectStream, 0);
      if (main.dataset.error) main.dataset.error = '';
      // The figures are of the window's "now" (w.at: its end, or the
      // refresh's start for a range with its own end), not of its
      // completion: under load a refresh took ~10 s, and "updated" stamped
      // 2.92 % with a time the raw data gave 3.86 % (t-user8 #7). Every
      // "now" query of the refresh is asked at that time, not at gmc's
      // now when it gets there (a p99 tile read 39 µs, true 10 s after its
      // stamp, where the stamp's raw p99 was 2.3 ms: t-user11 #3).
      conn.dataAt = w.at * 1000;
      conn.took = Date.now() - state.startedAt;
      conn.loading = 0;
      conn.error = '';
      renderConn();
    }
  } catch (e) {
    // While disconnected the strip says so; a refresh cut off by it is no failure of its own.
    if (e.name !== 'AbortError' && seq === state.seq && !conn.down) {
      main.dataset.error = e.message;
      conn.error = e.message;
      renderConn();
      console.error(e);
    }
  } finally {
    if (state.ctrl === ctrl) {
      state.busy = false;
      state.ctrl = null;
      schedule();
    }
  }
}

/**
 * beat dims or lights a dot: Live's on each completed refresh, the alert
 * banner's icon on each ping (app.css): a beat that stops says the page
 * or the stream did, where an endless animation kept pulsing (and cost
 * every tab 60 frames a second).
 */
function beat(el) {
  if (el) el.classList.toggle('beat');
}

/**
 * HIDDEN_EVERY is how often (s) a tab nobody sees refreshes at most: Live
 * in a background tab would keep gmc and the browser busy every second for
 * no one (and browsers throttle its timers anyway); it catches up the
 * moment it is shown again.
 */
const HIDDEN_EVERY = 10;

/**
 * schedule sets the next refresh: a period after the last one started, or
 * at once when that one took longer (a timer that skips ticks while a
 * refresh is in flight turned a 1.2 s refresh into a 2 s interval).
 */
function schedule() {
  clearTimeout(state.timer);
  if (!state.route) return;
  const every = document.hidden ? Math.max(state.route.range.refresh, HIDDEN_EVERY) : state.route.range.refresh;
  state.timer = setTimeout(refresh, Math.max(0, state.startedAt + every * 1000 - Date.now()));
}

document.addEventListener('visibilitychange', () => {
  if (!state.route || state.busy) return;
  // Shown again: a refresh now if one is due by the visible period.
  if (!document.hidden && Date.now() - state.startedAt >= state.route.range.refresh * 1000) refresh();
  else schedule();
});

function route() {
  const r = parseHash();
  if (!location.hash) history.replaceState(null, '', href(r.page, r.arg, r.range.key));
  state.seq++;
  if (state.ctrl) state.ctrl.abort();
  state.busy = false;
  clearTimeout(state.timer);
  if (state.page && state.page.destroy) state.page.destroy();
  state.route = r;
  // Live fetches only the new interval: its answers so far, per route.
  state.cache = r.range.grid ? new RangeCache({overlap: 30, fullEvery: 60}) : null;
  window.gmcLive = state.cache; // for tests and the curious
  const main = document.getElementById('page');
  fill(main);
  main.dataset.page = r.page;
  main.dataset.refreshed = '0';
  main.dataset.error = '';
  document.title = `gmc · ${r.arg || r.page}`;
  state.page = PAGES[r.page].mount(main, {arg: r.arg, range: r.range, href, drains: () => bannerDrains, refresh: () => { if (state.ctrl) state.ctrl.abort(); state.busy = false; refresh(); }});
  if (r.unknown) {
    addFirst(main, h('p', {class: 'page-unknown', 'data-unknown-page': r.unknown}, `There is no page "${r.unknown}": this is the Overview. The pages: `,
      NAV.map(([k, label], i) => [i ? ', ' : '', h('a', {href: href(k)}, label)])));
  }
  // Until the new page's first figures are drawn the strip says it is
  // loading: it went on saying "updated HH:MM:SS (took 5 s)" of the page
  // before above the new one's empty cards (t-user16 F5).
  conn.loading = Date.now();
  renderConn();
  // Each refresh schedules the next (schedule).
  refresh();
  // The menu and the range picker after the first queries are sent
  // (api.batched sends them in a microtask queued by refresh, before
  // this one): in a new tab the chrome's first run was ~30–60 ms of a
  // cold renderer the queries waited for.
  queueMicrotask(() => { if (state.route === r) renderChrome(r); });
}

/**
 * The connection state. The event stream is the heartbeat: gmc sends a
 * "ping" event every second on it (its own connection, so slow queries
 * queued on the others do not delay it). A stopped server drops the
 * stream: that, confirmed by /-/healthy, or a failed fetch marks it down at
 * once (well within 3 s); a hung one sends no ping for PING_GAP: the status strip says "Disconnected … stale since HH:MM:SS",
 * the page greys out and refreshes stop. While down, /-/healthy is asked
 * every second; the stream's return brings the page back with a fresh
 * refresh. A fetch that succeeds marks it up only while the stream is
 * heard (no flapping when only the stream is gone).
 */
const PING_GAP = 4000;
/** OWN_AFTER is how long (ms) gmc may answer /-/healthy while the shared stream stays silent before this tab opens its own. */
const OWN_AFTER = 8000;
const conn = {down: false, downAt: 0, lastOK: Date.now(), since: null, dataAt: null, took: 0, loading: 0, error: '', checking: false, healthyAt: 0, streamSeen: false,
  // A first grace for the stream to open on a busy server.
  heardAt: Date.now() + 3000};

function markDown() {
  if (conn.down) return;
  conn.down = true;
  conn.downAt = Date.now();
  conn.since = conn.dataAt || conn.lastOK;
  if (state.ctrl) state.ctrl.abort();
  state.busy = false;
  renderConn();
}

/**
 * markUp: gmc answered. streamAt: when the event stream brought news (a
 * ping, alerts, the stream opening); news older than the last time gmc was
 * marked down (queued while this tab was busy) does not count.
 */
function markUp(streamAt) {
  const now = Date.now();
  if (streamAt != null) {
    if (conn.down && streamAt < conn.downAt) return;
    conn.heardAt = Math.max(conn.heardAt, streamAt);
    conn.streamSeen = true;
  } else if (!conn.streamSeen) {
    // Until the stream first opens (slow to start on a busy machine: it
    // read "Disconnected" with every query answered), gmc's answers are
    // what is heard of it.
    conn.heardAt = Math.max(conn.heardAt, now);
  } else if (now - conn.heardAt > PING_GAP) return;
  conn.lastOK = now;
  if (!conn.down) return;
  conn.down = false;
  conn.healthyAt = 0;
  conn.since = null;
  renderConn();
  // The banner was not laid out while down: its chips are fitted again.
  if (bannerData) showAlerts(bannerData);
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
    if (res.ok) {
      // gmc answers but the stream brings nothing: a new stream; still
      // nothing after OWN_AFTER, one of this tab's own.
      if (conn.down && !conn.healthyAt) conn.healthyAt = Date.now();
      if (stream && conn.down && Date.now() - conn.healthyAt > OWN_AFTER) {
        stream = stream.own();
        conn.healthyAt = Date.now();
      } else if (stream) stream.reopen();
      markUp();
    } else markDown();
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
  // (Written only when they change: this runs on every refresh.)
  const put = (e, k, v) => { if (e.dataset[k] !== v) e.dataset[k] = v; };
  document.body.classList.toggle('stale', conn.down);
  put(main, 'stale', conn.down ? '1' : '');
  if (conn.down) {
    const age = Math.round((Date.now() - conn.since) / 1000);
    put(el, 'state', 'down');
    put(el, 'since', String(conn.since));
    // When this tab saw it (ms): a test's measure of the detection, on the page's clock.
    put(el, 'downAt', String(conn.downAt));
    patch(el, [h('span', {class: 'conn-icon'}, '⚠'),
      h('strong', {}, 'Disconnected from gmc'),
      h('span', {}, ` — figures are stale since ${clock(conn.since)} (${age}s); retrying every second`)]);
    return;
  }
  put(el, 'since', '');
  if (conn.error) {
    put(el, 'state', 'error');
    patch(el, [h('span', {class: 'conn-icon'}, '⚠'), h('span', {}, 'Refresh failed: ' + conn.error)]);
    return;
  }
  put(el, 'state', 'ok');
  put(el, 'loading', conn.loading ? String(conn.loading) : '');
  if (conn.loading) {
    patch(el, [h('span', {class: 'live-dot'}), h('span', {}, `loading… (since ${clock(conn.loading)})`)]);
    return;
  }
  patch(el, [h('span', {class: 'live-dot'}), h('span', {}, conn.dataAt ? `updated ${clock(conn.dataAt)}` + (conn.took > 2000 ? ` (took ${Math.round(conn.took / 1000)} s)` : '') : 'connected')]);
}

/**
 * openStream connects to the event stream: through the SharedWorker of
 * events-worker.js (one connection for every tab), or, where there is no
 * SharedWorker, an EventSource of this tab's own. on(type, data, at) gets
 * "open", "error", "alerts" and "ping" with the time (ms) they arrived;
 * reopen() asks for a new stream when the one there is stuck (the worker
 * decides), or makes the worker again when its script did not load (gmc
 * went away just as it started: the tab then heard nothing, ever);
 * own() gives up the shared stream for one of this tab's own.
 */
function openStream(on) {
  const banner = document.getElementById('banner');
  if (typeof SharedWorker === 'function' && import.meta.resolve) {
    let w = null;
    let dead = false;
    let startedAt = 0;
    const start = () => {
      dead = false;
      startedAt = Date.now();
      w = new SharedWorker(import.meta.resolve('./events-worker.js'), {name: 'gmc-events'});
      w.onerror = () => {
        dead = true;
        banner.dataset.stream = 'worker-failed';
        on('error', 'worker-failed', Date.now());
        setTimeout(() => { if (dead) start(); }, 1000);
      };
      w.port.onmessage = (m) => on(m.data.type, m.data.data, m.data.at);
      w.port.start();
    };
    try {
      start();
      window.addEventListener('pagehide', () => w.port.postMessage('bye'));
      banner.dataset.transport = 'shared-worker';
      return {
        // (A dead worker is made again at most once a second.)
        reopen: () => (!dead ? w.port.postMessage('reopen') : Date.now() - startedAt > 1000 ? start() : null),
        own: () => {
          w.port.postMessage('bye');
          w.port.onmessage = null;
          return ownStream(on);
        },
      };
    } catch (e) {
      console.warn('shared event stream unavailable; this tab opens its own', e);
    }
  }
  return ownStream(on);
}

/** ownStream is an EventSource of this tab's own (see openStream). */
function ownStream(on) {
  let es = null;
  let failedAt = 0;
  const open = () => {
    if (es) es.close();
    es = new EventSource('/api/ui/events');
    es.onopen = () => on('open', null, Date.now());
    es.onerror = () => {
      failedAt = Date.now();
      on('error', es.readyState === EventSource.CLOSED ? 'closed' : 'reconnecting', Date.now());
    };
    for (const t of ['alerts', 'ping']) es.addEventListener(t, (ev) => on(t, ev.data, Date.now()));
  };
  open();
  document.getElementById('banner').dataset.transport = 'event-source';
  const s = {
    // Closed, or failed and its retry (2 s) not yet under way: now.
    reopen: () => { if (es.readyState === EventSource.CLOSED || (es.readyState === EventSource.CONNECTING && Date.now() - failedAt > 1000)) open(); },
    own: () => s,
  };
  return s;
}

/** chipWhere is what a banner chip says after the alert's name: its service, else its instance, else its summary. */
function chipWhere(a) {
  const where = a.service || (a.labels && a.labels.instance);
  return where ? ` · ${where}` : a.summary ? ` — ${a.summary}` : '';
}

/** byMinute is a time (ms) as local "HH:MM", rounded up: the minute by which it has passed. */
function byMinute(ms) {
  return clock(Math.ceil(ms / 60000) * 60000).slice(0, 5);
}

/** bannerData is the last "alerts" event's data: the banner is fitted again to a new width with it. */
let bannerData = '';
window.addEventListener('resize', () => { if (bannerData) showAlerts(bannerData); });

/** showAlerts renders the live alert banner from an "alerts" event. */
function showAlerts(data) {
  bannerData = data;
  const el = document.getElementById('banner');
  const d = JSON.parse(data);
  const firing = d.alerts || [];
  // Alerts firing when gmc stopped and not seen since its restart: their
  // state is unknown, and the banner says so (it said nothing, as if all
  // were quiet, for up to 5 minutes after a restart).
  const unknown = d.unknown || [];
  // Firing but silenced or inhibited: counted apart, as the Alerts page
  // does ("2 firing · 4 suppressed"); the banner said "2 alerts firing"
  // of 6 firing.
  const suppressed = d.suppressed || 0;
  el.dataset.state = !d.available ? 'unavailable' : firing.length ? 'firing' : unknown.length ? 'unknown' : suppressed ? 'suppressed' : 'ok';
  el.dataset.count = String(firing.length);
  el.dataset.unknown = String(unknown.length);
  el.dataset.suppressed = String(suppressed);
  document.body.classList.toggle('has-alerts', firing.length > 0);
  if (!firing.length && !unknown.length && !suppressed) { el.hidden = true; fill(el); return; }
  el.hidden = false;
  const full = (a) => `${a.name || 'alert'}${a.service ? ' · ' + a.service : ''}${a.summary ? ' — ' + a.summary : ''}`;
  const unknownNote = unknown.length ? h('a', {class: 'banner-unknown', href: href('alerts'), title: unknown.map(full).join('\n')},
    `${unknown.length} alert${unknown.length > 1 ? 's' : ''} of unknown state: firing when gmc stopped, not seen since its restart (${unknown.map((a) => a.name || 'alert').join(', ')})`) : null;
  // compact: its short form, for a line with no room left (render's).
  const suppressedNote = (compact = false) => suppressed ? h('a', {class: 'banner-suppressed', href: href('alerts'), title: `${suppressed} firing but silenced or inhibited: they notify nobody (the Alerts page lists them)`},
    compact ? ` · ${suppressed} supp.` : ` · ${suppressed} suppressed`) : null;
  if (!firing.length && !unknown.length) {
    // Every firing alert silenced or inhibited: said in a quiet line
    // (app.css: muted, not red). The banner hid itself, and a desk saw no
    // sign that anything fired (issue 13).
    fill(el, h('span', {class: 'banner-icon'}, '○'), h('span', {class: 'banner-count'}, '0 alerts firing'), suppressedNote(),
      h('a', {class: 'banner-more', href: href('alerts')}, 'All alerts →'));
    return;
  }
  if (!firing.length) {
    fill(el, h('span', {class: 'banner-icon'}, '?'), unknownNote, suppressedNote(), h('a', {class: 'banner-more', href: href('alerts')}, 'All alerts →'));
    return;
  }
  // One chip per alert name: an incident fires one alert at several
  // services (ServiceLatencyHigh at three strategies), and four chips of
  // it were cut to "ServiceLatencyHigh · strategy-mom…" and "HostCPUHigh ·…".
  const byName = new Map();
  for (const a of firing) {
    const k = a.name || 'alert';
    if (!byName.has(k)) byName.set(k, []);
    byName.get(k).push(a);
  }
  // What a desk must see first leads: a chip whose condition holds now
  // before one only held by keep_firing_for or draining, a page before the
  // rest (stable otherwise). In the server's order a draining burn chip
  // filled the strip with the live ServiceLatencyHigh page in "+2 more".
  const rank = (as) => (as.every((x) => x.keep_firing_since || x.drain) ? 2 : 0) + (as.some((x) => x.severity === 'page') ? 0 : 1);
  const chips = [...byName.values()].sort((a, b) => rank(a) - rank(b));
  // An alert firing only because its rule's keep_firing_for holds it: its
  // condition has not held since keep_firing_since, and its summary (the
  // chip's title) is of before. The chip said nothing of it: HostCPUHigh
  // "CPU of vm at 91.2%" with the host at 45 % (t-user23 F1).
  const held = firing.filter((a) => a.keep_firing_since);
  const heldTitle = (a) => (a.keep_firing_since
    ? `${full(a)}\n  ${alerts.heldNote({keepFiringSince: a.keep_firing_since}, null).state}; this summary is of before`
    : a.drain ? `${full(a)}\n  ${alerts.drainText(a.drain)}` : full(a));
  el.dataset.held = String(held.length);
  // A burn-rate alert whose errors have ended fires on until its short
  // window no longer holds them (a.drain, from the raw error counters):
  // SLAErrorBudgetBurn stayed "firing" 5 minutes after the errors stopped,
  // with no word of why (issue 13). Its chip says so in short, the whole
  // sentence in its title: the sentence beside the count squeezed every
  // chip to "ServiceSile…" at 1440 px.
  const drains = firing.filter((a) => a.drain);
  el.dataset.draining = String(drains.length);
  // compact: no chip and the count's words short, "3 firing (1 held) · 4
  // supp.", where the line did not fit even without chips: at 480 px a
  // held alert and suppressed ones pushed "All alerts →" past the window
  // (trial 31 F3). Their titles say them whole.
  const render = (n, compact = false) => {
    const shown = chips.slice(0, n);
    const hidden = chips.slice(n).reduce((k, as) => k + as.length, 0);
    const count = `${firing.length} alert${firing.length > 1 ? 's' : ''} firing`;
    fill(el,
      h('span', {class: 'banner-icon'}, '●'),
      h('strong', {title: compact ? count : null}, compact ? `${firing.length} firing` : count),
      // Narrow, "(1 held)": the whole note (app.css) pushed "All alerts →"
      // past a 480 px strip (trial 30 F1); the title says it whole.
      held.length ? h('span', {class: 'banner-held', title: 'firing only because keep_firing_for holds them: their condition no longer holds'},
        ` (${held.length === firing.length && held.length > 1 ? 'all' : held.length} held`, h('span', {class: 'banner-held-why'}, ' by keep_firing_for'), ')') : null,
      suppressedNote(compact),
      // A chip names the alert and its service, or how many services (what
      // fits in the strip's one line); each one's summary is in the title
      // and on the Alerts page.
      h('span', {class: 'banner-list'}, shown.map((as) => {
        const a = as[0];
        const svcs = [...new Set(as.map((x) => x.service).filter(Boolean))];
        const one = as.length === 1;
        const sev = as.some((x) => x.severity === 'page') ? 'page' : a.severity || 'none';
        const allHeld = as.every((x) => x.keep_firing_since);
        const allDraining = as.every((x) => x.drain);
        const clears = allDraining ? Math.max(...as.map((x) => Date.parse(x.drain.clears))) : 0;
        return h('a', {class: 'banner-item sev-' + sev, 'data-held': allHeld ? 'true' : null, 'data-draining': allDraining ? 'true' : null, href: one && a.service ? href('service', a.service) : href('alerts'), title: as.map(heldTitle).join('\n')},
          a.name || 'alert', one ? chipWhere(a) : ` · ${svcs.length > 1 ? `${svcs.length} services` : svcs.length ? svcs[0] : `${as.length} alerts`}`,
          allHeld ? h('span', {class: 'chip-held'}, ' · held') : allDraining ? h('span', {class: 'chip-draining'}, ` · draining, clears by ~${byMinute(clears)}`) : null);
      })),
      hidden && n > 0 ? h('a', {href: href('alerts')}, `+${hidden} more`) : null,
      unknown.length ? h('a', {class: 'banner-unknown', href: href('alerts'), title: unknown.map(full).join('\n')}, `+${unknown.length} unknown`) : null,
      h('a', {class: 'banner-more', href: href('alerts')}, 'All alerts →'));
  };
  // The chips that fit whole, the others counted in "+N more": four chips
  // squeezed to fit were cut to "ServiceSile…" and "HostCP…".
  // Nor anything past the strip's edge: at 480 px the one chip kept left
  // "3 alerts firing · 4 suppressed +2 m", "All alerts →" cut off (trial
  // 29 F6). With no room for a chip, the count and "All alerts →" say it.
  let n = Math.min(chips.length, 4);
  render(n);
  const over = () => {
    const edge = el.getBoundingClientRect().right + 0.5;
    const list = el.querySelector('.banner-list');
    const inner = list ? list.getBoundingClientRect().right + 0.5 : edge;
    return [...el.querySelectorAll('.banner-item')].some((c) => c.getBoundingClientRect().right > inner) ||
      [...el.children].some((c) => c.getBoundingClientRect().right > edge);
  };
  const cut = () => over() || [...el.querySelectorAll('.banner-item')].some((c) => c.scrollWidth > c.clientWidth);
  while (n > 1 && cut()) render(--n);
  // A last chip cut by its ellipsis stays (its title says it whole); one
  // past the edge goes.
  if (n === 1 && over()) render(0);
  if (n <= 1 && over()) render(0, true);
}

/**
 * followBurns refreshes the Overview and the SLA page as soon as the set of
 * firing SLA burn alerts changes: their SLA state is the alerts' own
 * (GET /sla), but their period is up to 5 minutes, and the tile said "not
 * judged" beside a banner paging SLAErrorBudgetBurn (t-user5 #4).
 */
let slaBurns = '';
function followBurns(data) {
  const k = (JSON.parse(data).alerts || []).filter((a) => a.name === 'SLAErrorBudgetBurn')
    .map((a) => `${(a.labels || {}).sla}:${a.severity}`).sort().join(',');
  if (k === slaBurns) return;
  slaBurns = k;
  if (!state.route || (state.route.page !== 'overview' && state.route.page !== 'sla')) return;
  if (state.ctrl) state.ctrl.abort();
  state.busy = false;
  refresh();
}

/**
 * bannerDrains are the banner's burn-rate alerts whose errors ended, their
 * drain by alert (alerts.labelKey): the Alerts page's rows say it too
 * (ctx.drains; /api/v1/alerts, Prometheus's, has no such field), redrawn
 * as the stream's alerts change it (followDrains).
 */
let bannerDrains = new Map();
let drainsKey = '';
function followDrains(data) {
  const m = new Map((JSON.parse(data).alerts || []).filter((a) => a.drain).map((a) => [alerts.labelKey(a.labels), a.drain]));
  const k = JSON.stringify([...m].sort());
  if (k === drainsKey) return;
  bannerDrains = m;
  drainsKey = k;
  if (state.page && state.page.redraw) state.page.redraw();
}

/**
 * loadUPlot runs the charting library (preloaded by index.html, not run):
 * after the first refresh has sent its requests, so its set-up is done
 * while gmc answers; api.ready.uplot settles when it has run (or failed:
 * the charts then say so).
 */
function loadUPlot() {
  if (globalThis.uPlot) return Promise.resolve();
  const link = document.getElementById('uplot');
  if (!link) return Promise.resolve();
  return new Promise((resolve) => {
    const s = document.createElement('script');
    s.src = link.href;
    s.onload = resolve;
    s.onerror = resolve;
    add(document.head, s);
  });
}

let stream = null;

/**
 * connectStream opens the event stream (alerts, heartbeat): once the first
 * refresh is drawn, or after STREAM_AFTER ms at most, so its set-up is
 * not in the way of the first figures (the heartbeat's grace covers it).
 */
const STREAM_AFTER = 1000;
function connectStream() {
  if (stream) return;
  stream = openStream((type, data, at) => {
    const el = document.getElementById('banner');
    switch (type) {
      case 'open': el.dataset.stream = 'open'; markUp(at); break;
      case 'ping': el.dataset.ping = data; beat(el); markUp(at); break;
      case 'alerts': showAlerts(data); followBurns(data); followDrains(data); markUp(at); break;
      case 'error': el.dataset.stream = data; heartbeat(); break;
    }
  });
}

window.addEventListener('hashchange', route);
ready.uplot = new Promise((resolve) => {
  // route() starts the first refresh: its requests are sent at the end of
  // this task (api.js batches them in a microtask); the library runs after.
  route();
  setTimeout(() => loadUPlot().then(resolve), 0);
});
setTimeout(connectStream, STREAM_AFTER);
renderConn();
// The heartbeat: no event for PING_GAP is a lost server. A check that
// itself ran late (this tab got no CPU) is skipped: the pings may be
// waiting behind it in the tab's queue.
let lastCheck = Date.now();
setInterval(() => {
  const now = Date.now();
  const late = now - lastCheck > 1000;
  lastCheck = now;
  if (!late && !conn.down && now - conn.heardAt > PING_GAP) markDown();
}, 250);
setInterval(() => { if (conn.down) { heartbeat(); renderConn(); } }, 1000);
