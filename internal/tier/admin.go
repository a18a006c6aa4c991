package tier

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"time"

	"github.com/gmc-dev/gmc/internal/httpapi"
)

// Re-aggregation on request. The job writes a bucket once and rewrites it
// only when a late sample marks it (reaggregate.go): aggregates written by
// an older gmc keep what it wrote until retention (a counter's stop and
// resumption without the marks cba3175 and d7162f9 added read the jump
// over the hole as increase: +89,057 % through the 1h tier).
// POST /api/v1/admin/tiers/reaggregate?from=<time> marks every tier late
// from the bucket holding from, as a late sample there would: readers read
// the raw data from there until the job has rewritten the tier from it
// (within a minute, then as long as the rewrite takes). from must be at or
// after the oldest time every series still has its raw data (the raw
// store's oldest sample, and now less the shortest raw retention, the
// default or a rule's): a rewrite deletes the tier's aggregates after from
// and writes what the raw data hold, so before that floor it would drop
// aggregates the raw data no longer back.

// Routes lists the tiers' admin endpoint (the admin role: auth.RequiredRole
// gives a POST outside the read POSTs that role). None without tiers.
func (s *Set) Routes() []httpapi.Route {
	if s == nil || len(s.tiers) == 0 {
		return nil
	}
	return []httpapi.Route{{Method: http.MethodPost, Path: "/api/v1/admin/tiers/reaggregate", Handler: s.serveReaggregate}}
}

// Marked is what a re-aggregation request did with one tier.
type Marked struct {
	Tier string `json:"tier"`
	// From is the start of the first bucket the job rewrites (RFC 3339),
	// empty when the job has not aggregated the bucket holding from yet
	// (it will write it from the raw data as it is).
	From string `json:"from,omitempty"`
}

// Reaggregation is the answer of a re-aggregation request.
type Reaggregation struct {
	Tiers []Marked `json:"tiers"`
	// RawFrom is the floor from had to be at or after (RFC 3339).
	RawFrom string `json:"raw_from"`
}

func (s *Set) serveReaggregate(w http.ResponseWriter, r *http.Request) {
	if r.FormValue("from") == "" {
		httpapi.WriteError(w, httpapi.ErrBadData, errors.New(`parameter "from" is required: the time (RFC 3339 or Unix seconds) from which to rewrite the tiers`))
		return
	}
	from, err := httpapi.TimeParam(r, "from", time.Time{})
	if err != nil {
		httpapi.WriteError(w, httpapi.ErrBadData, err)
		return
	}
	res, err := s.Reaggregate(from)
	if err != nil {
		var bad *floorError
		if errors.As(err, &bad) {
			httpapi.WriteError(w, httpapi.ErrBadData, fmt.Errorf("invalid parameter \"from\": %w", err))
			return
		}
		httpapi.WriteError(w, httpapi.ErrInternal, err)
		return
	}
	httpapi.WriteSuccess(w, res)
}

// floorError: from is before the raw data every series still has.
type floorError struct{ from, floor int64 }

func (e *floorError) Error() string {
	if e.floor == math.MaxInt64 {
		return "the raw store holds no samples: there is nothing to rewrite the tiers from"
	}
	return fmt.Sprintf("%s is before %s, the oldest time every series still has raw data for (retention): "+
		"a rewrite from there would drop the tiers' aggregates the raw data no longer back",
		fmtMS(e.from), fmtMS(e.floor))
}

// Reaggregate marks every tier whose job has aggregated the bucket holding
// from late from that bucket on (Tier.markLate): the job rewrites the
// tier from the raw data there to its watermark in its next rounds. It
// fails with a *floorError when that bucket starts before rawFloor.
func (s *Set) Reaggregate(from time.Time) (Reaggregation, error) {
	floor, err := s.rawFloor()
	if err != nil {
		return Reaggregation{}, err
	}
	ts := from.UnixMilli()
	out := Reaggregation{RawFrom: fmtMS(floor)}
	for _, t := range s.tiers {
		if start := bucketEnd(ts, t.res) - t.res; start < floor {
			return Reaggregation{}, &floorError{from: start, floor: floor}
		}
	}
	for _, t := range s.tiers {
		m := Marked{Tier: t.Name()}
		end := bucketEnd(ts, t.res)
		if ob := t.olderBefore.Load(); ob != math.MinInt64 && end-t.res <= ob {
			// The buckets an older gmc wrote are rewritten from here.
			if err := t.setOlderBefore(math.MinInt64); err != nil {
				return Reaggregation{}, fmt.Errorf("tier %s: %w", t.Name(), err)
			}
		}
		if end <= t.reading.Load() {
			if err := t.markLate(end); err != nil {
				return Reaggregation{}, fmt.Errorf("tier %s: %w", t.Name(), err)
			}
			m.From = fmtMS(end - t.res)
			s.opts.Logger.Info("re-aggregation requested", "tier", t.Name(), "from", m.From)
		}
		out.Tiers = append(out.Tiers, m)
	}
	select {
	case s.kick <- struct{}{}:
	default:
	}
	return out, nil
}

// rawFloor is the oldest time (ms) from which every series still has its
// raw data: the raw store's oldest sample, and now less the shortest raw
// retention in force (the default, or a rule's for some series).
func (s *Set) rawFloor() (int64, error) {
	start, err := s.RawStart()
	if err != nil {
		return 0, fmt.Errorf("raw data's start: %w", err)
	}
	k := s.keep.Load()
	shortest := k.raw
	for _, r := range k.rules {
		if d, ok := r.keep[RawTier]; ok && d > 0 && (shortest <= 0 || d < shortest) {
			shortest = d
		}
	}
	if shortest > 0 {
		start = max(start, s.opts.Now().Add(-shortest).UnixMilli())
	}
	return start, nil
}
