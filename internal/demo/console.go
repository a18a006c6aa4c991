package demo

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/common/model"

	"github.com/gmc-dev/gmc/internal/notify/channel"
)

// ConsoleReceiver prints each webhook notification (Alertmanager's payload)
// as one line per alert whose state changed: a group re-sent (a new alert
// joined it, or repeat_interval passed) repeats its still-firing alerts,
// which are not printed again; a resolved alert is printed once and
// forgotten, so that it prints again if it fires anew. A line is stamped
// with the time it was delivered, and says since when the alert fired
// (inhibition or group_wait can hold it back for minutes).
func ConsoleReceiver(out io.Writer, logger *slog.Logger) http.Handler {
	return consoleReceiver(out, logger, time.Now)
}

func consoleReceiver(out io.Writer, logger *slog.Logger, now func() time.Time) http.Handler {
	var mu sync.Mutex
	firing := map[model.Fingerprint]bool{} // alerts printed as firing
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			http.Error(w, "POST a webhook notification", http.StatusMethodNotAllowed)
			return
		}
		var n channel.Notification
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&n); err != nil {
			logger.Warn("console receiver: bad notification", "err", err)
			http.Error(w, "decode notification: "+err.Error(), http.StatusBadRequest)
			return
		}
		var b strings.Builder
		mu.Lock()
		defer mu.Unlock()
		for _, a := range n.Alerts {
			fp := a.Labels.Fingerprint()
			if a.Status == channel.StatusResolved {
				delete(firing, fp)
			} else {
				if firing[fp] {
					continue
				}
				firing[fp] = true
			}
			const clock = "15:04:05"
			fmt.Fprintf(&b, "%s  NOTIFY %-8s %s", now().Local().Format(clock), strings.ToUpper(a.Status), a.Labels[model.AlertNameLabel])
			for _, k := range []model.LabelName{"service", "sla", "instance", "severity"} {
				if v, ok := a.Labels[k]; ok {
					fmt.Fprintf(&b, " %s=%s", k, v)
				}
			}
			if a.Status == channel.StatusResolved {
				fmt.Fprintf(&b, " (fired %s, resolved %s)", a.StartsAt.Local().Format(clock), a.EndsAt.Local().Format(clock))
			} else {
				fmt.Fprintf(&b, " (since %s)", a.StartsAt.Local().Format(clock))
			}
			if a.Annotations["summary"] != "" {
				// Resolved: the text for a resolved alert (its annotations
				// are those of its last firing evaluation).
				fmt.Fprintf(&b, " — %s", a.Summary())
			}
			b.WriteByte('\n')
		}
		io.WriteString(out, b.String())
		w.WriteHeader(http.StatusOK)
	})
}
