// Overview: every service with health, TPS, p99 latency, error rate, SLA
// achievement and error budget.
import {getJSON, query, queryRange, rangeAt, byLabel, align, instantBy, scalarOf, topEdge, KPI_WINDOW, KPI_SECONDS, NotAvailable, firstMinute, sinceResume, backAt, rateSince, windows, peaks, markStopped, stoppedAt, seriesStarts, runsBegan, markReturns, liveWindow, gapsRead, silencesOf, markSilences, silencesNote} from './api.js';
import {LineChart, Sparks, card, topN, PALETTE} from './chart.js';
import {h, fill, add, units, pill, bar, ago, num, kpi, perSec, rateNoun, budgetBar, capped, statOf, clock, patch, setText, holdText, goneText, dur, downLine, showOutages} from './util.js';
import * as Q from './queries.js';

const TOP = 10;

export function mount(main, ctx) {
  const kpis = h('div', {class: 'kpis'});
  const grid = h('div', {class: 'grid'});
  const tps = card('Orders', {note: 'orders/s by service'});
  const p99 = card('p99 latency', {note: 'by service · log scale'});
  const err = card('Error rate', {note: 'reject + error, by service'});
  add(grid, tps.el, p99.el, err.el);
  const charts = {
    tps: new LineChart(tps.body, {id: 'tps', unit: units.rate, min: 0}),
    // Log scale: a backtester's seconds-long replays beside µs order paths
    // flattened every order service (and its latency incidents) to 0.
    p99: new LineChart(p99.body, {id: 'p99', unit: units.us, log: true}),
    err: new LineChart(err.body, {id: 'errors', unit: units.pct, min: 0}),
  };
  const table = h('div', {class: 'table-wrap'});
  // The rows' sparklines: those on or near the screen with the page, the others when they come near.
  const sparks = new Sparks(table);
  const svcCard = card('Services', {wide: true, note: `figures are now, over ${KPI_WINDOW}; trends over the range`});
  add(svcCard.body, table);
  // Settings gmc.yml changed that a reload could not apply (/system/status's config).
  const pending = h('div', {id: 'config-pending', class: 'config-pending', role: 'status', hidden: true});
  // gmc's own outages within the range, said in words above the charts
  // that break over them (util.showOutages).
  const down = downLine();
  add(main, h('div', {class: 'page-head'}, h('h1', {}, 'Overview')), pending, kpis, down, grid, svcCard.el);

  // gmc's own outages (/system/status), as of the last refresh (sinceResume).
  const known = {};
  // Where the counters of the services with a run of values begun in the
  // charts' matrices begin (api.seriesStarts, by service).
  const starts = seriesStarts();
  const returns = async (ms, w, signal) => {
    const runs = ms.flatMap((m) => runsBegan(m, w)).filter((x) => x.metric.service);
    const names = [...new Set(runs.map((x) => x.metric.service))].sort();
    const st = await starts.tell(runs, names, [Q.overview.counted(names)], w.at, signal);
    return {ms: ms.map((m) => markReturns(m, w, st)), st};
  };
  // The least stale_after (s) of the services up as of the last refresh:
  // their sample gaps are read only over it (api.gapsRead's floor).
  let staleAfter = null;
  return {
    async refresh(w, signal) {
      const K = KPI_WINDOW;
      const inst = (e) => query(e, w.at, signal);
      // Within a minute after gmc served again (resumedAt), the "now"
      // figures over the data present are over the time since (KB): the
      // data before the outage is out of the minute.
      const since = sinceResume(known, w, signal, (KB, resumed) => Promise.all([
        inst(Q.overview.deskBegan(KB, resumed)), inst(Q.overview.deskGrowth(KB)), inst(Q.overview.deskNewest),
        inst(Q.overview.began(KB, resumed)), inst(Q.overview.growth(KB)), inst(Q.overview.newest), inst(Q.overview.reqGrowth(KB)),
      ]));
      const R = Math.max(1, Math.round(w.end - w.start)) + 's';
      // Long ranges: each point's p99 is over its rate window, which
      // averages a short incident away (30d read 5.16 µs beside paged
      // 500 µs incidents); the caption says so and each service page draws
      // the worst short window within each step. The Overview does not: its
      // peak lines (50 services' buckets read from the 1m tier) took 25.9 s
      // at 7d and 47.4 s at 30d against 3.7 and 3.3 s (load 18–27).
      const longRange = peaks(w);
      // Live reads each service's newest sample at each second of its
      // charts' window with them (their cache asks only the new seconds);
      // other ranges the longest silence within the minute (returned).
      const live = liveWindow(w);
      const [status, tpsR, reqR, p99R, errR, slas, ordersNow, reqNow, p99Now, errNow, desk, gws, orderP99Now, edgeR, {resumed, r: [began, growth, newest, beganBy, growthBy, newestBy, reqGrowthBy]}, silence, gaps] = await Promise.all([
        since.status,
        queryRange(Q.overview.orders(w.rw), w, signal),
        queryRange(Q.overview.requests(w.rw), w, signal),
        queryRange(Q.overview.p99(w.rw), w, signal),
        queryRange(Q.overview.errors(w.rw), w, signal),
        getJSON('/sla', signal).then((b) => b.data || [], (e) => (e instanceof NotAvailable ? null : Promise.reject(e))),
        inst(Q.overview.orders(K)), inst(Q.overview.requests(K)), inst(Q.overview.p99(K)), inst(Q.overview.errors(K)),
        inst(Q.overview.deskOrders(K)), inst(Q.overview.gateways), inst(Q.overview.orderP99(K)),
        // The edges of the series seen in the range: a service down now has none now.
        query(`${Q.edges('gmc_order_latency_seconds', '', 'service', R)} or ${Q.edges('gmc_request_latency_seconds', '', 'service', R)}`, w.endsNow ? w.at : w.end, signal),
        since.now,
        live ? queryRange(Q.overview.sampledLive, w, signal) : inst(Q.overview.silence),
        // Each service's silences its rates' points hold in their windows,
        // as its page reads them (api.gapsRead): one query for every
        // service (by service) in the rates' batches; on Live the
        // sampledLive above says them; above 6h the newest points only
        // (api.stepSilences).
        gapsRead(Q.overview.sampleGaps, w, staleAfter, signal),
      ]);
      known.outages = status.outages;
      // Points taken as reaching before the data began (markPartial: no
      // value earlier in the matrix) of a service that had data before:
      // it came back after a silence longer than the matrices reach, and
      // their windows hold that silence (api.markReturns).
      const {ms: [tpsM, reqM, p99M, errM], st: starts0} = await returns([tpsR, reqR, p99R, errR], w, signal);
      // A service whose data "began" at since within the minute (firstMinute)
      // that gmc has samples of from before: it came back then, after a
      // silence longer than returned reads (said as its data beginning).
      const cameBack = (svc, since) => !!starts0 && starts0.series.some((x) => x.metric.service === svc && x.first < since - 1e-3);
      // A p99 at a service's last finite bucket edge lies in +Inf: "> edge".
      const edge = topEdge(edgeR, 'service');
      const p99Fmt = (svc, v) => statOf(capped(units.us, edge.get(svc)))(v);
      const services = status.services || [];
      // A service not up now: its points after its last sample are over
      // windows reaching past it (dashed, out of min and max; api.markStopped).
      const stopped = stoppedAt(services);
      // A service's points whose window holds a silence of its own (no
      // sample for longer than its stale_after) are partial and gap,
      // dashed, as on its page (api.markSilences): a rate over the data
      // around it spread over the whole window reads low (out of min); a
      // quantile or ratio is of less data than its window says.
      const staleOf = new Map(services.filter((s) => s.state === 'up' && s.stale_after_seconds > 0).map((s) => [s.service, s.stale_after_seconds]));
      if (staleOf.size) staleAfter = Math.min(...staleOf.values());
      const oNow = instantBy(ordersNow, 'service');
      // Back within the minute from a silence of its own (longer than its
      // stale_after; not gmc's, which resumed says): the 1m rate spread the
      // seconds since over the minute (the backtester read 3.83k bars/s
      // 12 s after 51 s down, at 20k/s, trial-28 F1). Its rate over the
      // data since, a round later (only then), as its page says it.
      const counting = new Set(tpsM.map((s) => s.metric.service));
      const backBy = resumed == null
        ? await returned(services, silence, live, w, signal, (svc) => !(oNow.has(svc) || counting.has(svc)))
        : new Map();
      // Elsewhere than Live also the silence a service came back from
      // within the minute (backBy), over a 48th of a point's window, as on
      // its page: the gap read does not tell one of up to two grains (150 s
      // at 7d), and the tail's 1m window holding it read low, solid.
      const silences = new Map([...staleOf].map(([svc, stale]) => {
        const b = live ? null : backBy.get(svc);
        const minute = b ? [{from: b.from, until: b.at, share: 1 / 48}] : [];
        return [svc, [...silencesOf(((live ? silence : gaps) || []).filter((x) => x.metric.service === svc), w, stale), ...minute]];
      }));
      const past = (m) => markSilences(markStopped(m, (metric) => stopped.get(metric.service)), w, (metric) => silences.get(metric.service));
      const T = byLabel(past(tpsM), w, 'service');
      const P = byLabel(past(p99M), w, 'service');
      const E = byLabel(past(errM), w, 'service');
      // Each point (and the legends' last) is over the range's rate window; the tiles and the table over KPI_WINDOW.
      for (const c of Object.values(charts)) c.window = windows(w);
      charts.p99.peak = longRange ? 'a short incident averages away over a point\'s window: each service\'s page shows the worst window within each step' : null;
      // The same for the error rate: a one-minute burst is 1/134 of a 7d
      // point's window (each service's page draws its worst window).
      charts.err.peak = longRange ? 'a short burst of errors averages away over a point\'s window: each service\'s page shows the worst window within each step' : null;
      // A service down now: its legends' last says so (a 1m window still
      // held its figures from before it stopped).
      const goneBy = new Map(services.filter((s) => s.state !== 'up' && s.state !== 'pushed')
        .map((s) => [s.service, goneText(s)]));
      // Above 6h only its newest points are marked for silences: said (api.silencesNote).
      plot(charts.tps, tps, T, null, goneBy, silencesNote(w));
      plot(charts.p99, p99, P, (svc) => (v) => p99Fmt(svc, v), goneBy, ' · log scale');
      plot(charts.err, err, E, null, goneBy);

      // Each service's requests in its own unit: the endpoint with the most traffic.
      const reqNowBy = new Map();
      for (const s of reqNow) {
        const v = parseFloat(s.value[1]);
        const cur = reqNowBy.get(s.metric.service);
        if (isFinite(v) && (!cur || v > cur.v)) reqNowBy.set(s.metric.service, {v, endpoint: s.metric.endpoint || 'request', s});
      }
      const reqA = align(past(reqM), w);
      const reqSeries = new Map();
      reqM.forEach((s, i) => { if ((reqNowBy.get(s.metric.service) || {}).endpoint === (s.metric.endpoint || 'request')) reqSeries.set(s.metric.service, reqA.ys[i]); });
      // A service in the first minute of its orders: its orders/s over
      // the data present, its window said (api.firstMinute, by service).
      const one = (r, svc) => r.filter((x) => x.metric.service === svc);
      const fmBy = new Map();
      for (const x of beganBy) {
        const svc = x.metric.service;
        // A service that counts no orders (reqNow has only those): its
        // busiest endpoint's requests.
        const rq = reqNowBy.get(svc);
        const f = rq
          ? firstMinute([rq.s], [x], one(reqGrowthBy, svc).filter((g) => (g.metric.endpoint || 'request') === rq.endpoint), one(newestBy, svc))
          : firstMinute(one(ordersNow, svc), [x], one(growthBy, svc), one(newestBy, svc));
        if (f) fmBy.set(svc, {...f, resumed, back: resumed == null && cameBack(svc, f.since)});
      }
      const pNow = instantBy(p99Now, 'service');
      const eNow = instantBy(errNow, 'service');

      const slaBySvc = slaSummary(slas);
      const up = services.filter((s) => s.state === 'up').length;
      // Pushgateway groups are not judged by down_after (state pushed).
      const pushed = services.filter((s) => s.state === 'pushed').length;
      // Nor is a service whose silence gmc cannot judge now (state
      // unknown: gmc restarted or its ingest stalled within its down_after).
      const unknown = services.filter((s) => s.state === 'unknown');
      const judged = services.length - pushed - unknown.length;
      const deskV = scalarOf(desk);
      const gwNames = gws.map((s) => s.metric.service).filter(Boolean).sort();
      // Worst p99 among the services that handle orders (a backtester's
      // day replay takes seconds by design); request latency only when no
      // service reports order latency. Down or stale services have no "now";
      // a Pushgateway group's is its last push (its rates end with it).
      const upNow = new Set(services.filter((s) => s.state === 'up' || s.state === 'pushed').map((s) => s.service));
      const oP = [...instantBy(orderP99Now, 'service')].filter(([s]) => upNow.has(s));
      const ranked = (oP.length ? oP : [...pNow].filter(([s]) => upNow.has(s))).sort((a, b) => b[1] - a[1]);
      const worstP99 = ranked.length ? ranked[0][1] : -Infinity;
      const worstWhat = ranked.length ? `${oP.length ? 'order' : 'request'} latency at ${ranked[0][0]}, now, over ${K}` : `now, over ${K}`;
      // Patched, not rebuilt (util.patch): on Live this runs every second.
      showConfig(pending, status.config);
      showOutages(down, status.outages, w);
      patch(kpis, [
        kpi('Services up', `${up} / ${judged}`, up === judged ? (unknown.length ? null : 'good') : 'warn', [
          unknown.length ? `+ ${unknown.length} unknown (${holdText(unknown[0].hold)})` : null,
          pushed ? `+ ${pushed} Pushgateway group${pushed === 1 ? '' : 's'}, not judged` : null].filter(Boolean).join(' · ') || null),
        deskTile(gws, gwNames, deskV, services, deskCov(firstMinute(desk, began, growth, newest), gwNames, cameBack), resumed, deskBack(gwNames, backBy, oNow, w.at)),
        kpi('Worst p99', isFinite(worstP99) ? p99Fmt(ranked[0][0], worstP99) : '–', worstP99 > 1000 ? 'bad' : null, worstWhat, worstP99),
        // Over the server's last minute of readings (its window said).
        kpi('Ingest', status.ingest ? perSec(status.ingest.samples_per_second, 'samples') : '–', null,
          status.ingest && status.ingest.window_seconds ? `over the last ${dur(Math.round(status.ingest.window_seconds))}` : null),
        slaKpi(slas),
      ]);

      const rows = services.map((s) => {
        const name = s.service;
        const hasOrders = oNow.has(name) || T.m.has(name);
        const rq = reqNowBy.get(name);
        // A service that is not up has no "now": its 1m rates would be the
        // ones from before it stopped.
        const gone = s.state !== 'up' && s.state !== 'pushed' ? h('span', {class: 'muted', 'data-gone': s.state}, s.state === 'down' || s.state === 'unknown' ? s.state : 'stale') : null;
        const seen = s.age_seconds != null ? ago(s.age_seconds) + ' ago' : s.state === 'up' ? `< ${ago(s.stale_after_seconds)} ago` : '';
        const fm = fmBy.get(name);
        const over = (noun) => [perSec(fm.rate, noun), h('span', {class: 'muted small', 'data-window': String(Math.round(fm.seconds)), title: fm.resumed != null ? `gmc was down until ${clock(fm.resumed * 1000)}: its data since began at ${clock(fm.since * 1000)}`
          : fm.back ? `back at ${clock(fm.since * 1000)} (gmc has its samples from before: a silence)` : `its data began at ${clock(fm.since * 1000)}`, 'data-back': fm.back ? '' : null}, ` over ${dur(Math.round(fm.seconds))}`)];
        const bk = backBy.get(name);
        const rateTxt = gone ? gone.cloneNode(true) : bk ? backCell(bk, hasOrders ? () => 'orders' : (ep) => rateNoun(ep ?? (rq ? rq.endpoint : 'request')),
          hasOrders ? oNow.get(name) : rq && rq.v, w.at)
          : hasOrders && fm ? over('orders')
          : hasOrders ? perSec(oNow.get(name) ?? 0, 'orders') : rq && fm ? over(rateNoun(rq.endpoint)) : rq ? perSec(rq.v, rateNoun(rq.endpoint)) : '–';
        const ty = hasOrders ? T.m.get(name) || [] : reqSeries.get(name) || [];
        const py = P.m.get(name) || [];
        const sl = slaBySvc.get(name);
        return h('tr', {'data-service': name},
          h('td', {}, h('a', {href: ctx.href('service', name)}, name)),
          // Unknown: why, and its last sample (true, but not judged).
          // (On a line of its own that wraps: on one line it made the table
          // 1601 px wide at 1440, TestBrowserNothingCutOff.)
          h('td', {'data-col': 'health', 'data-hold': s.hold ? s.hold.cause : null, title: s.reason || null}, pill(s.state),
            s.state === 'unknown' ? h('div', {class: 'cell-note hold-note'}, holdText(s.hold), seen ? ` · last sample ${seen}` : '')
              : h('span', {class: 'muted small'}, ' ', seen)),
          h('td', {class: 'num', 'data-col': 'rate'}, rateTxt), sparks.cell(ty, PALETTE[0]),
          h('td', {class: 'num', 'data-col': 'p99'}, gone ? gone.cloneNode(true) : p99Fmt(name, pNow.get(name))), sparks.cell(py, PALETTE[1]),
          h('td', {class: 'num', 'data-col': 'errors'}, gone ? gone.cloneNode(true) : hasOrders ? units.pct.fmt(eNow.get(name)) : '–'),
          // The bars say the figure and its window; a window not judged
          // says so, with why, on a line of its own (a bar cut it off).
          h('td', {'data-col': 'sla'}, sl && sl.ach != null
            ? [bar(sl.ach >= sl.objective ? 1 : Math.max(0.05, 1 - (sl.objective - sl.ach) / (100 - sl.objective)), `${sl.names.length > 1 ? sl.name + ': ' : ''}${units.pct9.fmt(sl.ach)} / ${units.pct9.fmt(sl.objective)} · ${sl.window}`, !sl.judged ? 'none' : sl.ach >= sl.objective ? 'good' : 'bad'),
              sl.judged ? null : h('div', {class: 'cell-note', 'data-not-judged': ''}, `not judged: ${sl.note}`)]
            : h('span', {class: 'muted'}, sl ? 'no data' : slas == null ? 'n/a' : '—')),
          h('td', {'data-col': 'budget'}, sl && sl.budget != null
            ? [budgetBar(sl.budget, sl.window, sl.judged), sl.judged ? null : h('div', {class: 'cell-note', 'data-not-judged': ''}, `not judged: ${sl.note}`)]
            : h('span', {class: 'muted'}, '—')));
      });
      patch(table, [h('table', {class: 'tbl', 'data-rows': rows.length},
        h('thead', {}, h('tr', {}, ['Service', 'Health', 'Rate (own unit)', '', 'p99', '', 'Errors', 'SLA achievement', 'Error budget'].map((t) => h('th', {}, t)))),
        h('tbody', {}, rows.length ? rows : h('tr', {}, h('td', {colspan: 9, class: 'muted'}, 'No service has sent data yet.'))))]);
      sparks.show(table);
    },
    destroy() {
      Object.values(charts).forEach((c) => c.destroy());
      sparks.destroy();
    },
  };
}

