package web_test

import (
	"context"
	"strings"
	"testing"
	"time"
)

// legendRow is the JavaScript expression of series' row in the legend
// table under chart (`[data-stats]`): null until the legend writes it.
func legendRow(chart, series string) string {
	return `document.querySelector('[data-stats="` + chart + `"] tr[data-series="` + series + `"]')`
}

// legendCell is the JavaScript expression of stat's cell (last, min, max,
// …) in series' row of chart's legend; the row must be there.
func legendCell(chart, series, stat string) string {
	return legendRow(chart, series) + `.querySelector('[data-stat="` + stat + `"]')`
}

// waitLegendStat waits up to d for series' row of chart's legend to give
// stat a figure (not '–') and returns its text, trimmed. If it does not,
// the test fails with the legend's rows as they are.
func waitLegendStat(t *testing.T, ctx context.Context, d time.Duration, chart, series, stat string) string {
	t.Helper()
	if err := poll(ctx, d, legendRow(chart, series)+` && `+legendCell(chart, series, stat)+`.textContent !== '–'`); err != nil {
		rows := eval[string](t, ctx, `[...document.querySelectorAll('[data-stats="`+chart+`"] tr[data-series]')].map((r) => r.dataset.series + ': ' + r.textContent).join('; ')`)
		t.Fatalf("the %s legend has no %q row with a %s: %v (rows: %s)", chart, series, stat, err, rows)
	}
	return strings.TrimSpace(eval[string](t, ctx, legendCell(chart, series, stat)+`.textContent`))
}
