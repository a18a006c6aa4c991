package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gmc-dev/gmc/internal/config"
	"github.com/gmc-dev/gmc/internal/demo"
	"github.com/gmc-dev/gmc/internal/server"
	"github.com/gmc-dev/gmc/internal/web"
)

// historyStack is a gmc whose data dir holds 15 days of the demo's history
// (demo.Backfill, as `gmc demo --history`), with the dashboard in front.
func historyStack(t *testing.T) string {
	t.Helper()
	return historyStackSpan(t, 15*24*time.Hour)
}

// historyStackSpan is historyStack with span of backfilled history.
func historyStackSpan(t *testing.T, span time.Duration) string {
	t.Helper()
	return historyStackEvery(t, span, 5*time.Minute)
}

// historyStackEvery is historyStackSpan with samples every interval.
func historyStackEvery(t *testing.T, span, interval time.Duration) string {
	t.Helper()
	dir := t.TempDir()
	if _, err := demo.Backfill(context.Background(), demo.HistoryOptions{Dir: dir, End: time.Now(), Span: span, Interval: interval, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.Server.ListenAddress = "127.0.0.1:0"
	cfg.Server.DataDir = dir
	cfg.Normalise()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(server.Options{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("gmc server: %v", err)
		}
	})
	for i := 0; ; i++ {
		if srv.Addr() != "" {
			if resp, err := http.Get("http://" + srv.Addr() + "/-/ready"); err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					break
				}
			}
		}
		if i > 200 {
			t.Fatal("gmc not ready after 20s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	ui, err := web.New(web.Options{Interval: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	for _, r := range ui.Routes() {
		mux.HandleFunc(r.Method+" "+r.Path, r.Handler)
	}
	mux.Handle("/", srv.Handler())
	hs := httptest.NewServer(mux)
	t.Cleanup(func() { ui.Shutdown(); hs.Close() })
	return hs.URL
}

func getJSON(t *testing.T, u string, v any) int {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatalf("%s: %v", u, err)
		}
	}
	return resp.StatusCode
}

