package notify

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/common/model"
)

// TestNotificationLogSurvivesRestart: with NotificationLogFile a restarted
// dispatcher does not re-send an alert that still fires and was notified
// within repeat_interval; a new alert of the group still is. Without the
// file (the control) the restart re-sends it.
func TestNotificationLogSurvivesRestart(t *testing.T) {
	const cfg = `
route: {receiver: hook, group_by: [alertname], group_wait: 0s, group_interval: 50ms, repeat_interval: 1h}
receivers: [{name: hook}]
`
	now := time.Now()
	alert := func(svc string) *model.Alert {
		return &model.Alert{Labels: model.LabelSet{"alertname": "Down", "service": model.LabelValue(svc)},
			StartsAt: now, EndsAt: time.Now().Add(time.Hour)}
	}
	for _, persist := range []bool{true, false} {
		file := filepath.Join(t.TempDir(), "nflog")
		rec := &recorder{}
		run := func() *harness {
			return start(t, cfg, map[string][]Notifier{"hook": {rec}}, func(o *Options) {
				o.Now = time.Now
				if persist {
					o.NotificationLogFile = file
				}
			})
		}
		h := run()
		h.d.Send(alert("gateway"))
		waitFor(t, "the first notification", func() bool { return rec.count() == 1 })
		h.stop()
		if _, err := os.Stat(file); persist && err != nil {
			t.Fatalf("no snapshot after shutdown: %v", err)
		}

		h = run() // restarted: the rules re-send what still fires
		h.d.Send(alert("gateway"))
		h.waitFlushes(t, 1)
		if persist && rec.count() != 1 {
			t.Errorf("restart re-sent the firing alert: %d notifications, want 1", rec.count())
		}
		if !persist && rec.count() != 2 {
			t.Errorf("control without the log: %d notifications, want 2 (the re-send)", rec.count())
		}
		want := rec.count() + 1
		h.d.Send(alert("gateway"), alert("risk"))
		waitFor(t, "the new alert's notification", func() bool { return rec.count() == want })
		h.stop()
	}
}
