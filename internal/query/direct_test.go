package query

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/promql"
	promstorage "github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb/chunkenc"

	"github.com/gmc-dev/gmc/internal/storage"
)

// directCheck evaluates expr directly and through the bare engine over
// start..end at step and fails t where the answers differ: the same series
// in the same order, every point's time and the bits of its value, the
// same error and annotations. It returns whether the query was evaluated
// directly.
func directCheck(t testing.TB, a *API, st *countingQueryable, expr string, start, end time.Time, step time.Duration) bool {
	t.Helper()
	ctx := context.Background()
	p, ok := a.planDirect(expr, step)
	if !ok {
		return false
	}
	q, err := a.engine.NewRangeQuery(ctx, st, nil, expr, start, end, step)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	res := q.Exec(ctx)
	want, _ := res.Matrix()
	got, gotAnnos, done, err := a.evalDirect(ctx, p, start, end, step)
	if !done {
		return false
	}
	where := fmt.Sprintf("%s over %d..%d step %s", expr, start.UnixMilli(), end.UnixMilli(), step)
	if (err != nil) != (res.Err != nil) {
		t.Fatalf("%s: direct error %v, engine error %v", where, err, res.Err)
	}
	if err != nil {
		return true
	}
	if d := matrixDiff(got, want, 0); d != "" {
		t.Errorf("%s: %s", where, d)
	}
	if d := annoDiff(gotAnnos, res.Warnings, expr); d != "" {
		t.Errorf("%s: %s", where, d)
	}
	return true
}

// withNonCounter is ss with req_total's series i="0" and i="2" again
// named req, a name rate and increase note might not be a counter's
// (PossibleNonCounterInfo), in time order.
func withNonCounter(ss []sample) []sample {
	for _, s := range ss {
		if i := s.lset.Get("i"); s.lset.Get(model.MetricNameLabel) == "req_total" && (i == "0" || i == "2") {
			s.lset = labels.NewBuilder(s.lset).Set(model.MetricNameLabel, "req").Labels()
			ss = append(ss, s)
		}
	}
	slices.SortStableFunc(ss, func(a, b sample) int { return cmpInt64(a.t, b.t) })
	return ss
}