// TestBrowserTrends: the Trends page shows GET /trends/{service} — hourly
// series with the fitted line, load by hour of day and day of week,
// week-over-week, peaks and the forecast with its model and error — with
// service, metric and window pickers, over `gmc demo --history` data; its
// figures are the API's and the raw PromQL's.
func TestBrowserTrends(t *testing.T) {
	ctx := browser(t)
	base := historyStack(t)
	dir := artifacts(t)
	svc := demo.ServiceGateway
	var api struct {
		Series       [][2]float64 `json:"series"`
		Expr         string       `json:"expr"`
		Start, End   float64
		WeekOverWeek struct {
			Change *float64 `json:"change"`
		} `json:"week_over_week"`
		Peaks     []struct{ Time, Value float64 } `json:"peaks"`
		HourOfDay []struct {
			Mean    *float64 `json:"mean"`
			Samples int      `json:"samples"`
		} `json:"hour_of_day"`
		Forecast struct {
			Model     string  `json:"model"`
			RMSE      float64 `json:"rmse"`
			SpanHours float64 `json:"span_hours"`
		} `json:"forecast"`
	}
	if code := getJSON(t, base+"/trends/"+svc+"?metric=gmc_orders_total&window=7d", &api); code != 200 {
		t.Fatalf("GET /trends: %d", code)
	}
	load(t, ctx, base+"/#/trends/"+svc+"?range=1h&metric=gmc_orders_total&window=7d")
	if n := evalInt(t, ctx, `Number(document.querySelector('[data-chart="trend"]').dataset.points)`); n < len(api.Series) || n == 0 {
		t.Errorf("trend chart drew %d points, want the API's %d hourly values (and the fitted line)", n, len(api.Series))
	}
	if api.WeekOverWeek.Change == nil {
		t.Fatal("15 days of history gave no week-over-week change")
	}
	if got := eval[float64](t, ctx, `Number(document.querySelector('[data-kpi="Week over week"]').dataset.value)`); math.Abs(got-*api.WeekOverWeek.Change) > 1e-9 {
		t.Errorf("week over week %v, want the API's %v", got, *api.WeekOverWeek.Change)
	}
	if txt := eval[string](t, ctx, `document.querySelector('[data-forecast]').textContent`); !strings.Contains(txt, api.Forecast.Model) || !strings.Contains(txt, "RMSE") {
		t.Errorf("forecast %q does not state the model %q and its error", txt, api.Forecast.Model)
	}
	if got := eval[float64](t, ctx, `Number(document.querySelector('[data-rmse]').dataset.rmse)`); got != api.Forecast.RMSE {
		t.Errorf("RMSE %v, want %v", got, api.Forecast.RMSE)
	}
	// The data the line was fitted on is stated: the API's span.
	if got := eval[float64](t, ctx, `Number(document.querySelector('[data-span]').dataset.span)`); got != api.Forecast.SpanHours || got < 72 {
		t.Errorf("fitted on %v h, want the API's %v (≥ 72)", got, api.Forecast.SpanHours)
	}
	if n := evalInt(t, ctx, `document.querySelectorAll('[data-profile="hour"] .profile-col').length`); n != 24 {
		t.Errorf("hour-of-day profile has %d columns, want 24", n)
	}
	// An hour of the day without a mean over the same days is drawn apart,
	// as the API leaves it out, and the note says which days each bar is over.
	out := 0
	for _, p := range api.HourOfDay {
		if p.Mean == nil && p.Samples > 0 {
			out++
		}
	}
	if n := evalInt(t, ctx, `document.querySelectorAll('[data-profile="hour"] .profile-out').length`); n != out {
		t.Errorf("hour-of-day profile draws %d columns left out, the API %d", n, out)
	}
	if txt := eval[string](t, ctx, `document.querySelector('[data-profile-note="hour"]').textContent`); !strings.Contains(txt, "each the mean of ") {
		t.Errorf("hour-of-day note %q does not say which days each bar is over", txt)
	}
	if n := evalInt(t, ctx, `document.querySelectorAll('[data-profile="day"] .profile-col').length`); n != 7 {
		t.Errorf("day-of-week profile has %d columns, want 7", n)
	}
	if n := evalInt(t, ctx, `Number(document.querySelector('[data-peaks]').dataset.peaks)`); n != len(api.Peaks) || n == 0 {
		t.Errorf("%d peaks shown, want %d", n, len(api.Peaks))
	}
	// The peak is the raw data's highest hourly rate.
	var raw struct {
		Data struct {
			Result []struct {
				Values [][2]any `json:"values"`
			} `json:"result"`
		} `json:"data"`
	}
	q := url.Values{"query": {api.Expr}, "start": {fmt.Sprint(api.Start)}, "end": {fmt.Sprint(api.End)}, "step": {"3600"}}
	getJSON(t, base+"/api/v1/query_range?"+q.Encode(), &raw)
	hi := math.Inf(-1)
	for _, s := range raw.Data.Result {
		for _, v := range s.Values {
			var f float64
			fmt.Sscan(v[1].(string), &f)
			hi = math.Max(hi, f)
		}
	}
	// The tile's three figures against the raw maximum ("%.3g"[:2] read
	// "1." for 10,915 beside the tile's "10.9k/s").
	peak := eval[string](t, ctx, `document.querySelector('[data-kpi="Peak"] .kpi-value').textContent`)
	if shown, ok := siValue(strings.TrimSuffix(peak, "/s")); hi <= 0 || !ok || math.Abs(shown-hi) > 0.006*hi {
		t.Errorf("peak tile %q, raw hourly maximum %v", peak, hi)
	}
	screenshot(t, ctx, dir, "trends")

	// Window picker: 30d asks the API for 30 days.
	eval[bool](t, ctx, `(document.querySelector('[data-window="30d"]').click(), true)`)
	if err := poll(ctx, 20*time.Second, `location.hash.includes('window=30d') && Number(document.getElementById('page').dataset.refreshed) >= 1 && !!document.querySelector('[data-chart="trend"]')`); err != nil {
		t.Fatalf("30d window: %v", err)
	}
	if cov := eval[float64](t, ctx, `Number(document.querySelector('[data-kpi="Coverage"]').dataset.value)`); cov < 0.4 || cov > 0.6 {
		t.Errorf("30d coverage %v, want about a half (15 days of history)", cov)
	}
	// A link from a page's 30d range (#/trends?range=30d, no window)
	// opens the 30d window (it opened 7d, t-user18 F6).
	load(t, ctx, base+"/#/trends/"+svc+"?range=30d&metric=gmc_orders_total")
	if err := poll(ctx, 20*time.Second, `Number(document.getElementById('page').dataset.refreshed) >= 1 && document.querySelector('.trend-window a.active')?.dataset.window === '30d'`); err != nil {
		t.Fatalf("range=30d without a window: the window picked is %q: %v", eval[string](t, ctx, `document.querySelector('.trend-window a.active')?.dataset.window || ''`), err)
	}
	// Metric picker lists the service's metrics and switches to one.
	if !eval[bool](t, ctx, `[...document.querySelectorAll('select[name="metric"] option')].some(o => o.value === 'gmc_order_latency_seconds_count')`) {
		t.Error("metric picker lacks the service's metrics")
	}
	if !eval[bool](t, ctx, `[...document.querySelectorAll('select[name="service"] option')].some(o => o.value === 'matching-engine')`) {
		t.Error("service picker lacks the services")
	}
}