/**
 * returned are the services back within KPI_WINDOW from a silence of
 * their own (api.backAt: longer than their stale_after) among the up ones,
 * each with its rate over the data since ({at, from} and since:
 * api.rateSince from its first sample since). silence is each service's
 * newest sample at each second of Live's window (a matrix,
 * queries.overview.sampledLive), or on other ranges its longest silence
 * in the minute (a vector, .silence): those longer than their stale_after
 * are read to the second (sampledOf), a round later. reqs(service): it
 * counts requests, not orders. Services that came back cost one round
 * (Live) or two more, a request each: all their reads of a round are
 * sent in one tick at one time, so api.query batches them (the three
 * reads of two services since, six parts of one request); none, nothing.
 */
async function returned(services, silence, live, w, signal, reqs) {
  const h = new Map(services.filter((s) => s.state === 'up').map((s) => [s.service, s.stale_after_seconds]));
  const of = (svc) => silence.filter((x) => x.metric.service === svc);
  const backs = new Map();
  if (live) {
    for (const [svc, stale] of h) {
      const b = backAt(of(svc), w.at, stale);
      if (b) backs.set(svc, b);
    }
  } else {
    const cand = silence.filter((x) => h.has(x.metric.service) && parseFloat(x.value[1]) > h.get(x.metric.service)).map((x) => x.metric.service);
    const rs = await Promise.all(cand.map((svc) => rangeAt(Q.overview.sampledOf(svc), w.at - KPI_SECONDS + 1, w.at, 1, signal)));
    cand.forEach((svc, i) => {
      const b = backAt(rs[i], w.at, h.get(svc));
      if (b) backs.set(svc, b);
    });
  }
  if (!backs.size) return backs;
  // From just before its first sample since: the sample before the
  // silence is out of the window.
  await Promise.all([...backs].map(async ([svc, b]) => {
    const q = Q.overview.back(svc, Math.round((w.at - b.at + 0.5) * 1000) + 'ms', reqs(svc));
    const [g, first, n] = await Promise.all([q.growth, q.began, q.newest].map((e) => query(e, w.at, signal)));
    b.since = rateSince(g, scalarOf(first), n, w.at);
  }));
  return backs;
}

