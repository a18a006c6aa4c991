package demo

import (
	"testing"
	"time"
)

// TestPacerMakesUpLateTicks: ticks 10 ms apart with every third one
// dropped and some 25 ms late still do the rate's work over a second (a
// fixed amount a tick did 2.2k of 3k orders/s on a busy machine); after a
// stall longer than maxBehind the clock starts again, no burst.
func TestPacerMakesUpLateTicks(t *testing.T) {
	p := &pacer{rate: 3000}
	t0 := time.Date(2026, 12, 4, 23, 0, 0, 0, time.UTC)
	total := p.owed(t0)
	for i := 1; i <= 100; i++ {
		if i%3 == 0 && i != 100 {
			continue // dropped
		}
		at := t0.Add(time.Duration(i) * 10 * time.Millisecond)
		if i%7 == 0 {
			at = at.Add(15 * time.Millisecond)
		}
		total += p.owed(at)
	}
	if total != 3000 {
		t.Errorf("%d units in a second of late and dropped ticks, want 3000", total)
	}
	if n := p.owed(t0.Add(4 * time.Second)); n != 0 {
		t.Errorf("after a 3 s stall: %d units at once, want the clock started again (0)", n)
	}
	if n := p.owed(t0.Add(4*time.Second + 10*time.Millisecond)); n != 30 {
		t.Errorf("10 ms after the restart: %d, want 30", n)
	}
}