// TestBrowserTrendsEmpty: a metric younger than a whole hour (GET /trends
// answers 404) reads "trends read complete hours only" and when the first
// hour completes, not an error.
func TestBrowserTrendsEmpty(t *testing.T) {
	ctx := browser(t)
	st := startStack(t, 3, false)
	// Not within a few seconds after a whole hour: the sample must fall
	// after the last one.
	if now := time.Now(); now.Sub(now.Truncate(time.Hour)) < 3*time.Second {
		time.Sleep(3 * time.Second)
	}
	now := time.Now()
	body := fmt.Sprintf(`{"service":"fresh","instance":"fresh-1","timestamp":%f,"metrics":{"queue_depth":5}}`, float64(now.UnixMilli())/1000)
	jsonPush(t, st, body)
	// No whole hour yet: the answer is the hour in progress alone.
	var fresh struct {
		Series      [][2]float64 `json:"series"`
		CurrentHour *struct {
			Value float64 `json:"value"`
		} `json:"current_hour"`
		Note string `json:"note"`
	}
	if code := getJSON(t, st.URL+"/trends/fresh?metric=queue_depth", &fresh); code != http.StatusOK ||
		len(fresh.Series) != 0 || fresh.CurrentHour == nil || fresh.CurrentHour.Value != 5 || fresh.Note == "" {
		t.Fatalf("GET /trends/fresh: %d %+v, want 200 with no whole hour, the current hour's 5 and a note", code, fresh)
	}
	load(t, ctx, st.URL+"/#/trends/fresh?range=1h&metric=queue_depth")
	if err := poll(ctx, 10*time.Second, `!!document.querySelector('[data-empty="no-hours"]')`); err != nil {
		t.Fatalf("no empty state: %v (page: %s)", err, eval[string](t, ctx, `document.getElementById('page').textContent`))
	}
	txt := eval[string](t, ctx, `document.querySelector('[data-empty]').textContent`)
	next := now.Truncate(time.Hour).Add(time.Hour).Format("15:04")
	if !strings.Contains(txt, "complete hours only") || !strings.Contains(txt, "completes at "+next) || !strings.Contains(txt, "no whole hour") {
		t.Errorf("empty state %q, want it to say trends read complete hours only and the first hour completes at %s", txt, next)
	}
	if e := eval[string](t, ctx, `document.getElementById('page').dataset.error || ''`); e != "" {
		t.Errorf("page reports an error: %s", e)
	}
	if so := eval[string](t, ctx, `document.getElementById('page').textContent`); !strings.Contains(so, "This hour so far") {
		t.Errorf("no tile for the hour in progress: %s", so)
	}
	screenshot(t, ctx, artifacts(t), "trends-empty")
}

