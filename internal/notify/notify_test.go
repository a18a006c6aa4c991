package notify

import (
	"slices"
	"testing"
	"time"
)

const routingYAML = `
route:
  receiver: default
  group_by: [alertname]
  group_wait: 0s
  group_interval: 10ms
  repeat_interval: 1h
  routes:
    - receiver: pager
      matchers: ['severity="page"']
    - receiver: matcher
      matchers: ['service=~"match.*"']
      continue: true
    - receiver: team
      matchers: ['team="core"']
receivers:
  - name: default
  - name: pager
  - name: matcher
  - name: team
`

func TestRoutingByMatchers(t *testing.T) {
	recs := map[string]*recorder{"default": {}, "pager": {}, "matcher": {}, "team": {}}
	ns := map[string][]Notifier{}
	for k, r := range recs {
		ns[k] = []Notifier{r}
	}
	h := start(t, routingYAML, ns)
	h.d.Send(
		h.alert("alertname", "A", "severity", "page", "service", "matching-engine"), // pager only: first match stops
		h.alert("alertname", "B", "service", "matching-engine", "team", "core"),     // matcher continues to team
		h.alert("alertname", "C", "service", "gateway"),                             // default
	)
	waitFor(t, "team notified", func() bool { return recs["team"].count() == 1 })
	waitFor(t, "pager, matcher, default notified", func() bool {
		return recs["pager"].count() == 1 && recs["matcher"].count() == 1 && recs["default"].count() == 1
	})
	want := map[string][]string{
		"pager":   {"A/matching-engine/firing"},
		"matcher": {"B/matching-engine/firing"},
		"team":    {"B/matching-engine/firing"},
		"default": {"C/gateway/firing"},
	}
	for name, w := range want {
		got := alertnames(recs[name].notifications()[0])
		if !slices.Equal(got, w) {
			t.Errorf("receiver %s got %v, want %v", name, got, w)
		}
		if n := recs[name].notifications()[0]; n.Receiver != name {
			t.Errorf("receiver %s: notification names receiver %q", name, n.Receiver)
		}
	}
}

