package query

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/value"
	promstorage "github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb/chunkenc"

	"github.com/gmc-dev/gmc/internal/storage"
)

// seriesStartWant is a series' start as the raw data tells it: every sample
// the TSDB holds read back one by one (no chunk index), staleness markers
// left out.
type seriesStartWant struct {
	first  float64 // Unix s; NaN: none in [start, end]
	before bool
}

// rawStarts reads every sample of the series matching sel in st and
// returns each series' earliest sample in [start, end] and whether it has
// one before start (ms).
func rawStarts(t *testing.T, st *storage.TSDB, start, end int64, ms ...*labels.Matcher) map[string]seriesStartWant {
	t.Helper()
	q, err := st.Querier(math.MinInt64/2, end)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	out := map[string]seriesStartWant{}
	set := q.Select(context.Background(), false, nil, ms...)
	var it chunkenc.Iterator
	for set.Next() {
		s := set.At()
		w := seriesStartWant{first: math.NaN()}
		it = s.Iterator(it)
		for vt := it.Next(); vt != chunkenc.ValNone; vt = it.Next() {
			var ts int64
			var stale bool
			switch vt {
			case chunkenc.ValFloat:
				var v float64
				ts, v = it.At()
				stale = value.IsStaleNaN(v)
			case chunkenc.ValHistogram:
				var h *histogram.Histogram
				ts, h = it.AtHistogram(nil)
				stale = value.IsStaleNaN(h.Sum)
			case chunkenc.ValFloatHistogram:
				var h *histogram.FloatHistogram
				ts, h = it.AtFloatHistogram(nil)
				stale = value.IsStaleNaN(h.Sum)
			}
			if stale || ts > end {
				continue
			}
			if ts < start {
				w.before = true
			} else if math.IsNaN(w.first) || float64(ts)/1000 < w.first {
				w.first = float64(ts) / 1000
			}
		}
		if err := it.Err(); err != nil {
			t.Fatal(err)
		}
		if w.before || !math.IsNaN(w.first) {
			out[s.Labels().String()] = w
		}
	}
	if err := set.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestSeriesStartMatchesRawData: /api/v1/series_start's answer for each
// series (its first sample in the range, whether it has one before) is
// what reading every sample back tells, for series begun inside the range
// and long before it, after a gap, behind a staleness marker (floats and
// native histograms), with out-of-order samples written before their
// in-order ones, ended by a marker before the range, over head chunks
// written to the chunk files and in the open head chunk, and with random
// series of all of these; a __tier__="raw" matcher reads the same, another
// tier is refused (the answer is of raw data only). raw_from is the
// store's oldest sample.
func TestSeriesStartMatchesRawData(t *testing.T) {
	st, err := storage.Open(storage.Options{Dir: t.TempDir(), Registerer: prometheus.NewRegistry(), OutOfOrderWindow: 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	const base = int64(1_800_000_000_000) // ms
	const start, end = base, base + 3_600_000
	stale := math.Float64frombits(value.StaleNaN)
	type pt struct {
		t int64
		v float64
		h bool
	}
	add := func(name string, pts []pt) {
		t.Helper()
		app := st.AppenderV2(context.Background())
		l := labels.FromStrings("__name__", name, "service", "s")
		for _, p := range pts {
			var h *histogram.Histogram
			if p.h {
				h = testHistogram()
				if math.IsNaN(p.v) {
					h = &histogram.Histogram{Sum: stale}
				}
			}
			v := p.v
			if h != nil {
				v = 0
			}
			if _, err := app.Append(0, l, 0, p.t, v, h, nil, promstorage.AOptions{}); err != nil {
				t.Fatalf("%s@%d: %v", name, p.t, err)
			}
			if err := app.Commit(); err != nil {
				t.Fatal(err)
			}
			app = st.AppenderV2(context.Background())
		}
		if err := app.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	every := func(from, to, step int64, v float64, h bool) []pt {
		var out []pt
		for ts := from; ts <= to; ts += step {
			out = append(out, pt{ts, v, h})
		}
		return out
	}
	// Begun inside the range; long before it (chunks before start, one
	// holding start); a gap over start (resumes inside); a marker first.
	add("inside", every(start+100_000, end, 10_000, 1, false))
	add("long", every(start-6*3_600_000, end, 15_000, 2, false))
	add("gap", append(every(start-3*3_600_000, start-2*3_600_000, 15_000, 3, false), every(start+300_000, end, 15_000, 3, false)...))
	add("marker_first", append([]pt{{start + 50_000, stale, false}}, every(start+60_000, end, 10_000, 4, false)...))
	add("hist_marker_first", append([]pt{{start + 20_000, stale, true}}, every(start+40_000, end, 10_000, 0, true)...))
	// Ended by a marker before the range: before, nothing in it.
	add("ended", append(every(start-600_000, start-60_000, 10_000, 5, false), pt{start - 50_000, stale, false}))
	// Only a marker in the range after data before it.
	add("marker_in_range", append(every(start-600_000, start-60_000, 10_000, 6, false), pt{start + 10_000, stale, false}))
	// Out of order: in-order samples from inside the range, then older ones
	// (before the range, and inside it before the in-order ones).
	add("ooo", every(start+1_200_000, end, 10_000, 7, false))
	add("ooo", []pt{{start + 30_000, 7, false}, {start - 20_000, 7, false}})
	add("ooo_inside", every(start+1_200_000, end, 10_000, 8, false))
	add("ooo_inside", []pt{{start + 900_000, 8, false}, {start + 600_000, stale, false}, {start + 700_000, 8, false}})
	// Its first sample exactly at start: in the range, nothing before.
	add("at_start", every(start, end, 10_000, 10, false))
	// After the range's end only: left out.
	add("after", every(end+10_000, end+60_000, 10_000, 9, false))
	// Random series: runs of samples with gaps and markers, some written
	// late (out of order).
	rng := seededRand(t, 23)
	for i := 0; i < 40; i++ {
		var pts, late []pt
		ts := start - int64(rng.IntN(4*3_600_000))
		for ts < end+600_000 {
			switch r := rng.IntN(100); {
			case r < 3:
				ts += int64(rng.IntN(3_600_000)) // a gap
			case r < 6:
				pts = append(pts, pt{ts, stale, false})
			case r < 10:
				late = append(late, pt{ts, float64(r), false})
			default:
				pts = append(pts, pt{ts, float64(r), false})
			}
			ts += 1_000 + int64(rng.IntN(30_000))
		}
		name := fmt.Sprintf("random_%d", i)
		add(name, pts)
		add(name, late)
		if i == 20 {
			st.MmapHeadChunks() // the chunks so far from the chunk files
		}
	}
	a, err := New(Options{Queryable: st, Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	ask := func(method string, p url.Values) (int, seriesStartAnswer) {
		t.Helper()
		var req *http.Request
		if method == http.MethodPost {
			req = httptest.NewRequest(method, "/api/v1/series_start", nil)
			req.PostForm = p
			req.Form = p
		} else {
			req = httptest.NewRequest(method, "/api/v1/series_start?"+p.Encode(), nil)
		}
		rec := httptest.NewRecorder()
		a.SeriesStart(rec, req)
		var body struct {
			Data seriesStartAnswer `json:"data"`
		}
		if rec.Code == http.StatusOK {
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				t.Fatalf("%v: %s", err, rec.Body)
			}
		}
		return rec.Code, body.Data
	}
	check := func(name string, p url.Values, s, e int64) {
		t.Helper()
		code, got := ask(http.MethodGet, p)
		if code != http.StatusOK {
			t.Fatalf("%s: status %d", name, code)
		}
		want := rawStarts(t, st, s, e, labels.MustNewMatcher(labels.MatchEqual, "service", "s"))
		if len(got.Series) != len(want) {
			t.Errorf("%s: %d series, want %d (the raw data's)", name, len(got.Series), len(want))
		}
		for _, g := range got.Series {
			k := g.Metric.String()
			w, ok := want[k]
			if !ok {
				t.Errorf("%s: %s answered, has no sample up to the end", name, k)
				continue
			}
			gf := math.NaN()
			if g.First != nil {
				gf = *g.First
			}
			if (math.IsNaN(gf) != math.IsNaN(w.first)) || (!math.IsNaN(gf) && gf != w.first) || g.Before != w.before {
				t.Errorf("%s: %s first %v before %v, want first %v before %v", name, k, gf, g.Before, w.first, w.before)
			}
		}
		if got.RawFrom == nil {
			t.Errorf("%s: no raw_from", name)
		} else if st0, _ := st.StartTime(); *got.RawFrom != float64(st0)/1000 {
			t.Errorf("%s: raw_from %v, want the store's oldest sample %v", name, *got.RawFrom, float64(st0)/1000)
		}
	}
	sec := func(ms int64) string { return fmt.Sprintf("%.3f", float64(ms)/1000) }
	check("range", url.Values{"match[]": {`{service="s"}`}, "start": {sec(start)}, "end": {sec(end)}}, start, end)
	check("no start", url.Values{"match[]": {`{service="s"}`}, "end": {sec(end)}}, math.MinInt64/2, end)
	check("later start", url.Values{"match[]": {`{service="s"}`}, "start": {sec(start + 1_000_000)}, "end": {sec(end)}}, start+1_000_000, end)
	// The named cases, as the raw data says (spelled out: rawStarts is checked too).
	code, got := ask(http.MethodPost, url.Values{"match[]": {`{service="s", __tier__="raw"}`}, "start": {sec(start)}, "end": {sec(end)}})
	if code != http.StatusOK {
		t.Fatalf("__tier__=\"raw\": status %d", code)
	}
	by := map[string]seriesStartEntry{}
	for _, s := range got.Series {
		by[s.Metric.Get("__name__")] = s
	}
	first := func(n string) float64 {
		if by[n].First == nil {
			return math.NaN()
		}
		return *by[n].First
	}
	for _, c := range []struct {
		name   string
		first  int64 // ms; 0: none
		before bool
		absent bool
	}{
		{name: "inside", first: start + 100_000},
		{name: "long", first: start, before: true},
		{name: "gap", first: start + 300_000, before: true},
		{name: "marker_first", first: start + 60_000},
		{name: "hist_marker_first", first: start + 40_000},
		{name: "ended", before: true},
		{name: "marker_in_range", before: true},
		{name: "ooo", first: start + 30_000, before: true},
		{name: "ooo_inside", first: start + 700_000},
		{name: "at_start", first: start},
		{name: "after", absent: true},
	} {
		s, ok := by[c.name]
		switch {
		case c.absent:
			if ok {
				t.Errorf("%s: answered (first %v), want left out: no sample up to the end", c.name, first(c.name))
			}
		case !ok:
			t.Errorf("%s: not answered", c.name)
		case c.first == 0 && s.First != nil, c.first != 0 && (s.First == nil || *s.First != float64(c.first)/1000), s.Before != c.before:
			t.Errorf("%s: first %v before %v, want first %v before %v", c.name, first(c.name), s.Before, float64(c.first)/1000, c.before)
		}
	}
	if code, _ := ask(http.MethodGet, url.Values{"match[]": {`{service="s", __tier__="1m"}`}}); code != http.StatusBadRequest {
		t.Errorf("__tier__=\"1m\": status %d, want 400 (raw data only)", code)
	}
	if code, _ := ask(http.MethodGet, url.Values{}); code != http.StatusBadRequest {
		t.Errorf("no match[]: status %d, want 400", code)
	}
	names := make([]string, 0, len(by))
	for n := range by {
		names = append(names, n)
	}
	sort.Strings(names)
	t.Logf("answered: %v", names)
}
