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
// once; the same alert firing again prints again. Each line is stamped
// with its delivery, not the alert's start (t-user2: a ticket inhibited for
// 5 minutes was printed stamped with its start).
func TestConsolePrintsStateChanges(t *testing.T) {
	var out bytes.Buffer
	at := time.Date(2026, 1, 1, 12, 0, 0, 0, time.Local)
	delivered := at.Add(5 * time.Minute)
	h := consoleReceiver(&out, slog.New(slog.DiscardHandler), func() time.Time { return delivered })
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
	if first := strings.SplitN(out.String(), "\n", 2)[0]; !strings.HasPrefix(first, "12:05:00  NOTIFY FIRING") || !strings.Contains(first, "(since 12:00:00)") {
		t.Errorf("first line %q: want it stamped 12:05:00 (delivered), (since 12:00:00)", first)
	}
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
	if !strings.Contains(out.String(), "12:05:00  NOTIFY RESOLVED ServiceSilent service=b (fired 12:00:00, resolved 12:01:00)") {
		t.Errorf("console lines:\n%s\nwant b's resolution stamped 12:05:00 with (fired 12:00:00, resolved 12:01:00)", out.String())
	}
}

// TestConsoleResolvedIsNotFiringText: t-user3 #12 read "NOTIFY RESOLVED
// SLABurnRate … — SLA … burns … (1h: 61.2×, 5m: 14.8×)": the summary of
// the last firing evaluation as if current.
func TestConsoleResolvedIsNotFiringText(t *testing.T) {
	var out bytes.Buffer
	h := consoleReceiver(&out, slog.New(slog.DiscardHandler), time.Now)
	body, err := json.Marshal(channel.SampleResolved())
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body)))
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d", rec.Code)
	}
	if p := channel.ResolvedSampleProblem(out.String()); p != "" {
		t.Errorf("%s in:\n%s", p, out.String())
	}
}
