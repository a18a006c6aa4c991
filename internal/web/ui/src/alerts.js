// Alerts page: active alerts (/api/v1/alerts; whether each is silenced or
// inhibited from the Alertmanager-style /api/v2/alerts) grouped as notifications
// group them (alertname and service), filtered by severity, service and
// state, each with how long it has really been firing and its value in its
// unit; silence or acknowledge from the page (POST /api/v2/silences, with
// who and why); the active silences; and the history (/alerts/history).
import {getJSON, NotAvailable} from './api.js';
import {card} from './chart.js';
import {h, fill, add, pill, when, clock, units, unavailable, dur, downLine, showOutages, outagesIn, outageSpan} from './util.js';

export function mount(main, ctx) {
  const filters = h('div', {class: 'filters row'});
  const active = card('Active', {wide: true});
  const sil = card('Silences', {wide: true, note: 'active and pending'});
  const hist = card('History', {note: 'newest first', wide: true});
  const form = h('div', {class: 'silence-form', hidden: true});
  // gmc's own outages within the range, in the Overview's words (util.showOutages).
  const down = downLine();
  add(main, h('div', {class: 'page-head'}, h('h1', {}, 'Alerts')), down, filters, form, active.el, sil.el, hist.el);
  const opt = (p) => p.catch((e) => (e instanceof NotAvailable ? null : Promise.reject(e)));
  const svc = (s, at) => (s ? h('a', {href: ctx.href('service', s) + (at ? '&at=' + Math.round(at) : '')}, s) : '—');
  const f = {severity: '', service: '', state: ''};
  let last = null;

  const select = (key, label, values) => h('label', {class: 'filter'}, label + ' ',
    h('select', {'data-filter': key, onchange: (e) => { f[key] = e.target.value; render(); }},
      h('option', {value: ''}, 'all'), values.map((v) => h('option', {value: v, selected: f[key] === v ? true : null}, v))));

  function render() {
    if (!last) return;
    const {a, hs, rules, silences, am, outages, w} = last;
    const now = Date.now();
    showOutages(down, outages, w, ': it evaluated no alert rule then (an alert\'s state then is not known)');
    if (a == null) fill(active.body, unavailable('Alerts', '/api/v1/alerts'));
    else {
      const episodes = (hs && hs.data.episodes) || [];
      // Episodes open at gmc's stop and neither continued nor ended since
      // its restart: their state is unknown, and they are listed as such
      // (the table said "Nothing is firing. All quiet." while gmc did not
      // know, and only the History had them).
      const alerts = a.data.alerts || [];
      const unknown = episodes.filter((e) => e.state === 'unknown' && !alerts.some((x) => labelKey(x.labels) === labelKey(e.labels)))
        .map((e) => ({state: 'unknown', labels: e.labels || {}, episode: e}));
      const all = [...alerts, ...unknown];
      const vals = (k) => [...new Set(all.map((x) => (k === 'state' ? x.state : x.labels[k])).filter(Boolean))].sort();
      fill(filters, select('severity', 'Severity', vals('severity')), select('service', 'Service', vals('service')), select('state', 'State', vals('state')));
      const shown = all.filter((x) => (!f.severity || x.labels.severity === f.severity) && (!f.service || x.labels.service === f.service) && (!f.state || x.state === f.state));
      const groups = new Map();
      for (const x of shown) {
        const k = `${x.labels.alertname}\u0000${x.labels.service || ''}`;
        if (!groups.has(k)) groups.set(k, []);
        groups.get(k).push(x);
      }
      // A silenced or inhibited alert notifies nobody: shown as suppressed,
      // not counted firing.
      const sup = (x) => (x.state === 'firing' ? suppression(x, am, silences) : null);
      const nSup = all.filter(sup).length;
      active.note.textContent = `${all.filter((x) => x.state === 'firing').length - nSup} firing · ${nSup} suppressed · ${all.filter((x) => x.state === 'pending').length} pending` +
        (unknown.length ? ` · ${unknown.length} unknown (open when gmc stopped, not seen since its restart)` : '') +
        (shown.length !== all.length ? ` · ${shown.length} shown` : '');
      const rows = [];
      for (const [k, xs] of [...groups.entries()].sort()) {
        const [name, service] = k.split('\u0000');
        const matchers = [{name: 'alertname', value: name}, ...(service ? [{name: 'service', value: service}] : [])];
        const silencedBy = silences.filter((s) => s.status.state === 'active' && matches(s.matchers, xs[0].labels));
        rows.push(h('tr', {class: 'group', 'data-group': k},
          // Text wraps so the buttons stay inside the card at 1440 px (they
          // stuck out ~15 px past its edge, t-user4 #8).
          h('td', {colspan: 6, style: {whiteSpace: 'normal'}}, h('strong', {}, name), service ? [' · ', svc(service)] : '', h('span', {class: 'muted'}, ` · ${xs.length} alert${xs.length > 1 ? 's' : ''}`),
            silencedBy.map((s) => h('span', {class: 'silenced', 'data-silence': s.id}, ' ' + silenceText(s)))),
          h('td', {class: 'actions', style: {whiteSpace: 'nowrap'}},
            h('button', {class: 'btn', 'data-action': 'ack', onclick: () => openForm('ack', matchers)}, 'Acknowledge'),
            h('button', {class: 'btn', 'data-action': 'silence', onclick: () => openForm('silence', matchers)}, 'Silence…'))));
        for (const x of xs) {
          if (x.episode) {
            const e = x.episode;
            const unit = unitOf(e, rules.get(x.labels.alertname));
            rows.push(h('tr', {'data-alert': x.labels.alertname, 'data-state': 'unknown'},
              h('td', {}, episodePill(e)),
              h('td', {}, pill(x.labels.severity || 'none', x.labels.severity || '—')),
              h('td', {class: 'muted small', style: {whiteSpace: 'normal'}}, labelText(x.labels)),
              h('td', {class: 'num', 'data-col': 'firing-for'}, episodeFor(e, now, outages)),
              h('td', {class: 'num', 'data-col': 'value', title: 'at its last evaluation before gmc stopped'},
                e.value != null ? unit.fmt(parseFloat(e.value)) : '–', e.unknown ? h('div', {class: 'muted small'}, `at ${clock(e.unknown.since)}`) : null),
              h('td', {class: 'wrap'}, (e.annotations && (e.annotations.summary || e.annotations.description)) || ''),
              h('td', {}, svc(x.labels.service, e.fired_at ? Date.parse(e.fired_at) / 1000 : null))));
            continue;
          }
          const rule = rules.get(x.labels.alertname);
          const ep = openEpisode(x, episodes);
          const fired = firedAt(x, ep, rule);
          const unit = unitOf(x, rule);
          const why = sup(x);
          // Held by keep_firing_for: its condition has not held since
          // keepFiringSince, and its value and summary are of the last
          // evaluation it did (HostCPUHigh read "CPU of vm at 91.2%" with
          // the host at 45 %, t-user23 F1): said beside each.
          const held = x.state === 'firing' && x.keepFiringSince ? heldNote(x, rule) : null;
          // A burn-rate alert whose errors ended: the banner's words (its
          // drain, from the event stream: main.js followDrains).
          const drain = x.state === 'firing' && !held && ctx.drains ? ctx.drains().get(labelKey(x.labels)) : null;
          rows.push(h('tr', {'data-alert': x.labels.alertname, 'data-suppressed': why ? 'true' : null, 'data-held': held ? 'true' : null, 'data-draining': !why && drain ? 'true' : null},
            h('td', {}, why ? [pill('suppressed'), h('div', {class: 'muted small', 'data-col': 'suppressed-by', style: {whiteSpace: 'normal', minWidth: '12em'}}, why)]
              : held ? [pill(x.state), h('div', {class: 'muted small', 'data-col': 'held', style: {whiteSpace: 'normal', minWidth: '12em'}}, held.state)]
                : drain ? [pill(x.state), h('div', {class: 'muted small', 'data-col': 'drain', style: {whiteSpace: 'normal', minWidth: '12em'}}, drainText(drain))] : pill(x.state)),
            h('td', {}, pill(x.labels.severity || 'none', x.labels.severity || '—')),
            h('td', {class: 'muted small', style: {whiteSpace: 'normal'}}, labelText(x.labels)),
            h('td', {class: 'num', 'data-col': 'firing-for', title: fired ? 'firing since ' + when(fired) : ''},
              x.state === 'firing' ? (fired ? activeFor(ep, fired, now, outages) : '–') : `pending ${dur(Math.max(0, now - new Date(x.activeAt)) / 1000)}`),
            h('td', {class: 'num', 'data-col': 'value', title: held ? held.value : null}, unit.fmt(parseFloat(x.value)),
              held ? h('div', {class: 'muted small'}, `before ${clock(Date.parse(x.keepFiringSince))}`) : null),
            h('td', {class: 'wrap'}, (x.annotations && (x.annotations.summary || x.annotations.description)) || '',
              held ? h('div', {class: 'muted small', 'data-col': 'held-summary'}, held.value) : null),
            h('td', {}, svc(x.labels.service, (fired || new Date(x.activeAt)) / 1000))));
        }
      }
      // Each table scrolls within its card (.table-wrap): wider than the
      // card (long services, notes), it ran past the card and the page.
      fill(active.body, h('div', {class: 'table-wrap'}, h('table', {class: 'tbl', 'data-rows': shown.length},
        h('thead', {}, h('tr', {}, ['State', 'Severity', 'Labels', 'Firing for', 'Value', 'Summary', 'Service'].map((t) => h('th', {}, t)))),
        h('tbody', {}, rows.length ? rows : h('tr', {}, h('td', {colspan: 7, class: 'muted'}, all.length ? 'No alert matches the filters.' : 'Nothing is firing. All quiet.'))))));
    }
    fill(sil.body, silences.length ? h('div', {class: 'table-wrap'}, h('table', {class: 'tbl', 'data-rows': silences.length},
      h('thead', {}, h('tr', {}, ['Matchers', 'By', 'Why', 'Until', ''].map((t) => h('th', {}, t)))),
      h('tbody', {}, silences.map((s) => h('tr', {'data-silence': s.id},
        h('td', {}, s.matchers.map((m) => `${m.name}${m.isEqual === false ? '!' : ''}${m.isRegex ? '=~' : '='}"${m.value}"`).join(', ')),
        h('td', {}, s.createdBy), h('td', {}, s.comment), h('td', {}, when(s.endsAt)),
        h('td', {}, h('button', {class: 'btn', onclick: () => expire(s.id)}, 'Expire')))))))
      : h('p', {class: 'muted'}, 'No active silence.'));
    if (hs == null) fill(hist.body, unavailable('Alert history', '/alerts/history'));
    else {
      const eps = hs.data.episodes || [];
      fill(hist.body, h('div', {class: 'table-wrap'}, h('table', {class: 'tbl', 'data-rows': eps.length},
        h('thead', {}, h('tr', {}, ['Alert', 'State', 'Service', 'Active at', 'Fired at', 'Resolved at', 'Firing for', 'Notification'].map((t) => h('th', {}, t)))),
        h('tbody', {}, eps.length ? eps.map((e) => h('tr', {'data-episode': e.state, 'data-episode-alert': e.alertname, 'data-service': e.service || null},
          h('td', {}, e.alertname), h('td', {}, episodePill(e)), h('td', {}, svc(e.service, e.fired_at ? Date.parse(e.fired_at) / 1000 : null)),
          h('td', {}, when(e.active_at)), h('td', {}, when(e.fired_at)), h('td', {}, when(e.resolved_at)),
          h('td', {class: 'num', 'data-col': 'firing-for'}, episodeFor(e, now, outages)),
          h('td', {'data-col': 'notification', style: {whiteSpace: 'normal', minWidth: '12em'}}, episodeNotify(e)))) :
          h('tr', {}, h('td', {colspan: 8, class: 'muted'}, 'No alert in this time range.'))))));
    }
  }

  function openForm(kind, matchers) {
    const who = h('input', {name: 'createdBy', placeholder: 'your name', required: true, value: localStorage.getItem('gmc.user') || ''});
    const why = h('input', {name: 'comment', placeholder: kind === 'ack' ? 'what you are doing about it' : 'why', required: true, size: 40});
    const length = h('select', {name: 'duration'}, ['1h', '2h', '4h', '12h', '24h', '30m'].map((d) => h('option', {value: d}, d)));
    const msg = h('span', {class: 'muted'});
    form.hidden = false;
    fill(form, h('form', {class: 'row', 'data-kind': kind, onsubmit: async (e) => {
      e.preventDefault();
      localStorage.setItem('gmc.user', who.value);
      const hours = {'30m': 0.5, '1h': 1, '2h': 2, '4h': 4, '12h': 12, '24h': 24}[length.value];
      const body = {
        matchers: matchers.map((m) => ({...m, isRegex: false, isEqual: true})),
        startsAt: new Date().toISOString(), endsAt: new Date(Date.now() + hours * 3600e3).toISOString(),
        createdBy: who.value, comment: (kind === 'ack' ? 'ack: ' : '') + why.value,
      };
      try {
        await getJSON('/api/v2/silences', undefined, {method: 'POST', body: JSON.stringify(body), headers: {'Content-Type': 'application/json'}});
        form.hidden = true;
        ctx.refresh();
      } catch (err) { msg.textContent = err.message; }
    }},
    h('strong', {}, kind === 'ack' ? 'Acknowledge ' : 'Silence '), matchers.map((m) => `${m.name}="${m.value}"`).join(', '),
    who, why, h('label', {}, 'for ', length), h('button', {class: 'btn', type: 'submit'}, kind === 'ack' ? 'Acknowledge' : 'Silence'),
    h('button', {class: 'btn', type: 'button', onclick: () => { form.hidden = true; }}, 'Cancel'), msg));
    (who.value ? why : who).focus();
  }

  async function expire(id) {
    const res = await fetch('/api/v2/silence/' + encodeURIComponent(id), {method: 'DELETE'});
    if (!res.ok) active.note.textContent = `expire ${id}: ${res.status}`;
    ctx.refresh();
  }

  return {
    async refresh(w, signal) {
      // The status for gmc's own outages: the notes of an alert it did not
      // evaluate say them as the Overview does.
      const [a, hs, r, s, v2, status] = await Promise.all([opt(getJSON('/api/v1/alerts', signal)), opt(getJSON(`/alerts/history?limit=200&since=${w.start}`, signal)),
        opt(getJSON('/api/v1/rules', signal)), opt(getJSON('/api/v2/silences', signal)), opt(getJSON('/api/v2/alerts', signal)), opt(getJSON('/system/status', signal))]);
      const rules = new Map();
      for (const g of (r && r.data && r.data.groups) || []) for (const x of g.rules || []) if (x.type === 'alerting' || x.name) rules.set(x.name, x);
      const silences = (Array.isArray(s) ? s : []).filter((x) => x.status && x.status.state !== 'expired');
      const am = {byKey: new Map(), byFp: new Map()};
      for (const x of Array.isArray(v2) ? v2 : []) {
        am.byKey.set(labelKey(x.labels), x);
        am.byFp.set(x.fingerprint, x);
      }
      last = {a, hs, rules, silences, am, outages: status ? status.outages : null, w};
      render();
    },
    // The banner's drains changed (main.js followDrains).
    redraw: render,
  };
}