/** backText says when a service came back and after how long (as its page says it). */
const backText = (b) => `back at ${clock(b.at * 1000)} after ${dur(b.at - b.from)} without samples`;

/**
 * backCell is a returned service's rate (returned's b) in the Services
 * table: over the data since, its window said; with one sample since, the
 * 1m rate (v1m) and how much of the minute was silent; a counter reset
 * since, not known. noun(endpoint) is its unit.
 */
function backCell(b, noun, v1m, at) {
  const note = (txt) => h('span', {class: 'muted small', 'data-back': String(b.at), 'data-window': b.since.rate != null ? String(Math.round(b.since.seconds)) : null}, txt);
  if (b.since.rate != null) return [perSec(b.since.rate, noun(b.since.endpoint)), note(` over ${dur(Math.round(b.since.seconds))} · ${backText(b)}`)];
  if (b.since.one && v1m != null) return [perSec(v1m, noun()), note(` over ${KPI_WINDOW}, ${dur(b.at - Math.max(b.from, at - KPI_SECONDS))} of it silent · ${backText(b)}`)];
  return [h('span', {class: 'muted'}, 'not known'), note(` · ${backText(b)}${b.since.reset ? '; its counter reset since' : ''}`)];
}

/**
 * deskBack is the Desk tile's orders/s when an entry service came back
 * within the minute (returned's backs): each returned one's over the data
 * since, the others' over KPI_WINDOW (oNow), summed; {unknown: why} when a
 * returned one's is not known; null when none returned.
 */
