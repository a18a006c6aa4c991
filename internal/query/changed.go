package query

import (
	"context"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/gmc-dev/gmc/internal/httpapi"
)

// Writes watches the commits to the raw store (storage.LateWrites): a
// range query's since and held parameters read it (heldFrom).
type Writes interface {
	// Mark names the write state now.
	Mark() string
	// ChangedSince is the oldest sample time (ms) committed since mark
	// (or the oldest time another write changed: a block loaded or
	// dropped, a delete; at least math.MinInt64/2), math.MaxInt64 for
	// none; false when mark is unknown or too old.
	ChangedSince(mark string) (int64, bool)
}

// The headers of a range query asked with since (heldFrom).
const (
	// HeaderWrites is the write state (Writes.Mark) the answer is as of,
	// taken before its evaluation: the next request's since.
	HeaderWrites = "Gmc-Writes"
	// HeaderFrom is the first step evaluated (Unix s): the steps before
	// it are left out, unchanged since the request's since.
	HeaderFrom = "Gmc-From"
)

// heldFrom reads a range query's since and held parameters: a client that
// holds the query's points at the steps up to held (Unix s, on the
// query's grid) as of the write state since (a HeaderWrites) is answered
// only from the first step a sample committed since can change, or the
// first after held. A point at step T depends only on the samples up to
// T (less the selectors' offsets), so the steps before the oldest sample
// committed since are what they were (the Live dashboard re-read the
// last 30 s of every series each second for the few samples arriving
// late, 175 KB/s on its Overview). Not for an expression whose steps
// depend on the query's range (@, range()), a subquery, a matcher of a
// label beginning with __ other than the name (the tiers' markers among
// them), or a step a tier can answer (a minute and more): those can
// change without a raw write. An unknown since (another gmc,
// older than storage.ChangesKept, empty) evaluates every step. A client
// sends since (empty the first time) to get HeaderWrites.
//
// It returns the first step to evaluate (start when nothing is left out)
// and the write state the answer is as of ("" when the request did not
// ask: no since, or writes not watched). The mark is taken before the
// commits since are read, and both before the evaluation: a commit between
// them counts in this answer's since and the next.
//
// A gated request reads it twice, to size its lane (requestSpan) and to
// answer (queryRange): it is worked out once, before the request waits
// for its lane, and kept on the request (heldMemo). The wait comes
// between the mark and the evaluation, as a commit does: the answer is at
// least as new as its mark.
func (a *API) heldFrom(r *http.Request, expr string, start time.Time, step time.Duration) (time.Time, string) {
	m, _ := r.Context().Value(heldMemoKey{}).(*heldMemo)
	if m == nil {
		return a.heldFromNow(r, expr, start, step)
	}
	if !m.done {
		m.from, m.mark = a.heldFromNow(r, expr, start, step)
		m.done = true
	}
	return m.from, m.mark
}

// heldMemo keeps a request's heldFrom (serveGated puts one on a range
// query's context; the request's handlers run one after the other).
type heldMemo struct {
	done bool
	from time.Time
	mark string
}

type heldMemoKey struct{}

// withHeldMemo is ctx with an empty heldMemo.
func withHeldMemo(ctx context.Context) context.Context {
	return context.WithValue(ctx, heldMemoKey{}, &heldMemo{})
}

// heldFromNow is heldFrom worked out now.
func (a *API) heldFromNow(r *http.Request, expr string, start time.Time, step time.Duration) (time.Time, string) {
	if a.writes == nil || r.Form == nil || r.Form["since"] == nil {
		return start, ""
	}
	mark := a.writes.Mark()
	since, heldS := r.FormValue("since"), r.FormValue("held")
	if since == "" || heldS == "" {
		return start, mark
	}
	back, ok := a.heldReach(expr, step)
	if !ok {
		return start, mark
	}
	held, err := httpapi.ParseTime(heldS)
	if err != nil {
		return start, mark
	}
	oldest, ok := a.writes.ChangedSince(since)
	if !ok {
		return start, mark
	}
	c := held.UnixMilli() + 1
	if oldest != math.MaxInt64 {
		c = min(c, oldest-back) // oldest is at least math.MinInt64/2
	}
	s, st := start.UnixMilli(), step.Milliseconds()
	if c <= s {
		return start, mark
	}
	return time.UnixMilli(s + (c-s+st-1)/st*st), mark
}

// heldReach says whether heldFrom may leave out steps of expr at step,
// and how far (ms) before a sample the steps it changes begin: the
// largest negative offset of expr's selectors, 0 with none. The
// expression is parsed once.
func (a *API) heldReach(expr string, step time.Duration) (back int64, ok bool) {
	if step >= time.Minute {
		return 0, false
	}
	e, err := a.parser.ParseExpr(expr)
	if err != nil || !cacheableExpr(e) {
		return 0, false
	}
	ok = true
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		switch n := n.(type) {
		case *parser.SubqueryExpr:
			ok = false
		case *parser.VectorSelector:
			if n.OriginalOffsetExpr != nil {
				ok = false
			}
			if n.OriginalOffset < 0 {
				back = max(back, -n.OriginalOffset.Milliseconds())
			}
			for _, m := range n.LabelMatchers {
				if m.Name != model.MetricNameLabel && strings.HasPrefix(m.Name, "__") {
					ok = false
				}
			}
		}
		return nil
	})
	return back, ok
}

// heldHeaders are the headers of an answer asked with since: the write
// state mark, taken before the evaluation, and its first step.
func heldHeaders(mark string, from time.Time) http.Header {
	return http.Header{
		HeaderWrites: {mark},
		HeaderFrom:   {strconv.FormatFloat(float64(from.UnixMilli())/1000, 'f', -1, 64)},
	}
}
