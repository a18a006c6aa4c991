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
// A chunk ending within a minute of the newest sample is read but not kept.
func TestReloadDecodedCache(t *testing.T) {
	head := "alerting: {default_rules: false}\n"
	base, write, reload, _ := reloadServer(t, head)
	// A sample 5 minutes old and one now: a chunk ending within a minute
	// of the newest sample is not kept (a series' open head chunk).
	now := time.Now()
	push := fmt.Sprintf(`[{"service": "reload", "timestamp": %d, "metrics": {"reload_decoded": 1}},
		{"service": "reload", "timestamp": %d, "metrics": {"reload_decoded_now": 1}}]`, now.Add(-5*time.Minute).Unix(), now.Unix())
	if code, body := do(t, "POST", base+"/api/v1/push", "application/json", []byte(push)); code/100 != 2 {
		t.Fatalf("push: %d %s", code, body)
	}
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
	fresh := url.Values{"query": {"reload_decoded_now"}, "start": {strconv.FormatInt(now.Add(-6*time.Minute).Unix(), 10)},
		"end": {strconv.FormatInt(now.Unix(), 10)}, "step": {"1"}, "nocache": {"1"}}
	if code, body := do(t, "GET", base+"/api/v1/query_range?"+fresh.Encode(), "", nil); code != http.StatusOK || !strings.Contains(body, "reload_decoded_now") {
		t.Fatalf("query: %d %s", code, body)
	}
	if v := held(); v != 0 {
		t.Errorf("the newest chunk is kept (%v bytes): every refresh would keep a new copy of an open head chunk", v)
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
