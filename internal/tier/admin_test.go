package tier

import (
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
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