export function deskBack(gwNames, backs, oNow, at) {
  const bs = gwNames.filter((n) => backs.has(n)).map((n) => [n, backs.get(n)]);
  if (!bs.length) return null;
  const lost = bs.filter(([, b]) => b.since.rate == null);
  if (lost.length) {
    return {unknown: lost.map(([n, b]) => `entry service ${n} ${backText(b)}: ` +
      (b.since.reset ? 'its counter reset since' : `one sample since (its ${KPI_WINDOW} rate holds ${dur(b.at - Math.max(b.from, at - KPI_SECONDS))} of silence)`)).join('; ')};
  }
  const others = gwNames.filter((n) => !backs.has(n));
  const rate = bs.reduce((a, [, b]) => a + b.since.rate, 0) + others.reduce((a, n) => a + (oNow.get(n) ?? 0), 0);
  const seconds = Math.min(...bs.map(([, b]) => b.since.seconds));
  const says = bs.map(([n, b]) => `${bs.length > 1 || others.length ? n + ' ' : ''}${backText(b)}`).join('; ');
  return {rate, seconds, text: `over the last ${dur(Math.round(seconds))}: ${says}${others.length ? `; ${others.join(', ')} over ${KPI_WINDOW}` : ''}`};
}

/**
 * deskCov is the Desk tile's first minute (api.firstMinute: its entry
 * services' orders began within it) with back set when gmc has samples
 * of an entry service (gwNames) from before it began (cameBack): they came
 * back then.
 */
