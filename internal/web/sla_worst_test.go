package web_test

import (
	"strings"
	"testing"
	"time"

	"github.com/gmc-dev/gmc/internal/sla"
	"github.com/gmc-dev/gmc/internal/web/webtest"
)

// TestBrowserSLACellShowsTheWorstBudget: a service with two SLAs, a loose
// one (99 %) at 99.5 % with half its budget left and a strict one
// (99.99 %) at 99.95 %, its budget exhausted. The Overview's Services row
// showed the lowest achievement, the loose SLA's "99.5 % / 99 %, 50 %
// left", and hid the one burning (t-user14b F10). It shows the SLA with the
// least budget left, and names it.
func TestBrowserSLACellShowsTheWorstBudget(t *testing.T) {
	ctx := browser(t)
	base := webtest.SLAs()[0]
	loose, strict := base, base
	loose.Name, loose.Objective = "loose-latency", 99
	strict.Name, strict.Objective = "strict-latency", 99.99
	var sts []sla.Status
	for _, c := range []struct {
		s     sla.SLA
		ratio float64
	}{{loose, 0.005}, {strict, 0.0005}} {
		c.s.Normalise()
		r := map[string]float64{}
		for _, w := range c.s.Windows {
			r[sla.FormatWindow(time.Duration(w))] = c.ratio
		}
		sts = append(sts, c.s.EvaluateCovered(r, map[string]float64{}))
	}
	st := startStack(t, 3, false, withSLAs(t, sts))
	load(t, ctx, st.URL+"/#/overview?range=1h")
	row := `tr[data-service="` + base.Service + `"]`
	if err := poll(ctx, 15*time.Second, `!!document.querySelector('`+row+` [data-col="budget"]')`); err != nil {
		t.Fatal(err)
	}
	cell := eval[string](t, ctx, `document.querySelector('`+row+` [data-col="sla"]').textContent`)
	budget := eval[string](t, ctx, `document.querySelector('`+row+` [data-col="budget"]').textContent`)
	if !strings.Contains(cell, "strict-latency: 99.95") || !strings.Contains(cell, "99.99") {
		t.Errorf("SLA cell %q, want the strict SLA named, at 99.95 %% of 99.99 %%", cell)
	}
	if strings.Contains(budget, "50") || !strings.Contains(budget, "exhausted") {
		t.Errorf("budget cell %q, want the strict SLA's, exhausted", budget)
	}
	screenshot(t, ctx, artifacts(t), "sla-worst-budget")
}