// TestDirectEqualsEngine: `sum by (…) (rate|increase(sel[r]))` at steps
// under a minute is evaluated outside the engine, and its answer is the
// engine's bit for bit over counters with resets, partial drops, NaNs,
// staleness markers, jitter, gaps and series that start or stop inside
// the span, on one goroutine and split over two; a read holding a native
// histogram, and every other shape, is left to the engine.
func TestDirectEqualsEngine(t *testing.T) {
	rng := seededRand(t, 23)
	tsdb := openStore(t, withNonCounter(interleaveFixture(t, rng)))
	st := &countingQueryable{Queryable: tsdb}
	exprs := []string{
		`sum by (service) (rate(req_total[1m]))`, `sum(rate(req_total[1m]))`, `sum(increase(other_total[30s]))`,
		`sum by (service) (rate({__name__=~"req(_total)?"}[1m]))`, `sum(increase(req[30s] offset 5s))`, // noted
		`sum by (service) (increase({__name__=~"(req|other)_total"}[2m]))`,
		`sum by (i, service) (rate(req_total[10s] offset 17s))`, `sum by (service) (rate(req_total[90s] offset -10s))`,
		`(sum by (service) ((rate(other_total{service!="a"}[45s]))))`, `sum without () (rate(req_total[1m]))`,
		`sum by (nope) (rate({__name__=~".+_total", service="b"}[1m]))`,
		`sum by (service) (rate(req_total[1500ms]))`,
	}
	// Each also through the decoded-sample cache (as the server reads raw
	// data), twice: decoded into it, then read from it.
	cache := storage.NewDecodedCache(64<<20, nil)
	for _, v := range []struct {
		workers int
		q       promstorage.Queryable
	}{{1, st}, {2, st}, {1, cache.Queryable(tsdb)}, {2, cache.Queryable(tsdb)}, {2, cache.Queryable(tsdb)}} {
		a, err := New(Options{Queryable: v.q, Registerer: prometheus.NewRegistry(), Parallelism: v.workers})
		if err != nil {
			t.Fatal(err)
		}
		direct := 0
		for _, expr := range exprs {
			for range 4 {
				start := time.UnixMilli(int64(rng.IntN(300_000)))
				step := []time.Duration{time.Second, 2 * time.Second, 5 * time.Second, 1500 * time.Millisecond, 15 * time.Second, 59 * time.Second}[rng.IntN(6)]
				end := start.Add(step*time.Duration(20+rng.IntN(1000)) + time.Duration(rng.IntN(1000))*time.Millisecond)
				if directCheck(t, a, st, expr, start, end, step) {
					direct++
				} else if expr != `sum without () (rate(req_total[1m]))` {
					t.Errorf("%s at %s: not evaluated directly", expr, step)
				}
			}
		}
		if direct == 0 {
			t.Fatal("nothing evaluated directly")
		}
		start, end := time.UnixMilli(1000), time.UnixMilli(1_100_000)
		if directCheck(t, a, st, `sum(rate(hist_total[1m]))`, start, end, time.Second) {
			t.Error("a native histogram evaluated directly")
		}
		for _, expr := range []string{
			`rate(req_total[1m])`, `max by (service) (rate(req_total[1m]))`, `sum by (__name__) (rate(req_total[1m]))`,
			`sum(rate(req_total[1m] @ 100))`, `sum(irate(req_total[1m]))`, `sum(rate(req_total[5m:10s]))`,
			`sum(rate(req_total{__tier__="1h"}[1m]))`, `sum(rate(req_total[1m])) * 2`, `sum(rate(req_total[1m] anchored))`,
		} {
			if _, ok := a.planDirect(expr, time.Second); ok {
				t.Errorf("%s: planned directly", expr)
			}
		}
		if _, ok := a.planDirect(`sum(rate(req_total[1m]))`, time.Minute); ok {
			t.Error("a minute's step (tiers) planned directly")
		}
	}
	if cache.Hits() == 0 || cache.Misses() == 0 {
		t.Errorf("decoded cache: %d hits, %d misses: not read through it", cache.Hits(), cache.Misses())
	}
}

// TestDirectMaxSamples: past the engine's max samples the query is left to
// the engine, which refuses it as before.
func TestDirectMaxSamples(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	st := &countingQueryable{Queryable: openStore(t, interleaveFixture(t, rng))}
	a, err := New(Options{Queryable: st, Registerer: prometheus.NewRegistry(), MaxSamples: 5000})
	if err != nil {
		t.Fatal(err)
	}
	expr := `sum by (service) (rate(req_total[1m]))`
	start, end := time.UnixMilli(60_000), time.UnixMilli(1_100_000)
	p, ok := a.planDirect(expr, time.Second)
	if !ok {
		t.Fatal("not planned")
	}
	if _, _, done, _ := a.evalDirect(context.Background(), p, start, end, time.Second); done {
		t.Fatal("answered past max samples")
	}
	_, _, _, err = a.evalRange(context.Background(), nil, expr, start, end, time.Second)
	if err == nil {
		t.Fatal("no error past max samples")
	}
	var tooMany promql.ErrTooManySamples
	if !errors.As(err, &tooMany) {
		t.Fatalf("error %T %v, want the engine's too many samples", err, err)
	}
}