function deskCov(cov, gwNames, cameBack) {
  return cov && gwNames.some((g) => cameBack(g, cov.since)) ? {...cov, back: true} : cov;
}

/**
 * deskTile is the "Desk orders" tile: the orders/s at the entry services,
 * or, when one of them is down or stale, a plain "unknown" naming it and
 * since when it is silent (its last sample): a stale or zero rate would
 * read as a quiet market. cov (api.firstMinute): in the first minute of the
 * entry services' data the 1m rate spread the orders of the seconds it
 * held over the whole minute (1.42k/s at 3k/s, t-user10 #1); the tile
 * then reads the orders from the first sample to the newest over the
 * time between them, and says its window, as the Ingest tile does; the
 * same within a minute after gmc's own outage (resumed: when it served
 * again, api.resumedAt), over the data since. back (deskBack): an entry
 * service came back within the minute from a silence of its own; its
 * orders/s over the data since, and when it came back.
 */
export function deskTile(gws, gwNames, deskV, services, cov = null, resumed = null, back = null) {
  if (!gwNames.length) return kpi('Desk orders', 'unknown', null, 'no service sets stage="entry" or is named like a gateway');
  const byName = new Map(services.map((s) => [s.service, s]));
  const gone = gwNames.map((n) => byName.get(n)).filter((s) => s && s.state !== 'up' && s.state !== 'pushed');
  if (gone.length) {
    const why = gone.map((s) => `entry service ${s.service} ` + (s.state === 'unknown' ? goneText(s)
      : `${s.state} ` + (s.last_seen_ms != null ? `since ${clock(s.last_seen_ms)}` : `(no data in the last hour)`)));
    const t = kpi('Desk orders', 'unknown', gone.some((s) => s.state !== 'unknown') ? 'bad' : null,
      why.join('; ') + (gone.length < gwNames.length ? ` (of ${gwNames.length} entry services)` : ''));
    t.dataset.unknown = gone.map((s) => s.service).join(',');
    return t;
  }
  const where = `counted once, at ${gwNames.join(', ')}${gws.some((g) => g.metric.by === 'name') ? ' (by name: no service sets stage="entry")' : ' (stage="entry")'}`;
  // An entry service back from its own silence within the minute (deskBack).
  if (back && back.unknown) {
    const t = kpi('Desk orders', 'unknown', null, `${back.unknown} · ${where}`);
    t.dataset.unknown = 'back';
    return t;
  }
  if (back) {
    const t = kpi('Desk orders', perSec(back.rate, 'orders'), null, `${back.text} · ${where}`, back.rate);
    t.dataset.window = String(Math.round(back.seconds));
    t.dataset.back = '';
    return t;
  }
  if (cov) {
    const v = cov.rate;
    const t = kpi('Desk orders', perSec(v, 'orders'), null,
      `over the last ${dur(Math.round(cov.seconds))}: ${resumed != null ? `gmc was down until ${clock(resumed * 1000)}`
        : cov.back ? `back at ${clock(cov.since * 1000)} (gmc has its samples from before: a silence)` : `the data began at ${clock(cov.since * 1000)}`} · ${where}`, v);
    t.dataset.window = String(Math.round(cov.seconds));
    return t;
  }
  return kpi('Desk orders', perSec(deskV ?? 0, 'orders'), null, where, deskV);
}

