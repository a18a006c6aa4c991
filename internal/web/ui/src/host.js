// Host page: one machine as the agent sees it (node_exporter names, joined
// on the host label): per-core CPU, CPU by mode, load, memory,
// filesystems (space and inodes), disk I/O, IOPS and latency, network
// bytes, packets, errors and drops, context switches, forks, processes,
// TCP connections and retransmits, pressure stall, interrupts and
// softirqs, file handles, sockets, the busiest IRQ lines (where the agent
// has host.interrupts on), uptime, and the services on it — the rows of
// Grafana's "Node Exporter Full" the agent collects.
import {getJSON, query, queryRange, align, lines, scalarOf, instantBy, labelValues, windows, keepPartial, markStopped, hostState, hostsStopped, seriesStarts, runsBegan, markReturns} from './api.js';
import {LineChart, Placement, card, panel} from './chart.js';
import {h, fill, add, units, bar, num, kpi, KPI_LEAST, ago, when, pill, patch, setText, clock, downLine, showOutages} from './util.js';
import * as Q from './queries.js';

export function mount(main, ctx) {
  const name = ctx.arg;
  const head = h('div', {class: 'page-head'}, h('h1', {}, name ? 'Host ' + name : 'Hosts'));
  const kpis = h('div', {class: 'kpis'});
  const grid = h('div', {class: 'grid'});
  const fs = card('Filesystems', {wide: true, note: 'now'});
  const mk = (id, title, note, unit) => panel(grid, title, note, LineChart, {id, unit, min: 0});
  const C = name ? {
    cores: mk('host-cpu-cores', 'CPU per core', 'busy %', units.pct),
    modes: mk('host-cpu-modes', 'CPU by mode', '% of all cores', units.pct),
    load: mk('host-load', 'Load', '1m · 5m · 15m', units.count),
    mem: mk('host-memory', 'Memory', 'used · cache+buffers · swap used', units.bytes),
    disk: mk('host-disk-io', 'Disk I/O', 'read / written, by device', units.bps),
    busy: mk('host-disk-busy', 'Disk busy', 'time doing I/O, by device', units.pct),
    net: mk('host-net-io', 'Network', 'received / sent, by device', units.bps),
    iops: mk('host-disk-iops', 'Disk IOPS', 'reads / writes completed, by device', units.rate),
    dlat: mk('host-disk-latency', 'Disk latency', 'average time per read / write, by device', units.s),
    err: mk('host-net-errors', 'Network errors and drops', 'per second, received + sent, by device', units.rate),
    pkts: mk('host-net-packets', 'Network packets', 'received / sent, by device', units.rate),
    ctxt: mk('host-ctxt', 'Context switches and forks', 'per second', units.rate),
    procs: mk('host-procs', 'Processes', 'running · blocked on I/O', units.count),
    tcp: mk('host-tcp', 'TCP', 'established connections · retransmitted segments/s · input errors/s', units.count),
    psi: mk('host-pressure', 'Pressure stall', '% of time', units.pct),
    intr: mk('host-interrupts', 'Interrupts', 'per second', units.rate),
    fds: mk('host-fds', 'File handles', 'allocated', units.count),
    socks: mk('host-sockets', 'Sockets', 'count', units.count),
    irq: mk('host-irq-lines', 'Busiest IRQ lines', 'per second', units.rate),
  } : {};
  // gmc's own outages within the range, in the Overview's words (util.showOutages).
  const down = downLine();
  add(main, head, kpis, down, grid, fs.el);
  // The plots the first data put far below the screen are made later
  // (chart.js Placement): 18, of which 6 are on a 1440 × 857 screen. Above
  // the grid only the tiles come with the data (the head and the outage
  // line only grow).
  const place = name ? new Placement(Object.values(C), [[kpis, KPI_LEAST]]) : null;
  // Where the host's raw series begin (api.seriesStarts), asked when a
  // chart has a run of values begun in its matrix.
  const starts = seriesStarts();

  return {
    async refresh(w, signal) {
      if (!name) {
        const H = Q.hostsNow;
        const [hosts, status, age, perMin, cpu, mem, load, cores] = await Promise.all([
          labelValues('host', 'node_cpu_seconds_total', w, signal),
          // Since when gmc has watched (a restart or its ingest stall): a
          // host silent for less is not judged, as services are not.
          getJSON('/system/status', signal).catch((e) => (e.name === 'AbortError' ? Promise.reject(e) : {})),
          ...[H.age, H.perMin, H.cpu, H.mem, H.load, H.cores].map((e) => query(e, w.at, signal).then((r) => instantBy(r, 'host')))]);
        const nowMs = Date.parse(status.time);
        showOutages(down, status.outages, w, ': it took in nothing from the agents then');
        fill(head, h('h1', {}, 'Hosts'), h('span', {class: 'muted'}, 'now, from each agent\'s samples'));
        fs.el.hidden = true;
        fill(grid, h('div', {class: 'card wide'}, h('div', {class: 'table-wrap'}, h('table', {class: 'tbl hosts', 'data-rows': hosts.length},
          h('thead', {}, h('tr', {}, ['Host', 'State', 'CPU busy', 'Memory used', 'Load (1m)'].map((t) => h('th', {}, t)))),
          h('tbody', {}, hosts.length ? hosts.map((x) => {
            const st = hostState(age.get(x), perMin.get(x), status.watching, nowMs);
            const gone = st.state !== 'up';
            const ld = load.get(x);
            const nc = cores.get(x);
            return h('tr', {'data-host': x},
              h('td', {}, h('a', {href: ctx.href('host', x)}, x)),
              h('td', {'data-col': 'state', 'data-hold': st.hold || null, title: st.why}, pill(st.state), h('span', {class: 'muted small'}, ' ', st.seen)),
              h('td', {class: 'num', 'data-col': 'cpu'}, gone || !cpu.has(x) ? '–' : bar(cpu.get(x) / 100, units.pct.fmt(cpu.get(x)), cpu.get(x) >= 90 ? 'bad' : cpu.get(x) >= 70 ? 'warn' : 'good')),
              h('td', {class: 'num', 'data-col': 'memory'}, gone || !mem.has(x) ? '–' : bar(mem.get(x) / 100, units.pct.fmt(mem.get(x)), mem.get(x) >= 90 ? 'bad' : mem.get(x) >= 75 ? 'warn' : 'good')),
              h('td', {class: 'num', 'data-col': 'load'}, gone || ld == null ? '–' : `${num(ld)}${nc ? ` on ${nc} CPUs (${num(ld / nc)} per CPU)` : ''}`));
          }) : h('tr', {}, h('td', {colspan: 5, class: 'muted'}, 'No agent reports a host label yet.')))))));
        return;
      }
      const q = Q.host(name, w.rw);
      const k = kernel(name, w.rw);
      const hs = `host=${JSON.stringify(name)}`;
      const run = (e) => queryRange(e, w, signal);
      const now = (e) => query(e, w.at, signal);
      // A window ending now: the host's newest sample and its sampling
      // rate, in the same batch, to tell whether its agent is up.
      const nowEnd = w.endsNow;
      const res = Math.max(1, Math.round(w.step / 20));
      const [rangeR, [nCores, total, fsFree, fsAvail, fsSize, svcs, files, filesFree, boot, parts, fdNow, fdMaxNow], kernelR, lastR, perMinR, hiR, loR, status] = await Promise.all([
        Promise.all([q.cpuCores, q.cpuModes, q.load, q.memUsed, q.memCached, q.swapUsed, q.diskRead, q.diskWrite, q.diskBusy, q.netRx, q.netTx, q.netErr, q.netDrop,
          q.diskIOPS, q.diskWIOPS, q.diskRLat, q.diskWLat, q.netPktRx, q.netPktTx, q.ctxt, q.forks, q.procs, q.tcpEstab, q.tcpRetrans, q.tcpErr].map(run)),
        Promise.all([q.cores, q.memTotal, q.fsFree, q.fsAvail, q.fsSize, q.services, q.fsFiles, q.fsFilesFree, q.boot, k.parts, k.fdUsed, k.fdMax].map(now)),
        Promise.all([k.psi, k.intr, k.softirqs, k.fdUsed, k.sockets, k.irqLines].map(run)),
        nowEnd ? now(Q.hostLast('host', hs, w.rw)) : [], nowEnd ? now(Q.hostPerMin('host', hs)) : [],
        // The gauges' highest and lowest within each step, for the legends
        // (at the steps alone, 30d read load1 max 12 where it reached 27.9,
        // t-user13 on the Host page).
        run(gaugeExtremes(name, 'max', res)), run(gaugeExtremes(name, 'min', res)),
        getJSON('/system/status', signal).catch((e) => (e.name === 'AbortError' ? Promise.reject(e) : {}))]);
      showOutages(down, status.outages, w);
      // The host's agent not up now: every chart's points after its newest
      // sample are over windows reaching past it (dashed, out of min and
      // max; api.markStopped), as a stopped service's.
      const lastAt = hostsStopped(lastR, perMinR, 'host').get(name) ?? null;
      const past = (m) => (lastAt == null ? m : markStopped(m, () => lastAt));
      // Points taken as reaching before the data began (markPartial: no
      // value earlier in the matrix) of a host that had data before: its
      // agent came back after a silence longer than the matrix reaches,
      // and their windows hold that silence (api.markReturns).
      const [rangeM, kernelM] = [rangeR, kernelR].map((ms) => ms.map(past));
      const st = await starts.tell([...rangeM, ...kernelM].flatMap((m) => runsBegan(m, w)), [hs], [`{${hs}}`], w.at, signal);
      const [cores, modes, load, used, cached, swap, dr, dw, busy, rx, tx, err, drop, ior, iow, lr, lw, prx, ptx, ctxt, forks, procs, estab, retrans, tcpErr] = rangeM.map((m) => markReturns(m, w, st));
      const [psi, intr, softirqs, fdUsed, socks, irqLines] = kernelM.map((m) => markReturns(m, w, st));
      const xs = align([], w).xs;
      const ext = extremes(hiR, loR, w);
      // From here to settle() the refresh runs at once (no await).
      place.begin();
      // Every rate panel says its windows in its legend: the points' and
      // the newest one's (now, over 1m at most).
      for (const c of [C.cores, C.modes, C.disk, C.busy, C.net, C.iops, C.dlat, C.err, C.pkts, C.ctxt, C.tcp, C.psi, C.intr, C.irq]) c.chart.window = windows(w);
      C.cores.chart.update(xs, lines(cores, w, ['cpu'], 'cpu ').sort((a, b) => a.label.localeCompare(b.label, 'en', {numeric: true})), 'No CPU metrics for this host');
      C.modes.chart.update(xs, lines(modes, w, ['mode']).map((s) => ({...s, color: MODE_COLORS[s.label] || MODE_COLORS.other})), 'No CPU metrics for this host');
      C.load.chart.update(xs, lines(load, w, ['__name__']).map((s) => ext({...s, label: s.label.replace('node_', '')}, s.label)), 'No load metrics for this host');
      C.mem.chart.update(xs, [...lines(used, w, [], 'used').map((s) => ext(s, 'mem:used')), ...lines(cached, w, [], 'cache+buffers').map((s) => ext(s, 'mem:cache')),
        ...lines(swap, w, [], 'swap used').map((s) => ext(s, 'mem:swap'))]
        .map((s) => ({...s, label: s.label.replace(/\{\}$/, '')})), 'No memory metrics for this host');
      C.disk.chart.update(xs, [...lines(dr, w, ['device'], 'read '), ...lines(dw, w, ['device'], 'written ')], 'No disk metrics for this host');
      C.busy.chart.update(xs, lines(busy, w, ['device']), 'No disk metrics for this host');
      C.net.chart.update(xs, [...lines(rx, w, ['device'], 'rx '), ...lines(tx, w, ['device'], 'tx ')], 'No network metrics for this host');
      C.err.chart.update(xs, [...lines(err, w, ['device'], 'errors '), ...lines(drop, w, ['device'], 'drops ')], 'No network error counters for this host');
      C.iops.chart.update(xs, [...lines(ior, w, ['device'], 'reads '), ...lines(iow, w, ['device'], 'writes ')], 'No disk metrics for this host');
      C.dlat.chart.update(xs, [...lines(lr, w, ['device'], 'read '), ...lines(lw, w, ['device'], 'write ')], 'No disk I/O completed in this range');
      C.pkts.chart.update(xs, [...lines(prx, w, ['device'], 'rx '), ...lines(ptx, w, ['device'], 'tx ')], 'No network metrics for this host');
      // Series the agent has only since it collects them: an older agent's host says so.
      const newer = 'Not collected by this host\'s agent (gmc agent reports it since 2026-12)';
      C.ctxt.chart.update(xs, [...lines(ctxt, w, [], 'context switches'), ...lines(forks, w, [], 'forks')].map((s) => ({...s, label: s.label.replace(/\{\}$/, '')})), newer);
      C.procs.chart.update(xs, lines(procs, w, ['__name__']).map((s) => ext({...s, label: s.label.replace('node_procs_', '')}, s.label)), newer);
      C.tcp.chart.update(xs, [...lines(estab, w, [], 'established').map((s) => ext(s, 'tcp:estab')), ...lines(retrans, w, [], 'retransmits/s'), ...lines(tcpErr, w, [], 'input errors/s')]
        .map((s) => ({...s, label: s.label.replace(/\{\}$/, '')})), newer);

      kernelPanels(C, xs, w, ext, {psi, intr, softirqs, fdUsed, socks, irqLines, parts: instantBy(parts, 'collector'), fdNow: scalarOf(fdNow), fdMax: scalarOf(fdMaxNow)});

      const totalMem = scalarOf(total);
      const usedNow = used.length ? used[0].values.at(-1) : null;
      const avail = instantBy(fsAvail, 'mountpoint');
      const size = instantBy(fsSize, 'mountpoint');
      const free = instantBy(fsFree, 'mountpoint');
      const nf = instantBy(files, 'mountpoint');
      const nff = instantBy(filesFree, 'mountpoint');
      // The host's agent not up: the gauges' last values are from before it stopped.
      const silent = lastAt != null ? ` · last sample ${clock(lastAt * 1000)} (the agent is not up)` : '';
      // Patched, not rebuilt (util.patch): on Live this runs every second.
      patch(kpis, [
        kpi('Cores', nCores.length ? String(scalarOf(nCores)) : '–'),
        kpi('Memory', totalMem != null ? units.bytes.fmt(totalMem) : '–', null, usedNow ? `${units.bytes.fmt(parseFloat(usedNow[1]))} used` + silent : ''),
        kpi('Uptime', scalarOf(boot) != null ? ago(Date.now() / 1000 - scalarOf(boot)) : '–', null, scalarOf(boot) != null ? 'since ' + when(new Date(scalarOf(boot) * 1000)) : ''),
        kpi('Load 1m', load.length ? num(parseFloat((load.find((s) => s.metric.__name__ === 'node_load1') || load[0]).values.at(-1)[1])) : '–', null, silent.slice(3) || null),
        kpi('File handles', scalarOf(fdNow) != null ? units.count.fmt(scalarOf(fdNow)) : '–', null,
          scalarOf(fdNow) != null && scalarOf(fdMaxNow) ? `now, of ${units.count.fmt(scalarOf(fdMaxNow))} max (${units.pct.fmt(100 * scalarOf(fdNow) / scalarOf(fdMaxNow))})` : '', scalarOf(fdNow)),
        kpi('Services', String(svcs.length), null, svcs.map((s) => s.metric.service).sort().join(', '))]);
      patch(head, [h('h1', {}, 'Host ' + name), h('span', {class: 'muted'}, svcs.length ? 'runs ' : 'no service reports this host',
        svcs.map((s) => s.metric.service).sort().map((s, i) => [i ? ', ' : '', h('a', {href: ctx.href('service', s)}, s)]))]);
      const mps = [...size.keys()].sort();
      patch(fs.body, [h('table', {class: 'tbl', 'data-rows': mps.length},
        h('thead', {}, h('tr', {}, [['Mount point'], ['Used', 'as df counts it: used = size − free, use % = used ÷ (used + available); the reserve is neither'],
          ['Available', 'to users other than root (df\'s Avail)'], ['Reserved', 'free blocks only root may use (ext4 reserves 5 % by default): free − available'],
          ['Size'], ['Inodes used']].map(([t, title]) => h('th', {title}, t)))),
        h('tbody', {}, mps.length ? mps.map((m) => {
          const fi = nf.get(m);
          const ip = fi && nff.has(m) ? 100 * (1 - nff.get(m) / fi) : null;
          return h('tr', {'data-mount': m},
            h('td', {}, m), h('td', {'data-col': 'used'}, fsUsedBar(size.get(m), free.get(m), avail.get(m))),
            h('td', {class: 'num', 'data-col': 'avail'}, units.bytes.fmt(avail.get(m))),
            h('td', {class: 'num', 'data-col': 'reserved'}, free.has(m) && avail.has(m) ? units.bytes.fmt(Math.max(0, free.get(m) - avail.get(m))) : '–'),
            h('td', {class: 'num'}, units.bytes.fmt(size.get(m))),
            h('td', {class: 'num', 'data-col': 'inodes'}, ip != null ? `${units.pct.fmt(ip)} of ${units.count.fmt(fi)}` : '–'));
        })
          : h('tr', {}, h('td', {colspan: 6, class: 'muted'}, 'No filesystem metrics for this host.'))))]);
      place.settle();
    },
    destroy() {
      Object.values(C).forEach((c) => c.chart.destroy());
      if (place) place.destroy();
    },
  };
}

