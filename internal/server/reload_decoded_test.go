package server_test

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestReloadDecodedCache: query.decoded_cache_max_bytes is applied by a
// reload, as query.rate_max_decoded_bytes is: set to 0 it empties the
// decoded-sample cache at once (and is not named as needing a restart).
// A series' open head chunk is kept, one entry however often it is
// appended to and read.
func TestReloadDecodedCache(t *testing.T) {
	head := "alerting: {default_rules: false}\n"
	base, write, reload, _ := reloadServer(t, head)
	// A sample 5 minutes old of one series and one 9 s old of another:
	// each is its series' open head chunk.
	now := time.Now()
	pushAt := func(metric string, at time.Time) {
		t.Helper()
		push := fmt.Sprintf(`[{"service": "reload", "timestamp": %d, "metrics": {%q: 1}}]`, at.Unix(), metric)
		if code, body := do(t, "POST", base+"/api/v1/push", "application/json", []byte(push)); code/100 != 2 {
			t.Fatalf("push: %d %s", code, body)
		}
	}
	pushAt("reload_decoded", now.Add(-5*time.Minute))
	pushAt("reload_decoded_now", now.Add(-9*time.Second))
	held := func() float64 {
		t.Helper()
		_, body := do(t, "GET", base+"/metrics", "", nil)
		m := regexp.MustCompile(`(?m)^gmc_query_decoded_cache_bytes (\S+)$`).FindStringSubmatch(body)
		if m == nil {
			t.Fatal("no gmc_query_decoded_cache_bytes in /metrics")
		}
		v, err := strconv.ParseFloat(m[1], 64)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	queryNow := func() {
		t.Helper()
		fresh := url.Values{"query": {"reload_decoded_now"}, "start": {strconv.FormatInt(now.Add(-6*time.Minute).Unix(), 10)},
			"end": {strconv.FormatInt(now.Unix(), 10)}, "step": {"1"}, "nocache": {"1"}}
		if code, body := do(t, "GET", base+"/api/v1/query_range?"+fresh.Encode(), "", nil); code != http.StatusOK || !strings.Contains(body, "reload_decoded_now") {
			t.Fatalf("query: %d %s", code, body)
		}
	}
	// The open head chunk is kept (one entry per open chunk, 3a42601);
	// an append changes its bytes and the next read keeps the new copy in
	// place of the old, not beside it: refreshes do not pile up copies.
	queryNow()
	one := held()
	if one <= 0 {
		t.Fatal("the open head chunk read is not in the decoded-sample cache")
	}
	for _, ago := range []time.Duration{6 * time.Second, 3 * time.Second, 0} {
		pushAt("reload_decoded_now", now.Add(-ago))
		queryNow()
	}
	if v := held(); v >= 2*one {
		t.Errorf("the cache holds %v bytes after three appends and reads of one open chunk, %v after the first: a copy kept per read", v, one)
	}
	q := url.Values{"query": {"reload_decoded"}, "start": {strconv.FormatInt(now.Add(-6*time.Minute).Unix(), 10)},
		"end": {strconv.FormatInt(now.Unix(), 10)}, "step": {"1"}, "nocache": {"1"}}
	if code, body := do(t, "GET", base+"/api/v1/query_range?"+q.Encode(), "", nil); code != http.StatusOK || !strings.Contains(body, "reload_decoded") {
		t.Fatalf("query: %d %s", code, body)
	}
	if held() <= 0 {
		t.Fatal("the query's chunk is not in the decoded-sample cache")
	}
	write(head + "query: {decoded_cache_max_bytes: 0}\n")
	body := reload()
	if !strings.Contains(body, "applied: query.decoded_cache_max_bytes\n") || strings.Contains(body, "NOT applied") {
		t.Errorf("reload answered %q, want query.decoded_cache_max_bytes applied", body)
	}
	if v := held(); v != 0 {
		t.Errorf("the cache holds %v bytes after a reload to 0", v)
	}
}
