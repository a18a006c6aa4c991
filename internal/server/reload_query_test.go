package server_test

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestReloadQueryLimits: a reload named the whole query section as "in
// force only after a restart", so raising query.max_series for a
// dashboard that hit it meant restarting gmc. Now the limits the API and
// the lanes own apply to the queries after the reload (max_series,
// max_response_bytes, the small lane's bounds), and those fixed in the
// PromQL engine and its active query log (timeout, max_samples, the
// lanes' slots: Prometheus's --query.* flags) are named as needing a
// restart.
func TestReloadQueryLimits(t *testing.T) {
	head := "alerting: {default_rules: false}\n"
	base, write, reload, _ := reloadServer(t, head+"query: {max_series: 2, small_query_max_series: 2}\n")
	var b strings.Builder
	for i := range 3 {
		fmt.Fprintf(&b, "reload_q{i=\"%d\"} %d\n", i, i)
	}
	if code, body := do(t, "POST", base+"/metrics/job/reload-query", "text/plain", []byte(b.String())); code/100 != 2 {
		t.Fatalf("push: %d %s", code, body)
	}
	query := func() (int, string) {
		t.Helper()
		return do(t, "GET", base+"/api/v1/query?query="+url.QueryEscape("reload_q"), "", nil)
	}
	admitted := func(lane string) int {
		t.Helper()
		_, m := do(t, "GET", base+"/metrics", "", nil)
		re := regexp.MustCompile(`gmc_query_lane_admitted_total\{lane="` + lane + `",source="api"\} (\d+)`)
		n := 0
		if g := re.FindStringSubmatch(m); g != nil {
			n, _ = strconv.Atoi(g[1])
		}
		return n
	}
	heavy := admitted("heavy")
	if code, body := query(); code != http.StatusUnprocessableEntity || !strings.Contains(body, "query.max_series 2") {
		t.Fatalf("3 series under query.max_series 2: %d %s, want 422 naming the limit", code, body)
	}
	if admitted("heavy") != heavy+1 {
		t.Errorf("a query over 3 series under small_query_max_series 2 was not admitted to the heavy lane")
	}

	write(head + "query: {max_series: 10, small_query_max_series: 10, timeout: 1m}\n")
	body := reload()
	if want := "applied: query.small_query_max_series, query.max_series\n"; !strings.Contains(body, want) {
		t.Errorf("reload answer %q, want %q", body, want)
	}
	if want := "NOT applied, changed but in force only after a restart: query.timeout\n"; !strings.Contains(body, want) {
		t.Errorf("reload answer %q, want %q", body, want)
	}
	small, heavy := admitted("small"), admitted("heavy")
	if code, body := query(); code != http.StatusOK || strings.Count(body, `"__name__":"reload_q"`) != 3 {
		t.Errorf("3 series after the reload raised query.max_series to 10: %d %s", code, body)
	}
	if admitted("small") != small+1 || admitted("heavy") != heavy {
		t.Errorf("a query over 3 series after small_query_max_series 10 was not admitted to the small lane")
	}
	if pending, _ := configStatus(t, base); len(pending) != 1 || pending[0] != "query.timeout" {
		t.Errorf("/system/status config.pending_restart %v, want [query.timeout]", pending)
	}

	write(head + "query: {max_series: 10, small_query_max_series: 10, max_response_bytes: 100}\n")
	if body := reload(); !strings.Contains(body, "applied: query.max_response_bytes\n") {
		t.Errorf("reload answer %q, want query.max_response_bytes applied", body)
	}
	if code, body := query(); code != http.StatusUnprocessableEntity || !strings.Contains(body, "query.max_response_bytes 100") {
		t.Errorf("3 series after the reload lowered max_response_bytes to 100: %d %s, want 422 naming it", code, body)
	}
}
