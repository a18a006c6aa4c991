// Package retry is gmc's one retry policy, shared by the notification
// pipeline and the SDK's pusher: exponential backoff without jitter, from
// cenkalti/backoff.
package retry

import (
	"time"

	"github.com/cenkalti/backoff/v5"
)

// Backoff returns waits of initial, 2×initial, 4×initial, … capped at max
// (initial is lowered to max if larger), without jitter and without an
// elapsed-time limit: the caller bounds the attempts. Reset starts over.
func Backoff(initial, max time.Duration) *backoff.ExponentialBackOff {
	return &backoff.ExponentialBackOff{InitialInterval: min(initial, max), Multiplier: 2, MaxInterval: max}
}
