package ingest

import (
	"context"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/tsdb/chunkenc"

	"github.com/gmc-dev/gmc/internal/storage"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.t = c.t.Add(d) }

// groupEnv is an Ingester with a settable clock and a push state file over
// a TSDB in dir.
type groupEnv struct {
	in    *Ingester
	db    *storage.TSDB
	clock *clock
	state string
}

func newGroupEnv(t *testing.T, dir string, c *clock, ttl time.Duration) *groupEnv {
	t.Helper()
	db, err := storage.Open(storage.Options{Dir: filepath.Join(dir, "tsdb"), Retention: 24 * time.Hour, OutOfOrderWindow: time.Hour, Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	state := filepath.Join(dir, "pushgateway", "groups.gob")
	in, err := New(Options{Appendable: db, Limits: DefaultLimits(), Now: c.now, PushStateFile: state, GroupTTL: ttl})
	if err != nil {
		t.Fatal(err)
	}
	return &groupEnv{in: in, db: db, clock: c, state: state}
}

func (e *groupEnv) push(t *testing.T, method, path, body string, header map[string]string) {
	t.Helper()
	code, msg := do(t, e.in.TextPush(), method, path, header, []byte(body))
	want := http.StatusOK
	if method == http.MethodDelete {
		want = http.StatusAccepted
	}
	if code != want {
		t.Fatalf("%s %s: %d %q, want %d", method, path, code, msg, want)
	}
}

// latest is every series' last sample at or before the clock, as PromQL's
// instant selector sees it with a 5-minute lookback: `{labels} value`,
// sorted, staleness markers and older samples left out. push_* series are
// left out unless withTimes.
func (e *groupEnv) latest(t *testing.T, withTimes bool) []string {
	t.Helper()
	now := e.clock.now().UnixMilli()
	q, err := e.db.Querier(now-5*60*1000, now)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	ss := q.Select(context.Background(), true, nil, labels.MustNewMatcher(labels.MatchRegexp, model.MetricNameLabel, ".+"))
	var out []string
	for ss.Next() {
		s := ss.At()
		name := s.Labels().Get(model.MetricNameLabel)
		if !withTimes && strings.HasPrefix(name, "push_") {
			continue
		}
		it := s.Iterator(nil)
		last, have := 0.0, false
		for vt := it.Next(); vt != chunkenc.ValNone; vt = it.Next() {
			if vt == chunkenc.ValFloat {
				_, last = it.At()
				have = true
			}
		}
		if have && !value.IsStaleNaN(last) {
			out = append(out, s.Labels().String()+" "+strconv.FormatFloat(last, 'f', -1, 64))
		}
	}
	if err := ss.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func wantEqual(t *testing.T, what string, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s:\n%s\nwant:\n%s", what, strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestPushGroupSemantics(t *testing.T) {
	c := &clock{t: ingestTestNow()}
	e := newGroupEnv(t, t.TempDir(), c, 0)
	const path = "/metrics/job/eod/instance/h1"

	e.push(t, http.MethodPut, path, "# TYPE a gauge\na{k=\"1\"} 1\na{k=\"2\"} 2\nb 3\n", nil)
	wantEqual(t, "after PUT", e.latest(t, false), []string{
		`{__name__="a", instance="h1", job="eod", k="1", service="eod"} 1`,
		`{__name__="a", instance="h1", job="eod", k="2", service="eod"} 2`,
		`{__name__="b", instance="h1", job="eod", service="eod"} 3`,
	})

	// POST replaces the families it names (a loses k="2"), keeps b.
	c.add(time.Second)
	e.push(t, http.MethodPost, path, "a{k=\"1\"} 10\nc 4\n", nil)
	wantEqual(t, "after POST", e.latest(t, false), []string{
		`{__name__="a", instance="h1", job="eod", k="1", service="eod"} 10`,
		`{__name__="b", instance="h1", job="eod", service="eod"} 3`,
		`{__name__="c", instance="h1", job="eod", service="eod"} 4`,
	})

	// PUT replaces the whole group.
	c.add(time.Second)
	e.push(t, http.MethodPut, path, "c 5\n", nil)
	wantEqual(t, "after second PUT", e.latest(t, false), []string{
		`{__name__="c", instance="h1", job="eod", service="eod"} 5`,
	})

	// A bad line: the good ones are merged, nothing leaves, failure recorded.
	c.add(time.Second)
	code, msg := do(t, e.in.TextPush(), http.MethodPut, path, nil, []byte("d 6\nnot a line\n"))
	if code != http.StatusBadRequest || !strings.Contains(msg, `line 2 "not a line"`) {
		t.Fatalf("bad line: %d %q", code, msg)
	}
	wantEqual(t, "after a PUT with a bad line", e.latest(t, true), []string{
		`{__name__="c", instance="h1", job="eod", service="eod"} 5`,
		`{__name__="d", instance="h1", job="eod", service="eod"} 6`,
		`{__name__="push_failure_time_seconds", instance="h1", job="eod", service="eod"} 1795608003`,
		`{__name__="push_time_seconds", instance="h1", job="eod", service="eod"} 1795608002`,
	})

	// Another group is independent; an empty PUT empties it.
	e.push(t, http.MethodPut, "/metrics/job/eod", "x 1\n", nil)
	c.add(time.Second)
	e.push(t, http.MethodPut, "/metrics/job/eod", "", nil)

	// Ten minutes on: the last values are still what PromQL sees.
	for range 20 {
		c.add(30 * time.Second)
		if err := e.in.push.refresh(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	wantEqual(t, "ten minutes later", e.latest(t, true), []string{
		`{__name__="c", instance="h1", job="eod", service="eod"} 5`,
		`{__name__="d", instance="h1", job="eod", service="eod"} 6`,
		`{__name__="push_failure_time_seconds", instance="h1", job="eod", service="eod"} 1795608003`,
		`{__name__="push_failure_time_seconds", job="eod", service="eod"} 0`,
		`{__name__="push_time_seconds", instance="h1", job="eod", service="eod"} 1795608002`,
		`{__name__="push_time_seconds", job="eod", service="eod"} 1795608004`,
	})

	// DELETE removes the group at once.
	c.add(time.Second)
	e.push(t, http.MethodDelete, path, "", nil)
	wantEqual(t, "after DELETE", e.latest(t, true), []string{
		`{__name__="push_failure_time_seconds", job="eod", service="eod"} 0`,
		`{__name__="push_time_seconds", job="eod", service="eod"} 1795608004`,
	})
}

func TestPushGroupTTLAndRestart(t *testing.T) {
	dir := t.TempDir()
	c := &clock{t: ingestTestNow()}
	e := newGroupEnv(t, dir, c, time.Hour)
	e.push(t, http.MethodPut, "/metrics/job/nightly", "last_success 1\n", nil)
	e.push(t, http.MethodPut, "/metrics/job/hourly", "last_success 2\n", map[string]string{"Gmc-Group-Ttl": "10m"})

	// A new Ingester over the same files has the groups back.
	if err := e.db.Close(); err != nil {
		t.Fatal(err)
	}
	e = newGroupEnv(t, dir, c, time.Hour)
	c.add(11 * time.Minute)
	if err := e.in.push.refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	wantEqual(t, "after 11m: hourly's 10m TTL passed", e.latest(t, false), []string{
		`{__name__="last_success", job="nightly", service="nightly"} 1`,
	})
	// Liveness reads the time of the last push, not of the rewrites.
	for _, ls := range []labels.Labels{
		labels.FromStrings("__name__", "last_success", "job", "nightly", "service", "nightly"),
		labels.FromStrings("__name__", "push_time_seconds", "job", "nightly", "service", "nightly"),
	} {
		if at, ok := e.in.PushedAt(ls); !ok || at != ingestTestNow().UnixMilli() {
			t.Errorf("PushedAt(%s) = %d, %v; want the push's time %d", ls, at, ok, ingestTestNow().UnixMilli())
		}
	}
	if _, ok := e.in.PushedAt(labels.FromStrings("__name__", "last_success", "job", "hourly", "service", "hourly")); ok {
		t.Error("PushedAt knows a series of an expired group")
	}
	c.add(50 * time.Minute)
	if err := e.in.push.refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	wantEqual(t, "after 61m: the default 1h TTL passed", e.latest(t, false), nil)
}

// TestRejectedPushCreatesNothing: a push whose every sample is rejected
// (issue 12's user trial: a sample gmc's store would not take, 400
// "accepted 0 samples"; here a label value over the limit) writes nothing, not even push_failure_time_seconds, so no group
// and no service appear; to an existing group it still records the failure.
func TestRejectedPushCreatesNothing(t *testing.T) {
	c := &clock{t: ingestTestNow()}
	e := newGroupEnv(t, t.TempDir(), c, 0)
	bad := []byte(`user_ts_metric{k="` + strings.Repeat("v", 100000) + `"} 1` + "\n")
	code, msg := do(t, e.in.TextPush(), http.MethodPost, "/metrics/job/y", nil, bad)
	if code != http.StatusBadRequest {
		t.Fatalf("push with a label value over the limit: %d %q, want 400", code, msg)
	}
	wantEqual(t, "after a rejected push", e.latest(t, true), nil)
	if e.in.push.exists(groupKey(labels.FromStrings("job", "y"))) {
		t.Error("a rejected push created its group")
	}
	e.push(t, http.MethodPost, "/metrics/job/y", "ok_metric 1\n", nil)
	c.add(time.Second)
	if code, _ := do(t, e.in.TextPush(), http.MethodPost, "/metrics/job/y", nil, bad); code != http.StatusBadRequest {
		t.Fatalf("second rejected push: %d", code)
	}
	var failed bool
	for _, l := range e.latest(t, true) {
		failed = failed || strings.HasPrefix(l, `{__name__="push_failure_time_seconds"`) && !strings.HasSuffix(l, " 0")
	}
	if !failed {
		t.Errorf("an existing group's failed push not recorded: %v", e.latest(t, true))
	}
}