/**
 * gaugeExtremes is the PromQL of the host's gauge rows' highest (f = 'max')
 * or lowest ('min') value within each point's window (lb, see
 * api.queryRange), each labelled row=its key: exact for a row of one
 * series (load, processes, TCP established, file handles, sockets);
 * memory used and swap used as total − available (free) at its lowest
 * (highest), exact while the total holds; cache+buffers, a sum of two,
 * read every res seconds.
 */
export function gaugeExtremes(name, f, res) {
  const hs = `host=${JSON.stringify(name)}`;
  const g = (f === 'max' ? 'min' : 'max');
  const row = (key, e) => `label_replace(${e}, "row", "${key}", "", "")`;
  const one = (m) => (lb) => `max(${f}_over_time(${m}{${hs}}[${lb}]))`;
  const rows = [
    ...['node_load1', 'node_load5', 'node_load15', 'node_procs_running', 'node_procs_blocked', ...Object.keys(SOCK_LABELS)].map((m) => [m, one(m)]),
    ['tcp:estab', (lb) => `sum(${f}_over_time(node_netstat_Tcp_CurrEstab{${hs}}[${lb}]))`],
    ['fd', one('node_filefd_allocated')],
    ['mem:used', (lb) => `sum(${f}_over_time(node_memory_MemTotal_bytes{${hs}}[${lb}]) - ${g}_over_time(node_memory_MemAvailable_bytes{${hs}}[${lb}]))`],
    ['mem:swap', (lb) => `sum(${f}_over_time(node_memory_SwapTotal_bytes{${hs}}[${lb}]) - ${g}_over_time(node_memory_SwapFree_bytes{${hs}}[${lb}]))`],
    ['mem:cache', (lb) => `${f}_over_time(sum(node_memory_Cached_bytes{${hs}} + node_memory_Buffers_bytes{${hs}})[${lb}:${res}s])`],
  ];
  return (lb) => rows.map(([k, e]) => row(k, e(lb))).join(' or ');
}

