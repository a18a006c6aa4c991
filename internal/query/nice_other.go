//go:build !linux

package query

import "math"

func onNicedThread(_ int, fn func()) { fn() }

// idleCPUs is unknown here: no bound on borrowing (see shardWorkers).
func idleCPUs() int { return math.MaxInt }
