// Live: the 1-second range fetches only what is new. A RangeCache keeps
// each expression's last answer on a fixed step grid; a refresh asks the
// server for what changed since (gmc leaves out the steps before the
// oldest sample committed since the cached answer: query/changed.go),
// merges the answer by label set (float and native-histogram points
// alike) and drops what left the window. A gmc that does not watch its
// writes (remote storage mode) is asked for the newest `overlap` seconds
// (late pushes inside it are picked up), and every `fullEvery` seconds
// an expression whole again (late pushes and spool replays change older
// points too). A gmc that watches its writes counts the blocks its store
// loads or drops and its deletes too (the SLA backfill's blocks among
// them: storage.LateWrites.WatchStore), so its answers are never re-read
// whole.

/** labelCompare orders label sets as Prometheus sorts a matrix (by name, then value, pair by pair). */
export function labelCompare(a, b) {
  const ka = Object.keys(a).sort();
  const kb = Object.keys(b).sort();
  for (let i = 0; i < Math.min(ka.length, kb.length); i++) {
    if (ka[i] !== kb[i]) return ka[i] < kb[i] ? -1 : 1;
    const va = a[ka[i]];
    const vb = b[kb[i]];
    if (va !== vb) return va < vb ? -1 : 1;
  }
  return ka.length - kb.length;
}

/** seriesKey is a stable key of a label set. */
export function seriesKey(metric) {
  return JSON.stringify(Object.keys(metric).sort().map((k) => [k, metric[k]]));
}

/** labelKey is seriesKey of a metric's labels but __name__ (an expression's series and its counts' alike). */
export function labelKey(metric) {
  return seriesKey(Object.fromEntries(Object.entries(metric || {}).filter(([k]) => k !== '__name__')));
}

/**
 * merge folds a fresh answer covering [from, to] into cached series: the
 * cached points in [from, to] are replaced (a point the fresh answer no
 * longer has is gone), points before `start` are dropped, and so are
 * series left with no point. Series and points are returned in the order a
 * full query would give them.
 */
export function merge(cached, fresh, from, to, start) {
  // A whole answer (nothing cached: a first fetch, or one every
  // fullEvery without gmc's write state) is already what the merge below would make of it when its
  // points are in order from start on and its series in a full query's
  // order, as gmc answers: it is returned as it is, not copied point by
  // point (Live Overview's first answer holds ~42k points).
  if (!cached.length && asMerged(fresh, start)) return fresh;
  const m = new Map();
  const keep = (ps) => (ps || []).filter(([t]) => t >= start && (t < from || t > to));
  for (const s of cached) {
    const v = keep(s.values);
    const hs = keep(s.histograms);
    if (v.length || hs.length) m.set(seriesKey(s.metric), {metric: s.metric, values: v, histograms: hs});
  }
  for (const s of fresh) {
    const k = seriesKey(s.metric);
    let e = m.get(k);
    if (!e) {
      e = {metric: s.metric, values: [], histograms: []};
      m.set(k, e);
    }
    const inside = (ps) => (ps || []).filter(([t]) => t >= start);
    e.values = sorted(e.values.concat(inside(s.values)));
    e.histograms = sorted(e.histograms.concat(inside(s.histograms)));
  }
  const out = [];
  for (const e of m.values()) {
    if (!e.values.length && !e.histograms.length) continue;
    const s = {metric: e.metric};
    if (e.values.length) s.values = e.values;
    if (e.histograms.length) s.histograms = e.histograms;
    out.push(s);
  }
  return out.sort((a, b) => labelCompare(a.metric, b.metric));
}

/**
 * asMerged tells whether a fresh answer is as merge would return it alone:
 * every series with points, each list in time order from start on, no
 * label set twice, the series in labelCompare's order.
 */
function asMerged(fresh, start) {
  for (let i = 0; i < fresh.length; i++) {
    const s = fresh[i];
    const v = s.values;
    const hs = s.histograms;
    // (merge leaves out an empty list, and a series with none.)
    if ((!v && !hs) || (v && !v.length) || (hs && !hs.length)) return false;
    if ((v && !inOrderFrom(v, start)) || (hs && !inOrderFrom(hs, start))) return false;
    if (i > 0 && labelCompare(fresh[i - 1].metric, s.metric) >= 0) return false;
  }
  return true;
}

function inOrderFrom(ps, start) {
  if (ps.length && ps[0][0] < start) return false;
  for (let i = 1; i < ps.length; i++) if (!(ps[i][0] > ps[i - 1][0])) return false;
  return true;
}

function sorted(ps) {
  for (let i = 1; i < ps.length; i++) if (ps[i][0] < ps[i - 1][0]) return ps.slice().sort((a, b) => a[0] - b[0]);
  return ps;
}

/**
 * RangeCache answers range queries on a fixed grid (w.start and w.end
 * multiples of w.step) from cached answers plus the newest overlap.
 * fetch(expr, {start, end, step}, signal) runs one range query.
 */
export class RangeCache {
  constructor({overlap = 30, fullEvery = 60, now = () => Date.now() / 1000} = {}) {
    this.overlap = overlap;
    this.fullEvery = fullEvery;
    this.now = now;
    this.entries = new Map();
    /** stats counts whole and partial fetches (for tests and the curious). */
    this.stats = {full: 0, partial: 0};
  }

  /**
   * get is the answer of expr over w, fetching only what is missing: from
   * a gmc that watches its writes (the cached answer has their state,
   * e.writes) the whole window, which it answers from the first step a
   * commit since can have changed (fresh.from); else the newest overlap.
   * Each answer is asked with since, to learn that state.
   */
  async get(expr, w, signal, fetch) {
    const key = w.step + ' ' + expr;
    const e = this.entries.get(key);
    const now = this.now();
    const ov = Math.ceil(Math.max(this.overlap, w.overlap || 0) / w.step) * w.step;
    const held = e && e.to >= w.start && e.to <= w.end && (e.writes != null || now - e.fullAt < this.fullEvery);
    const partial = held && (e.writes != null || e.to - ov > w.start);
    const asked = partial && e.writes == null ? e.to - ov : w.start;
    const fresh = await fetch(expr, {start: asked, end: w.end, step: w.step, since: partial && e.writes != null ? e.writes : '',
      held: partial && e.writes != null ? e.to : null}, signal);
    // The first step answered: the steps before it are the cached ones.
    const from = fresh.from != null ? Math.max(asked, fresh.from) : asked;
    let result;
    if (partial) {
      result = merge(e.result, fresh, from, w.end, w.start);
      this.stats.partial++;
    } else {
      result = merge([], fresh, w.start, w.end, w.start);
      this.stats.full++;
    }
    // An answer fetched while an older one was in flight may have been
    // stored meanwhile: the newer window wins.
    const cur = this.entries.get(key);
    if (!cur || cur.to <= w.end) {
      this.entries.set(key, {expr, result, from: w.start, to: w.end, step: w.step, fullAt: partial ? e.fullAt : now, used: now,
        writes: fresh.writes});
    }
    this.prune(now);
    return result;
  }

  /** prune forgets expressions no refresh asked for in the last 30 s. */
  prune(now) {
    for (const [k, e] of this.entries) if (now - e.used > 30) this.entries.delete(k);
  }
}
