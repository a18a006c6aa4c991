package web_test

import (
	"strings"
	"testing"
)

// TestBrowserUnknownPageSaysSo: a page name gmc has none of (#/nosuch)
// showed the Overview as if it had been asked for, and #/hosts (the menu's
// Hosts is #/host) did the same. Now #/hosts is the Hosts page, and an
// unknown name shows the Overview with a line saying there is no such page
// and linking every page; a known page has no such line.
func TestBrowserUnknownPageSaysSo(t *testing.T) {
	ctx := browser(t)
	st := startStack(t, 1, false)
	note := `(document.querySelector('.page-unknown') || {textContent: ''}).textContent`
	load(t, ctx, st.URL+"/#/hosts?range=15m")
	if got := eval[string](t, ctx, `document.getElementById('page').dataset.page`); got != "host" {
		t.Errorf("#/hosts shows the %q page, want the Hosts page (host)", got)
	}
	if got := eval[string](t, ctx, note); got != "" {
		t.Errorf("#/hosts says %q, want no unknown-page line", got)
	}
	load(t, ctx, st.URL+"/#/nosuch/thing?range=15m")
	if got := eval[string](t, ctx, `document.getElementById('page').dataset.page`); got != "overview" {
		t.Errorf("#/nosuch shows the %q page, want the Overview", got)
	}
	got := eval[string](t, ctx, note)
	if !strings.Contains(got, `There is no page "nosuch"`) || !strings.Contains(got, "this is the Overview") {
		t.Errorf("#/nosuch's line says %q, want that there is no page \"nosuch\" and this is the Overview", got)
	}
	if links := evalInt(t, ctx, `document.querySelectorAll('.page-unknown a[href^="#/"]').length`); links != 7 {
		t.Errorf("#/nosuch's line links %d pages, want the menu's 7", links)
	}
	screenshot(t, ctx, artifacts(t), "page-unknown")
	load(t, ctx, st.URL+"/#/overview?range=15m")
	if got := eval[string](t, ctx, note); got != "" {
		t.Errorf("#/overview says %q, want no unknown-page line", got)
	}
}