/**
 * slaKpi counts the SLAs met among those judged over the window the
 * Services table shows for each (its longest with data, see slaSummary);
 * one not judged there (too little data: its 30d window after 7 days) is
 * said apart with its window, never counted ok ("2 / 2 ok" stood beside
 * cells saying "not judged · 30d", t-user5). A violated SLA is judged
 * whatever its longest window. SLAs burning their budget are the
 * headline, each named with how hard (it read "0 / 2 ok · 1 not judged"
 * while order-success burned at page level, t-user4 #7). Burning is the
 * SLAErrorBudgetBurn alert's (short windows); achievement is the windows':
 * two facts, on two lines ("1 burning · none judged · order-success
 * burning (page) · 2 not judged: …" read as if the burning SLA were not
 * judged, t-user6 #3).
 */
export function slaKpi(slas) {
  if (slas == null) return kpi('SLAs', 'not available');
  const shown = (s) => (s.windows || []).filter((x) => x.achievement != null).pop();
  const judged = slas.filter((s) => s.state === 'violated' || (shown(s) && shown(s).met != null));
  const nj = slas.filter((s) => !judged.includes(s));
  const burning = slas.filter((s) => s.state === 'burning' || s.burning);
  const tone = slas.some((s) => s.state === 'violated' || s.burning === 'page') ? 'bad' : nj.length || burning.length ? 'warn' : null;
  const ok = judged.length ? `${judged.filter((s) => s.state === 'ok').length} / ${judged.length} ok` : 'none judged';
  const why = [...new Set(nj.map((s) => (shown(s) ? `too little data in ${shown(s).window}` : 'no data')))].join(', ');
  // A violated SLA is named with the windows it misses: the Services row
  // shows one window (the longest with data), and "0 / 1 ok" in red beside
  // a met 30d said nothing of the 1d window that missed (t-user12 F9).
  const missed = judged.filter((s) => s.state === 'violated').map((s) => {
    const ws = (s.windows || []).filter((x) => x.met === false && x.achievement != null)
      .map((x) => `${x.window} ${units.pct9.fmt(x.achievement)} < ${units.pct9.fmt(s.objective)}`);
    return `${s.name} violated` + (ws.length ? ` (${ws.join(', ')})` : '');
  }).join('; ');
  if (!burning.length) {
    const sub = [missed, nj.length ? `${nj.length} not judged: ${why}` : ''].filter(Boolean).join(' · ');
    const t = kpi('SLAs', ok, tone, sub || null);
    return mark(t, burning, judged, nj);
  }
  // Burning: the burn on one line, the achievement on the next. A burning
  // SLA's achievement is met or missed by its window like any other
  // (state "burning" hides which: its shown window's met says).
  const met = judged.filter((s) => s.state === 'ok' || (s.state === 'burning' && shown(s) && shown(s).met === true)).length;
  const ach = !judged.length ? `achievement: ${slas.length === 1 ? 'not judged yet' : `none of the ${slas.length} judged yet`} (${why})`
    : `achievement: ${met} / ${judged.length} met` + (missed ? ` (${missed})` : '') + (nj.length ? `, ${nj.length} not judged yet (${why})` : '');
  const burn = 'budget: ' + burning.map((s) => `${s.name} burning${s.burning ? ` (${s.burning})` : ''}`).join(', ');
  const t = kpi('SLAs', `${burning.length} burning`, tone, `${burn} · ${ach}`);
  fill(t.querySelector('.kpi-sub'), h('div', {'data-line': 'burn'}, burn), h('div', {'data-line': 'achievement'}, ach));
  return mark(t, burning, judged, nj);
}

