package query

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/labels"
	promstorage "github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb"

	"github.com/gmc-dev/gmc/internal/httpapi"
	"github.com/gmc-dev/gmc/internal/storage"
)

// heldAnswer is a range answer: its points by series, and its headers.
type heldAnswer struct {
	points map[string]map[float64]string // series → step (s) → value
	writes string
	from   float64
}

// TestHeldRangeChanged: a client holding a range query's points as of a
// write state (since, held) is answered from the first step a commit since
// can change, and what it holds merged with that answer is, point for
// point, a full evaluation of the window: after in-order writes (the new
// steps only), after a late sample (from its step), with a negative
// offset (from its step less the offset), and for an unknown state or an
// @ modifier (every step).
func TestHeldRangeChanged(t *testing.T) {
	st, err := storage.Open(storage.Options{Dir: t.TempDir(), Registerer: prometheus.NewRegistry(), OutOfOrderWindow: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	const base = 1_800_000_000 // s
	now := time.Unix(base+600, 0)
	late := storage.NewLateWrites(time.Minute, func() time.Time { return now })
	write := func(from, to int64) {
		t.Helper()
		app := late.Wrap(st).AppenderV2(context.Background())
		for s := from; s <= to; s++ {
			for _, svc := range []string{"a", "b"} {
				l := labels.FromStrings("__name__", "orders_total", "service", svc)
				if _, err := app.Append(0, l, 0, s*1000, float64(s*int64(len(svc)+1)%977), nil, nil, promstorage.AOptions{}); err != nil {
					t.Fatal(err)
				}
			}
		}
		if err := app.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	write(base, base+600)
	a, err := New(Options{Queryable: st, Registerer: prometheus.NewRegistry(), Now: func() time.Time { return now }, Writes: late})
	if err != nil {
		t.Fatal(err)
	}
	ask := func(expr string, start, end int64, extra url.Values) heldAnswer {
		t.Helper()
		return askHeld(t, a, expr, start, end, extra)
	}
	same := func(what string, got, want map[string]map[float64]string) {
		t.Helper()
		sameHeld(t, what, got, want)
	}
	last := int64(base + 600) // the newest sample written
	for i, c := range []struct {
		expr string
		back int64 // how far before a late sample its steps change
	}{{`sum by (service) (rate(orders_total[30s]))`, 0}, {`sum by (service) (rate(orders_total[30s] offset -10s))`, 10}} {
		// Marks count their own tick's commits in: each wait below puts
		// the next commits past the last mark's tick.
		tick := func() { time.Sleep(150 * time.Millisecond) }
		write(last+1, last+1)
		last++
		tick()
		start, end := last-300, last
		held := ask(c.expr, start, end, url.Values{"since": {""}})
		if held.writes == "" || held.from != float64(start) {
			t.Fatalf("%s: a first answer asked with since has writes %q and from %v, want a mark and its start", c.expr, held.writes, held.from)
		}
		// In-order writes: the new steps only (less the offset).
		tick()
		write(last+1, last+4)
		end2 := last + 4
		fresh := ask(c.expr, start+4, end2, url.Values{"since": {held.writes}, "held": {fmt.Sprint(end)}})
		if want := float64(last + 1 - c.back); fresh.from != want {
			t.Errorf("%s: after writes from %d, from %v, want %v", c.expr, last+1, fresh.from, want)
		}
		last = end2
		holds := heldAnswer{points: merged(held, fresh, float64(start+4))}
		same(c.expr+" after in-order writes", holds.points, ask(c.expr, start+4, end2, url.Values{"nocache": {"1"}}).points)
		// A late sample of service a, 150 s old.
		tick()
		lateAt := end2 - 150
		app := late.Wrap(st).AppenderV2(context.Background())
		if _, err := app.Append(0, labels.FromStrings("__name__", "orders_total", "service", "a"), 0, lateAt*1000+500, 1e6*float64(i+1), nil, nil, promstorage.AOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := app.Commit(); err != nil {
			t.Fatal(err)
		}
		again := ask(c.expr, start+4, end2, url.Values{"since": {fresh.writes}, "held": {fmt.Sprint(end2)}})
		if want := float64(lateAt + 1 - c.back); again.from != want {
			t.Errorf("%s: after a late sample at %d.5, from %v, want %v", c.expr, lateAt, again.from, want)
		}
		full := ask(c.expr, start+4, end2, url.Values{"nocache": {"1"}}).points
		same(c.expr+" after a late sample", merged(holds, again, float64(start+4)), full)
		if fmt.Sprint(holds.points) == fmt.Sprint(full) {
			t.Errorf("%s: the late sample changed nothing the client held: the test proves nothing", c.expr)
		}
		// Unknown states: every step.
		for _, since := range []string{"other.1", held.writes + "x", "0"} {
			if got := ask(c.expr, start, end2, url.Values{"since": {since}, "held": {fmt.Sprint(end2)}}); got.from != float64(start) {
				t.Errorf("%s: since %q: from %v, want the start %d", c.expr, since, got.from, start)
			}
		}
	}
	// Steps that depend on the range: every step.
	at := `sum by (service) (rate(orders_total[30s] @ end()))`
	h := ask(at, last-300, last-1, url.Values{"since": {""}})
	if got := ask(at, last-300, last, url.Values{"since": {h.writes}, "held": {fmt.Sprint(last - 1)}}); got.from != float64(last-300) {
		t.Errorf("%s: from %v, want every step (%d)", at, got.from, last-300)
	}
	// Not asked: no headers.
	if got := ask(at, last-300, last, nil); got.writes != "" || !math.IsNaN(got.from) {
		t.Errorf("asked without since: headers %q %v, want none", got.writes, got.from)
	}
}

// askHeld asks a for expr over [start, end] (Unix s) at a step of 1 s,
// with extra parameters.
func askHeld(t *testing.T, a *API, expr string, start, end int64, extra url.Values) heldAnswer {
	t.Helper()
	p := url.Values{"query": {expr}, "start": {fmt.Sprint(start)}, "end": {fmt.Sprint(end)}, "step": {"1"}}
	for k, v := range extra {
		p[k] = v
	}
	rec := httptest.NewRecorder()
	a.QueryRange(rec, httptest.NewRequest(http.MethodGet, "/api?"+p.Encode(), nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("%d: %s", rec.Code, rec.Body)
	}
	m, err := httpapi.DecodeMatrix(rec.Body.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	out := heldAnswer{points: map[string]map[float64]string{}, writes: rec.Header().Get(HeaderWrites), from: math.NaN()}
	if f := rec.Header().Get(HeaderFrom); f != "" {
		out.from, _ = strconv.ParseFloat(f, 64)
	}
	for _, s := range m {
		k := fmt.Sprint(s.Metric)
		out.points[k] = map[float64]string{}
		for _, v := range s.Values {
			out.points[k][v.T] = v.V
		}
	}
	return out
}

// merged is what a client holding old (its steps up to held) holds
// after the answer fresh: old's steps from start before fresh.from,
// fresh's after.
func merged(old, fresh heldAnswer, start float64) map[string]map[float64]string {
	out := map[string]map[float64]string{}
	for k, ps := range old.points {
		for ts, v := range ps {
			if ts >= start && ts < fresh.from {
				if out[k] == nil {
					out[k] = map[float64]string{}
				}
				out[k][ts] = v
			}
		}
	}
	for k, ps := range fresh.points {
		for ts, v := range ps {
			if out[k] == nil {
				out[k] = map[float64]string{}
			}
			out[k][ts] = v
		}
	}
	return out
}

// sameHeld fails the test when a merged answer is not the full one.
func sameHeld(t *testing.T, what string, got, want map[string]map[float64]string) {
	t.Helper()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("%s: merged answer differs from a full evaluation:\ngot  %.400v\nwant %.400v", what, got, want)
	}
}

// TestHeldRangeBlockLoaded: a block written into the store's directory
// after a client's mark (the SLA backfill writes its recordings so, a
// block may be copied in) is no commit, but once the TSDB loads it the
// next answer asked with that mark is evaluated from the block's first
// step, and what the client holds merged with it is a full evaluation
// point for point; the step cache's points at those steps go too.
func TestHeldRangeBlockLoaded(t *testing.T) {
	dir := t.TempDir()
	st, err := storage.Open(storage.Options{Dir: dir, Registerer: prometheus.NewRegistry(), OutOfOrderWindow: time.Hour, BlockReloadInterval: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	const base = 1_800_000_000 // s
	now := time.Unix(base+600, 0)
	late := storage.NewLateWrites(time.Minute, func() time.Time { return now })
	late.WatchStore(st)
	app := late.Wrap(st).AppenderV2(context.Background())
	for s := int64(base); s <= base+600; s++ {
		for _, svc := range []string{"a", "b"} {
			if _, err := app.Append(0, labels.FromStrings("__name__", "orders_total", "service", svc), 0, s*1000, float64(s%977), nil, nil, promstorage.AOptions{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	clock := func() time.Time { return now }
	a, err := New(Options{Queryable: st, Registerer: reg, Now: clock, Writes: late, ActiveQueryDir: t.TempDir(),
		Lanes:     NewLanes(LanesOptions{Config: DefaultConfig(), Queryable: st, Registerer: reg, Now: clock}),
		StepCache: &StepCache{Generation: late.Generation, Settle: time.Minute, MaxAge: time.Hour, MaxPoints: 1_000_000}})
	if err != nil {
		t.Fatal(err)
	}
	const expr = `sum by (service) (rate(orders_total[30s]))`
	start, end := int64(base+300), int64(base+600)
	time.Sleep(300 * time.Millisecond) // the commit before the mark's tick
	held := askHeld(t, a, expr, start, end, url.Values{"since": {""}})
	cached := askHeld(t, a, expr, start, end, nil) // the step cache holds its settled steps
	time.Sleep(300 * time.Millisecond)             // past the mark's tick

	// Another instance of service a, 150 s to 140 s before the end, in a
	// block written into the directory.
	blockAt := end - 150
	w, err := tsdb.NewBlockWriter(slog.New(slog.DiscardHandler), dir, 2*3_600_000)
	if err != nil {
		t.Fatal(err)
	}
	bapp := w.AppenderV2(context.Background())
	for k := range int64(11) {
		if _, err := bapp.Append(0, labels.FromStrings("__name__", "orders_total", "service", "a", "instance", "block"), 0, (blockAt+k)*1000, float64(1000*k), nil, nil, promstorage.AOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := bapp.Commit(); err != nil {
		t.Fatal(err)
	}
	id, err := w.Flush(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
	for deadline := time.Now().Add(20 * time.Second); !st.BlockLoaded(id); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the block was not loaded within 20 s")
		}
	}
	full := askHeld(t, a, expr, start, end, url.Values{"nocache": {"1"}}).points
	if fmt.Sprint(full) == fmt.Sprint(held.points) {
		t.Fatal("the block changed nothing the client held: the test proves nothing")
	}
	again := askHeld(t, a, expr, start, end, url.Values{"since": {held.writes}, "held": {fmt.Sprint(end)}})
	if again.from != float64(blockAt) {
		t.Errorf("after a block from %d was loaded: from %v, want %d", blockAt, again.from, blockAt)
	}
	sameHeld(t, "after a block was loaded", merged(held, again, float64(start)), full)
	sameHeld(t, "the step cache after a block was loaded", askHeld(t, a, expr, start, end, nil).points, full)
	if fmt.Sprint(cached.points) != fmt.Sprint(held.points) {
		t.Errorf("the cached answer before the block differs from the first one")
	}
}

// countingWrites counts the calls of a Writes.
type countingWrites struct {
	Writes
	marks, changed atomic.Int32
}

func (c *countingWrites) Mark() string { c.marks.Add(1); return c.Writes.Mark() }
func (c *countingWrites) ChangedSince(m string) (int64, bool) {
	c.changed.Add(1)
	return c.Writes.ChangedSince(m)
}

// TestHeldFromOnce: a range request asked with since and held, admitted
// through the query lanes (which size it by the steps it will evaluate),
// reads the write state once: one Mark, one ChangedSince.
func TestHeldFromOnce(t *testing.T) {
	st, err := storage.Open(storage.Options{Dir: t.TempDir(), Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	const base = 1_800_000_000 // s
	now := time.Unix(base+600, 0)
	clock := func() time.Time { return now }
	late := storage.NewLateWrites(time.Minute, clock)
	app := late.Wrap(st).AppenderV2(context.Background())
	for s := int64(base); s <= base+600; s++ {
		if _, err := app.Append(0, labels.FromStrings("__name__", "orders_total", "service", "a"), 0, s*1000, float64(s), nil, nil, promstorage.AOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	cw := &countingWrites{Writes: late}
	reg := prometheus.NewRegistry()
	a, err := New(Options{Queryable: st, Registerer: reg, Now: clock, Writes: cw, ActiveQueryDir: t.TempDir(),
		Lanes: NewLanes(LanesOptions{Config: DefaultConfig(), Queryable: st, Registerer: reg, Now: clock})})
	if err != nil {
		t.Fatal(err)
	}
	const expr = `sum by (service) (rate(orders_total[30s]))`
	h := askHeld(t, a, expr, base+300, base+599, url.Values{"since": {""}})
	cw.marks.Store(0)
	askHeld(t, a, expr, base+300, base+600, url.Values{"since": {h.writes}, "held": {fmt.Sprint(base + 599)}})
	if m, c := cw.marks.Load(), cw.changed.Load(); m != 1 || c != 1 {
		t.Errorf("one request asked with since and held: %d Marks, %d ChangedSince, want 1 and 1", m, c)
	}
}
