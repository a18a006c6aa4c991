package web_test

import (
	"regexp"
	"testing"
	"time"
)

// TestBrowserIngestTileWindow: the Overview's Ingest tile read 792
// samples/s where the raw counter gave 592/s: /system/status averaged over
// the time since any client's previous call (4.7 to 74 s, t-user8 #6),
// and the tile did not say over what. The server now averages over its
// readings' last minute, and the tile says its window.
func TestBrowserIngestTileWindow(t *testing.T) {
	ctx := browser(t)
	st := startStack(t, 3, false)
	load(t, ctx, st.URL+"/#/overview?range=1h")
	sub := `(document.querySelector('[data-kpi="Ingest"] .kpi-sub') || {textContent: ''}).textContent`
	if err := poll(ctx, 20*time.Second, sub+`.startsWith('over the last ')`); err != nil {
		t.Fatalf("Ingest tile's window %q: %v", eval[string](t, ctx, sub), err)
	}
	if got := eval[string](t, ctx, sub); !regexp.MustCompile(`^over the last (\d+s|1m(\d+s)?)$`).MatchString(got) {
		t.Errorf("Ingest tile says %q, want its window, at most about a minute", got)
	}
}