/**
 * extremes reads gaugeExtremes' answers (hi, lo: matrices) into a function
 * giving a legend series (s) its lo and hi under its row key: the lowest
 * and highest within the steps where it has a point (the first step's
 * window is before the range: left out).
 */
export function extremes(hi, lo, w) {
  const by = (m) => {
    const A = align(m, w);
    return new Map(m.map((s, i) => [s.metric.row, A.ys[i].map((v, j) => (j === 0 ? null : v))]));
  };
  const H = by(hi);
  const L = by(lo);
  const pick = (ext, ys, f) => (ext ? ext.filter((v, i) => v != null && ys[i] != null).reduce((a, v) => (a == null ? v : f(a, v)), null) : null);
  return (s, key) => {
    const h0 = pick(H.get(key), s.data, Math.max);
    const l0 = pick(L.get(key), s.data, Math.min);
    return h0 == null && l0 == null ? s : {...s, hi: h0, lo: l0};
  };
}

/**
 * fsUsedBar is a filesystem's use as df gives it: used = size − free,
 * use % = used ÷ (used + available), so the blocks reserved for root
 * count neither as used nor as available (1 − available ÷ size read 75.5 %
 * used where df said 33 %). With no free figure (an agent before it
 * reported node_filesystem_free_bytes) the bar says "not available to
 * users", reserve included, rather than "used".
 */