func TestGroupingByLabels(t *testing.T) {
	rec := &recorder{}
	h := start(t, `
route:
  receiver: r
  group_by: [alertname]
  group_wait: 0s
  group_interval: 1h
receivers: [{name: r}]
`, map[string][]Notifier{"r": {rec}})
	h.d.Send(
		h.alert("alertname", "Latency", "service", "a"),
		h.alert("alertname", "Latency", "service", "b"),
		h.alert("alertname", "Down", "service", "a"),
	)
	waitFor(t, "two notifications", func() bool { return rec.count() == 2 })
	byKey := map[string]*Notification{}
	for _, n := range rec.notifications() {
		byKey[n.GroupKey] = n
	}
	lat := byKey[`{}:{alertname="Latency"}`]
	down := byKey[`{}:{alertname="Down"}`]
	if lat == nil || down == nil {
		t.Fatalf("group keys: %v", keys(byKey))
	}
	if got, want := alertnames(lat), []string{"Latency/a/firing", "Latency/b/firing"}; !slices.Equal(got, want) {
		t.Errorf("latency group: %v, want %v", got, want)
	}
	if lat.Status != "firing" || lat.GroupLabels["alertname"] != "Latency" || lat.CommonLabels["service"] != "" || lat.CommonLabels["alertname"] != "Latency" {
		t.Errorf("latency group header: %+v", lat)
	}
	if got := lat.Title(); got != "[FIRING:2] Latency" {
		t.Errorf("title %q", got)
	}
	if got := alertnames(down); !slices.Equal(got, []string{"Down/a/firing"}) {
		t.Errorf("down group: %v", got)
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestDedupAndRepeat(t *testing.T) {
	rec := &recorder{}
	h := start(t, `
route:
  receiver: r
  group_by: [alertname]
  group_wait: 0s
  group_interval: 5ms
  repeat_interval: 1h
receivers: [{name: r}]
`, map[string][]Notifier{"r": {rec}})
	a := h.alert("alertname", "Latency", "service", "a")
	h.d.Send(a)
	waitFor(t, "first notification", func() bool { return rec.count() == 1 })
	// Re-sent on every evaluation, unchanged: no new notification.
	for range 5 {
		h.d.Send(a)
		h.waitFlushes(t, 1)
	}
	if n := rec.count(); n != 1 {
		t.Fatalf("unchanged group notified %d times before repeat_interval, want 1", n)
	}
	// A new alert in the group is news.
	b := h.alert("alertname", "Latency", "service", "b")
	h.d.Send(a, b)
	waitFor(t, "second notification", func() bool { return rec.count() == 2 })
	if got := alertnames(rec.notifications()[1]); !slices.Equal(got, []string{"Latency/a/firing", "Latency/b/firing"}) {
		t.Errorf("second notification: %v", got)
	}
	h.waitFlushes(t, 3)
	if n := rec.count(); n != 2 {
		t.Fatalf("after new alert: %d notifications, want 2", n)
	}
	// repeat_interval passes: the same group is sent again.
	h.clock.Advance(time.Hour + time.Second)
	a.EndsAt, b.EndsAt = h.clock.Now().Add(time.Minute), h.clock.Now().Add(time.Minute)
	h.d.Send(a, b)
	waitFor(t, "repeat notification", func() bool { return rec.count() == 3 })
}

func TestResolvedNotification(t *testing.T) {
	for _, sendResolved := range []bool{true, false} {
		t.Run(map[bool]string{true: "send_resolved", false: "no_send_resolved"}[sendResolved], func(t *testing.T) {
			rec := &recorder{}
			h := start(t, `
route:
  receiver: r
  group_by: [alertname]
  group_wait: 0s
  group_interval: 5ms
receivers: [{name: r}]
`, map[string][]Notifier{"r": {rec}})
			if !sendResolved {
				h.d.cur.Load().recv["r"].grouped[0].sendResolved = false
			}
			a := h.alert("alertname", "Down", "service", "a")
			h.d.Send(a)
			waitFor(t, "firing notification", func() bool { return rec.count() == 1 })
			h.clock.Advance(10 * time.Second)
			h.d.Send(h.resolved(a))
			waitFor(t, "group ends after the resolved alert", func() bool { return len(h.d.Status().Groups) == 0 })
			if !sendResolved {
				if n := rec.count(); n != 1 {
					t.Fatalf("send_resolved false: %d notifications, want 1", n)
				}
				return
			}
			if n := rec.count(); n != 2 {
				t.Fatalf("%d notifications, want 2", n)
			}
			n := rec.notifications()[1]
			if n.Status != "resolved" || n.Alerts[0].Status != "resolved" || !n.Alerts[0].EndsAt.Equal(h.clock.Now().Add(-time.Second)) {
				t.Errorf("resolved notification: %+v", n)
			}
			if !rec.notifications()[0].Alerts[0].EndsAt.IsZero() {
				t.Errorf("firing alert exposes EndsAt %v", rec.notifications()[0].Alerts[0].EndsAt)
			}
			// Prometheus keeps re-sending the resolved alert: no new notification.
			h.d.Send(h.resolved(a))
			h.waitFlushes(t, 1)
			if n := rec.count(); n != 2 {
				t.Fatalf("re-sent resolved alert notified again: %d", n)
			}
		})
	}
}

func TestAlertExpiresWithoutResend(t *testing.T) {
	rec := &recorder{}
	h := start(t, `
route: {receiver: r, group_wait: 0s, group_interval: 5ms}
receivers: [{name: r}]
`, map[string][]Notifier{"r": {rec}})
	a := h.alert("alertname", "Down")
	h.d.Send(a) // EndsAt is now+1m, as Prometheus sets it
	waitFor(t, "firing", func() bool { return rec.count() == 1 })
	h.clock.Advance(2 * time.Minute) // the rules side stopped sending it
	waitFor(t, "resolved by EndsAt", func() bool { return rec.count() == 2 })
	if n := rec.notifications()[1]; n.Status != "resolved" {
		t.Errorf("status %q", n.Status)
	}
}

func TestSilenceMutes(t *testing.T) {
	rec := &recorder{}
	h := start(t, `
route: {receiver: r, group_by: ['...'], group_wait: 0s, group_interval: 5ms}
receivers: [{name: r}]
`, map[string][]Notifier{"r": {rec}})
	id, err := h.d.Silences().Add(Silence{
		Matchers: mustMatchers(t, `service="a"`), EndsAt: h.clock.Now().Add(time.Hour),
		CreatedBy: "test", Comment: "maintenance",
	})
	if err != nil {
		t.Fatal(err)
	}
	a, b := h.alert("alertname", "Down", "service", "a"), h.alert("alertname", "Down", "service", "b")
	h.d.Send(a, b)
	waitFor(t, "b notified", func() bool { return rec.count() == 1 })
	h.d.Send(a, b)
	h.waitFlushes(t, 4)
	if got := rec.count(); got != 1 {
		t.Fatalf("%d notifications while a is silenced, want 1", got)
	}
	if got := alertnames(rec.notifications()[0]); !slices.Equal(got, []string{"Down/b/firing"}) {
		t.Fatalf("notified %v", got)
	}
	if err := h.d.Silences().Expire(id); err != nil {
		t.Fatal(err)
	}
	h.d.Send(a, b)
	waitFor(t, "a notified after the silence expired", func() bool { return rec.count() == 2 })
	if got := alertnames(rec.notifications()[1]); !slices.Equal(got, []string{"Down/a/firing"}) {
		t.Fatalf("notified %v", got)
	}
}

func TestRetryCountsAndGivesUp(t *testing.T) {
	flaky := &recorder{failFirst: 2}
	dead := &recorder{failFirst: 1 << 30}
	h := start(t, `
route:
  receiver: flaky
  group_wait: 0s
  group_interval: 1h
  routes: [{receiver: dead, matchers: ['service="dead"']}]
receivers: [{name: flaky}, {name: dead}]
`, map[string][]Notifier{"flaky": {flaky}, "dead": {dead}})
	h.d.Send(h.alert("alertname", "Down", "service", "a"), h.alert("alertname", "Down", "service", "dead"))
	waitFor(t, "flaky delivered after retries", func() bool { return flaky.count() == 1 })
	waitFor(t, "dead receiver given up", func() bool {
		return h.counter(t, "gmc_notifications_failed_total", "receiver", "dead") == 1
	})
	checks := []struct {
		name, receiver string
		want           float64
	}{
		{"gmc_notifications_total", "flaky", 1},
		{"gmc_notifications_failed_total", "flaky", 0},
		{"gmc_notification_requests_total", "flaky", 3},
		{"gmc_notification_requests_failed_total", "flaky", 2},
		{"gmc_notifications_total", "dead", 1},
		{"gmc_notification_requests_total", "dead", 4}, // Retry.Attempts in start()
	}
	for _, c := range checks {
		if got := h.counter(t, c.name, "receiver", c.receiver); got != c.want {
			t.Errorf("%s{receiver=%q} = %v, want %v", c.name, c.receiver, got, c.want)
		}
	}
}
