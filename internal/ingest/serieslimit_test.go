package ingest

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/prompb"
	promstorage "github.com/prometheus/prometheus/storage"

	"github.com/gmc-dev/gmc/internal/duration"
	"github.com/gmc-dev/gmc/internal/storage"
)

// limitSample is one sample of the series {__name__=metric, id, job=service,
// service}: the label set every push protocol below produces.
type limitSample struct {
	service, metric, id string
	t                   int64
	v                   float64
}

func (s limitSample) String() string {
	return fmt.Sprintf(`{__name__="%s", id="%s", job="%s", service="%s"} %d %g`, s.metric, s.id, s.service, s.service, s.t, s.v)
}

// limitProtocols send samples through each push protocol.
var limitProtocols = []struct {
	name string
	send func(t *testing.T, e *testEnv, ss ...limitSample) (int, string)
}{
	{"remote_write", func(t *testing.T, e *testEnv, ss ...limitSample) (int, string) {
		var ts []prompb.TimeSeries
		for _, s := range ss {
			ts = append(ts, series([]string{"__name__", s.metric, "id", s.id, "job", s.service, "service", s.service},
				prompb.Sample{Timestamp: s.t, Value: s.v}))
		}
		return do(t, e.in.RemoteWrite(), http.MethodPost, "/api/v1/write", rwHeaders, encodeWrite(t, ts...))
	}},
	{"json_push", func(t *testing.T, e *testEnv, ss ...limitSample) (int, string) {
		var objs []string
		for _, s := range ss {
			objs = append(objs, fmt.Sprintf(`{"service":%q,"timestamp":%d,"labels":{"id":%q,"job":%q},"metrics":{%q:%g}}`,
				s.service, s.t/1000, s.id, s.service, s.metric, s.v))
		}
		return do(t, e.in.JSONPush(), http.MethodPost, "/api/v1/push", nil, []byte("["+strings.Join(objs, ",")+"]"))
	}},
	{"text_push", func(t *testing.T, e *testEnv, ss ...limitSample) (int, string) {
		var b strings.Builder
		for _, s := range ss {
			if s.service != ss[0].service {
				t.Fatal("one text push carries one service")
			}
			fmt.Fprintf(&b, "%s{id=%q} %g %d\n", s.metric, s.id, s.v, s.t)
		}
		return do(t, e.in.TextPush(), http.MethodPost, "/metrics/job/"+ss[0].service, nil, []byte(b.String()))
	}},
}

// TestSeriesLimits fills each cardinality limit, then sends through each
// protocol a sample of a series the head holds and one of a new series: the
// answer is 429 naming the limit (and the metric or service), the known
// series' sample is written, the refusal is counted, and — for the
// per-metric and per-service limits — another metric or service still gets
// new series.
func TestSeriesLimits(t *testing.T) {
	const t0 = 1795607000000 // ingestTestNow - 1000 s, whole seconds for JSON
	fill := []limitSample{
		{"svc-a", "m", "1", t0, 1}, {"svc-a", "m", "2", t0, 1}, {"svc-a", "m", "3", t0, 1},
	}
	tests := []struct {
		limit string
		set   func(*Limits)
		want  string
		other limitSample // a new series another service or metric may still create; zero: none
	}{
		{
			limit: limitPerService,
			set:   func(l *Limits) { l.MaxSeriesPerService = 3 },
			want:  `new series refused: service "svc-a" has limits.max_series_per_service 3 series`,
			other: limitSample{"svc-b", "m", "9", t0 + 1000, 7},
		},
		{
			limit: limitPerMetric,
			set:   func(l *Limits) { l.MaxSeriesPerMetric = 3 },
			want:  `new series refused: metric "m" has limits.max_series_per_metric 3 series`,
			other: limitSample{"svc-a", "other_metric", "9", t0 + 1000, 7},
		},
		{
			limit: limitHeadSeries,
			set:   func(l *Limits) { l.MaxHeadSeries = 3 },
			want:  `new series refused: the head holds limits.max_head_series 3 series`,
		},
		{
			limit: limitNewSeriesRate,
			// The test clock stands still: the bucket never refills.
			set:  func(l *Limits) { l.MaxNewSeriesPerSecond, l.NewSeriesBurst = 1, 3 },
			want: `new series refused: more than limits.max_new_series_per_second 1 new series per second; retry later`,
		},
	}
	for _, tc := range tests {
		for _, p := range limitProtocols {
			t.Run(tc.limit+"/"+p.name, func(t *testing.T) {
				e := newTestEnv(t, func(l *Limits) {
					l.MaxHeadSeries, l.MaxSeriesPerMetric, l.MaxSeriesPerService, l.MaxNewSeriesPerSecond = 0, 0, 0, 0
					tc.set(l)
				})
				if code, msg := limitProtocols[0].send(t, e, fill...); code != http.StatusNoContent {
					t.Fatalf("filling the limit: %d %s", code, msg)
				}
				known := limitSample{"svc-a", "m", "2", t0 + 1000, 5}
				code, msg := p.send(t, e, known, limitSample{"svc-a", "m", "4", t0 + 1000, 6})
				if code != http.StatusTooManyRequests {
					t.Fatalf("status %d (%s), want 429", code, msg)
				}
				if !strings.HasPrefix(msg, "accepted 1 samples, rejected 1: ") || !strings.Contains(msg, tc.want) ||
					!strings.Contains(msg, `id="4"`) {
					t.Errorf("message %q, want accepted 1, rejected 1, naming series id=4 and %q", msg, tc.want)
				}
				stored := e.stored(t)
				if !slices.Contains(stored, known.String()) {
					t.Errorf("the known series' sample %s was not written; stored:\n%s", known, strings.Join(stored, "\n"))
				}
				for _, s := range stored {
					if strings.Contains(s, `id="4"`) {
						t.Errorf("refused series stored: %s", s)
					}
				}
				if n := testutil.ToFloat64(e.limiter.limited.WithLabelValues(tc.limit)); n < 1 {
					t.Errorf("gmc_ingest_series_limited_total{limit=%q} = %v, want ≥ 1", tc.limit, n)
				}
				if tc.other.service == "" {
					return
				}
				if code, msg := p.send(t, e, tc.other); code/100 != 2 {
					t.Fatalf("a new series of another service or metric: %d %s, want 2xx", code, msg)
				}
				if stored := e.stored(t); !slices.Contains(stored, tc.other.String()) {
					t.Errorf("%s not stored:\n%s", tc.other, strings.Join(stored, "\n"))
				}
			})
		}
	}
}

