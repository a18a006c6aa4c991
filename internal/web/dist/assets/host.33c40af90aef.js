// Host page: one machine as the agent sees it (node_exporter names, joined
// on the host label): per-core CPU, CPU by mode, load, memory,
// filesystems (space and inodes), disk I/O, IOPS and latency, network
// bytes, packets, errors and drops, context switches, forks, processes,
// TCP connections and retransmits, uptime, and the services on it — the
// rows of Grafana's "Node Exporter Full" the agent collects (not: pressure,
// interrupts, file descriptors, sockstat, which it does not).
import {query, queryRange, align, lines, scalarOf, instantBy, labelValues} from './api.js';
import {LineChart, card, panel} from './chart.js';
import {h, units, bar, num, kpi, ago, when} from './util.js';
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
  } : {};
  main.append(head, kpis, grid, fs.el);

  return {
    async refresh(w, signal) {
      if (!name) {
        const hosts = await labelValues('host', 'node_cpu_seconds_total', w, signal);
        head.replaceChildren(h('h1', {}, 'Hosts'));
        fs.el.hidden = true;
        grid.replaceChildren(h('ul', {class: 'hosts'}, hosts.length ? hosts.map((x) => h('li', {}, h('a', {href: ctx.href('host', x)}, x)))
          : h('li', {class: 'muted'}, 'No agent reports a host label yet.')));
        return;
      }
      const q = Q.host(name, w.rw);
      const run = (e) => queryRange(e, w, signal);
      const now = (e) => query(e, null, signal);
      const [[cores, modes, load, used, cached, swap, dr, dw, busy, rx, tx, err, drop, ior, iow, lr, lw, prx, ptx, ctxt, forks, procs, estab, retrans, tcpErr],
        [nCores, total, fsUsed, fsAvail, fsSize, svcs, files, filesFree, boot]] = await Promise.all([
        Promise.all([q.cpuCores, q.cpuModes, q.load, q.memUsed, q.memCached, q.swapUsed, q.diskRead, q.diskWrite, q.diskBusy, q.netRx, q.netTx, q.netErr, q.netDrop,
          q.diskIOPS, q.diskWIOPS, q.diskRLat, q.diskWLat, q.netPktRx, q.netPktTx, q.ctxt, q.forks, q.procs, q.tcpEstab, q.tcpRetrans, q.tcpErr].map(run)),
        Promise.all([q.cores, q.memTotal, q.fsUsed, q.fsAvail, q.fsSize, q.services, q.fsFiles, q.fsFilesFree, q.boot].map(now))]);
      const xs = align([], w).xs;
      C.cores.chart.update(xs, lines(cores, w, ['cpu'], 'cpu ').sort((a, b) => a.label.localeCompare(b.label, 'en', {numeric: true})), 'No CPU metrics for this host');
      C.modes.chart.update(xs, lines(modes, w, ['mode']), 'No CPU metrics for this host');
      C.load.chart.update(xs, lines(load, w, ['__name__']).map((s) => ({...s, label: s.label.replace('node_', '')})), 'No load metrics for this host');
      C.mem.chart.update(xs, [...lines(used, w, [], 'used'), ...lines(cached, w, [], 'cache+buffers'), ...lines(swap, w, [], 'swap used')]
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
      C.procs.chart.update(xs, lines(procs, w, ['__name__']).map((s) => ({...s, label: s.label.replace('node_procs_', '')})), newer);
      C.tcp.chart.update(xs, [...lines(estab, w, [], 'established'), ...lines(retrans, w, [], 'retransmits/s'), ...lines(tcpErr, w, [], 'input errors/s')]
        .map((s) => ({...s, label: s.label.replace(/\{\}$/, '')})), newer);

      const totalMem = scalarOf(total);
      const usedNow = used.length ? used[0].values.at(-1) : null;
      const avail = instantBy(fsAvail, 'mountpoint');
      const size = instantBy(fsSize, 'mountpoint');
      const pct = instantBy(fsUsed, 'mountpoint');
      const nf = instantBy(files, 'mountpoint');
      const nff = instantBy(filesFree, 'mountpoint');
      kpis.replaceChildren(
        kpi('Cores', nCores.length ? String(scalarOf(nCores)) : '–'),
        kpi('Memory', totalMem != null ? units.bytes.fmt(totalMem) : '–', null, usedNow ? `${units.bytes.fmt(parseFloat(usedNow[1]))} used` : ''),
        kpi('Uptime', scalarOf(boot) != null ? ago(Date.now() / 1000 - scalarOf(boot)) : '–', null, scalarOf(boot) != null ? 'since ' + when(new Date(scalarOf(boot) * 1000)) : ''),
        kpi('Load 1m', load.length ? num(parseFloat((load.find((s) => s.metric.__name__ === 'node_load1') || load[0]).values.at(-1)[1])) : '–'),
        kpi('Services', String(svcs.length), null, svcs.map((s) => s.metric.service).sort().join(', ')));
      head.replaceChildren(h('h1', {}, 'Host ' + name), h('span', {class: 'muted'}, svcs.length ? 'runs ' : 'no service reports this host',
        svcs.map((s) => s.metric.service).sort().map((s, i) => [i ? ', ' : '', h('a', {href: ctx.href('service', s)}, s)])));
      const mps = [...size.keys()].sort();
      fs.body.replaceChildren(h('table', {class: 'tbl', 'data-rows': mps.length},
        h('thead', {}, h('tr', {}, ['Mount point', 'Used', 'Available', 'Size', 'Inodes used'].map((t) => h('th', {}, t)))),
        h('tbody', {}, mps.length ? mps.map((m) => {
          const fi = nf.get(m);
          const ip = fi && nff.has(m) ? 100 * (1 - nff.get(m) / fi) : null;
          return h('tr', {'data-mount': m},
            h('td', {}, m), h('td', {}, bar(pct.has(m) ? 1 - pct.get(m) / 100 : null, units.pct.fmt(pct.get(m)))),
            h('td', {class: 'num'}, units.bytes.fmt(avail.get(m))), h('td', {class: 'num'}, units.bytes.fmt(size.get(m))),
            h('td', {class: 'num', 'data-col': 'inodes'}, ip != null ? `${units.pct.fmt(ip)} of ${units.count.fmt(fi)}` : '–'));
        })
          : h('tr', {}, h('td', {colspan: 5, class: 'muted'}, 'No filesystem metrics for this host.')))));
    },
    destroy() { Object.values(C).forEach((c) => c.chart.destroy()); },
  };
}