// FuzzDirectEqualsEngine: counters of any values and spacing (decoded from
// the input: per sample a time step and a value, some NaN, stale or
// negative) give the engine's answer bit for bit.
func FuzzDirectEqualsEngine(f *testing.F) {
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 200, 0, 1, 1, 1, 255, 3, 0})
	f.Add(slices.Repeat([]byte{10, 1, 0, 9, 20, 7}, 40))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 4 || len(data) > 4096 {
			return
		}
		var ss []sample
		stale := math.Float64frombits(value.StaleNaN)
		for s := range 3 {
			l := labels.FromStrings("__name__", "x_total", "g", fmt.Sprint(s%2), "s", fmt.Sprint(s))
			ts, v := int64(0), 0.0
			for i := s; i+1 < len(data); i += 2 {
				ts += int64(data[i]) * 37
				switch b := data[i+1]; {
				case b == 255:
					ss = append(ss, sample{lset: l, t: ts, v: math.NaN()})
					continue
				case b == 254:
					ss = append(ss, sample{lset: l, t: ts, v: stale})
					continue
				case b >= 240:
					v = -float64(b - 240)
				case b >= 200:
					v = float64(b-200) * 0.37
				default:
					v += float64(b) * 1.1
				}
				ss = append(ss, sample{lset: l, t: ts, v: v})
			}
		}
		slices.SortStableFunc(ss, func(a, b sample) int { return cmpInt64(a.t, b.t) })
		ss = slices.CompactFunc(ss, func(a, b sample) bool { return a.t == b.t && labels.Equal(a.lset, b.lset) })
		tsdb := openStore(t, ss)
		st := &countingQueryable{Queryable: tsdb}
		// Read as stored, and through the decoded-sample cache (decoded
		// into it by the first expression, read from it by the second).
		cache := storage.NewDecodedCache(64<<20, nil)
		step := time.Duration(100+int(binary.LittleEndian.Uint16(data[:2]))%3000) * time.Millisecond
		rng := time.Duration(200+int(binary.LittleEndian.Uint16(data[2:4]))%20000) * time.Millisecond
		end := time.UnixMilli(ss[len(ss)-1].t + 2000)
		for _, q := range []promstorage.Queryable{st, cache.Queryable(tsdb)} {
			a, err := New(Options{Queryable: q, Registerer: prometheus.NewRegistry(), Parallelism: 2})
			if err != nil {
				t.Fatal(err)
			}
			for _, expr := range []string{
				fmt.Sprintf("sum by (g) (rate(x_total[%dms]))", rng.Milliseconds()),
				fmt.Sprintf("sum(increase(x_total[%dms] offset 50ms))", rng.Milliseconds()),
			} {
				if !directCheck(t, a, st, expr, time.UnixMilli(0), end, step) {
					t.Fatalf("%s: not evaluated directly", expr)
				}
			}
		}
	})
}

// bucketFixture is two services' classic latency histograms (lat_bucket,
// le 0.1, 1 and +Inf) over 20 minutes at about 1 s, with a reset each.
func bucketFixture(rng *rand.Rand) []sample {
	var ss []sample
	for _, svc := range []string{"a", "b"} {
		counts := [3]float64{}
		resetAt := int64(rng.IntN(1_200_000))
		for ts := int64(0); ts < 1_200_000; ts += 1000 {
			at := ts + int64(rng.IntN(200))
			if ts >= resetAt && ts < resetAt+1000 {
				counts = [3]float64{}
			}
			fast, slow := float64(rng.IntN(20)), float64(rng.IntN(5))
			counts[0] += fast
			counts[1] += fast + slow
			counts[2] += fast + slow + float64(rng.IntN(2))
			for i, le := range []string{"0.1", "1", "+Inf"} {
				ss = append(ss, sample{lset: labels.FromStrings("__name__", "lat_bucket", "service", svc, "le", le), t: at, v: counts[i]})
			}
		}
	}
	return ss
}