function mark(t, burning, judged, nj) {
  t.dataset.burning = String(burning.length);
  t.dataset.judged = String(judged.length);
  t.dataset.notJudged = String(nj.length);
  return t;
}

/**
 * slaSummary picks, per service, its worst SLA on one window — the longest
 * window with data — and reports that window's achievement and budget
 * together (never the achievement of one window beside another's budget).
 * The worst is the judged one with the least error budget left: by the
 * lowest achievement, a 99 % SLA at 99.5 % (50 % left) hid a 99.99 % one
 * at 99.95 % burning (−398 %) on the same service (t-user14b F10). With
 * more than one SLA the cell names the one it shows.
 */
export function slaSummary(slas) {
  const m = new Map();
  // Judged before not judged, then the least budget left (null last).
  const rank = (c) => [c.judged ? 0 : 1, c.budget == null ? Infinity : c.budget];
  const worse = (a, b) => { const x = rank(a), y = rank(b); return x[0] !== y[0] ? x[0] < y[0] : x[1] < y[1]; };
  for (const s of slas || []) {
    const ws = (s.windows || []).filter((x) => x.achievement != null);
    const longest = ws[ws.length - 1];
    const cur = m.get(s.service) || {ach: null, budget: null, objective: s.objective, window: null, names: []};
    cur.names.push(s.name);
    if (longest) {
      const cand = {ach: longest.achievement, objective: s.objective, window: longest.window, budget: longest.error_budget_left,
        // A window with too little data is shown, never judged (met null).
        judged: longest.met != null, name: s.name,
        note: longest.coverage != null ? `${num(longest.coverage * 100)} % covered` : 'too little data'};
      if (cur.ach == null || worse(cand, cur)) Object.assign(cur, cand);
    }
    m.set(s.service, cur);
  }
  return m;
}


