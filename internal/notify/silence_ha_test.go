package notify

import (
	"testing"
	"time"

	"github.com/prometheus/alertmanager/pkg/labels"
)

func TestSilencesMergeKeepsTheNewestVersion(t *testing.T) {
	c := newClock()
	a, err := newSilences(c.Now, time.Hour, "")
	if err != nil {
		t.Fatal(err)
	}
	b, err := newSilences(c.Now, time.Hour, "")
	if err != nil {
		t.Fatal(err)
	}
	var sent [][]byte
	a.SetBroadcast(func(p []byte) { sent = append(sent, p) })
	m, _ := labels.NewMatcher(labels.MatchEqual, "service", "gateway")
	id, err := a.Add(Silence{Matchers: labels.Matchers{m}, EndsAt: c.Now().Add(time.Hour), CreatedBy: "t", Comment: "c"})
	if err != nil {
		t.Fatal(err)
	}
	if len(sent) != 1 {
		t.Fatalf("%d broadcasts after Add, want 1", len(sent))
	}
	if err := b.Merge(sent[0]); err != nil {
		t.Fatal(err)
	}
	if _, ok := b.Get(id); !ok {
		t.Fatal("the peer does not have the silence")
	}
	c.Advance(time.Minute)
	if err := a.Expire(id); err != nil {
		t.Fatal(err)
	}
	expired := sent[1]
	// An older version arriving late does not undo the expiry.
	state, _ := a.MarshalBinary()
	if err := b.Merge(expired); err != nil {
		t.Fatal(err)
	}
	if err := b.Merge(sent[0]); err != nil {
		t.Fatal(err)
	}
	if err := b.Merge(state); err != nil {
		t.Fatal(err)
	}
	got, _ := b.Get(id)
	if got.State(c.Now()) != SilenceExpired {
		t.Errorf("peer's silence is %s, want expired (the newest version)", got.State(c.Now()))
	}
}
