package web_test

import (
	"bufio"
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gmc-dev/gmc/internal/web/webtest"
)

// TestBrowserLongRangesReadTiers: t-user18 F11. The 7d range's step was
// 2016 s and 24h's 288 s, on no tier's grid (a tier answers a selector when
// the query's end, step and range are whole buckets), so their panels read
// raw data only: the downsampled tiers' speed-up never applied to the
// dashboard's own long ranges. Their steps are on the grid now (24h 300 s:
// the 1m tier; 7d 1800 s: the 10m tier) and the tiers answer the pages'
// range queries (gmc_tier_selects_total, by what answered each selector,
// counts them; each range query is sent again wrapped, as gmc's step
// cache answered the page). With the old steps no tier answered any
// selector of either page's range query (38 from raw data each); now the
// 7d one reads 8 of its selectors from the 10m tier and 9 from the 1m,
// the 24h one 17 from the 1m tier (its 8 rates over 20 minutes read raw
// data until t-truth20), and raw data only the 2 count_over_time.
func TestBrowserLongRangesReadTiers(t *testing.T) {
	ctx := browser(t)
	st := startStack(t, 3, false)
	// The tiers have a watermark (the job's first rounds over the seeded
	// 15 minutes): until then every tier is skipped and raw data answer.
	deadline := time.Now().Add(90 * time.Second)
	for {
		var s struct {
			Tiers []struct {
				Name      string  `json:"name"`
				Watermark float64 `json:"watermark"`
			} `json:"storage_tiers"`
		}
		if err := getStatus(st.URL, &s); err != nil {
			t.Fatal(err)
		}
		ok := 0
		for _, tr := range s.Tiers {
			if (tr.Name == "1m" || tr.Name == "10m") && tr.Watermark > float64(time.Now().Add(-time.Hour).Unix()) {
				ok++
			}
		}
		if ok == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the 1m and 10m tiers have no recent watermark after 90 s: %+v", s.Tiers)
		}
		time.Sleep(time.Second)
	}
	recordEveryDocument(t, ctx)
	for _, r := range []struct{ key, step, tier string }{{"24h", "300", "1m"}, {"7d", "1800", "10m"}} {
		t.Run(r.key, func(t *testing.T) {
			before := tierSelects(t, st.URL)
			eval[bool](t, ctx, `(performance.clearResourceTimings(), true)`)
			load(t, ctx, st.URL+"/#/overview?range="+r.key)
			steps := eval[[]string](t, ctx, `[...new Set(performance.getEntriesByType('resource')
				.filter(e => e.name.includes('/api/v1/query_range'))
				.map(e => new URL(e.name).searchParams.get('step')))]`)
			if len(steps) != 1 || steps[0] != r.step {
				t.Errorf("range %s: query_range steps %v, want %s (on the %s tier's grid)", r.key, steps, r.step, r.tier)
			}
			after := tierSelects(t, st.URL)
			t.Logf("range %s: selectors answered %v → %v", r.key, before, after)
			// Each of the page's range queries again, alone: what answered
			// its selectors.
			urls := eval[[]string](t, ctx, `performance.getEntriesByType('resource')
				.filter(e => e.name.includes('/api/v1/query_range')).map(e => e.name)`)
			for _, u := range urls {
				// Wrapped, so gmc's step cache (which answered the page)
				// does not answer it again: the same selectors, read anew.
				pu, _ := url.Parse(u)
				q := pu.Query()
				q.Set("query", "("+q.Get("query")+") * 1")
				pu.RawQuery = q.Encode()
				b := tierSelects(t, st.URL)
				resp, err := http.Get(pu.String())
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				a := tierSelects(t, st.URL)
				d := map[string]float64{}
				for k := range a {
					d[k] = a[k] - b[k]
				}
				t.Logf("range %s, its range query again: selectors answered %v", r.key, d)
				if d[r.tier] == 0 {
					t.Errorf("range %s: the %s tier answered none of the page's range query's selectors (%v): it read raw data only", r.key, r.tier, d)
				}
				// Raw data answer its partial-window counts only
				// (count_over_time reads raw data): every rate reads a
				// tier, the 24h page's 20-minute ones too (they read raw
				// data while a tier's rate needed an hour).
				if counts := strings.Count(q.Get("query"), "count_over_time("); d["raw"] != float64(counts) {
					t.Errorf("range %s: raw data answered %v of the page's range query's selectors (%v), want only its %d count_over_time", r.key, d["raw"], d, counts)
				}
			}
			if len(urls) == 0 {
				t.Fatalf("range %s: the page sent no query_range", r.key)
			}
		})
		t.Run("service "+r.key, func(t *testing.T) { serviceReadsTiers(t, ctx, st.URL, webtest.Native, r.key, r.step) })
	}
}

