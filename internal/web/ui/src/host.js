// Host page: one machine as the agent sees it (node_exporter names, joined
// on the host label): per-core CPU, CPU by mode, load, memory,
// filesystems, disk and network I/O and errors, and the services on it —
// the main rows of Grafana's "Node Exporter Full".
import {query, queryRange, align, lines, scalarOf, instantBy, labelValues} from './api.js';
import {LineChart, card, panel} from './chart.js';
import {h, units, bar, num, kpi} from './util.js';
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
    err: mk('host-net-errors', 'Network errors', 'errors (else drops) per second', units.rate),
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
      const [[cores, modes, load, used, cached, swap, dr, dw, busy, rx, tx, err], [nCores, total, fsUsed, fsAvail, fsSize, svcs]] = await Promise.all([
        Promise.all([q.cpuCores, q.cpuModes, q.load, q.memUsed, q.memCached, q.swapUsed, q.diskRead, q.diskWrite, q.diskBusy, q.netRx, q.netTx, q.netErr].map(run)),
        Promise.all([q.cores, q.memTotal, q.fsUsed, q.fsAvail, q.fsSize, q.services].map(now))]);
      const xs = align([], w).xs;
      C.cores.chart.update(xs, lines(cores, w, ['cpu'], 'cpu ').sort((a, b) => a.label.localeCompare(b.label, 'en', {numeric: true})), 'No CPU metrics for this host');
      C.modes.chart.update(xs, lines(modes, w, ['mode']), 'No CPU metrics for this host');
      C.load.chart.update(xs, lines(load, w, ['__name__']).map((s) => ({...s, label: s.label.replace('node_', '')})), 'No load metrics for this host');
      C.mem.chart.update(xs, [...lines(used, w, [], 'used'), ...lines(cached, w, [], 'cache+buffers'), ...lines(swap, w, [], 'swap used')]
        .map((s) => ({...s, label: s.label.replace(/\{\}$/, '')})), 'No memory metrics for this host');
      C.disk.chart.update(xs, [...lines(dr, w, ['device'], 'read '), ...lines(dw, w, ['device'], 'written ')], 'No disk metrics for this host');
      C.busy.chart.update(xs, lines(busy, w, ['device']), 'No disk metrics for this host');
      C.net.chart.update(xs, [...lines(rx, w, ['device'], 'rx '), ...lines(tx, w, ['device'], 'tx ')], 'No network metrics for this host');
      C.err.chart.update(xs, lines(err, w, ['device']), 'No network error counters for this host');

      const totalMem = scalarOf(total);
      const usedNow = used.length ? used[0].values.at(-1) : null;
      const avail = instantBy(fsAvail, 'mountpoint');
      const size = instantBy(fsSize, 'mountpoint');
      const pct = instantBy(fsUsed, 'mountpoint');
      kpis.replaceChildren(
        kpi('Cores', nCores.length ? String(scalarOf(nCores)) : '–'),
        kpi('Memory', totalMem != null ? units.bytes.fmt(totalMem) : '–', null, usedNow ? `${units.bytes.fmt(parseFloat(usedNow[1]))} used` : ''),
        kpi('Load 1m', load.length ? num(parseFloat((load.find((s) => s.metric.__name__ === 'node_load1') || load[0]).values.at(-1)[1])) : '–'),
        kpi('Services', String(svcs.length), null, svcs.map((s) => s.metric.service).sort().join(', ')));
      head.replaceChildren(h('h1', {}, 'Host ' + name), h('span', {class: 'muted'}, svcs.length ? 'runs ' : 'no service reports this host',
        svcs.map((s) => s.metric.service).sort().map((s, i) => [i ? ', ' : '', h('a', {href: ctx.href('service', s)}, s)])));
      const mps = [...size.keys()].sort();
      fs.body.replaceChildren(h('table', {class: 'tbl', 'data-rows': mps.length},
        h('thead', {}, h('tr', {}, ['Mount point', 'Used', 'Available', 'Size'].map((t) => h('th', {}, t)))),
        h('tbody', {}, mps.length ? mps.map((m) => h('tr', {},
          h('td', {}, m), h('td', {}, bar(pct.has(m) ? 1 - pct.get(m) / 100 : null, units.pct.fmt(pct.get(m)))),
          h('td', {class: 'num'}, units.bytes.fmt(avail.get(m))), h('td', {class: 'num'}, units.bytes.fmt(size.get(m)))))
          : h('tr', {}, h('td', {colspan: 4, class: 'muted'}, 'No filesystem metrics for this host.')))));
    },
    destroy() { Object.values(C).forEach((c) => c.chart.destroy()); },
  };
}
