// Service page: latency percentiles and heatmap, TPS, and the CPU, memory,
// disk and network of its processes and hosts.
import {query, queryRange, labelValues, seriesStarts, align, grid, lines, scalarOf, topEdge, KPI_WINDOW, windows, peaks, peakWindow, peakLookback, markStopped, markSilences, runsBegan, markReturns, stoppedAt, firstMinute, sinceResume, hostsStopped, backAt, KPI_SECONDS, rangeAt, liveWindow, gapsRead, silencesOf, sampledSilences, silencesNote} from './api.js';
import {LineChart, HeatmapChart, panel, card, PALETTE} from './chart.js';
import {h, add, units, pill, ago, num, reEsc, kpi, perSec, rateNoun, rateLabel, capped, statOf, clock, when, patch, setText, holdText, goneText, dur, downLine, showOutages} from './util.js';
import * as Q from './queries.js';

/**
 * EARLIER_TTL is how long (ms) gmc's answer to where the heatmap's series
 * begin (api.seriesStart: "is there data before its first column with
 * data?") holds (data written late may change it); EARLIER_AHEAD, how
 * long before it runs out a refresh asks it again with its first round.
 */
const EARLIER_TTL = 60e3;
const EARLIER_AHEAD = 10e3;

/** HOSTS_EVERY is how often (ms) a service page looks its hosts up again. */
const HOSTS_EVERY = 30e3;

/**
 * OTHER_HOSTS is how many hosts other than its own a service page's host
 * queries may read beyond its first refresh (see refresh).
 */
const OTHER_HOSTS = 2;

