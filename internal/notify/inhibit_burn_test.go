package notify

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
)

// TestFasterBurnEndsIntoSlowerOne: an SLA's fast burn (1h and 5m) paged
// and muted the slow one (6h and 30m) that began during it. When the fast
// burn stopped, the slow one was held back as a dependant of a recovering
// service is (the inhibit hold), so the group's flush said RESOLVED and the
// slow burn paged 15 s later, its "since" minutes old: one burn, two pages
// (t-user10 #5, t-user11 #5). Now the flush that carries the fast burn's end
// carries the slow one firing: the group's message stays a firing one.
func TestFasterBurnEndsIntoSlowerOne(t *testing.T) {
	rec := &recorder{}
	h := start(t, `
route: {receiver: r, group_by: [alertname, service], group_wait: 0s, group_interval: 100ms}
receivers: [{name: r}]
`, map[string][]Notifier{"r": {rec}})
	burn := func(long, short string) []string {
		return []string{"alertname", "SLAErrorBudgetBurn", "service", "gw", "sla", "orders", "severity", "page", "long_window", long, "short_window", short}
	}
	fast := h.alert(burn("1h", "5m")...)
	h.d.Send(fast)
	waitFor(t, "the fast burn's page", func() bool { return rec.count() >= 1 })
	h.clock.Advance(2 * time.Minute)
	fast = h.alert(burn("1h", "5m")...) // re-sent by the rules
	fast.StartsAt = fast.StartsAt.Add(-2 * time.Minute)
	slow := h.alert(burn("6h", "30m")...)
	h.d.Send(fast, slow)
	h.waitFlushes(t, 2)
	h.clock.Advance(3 * time.Minute)
	fast, slow = h.resolved(fast), h.alert(burn("6h", "30m")...)
	slow.StartsAt = slow.StartsAt.Add(-3 * time.Minute)
	h.d.Send(fast, slow)
	waitFor(t, "the flush after the fast burn ended", func() bool { return rec.count() >= 2 })
	h.waitFlushes(t, 2)
	// The rules re-send both every evaluation, the slow burn's figures
	// moving: nothing more is sent (the group's state did not change).
	for i := range 4 {
		h.clock.Advance(10 * time.Second)
		slow.EndsAt = h.clock.Now().Add(time.Minute)
		slow.Annotations = slow.Annotations.Clone()
		slow.Annotations["summary"] = model.LabelValue(fmt.Sprintf("burning %d×", 8+i))
		h.d.Send(fast, slow)
		h.waitFlushes(t, 2)
	}
	var got []string
	for _, n := range rec.notifications() {
		got = append(got, burnWindows(n.Alerts))
	}
	if strings.Join(got, " | ") != "1h firing | 6h firing, 1h resolved" && strings.Join(got, " | ") != "1h firing | 1h resolved, 6h firing" {
		t.Errorf("notifications %q, want the fast burn's page, then one message with the slow burn firing and the fast one resolved", got)
	}
}
