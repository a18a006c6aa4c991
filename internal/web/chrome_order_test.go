package web_test

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// recordChromeAtQueries makes every document of the tab note, for each
// query request it sends, how many links the menu (#nav) and the range
// picker (#range) held then, in window.__chromeAtQueries.
const recordChromeAtQueries = `(() => {
  const seen = window.__chromeAtQueries = [];
  const f = window.fetch;
  window.fetch = (...a) => {
    const u = String((a[0] && a[0].url) || a[0]);
    if (u.includes('/api/v1/query')) {
      const n = (id) => (document.getElementById(id) ? document.getElementById(id).querySelectorAll('a').length : -1);
      seen.push({nav: n('nav'), range: n('range'), inputs: document.querySelectorAll('input[type="datetime-local"]').length});
    }
    return f(...a);
  };
})();`

type chromeAt struct{ Nav, Range, Inputs int }

// TestBrowserFirstQueriesBeforeChrome: a page's first queries are sent
// before the menu and the range picker are made (they are made right
// after, in the same task: nothing is painted between), and the custom
// range's two datetime-local inputs only when it is opened. In a new tab
// the chrome's first run (links, and the inputs' date formats and shadow
// trees in a cold renderer) was ~30–60 ms the queries waited for at load
// 15. The old code made the chrome, inputs included, first. The chrome
// is there once the page is drawn, and the custom form still sets a range.
func TestBrowserFirstQueriesBeforeChrome(t *testing.T) {
	ctx := browser(t)
	st := startStack(t, 3, false)
	if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: recordChromeAtQueries}); err != nil {
		t.Fatal(err)
	}
	load(t, ctx, st.URL+"/#/overview?range=1h")
	at := eval[[]chromeAt](t, ctx, `window.__chromeAtQueries`)
	if len(at) == 0 {
		t.Fatal("no query recorded")
	}
	if at[0].Nav != 0 || at[0].Range != 0 || at[0].Inputs != 0 {
		t.Errorf("at the first query the menu had %d links, the range picker %d and %d datetime-local inputs, want none yet (queries first)", at[0].Nav, at[0].Range, at[0].Inputs)
	}
	if n := evalInt(t, ctx, `document.querySelectorAll('#nav a').length`); n < 5 {
		t.Errorf("menu: %d links once drawn, want every page's", n)
	}
	if a := eval[string](t, ctx, `document.querySelector('#range a.active')?.dataset.range || ''`); a != "1h" {
		t.Errorf("range picker: active %q, want 1h", a)
	}
	if n := evalInt(t, ctx, `document.querySelectorAll('input[type="datetime-local"]').length`); n != 0 {
		t.Errorf("%d datetime-local inputs before the custom range is opened, want 0", n)
	}
	// Opened, the form is there and sets a custom range.
	eval[any](t, ctx, `document.querySelector('#range details.custom').open = true`)
	if err := poll(ctx, 5*time.Second, `document.querySelectorAll('#range details.custom input[type="datetime-local"]').length === 2`); err != nil {
		t.Fatalf("the custom range's inputs once opened: %v", err)
	}
	eval[any](t, ctx, `(() => {
	  const f = document.querySelector('#range form.custom-range');
	  f.from.value = '2026-01-02T03:04:05';
	  f.to.value = '2026-01-02T04:04:05';
	  f.requestSubmit();
	})()`)
	if err := poll(ctx, 5*time.Second, `location.hash.includes('&from=') && location.hash.includes('&to=')`); err != nil {
		t.Fatalf("the custom form set no range: %v", err)
	}
	h := eval[string](t, ctx, `location.hash`)
	from := eval[string](t, ctx, `String(Math.round(Date.parse('2026-01-02T03:04:05') / 1000))`)
	if !strings.Contains(h, "from="+from) {
		t.Errorf("hash %q, want from=%s (the form's local time)", h, from)
	}
}
