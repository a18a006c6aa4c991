package web_test

import (
	"net/http"
	"regexp"
	"testing"
	"time"
)

// TestBrowserTrendsNoServiceNoNull: the Trends page of a gmc that no
// service has sent to yet printed "Trends null": its head was filled with
// Element.replaceChildren(title, svc ? link : null), and the native call
// writes a null child as the text "null" (as the Benchmarks page did,
// t-user8 #5). util.fill skips null and false children as util.h does.
// gmc's /system/status answers no service here; the seeded series (a
// stack needs some) are not named by it.
func TestBrowserTrendsNoServiceNoNull(t *testing.T) {
	ctx := browser(t)
	st := startStack(t, 3, false, withHandler("GET /system/status", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"services":[]}`))
	})))
	load(t, ctx, st.URL+"/#/trends?range=1h")
	if err := poll(ctx, 20*time.Second, `!!document.querySelector('[data-empty="no-service"]')`); err != nil {
		t.Fatalf("no 'no service' state: %v (page: %s)", err, eval[string](t, ctx, `document.getElementById('page').innerText`))
	}
	text := eval[string](t, ctx, `document.getElementById('page').innerText`)
	if regexp.MustCompile(`\bnull\b`).MatchString(text) {
		t.Errorf("the Trends page reads a literal null:\n%s", text)
	}
	screenshot(t, ctx, artifacts(t), "trends-no-service")
}
