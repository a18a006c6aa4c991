package notify

import (
	"strings"
	"testing"
)

// TestMuteTimeIntervals: the test clock is Wednesday 2026-11-25 10:00 UTC.
// An alert routed to a route muted on Wednesdays is not sent; one routed to
// a route muted at weekends is; an active_time_intervals route outside its
// interval sends nothing.
func TestMuteTimeIntervals(t *testing.T) {
	recs := map[string]*recorder{"midweek": {}, "weekend": {}, "night": {}}
	ns := map[string][]Notifier{}
	for k, r := range recs {
		ns[k] = []Notifier{r}
	}
	h := start(t, `
time_intervals:
  - name: wednesdays
    time_intervals: [{weekdays: ['wednesday']}]
  - name: weekends
    time_intervals: [{weekdays: ['saturday:sunday']}]
  - name: nights
    time_intervals: [{times: [{start_time: '22:00', end_time: '24:00'}], location: UTC}]
route:
  receiver: weekend
  group_by: [alertname]
  group_wait: 0s
  group_interval: 10ms
  routes:
    - {receiver: midweek, matchers: ['svc="a"'], mute_time_intervals: [wednesdays]}
    - {receiver: weekend, matchers: ['svc="b"'], mute_time_intervals: [weekends]}
    - {receiver: night, matchers: ['svc="c"'], active_time_intervals: [nights]}
receivers: [{name: midweek}, {name: weekend}, {name: night}]
`, ns)
	h.d.Send(h.alert("alertname", "A", "svc", "a"), h.alert("alertname", "B", "svc", "b"), h.alert("alertname", "C", "svc", "c"))
	waitFor(t, "the weekend-muted route notified", func() bool { return recs["weekend"].count() == 1 })
	h.waitFlushes(t, 3) // the muted groups flushed too, after the first
	if n := recs["midweek"].count(); n != 0 {
		t.Errorf("route muted on Wednesdays sent %d notifications on a Wednesday", n)
	}
	if n := recs["night"].count(); n != 0 {
		t.Errorf("route active at night only sent %d notifications at 10:00", n)
	}
}

func TestTimeIntervalNamesChecked(t *testing.T) {
	_, err := LoadConfig([]byte("route: {receiver: r, routes: [{receiver: r, mute_time_intervals: [nope]}]}\nreceivers: [{name: r}]\n"))
	if err == nil || !strings.Contains(err.Error(), `route.routes[0].mute_time_intervals: "nope" is not a time_intervals name`) {
		t.Fatalf("error %v", err)
	}
	_, err = LoadConfig([]byte("time_intervals: [{name: x, time_intervals: [{weekdays: ['funday']}]}]\nroute: {receiver: r}\nreceivers: [{name: r}]\n"))
	if err == nil || !strings.Contains(err.Error(), "funday") {
		t.Fatalf("error %v", err)
	}
}