/**
 * drainText says of a firing burn-rate alert whose errors ended (its
 * drain: web.Drain) when they did and by when its short window drains
 * them, in the banner's and the Alerts page's words: the second the end
 * fell in, the whole second after the clearing (as the burn page says it,
 * sla.Drain.Annotate: a page's "clears by 00:51:45" read "by ~00:51:44"
 * here, trial 31 F2).
 */
export const drainText = (d) => `errors ended ${clock(d.errors_ended)}; clears as the ${d.window} window drains (by ~${clock(Math.ceil(Date.parse(d.clears) / 1000) * 1000)})`;

/**
 * firingFor is how long an alert has been firing at now (ms) since fired
 * (ms): the Active table and an open episode of the History say the same
 * (the History's firing_seconds is the server's figure when it answered,
 * seconds older than the page's clock under load). In the one duration
 * rule (util.dur), to the second: it rounded down to the minute ("7m" for
 * 7m40s; rounding up had said 2m for 1m30s, t-user7 #8) while a resolved
 * episode's and a pending one's rounded to the nearest minute (ago), and
 * the notes under it said their spans to the second.
 */
function firingFor(fired, now) {
  return dur(Math.max(0, now - fired) / 1000);
}

/**
 * activeFor is an Active row's firing for: as its open episode's History
 * row says it (the spans gmc did not evaluate it left out, and said), or
 * since fired without one. It counted gmc's own outage as firing: "Firing
 * for 4m" where the History said "2m — not evaluated 2m: gmc was down
 * 07:14:04–07:15:55" (t-user16 F8).
 */