export function fsUsedBar(size, free, avail) {
  if (size == null || avail == null || !(size > 0)) return bar(null, '–');
  const tone = (p) => (p >= 90 ? 'bad' : p >= 75 ? 'warn' : 'good');
  if (free == null) {
    const p = 100 * (1 - avail / size);
    const b = bar(p / 100, `${units.pct.fmt(p)} not available to users (reserved blocks included)`, tone(p));
    b.dataset.pct = String(p);
    return b;
  }
  const used = Math.max(0, size - free);
  const p = used + avail > 0 ? (100 * used) / (used + avail) : 0;
  const b = bar(p / 100, `${units.pct.fmt(p)} · ${units.bytes.fmt(used)}`, tone(p));
  b.dataset.pct = String(p);
  return b;
}

/**
 * kernel is the PromQL of the host page's kernel rows (agent parts
 * pressure, stat, filefd, sockstat; node_exporter names), rates over rw.
 */
export function kernel(name, rw) {
  const hs = `host=${JSON.stringify(name)}`;
  const psi = (res, kind) => `100 * sum(rate(node_pressure_${res}_${kind}_seconds_total{${hs}}[${rw}]))`;
  return {
    // Per resource: "some" (at least one task waited) and "full" (all non-idle tasks stalled), % of wall time.
    psi: [['cpu', 'waiting'], ['memory', 'waiting'], ['memory', 'stalled'], ['io', 'waiting'], ['io', 'stalled'], ['irq', 'stalled']]
      .map(([r, kd]) => `label_replace(${psi(r, kd)}, "psi", "${r}: ${kd === 'waiting' ? 'some waiting' : 'all stalled'}", "", "")`).join(' or '),
    intr: `sum(rate(node_intr_total{${hs}}[${rw}]))`,
    softirqs: `sum by (vector) (rate(node_softirqs_total{${hs}}[${rw}]))`,
    // Per IRQ line, all CPUs (node_interrupts_total: the agent's host.interrupts, off by default).
    irqLines: `sum by (type, info, devices) (rate(node_interrupts_total{${hs}}[${rw}]))`,
    fdUsed: `max(node_filefd_allocated{${hs}})`,
    fdMax: `max(node_filefd_maximum{${hs}})`,
    sockets: `max by (__name__) ({__name__=~"node_sockstat_(sockets_used|TCP_(inuse|alloc|tw|orphan)|UDP_inuse|TCP6_inuse|UDP6_inuse)", ${hs}})`,
    // Which kernel parts the agent reports: no series for a part = the kernel lacks its file (or an older agent).
    parts: `max by (collector) (gmc_agent_collector_success{collector=~"stat|pressure|filefd|sockstat", ${hs}})`,
  };
}

