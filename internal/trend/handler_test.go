package trend

import (
	"context"
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/labels"
	promstorage "github.com/prometheus/prometheus/storage"

	"github.com/gmc-dev/gmc/internal/httpapi"
	"github.com/gmc-dev/gmc/internal/query"
	"github.com/gmc-dev/gmc/internal/storage"
)

// serve starts the handler on a real TSDB holding 15 days of one-minute
// samples up to now (a Monday 00:00 UTC, plus 10 minutes):
//   - orders_total{service="gw"} on two instances, each counting at
//     (hour of day + 1)/2 per second, so their sum's rate is hour + 1;
//     instance b resets to 0 every day at 12:30
//   - node_filesystem_avail_bytes{job="gmc-agent"} (a host metric): 1e12 falling 1e10 per day
func serve(t *testing.T) (*httptest.Server, time.Time) {
	t.Helper()
	now := end.Add(10 * time.Minute)
	st, err := storage.Open(storage.Options{Dir: t.TempDir(), Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	app := st.AppenderV2(context.Background())
	a := labels.FromStrings("__name__", "orders_total", "service", "gw", "instance", "a")
	b := labels.FromStrings("__name__", "orders_total", "service", "gw", "instance", "b")
	disk := labels.FromStrings("__name__", "node_filesystem_avail_bytes", "job", "gmc-agent", "instance", "a")
	// A classic latency histogram whose every observation is under its
	// first bound (1e-05), and a gauge named like a count.
	bucket := func(le string) labels.Labels {
		return labels.FromStrings("__name__", "lat_seconds_bucket", "service", "gw", "instance", "a", "le", le)
	}
	lat1, latMs, latInf := bucket("1e-05"), bucket("0.001"), bucket("+Inf")
	procs := labels.FromStrings("__name__", "procs_count", "service", "gw", "instance", "a")
	var ca, cb, obs float64
	for ts := now.Add(-15 * 24 * time.Hour); !ts.After(now); ts = ts.Add(time.Minute) {
		inc := 60 * float64(ts.Add(-time.Second).Hour()+1) / 2
		ca += inc
		cb += inc
		if ts.Hour() == 12 && ts.Minute() == 30 {
			cb = inc // reset during the last minute, then counted inc
		}
		ms := ts.UnixMilli()
		obs += 600
		free := 1e12 - 1e10*now.Sub(ts).Hours()/24*-1
		for _, s := range []struct {
			l labels.Labels
			v float64
		}{{a, ca}, {b, cb}, {disk, free}, {lat1, obs}, {latMs, obs}, {latInf, obs}, {procs, 3}} {
			if _, err := app.Append(0, s.l, 0, ms, s.v, nil, nil, promstorage.AOptions{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	q, err := query.New(query.Options{Queryable: st, Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	h := NewHandler(Options{Queryable: st, Engine: q.Engine(), Now: func() time.Time { return now }})
	mux := http.NewServeMux()
	httpapi.Mount(mux, h.Routes())
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, now
}

func get(t *testing.T, url string, wantCode int, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != wantCode {
		var body map[string]any
		json.NewDecoder(resp.Body).Decode(&body)
		t.Fatalf("GET %s: %d %v, want %d", url, resp.StatusCode, body, wantCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("decode %s: %v", url, err)
	}
}

func TestTrendsOfACounter(t *testing.T) {
	srv, _ := serve(t)
	var r Response
	get(t, srv.URL+"/trends/gw?metric=orders_total&window=7d", 200, &r)
	if r.Kind != "counter" || r.Agg != "sum" || r.Expr != `sum(rate({__name__="orders_total",service="gw"}[1h]))` {
		t.Errorf("kind %s agg %s expr %s", r.Kind, r.Agg, r.Expr)
	}
	if r.End != float64(end.Unix()) || r.Start != float64(end.Add(-7*24*time.Hour+time.Hour).Unix()) || r.StepSeconds != 3600 {
		t.Errorf("range %v..%v step %v", r.Start, r.End, r.StepSeconds)
	}
	// The 10 minutes after end: both instances count 0.5/s.
	if ch := r.CurrentHour; ch == nil || math.Abs(ch.Value-1) > 1e-9 || ch.End != float64(end.Add(10*time.Minute).Unix()) || r.Note != "" {
		t.Errorf("current hour %+v, note %q; want 1/s up to now, no note", ch, r.Note)
	}
	if len(r.Series) != 168 || r.Coverage != 1 {
		t.Fatalf("%d hourly points, coverage %v; want 168, 1", len(r.Series), r.Coverage)
	}
	// The hour ending at h:00 counted at rate hour(h-1)+1 = h (24 at 00:00),
	// and the daily reset of instance b changes nothing.
	for h, p := range r.HourOfDay {
		want := float64(h)
		if h == 0 {
			want = 24
		}
		if p.Samples != 7 || math.Abs(*p.Mean-want) > 1e-6 || math.Abs(*p.Max-want) > 1e-6 {
			t.Errorf("hour %d: %d samples, mean %v, max %v; want 7, %v", h, p.Samples, *p.Mean, *p.Max, want)
		}
	}
	// Every day has the same shape: mean of 1..24.
	for _, d := range r.DayOfWeek {
		if math.Abs(*d.Mean-12.5) > 1e-6 {
			t.Errorf("%s mean %v, want 12.5", d.Day, *d.Mean)
		}
	}
	if r.WeekOverWeek.Change == nil || math.Abs(*r.WeekOverWeek.Change) > 1e-9 {
		t.Errorf("week over week %+v, want no change", r.WeekOverWeek)
	}
	if len(r.Peaks) == 0 || math.Abs(r.Peaks[0].Value-24) > 1e-6 || time.Unix(int64(r.Peaks[0].Time), 0).UTC().Hour() != 0 {
		t.Errorf("peaks %+v, want the first at 24 at 00:00", r.Peaks)
	}
	if r.Forecast.Status != "no_limit" || math.Abs(r.Forecast.SlopePerDay) > 3*r.Forecast.SlopeStdErr {
		t.Errorf("forecast %+v, want no limit and no significant slope", r.Forecast)
	}
}

func TestTrendsForecastDiskFull(t *testing.T) {
	srv, _ := serve(t)
	var r Response
	get(t, srv.URL+"/trends/gmc-agent?metric=node_filesystem_avail_bytes&window=30d", 200, &r)
	if r.Kind != "gauge" || r.Agg != "avg" || r.Expr != `avg(avg_over_time({__name__="node_filesystem_avail_bytes",job="gmc-agent"}[1h]))` {
		t.Errorf("kind %s agg %s", r.Kind, r.Agg)
	}
	// 15 of the 30 days have data.
	if math.Abs(r.Coverage-0.5) > 0.01 {
		t.Errorf("coverage %v, want 0.5", r.Coverage)
	}
	f := r.Forecast
	if f.Limit == nil || *f.Limit != 0 || f.Status != "approaching" || f.ReachesAt == nil {
		t.Fatalf("forecast %+v, want approaching the default limit 0", f)
	}
	// The hourly average of a line is the line half an hour earlier:
	// 1e12 at end-5min... falls 1e10/day → 0 after ~100 days.
	days := (*f.ReachesAt - float64(end.Unix())) / 86400
	if math.Abs(days-100) > 0.1 || math.Abs(f.SlopePerDay+1e10) > 1e6 {
		t.Errorf("reaches 0 after %.2f days with slope %v/day; want 100 days, -1e10/day", days, f.SlopePerDay)
	}
	// Free space's limit is a floor: 2 TB to keep free, 1 TB free now.
	get(t, srv.URL+"/trends/gmc-agent?metric=node_filesystem_avail_bytes&window=7d&limit=2e12", 200, &r)
	if r.Forecast.Status != "reached" || r.Forecast.LimitKind != LimitFloor || *r.Forecast.Limit != 2e12 {
		t.Errorf("a floor above a falling line: %+v", r.Forecast)
	}
	get(t, srv.URL+"/trends/gmc-agent?metric=node_filesystem_avail_bytes&window=7d&limit=2e12&limit_kind=ceiling", 200, &r)
	if r.Forecast.Status != "not_approaching" || r.Forecast.LimitKind != LimitCeiling || *r.Forecast.Limit != 2e12 {
		t.Errorf("a ceiling above a falling line: %+v", r.Forecast)
	}
}

// TestTrendsLimitIsACeiling: a limit given for an order rate is a
// capacity (a ceiling) even below the rates' mean: the desk past it reads
// "reached". It was told by the mean, a floor, so the docs' example
// (limit=5000 at 5.4k/s, busy hours at 7.7-9.5k/s) read "not_approaching"
// (t-user18 F3). limit_kind=floor says otherwise; free space is a floor
// by default (TestTrendsForecastDiskFull).
func TestTrendsLimitIsACeiling(t *testing.T) {
	srv, _ := serve(t)
	var r Response
	get(t, srv.URL+"/trends/gw?metric=orders_total&window=7d&limit=5", 200, &r)
	if r.Forecast.LimitKind != LimitCeiling || r.Forecast.Status != "reached" {
		t.Errorf("limit 5 under hourly rates of 1..24/s: %s, %s; want a ceiling, reached", r.Forecast.LimitKind, r.Forecast.Status)
	}
	get(t, srv.URL+"/trends/gw?metric=orders_total&window=7d&limit=5&limit_kind=floor", 200, &r)
	if r.Forecast.LimitKind != LimitFloor || r.Forecast.Status == "reached" {
		t.Errorf("limit 5 as a floor under rates of 1..24/s: %s, %s; want a floor, not reached", r.Forecast.LimitKind, r.Forecast.Status)
	}
}

func TestTrendsBadRequests(t *testing.T) {
	srv, _ := serve(t)
	for _, c := range []struct {
		url  string
		code int
	}{
		{"/trends/gw", 400},
		{"/trends/gw?metric=orders_total&window=90d", 400},
		{"/trends/gw?metric=%ff", 400},
		{"/trends/gw?metric=orders_total&agg=median", 400},
		{"/trends/gw?metric=orders_total&kind=summary", 400},
		{"/trends/gw?metric=orders_total&limit=NaN", 400},
		{"/trends/gw?metric=orders_total&limit=5&limit_kind=top", 400},
		{"/trends/gw?metric=nope_total", 404},
		{"/trends/other?metric=orders_total", 404},
	} {
		var body struct{ Status, ErrorType, Error string }
		get(t, srv.URL+c.url, c.code, &body)
		if body.Status != "error" || body.Error == "" {
			t.Errorf("%s: body %+v", c.url, body)
		}
	}
}

// TestTrendsFirstHour: in the first hour of data there is no whole hour to
// analyse; the answer says so and gives the hour in progress, over the
// part of it that has data (a counter's rate is not diluted by the minutes
// before its first sample).
func TestTrendsFirstHour(t *testing.T) {
	first := end.Add(5 * time.Minute)
	now := end.Add(35 * time.Minute)
	st, err := storage.Open(storage.Options{Dir: t.TempDir(), Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	app := st.AppenderV2(context.Background())
	c := labels.FromStrings("__name__", "fresh_total", "service", "new")
	g := labels.FromStrings("__name__", "fresh_temp", "service", "new")
	for ts, v := first, 100.0; !ts.After(now); ts, v = ts.Add(15*time.Second), v+30 {
		for _, s := range []struct {
			l labels.Labels
			v float64
		}{{c, v}, {g, 7}} {
			if _, err := app.Append(0, s.l, 0, ts.UnixMilli(), s.v, nil, nil, promstorage.AOptions{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	q, err := query.New(query.Options{Queryable: st, Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	h := NewHandler(Options{Queryable: st, Engine: q.Engine(), Now: func() time.Time { return now }})
	mux := http.NewServeMux()
	httpapi.Mount(mux, h.Routes())
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	for _, c := range []struct {
		metric string
		want   float64
	}{{"fresh_total", 2}, {"fresh_temp", 7}} {
		var r Response
		get(t, srv.URL+"/trends/new?metric="+c.metric, 200, &r)
		if r.Coverage != 0 || len(r.Series) != 0 || r.End != float64(end.Unix()) {
			t.Errorf("%s: coverage %v, %d hourly values, end %v; want none before the first whole hour", c.metric, r.Coverage, len(r.Series), r.End)
		}
		ch := r.CurrentHour
		if ch == nil {
			t.Fatalf("%s: no current_hour", c.metric)
		}
		if ch.Start != float64(first.UnixMilli()-1)/1000 || ch.End != float64(now.Unix()) || ch.Seconds != 1800.001 {
			t.Errorf("%s: current hour %v..%v (%v s), want from the first sample to now", c.metric, ch.Start, ch.End, ch.Seconds)
		}
		if math.Abs(ch.Value-c.want) > 1e-9*c.want {
			t.Errorf("%s: current hour %v (%s), want %v", c.metric, ch.Value, ch.Expr, c.want)
		}
		if !strings.Contains(r.Note, "no whole hour") || r.Forecast.Status != "insufficient_history" || !strings.Contains(r.Forecast.Reason, "span 0 h of the 323 h") {
			t.Errorf("%s: note %q, forecast %s", c.metric, r.Note, r.Forecast.Status)
		}
	}
	// A service with no data at all is still not found.
	var body struct{ Status, Error string }
	get(t, srv.URL+"/trends/none?metric=fresh_total", 404, &body)
}

// TestTrendsPartialHourIsNoPeak: a service that starts 4 minutes before an
// hour ends at 2400/s (t-user3: "Peak 163/s, hour ending 18:00") has that
// hour in the series, as the rate the hour saw, but marked partial and left
// out of the peaks and profiles: 10 minutes later there is no peak yet, two
// hours later the whole hour after it is the peak.
func TestTrendsPartialHourIsNoPeak(t *testing.T) {
	first := end.Add(-4 * time.Minute)
	now := end.Add(2*time.Hour + 10*time.Minute)
	st, err := storage.Open(storage.Options{Dir: t.TempDir(), Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	app := st.AppenderV2(context.Background())
	c := labels.FromStrings("__name__", "young_total", "service", "young")
	for ts, v := first, 0.0; !ts.After(now); ts, v = ts.Add(time.Second), v+2400 {
		if ts.After(end.Add(time.Hour)) && ts.Before(end.Add(time.Hour+5*time.Minute)) {
			continue // a 5-minute gap: the hour ending end+2h is still 92 % covered
		}
		if _, err := app.Append(0, c, 0, ts.UnixMilli(), v, nil, nil, promstorage.AOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	q, err := query.New(query.Options{Queryable: st, Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	var clock atomic.Int64
	clock.Store(end.Add(10 * time.Minute).UnixNano())
	h := NewHandler(Options{Queryable: st, Engine: q.Engine(), Now: func() time.Time { return time.Unix(0, clock.Load()).UTC() }})
	mux := http.NewServeMux()
	httpapi.Mount(mux, h.Routes())
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	var r Response
	get(t, srv.URL+"/trends/young?metric=young_total", 200, &r)
	if len(r.Series) != 1 || len(r.Peaks) != 0 || len(r.PartialHours) != 1 {
		t.Errorf("10 minutes into the first whole hour: series %v, peaks %+v, partial %v; want the diluted hour, partial, and no peak",
			r.Series, r.Peaks, r.PartialHours)
	}
	clock.Store(now.UnixNano())
	r = Response{}
	get(t, srv.URL+"/trends/young?metric=young_total", 200, &r)
	if len(r.Series) != 3 || r.Series[0][0] != float64(end.Unix()) || r.Series[0][1] > 200 {
		t.Fatalf("series %v, want the diluted hour ending %v then two whole hours", r.Series, end)
	}
	if len(r.PartialHours) != 1 || r.PartialHours[0] != float64(end.Unix()) {
		t.Errorf("partial hours %v, want only %v (4 minutes of data)", r.PartialHours, end.Unix())
	}
	if len(r.Peaks) != 1 || r.Peaks[0].Time == float64(end.Unix()) || math.Abs(r.Peaks[0].Value-2400) > 1e-6 {
		t.Errorf("peaks %+v, want one whole hour at 2400/s", r.Peaks)
	}
	if p := r.HourOfDay[0]; p.Samples != 0 {
		t.Errorf("hour 0 profile %+v, want no samples (its hour is partial)", p)
	}
	if !strings.Contains(r.Note, "partial_hours") {
		t.Errorf("note %q does not say hours were left out", r.Note)
	}
}

// TestPartialHourHasAHole: an hour's coverage counts the time its samples
// cover, each the 5m lookback after it, as the SLA coverage does, so an
// hour with a 20-minute hole is partial (45 of 60 minutes; the old first-to-last
// span read it as whole), and one with a 5-minute hole is not.
func TestPartialHourHasAHole(t *testing.T) {
	st, err := storage.Open(storage.Options{Dir: t.TempDir(), Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	app := st.AppenderV2(context.Background())
	c := labels.FromStrings("__name__", "holey_total", "service", "h")
	from := end.Add(-4 * time.Hour)
	for ts, v := from, 0.0; !ts.After(end); ts, v = ts.Add(time.Second), v+1 {
		if d := ts.Sub(from); d > 70*time.Minute && d < 90*time.Minute || d > 130*time.Minute && d < 135*time.Minute {
			continue
		}
		if _, err := app.Append(0, c, 0, ts.UnixMilli(), v, nil, nil, promstorage.AOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	h := NewHandler(Options{Queryable: st})
	var points []Point
	for i := 1; i <= 4; i++ {
		points = append(points, Point{T: from.Add(time.Duration(i) * time.Hour)})
	}
	if err := h.markPartial(context.Background(), ServiceLabel, "h", "holey_total", points); err != nil {
		t.Fatal(err)
	}
	for i, want := range []bool{false, true, false, false} {
		if points[i].Partial != want {
			t.Errorf("hour %d (ending %s): partial %v, want %v", i+1, points[i].T.Format(time.TimeOnly), points[i].Partial, want)
		}
	}
}

// TestTrendsFirstBucketNotMeasured: a classic histogram's p99 with most
// hours in its first bucket is histogram_quantile's interpolation from 0
// (9.9 µs for le=10 µs): the week-over-week change and the forecast said
// "−0.00111 ns / day", R² 0.195, of it (t-user13 F3). They are withheld,
// saying why; with most hours above the bucket they stay.
func TestTrendsFirstBucketNotMeasured(t *testing.T) {
	fb := 1e-5
	for _, tc := range []struct {
		name     string
		above    int // hours of the last two weeks above the first bucket
		measured bool
	}{{"all in the first bucket", 0, false}, {"most above it", 300, true}} {
		var pts []Point
		for h := range 14 * 24 {
			v := 9.9e-6 + 1e-9*float64(h%24)
			if h >= 14*24-tc.above {
				v = 2e-5 + 1e-7*float64(h)
			}
			pts = append(pts, Point{T: end.Add(-time.Duration(14*24-1-h) * time.Hour), V: v})
		}
		r := Response{FirstBucket: &fb, Analysis: Analyze(pts, end, 7*24*time.Hour, nil, "")}
		for _, p := range pts[7*24:] {
			r.Series = append(r.Series, [2]float64{float64(p.T.Unix()), p.V})
		}
		if r.Analysis.Forecast.Status == "" || r.Analysis.Forecast.Status == ForecastNotMeasurable {
			t.Fatalf("%s: Analyze's forecast %+v", tc.name, r.Analysis.Forecast)
		}
		r.censor()
		wow, f := r.Analysis.WeekOverWeek, r.Analysis.Forecast
		withheld := wow.Change == nil && strings.Contains(wow.Reason, "first bucket") && f.Status == ForecastNotMeasurable &&
			strings.Contains(f.Reason, "first bucket") && f.SlopePerDay == 0 && f.R2 == 0
		if withheld == tc.measured {
			t.Errorf("%s: week over week %+v, forecast %+v; want measured %v", tc.name, wow, f, tc.measured)
		}
	}
}

// TestTrendsCountWithoutSumIsAGauge: a metric ending in _count is a
// histogram's or summary's counter only beside its _sum; alone it is a
// gauge (gmc_process_count, processes matched, read as "0/s", t-user13 F5).
func TestTrendsCountWithoutSumIsAGauge(t *testing.T) {
	srv, _ := serve(t)
	var got Response
	get(t, srv.URL+"/trends/gw?metric=procs_count&window=7d", http.StatusOK, &got)
	if got.Kind != "gauge" || len(got.Series) == 0 || got.Series[len(got.Series)-1][1] != 3 {
		t.Errorf("procs_count: kind %s, last %v; want a gauge at 3", got.Kind, got.Series[len(got.Series)-1:])
	}
}