function activeFor(ep, fired, now, outages) {
  if (!ep) return firingFor(fired, now);
  const ns = notes(ep, outages);
  const d = firingFor(fired + downIn(ep, fired, now), now);
  return ns.length ? [d, ...ns] : d;
}

/**
 * episodePill is a History row's state: an episode that went pending and
 * cleared without firing ("inactive" in the API) is "was pending · never
 * fired", amber like pending (it was green, as if resolved); it read
 * "pending · never fired", as if pending still, minutes after it ended
 * (issue 13). Its title says when it ended.
 */
function episodePill(e) {
  if (e.state === 'unknown') return pill('unknown', 'unknown', 'open when gmc stopped, not seen since its restart');
  if (e.state !== 'inactive') return pill(e.state);
  const end = pendingEnd(e);
  return pill('never-fired', 'was pending · never fired', `pending from ${when(e.active_at)}` + (end ? ` until ${when(end)}, then cleared without firing` : ', cleared without firing'));
}

/** pendingEnd is when an episode that never fired stopped pending (ms), or null when not known. */
function pendingEnd(e) {
  const active = Date.parse(e.active_at);
  const end = Date.parse(e.last_change);
  return isFinite(end) && isFinite(active) && end >= active ? end : null;
}

/**
 * episodeNotify says what the notification pipeline did with an episode's
 * alert while it fired (e.notify, from its groups' flushes): "notified"
 * (at the first flush a receiver had been told), or "suppressed · never
 * notified" with what muted it at every flush (inhibited by which alert,
 * silenced by which silence), or "not notified" when some flush found it
 * unmuted yet no receiver was told of it (a delivery failed); "—" when no
 * flush saw it firing: not known. In the History a resolved alert that
 * never paged read like the one that did (t-user17 F5). When a receiver
 * was told it resolved (n.resolved_notified_at) it says when: the row said
 * only when the firing was notified (t-user17b F3).
 */
