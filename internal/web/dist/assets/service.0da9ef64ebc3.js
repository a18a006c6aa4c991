// Service page: latency percentiles and heatmap, TPS, and the CPU, memory,
// disk and network of its processes and hosts.
import {getJSON, queryRange, labelValues, align, last, seriesName} from './api.js';
import {LineChart, HeatmapChart, card, PALETTE} from './chart.js';
import {h, units, pill, ago, reEsc} from './util.js';
import {kpi} from './overview.js';
import * as Q from './queries.js';

export function mount(main, ctx) {
  const name = ctx.arg;
  const head = h('div', {class: 'page-head'}, h('h1', {}, name || 'Service'));
  const kpis = h('div', {class: 'kpis'});
  const grid = h('div', {class: 'grid'});
  const mk = (title, note, Chart, opts) => {
    const c = card(title, {note});
    grid.append(c.el);
    return {card: c, chart: new Chart(c.body, opts)};
  };
  const P = {
    lat: mk('Order latency', 'p50 · p90 · p99', LineChart, {id: 'latency', unit: units.us, bands: [[3, 1]]}),
    heat: mk('Latency distribution', 'histogram heatmap', HeatmapChart, {id: 'heatmap'}),
    tps: mk('Throughput', 'orders/s by result', LineChart, {id: 'tps', unit: units.rate, min: 0}),
    pcpu: mk('Process CPU', 'by host', LineChart, {id: 'proc-cpu', unit: units.pct, min: 0}),
    pmem: mk('Process memory', 'resident, by host', LineChart, {id: 'proc-mem', unit: units.bytes, min: 0}),
    hcpu: mk('Host CPU', 'busy, by host', LineChart, {id: 'host-cpu', unit: units.pct, min: 0}),
    hmem: mk('Host memory', 'used, by host', LineChart, {id: 'host-mem', unit: units.bytes, min: 0}),
    hdisk: mk('Host disk I/O', 'read + written, by host', LineChart, {id: 'host-disk', unit: units.bps, min: 0}),
    hnet: mk('Host network', 'received / sent, by host', LineChart, {id: 'host-net', unit: units.bps, min: 0}),
  };
  main.append(head, kpis, grid);

  return {
    async refresh(w, signal) {
      if (!name) throw new Error('no service named in the URL');
      const [status, inst, hostL] = await Promise.all([
        getJSON('/system/status', signal),
        labelValues('instance', `{service=${JSON.stringify(name)}}`, w, signal),
        labelValues('host', `{service=${JSON.stringify(name)}}`, w, signal),
      ]);
      const hosts = [...new Set([...inst, ...hostL])].sort();
      const q = Q.service(name, w.rw, hosts.length ? hosts.map(reEsc).join('|') : '$^');
      const run = (e) => queryRange(e, w, signal);
      const [p50, p90, p99, pushed, nat, cls, tps, pcpu, pmem, hcpu, hmem, hdisk, rx, tx] = await Promise.all(
        [q.p50, q.p90, q.p99, q.pushedLatency, q.native, q.classic, q.tps, q.procCPU, q.procMem, q.hostCPU, q.hostMem, q.hostDisk, q.hostNetRx, q.hostNetTx].map(run));

      const st = (status.services || []).find((s) => s.service === name);
      head.replaceChildren(h('h1', {}, name), st ? pill(st.state) : pill('unknown', 'unknown service'),
        h('span', {class: 'muted'}, st && st.age_seconds != null ? `last seen ${ago(st.age_seconds)} ago · ${st.series} series` : ''),
        hosts.length ? h('span', {class: 'muted'}, ' · instances: ' + hosts.join(', ')) : null);

      // Latency percentiles; the JSON-pushed latency_us when no histogram.
      const A = align([...p50, ...p90, ...p99], w);
      let lat;
      if (p50.length + p90.length + p99.length) {
        const pick = (res, i) => (res.length ? A.ys[i] : A.xs.map(() => null));
        lat = [{label: 'p50', data: pick(p50, 0), color: PALETTE[2]},
          {label: 'p90', data: pick(p90, p50.length), color: PALETTE[1]},
          {label: 'p99', data: pick(p99, p50.length + p90.length), color: PALETTE[3], width: 2}];
        P.lat.card.note.textContent = 'p50 · p90 · p99';
      } else {
        const B = align(pushed, w);
        lat = pushed.map((s, i) => ({label: 'latency ' + seriesName(s.metric, ['instance']), data: B.ys[i]}));
        P.lat.card.note.textContent = 'pushed latency_us';
      }
      P.lat.chart.bandsSpec = lat.length === 3 ? [[3, 1]] : null;
      P.lat.chart.update(A.xs, lat, 'No latency data for this service');

      P.heat.chart.update(A.xs, w.step, nat.length ? nativeColumns(nat[0], w) : classicColumns(cls, w));

      const lines = (res, labels, prefix = '') => {
        const B = align(res, w);
        return res.map((s, i) => ({label: prefix + seriesName(s.metric, labels), data: B.ys[i]}));
      };
      const tpsS = lines(tps, ['result', 'instance']);
      P.tps.chart.update(A.xs, tpsS.map((s) => ({...s, color: {success: PALETTE[2], reject: PALETTE[1], error: PALETTE[3]}[s.label]})));
      P.pcpu.chart.update(A.xs, lines(pcpu, ['instance']), 'No process metrics for this service');
      P.pmem.chart.update(A.xs, lines(pmem, ['instance']), 'No process metrics for this service');
      const noHost = hosts.length ? 'No host metrics from this service\'s hosts' : 'No instances known for this service';
      P.hcpu.chart.update(A.xs, lines(hcpu, ['instance']), noHost);
      P.hmem.chart.update(A.xs, lines(hmem, ['instance']), noHost);
      P.hdisk.chart.update(A.xs, lines(hdisk, ['instance']), noHost);
      P.hnet.chart.update(A.xs, [...lines(rx, ['instance'], 'rx '), ...lines(tx, ['instance'], 'tx ')], noHost);

      const tot = tpsS.reduce((a, s) => a + (last(s.data) || 0), 0);
      const errS = tpsS.filter((s) => s.label === 'reject' || s.label === 'error').reduce((a, s) => a + (last(s.data) || 0), 0);
      kpis.replaceChildren(
        kpi('Throughput', units.rate.fmt(tot)),
        kpi('p50', units.us.fmt(last(lat[0] ? lat[0].data : []))),
        kpi('p99', units.us.fmt(last(lat[lat.length - 1] ? lat[lat.length - 1].data : []))),
        kpi('Error rate', tot ? units.pct.fmt((100 * errS) / tot) : '–', errS > 0 ? 'warn' : null),
        kpi('Hosts', String(hosts.length)));
    },
    destroy() { Object.values(P).forEach((p) => p.chart.destroy()); },
  };
}

/**
 * nativeColumns turns a native-histogram range result (rate per bucket) into
 * heatmap columns in µs, merging the fine buckets into 8 per decade.
 */
export function nativeColumns(series, w) {
  const n = Math.floor((w.end - w.start) / w.step) + 1;
  const cols = new Array(n).fill(null);
  for (const [t, hist] of series.histograms || []) {
    const i = Math.round((t - w.start) / w.step);
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
  const n = Math.floor((w.end - w.start) / w.step) + 1;
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