export function mount(main, ctx) {
  const name = ctx.arg;
  const head = h('div', {class: 'page-head'}, h('h1', {}, name || 'Service'));
  const kpis = h('div', {class: 'kpis'});
  const grid = h('div', {class: 'grid'});
  const hostHead = h('h2', {class: 'section'}, 'Hosts');
  const hostGrid = h('div', {class: 'grid'});
  const P = {
    lat: panel(grid, 'Latency', 'p50 · p90 · p99', LineChart, {id: 'latency', unit: units.us, bands: [[3, 1]], min: 0}),
    heat: panel(grid, 'Latency distribution', 'histogram heatmap', HeatmapChart, {id: 'heatmap'}),
    tps: panel(grid, 'Orders', 'orders/s by result', LineChart, {id: 'tps', unit: units.rate, min: 0}),
    err: panel(grid, 'Error rate', 'reject + error, % of orders', LineChart, {id: 'error-rate', unit: units.pct, min: 0}),
    req: panel(grid, 'Requests', 'per second, by endpoint (in its own unit)', LineChart, {id: 'requests', unit: units.rate, min: 0}),
    reqLat: panel(grid, 'Request latency', 'p99 by endpoint', LineChart, {id: 'request-latency', unit: units.us, min: 0}),
    feedLat: panel(grid, 'Feed latency', 'p99, due → applied', LineChart, {id: 'feed-latency', unit: units.us, min: 0}),
    feedGaps: panel(grid, 'Feed gaps', 'sequence gaps per rate window', LineChart, {id: 'feed-gaps', unit: units.count, min: 0}),
    pcpu: panel(grid, 'Process CPU', 'by instance', LineChart, {id: 'proc-cpu', unit: units.pct, min: 0}),
    pmem: panel(grid, 'Process memory', 'resident, by instance', LineChart, {id: 'proc-mem', unit: units.bytes, min: 0}),
    hcpu: panel(hostGrid, 'Host CPU', 'busy, by host', LineChart, {id: 'host-cpu', unit: units.pct, min: 0}),
    hmem: panel(hostGrid, 'Host memory', 'used, by host', LineChart, {id: 'host-mem', unit: units.bytes, min: 0}),
    hdisk: panel(hostGrid, 'Host disk I/O', 'read + written, by host', LineChart, {id: 'host-disk', unit: units.bps, min: 0}),
    hnet: panel(hostGrid, 'Host network', 'received / sent, by host', LineChart, {id: 'host-net', unit: units.bps, min: 0}),
  };
  // The panels whose points a silence of the service marks (rates, the
  // heatmap's columns), with their own notes (api.silencesNote).
  const silenceNoted = [P.tps, P.req, P.feedGaps, P.heat].map((p) => [p, p.card.note.textContent]);
  const procNote = card('Process CPU and memory', {note: 'no process metrics'});
  procNote.el.hidden = true;
  procNote.el.dataset.card = 'no-process';
  add(grid, procNote.el);
  // The newest value of each of the service's series: what it sent
  // whatever its names (a Pushgateway group's exposure_gross was shown
  // nowhere on its page). Open when no chart above has its data.
  const latest = card('Latest values', {wide: true});
  latest.el.dataset.card = 'latest';
  const latestSum = h('summary', {});
  const latestBody = h('div', {});
  const latestDet = h('details', {}, latestSum, latestBody);
  let latestTouched = false;
  latestSum.addEventListener('click', () => { latestTouched = true; });
  add(latest.body, latestDet);
  // gmc's own outages within the range, in the Overview's words (util.showOutages).
  const down = downLine();
  add(main, head, kpis, down, grid, latest.el, hostHead, hostGrid);
  // Panels of data a service does not have are hidden, not left empty.
  // (What a refresh writes, it writes only when it changed: patch, setText.)
  const show = (p, on) => { if (p.card.el.hidden !== !on) p.card.el.hidden = !on; };
  // The last finite bucket edge (µs) of each classic latency histogram,
  // read once a minute: a quantile there lies in the +Inf bucket and reads
  // "> edge".
  let edges = null;
  let edgesAt = 0;
  let edgesKey = '';
  // Where the heatmap's candidates' series and the service's counters
  // begin (api.seriesStarts), asked with a refresh's first round.
  const starts = seriesStarts();
  // The answers asked a round trip later, where the raw data does not
  // tell ({v, at} by query and time; see earlier in refresh).
  const earlierKnown = new Map();
  // Whether the host panels' queries read every host (see refresh).
  let everyHost = true;
  // The label look-ups of the service's hosts: {key, at, p}.
  let hostLook = null;
  // gmc's own outages (/system/status), as of the last refresh (sinceResume).
  const known = {};
  // The service's stale_after (s) as of the last refresh: its sample gaps
  // are read only over it (queries.sampleGaps' floor).
  let staleAfter = null;

  return {
    async refresh(w, signal) {
      if (!name) throw new Error('no service named in the URL');
      const sel = `{service=${JSON.stringify(name)}}`;
      const run = (e) => queryRange(e, w, signal);
      const now = (e) => query(e, w.at, signal);
      // Everything that does not need the service's hosts goes out at
      // once (one batched request per kind), beside the status and the
      // label look-ups; only the host panels wait for the hosts.
      const q = Q.service(name, w.rw, 'x="y"', 'x');
      // Within a minute after gmc served again (resumedAt), the Orders
      // tile over the data present is over the time since (as the
      // Overview's Desk orders).
      const since = sinceResume(known, w, signal, (kb, resumed) => {
        const kr = Q.serviceNow(name, KPI_WINDOW, kb, resumed);
        return Promise.all([kr.began, kr.growth].map(now));
      });
      const k = Q.serviceNow(name, KPI_WINDOW);
      // The heatmap has at most ~120 columns and reads the classic buckets
      // (a few dozen per column) before the native ones (hundreds).
      // (The window's length on its step grid: the tail, now, is beyond it.)
      const wlen = (w.gend != null ? w.gend : w.end) - w.start;
      const hstep = Math.max(w.step, Math.ceil(wlen / 120));
      // On Live the heatmap keeps its own step grid (its newest column up to a step old), so its cache holds.
      // Elsewhere it is on its grid too, with the tail (now) as the other charts,
      // also when now is on the charts' step boundary (no tail of theirs): a
      // 1h heatmap's columns then fell on now − 30 s·k, off its grid, and
      // six columns' windows held a 40 s silence five hold on the grid.
      // A range with its own end (absolute, zoomed) has its columns end there (as its points: api.span).
      const hend = w.endsNow ? Math.floor(w.end / hstep) * hstep : w.end;
      const hw = {start: hend - Math.floor(wlen / hstep) * hstep, end: w.grid ? hend : w.end, gend: !w.grid && hend < w.end ? hend : null,
        step: hstep, grid: w.grid, cache: w.cache, at: w.at};
      const hrw = Math.max(hstep * 4, 30) + 's';
      const hq = Q.service(name, hrw, 'x="y"', 'x');
      // The four candidates go out in one batch (one round trip, where one
      // after the other took up to four): the first with events wins.
      // Columns before the first with data: is there data before them (a
      // gap: gmc was down, a restart), or did the data begin there? (The
      // caption said "before the data began" for a gap in the middle,
      // t-truth13d.) Asked of gmc's chunk index with the page's first
      // round (GET /api/v1/series_start: where each raw series of the four
      // candidates begins), not a round trip after the heatmap's answer:
      // there is data before the first column with data when a series
      // began at or before that column's window. One answer serves every
      // range (no window in it) and holds EARLIER_TTL (data written late
      // may change it); a refresh asks it again EARLIER_AHEAD before.
      // (Three questions did this before: one at the first column's window
      // a round trip after the heatmap's answer, and, on ranges up to a
      // day, a day before the grid, each column and the tail asked with
      // the heatmap's queries; ranges over a day took the round trip.)
      const lb = Math.max(Math.round(wlen), 86400);
      const countSel = (e) => {
        const m = /rate\(([^[]+)\[/.exec(e);
        return m ? m[1].replace('_bucket{', '_count{') : null;
      };
      const hrs = parseFloat(hrw);
      // With them, the service's counters (k.counted): where they begin
      // tells its rates' first run of values that came back after a
      // silence from one whose data began there (api.markReturns).
      const sels = [...[hq.classic, hq.native, hq.rclassic, hq.rnative].map(countSel).filter(Boolean), k.counted];
      const skey = [sels.join('\n')];
      // (A failed answer is kept as none as long: earlier, below, then asks
      // its question a round trip later.)
      const startsP = starts.answer(skey, sels, hw.at, signal, EARLIER_TTL - EARLIER_AHEAD).catch(() => null);
      const earlier = async (e, r) => {
        const ts = r.flatMap((x) => [...(x.values || []).filter((v) => parseFloat(v[1]) > 0), ...(x.histograms || []).filter((v) => parseFloat(v[1].count) > 0)].map((v) => Number(v[0])));
        const first = ts.length ? Math.min(...ts) : null;
        const sel = countSel(e);
        if (first == null || first <= hw.start + 1e-3 || !sel) return false;
        // The first column's window begins at at: is there a sample at or before it?
        const at = first - hrs;
        const st = await startsP;
        if (st) {
          const nm = /^[^{]*/.exec(sel)[0];
          if (st.series.some((x) => x.metric.__name__ === nm && x.first <= at + 1e-3)) return true;
          // None in the raw data. That is the answer unless gmc's tiers hold
          // data from before the raw store's oldest sample (retention) and
          // the raw data does not reach the day (or range) before at.
          if (st.rawFrom != null && (st.dataFrom == null || st.dataFrom >= st.rawFrom - 1e-3 || st.rawFrom <= at - lb)) return false;
        }
        // Not known from the raw data (or the answer failed): asked as
        // before, of whatever holds it (the tiers too), a round trip later,
        // and kept for a minute.
        const ex = `count(last_over_time(${sel}[${lb}s]))`;
        const key = `${ex}@${at}`;
        const known = earlierKnown.get(key);
        if (known && Date.now() - known.at <= EARLIER_TTL) return known.v;
        const res = await query(ex, at, signal);
        const v = res.length > 0 && parseFloat(res[0].value[1]) > 0;
        earlierKnown.clear();
        earlierKnown.set(key, {v, at: Date.now()});
        return v;
      };
      const heat = async () => {
        const es = [hq.classic, hq.native, hq.rclassic, hq.rnative];
        const rs = await Promise.all(es.map((e) => queryRange(e, hw, signal)));
        for (let i = 0; i < es.length; i++) {
          const r = rs[i];
          const any = r.some((x) => (x.values || []).some((v) => parseFloat(v[1]) > 0) || (x.histograms || []).some((v) => parseFloat(v[1].count) > 0));
          if (any) return {native: !es[i].includes('_bucket'), r, earlier: await earlier(es[i], r)};
        }
        return {native: false, r: []};
      };
      // The bucket edges ("> last edge") of the series seen in the range
      // (a service down now has none now), re-read every minute and for
      // another range.
      // A window ending now (the tail's, or Live's, a second ago at most)
      // reads them now, in the batch of the other instant queries; Live's
      // end moved every second and asked for them again each time.
      const nowEnd = w.endsNow;
      const ekey = `${wlen}/${nowEnd ? 'now' : w.end}`;
      const edgesP = !edges || edgesKey !== ekey || Date.now() - edgesAt > 60e3
        ? Promise.all(['gmc_order_latency_seconds', 'gmc_request_latency_seconds', 'gmc_feed_latency_seconds']
          .map((m) => query(Q.edges(m, sel, '', Math.max(1, Math.round(w.end - w.start)) + 's'), nowEnd ? w.at : w.end, signal)))
          .then(([eo, er, ef]) => ({order: topEdge(eo).get(''), req: topEdge(er).get(''), feed: topEdge(ef).get('')}))
        : null;
      // The service's hosts change seldom: looked up again every
      // HOSTS_EVERY (Live asked twice a second), and at once for another window.
      const wkey = `${wlen}/${w.step}`;
      if (!hostLook || hostLook.key !== wkey || Date.now() - hostLook.at > HOSTS_EVERY) {
        // Its jobs too, and which of them gmc measures as a process (a
        // service inside another process, as the demo's, has no process
        // metrics of its own; its job may name that process). Which
        // services gmc measures as a process is asked beside the job
        // look-up, not after it (a round trip later, the page's last), and
        // kept for the jobs the look-up finds (the names service=~"job1|job2"
        // gave).
        const procsP = query('count by (service) (gmc_process_resident_memory_bytes{service!=""} or process_resident_memory_bytes{service!=""})', w.at, signal);
        const jobsP = Promise.all([labelValues('job', sel, w, signal), procsP]).then(([jobs, procs]) => {
          const others = new Set(jobs.filter((j) => j && j !== name));
          return procs.map((x) => x.metric.service).filter((s) => s && others.has(s)).sort();
        });
        // The host panels' queries wait for the hosts only, not for the
        // jobs' (below: not even for the hosts on a page's first refresh).
        const p = Promise.all([labelValues('instance', sel, w, signal), labelValues('host', sel, w, signal)]);
        // Asked again for the same window, the hosts and jobs known so far
        // serve until the answers are in (they change seldom).
        const same = hostLook && hostLook.key === wkey;
        const look = {key: wkey, at: Date.now(), p, jobsP, v: same ? hostLook.v : null, jobs: same ? hostLook.jobs : null};
        hostLook = look;
        // A failed or aborted look-up is asked again next time.
        const drop = () => { if (hostLook === look) hostLook = null; };
        p.then((v) => { look.v = v; }, drop);
        jobsP.then((v) => { look.jobs = v; }, drop);
      }
      // The join: the host label both the SDK and the agent set; data from
      // before it joins on the agent's instance.
      const hostsOf = ([inst, hostL]) => {
        const byHost = hostL.length > 0;
        return {byHost, hosts: (byHost ? hostL : inst).slice().sort(), hostBy: byHost ? 'host' : 'instance'};
      };
      // hosts: the hosts' names, or null for every host (host!="").
      const hostQueries = (hosts, hostBy) => {
        // No host (a service with neither label: pushed JSON, a
        // Pushgateway group): nothing to ask, where a selector of none
        // was asked a round trip after the look-up.
        if (hosts && !hosts.length) return Promise.resolve({r: [[], [], [], [], []], last: [], perMin: []});
        const hsel = hosts ? `${hostBy}=~${JSON.stringify(hosts.length ? hosts.map(reEsc).join('|') : '$^')}` : `${hostBy}!=""`;
        const qh = Q.service(name, w.rw, hsel, hostBy);
        // A window ending now: each host's newest sample and sampling
        // rate, to tell the hosts whose agent is not up (hostsStopped).
        const nowEnd = w.endsNow;
        const ask = nowEnd && (!hosts || hosts.length);
        return Promise.all([Promise.all([qh.hostCPU, qh.hostMem, qh.hostDisk, qh.hostNetRx, qh.hostNetTx].map(run)),
          ask ? query(Q.hostLast(hostBy, hsel, w.rw), w.at, signal) : [],
          ask ? query(Q.hostPerMin(hostBy, hsel), w.at, signal) : []])
          .then(([r, last, perMin]) => ({r, last, perMin}));
      };
      // The host panels' queries go out in this tick, in the batch of the
      // others, whether the hosts are known yet or not (a page's first
      // refresh sent them a round trip late, when the look-up had answered;
      // Live, before, one request more a second): by host over every host,
      // keeping the hosts the look-up found. Each is a sum, average or
      // newest sample by host, so a host's series is the same over every
      // host as over host=~"its hosts". (One expression whether the hosts
      // are known or not: Live's range cache keeps it from one refresh to
      // the next.) Once more than OTHER_HOSTS other hosts have answered,
      // the next refreshes read the service's hosts only (every host's
      // series each second cost Live ~5.5 KB/s a host; the switch, one
      // whole window of the service's hosts). A service without the host
      // label (data from before it) is asked by instance, once the look-up
      // has said so.
      const hostsKnown = hostLook.v ? hostsOf(hostLook.v) : null;
      const every = everyHost && !(hostsKnown && !hostsKnown.byHost) ? hostQueries(null, 'host') : null;
      const ownHosts = !every && hostsKnown ? hostQueries(hostsKnown.hosts, hostsKnown.hostBy) : null;
      // (Not waited for when the look-up fails or finds no host label.)
      if (every) every.catch(() => {});
      const hostsP = (hostsKnown ? Promise.resolve(hostLook.v) : hostLook.p).then((v) => {
        const hv = hostsOf(v);
        if (ownHosts) return ownHosts.then((b) => ({...hv, ...b}));
        if (!hv.byHost || !every) return hostQueries(hv.hosts, hv.hostBy).then((b) => ({...hv, ...b}));
        const keep = new Set(hv.hosts);
        const mine = (m) => m.filter((x) => keep.has(x.metric.host ?? ''));
        return every.then((a) => {
          const others = new Set(a.r.flatMap((m) => m.map((x) => x.metric.host ?? '')).filter((x) => !keep.has(x)));
          if (others.size > OTHER_HOSTS) everyHost = false;
          return {...hv, r: a.r.map(mine), last: mine(a.last), perMin: mine(a.perMin)};
        });
      });
      const procJobsP = hostLook.jobs || hostLook.jobsP;
      // Long ranges: each step's worst one-minute p99 too (orders' and
      // requests', as the percentiles: one of them is drawn).
      const pk = peaks(w);
      const pw = peakWindow(w);
      // Their newest point (now) is over the last whole window: during an
      // incident it read the minute before it (4.14 µs beside a p99 of
      // 2.76 ms). The slot still open, since the last window's end, is read
      // from raw data (three instant queries beside the tiles) and the
      // newest point is at least its figure so far.
      const pws = parseFloat(pw) * 60;
      const open = pk && w.gend != null ? w.at - Math.floor(w.at / pws) * pws : 0;
      const qo = open >= 1 ? Q.service(name, Math.round(open * 1000) + 'ms', 'x="y"', 'x') : null;
      // The silences of the service (no sample for longer than its
      // stale_after) that points of its rates hold in their windows
      // (api.markSilences): on Live from the newest sample at each second
      // of its window (sampledLive, below); elsewhere, in the batches of
      // the rates, each point's longest gap between two samples that ended
      // within its step (queries.sampleGaps, api.gapsRead). Read
      // only at the tiles' minute, a point a minute after the silence was
      // drawn solid again (one 1h point read 1.27k/s for 20k/s).
      const live = liveWindow(w);
      const gapsP = gapsRead((lb, r, x, f) => Q.sampleGaps(name, lb, r, x, f), w, staleAfter, signal);
      const [status, own,
        [kOrders, kErr, kReq, kP50, kP99, kHas, kLatEp, kNewest, kLatest, oP99 = [], oRp99 = [], oErr = []], kSampled, {resumed, r: [kBegan, kGrowth]}, hm, hostR, newEdges, procJobs, gaps] = await Promise.all([
        since.status,
        Promise.all([q.p50, q.p90, q.p99, q.rp50, q.rp90, q.rp99, q.pushedLatency, q.tps, q.requests,
          q.reqP99, q.feedLat, q.feedGaps, q.procCPU, q.procMem, q.errors, ...(pk ? [q.p99Peak, q.rp99Peak, q.errPeak].map((f) => (lb) => f(peakLookback(lb, pw), pw)) : [])].map(run)),
        Promise.all([k.orders, k.errors, k.requests, k.p50, k.p99, k.hasOrders, k.latEndpoints, k.newest, Q.latest(name), ...(qo ? [qo.p99, qo.rp99, qo.errors] : [])].map(now)),
        // Each second of the tiles' window: on Live each second of the
        // charts' own window, batched with them (its cache asks only the
        // new seconds; a silence begun within the window and the lookback
        // before it is seen); else a range query of its own over the minute
        // (a matrix cannot join the instant batch's label_replace).
        live ? run(k.sampledLive) : rangeAt(k.sampled, w.at - KPI_SECONDS + 1, w.at, 1, signal),
        since.now, heat(), hostsP, edgesP, procJobsP, gapsP]);
      known.outages = status.outages;
      showOutages(down, status.outages, w);
      const {byHost, hosts, hostBy} = hostR;
      // A host whose agent is not up now: its points after its newest
      // sample are over windows reaching past it (api.markStopped).
      const hostGone = hostsStopped(hostR.last, hostR.perMin, hostBy, status.watching);
      const [hcpu, hmem, hdisk, rx, tx] = hostR.r.map((m) => (hostGone.size ? markStopped(m, (metric) => hostGone.get(metric[hostBy] ?? '')) : m));
      if (newEdges) {
        edges = newEdges;
        edgesAt = Date.now();
        edgesKey = ekey;
      }
      const st = (status.services || []).find((s) => s.service === name);
      // Not up now: the points of its own charts after its last sample are
      // over windows reaching past it (dashed, out of min and max;
      // api.markStopped); its hosts' are not its own.
      const lastAt = stoppedAt(st ? [st] : []).get(name) ?? null;
      const past = (m) => (lastAt == null ? m : markStopped(m, () => lastAt));
      // The points of its rates whose window holds a silence of its own
      // (longer than its stale_after) are partial and gap, out of min
      // (api.markSilences): a rate over the data around it spread over the
      // whole window reads low.
      const stale = st ? st.stale_after_seconds : null;
      if (stale > 0) staleAfter = stale;
      // Elsewhere also its silences the tiles' minute read to the second
      // (kSampled): a silence of up to two grains is not told by the gap
      // read (150 s at 7d), and the tail's 1m window after a 51 s one
      // read the 7d legend's "last 4.14k/s, min 4.14k/s" solid at 20k/s
      // (trial 30 F2). Those mark a point only where they are over a 48th
      // of its window, what a step's longest untold silence may hold
      // (api.gapGrain): the steps' 40m windows at 7d are not marked for it.
      const minute = live || !(stale > 0) ? [] : sampledSilences(kSampled, stale).map((x) => ({...x, share: 1 / 48}));
      const silences = [...silencesOf(live ? kSampled : gaps, w, stale), ...minute];
      // Above 6h only the newest points are read for silences: the charts
      // whose points they mark (rates, the heatmap's columns) say so.
      for (const [p, note] of silenceNoted) setText(p.card.note, note + silencesNote(w));
      const silent = (m) => markSilences(m, w, () => silences);
      const ownM = own.map((m) => silent(past(m)));
      // Points taken as reaching before the data began (markPartial: no
      // value earlier in the matrix) of a service that had data before:
      // it came back after a silence longer than the matrix reaches
      // (Live's 5m30s; a range's window and lead), and their windows hold
      // that silence (api.markReturns, from series_start's answer). An
      // answer asked before such a run's window began cannot tell: asked
      // again, once, a round later.
      const ss = await starts.tell(ownM.flatMap((m) => runsBegan(m, w)), skey, sels, w.at, signal);
      const [p50, p90, p99, rp50, rp90, rp99, pushed, tps, req, reqLat, feedLat, feedGaps, pcpu, pmem, errR, p99Pk, rp99Pk, errPk] = ownM.map((m) => markReturns(m, w, ss));
      // Down now: the legends of its own charts (not its hosts') say so for
      // their last, not a rate whose window still holds figures from before.
      const goneTxt = st && st.state !== 'up' && st.state !== 'pushed' ? goneText(st) : null;
      for (const p of [P.lat, P.tps, P.err, P.req, P.reqLat, P.feedLat, P.feedGaps, P.pcpu, P.pmem]) p.chart.gone = goneTxt;
      patch(head, [h('h1', {}, name), st ? pill(st.state, null, st.reason) : pill('unknown', 'unknown service'),
        h('span', {class: 'muted', 'data-hold': st && st.hold ? st.hold.cause : null}, !st ? 'gmc has no data from a service of this name'
          : [st.state === 'unknown' ? `not judged: ${holdText(st.hold)}` : '',
            st.age_seconds != null ? `last seen ${ago(st.age_seconds)} ago` : st.state === 'up' ? `last seen < ${ago(st.stale_after_seconds)} ago` : '',
            st.series != null ? `${st.series} series` : ''].filter(Boolean).join(' · ')),
        hosts.length ? h('span', {class: 'muted'}, byHost ? ' · hosts: ' : ' · instances: ', hosts.map((x, i) => [i ? ', ' : '', byHost ? h('a', {href: ctx.href('host', x)}, x) : x])) : '']);

      // Latency percentiles: orders, else the SDK's request latency
      // (messages, bars), else the JSON-pushed latency_us.
      const orderLat = p50.length + p90.length + p99.length > 0;
      const reqLatency = !orderLat && rp50.length + rp90.length + rp99.length > 0;
      const [a50, a90, a99] = orderLat ? [p50, p90, p99] : [rp50, rp90, rp99];
      const A = align([...a50, ...a90, ...a99], w);
      let lat;
      if (orderLat || reqLatency) {
        const pick = (res, i) => (res.length ? A.ys[i] : A.xs.map(() => null));
        lat = [{label: 'p50', data: pick(a50, 0), color: PALETTE[2]},
          {label: 'p90', data: pick(a90, a50.length), color: PALETTE[1]},
          {label: 'p99', data: pick(a99, a50.length + a90.length), color: PALETTE[3], width: 2}];
        setText(P.lat.card.el.querySelector('h3'), orderLat ? 'Order latency' : 'Request latency');
        // The peak: each point the highest p99 over any short window
        // (peakWindow) within its step (a quantile over the step's rate
        // window averages a one-minute incident away: 500 µs read 5 µs at 7d).
        const pkR = orderLat ? p99Pk : rp99Pk;
        if (pk && pkR && pkR.length) lat.push({label: `p99 worst ${pw}`, data: withOpen(align(pkR.slice(0, 1), w).ys[0], orderLat ? oP99 : oRp99), color: PALETTE[3], dash: [5, 3], width: 1.5});
        setText(P.lat.card.note, 'p50 · p90 · p99' + (lat.length > 3 ? ` · worst ${dur(pw)} p99 per step` : ''));
      } else {
        lat = lines(pushed, w, ['instance'], 'latency ');
        setText(P.lat.card.note, 'pushed latency_us');
      }
      // The rate and quantile windows of the points (the legends' "last"); gauges have none.
      for (const p of [P.tps, P.err, P.req, P.reqLat, P.feedLat, P.pcpu, P.hcpu, P.hdisk, P.hnet]) p.chart.window = windows(w);
      P.feedGaps.chart.window = windows(w, true);
      P.lat.chart.window = orderLat || reqLatency ? windows(w) : null;
      P.lat.chart.unit = capped(units.us, orderLat ? edges.order : reqLatency ? edges.req : null);
      P.lat.chart.bandsSpec = lat.length >= 3 && (orderLat || reqLatency) ? [[3, 1]] : null;
      // What the newest point is over (the open slot: above).
      const newest = qo ? `the newest over the last whole ${dur(pw)} and the open slot so far, the ${dur(open)} since ${clock((w.at - open) * 1000)} from raw data, whichever is higher`
        : `the newest over the last whole ${dur(pw)}`;
      P.lat.chart.peak = lat.length > 3 ? `p99 worst ${pw}: the highest p99 of the ${dur(pw)} slots (on a fixed ${dur(pw)} grid, not sliding: two bursts in one sliding ${dur(pw)} may fall in two slots) within each point's ${dur(w.step)} step (from the 1m tier; ${newest})` : null;
      P.lat.chart.update(A.xs, lat, 'No latency data for this service');

      const hxs = align([], hw).xs;
      const hcols = hm.native ? nativeColumns(hm.r[0], hw) : classicColumns(hm.r, hw);
      P.heat.chart.update(hxs, hw.step, hcols, endedColumns(hxs, hcols, hw, parseFloat(hrw), lastAt), !!hm.earlier,
        silentColumns(hxs, hcols, parseFloat(hrw), silences));
      show(P.heat, hm.r.length > 0);

      const tpsS = lines(tps, w, ['result', 'instance']);
      P.tps.chart.update(A.xs, tpsS.map((s) => ({...s, color: {success: PALETTE[2], reject: PALETTE[1], error: PALETTE[3]}[s.label]})));
      const hasOrders = kHas.length > 0;
      show(P.tps, hasOrders || !req.length);
      // The error rate; on long ranges also each step's worst short window
      // (a one-minute burst of errors is 1/134 of a 7d point's window).
      const errS = [{label: 'error rate', data: align(errR.slice(0, 1), w).ys[0] || A.xs.map(() => null), color: PALETTE[3]}];
      if (pk && errPk && errPk.length) errS.push({label: `error rate worst ${pw}`, data: withOpen(align(errPk.slice(0, 1), w).ys[0], oErr), color: PALETTE[3], dash: [5, 3], width: 1.5});
      P.err.chart.peak = errS.length > 1 ? `error rate worst ${pw}: the highest error rate of the ${dur(pw)} slots (on a fixed ${dur(pw)} grid, not sliding: two bursts in one sliding ${dur(pw)} may fall in two slots) within each point's ${dur(w.step)} step (from the 1m tier; ${newest})` : null;
      setText(P.err.card.note, 'reject + error, % of orders' + (errS.length > 1 ? ` · worst ${dur(pw)} per step` : ''));
      P.err.chart.update(A.xs, errS, 'No orders in this time range');
      show(P.err, hasOrders && errR.length > 0);
      P.req.chart.update(A.xs, lines(req, w, ['endpoint']).map((s) => ({...s, label: rateLabel(s.label)})));
      show(P.req, req.length > 0);
      P.reqLat.chart.unit = capped(units.us, edges.req);
      P.reqLat.chart.update(A.xs, lines(reqLat, w, ['endpoint']));
      show(P.reqLat, reqLat.length > 0);
      P.feedLat.chart.unit = capped(units.us, edges.feed);
      P.feedLat.chart.update(A.xs, lines(feedLat, w, []).map((s) => ({...s, label: 'p99'})));
      show(P.feedLat, feedLat.length > 0);
      P.feedGaps.chart.update(A.xs, lines(feedGaps, w, ['feed']).map((s) => ({...s, label: s.label === 'gmc_feed_gaps_total' || s.label === '{}' ? 'gaps' : s.label})));
      show(P.feedGaps, feedGaps.length > 0);
      P.pcpu.chart.update(A.xs, lines(pcpu, w, ['instance']));
      P.pmem.chart.update(A.xs, lines(pmem, w, ['instance']));
      // No process metrics: one line saying so (and where its process may
      // be measured) instead of two empty charts.
      const noProc = !pcpu.length && !pmem.length;
      show(P.pcpu, !noProc);
      show(P.pmem, !noProc);
      if (procNote.el.hidden !== !noProc) procNote.el.hidden = !noProc;
      if (noProc) {
        patch(procNote.body, [h('p', {class: 'muted', 'data-no-process': name},
          `No process metrics for this service: gmc has no gmc_process_* or process_* series with service="${name}" in this range.`,
          procJobs.length ? [' Its series carry job ', procJobs.map((j, i) => [i ? ', ' : '', h('a', {href: ctx.href('service', j)}, j)]),
            `, which gmc measures as a process: its CPU and memory are those of every service in ${procJobs.length > 1 ? 'those processes' : 'that process'}.`] : '')]);
      }
      const ownCharts = orderLat || reqLatency || pushed.length > 0 || hasOrders || req.length > 0 || feedLat.length > 0;
      renderLatest(kLatest, ownCharts);
      const noHost = hosts.length ? 'No host metrics from this service\'s hosts' : 'No host known for this service';
      P.hcpu.chart.update(A.xs, lines(hcpu, w, [hostBy]), noHost);
      P.hmem.chart.update(A.xs, lines(hmem, w, [hostBy]), noHost);
      P.hdisk.chart.update(A.xs, lines(hdisk, w, [hostBy]), noHost);
      P.hnet.chart.update(A.xs, [...lines(rx, w, [hostBy], 'rx '), ...lines(tx, w, [hostBy], 'tx ')], noHost);

      // The tiles are now (instant queries over KPI_WINDOW), whatever the range.
      // In the first minute of its orders the 1m rate spread the seconds
      // of data it held over the minute: the orders/s over the data
      // present, its window said (api.firstMinute).
      const cov = firstMinute(kOrders, kBegan, kGrowth, kNewest);
      const ordersNow = cov ? cov.rate : scalarOf(kOrders);
      // Orders that began within the minute may be a return after a
      // silence longer than sampled reads (backAt: Live's 5m lookback
      // before its window, else the hour before the minute): no sample of
      // its counters in that read before them (the silence is longer than
      // from its reach to them), and series_start has one from before. It
      // was said to be where the data began.
      const sv = (kSampled[0] && kSampled[0].values) || [];
      const quiet = cov && resumed == null && sv.length && Number(sv[0][1]) >= cov.since - 1e-3 ? (live ? w.start - 300 : w.at - KPI_SECONDS + 1 - 3600) : null;
      const ss0 = quiet != null ? ss || await startsP : null;
      const longBack = ss0 && ss0.series.some((x) => /^(gmc_orders_total|gmc_requests_total|tps)$/.test(x.metric.__name__) && x.first < cov.since - 1e-3);
      const ordersSub = cov ? `over the last ${dur(Math.round(cov.seconds))}: ${resumed != null ? `gmc was down until ${clock(resumed * 1000)}`
        : longBack ? `back at ${clock(cov.since * 1000)} after more than ${dur(Math.floor(cov.since - quiet))} without samples` : `the data began at ${clock(cov.since * 1000)}`}` : null;
      const errNow = scalarOf(kErr);
      const tileUnit = capped(units.us, orderLat ? edges.order : edges.req);
      // Every tile is now, over KPI_WINDOW, whatever the range (the charts' legends say their own window).
      const nowSub = `now, over ${KPI_WINDOW}`;
      if (st && st.state !== 'up' && st.state !== 'pushed') {
        // Not up: its 1m rates would be the ones from before it stopped.
        const last = st.last_seen_ms != null ? `last sample ${ago(st.age_seconds)} ago` : 'no sample in the last hour';
        const since = st.state === 'unknown' ? `not judged: ${holdText(st.hold)} (${last})`
          : st.last_seen_ms != null ? `${st.state} since ${clock(st.last_seen_ms)} (${last})` : last;
        const sub = `no figures now; ${since}`;
        const gone = (label) => kpi(label, st.state, st.state === 'down' ? 'bad' : st.state === 'unknown' ? null : 'warn', sub);
        patch(kpis, [gone(hasOrders || !kReq.length ? 'Orders' : 'Requests'), gone('p50'), gone('p99'), gone('Error rate'), kpi('Hosts', String(hosts.length))]);
        return;
      }
      // Back within the minute from its own outage (a silence longer than
      // its stale_after), not gmc's: the rates over the time since it came
      // back, asked a round trip later (only then), and said so.
      const back = resumed == null && lastAt == null ? backAt(kSampled, w.at, stale) : null;
      let backR = null;
      if (back) {
        const kb = Math.round((w.at - back.at + 0.5) * 1000) + 'ms';
        const kq = Q.serviceNow(name, kb);
        const [o, r] = await Promise.all([kq.orders, kq.requests].map(now));
        backR = {o: scalarOf(o), r, kb};
      }
      const backSub = (over) => `${over}back at ${clock(back.at * 1000)} after ${dur(back.at - back.from)} without samples`;
      const reqNow = back && backR.r.length ? backR.r : kReq;
      const reqTop = reqNow.map((s) => ({e: s.metric.endpoint || 'request', v: parseFloat(s.value[1])})).sort((a, b) => b.v - a.v)[0];
      // One sample since: the 1m rate, and how much of the minute it was silent.
      const backOf = (has) => !back ? null : has ? backSub(`over the last ${dur(backR.kb)}: `)
        : backSub(`over ${KPI_WINDOW}, ${dur(back.at - Math.max(back.from, w.at - KPI_SECONDS))} of it silent: `);
      const oNow = back && backR.o != null ? backR.o : ordersNow;
      const oSub = backOf(backR && backR.o != null) || ordersSub || nowSub;
      const rSub = backOf(reqNow !== kReq) || nowSub;
      // What the latency tiles are of: orders, or the request endpoints
      // the SDK timed (the backtester's "19.2k bars/s" stood beside the
      // p99 of its day replays, t-user8 #10).
      const latEps = kLatEp.map((s) => s.metric.endpoint || 'request').sort();
      const latSub = orderLat ? `order latency, ${nowSub}` : latEps.length ? `${latEps.join(', ')} latency, ${nowSub}` : nowSub;
      patch(kpis, [
        hasOrders || !reqTop ? kpi('Orders', oNow != null ? perSec(oNow, 'orders') : '–', null, oSub, oNow)
          : kpi('Requests', perSec(reqTop.v, rateNoun(reqTop.e)), null, rSub, reqTop.v),
        kpi('p50', statOf(tileUnit)(scalarOf(kP50)), null, latSub),
        kpi('p99', statOf(tileUnit)(scalarOf(kP99)), null, latSub, scalarOf(kP99)),
        kpi('Error rate', errNow != null ? units.pct.fmt(errNow) : '–', errNow > 0 ? 'warn' : null, hasOrders ? nowSub : 'no orders'),
        kpi('Hosts', String(hosts.length))]);
    },
    destroy() { Object.values(P).forEach((p) => p.chart.destroy()); },
  };

  /** renderLatest fills the Latest values card from an instant query's series (kLatest); open unless charts show the service's data. */
  function renderLatest(rs, ownCharts) {
    latest.el.hidden = !rs.length;
    if (!rs.length) return;
    const rows = rs.map((r) => {
      const {__name__: metric, service: _s, ...rest} = r.metric;
      const labels = Object.entries(rest).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `${k}="${v}"`).join(', ');
      const v = r.histogram ? null : parseFloat(r.value[1]);
      // A Unix time (push_time_seconds, job_last_success_unixtime) as a time.
      const isTime = v > 1e9 && /(_time_seconds|_timestamp_seconds|_unixtime|_timestamp)$/.test(metric || '');
      const value = r.histogram ? `histogram: ${num(parseFloat(r.histogram[1].count))} observations, sum ${num(parseFloat(r.histogram[1].sum))}`
        : isTime ? `${when(v * 1000)} (${ago(Math.max(0, r.value[0] - v))} ago)` : num(v);
      return {metric: metric || '', labels, value};
    }).sort((a, b) => a.metric.localeCompare(b.metric) || a.labels.localeCompare(b.labels));
    const metrics = new Set(rows.map((r) => r.metric)).size;
    const shown = rows.slice(0, LATEST_ROWS);
    setText(latestSum, `${rows.length} series of ${metrics} metric${metrics === 1 ? '' : 's'}, now (the newest sample within 5m; classic histogram buckets and gmc's own series left out)`);
    patch(latestBody, [h('table', {class: 'tbl'},
      h('thead', {}, h('tr', {}, h('th', {}, 'metric'), h('th', {}, 'labels'), h('th', {class: 'num'}, 'value'))),
      h('tbody', {}, shown.map((r) => h('tr', {'data-metric': r.metric}, h('td', {}, r.metric), h('td', {class: 'muted small'}, r.labels), h('td', {class: 'num'}, r.value))))),
    rows.length > shown.length ? h('p', {class: 'muted small'}, `${rows.length - shown.length} more series not listed (GET /metrics/${name} has them all)`) : null].filter(Boolean));
    if (!latestTouched && latestDet.open === ownCharts) latestDet.open = !ownCharts;
  }
}

/**
 * withOpen is a worst-window line's values (ys; its newest the tail, now)
 * with the newest at least the open slot's figure so far (r: an instant
 * query's answer, empty when the slot holds too few samples).
 */
export function withOpen(ys, r) {
  const v = scalarOf(r);
  if (v == null || !ys || !ys.length) return ys;
  const out = ys.slice();
  const i = out.length - 1;
  out[i] = out[i] == null ? v : Math.max(out[i], v);
  return out;
}

/** LATEST_ROWS is how many series the Latest values card lists. */
const LATEST_ROWS = 100;

/**
 * endedColumns are the heatmap columns (cols at xs, on the grid of hw)
 * whose window (rw, s) reaches past their source's last sample: after
 * lastAt (s: the service's newest sample when it is not up now, else
 * null), and, after the fact, those within a window of the end of a run
 * of columns that a later column of the grid no longer continues (as
 * api.markPartial does for lines). Returns {cols: a Set of indices, note}
 * for HeatmapChart.update.
 */
export function endedColumns(xs, cols, hw, rw, lastAt) {
  const out = new Set();
  const glast = hw.gend != null ? hw.gend : hw.end;
  for (let i = 0; i < cols.length; i++) {
    if (!cols[i]) continue;
    let j = i;
    while (j + 1 < cols.length && cols[j + 1]) j++;
    if (xs[j] + hw.step <= glast + 1e-3) for (let k = i; k <= j; k++) if (xs[k] > xs[j] - rw + 1e-6) out.add(k);
    if (lastAt != null) for (let k = i; k <= j; k++) if (xs[k] > lastAt + 1e-3) out.add(k);
    i = j;
  }
  const note = lastAt != null ? `after the last sample at ${clock(lastAt * 1000)}: their ${dur(rw)} windows reach past it (the service stopped)`
    : `at the end of the data: their ${dur(rw)} windows reach past its last sample`;
  return {cols: out, note};
}

/**
 * silentColumns are the heatmap columns (cols at xs, each over rw s)
 * whose window holds part of a silence of the service (silences:
 * api.silencesOf's, as its rates' points are marked by
 * api.markSilences): a Map of their indices to the silence, for
 * HeatmapChart.update. Their colours, each bucket's share of the events
 * seen, stand; their events/s are spread over the silence too.
 */
export function silentColumns(xs, cols, rw, silences) {
  const out = new Map();
  xs.forEach((t, i) => {
    const x = cols[i] && silences.find((s) => t > s.from + 1e-3 && t - rw < s.until - 1e-3);
    if (x) out.set(i, x);
  });
  return out;
}

/**
 * nativeColumns turns a native-histogram range result (rate per bucket) into
 * heatmap columns in µs, merging the fine buckets into 8 per decade.
 */
export function nativeColumns(series, w) {
  const {n, index} = grid(w);
  const cols = new Array(n).fill(null);
  for (const [t, hist] of series.histograms || []) {
    const i = index(t);
    if (i < 0 || i >= n) continue;
    const bins = new Map();
    for (const [, , hi, c] of hist.buckets || []) {
      const u = parseFloat(hi) * 1e6;
      const v = parseFloat(c);
      if (!(u > 0) || !(v > 0)) continue;
      const k = Math.ceil(Math.log10(u) * 8 - 1e-9);
      bins.set(k, (bins.get(k) || 0) + v);
    }
    cols[i] = [...bins.entries()].map(([k, v]) => [10 ** ((k - 1) / 8), 10 ** (k / 8), v]);
  }
  return cols;
}

/** classicColumns turns sum by (le) of _bucket rates into heatmap columns. */
export function classicColumns(result, w) {
  const {n} = grid(w);
  const les = result.map((s) => ({le: parseFloat(s.metric.le), s})).filter((x) => !isNaN(x.le)).sort((a, b) => a.le - b.le);
  const {ys} = align(les.map((x) => x.s), w);
  const cols = new Array(n).fill(null);
  for (let i = 0; i < n; i++) {
    const col = [];
    let prev = 0;
    let prevLe = null;
    les.forEach((x, j) => {
      const v = ys[j][i];
      if (v == null) return;
      if (isFinite(x.le)) {
        const lo = prevLe == null ? (x.le * 1e6) / 2 : prevLe * 1e6;
        col.push([lo, x.le * 1e6, Math.max(0, v - prev)]);
        prevLe = x.le;
      }
      prev = v;
    });
    if (col.length) cols[i] = col;
  }
  return cols;
}