// TestDirectPartsEqualsEngine: a query holding `sum by (…) (rate(…))`
// parts has them evaluated directly and the rest by the engine, and its
// answer is the engine's over the whole query, bit for bit, annotations
// included; where the engine notes anything about the rewritten query the
// query is left to be evaluated as before. Parts in a subquery or under
// absent() are not rewritten.
func TestDirectPartsEqualsEngine(t *testing.T) {
	rng := seededRand(t, 29)
	ss := withNonCounter(append(interleaveFixture(t, rng), bucketFixture(rng)...))
	st := &countingQueryable{Queryable: openStore(t, ss)}
	a, err := New(Options{Queryable: st, Registerer: prometheus.NewRegistry(), Parallelism: 2})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	exprs := []string{
		`histogram_quantile(0.9, sum by (le) (rate(lat_bucket[1m])))`,
		`histogram_quantile(0.5, sum by (service, le) (rate(lat_bucket[1m]))) * 1e6 >= 0`,
		`sum by (service) (rate(req_total[1m])) > 5`,
		`sum by (service) (rate(req_total[1m])) / on (service) sum by (service) (rate(other_total[1m]))`,
		`sum(rate(req_total[1m])) or vector(0)`, `topk(2, sum by (service) (rate(req_total[1m])))`,
		`max(sum by (service, i) (increase(req_total[30s])))`, `sum(sum by (service) (rate(req_total[1m])))`,
		`sum by (service) (rate(req_total[1m])) and on (service) (sum by (service) (req_total) > 0)`,
		`label_replace(sum by (service) (rate(req_total[1m])), "s", "$1", "service", "(.*)")`,
		`-sum(rate(other_total[2m] offset 10s)) * 60`, `clamp_min(sum by (service) (rate(req_total[1m])), 1)`,
		`sum by (service) (rate(req_total[1m])) - sum by (service) (rate(req_total[1m] offset 1m))`,
		`sum by (i, service) (rate(req_total[10s])) > 0`, `count(sum by (i) (rate(req_total[10s])))`, // gaps in parts
		`sum by (service) (rate(req[1m])) > 0`, // noted: might not be a counter
	}
	done := 0
	for _, expr := range exprs {
		for range 3 {
			start := time.UnixMilli(int64(rng.IntN(300_000)))
			step := []time.Duration{time.Second, 2 * time.Second, 5 * time.Second, 15 * time.Second}[rng.IntN(4)]
			end := start.Add(step*time.Duration(20+rng.IntN(400)) + time.Duration(rng.IntN(1000))*time.Millisecond)
			parts, ok := a.planDirectParts(expr, step)
			if !ok {
				t.Fatalf("%s: no part planned", expr)
			}
			q, err := a.engine.NewRangeQuery(ctx, st, nil, expr, start, end, step)
			if err != nil {
				t.Fatal(err)
			}
			res := q.Exec(ctx)
			want, _ := res.Matrix()
			got, gotAnnos, release, ok, err := a.evalDirectParts(ctx, nil, parts, start, end, step)
			where := fmt.Sprintf("%s (as %s) over %d..%d step %s", expr, parts.expr, start.UnixMilli(), end.UnixMilli(), step)
			if !ok {
				if res.Err == nil && len(res.Warnings) == 0 {
					t.Errorf("%s: left to the engine, which answers without a note", where)
				}
				q.Close()
				continue
			}
			done++
			if (err != nil) != (res.Err != nil) {
				t.Fatalf("%s: error %v, engine error %v", where, err, res.Err)
			}
			if err == nil {
				if d := matrixDiff(got, want, 0); d != "" {
					t.Errorf("%s: %s", where, d)
				}
				if d := annoDiff(gotAnnos, res.Warnings, expr); d != "" {
					t.Errorf("%s: %s", where, d)
				}
				release()
			}
			q.Close()
		}
	}
	t.Logf("%d of %d queries evaluated with direct parts", done, 3*len(exprs))
	if done < len(exprs) {
		t.Errorf("%d of %d queries evaluated with direct parts", done, 3*len(exprs))
	}
	for _, expr := range []string{
		`absent(sum(rate(req_total[1m])))`, `max_over_time(sum(rate(req_total[1m]))[5m:10s])`,
		`sum(rate(req_total[1m]))`, `rate(req_total[1m]) > 0`, `timestamp(sum(rate(req_total[1m])))`,
		`sum(rate(req_total[1m] @ 100)) > 0`,
	} {
		if p, ok := a.planDirectParts(expr, time.Second); ok {
			t.Errorf("%s: rewritten as %s", expr, p.expr)
		}
	}
}

