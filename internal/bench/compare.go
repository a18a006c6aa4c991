package bench

import (
	"fmt"
	"io"
	"text/tabwriter"
)

// CompareRow is one line of a run-to-run comparison.
type CompareRow struct {
	Name       string
	Unit       string
	Comparison Comparison
}

// CompareRuns compares the results of two runs by result name, in the order
// of the new run; results only in one run are skipped.
func CompareRuns(old, cur *Run, alpha, threshold float64) []CompareRow {
	base := map[string]Result{}
	for _, r := range old.Results {
		base[r.Name] = r
	}
	var rows []CompareRow
	for _, r := range cur.Results {
		o, ok := base[r.Name]
		if !ok {
			continue
		}
		rows = append(rows, CompareRow{Name: r.Name, Unit: r.Unit, Comparison: Compare(o.Samples, r.Samples, r.Better, alpha, threshold)})
	}
	return rows
}

// WriteCompareTable prints rows like benchstat:
//
//	name     old median ± CI   new median ± CI   vs base
//	orders   1.2ms ± 3%        1.4ms ± 2%        +16.67% (p=0.000 n=10+10) REGRESSION
func WriteCompareTable(w io.Writer, oldLabel, newLabel string, rows []CompareRow) error {
	tw := tabwriter.NewWriter(w, 0, 4, 3, ' ', 0)
	fmt.Fprintf(tw, "name\t%s\t%s\tvs base\n", oldLabel, newLabel)
	for _, r := range rows {
		c := r.Comparison
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.Name, medianCI(c.Base, r.Unit), medianCI(c.New, r.Unit), verdict(&c))
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write comparison: %w", err)
	}
	return nil
}
