package tier

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gmc-dev/gmc/internal/duration"
	"github.com/gmc-dev/gmc/internal/httpapi"
)

// adminPost posts form to the Set's admin endpoint and returns its status and body.
func adminPost(t *testing.T, s *Set, form url.Values) (int, string) {
	t.Helper()
	mux := http.NewServeMux()
	httpapi.Mount(mux, s.Routes())
	req := httptest.NewRequest(http.MethodPost, "/api/v1/admin/tiers/reaggregate", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, req)
	return rec.Code, rec.Body.String()
}

// TestReaggregateOnRequest: tiers written before the stop's marks existed
// (the marks removed from the stop bucket, as in
// TestCounterStoppedNextToItsBucketsEndReaggregated) read the jump over the
// hole as increase until retention; POST
// /api/v1/admin/tiers/reaggregate?from=02:00 has the job rewrite them from
// the raw data, after which every tier reads what raw data read. A from
// before the raw data every series still has (the raw store's start, a
// shorter raw retention rule) is refused and marks nothing.
func TestReaggregateOnRequest(t *testing.T) {
	stop := t0.Add(2 * time.Hour).UnixMilli()
	f := writtenBeforeTheMarks(t, false)
	unmarked := func() {
		t.Helper()
		for _, tr := range f.set.Tiers() {
			if from, _ := tr.lateMark(); from != math.MaxInt64 {
				t.Fatalf("tier %s marked late from %s by a refused request", tr.Name(), fmtMS(from))
			}
		}
	}

	// Refused: no from; before the raw data's start; before a rule's shorter raw retention.
	if code, body := adminPost(t, f.set, url.Values{}); code != http.StatusBadRequest || !strings.Contains(body, `\"from\" is required`) {
		t.Fatalf("no from: %d %s", code, body)
	}
	early := t0.Add(-2 * time.Hour).Format(time.RFC3339)
	if code, body := adminPost(t, f.set, url.Values{"from": {early}}); code != http.StatusBadRequest || !strings.Contains(body, "raw data") {
		t.Fatalf("from %s before the raw data: %d %s", early, code, body)
	}
	unmarked()
	// An empty raw store (its start MaxInt64): nothing to rewrite from.
	if err := (&floorError{from: 0, floor: math.MaxInt64}).Error(); !strings.Contains(err, "no samples") {
		t.Fatalf("empty raw store: %s", err)
	}
	short := f.opts.Config
	short.Retention = []RetentionRule{{Match: `{__name__="other_total"}`, Keep: map[string]duration.Duration{"raw": duration.Duration(90 * time.Minute)}}}
	if err := f.set.SetRetention(short, f.opts.RawRetention); err != nil {
		t.Fatal(err)
	}
	if code, body := adminPost(t, f.set, url.Values{"from": {"2026-11-30T02:00:00Z"}}); code != http.StatusBadRequest || !strings.Contains(body, "2026-11-30T02:30:01Z") {
		t.Fatalf("from 02:00 with other_total's raw data kept 90m (now 04:00:01): %d %s", code, body)
	}
	unmarked()
	if err := f.set.SetRetention(f.opts.Config, f.opts.RawRetention); err != nil {
		t.Fatal(err)
	}

	code, body := adminPost(t, f.set, url.Values{"from": {fmt.Sprint(stop / 1000)}})
	if code != http.StatusOK {
		t.Fatalf("from 02:00: %d %s", code, body)
	}
	for _, tr := range f.set.Tiers() {
		from, _ := tr.lateMark()
		if wantFrom := bucketEnd(stop, tr.res) - tr.res; from != wantFrom {
			t.Fatalf("tier %s late from %s, want %s (%s)", tr.Name(), fmtMS(from), fmtMS(wantFrom), body)
		}
		if !strings.Contains(body, fmt.Sprintf(`{"tier":%q,"from":%q}`, tr.Name(), fmtMS(from))) {
			t.Fatalf("answer %s does not say tier %s from %s", body, tr.Name(), fmtMS(from))
		}
		reaggregateAll(t, f, tr)
	}
	stoppedNextToTheHourAsRaw(t, f, false)
}

