package notify

import (
	"regexp"
	"testing"
	"time"

	"github.com/gmc-dev/gmc/internal/sla"
)

// delivered is one alert of a delivered notification, as its channels
// print it (Summary) and its errors_ended annotation.
type delivered struct {
	at                    time.Time
	status, text, errsEnd string
}

// TestBurnPageAfterErrorsEnded replays the demo's errors incident on a
// fresh gmc (t-user trial): orders every second from 17:36:01 at 100/s
// (objective 99.99%), 30 errors a second for 50 s, the rules evaluated
// every 10 s into the notification pipeline with the server's wiring of
// the drain read (rules.Options.SLALastErrors, sla.Reporter.LastErrors).
// The 5m window is covered from 17:41:00, so the 1h & 5m page fires
// then, whenever the errors stopped; its summary said "burns its error
// budget at least 14.4× faster …" although none had come for 12 s.
//
//   - "ended 12s before": errors 17:39:58–17:40:48 (the demo): too soon to
//     say they ended (a pause in a burst is no end), it says none were
//     counted after 17:40:48 and when the 5m window clears if none come.
//   - "ended 42s before": errors 17:39:28–17:40:18: "burned …; its errors
//     ended at 17:40:18 UTC, and the 5m window clears by 17:45:18 UTC",
//     and errors_ended says when.
//   - "errors go on" to 17:41:30: the summary as rendered, no end said.
//
// Each resolve says the 5m burn fell under 14.4× while the 1h one is still
// over it: true of windows that held 50 s of errors.
func TestBurnPageAfterErrorsEnded(t *testing.T) {
	day := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
	at := func(hms string) time.Time {
		d, err := time.Parse(time.TimeOnly, hms)
		if err != nil {
			t.Fatal(err)
		}
		return day.Add(time.Duration(d.Hour())*time.Hour + time.Duration(d.Minute())*time.Minute + time.Duration(d.Second())*time.Second)
	}
	const burns = "SLA order-success (order-gateway, objective 99.99%) burns its error budget at least 14.4× faster than sustainable over 1h and 5m (1h: "
	for _, tc := range []struct {
		name, from, to string
		page           string // the page's text, a regexp
		errsEnd        string // its errors_ended annotation
	}{
		{"ended 12s before", "17:39:58", "17:40:48",
			`^` + regexp.QuoteMeta(burns) + `[0-9.]+× over 4m59s of data, 5m: [0-9.]+×\); no errors counted after 17:40:48 UTC \(read at 17:41:00 UTC\): unless they come back, the 5m window clears by 17:45:48 UTC$`, ""},
		{"ended 42s before", "17:39:28", "17:40:18",
			`^SLA order-success \(order-gateway, objective 99.99%\) burned its error budget at least 14.4× faster than sustainable over 1h and 5m \(1h: [0-9.]+× over 4m59s of data, 5m: [0-9.]+×\); its errors ended at 17:40:18 UTC, and the 5m window clears by 17:45:18 UTC$`,
			"2026-12-07T17:40:18Z"},
		{"errors go on", "17:39:58", "17:41:30",
			`^` + regexp.QuoteMeta(burns) + `[0-9.]+× over 4m59s of data, 5m: [0-9.]+×\)$`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := runDemoBurn(t, at("17:36:01"), at("17:47:00"), at(tc.from), at(tc.to))
			t.Logf("delivered: %+v", got)
			if len(got) != 2 || got[0].status != "firing" || got[1].status != "resolved" {
				t.Fatalf("delivered %+v, want the page, then its resolve", got)
			}
			page := got[0]
			if !page.at.Equal(at("17:41:00")) {
				t.Errorf("paged at %v, want 17:41:00 (the 5m window's first covered evaluation)", page.at)
			}
			if !regexp.MustCompile(tc.page).MatchString(page.text) {
				t.Errorf("page's text:\n%s\nwant it to match:\n%s", page.text, tc.page)
			}
			if page.errsEnd != tc.errsEnd {
				t.Errorf("page's %s = %q, want %q", sla.ErrorsEndedAnnotation, page.errsEnd, tc.errsEnd)
			}
			if !regexp.MustCompile(`^SLA order-success \(order-gateway, objective 99.99%\) stopped burning its error budget at least 14.4× faster than sustainable: the 5m burn fell to [0-9.]+×, under 14.4× \(1h: still [0-9.]+×\)$`).MatchString(got[1].text) {
				t.Errorf("resolve's text %q, want the 5m burn fallen under 14.4× and the 1h one's figure", got[1].text)
			}
		})
	}
}

// runDemoBurn feeds order-success's orders every second from first to
// last (100 a second, 30 of them errors from errFrom to errTo), evaluates
// its rules every 10 s into the notification pipeline (group_wait 0s),
// and returns the alerts delivered.
func runDemoBurn(t *testing.T, first, last, errFrom, errTo time.Time) []delivered {
	t.Helper()
	r := newBurnRig(t, "order-success", "order-gateway", 99.99)
	for ts := first; !ts.After(last); ts = ts.Add(time.Second) {
		if !ts.Before(errFrom) && !ts.After(errTo) {
			r.feed(t, ts, 70, 30)
		} else {
			r.feed(t, ts, 100, 0)
		}
		if ts.Unix()%10 == 0 {
			r.eval(t, ts)
		}
	}
	var got []delivered
	for _, n := range r.rec.notifications() {
		for _, a := range n.alerts {
			got = append(got, delivered{n.at, a.Status, a.Summary(), string(a.Annotations[sla.ErrorsEndedAnnotation])})
		}
	}
	return got
}
