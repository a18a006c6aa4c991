package retry

import (
	"testing"
	"time"
)

func TestBackoff(t *testing.T) {
	const ms = time.Millisecond
	b := Backoff(100*ms, 500*ms)
	var got []time.Duration
	for range 6 {
		got = append(got, b.NextBackOff())
	}
	want := []time.Duration{100 * ms, 200 * ms, 400 * ms, 500 * ms, 500 * ms, 500 * ms}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("waits %v, want %v", got, want)
		}
	}
	b.Reset()
	if d := b.NextBackOff(); d != 100*ms {
		t.Errorf("after Reset: %v, want 100ms", d)
	}
	if d := Backoff(time.Second, 50*ms).NextBackOff(); d != 50*ms {
		t.Errorf("initial above max: %v, want 50ms", d)
	}
}
