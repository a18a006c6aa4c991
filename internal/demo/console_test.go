package demo

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"

	"github.com/gmc-dev/gmc/internal/notify/channel"
)

// TestConsolePrintsStateChanges: a group re-sent with a still-firing alert
// (a second alert joined it) prints only the new alert; a resolution prints
// once; the same alert firing again prints again.
func TestConsolePrintsStateChanges(t *testing.T) {
	var out bytes.Buffer
	h := ConsoleReceiver(&out, slog.New(slog.DiscardHandler))
	at := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	alert := func(svc, status string) channel.Alert {
		a := channel.Alert{Status: status, StartsAt: at,
			Labels: model.LabelSet{"alertname": "ServiceSilent", "service": model.LabelValue(svc)}}
		if status == channel.StatusResolved {
			a.EndsAt = at.Add(time.Minute)
		}
		return a
	}
	send := func(as ...channel.Alert) {
		body, err := json.Marshal(channel.Notification{Alerts: as})
		if err != nil {
			t.Fatal(err)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body)))
		if rec.Code != http.StatusOK {
			t.Fatalf("status %d", rec.Code)
		}
	}
	send(alert("a", channel.StatusFiring))
	send(alert("a", channel.StatusFiring), alert("b", channel.StatusFiring)) // b joined
	send(alert("a", channel.StatusFiring), alert("b", channel.StatusResolved))
	send(alert("a", channel.StatusResolved))
	send(alert("a", channel.StatusFiring)) // fires anew
	var got []string
	for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		f := strings.Fields(l)
		got = append(got, f[2]+" "+f[4])
	}
	want := "FIRING service=a|FIRING service=b|RESOLVED service=b|RESOLVED service=a|FIRING service=a"
	if strings.Join(got, "|") != want {
		t.Errorf("console lines:\n%s\nwant (state, service) %s", out.String(), want)
	}
}