const SOCK_LABELS = {
  node_sockstat_sockets_used: 'sockets (all kinds)', node_sockstat_TCP_inuse: 'TCP in use', node_sockstat_TCP_alloc: 'TCP allocated',
  node_sockstat_TCP_tw: 'TCP time-wait', node_sockstat_TCP_orphan: 'TCP orphaned', node_sockstat_UDP_inuse: 'UDP in use',
  node_sockstat_TCP6_inuse: 'TCP6 in use', node_sockstat_UDP6_inuse: 'UDP6 in use',
};
const SOCK_ORDER = Object.keys(SOCK_LABELS);

/**
 * clampPct draws shares of time at most 100 %: a rate of a seconds
 * counter passes 1 s/s when its samples' times jitter (push time, not read
 * time: 102 % cpu waiting at load 32, t-user4 #4). Returns the series,
 * how many points were over and the highest raw value, for the note.
 */
export function clampPct(series) {
  let over = 0;
  let max = null;
  const out = series.map((s) => ({...s, data: keepPartial(s.data, s.data.map((v) => {
    if (v == null || v <= 100) return v;
    over++;
    max = max == null ? v : Math.max(max, v);
    return 100;
  }))}));
  return {series: out, over, max};
}

/**
 * kernelPanels draws pressure, interrupts, file handles and sockets, each
 * with its window in the note; an empty panel says why: the agent reports
 * the other kernel parts but not this one (the host's kernel lacks the
 * file), or none of them (an agent before 2026-12-04).
 */
