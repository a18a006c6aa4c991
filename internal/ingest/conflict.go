package ingest

import (
	"math"

	"github.com/prometheus/prometheus/storage"
)

// requestSamples remembers the float samples one request has appended so far,
// so that a second sample of the same series at the same timestamp with a
// different value is refused the way the TSDB refuses it across two requests
// (storage.ErrDuplicateSampleForTimestamp, a 400). Inside one appender
// transaction the TSDB does not see the conflict: it would keep one sample
// and drop the other at Commit with no word. An exact repeat (same value
// bits) is accepted, as across requests. Not safe for concurrent use; one per
// request.
type requestSamples struct {
	m map[sampleKey]uint64
}

// sampleKey is a series (by its label hash) and a timestamp.
type sampleKey struct {
	series uint64
	t      int64
}

// conflict records (series, t, v) and returns the error to reject it with
// when the request already holds another value for that series and time.
func (r *requestSamples) conflict(series uint64, t int64, v float64) error {
	if r.m == nil {
		r.m = make(map[sampleKey]uint64)
	}
	k := sampleKey{series, t}
	bits := math.Float64bits(v)
	if prev, ok := r.m[k]; ok {
		if prev != bits {
			return storage.NewDuplicateFloatErr(t, math.Float64frombits(prev), v)
		}
		return nil
	}
	r.m[k] = bits
	return nil
}

// reset empties r for the next request, keeping its memory unless it grew
// unusually large.
func (r *requestSamples) reset() {
	if len(r.m) > 1<<16 {
		r.m = nil
		return
	}
	clear(r.m)
}