// TestDirectResetAtChunkStart: counters that reset exactly where a chunk
// of theirs begins, and nowhere else, answer as the engine does when read
// through the decoded-sample cache, which hands out each chunk's samples as
// a run known to rise within itself: the drop between two runs is a reset
// the windows over it must walk.
func TestDirectResetAtChunkStart(t *testing.T) {
	rng := seededRand(t, 29)
	// Whole seconds, mostly one apart: the windows' edges (whole seconds
	// too) fall on samples, where a window's first sample must be after
	// its start and its last at or before its end.
	var times []int64
	for ts := int64(0); len(times) < 4000; ts += 1000 * int64(1+rng.IntN(10)/9) {
		times = append(times, ts)
	}
	// The head cuts a series' chunks by its samples' times: a probe series
	// of the same times, written the same way into a store of its own,
	// shows where r_total's chunks will begin.
	probe := labels.FromStrings("__name__", "probe_total")
	var ss []sample
	for i, ts := range times {
		ss = append(ss, sample{lset: probe, t: ts, v: float64(i)})
	}
	starts := chunkStarts(t, openStore(t, ss), "probe_total")
	if len(starts) < 20 {
		t.Fatalf("%d chunks: too few to test", len(starts))
	}
	ss = ss[:0]
	for s := range 4 {
		l := labels.FromStrings("__name__", "r_total", "service", fmt.Sprint(s%2), "i", fmt.Sprint(s))
		v := 0.0
		for _, ts := range times {
			if starts[ts] {
				v = float64(rng.IntN(3)) // below what the chunk before ended at
			}
			v += float64(1 + rng.IntN(9))
			ss = append(ss, sample{lset: l, t: ts, v: v})
		}
	}
	tsdb := openStore(t, ss)
	// Every chunk but the first begins with a drop, and none holds one.
	cq, err := tsdb.ChunkQuerier(0, math.MaxInt64)
	if err != nil {
		t.Fatal(err)
	}
	defer cq.Close()
	set := cq.Select(context.Background(), false, nil, labels.MustNewMatcher(labels.MatchEqual, "__name__", "r_total"))
	drops := 0
	for set.Next() {
		prev := math.Inf(-1)
		for it := set.At().Iterator(nil); it.Next(); {
			for si, vt := 0, it.At().Chunk.Iterator(nil); vt.Next() != chunkenc.ValNone; si++ {
				_, v := vt.At()
				switch {
				case si == 0 && v < prev:
					drops++
				case v < prev:
					t.Fatalf("a drop inside the chunk from %d (its sample %d): the fixture is not what it means to be", it.At().MinTime, si)
				}
				prev = v
			}
		}
	}
	if drops < 4*(len(starts)-1) {
		t.Fatalf("%d chunks begin with a drop, want %d", drops, 4*(len(starts)-1))
	}
	st := &countingQueryable{Queryable: tsdb}
	cache := storage.NewDecodedCache(64<<20, nil)
	a, err := New(Options{Queryable: cache.Queryable(tsdb), Registerer: prometheus.NewRegistry(), Parallelism: 2})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 { // decoded into the cache, then read from it
		for _, expr := range []string{`sum by (service) (rate(r_total[1m]))`, `sum(increase(r_total[10s]))`} {
			for _, step := range []time.Duration{time.Second, 5 * time.Second, 15 * time.Second} {
				if !directCheck(t, a, st, expr, time.UnixMilli(0), time.UnixMilli(times[len(times)-1]), step) {
					t.Fatalf("%s: not evaluated directly", expr)
				}
			}
		}
	}
	if cache.Hits() == 0 {
		t.Error("nothing read from the decoded cache")
	}
}

// chunkStarts is the first sample's time of every chunk of the series
// named name but their first.
func chunkStarts(t *testing.T, st *storage.TSDB, name string) map[int64]bool {
	t.Helper()
	cq, err := st.ChunkQuerier(0, math.MaxInt64)
	if err != nil {
		t.Fatal(err)
	}
	defer cq.Close()
	set := cq.Select(context.Background(), false, nil, labels.MustNewMatcher(labels.MatchEqual, "__name__", name))
	starts := map[int64]bool{}
	for set.Next() {
		first := true
		for it := set.At().Iterator(nil); it.Next(); first = false {
			if !first {
				starts[it.At().MinTime] = true
			}
		}
	}
	if err := set.Err(); err != nil {
		t.Fatal(err)
	}
	return starts
}
