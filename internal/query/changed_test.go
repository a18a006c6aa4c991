package query

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/labels"
	promstorage "github.com/prometheus/prometheus/storage"

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
	// after the answer fresh: old's steps before fresh.from, fresh's after.
	merged := func(old, fresh heldAnswer, start float64) map[string]map[float64]string {
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
	same := func(what string, got, want map[string]map[float64]string) {
		t.Helper()
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s: merged answer differs from a full evaluation:\ngot  %.400v\nwant %.400v", what, got, want)
		}
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