function kernelPanels(C, xs, w, ext, d) {
  const agentHas = d.parts.size > 0 && [...d.parts.keys()].some((p) => p !== 'stat');
  const why = (part, what) => (agentHas && !d.parts.has(part)
    ? `This host's kernel does not provide ${what} (its agent reports no ${part} part)`
    : d.parts.get(part) === 0 ? `The agent failed to read ${what} (gmc_agent_collector_success{collector="${part}"} is 0)`
      : `No ${what} from this host's agent (gmc agent reports it since 2026-12-04)`);
  const bare = (s) => ({...s, label: s.label.replace(/\{\}$/, '')});
  const psiOrder = ['cpu: some waiting', 'memory: some waiting', 'memory: all stalled', 'io: some waiting', 'io: all stalled', 'irq: all stalled'];
  const psi = clampPct(lines(d.psi, w, ['psi']));
  setText(C.psi.card.note, '% of time' + (psi.over ? `; ${psi.over} point${psi.over > 1 ? 's' : ''} over 100 % (up to ${units.pct.fmt(psi.max)}) drawn at 100 %` : ''));
  C.psi.card.note.title = 'some waiting: at least one task waited for the resource; all stalled: every non-idle task did (PSI "some" and "full")' +
    (psi.over ? '. A share of time cannot pass 100 %: the rate passes it when the counter\'s samples carry the times they were pushed, not read (they jitter under load)' : '');
  C.psi.chart.update(xs, psi.series.sort((a, b) => psiOrder.indexOf(a.label) - psiOrder.indexOf(b.label)), why('pressure', 'pressure stall information (PSI: Linux ≥ 4.20, not booted with psi=0)'));
  setText(C.intr.card.note, 'per second');
  C.intr.card.note.title = 'hardware interrupts (all IRQs), and softirqs by vector; vectors with none in the range are left out';
  const soft = lines(d.softirqs, w, ['vector'], 'softirq ').filter((s) => s.data.some((v) => v != null && v > 0));
  C.intr.chart.update(xs, [...lines(d.intr, w, [], 'interrupts').map(bare), ...soft], why('stat', 'interrupt counts'));
  setText(C.fds.card.note, d.fdMax ? `allocated, of ${units.count.fmt(d.fdMax)} max (fs.file-max)` : 'allocated, system-wide');
  C.fds.chart.update(xs, lines(d.fdUsed, w, [], 'allocated').map((s) => ext(bare(s), 'fd')), why('filefd', 'file handle counts (/proc/sys/fs/file-nr)'));
  setText(C.socks.card.note, 'count at each sample (sockstat)');
  C.socks.card.note.title = 'from /proc/net/sockstat and sockstat6: all sockets of the host (its "sockets: used", unix sockets included), TCP by state, UDP, and IPv6';
  const socks = lines(d.socks, w, ['__name__']).map((s) => ext({...s, key: s.label, label: SOCK_LABELS[s.label] || s.label}, s.label))
    .sort((a, b) => SOCK_ORDER.indexOf(a.key) - SOCK_ORDER.indexOf(b.key));
  C.socks.chart.update(xs, socks, why('sockstat', 'socket counts (/proc/net/sockstat)'));
  // Only where the agent reports per-IRQ counts (host.interrupts: true); the 8 busiest lines over the range.
  C.irq.card.el.hidden = !d.irqLines.length;
  if (d.irqLines.length) {
    // Named by IRQ and its devices (their trigger, "1-edge", dropped) or its description ("LOC Local timer interrupts").
    const top = lines(d.irqLines, w, ['type']).map((s, i) => {
      const m = d.irqLines[i].metric;
      const dev = (m.devices || '').replace(/^\S+-(edge|level|fasteoi)\s+/, '');
      return {...s, label: `${m.type} ${dev || m.info || ''}`.trim(), peak: Math.max(0, ...s.data.filter((v) => v != null))};
    })
      .sort((a, b) => b.peak - a.peak);
    setText(C.irq.card.note, 'per second, all CPUs' + (top.length > 8 ? ` · top 8 of ${top.length}` : ''));
    C.irq.chart.update(xs, top.slice(0, 8), 'No interrupts in this range');
  }
}

/**
 * MODE_COLORS gives each CPU mode its own colour, far apart from the others
 * (by palette index, softirq and user came out two near-identical blues).
 */
export const MODE_COLORS = {
  user: '#4cc2ff', system: '#ffb547', iowait: '#ff7b72', softirq: '#d2a8ff', irq: '#f778ba', nice: '#7ee787',
  steal: '#bf4b8a', guest: '#8b949e', guest_nice: '#f0f6fc', other: '#2ea043',
};