function episodeNotify(e) {
  const n = e.notify;
  if (!n) {
    return e.fired_at ? h('span', {class: 'muted', 'data-notify': 'unknown',
      title: 'not known: no notification group flushed it firing (no route to a receiver, a mute time interval, or it resolved before its group first flushed)'}, '—') : '';
  }
  const why = [...(n.inhibited_by || []).map((l) => `inhibited by ${l.alertname}${l.service ? ' · ' + l.service : ''}`),
    ...(n.silenced_by || []).map((x) => silenceText({createdBy: x.created_by, comment: x.comment}))];
  const rn = n.resolved_notified_at;
  const sub = (text) => h('div', {class: 'muted small', 'data-col': 'notify-why'}, text + (rn ? `; resolved notified at ${clock(rn)}` : ''));
  const pillRn = (state, text, title) => pill(state, text, [title, rn ? 'a receiver was told it resolved at ' + when(rn) : ''].filter(Boolean).join('; ') || null);
  if (n.notified_at) return h('span', {'data-notify': 'notified'}, pillRn('notified', 'notified', 'a receiver was told at ' + when(n.notified_at)), sub(`at ${clock(n.notified_at)}` + (why.length ? `; muted at times: ${why.join('; ')}` : '')));
  if (!n.unmuted && why.length) return h('span', {'data-notify': 'suppressed'}, pillRn('suppressed', 'suppressed · never notified'), sub(why.join('; ')));
  return h('span', {'data-notify': 'not-notified'}, pillRn('not-notified', 'not notified'), sub(why.length ? `muted at times: ${why.join('; ')}` : rn ? 'no receiver was told of it firing' : 'no receiver was told of this episode'));
}

