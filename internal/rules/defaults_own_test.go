package rules

import (
	"regexp"
	"testing"
)

// gmc's own series are named in one place (gmcSeriesRE): /system/status
// leaves out what GmcSeries matches, the ServiceSilent rules what
// ownSeriesRE matches, which adds only the scraper's up and scrape_*.
func TestGmcSeries(t *testing.T) {
	own := regexp.MustCompile(`^(?:` + ownSeriesRE + `)$`)
	for name, want := range map[string]bool{
		"ALERTS": true, "ALERTS_FOR_STATE": true, "gmc_bench_orders_per_second": true,
		AgentProcessPrefix + "count": true, "sla:availability:ratio_rate5m": true,
		"up": false, "scrape_duration_seconds": false, "trading_orders_total": false,
		"gmc_benchmark": false, "ALERTS_X": false, "xALERTS": false,
	} {
		if got := GmcSeries(name); got != want {
			t.Errorf("GmcSeries(%q) = %v, want %v", name, got, want)
		}
		if !own.MatchString(name) && want {
			t.Errorf("ownSeriesRE does not match %q, which GmcSeries does", name)
		}
	}
	for _, name := range []string{"up", "scrape_samples_scraped"} {
		if !own.MatchString(name) {
			t.Errorf("ownSeriesRE does not match the scraper's %q", name)
		}
	}
}
