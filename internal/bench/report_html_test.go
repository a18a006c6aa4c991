package bench

import (
	"strings"
	"testing"
	"time"
)

// Every text of the page goes through html/template: a benchmark name, a
// kind, a detail line or an untrustworthy-run reason holding markup shows as
// text, never as an element.
func TestReportHTMLEscapes(t *testing.T) {
	from := time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)
	evil := `<script>alert("x")</script>`
	rep := &Report{
		ID: "2026-W48", From: from, To: from.AddDate(0, 0, 7), Generated: from.AddDate(0, 0, 7), Runs: 2,
		Entries: []ReportEntry{{
			Name: "orders/" + evil, Benchmark: "orders", Kind: evil, Unit: "s", Runs: 2, LatestUntrustworthy: evil,
			Latest: Result{Name: evil, Unit: "s", Summary: Summary{N: 3, Median: 0.001}},
			Trend:  []TrendPoint{{T: from.Add(time.Hour), Median: 0.001}, {T: from.Add(30 * time.Hour), Median: 0.002, Regression: true}},
		}},
	}
	page := rep.HTML()
	if strings.Contains(strings.ToLower(page), "<script") {
		t.Fatalf("markup from the data is rendered as markup:\n%s", page)
	}
	for _, want := range []string{
		`&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;`,                              // text
		`aria-label="trend of orders/&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;"`, // attribute
		`not compared: &lt;script&gt;`, `<polyline`, `<circle`, `fill="#c00"`, `href="#b-orders_script_alert_x_script_"`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %s:\n%s", want, page)
		}
	}
}
