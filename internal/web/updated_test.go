package web_test

import (
	"net/http"
	"regexp"
	"testing"
	"time"
)

// TestBrowserUpdatedIsDataTime: under load a refresh took ~10 s and the
// strip's "updated HH:MM:SS" was its completion, while the figures were
// of its start: 2.92 % shown beside 3.86 % in the raw data at the stamped
// time (t-user8 #7). With /sla answering after 3 s, the strip stamps the
// window's end (the refresh's start) and says how long it took.
func TestBrowserUpdatedIsDataTime(t *testing.T) {
	ctx := browser(t)
	st := startStack(t, 1, false, withHandler("GET /sla", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(3 * time.Second):
		case <-r.Context().Done():
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"status":"success","data":[]}`))
	})))
	load(t, ctx, st.URL+"/#/overview?range=1h")
	text := `document.getElementById('conn').textContent`
	if err := poll(ctx, 30*time.Second, text+`.startsWith('updated ')`); err != nil {
		t.Fatalf("strip %q: %v", eval[string](t, ctx, text), err)
	}
	got := eval[string](t, ctx, text)
	want := eval[string](t, ctx, `(() => { const d = new Date(Number(document.getElementById('page').dataset.xTo) * 1000); const p = (n) => String(n).padStart(2, '0'); return 'updated ' + p(d.getHours()) + ':' + p(d.getMinutes()) + ':' + p(d.getSeconds()); })()`)
	if !regexp.MustCompile(`^` + regexp.QuoteMeta(want) + ` \(took [3-9] s\)$`).MatchString(got) {
		t.Errorf("strip says %q, want %q and how long the refresh took (3 s or more)", got, want+" (took N s)")
	}
}