// TestSeriesLimitsKeepReplayedSeries restarts a TSDB holding more series than
// the new limit allows: every series comes back from the WAL (what was
// acknowledged is never refused), their samples are still taken, new series
// are refused.
func TestSeriesLimitsKeepReplayedSeries(t *testing.T) {
	dir := t.TempDir()
	open := func(max int) (*storage.TSDB, *SeriesLimiter) {
		l := DefaultLimits()
		l.MaxHeadSeries = max
		lim := NewSeriesLimiter(SeriesLimiterOptions{Limits: l, Registerer: prometheus.NewRegistry(), Now: ingestTestNow})
		db, err := storage.Open(storage.Options{Dir: dir, Retention: 24 * time.Hour, SeriesCallback: lim})
		if err != nil {
			t.Fatal(err)
		}
		lim.Enforce()
		return db, lim
	}
	appendOne := func(db *storage.TSDB, id string, ts int64) error {
		app := db.AppenderV2(context.Background())
		if _, err := app.Append(0, labels.FromStrings("__name__", "m", "id", id, "service", "s"), 0, ts, 1, nil, nil, promstorage.AOptions{}); err != nil {
			_ = app.Rollback()
			return err
		}
		return app.Commit()
	}
	db, _ := open(0)
	for i := range 5 {
		if err := appendOne(db, fmt.Sprint(i), nowMs); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db, lim := open(3)
	defer db.Close()
	if total, perMetric, perService := lim.SeriesCounts("m", "s"); total != 5 || perMetric != 5 || perService != 5 {
		t.Errorf("after replay the limiter counts %d/%d/%d series (total/metric/service), want 5/5/5", total, perMetric, perService)
	}
	if got := db.Stats().HeadSeries; got != 5 {
		t.Errorf("head holds %d series after replay, want 5", got)
	}
	for i := range 5 {
		if err := appendOne(db, fmt.Sprint(i), nowMs+1000); err != nil {
			t.Errorf("sample of replayed series %d: %v", i, err)
		}
	}
	err := appendOne(db, "new", nowMs+1000)
	if err == nil || err.Error() != "new series refused: the head holds limits.max_head_series 3 series" {
		t.Errorf("new series over the limit: %v, want the max_head_series refusal", err)
	}
}

// TestSeriesLimitsFollowHeadGC has the head drop a series (compaction moves
// its only sample into a block): the limiter counts it gone, so a new series
// fits again.
func TestSeriesLimitsFollowHeadGC(t *testing.T) {
	e := newTestEnv(t, func(l *Limits) { l.MaxSeriesPerService = 2 })
	old := limitSample{"svc-a", "m", "old", nowMs - 6*3600_000, 1}
	if code, msg := limitProtocols[0].send(t, e, old, limitSample{"svc-a", "m", "1", nowMs - 60_000, 1}); code != http.StatusNoContent {
		t.Fatalf("%d %s", code, msg)
	}
	newer := limitSample{"svc-a", "m", "2", nowMs - 59_000, 1}
	if code, _ := limitProtocols[0].send(t, e, newer); code != http.StatusTooManyRequests {
		t.Fatalf("third series of svc-a: %d, want 429", code)
	}
	if err := e.db.Compact(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, _, n := e.limiter.SeriesCounts("m", "svc-a"); n != 1 {
		t.Fatalf("after the head dropped series id=old, svc-a counts %d series, want 1", n)
	}
	if code, msg := limitProtocols[0].send(t, e, newer); code != http.StatusNoContent {
		t.Errorf("after head GC: %d %s, want 204", code, msg)
	}
}

// TestScrapeKeepsSeriesOverLimit scrapes a target with one series more than
// its metric may have: the series that fit are written every scrape, the
// scrape is not failed (up is 1), the refusals are counted.
func TestScrapeKeepsSeriesOverLimit(t *testing.T) {
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, "# TYPE queue_depth gauge\nqueue_depth{q=\"a\"} 1\nqueue_depth{q=\"b\"} 2\nqueue_depth{q=\"c\"} 3\n")
	}))
	defer target.Close()
	reg := prometheus.NewRegistry()
	l := DefaultLimits()
	l.MaxSeriesPerMetric = 2
	lim := NewSeriesLimiter(SeriesLimiterOptions{Limits: l, Registerer: reg})
	db, err := storage.Open(storage.Options{Dir: t.TempDir(), Retention: time.Hour, Registerer: reg, SeriesCallback: lim})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	lim.Enforce()
	addr := strings.TrimPrefix(target.URL, "http://")
	jobs := []ScrapeConfig{{JobName: "gw", ScrapeInterval: duration.Duration(100 * time.Millisecond),
		StaticConfigs: []StaticConfig{{Targets: []string{addr}}}}}
	jobs[0].Normalise()
	s, err := NewScraper(ScraperOptions{Appendable: db, Jobs: jobs, Registerer: prometheus.NewRegistry(), ReloadInterval: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	series := func(name string, extra ...string) labels.Labels {
		return labels.FromStrings(append([]string{"__name__", name, "instance", addr, "job", "gw", "service", "gw"}, extra...)...)
	}
	deadline := time.Now().Add(15 * time.Second)
	for testutil.ToFloat64(lim.limited.WithLabelValues(limitPerMetric)) < 2 { // two scrapes refused q="c"
		if time.Now().After(deadline) {
			t.Fatal("no refusal counted within 15s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, w := range []struct {
		lset labels.Labels
		v    float64
	}{{series("queue_depth", "q", "a"), 1}, {series("queue_depth", "q", "b"), 2}, {series("up"), 1}} {
		if v, ok := latest(t, db, w.lset); !ok || v != w.v {
			t.Errorf("%s = %v (present %v), want %v", w.lset, v, ok, w.v)
		}
	}
	if _, ok := latest(t, db, series("queue_depth", "q", "c")); ok {
		t.Error(`queue_depth{q="c"} stored over limits.max_series_per_metric 2`)
	}
}

// TestLimitsValidateCardinality checks the new limits' validation.
func TestLimitsValidateCardinality(t *testing.T) {
	for _, tc := range []struct {
		set  func(*Limits)
		want string
	}{
		{func(l *Limits) { l.MaxHeadSeries = -1 }, "limits.max_head_series: must not be negative (0: off)"},
		{func(l *Limits) { l.MaxSeriesPerMetric = -1 }, "limits.max_series_per_metric: must not be negative (0: off)"},
		{func(l *Limits) { l.MaxSeriesPerService = -1 }, "limits.max_series_per_service: must not be negative (0: off)"},
		{func(l *Limits) { l.MaxNewSeriesPerSecond = -1 }, "limits.max_new_series_per_second: must not be negative (0: off)"},
		{func(l *Limits) { l.NewSeriesBurst = 0 }, "limits.new_series_burst: must be positive when limits.max_new_series_per_second is set"},
		{func(l *Limits) { l.MaxHeadSeries, l.MaxNewSeriesPerSecond, l.NewSeriesBurst = 0, 0, 0 }, ""},
	} {
		l := DefaultLimits()
		tc.set(&l)
		got := ""
		if err := l.Validate(); err != nil {
			got = err.Error()
		}
		if got != tc.want {
			t.Errorf("Validate() = %q, want %q", got, tc.want)
		}
	}
}
