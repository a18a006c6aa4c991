package alerthistory

import (
	"reflect"
	"testing"
	"time"
)

// TestNotifiedPersists: what the notification pipeline did with an
// episode's alert is kept on the episode across a restart, merged over
// flushes (the first notification, every suppressor once), also when the
// first flush came before the rules recorded the firing (group_wait 0).
func TestNotifiedPersists(t *testing.T) {
	dir := t.TempDir()
	h, err := Open(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	fired := t0.Add(time.Minute)
	src := map[string]string{"alertname": "Slow", "service": "engine"}
	ev := func(n map[string]string, state string, at time.Time) Event {
		e := Event{Time: at, Group: "g", Labels: n, State: state, ActiveAt: t0, Value: "1"}
		if state != "pending" {
			e.FiredAt = &fired
		}
		if state == "resolved" {
			e.ResolvedAt = &at
		}
		return e
	}
	engine := map[string]string{"alertname": "Slow", "service": "engine"}
	gateway := map[string]string{"alertname": "Slow", "service": "gateway"}
	// The gateway's first flush, before its firing is recorded.
	if err := h.Notified(gateway, fired, fired, Notify{InhibitedBy: []map[string]string{src}}); err != nil {
		t.Fatal(err)
	}
	for _, e := range []Event{ev(engine, "pending", t0), ev(gateway, "pending", t0), ev(engine, "firing", fired), ev(gateway, "firing", fired)} {
		if err := h.Add(e); err != nil {
			t.Fatal(err)
		}
	}
	at := fired.Add(time.Second)
	for _, n := range []struct {
		lset map[string]string
		n    Notify
	}{
		{engine, Notify{Unmuted: true, NotifiedAt: &at}},
		{gateway, Notify{InhibitedBy: []map[string]string{src}}},
		{gateway, Notify{SilencedBy: []Silence{{ID: "s1", CreatedBy: "ann", Comment: "deploy"}}}},
		{engine, Notify{Unmuted: true, NotifiedAt: &fired}},              // an earlier one
		{map[string]string{"alertname": "Other"}, Notify{Unmuted: true}}, // no episode
	} {
		if err := h.Notified(n.lset, fired, at, n.n); err != nil {
			t.Fatal(err)
		}
	}
	end := fired.Add(time.Minute)
	for _, e := range []Event{ev(engine, "resolved", end), ev(gateway, "resolved", end)} {
		if err := h.Add(e); err != nil {
			t.Fatal(err)
		}
	}
	h.Close()
	h, err = Open(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	got := map[string]*Notify{}
	for _, ep := range h.List(Filter{}, end) {
		got[ep.Service] = ep.Notify
	}
	want := map[string]*Notify{
		"engine":  {NotifiedAt: &fired, Unmuted: true},
		"gateway": {InhibitedBy: []map[string]string{src}, SilencedBy: []Silence{{ID: "s1", CreatedBy: "ann", Comment: "deploy"}}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("notify after a restart:\n got %+v %+v\nwant %+v %+v", got["engine"], got["gateway"], want["engine"], want["gateway"])
	}
}