/**
 * downIn is the time (ms) of an episode's spans not evaluated (gmc down,
 * e.not_evaluated) or not judged (after a restart, e.unjudged) between
 * from and to (ms).
 */
function downIn(e, from, to) {
  let ms = 0;
  for (const sp of [...(e.not_evaluated || []), ...(e.unjudged || [])]) ms += Math.max(0, Math.min(Date.parse(sp.until), to) - Math.max(Date.parse(sp.from), from));
  return ms;
}

/**
 * notes are the lines under an episode's duration saying what gmc did not
 * see of it: when it was down (notEvaluated); after a restart, the
 * evaluations that did not see its alert active while its rule's window
 * was short of data (e.unjudged), before gmc continued or ended it; and,
 * for an episode open at the stop not yet continued nor ended
 * (e.unknown), that its state is unknown since its last evaluation.
 * outages: gmc's own (/system/status), said as the Overview says them.
 */
function notes(e, outages) {
  const out = [];
  const ne = notEvaluated(e, outages);
  if (ne) out.push(ne);
  for (const sp of e.unjudged || []) {
    const sec = Math.max(0, Date.parse(sp.until) - Date.parse(sp.from)) / 1000;
    out.push(h('div', {class: 'muted small', style: NOTE, 'data-unjudged': String(sec)},
      `unknown ${dur(sec)} after gmc's restart, ${clock(sp.from)}–${clock(sp.until)}: not active while its rule's window was short of data`));
  }
  const u = e.unknown;
  if (u) {
    const os = outagesIn(outages, Date.parse(u.since), Date.parse(u.restart));
    out.push(h('div', {class: 'muted small', style: NOTE, 'data-unknown': u.judged_by},
      `unknown since its last evaluation at ${clock(u.since)}: `, os.length ? said(os) : `gmc was down, evaluated it again from ${clock(u.restart)}`,
      `; not seen active since (its rule's window short of data); ended by ${clock(u.judged_by)} unless seen`));
  }
  return out;
}