// TestReaggregateOlderOnOpen: tiers an older gmc wrote (their state files
// without the aggregation version, a stop bucket without its marks: +89,057 %
// through the 1h tier) kept their wrong answers until retention unless
// someone asked for a re-aggregation. Open now marks each such tier late
// from its first bucket the raw data still back (all of the fixture's four
// hours are within autoReaggregateSpan), writes the version, and the job
// rewrites it: every tier then reads what raw data read. A tier written by
// this version is not marked at its next open.
func TestReaggregateOlderOnOpen(t *testing.T) {
	f := writtenBeforeTheMarks(t, false)
	reopenAsOlder(t, f, true)
	floor, err := f.set.rawFloor()
	if err != nil {
		t.Fatal(err)
	}
	for _, tr := range f.set.Tiers() {
		from, _ := tr.lateMark()
		if want := bucketEnd(floor+tr.res, tr.res) - tr.res; from != want {
			t.Fatalf("tier %s written by an older gmc: late from %s, want %s (its first bucket from the raw data's start %s)", tr.Name(), fmtMS(from), fmtMS(want), fmtMS(floor))
		}
		if st := tr.Stats(); st.OlderBefore != 0 {
			t.Fatalf("tier %s rewritten from the raw data's start says older aggregates before %v", tr.Name(), st.OlderBefore)
		}
		reaggregateAll(t, f, tr)
	}
	stoppedNextToTheHourAsRaw(t, f, false)
	reopenAsOlder(t, f, false)
	for _, tr := range f.set.Tiers() {
		if from, _ := tr.lateMark(); from != math.MaxInt64 {
			t.Fatalf("tier %s written by this version marked late from %s at its next open", tr.Name(), fmtMS(from))
		}
	}
}

// TestReaggregateOlderOnOpenBounded: Open rewrites only the last
// autoReaggregateSpan of a tier an older gmc wrote; the buckets before stay
// as written, and the tier's status says where they end
// (older_aggregates_before), across a restart, until a re-aggregation
// request from before that point rewrites them.
func TestReaggregateOlderOnOpenBounded(t *testing.T) {
	defer func(d time.Duration) { autoReaggregateSpan = d }(autoReaggregateSpan)
	autoReaggregateSpan = time.Hour
	f := writtenBeforeTheMarks(t, false)
	reopenAsOlder(t, f, true)
	older := map[string]float64{}
	for _, tr := range f.set.Tiers() {
		from, _ := tr.lateMark()
		want := bucketEnd(tr.reading.Load()-time.Hour.Milliseconds()+tr.res, tr.res) - tr.res
		if from != want || tr.Stats().OlderBefore != float64(want)/1000 {
			t.Fatalf("tier %s: late from %s, older aggregates before %v; want both %s (its last hour)", tr.Name(), fmtMS(from), tr.Stats().OlderBefore, fmtMS(want))
		}
		older[tr.Name()] = tr.Stats().OlderBefore
	}
	reopenAsOlder(t, f, false)
	for _, tr := range f.set.Tiers() {
		if got := tr.Stats().OlderBefore; got != older[tr.Name()] {
			t.Fatalf("tier %s after a restart: older aggregates before %v, want %v", tr.Name(), got, older[tr.Name()])
		}
	}
	if code, body := adminPost(t, f.set, url.Values{"from": {t0.Add(time.Hour + time.Second).Format(time.RFC3339)}}); code != http.StatusOK {
		t.Fatalf("re-aggregation from 01:00:01: %d %s", code, body)
	}
	for _, tr := range f.set.Tiers() {
		if got := tr.Stats().OlderBefore; got != 0 {
			t.Fatalf("tier %s re-aggregated from 01:00:01 still says older aggregates before %v", tr.Name(), got)
		}
		reaggregateAll(t, f, tr)
	}
	stoppedNextToTheHourAsRaw(t, f, false)
}

// reopenAsOlder closes f's tiers and opens them again, their state files
// first stripped of the aggregation version (strip: as an older gmc wrote
// them).
func reopenAsOlder(t *testing.T, f *fixture, strip bool) {
	t.Helper()
	if err := f.set.Close(); err != nil {
		t.Fatal(err)
	}
	if strip {
		for _, l := range f.opts.Config.Tiers {
			path := filepath.Join(f.opts.Dir, "tiers", l.Name(), watermarkFile)
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			var st map[string]any
			if err := json.Unmarshal(b, &st); err != nil {
				t.Fatal(err)
			}
			delete(st, "aggregation")
			b, _ = json.Marshal(st)
			if err := os.WriteFile(path, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	f.open(t)
}
