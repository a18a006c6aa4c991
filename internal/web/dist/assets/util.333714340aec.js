// Small helpers: DOM building and number formatting with units.

/**
 * h builds an element: h('div', {class: 'x', onclick: f}, child, 'text').
 * Plain loops, no Object.entries or flat(Infinity): a host page's 19
 * legends are some 700 elements built at once when its data come in (19
 * legends of 6 rows, headless Chromium at load ~10: 45–55 → 18–32 ms the
 * first two times, 9–10 → 3–7 ms warm).
 */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  if (attrs) {
    for (const k of Object.keys(attrs)) {
      const v = attrs[k];
      if (v == null || v === false) continue;
      if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
      else if (k === 'style' && typeof v === 'object') Object.assign(el.style, v);
      else el.setAttribute(k, v === true ? '' : String(v));
    }
  }
  appendAll(el, children);
  return el;
}

/** appendAll appends kids to el as h takes them: nested arrays flattened, null and false skipped, other values as text. */
function appendAll(el, kids) {
  for (const c of kids) {
    if (c == null || c === false) continue;
    if (Array.isArray(c)) appendAll(el, c);
    else el.appendChild(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/**
 * fill replaces el's children with kids as h fills an element: nested
 * arrays flattened, null and false skipped (the native
 * Element.replaceChildren writes a null as the text "null": the
 * Benchmarks page and the Trends head of a gmc with no service read
 * "null"), other values as text.
 */
export function fill(el, ...kids) {
  el.replaceChildren(...children(kids));
  return el;
}

/** add appends kids to el as h and fill take them (null and false skipped); returns el. */
export function add(el, ...kids) {
  el.append(...children(kids));
  return el;
}

/** addFirst puts kids before el's children as add does after them; returns el. */
export function addFirst(el, ...kids) {
  el.prepend(...children(kids));
  return el;
}

/**
 * children are kids as nodes and strings: nested arrays flattened, null
 * and false left out. Every child the dashboard inserts goes through it
 * (h, fill, add, addFirst); no module outside util.js calls the native
 * append, prepend or replaceChildren (TestUIChildrenThroughUtil).
 */
function children(kids, out = []) {
  for (const k of kids) {
    if (k == null || k === false) continue;
    if (Array.isArray(k)) children(k, out);
    else out.push(k instanceof Node ? k : String(k));
  }
  return out;
}

/**
 * patch makes el's children read as kids (nodes, as h builds them) by
 * changing only what differs: a child of the same tag keeps its node and
 * gets the new one's attributes and children (recursively), a text node
 * its new text, and only a child of another kind is replaced. A refresh
 * that rebuilt a legend, tile or status line whole every second made the
 * browser restyle and lay out all of it; patched, an unchanged figure
 * costs nothing and a changed one a text update. Event listeners are not
 * compared: patch only what h built without on… handlers.
 */
export function patch(el, kids) {
  const list = children(kids).map((k) => (k instanceof Node ? k : document.createTextNode(k)));
  let i = 0;
  for (const k of list) {
    const o = el.childNodes[i++];
    if (!o) el.append(k);
    else if (!morph(o, k)) el.replaceChild(k, o);
  }
  while (el.childNodes.length > i) el.lastChild.remove();
}

/** morph makes o read as n in place (patch), or says it cannot (another kind of node). */
function morph(o, n) {
  if (o.nodeType !== n.nodeType || o.nodeName !== n.nodeName) return false;
  if (o.nodeType === Node.TEXT_NODE) {
    if (o.nodeValue !== n.nodeValue) o.nodeValue = n.nodeValue;
    return true;
  }
  if (o.nodeType !== Node.ELEMENT_NODE) return false;
  for (const a of n.attributes) if (o.getAttribute(a.name) !== a.value) o.setAttribute(a.name, a.value);
  for (let j = o.attributes.length - 1; j >= 0; j--) {
    const name = o.attributes[j].name;
    if (!n.hasAttribute(name)) o.removeAttribute(name);
  }
  patch(o, [...n.childNodes]);
  return true;
}

/** setText sets an element's text only when it differs (a write of the same text still costs a layout). */
export function setText(el, text) {
  if (el.textContent !== text) el.textContent = text;
}

const SI = [[1e12, 'T'], [1e9, 'G'], [1e6, 'M'], [1e3, 'k']];

function trim(x, digits) {
  const s = x.toFixed(digits);
  return s.includes('.') ? s.replace(/\.?0+$/, '') : s;
}

/**
 * sigOf is a formatter's significant digits: 3, or more where asked
 * (sig, an integer above 3: an axis whose ticks read alike at 3, see
 * tickLabels). Anything else (an index passed by map) is 3.
 */
function sigOf(sig) {
  return Number.isInteger(sig) && sig > 3 && sig <= 15 ? sig : 3;
}

/** num formats with up to 3 significant digits (sig more, see sigOf). */
export function num(v, sig) {
  if (v == null || !isFinite(v)) return '–';
  const n = sigOf(sig);
  const a = Math.abs(v);
  if (a === 0) return '0';
  if (a >= 100) return trim(v, Math.max(0, n - 1 - Math.floor(Math.log10(a))));
  if (a >= 10) return trim(v, n - 2);
  if (a >= 1) return trim(v, n - 1);
  return String(+v.toPrecision(n));
}

/**
 * si formats with k/M/G suffixes (sig: see num). The suffix is the
 * rounded value's: 999.9998 reads "1k", not "1000" (a tier's rate of an
 * exact 1,000/s, off by a millisecond of its 2 h window, read "1000/s"
 * beside raw data's "1k/s").
 */
export function si(v, sig) {
  if (v == null || !isFinite(v)) return '–';
  const r = Number(v.toPrecision(sigOf(sig)));
  for (const [f, s] of SI) if (Math.abs(r) >= f) return num(r / f, sig) + s;
  return num(v, sig);
}

function bytes(v, sig) {
  if (v == null || !isFinite(v)) return '–';
  const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let i = 0;
  let x = Math.abs(v);
  while (x >= 1024 && i < u.length - 1) { x /= 1024; i++; }
  return (v < 0 ? '-' : '') + num(x, sig) + ' ' + u[i];
}

/** micros formats a duration given in µs, switching to ms and s. */
function micros(v, sig) {
  if (v == null || !isFinite(v)) return '–';
  const a = Math.abs(v);
  if (a >= 1e6) return num(v / 1e6, sig) + ' s';
  if (a >= 1e3) return num(v / 1e3, sig) + ' ms';
  if (a >= 1 || a === 0) return num(v, sig) + ' µs';
  return num(v * 1e3, sig) + ' ns';
}

function pct9(v, sig) {
  if (v == null || !isFinite(v)) return '–';
  // sig (see num) adds decimals, as num's (an axis's ticks).
  const d = sigOf(sig) - 3;
  if (v >= 99 && v < 100) return trim(Math.floor(v * 10 ** (3 + d)) / 10 ** (3 + d), 3 + d) + '%';
  // Rounded down, never up to an objective it missed: 98.98% is not "99%".
  if (v >= 90 && v < 99) return trim(Math.floor(v * 10 ** (2 + d)) / 10 ** (2 + d), 2 + d) + '%';
  return num(v, sig) + '%';
}

function seconds(v, sig) {
  if (v == null || !isFinite(v)) return '–';
  return micros(v * 1e6, sig);
}

/**
 * Units: each has a formatter for values and axis ticks and a short label
 * shown as the axis title.
 */
export const units = {
  // Units whose ticks carry their own suffix (µs/ms/s, KiB/MiB, /s) have
  // no axis title: a title "µs" over ticks in ms was wrong.
  us: {fmt: micros, label: ''},
  s: {fmt: seconds, label: ''},
  pct: {fmt: (v, sig) => (v == null || !isFinite(v) ? '–' : num(v, sig) + '%'), label: ''},
  /** pct9 keeps the nines: 99.99% stays 99.99%. */
  pct9: {fmt: pct9, label: ''},
  rate: {fmt: (v, sig) => (v == null || !isFinite(v) ? '–' : si(v, sig) + '/s'), label: ''},
  bytes: {fmt: bytes, label: '', binary: true},
  bps: {fmt: (v, sig) => (v == null || !isFinite(v) ? '–' : bytes(v, sig) + '/s'), label: '', binary: true},
  money: {fmt: (v, sig) => (v == null || !isFinite(v) ? '–' : (v < 0 ? '−' : '') + si(Math.abs(v), sig)), label: 'currency'},
  x: {fmt: (v, sig) => (v == null || !isFinite(v) ? '–' : num(v, sig) + '×'), label: '× budget'},
  count: {fmt: si, label: 'count'},
};

/**
 * capped is unit for a quantile of a classic histogram whose last finite
 * bucket edge is edge (same scale as the values): histogram_quantile answers
 * that edge when the quantile lies in the +Inf bucket, so a value at the
 * edge reads "> edge" (stat: values, legends and tiles; axis ticks keep fmt).
 */
export function capped(unit, edge) {
  if (edge == null || !isFinite(edge)) return unit;
  return {...unit, stat: (v) => (v != null && isFinite(v) && v >= edge * (1 - 1e-9) ? '> ' + unit.fmt(edge) : unit.fmt(v))};
}

/** statOf is a unit's formatter of values (not ticks). */
export function statOf(unit) {
  return unit.stat || unit.fmt;
}

/** benchUnit maps a benchmark unit name (as gmc bench reports it) to units. */
export function benchUnit(u) {
  switch (u) {
    case 'seconds': case 's': case 'sec/op': case 'sec': return units.s;
    case 'ops/s': case 'req/s': case 'per_second': case '/s': return units.rate;
    case 'B/op': case 'bytes': return units.bytes;
    default: return {fmt: (v, sig) => (v == null || !isFinite(v) ? '–' : si(v, sig) + (u ? ' ' + u : '')), label: u || ''};
  }
}

/** ago formats a duration in seconds as "3s", "5m", "2h". */
export function ago(sec) {
  if (sec == null || !isFinite(sec)) return '–';
  if (sec < 60) return Math.round(sec) + 's';
  if (sec < 3600) return Math.round(sec / 60) + 'm';
  if (sec < 86400) return (sec / 3600).toFixed(1).replace(/\.0$/, '') + 'h';
  return (sec / 86400).toFixed(1).replace(/\.0$/, '') + 'd';
}

/** when formats a date as local "YYYY-MM-DD HH:MM:SS". */
export function when(d) {
  if (!d) return '–';
  const t = d instanceof Date ? d : new Date(d);
  if (isNaN(t)) return '–';
  const p = (n) => String(n).padStart(2, '0');
  return `${t.getFullYear()}-${p(t.getMonth() + 1)}-${p(t.getDate())} ${p(t.getHours())}:${p(t.getMinutes())}:${p(t.getSeconds())}`;
}

/** clock formats a time (Date or ms) as local "HH:MM:SS". */
export function clock(d) {
  const t = d instanceof Date ? d : new Date(d);
  if (isNaN(t)) return '–';
  const p = (n) => String(n).padStart(2, '0');
  return `${p(t.getHours())}:${p(t.getMinutes())}:${p(t.getSeconds())}`;
}

/**
 * holdText says why a service's state is unknown (its hold in
 * /system/status): gmc restarted, or its own ingest stalled, less than the
 * service's down_after ago, so a silence may be gmc's; and from when the
 * service is judged again (not while a stall goes on).
 */
export function holdText(hold) {
  if (!hold) return 'not judged';
  const judged = hold.judged_from_ms != null ? `, judged from ${clock(hold.judged_from_ms)}` : '';
  if (hold.cause === 'restart') return `gmc restarted at ${clock(hold.since_ms)}${judged}`;
  if (hold.until_ms == null) return `gmc's ingest stalled since ${clock(hold.since_ms)}`;
  return `gmc's ingest stalled ${clock(hold.since_ms)}–${clock(hold.until_ms)}${judged}`;
}

/**
 * goneText is the state of a service that is not up, for legends and
 * tiles: "down since 12:00:01", or "unknown: gmc restarted at …".
 */
export function goneText(s) {
  if (s.state === 'unknown') return `unknown: ${holdText(s.hold)}`;
  return s.last_seen_ms != null ? `${s.state} since ${clock(s.last_seen_ms)}` : s.state;
}

/** pill renders a state as a coloured badge. */
export function pill(state, text, title) {
  return h('span', {class: 'pill pill-' + String(state || 'unknown').toLowerCase(), title: title || null}, text || state || 'unknown');
}

/** kpi is a headline tile; raw (a number) is kept in data-value for tests and tooling. */
/**
 * KPI_LEAST is the least height (px) a row of tiles adds to a page (app.css
 * .kpi, .kpis: 16 px padding above and below, 1 px borders, the label's
 * 12 px line, 4 px, the value's 22 px line, and the row's 16 px margin).
 */
export const KPI_LEAST = 16 + 16 + 2 + 12 + 4 + 22 + 16;

export function kpi(label, value, tone, sub, raw) {
  return h('div', {class: 'kpi' + (tone ? ' kpi-' + tone : ''), 'data-kpi': label, 'data-value': raw != null && isFinite(raw) ? String(raw) : null},
    h('div', {class: 'kpi-label'}, label), h('div', {class: 'kpi-value'}, value), sub ? h('div', {class: 'kpi-sub', title: sub}, sub) : null);
}

/**
 * dur is the one way the dashboard writes a duration, a window's ("30s",
 * "19m12s", "2h14m24s", as PromQL writes it) or a span of time's in a
 * note ("not evaluated 1m20s", "gmc was down … (1m20s)"): rounded to the
 * second, in days, hours, minutes and seconds, the units that are zero
 * left out; above zero it never reads "0s" ("under 1s"). x is seconds, or
 * a window as "48s". The notes rounded to the minute: the Alerts page said
 * "not evaluated 1m" for the outage the Overview gave as 1m20s, and
 * /sla "only 9m of data" for 8m33s (t-user17b F2); internal/sla's
 * FormatDataSpan and DurationTemplate write the server's texts the same way.
 */
export function dur(x) {
  const s = typeof x === 'string' ? parseFloat(x) * ({ms: 1e-3, s: 1, m: 60, h: 3600, d: 86400}[x.replace(/^[\d.]+/, '')] || 1) : x;
  if (s == null || !isFinite(s)) return '–';
  if (s < 0) return '−' + dur(-s);
  if (s > 0 && s < 0.5) return 'under 1s';
  let left = Math.round(s);
  let out = '';
  for (const [n, u] of [[86400, 'd'], [3600, 'h'], [60, 'm']]) {
    if (left >= n) out += Math.floor(left / n) + u;
    left %= n;
  }
  return left || !out ? out + left + 's' : out;
}

/**
 * outageText says one of gmc's own outages (/system/status's outages, o
 * with f and u its from and until in ms) in words: "gmc was down
 * 10:38:07–10:39:26 (1m20s)" after a clean stop; after a crash (no clean
 * stop recorded) from its last heartbeat, within stopped_within_seconds
 * of which it stopped. long: the times with their day. Every page says an
 * outage in these words (showOutages, the Alerts page's notes).
 */
export function outageText(o, long) {
  const at = (ms) => {
    const d = new Date(ms);
    return (long ? `${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')} ` : '') + clock(d);
  };
  const sec = (o.u - o.f) / 1000;
  const within = o.clean_stop ? 0 : o.stopped_within_seconds || 0;
  return o.clean_stop
    ? `gmc was down ${at(o.f)}–${at(o.u)} (${dur(sec)})`
    : `gmc stopped without a clean shutdown${within ? ` within ${dur(within)}` : ''} after ${at(o.f)} (its last sign of life) and was down until ${at(o.u)} (${within ? `${dur(Math.max(0, sec - within))}–` : 'at most '}${dur(sec)})`;
}

/**
 * outagesIn are gmc's own outages (/system/status's, oldest first) that
 * overlap lo–hi (ms), each with f and u, its from and until in ms.
 */
export function outagesIn(outages, lo, hi) {
  return (outages || []).map((o) => ({...o, f: Date.parse(o.from), u: Date.parse(o.until)}))
    .filter((o) => isFinite(o.f) && isFinite(o.u) && o.u > lo && o.f < hi);
}

/** outageSpan is an outage said (outageText) as an element carrying its times, for tests and tooling. */
export function outageSpan(o, long) {
  return h('span', {'data-outage': '', 'data-from': String(o.f), 'data-until': String(o.u), 'data-clean': String(!!o.clean_stop)}, outageText(o, long));
}

/**
 * downLine is the line a page shows above its charts or tables, saying
 * gmc's own outages within its range (/system/status's outages). The
 * Overview, a service page, the Hosts and a host page, the SLA page and
 * the Alerts page each show one (showOutages).
 */
export function downLine() {
  return h('p', {id: 'gmc-down', class: 'gmc-down muted small', role: 'status', hidden: true});
}

/**
 * showOutages says in el (downLine) the times gmc itself was down within
 * the range (w: from its start, or its axis' start, to its end), as
 * /system/status records them: after a restart the charts dash and break
 * over the hole, truthfully, but nothing said why (t-user16: "nothing on
 * the Overview says in words that gmc was down"). From its stop (its
 * shutdown's start) until it served again (outageText), then tail, what
 * that means on the page (by default, for a page of charts). Hidden when
 * there was none in the range, or gmc records none (null).
 */
export function showOutages(el, outages, w, tail = ': it took in nothing then (a gap in the charts there is gmc\'s)') {
  const lo = (w.from != null ? w.from : w.start) * 1000;
  const hi = w.end * 1000;
  const os = outagesIn(outages, lo, hi);
  el.hidden = !os.length;
  el.dataset.outages = String(os.length);
  if (!os.length) { fill(el); return; }
  const long = hi - lo >= 86400e3;
  const shown = os.slice(-3);
  const parts = [];
  shown.forEach((o, i) => { if (i) parts.push('; '); parts.push(outageSpan(o, long)); });
  patch(el, [...parts, os.length > shown.length ? ` (and ${os.length - shown.length} earlier in this range)` : '', tail]);
}

/** perSec is a rate in its own unit: "12.3k orders/s", "93k messages/s". */
export function perSec(v, what) {
  return units.rate.fmt(v).replace('/s', ' ' + what + '/s');
}

/**
 * rateNoun is what an endpoint's requests are counted in: the endpoint's
 * name made plural when it is a word ("message" → "messages"), else
 * "requests" (an HTTP path such as /v1/orders read "/v1/orderss/s").
 */
export function rateNoun(endpoint) {
  if (!/^[A-Za-z][A-Za-z0-9_-]*$/.test(endpoint)) return 'requests';
  return endpoint.endsWith('s') ? endpoint : endpoint + 's';
}

/** rateLabel is a legend's name for an endpoint's rate line: "messages/s", or "/v1/orders requests/s". */
export function rateLabel(endpoint) {
  const n = rateNoun(endpoint);
  return n === 'requests' ? `${endpoint} requests/s` : n + '/s';
}

/**
 * bar renders a 0..1 fill with a label; tone picks the colour from value
 * unless given ('none' is grey: a figure not judged is no verdict).
 */
export function bar(frac, label, tone) {
  const f = frac == null || !isFinite(frac) ? 0 : Math.max(0, Math.min(1, frac));
  const t = tone || (frac == null ? 'none' : frac < 0.25 ? 'bad' : frac < 0.5 ? 'warn' : 'good');
  return h('div', {class: 'bar bar-' + t, title: label},
    h('div', {class: 'bar-fill', style: {width: (f * 100).toFixed(1) + '%'}}),
    h('span', {class: 'bar-label'}, label));
}

/** esc quotes a string for a PromQL label matcher. */
export function promStr(s) {
  return JSON.stringify(String(s));
}

/** reEsc escapes a string for a PromQL (RE2) regex. */
export function reEsc(s) {
  return String(s).replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * budgetBar shows the budget left; a spent budget reads "exhausted (−x %)".
 * A window not judged (too little data) is grey and says its figure is the
 * window's budget at the rate of the data seen: after a 36 s error burst on
 * a fresh install "exhausted (−10507 %) · 30d" read as the month's budget
 * gone, where the burst spent about 1 % of it (t-user11 #7).
 */
export function budgetBar(b, win, judged = true) {
  const seen = judged ? '' : ' at the rate seen';
  if (b <= 0) return bar(0, `exhausted${seen} (${b < 0 ? '−' + num(-b * 100) : '0'} %)${win ? ' · ' + win : ''}`, judged ? 'bad' : 'none');
  return bar(b, `${pctAcross(b * 100, [25, 50])}% left${seen}${win ? ' · ' + win : ''}`, judged ? null : 'none');
}

/**
 * pctAcross formats a percentage as num does, with more decimals where
 * rounding would carry it across one of the colour thresholds: 49.986
 * reads "49.99", not a "50" in the colour of below 50 (t-user4 #9).
 */
export function pctAcross(p, thresholds) {
  const side = (v) => thresholds.filter((x) => v < x).length;
  let s = num(p);
  for (let d = 2; d <= 6 && side(parseFloat(s)) !== side(p); d++) s = p.toFixed(d);
  return s;
}

/** unavailable is the clean "not available yet" note for a missing endpoint (it answered 404). */
export function unavailable(what, path) {
  return h('div', {class: 'unavailable', 'data-unavailable': path},
    h('strong', {}, `${what} are not available on this server yet.`),
    h('span', {class: 'muted'}, ` ${path} answered 404; this page lights up when it exists.`));
}
