package web_test

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// recordFetches makes every document of the tab note, in window.__reqs,
// each request it sends: its address and body (URL: decoded, for reading;
// Raw and Body as sent), the refreshes the page had completed when it was
// sent (data-refreshed: the requests of one refresh share it), how many
// charts had been drawn then (data-points above 0), when it was sent and
// answered, and the first step gmc evaluated (its Gmc-From header: a range
// query asked with since, query/changed.go).
const recordFetches = `(() => {
  const reqs = window.__reqs = [];
  const f = window.fetch;
  window.fetch = (...a) => {
    const raw = String((a[0] && a[0].url) || a[0]);
    const body = String((a[1] && a[1].body) || '');
    const r = {url: decodeURIComponent(raw.replace(/\+/g, ' ')) + ' ' + decodeURIComponent(body.replace(/\+/g, ' ')), raw, body,
      refreshed: Number(document.getElementById('page')?.dataset.refreshed || 0),
      drawn: [...document.querySelectorAll('[data-chart]')].filter((c) => Number(c.dataset.points || 0) > 0).length,
      sent: performance.now(), done: -1, from: ''};
    reqs.push(r);
    const p = f(...a);
    p.then((res) => { r.done = performance.now(); r.from = res.headers.get('Gmc-From') || ''; }, () => { r.done = performance.now(); });
    return p;
  };
})();`

// fetchReq is one request recordFetches noted.
type fetchReq struct {
	URL       string // decoded address and body
	Raw, Body string
	Refreshed int
	Drawn     int
	Sent      float64
	Done      float64
	From      string
}

// param is a parameter of the request, from its address or its form body.
func (r fetchReq) param(name string) string {
	if u, err := url.Parse(r.Raw); err == nil {
		if v := u.Query().Get(name); v != "" {
			return v
		}
	}
	if q, err := url.ParseQuery(r.Body); err == nil {
		return q.Get(name)
	}
	return ""
}

// path is the request's path ("/api/v1/query_range").
func (r fetchReq) path() string {
	u, err := url.Parse(r.Raw)
	if err != nil {
		return ""
	}
	return u.Path
}

// recordEveryDocument installs recordFetches in every document the tab loads from now on.
func recordEveryDocument(t *testing.T, ctx context.Context) {
	t.Helper()
	if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: recordFetches}); err != nil {
		t.Fatal(err)
	}
}

// fetches are the requests the document noted so far.
func fetches(t *testing.T, ctx context.Context) []fetchReq {
	t.Helper()
	return eval[[]fetchReq](t, ctx, `window.__reqs`)
}

// sentLate lists the requests among mine sent after another of them was
// answered: a round trip more.
func sentLate(mine []fetchReq) []string {
	var late []string
	for _, r := range mine {
		answered := 0
		for _, o := range mine {
			if o.Done >= 0 && o.Done < r.Sent {
				answered++
			}
		}
		if answered > 0 {
			u := r.URL
			if len(u) > 200 {
				u = u[:200] + "…"
			}
			late = append(late, fmt.Sprintf("%s (after %d answers)", u, answered))
		}
	}
	return late
}

// lateInRefresh lists the API requests of refresh n (sent when the page
// had completed n refreshes) sent after another of them was answered
// (sentLate), and how many it sent.
func lateInRefresh(reqs []fetchReq, n int) (late []string, all int) {
	var mine []fetchReq
	for _, r := range reqs {
		if r.Refreshed == n && strings.Contains(r.URL, "/api/") {
			mine = append(mine, r)
		}
	}
	return sentLate(mine), len(mine)
}
