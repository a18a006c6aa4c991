package demo

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"

	"github.com/prometheus/common/model"

	"github.com/gmc-dev/gmc/internal/notify/channel"
)

// ConsoleReceiver prints each webhook notification (Alertmanager's payload)
// as one line per alert whose state changed: a group re-sent (a new alert
// joined it, or repeat_interval passed) repeats its still-firing alerts,
// which are not printed again; a resolved alert is printed once and
// forgotten, so that it prints again if it fires anew.
func ConsoleReceiver(out io.Writer, logger *slog.Logger) http.Handler {
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
			at := a.StartsAt
			if a.Status == channel.StatusResolved {
				at = a.EndsAt
			}
			fmt.Fprintf(&b, "%s  NOTIFY %-8s %s", at.Local().Format("15:04:05"), strings.ToUpper(a.Status), a.Labels[model.AlertNameLabel])
			for _, k := range []model.LabelName{"service", "sla", "instance", "severity"} {
				if v, ok := a.Labels[k]; ok {
					fmt.Fprintf(&b, " %s=%s", k, v)
				}
			}
			if s := a.Annotations["summary"]; s != "" {
				fmt.Fprintf(&b, " — %s", s)
			}
			b.WriteByte('\n')
		}
		io.WriteString(out, b.String())
		w.WriteHeader(http.StatusOK)
	})
}