// serviceReadsTiers loads the service page of svc at range key (steps of
// step s) and checks its range queries at that step as the Overview's
// are: each sent again alone (wrapped, so gmc's step cache does not
// answer it), raw data answer only its count_over_time. None of its range
// queries reads the sample gaps (queries.sampleGaps, an idelta of
// timestamp(): every raw sample of the service over the range, 3 raw
// selectors; only the newest points' instant queries do, whose rates read
// raw data too), and the rate charts whose points they mark say so (the
// Orders chart's note). recordEveryDocument must be on.
func serviceReadsTiers(t *testing.T, ctx context.Context, base, svc, key, step string) {
	t.Helper()
	eval[bool](t, ctx, `(window.__reqs && (window.__reqs.length = 0), true)`)
	load(t, ctx, base+"/#/service/"+svc+"?range="+key)
	sent := 0
	for _, r := range fetches(t, ctx) {
		q := r.param("query")
		if r.path() != "/api/v1/query_range" {
			continue
		}
		if strings.Contains(q, "idelta(") {
			t.Errorf("service page %s: a range query reads the sample gaps from raw data over the range: %.300s…", key, q)
		}
		if r.param("step") != step || !strings.Contains(q, svc) {
			continue
		}
		sent++
		form := url.Values{"query": {"(" + q + ") * 1"}, "start": {r.param("start")}, "end": {r.param("end")}, "step": {step}}
		b := tierSelects(t, base)
		resp, err := http.PostForm(base+"/api/v1/query_range", form)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("service page %s: its range query again: status %d", key, resp.StatusCode)
		}
		a := tierSelects(t, base)
		d := map[string]float64{}
		for k := range a {
			d[k] = a[k] - b[k]
		}
		t.Logf("service page %s, a range query of %d parts again: selectors answered %v", key, strings.Count(q, "label_replace(")+1, d)
		if counts := strings.Count(q, "count_over_time("); d["raw"] != float64(counts) {
			t.Errorf("service page %s: raw data answered %v of a range query's selectors (%v), want only its %d count_over_time", key, d["raw"], d, counts)
		}
	}
	if sent == 0 {
		t.Fatalf("service page %s: no query_range at step %s", key, step)
	}
	if note := eval[string](t, ctx, `document.querySelector('[data-chart="tps"]').closest('.card').querySelector('.card-note').textContent`); !strings.Contains(note, "silences marked at the newest points only") {
		t.Errorf("service page %s: the Orders chart's note %q does not say which of its points are marked for silences", key, note)
	}
}

// tierSelects reads gmc_tier_selects_total by tier from gmc's /metrics.
func tierSelects(t *testing.T, base string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		rest, ok := strings.CutPrefix(line, `gmc_tier_selects_total{tier="`)
		if !ok {
			continue
		}
		name, val, ok := strings.Cut(rest, `"} `)
		if !ok {
			continue
		}
		v, err := strconv.ParseFloat(val, 64)
		if err != nil {
			t.Fatal(err)
		}
		out[name] = v
	}
	return out
}