/** said is outages said in the Overview's words (util.outageText), one after another. */
function said(os) {
  return os.map((o, i) => [i ? ', ' : '', outageSpan(o)]);
}

/** NOTE is the style of the lines under a duration: wrapped, in the cell's width. */
const NOTE = {whiteSpace: 'normal', minWidth: '14em', maxWidth: '24em', marginLeft: 'auto'};

/**
 * notEvaluated says when an episode was not evaluated (gmc down, a
 * restart between): its state then is unknown, not firing (an episode cut
 * by a kill -9 read "firing ~12 m", gmc down 11 m 46 s of it, t-user14
 * F6). Each span is from its alert's last evaluation before gmc stopped
 * to its next after the restart, and the outage within it is said as the
 * Overview says it (gmc's own record, /system/status): "not evaluated
 * 1m21s: last evaluated 10:38:06, next 10:39:27; gmc was down
 * 10:38:07–10:39:26 (1m20s)". It said "gmc was down 10:38:06–10:39:26"
 * (the evaluations) where the Overview said 10:38:07 (the stop), and
 * "1m" for 1m20s (t-user17b F1, F2). Null when it has no such span.
 */
function notEvaluated(e, outages) {
  const sps = e.not_evaluated || [];
  if (!sps.length) return null;
  const sec = sps.reduce((a, sp) => a + Math.max(0, Date.parse(sp.until) - Date.parse(sp.from)), 0) / 1000;
  return h('div', {class: 'muted small', style: NOTE, 'data-not-evaluated': String(sec)}, `not evaluated ${dur(sec)}: `,
    sps.map((sp, i) => {
      const os = outagesIn(outages, Date.parse(sp.from), Date.parse(sp.until));
      return [i ? '; ' : '', `last evaluated ${clock(sp.from)}, next ${clock(sp.until)}`, os.length ? ['; ', said(os)] : ', across gmc\'s restart'];
    }));
}