// TestBrowserTrendsTooShort: the user trial's Trends page fitted a line to
// the demo's one backfilled day (R² 0.0000048, "fitted now" 940/s beside
// 2.4k/s this hour). With less than three days of hourly points no line is
// fitted or drawn, and the page says how much history it has of what it
// needs.
func TestBrowserTrendsTooShort(t *testing.T) {
	ctx := browser(t)
	// The history's 5-minute samples put its start and its end at the same
	// minute of the hour, and the end's hour is the hour in progress: with
	// 26h exactly, a run in an hour's first ten minutes had its first hour
	// (nearly) whole and no partial hour at all (a clean-clone CI run at
	// 04:05). Start it at half past an hour, whatever the time: its first
	// hour is always partial.
	m := time.Now().Minute() / 5 * 5
	base := historyStackSpan(t, 26*time.Hour+time.Duration((m+30)%60)*time.Minute)
	var api struct {
		Forecast struct {
			Status    string  `json:"status"`
			SpanHours float64 `json:"span_hours"`
			NeedHours float64 `json:"need_hours"`
			Reason    string  `json:"reason"`
		} `json:"forecast"`
		WeekOverWeek struct {
			Reason string `json:"reason"`
		} `json:"week_over_week"`
		PartialHours []float64 `json:"partial_hours"`
	}
	if code := getJSON(t, base+"/trends/"+demo.ServiceGateway+"?metric=gmc_orders_total&window=7d", &api); code != 200 {
		t.Fatalf("GET /trends: %d", code)
	}
	// The history's first hour is partial (it starts at half past), and
	// there is no last week.
	if api.WeekOverWeek.Reason == "" || len(api.PartialHours) == 0 {
		t.Fatalf("week over week reason %q, partial hours %v; want a reason and partial hours", api.WeekOverWeek.Reason, api.PartialHours)
	}
	if api.Forecast.Status != "insufficient_history" || api.Forecast.SpanHours >= api.Forecast.NeedHours || api.Forecast.NeedHours < 72 {
		t.Fatalf("forecast %+v, want insufficient_history: fewer hours than the 72 or more needed", api.Forecast)
	}
	load(t, ctx, base+"/#/trends/"+demo.ServiceGateway+"?range=1h&metric=gmc_orders_total&window=7d")
	want := fmt.Sprintf("not enough history: %s h of the %s h needed", strconv.FormatFloat(api.Forecast.SpanHours, 'f', -1, 64), strconv.FormatFloat(api.Forecast.NeedHours, 'f', -1, 64))
	if txt := eval[string](t, ctx, `(document.querySelector('[data-refused]') || {}).textContent || ''`); !strings.Contains(txt, want) {
		t.Errorf("forecast says %q, want %q", txt, want)
	}
	// Why nothing is fitted is the API's reason (the page said "the daily
	// cycle" after the forecast came to need two weeks for the weekly one).
	if txt := eval[string](t, ctx, `(document.querySelector('[data-forecast] p.muted') || {}).textContent || ''`); api.Forecast.Reason == "" || !strings.Contains(txt, api.Forecast.Reason) {
		t.Errorf("forecast explains %q, want the API's reason %q", txt, api.Forecast.Reason)
	}
	if txt := eval[string](t, ctx, `document.querySelector('[data-kpi="Week over week"]').textContent`); !strings.Contains(txt, api.WeekOverWeek.Reason) {
		t.Errorf("Week over week tile %q, want the API's reason %q", txt, api.WeekOverWeek.Reason)
	}
	if txt := eval[string](t, ctx, `document.querySelector('[data-kpi="Peak"]').textContent`); !strings.Contains(txt, fmt.Sprintf("%d partial hour", len(api.PartialHours))) {
		t.Errorf("Peak tile %q, want it to say %d partial hours were left out", txt, len(api.PartialHours))
	}
	// Coverage counts the hours with data, the partial ones among them said
	// (it read "168 of 168 hours" beside the Peak's "1 partial hour left
	// out", t-user4 #9).
	if txt := eval[string](t, ctx, `document.querySelector('[data-kpi="Coverage"]').textContent`); !strings.Contains(txt, fmt.Sprintf("%d of them partial", len(api.PartialHours))) {
		t.Errorf("Coverage tile %q, want it to say %d of its hours are partial", txt, len(api.PartialHours))
	}
	// The Trend tile says what the Forecast card says: one threshold, the
	// span (on a fresh run it said "a line needs 3 hourly points" beside the
	// card's 335 h, t-user5 #8).
	if txt := eval[string](t, ctx, `document.querySelector('[data-kpi="Trend"]').textContent`); !strings.Contains(txt, want) || strings.Contains(txt, "/ day") {
		t.Errorf("Trend tile %q, want %q and no slope", txt, want)
	}
	// The partial hours are drawn apart from the whole hours' line (the
	// demo's hour before the live desk was its last point at about half the
	// rate, t-user5 #6).
	// The hour in progress has a dot when it has a value: the history's
	// samples are 5 minutes apart, so in an hour's first minutes it has none
	// (a clean-clone CI run at 00:0x failed on a fixed count).
	want3, what := 3, "the whole hours, the partial hours and this hour so far; no fitted line"
	if txt := eval[string](t, ctx, `document.querySelector('[data-kpi="This hour so far"] .kpi-value').textContent.trim()`); txt == "–" {
		want3, what = 2, "the whole hours and the partial hours; this hour has no value yet; no fitted line"
	}
	if n := evalInt(t, ctx, `Number(document.querySelector('[data-chart="trend"]').dataset.series)`); n != want3 {
		t.Errorf("trend chart has %d series, want %d (%s)", n, want3, what)
	}
}

// siValue reads a figure the page formats with an SI suffix ("10.9k", "842",
// "1.2M").
func siValue(s string) (float64, bool) {
	mult := 1.0
	for suffix, m := range map[string]float64{"k": 1e3, "M": 1e6, "G": 1e9} {
		if strings.HasSuffix(s, suffix) {
			s, mult = strings.TrimSuffix(s, suffix), m
			break
		}
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	return f * mult, err == nil
}