/** lastWhole is the newest value of y not over a partial window (y.partial), as the legend's last. */
function lastWhole(y) {
  for (let i = y.length - 1; i >= 0; i--) if (y[i] != null && !(y.partial && y.partial.has(i))) return y[i];
  return null;
}

/**
 * plot draws one line per service; stat(service), when given, is that
 * line's formatter of values; gone, the legend's last of a service down now.
 */
function plot(chart, c, S, stat, gone, suffix = '') {
  const series = [...S.m.entries()].map(([label, data]) => ({label: label || '(none)', data, stat: stat ? stat(label) : undefined, gone: (gone && gone.get(label)) || null}));
  // Ranked by the legend's own last: the newest whole point (a point over
  // a partial window is left out of the legend; ranked by it, a service
  // begun seconds ago took a line whose legend read "–").
  const shown = topN(series, TOP, lastWhole).sort((a, b) => a.label.localeCompare(b.label));
  setText(c.note, (series.length > TOP ? `top ${TOP} of ${series.length} services by their last · +${series.length - TOP} more not drawn (the table lists every service)`
    : `${series.length} service${series.length === 1 ? '' : 's'}`) + suffix);
  chart.update(S.xs, shown);
}

/**
 * showConfig says in el what the last reload of gmc.yml left
 * (/system/status's config): the settings the file changes that only a
 * restart puts in force, each with why, and a reload that failed (nothing
 * changed). Hidden when gmc runs what the file says.
 */
export function showConfig(el, c) {
  const pend = (c && c.pending_restart) || [];
  const failed = c && c.last_reload_error;
  el.hidden = !pend.length && !failed;
  if (el.hidden) { fill(el); return; }
  const why = c.why || {};
  const one = pend.length === 1;
  fill(el,
    failed ? h('p', {class: 'config-failed'}, h('strong', {}, 'The last reload of gmc.yml failed; nothing changed: '), failed) : null,
    pend.length ? [
      h('p', {}, h('strong', {}, `Restart needed: ${pend.length} setting${one ? '' : 's'} in gmc.yml differ${one ? 's' : ''} from what gmc runs`),
        ` (a reload${c.last_reload ? ' at ' + clock(c.last_reload) : ''} could not apply ${one ? 'it' : 'them'}; gmc runs the old value${one ? '' : 's'} until it restarts):`),
      h('ul', {}, pend.map((k) => h('li', {'data-setting': k}, h('code', {}, k), why[k] ? ` — ${why[k]}` : null)))] : null);
}