/**
 * episodeFor is a History row's duration: firing for (to now while it
 * fires; seen firing: the spans not evaluated or not judged left out and
 * said; to its last evaluation while its state is unknown), or how long it
 * is pending, or was and until when ("was pending 40s until 10:02:11 ·
 * never fired": "never fired (pending 40s)" read as pending still).
 */
function episodeFor(e, now, outages) {
  const d = episodeDur(e, now);
  const ns = notes(e, outages);
  return ns.length ? [d, ...ns] : d;
}

function episodeDur(e, now) {
  const active = Date.parse(e.active_at);
  if (e.fired_at && !e.resolved_at && e.state === 'firing') {
    const fired = Date.parse(e.fired_at);
    return firingFor(fired + downIn(e, fired, now), now);
  }
  // An episode whose state is unknown fired until its last evaluation
  // before gmc stopped (firing_seconds ends there).
  if (e.fired_at) return dur(e.firing_seconds);
  if (e.state === 'unknown') return '–';
  if (e.state === 'pending') return `pending ${dur(Math.max(0, now - active) / 1000)}`;
  const end = pendingEnd(e);
  return end != null ? `was pending ${dur((end - active) / 1000)} until ${clock(end)} · never fired` : 'was pending · never fired';
}

/** labelKey identifies a label set whatever its keys' order. */
export function labelKey(labels) {
  return JSON.stringify(Object.entries(labels || {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/**
 * silenceText says who silenced or acknowledged (a silence made by the
 * page's Acknowledge: its comment starts "ack:") and why, in the same
 * words on a group's header and on each of its alerts (the row said
 * "silenced by x: ack: …" under "acknowledged by x: …", t-user4 #8).
 */
export function silenceText(s) {
  const ack = /^ack:/.test(s.comment || '');
  return `${ack ? 'acknowledged' : 'silenced'} by ${s.createdBy}: ${(s.comment || '').replace(/^ack: ?/, '')}`;
}

/**
 * suppression says what keeps a firing alert from notifying, from
 * /api/v2/alerts (status.silencedBy, status.inhibitedBy): "silenced by
 * <who>: <why>", "inhibited by <alertname · service>"; null when nothing
 * does (or the Alertmanager API does not know the alert).
 */
function suppression(x, am, silences) {
  const g = am && am.byKey.get(labelKey(x.labels));
  if (!g || !g.status || g.status.state !== 'suppressed') return null;
  const parts = [];
  for (const id of g.status.silencedBy || []) {
    const s = silences.find((y) => y.id === id);
    parts.push(s ? silenceText(s) : `silenced (${id})`);
  }
  for (const fp of g.status.inhibitedBy || []) {
    const src = am.byFp.get(fp);
    parts.push(src ? `inhibited by ${src.labels.alertname}${src.labels.service ? ' · ' + src.labels.service : ''}` : `inhibited (${fp})`);
  }
  return parts.join('; ') || 'suppressed';
}

/** matches says whether a silence's matchers match an alert's labels. */
function matches(ms, labels) {
  return ms.every((m) => {
    const v = labels[m.name] || '';
    const ok = m.isRegex ? new RegExp('^(?:' + m.value + ')$').test(v) : v === m.value;
    return m.isEqual === false ? !ok : ok;
  });
}

/** openEpisode is a firing alert's open episode in the history, or undefined. */
function openEpisode(x, episodes) {
  const same = (a, b) => Object.keys(a).length === Object.keys(b).length && Object.entries(a).every(([k, v]) => b[k] === v);
  return episodes.find((e) => e.fired_at && !e.resolved_at && same(e.labels || {}, x.labels));
}

/**
 * firedAt is when a firing alert started firing: its open episode in the
 * history (ep), else activeAt plus the rule's "for" (activeAt alone is when
 * it went pending).
 */
function firedAt(x, ep, rule) {
  if (ep) return Date.parse(ep.fired_at);
  if (!x.activeAt) return null;
  return Date.parse(x.activeAt) + 1000 * ((rule && rule.duration) || 0);
}

/**
 * heldNote says of a firing alert that keep_firing_for holds (its
 * condition false since x.keepFiringSince) what its state cell (state)
 * and its value and summary (value) are: held, until when, and as of when.
 */
export function heldNote(x, rule) {
  const since = Date.parse(x.keepFiringSince);
  const keep = rule && rule.keepFiringFor ? rule.keepFiringFor : 0;
  const until = keep ? `, firing until ${clock(since + 1000 * keep)} unless it holds again` : '';
  return {
    state: `held by keep_firing_for${keep ? ` ${dur(keep)}` : ''}: its condition has not held since ${clock(since)}${until}`,
    value: `as of its last evaluation whose condition held, before ${clock(since)}: not the value now`,
  };
}

/**
 * unitOf is the unit of an alert's value, from the rule's "unit" annotation
 * (seconds, ms, us, bytes, percent, ratio, bool, count, or any other word,
 * shown after the number). Without it, a rule whose expression keeps the
 * series equal to a constant (… == 0) has a state for a value, not a
 * measure: up == 0 (TargetDown) reads "down (up = 0)", another the
 * number alone (it read "0 (unit unknown)"); any other value says "unit
 * unknown": the expression's text does not say what the number measures.
 */
export function unitOf(x, rule) {
  const u = ((x.annotations && x.annotations.unit) || '').trim();
  const plain = (suffix) => ({fmt: (v, sig) => (isFinite(v) ? String(+v.toPrecision(Math.max(4, Number.isInteger(sig) && sig <= 15 ? sig : 4))) + suffix : '–'), label: ''});
  const q = (rule && rule.query) || '';
  const state = u === '' && q && q.split(/\n\s*(?:or|unless|and)\s*\n/).every((b) => /==\s*-?[\d.]+\s*$/.test(b.trim()));
  switch (state ? '' : u.toLowerCase()) {
    case '': return !state ? plain(' (unit unknown)')
      : /(^|[^\w:])up\s*[{[)]/.test(q) ? {fmt: (v) => (v === 0 ? 'down (up = 0)' : `up = ${v}`), label: ''} : plain('');
    case 'seconds': case 's': return units.s;
    case 'milliseconds': case 'ms': return {fmt: (v, sig) => units.s.fmt(v / 1e3, sig), label: ''};
    case 'microseconds': case 'us': case 'µs': return units.us;
    case 'bytes': case 'b': return units.bytes;
    case 'percent': case '%': return units.pct;
    case 'ratio': return {fmt: (v, sig) => units.pct.fmt(v * 100, sig), label: ''};
    case 'bool': case 'boolean': return {fmt: (v) => (v === 1 ? 'true' : v === 0 ? 'false' : String(v)), label: ''};
    case 'count': case '1': return plain('');
    case 'per_second': case '/s': return units.rate;
    default: return plain(' ' + u);
  }
}

function labelText(labels) {
  return Object.entries(labels).filter(([k]) => !['alertname', 'severity', 'service'].includes(k)).map(([k, v]) => `${k}=${v}`).join(' ');
}
