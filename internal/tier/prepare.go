package tier

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/timestamp"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/storage"
)

// Exact averages. A tier bucket keeps its samples' sum and count, so the
// mean over several buckets is the sum of their sums over the sum of their
// counts; the engine's avg_over_time over the buckets' means weighs every
// bucket alike, which is off wherever buckets hold different numbers of
// samples (irregular scrapes, late samples, a restart: 2.7 % measured).
// The engine has no weighted mean, and a selector's samples cannot carry
// weights, so PrepareQuery rewrites the query the engine built, before it
// runs:
//
//	avg_over_time(x[r])  →  sum_over_time(x[r]) / sum_over_time(x{__agg__="count"}[r])
//
// only where a tier answers the selector (the same choice Select makes,
// from the hints the engine will give it). Both are functions the engine
// has; the division matches the two sides' series one to one (they have
// the same labels), and, as avg_over_time does, drops the metric name.
// Where raw data answers, the query is left as it is: raw avg_over_time is
// exact and reads the samples once. Should raw data answer a rewritten
// selector after all (the tier started rewriting a late span in between),
// it is still exact: raw data read as `__agg__="count"` is a one for every
// sample (see Select).
//
// Not rewritten (and so read from raw data): a selector without an
// equality matcher on the metric name (series that differ only by name
// would collide in the division, where avg_over_time keeps them apart until
// its last step), one that names an aggregate itself, anchored and
// smoothed ranges, and a subquery without a step (its step is the
// engine's default, which the tiers do not know).

// preparer is what Prepare looks for in a queryable.
type preparer interface{ PrepareQuery(promql.Query) }

var _ preparer = (*Queryable)(nil)

// Prepare adapts qry, built over q, to the tiers before it runs when q is a
// tier Queryable (PrepareQuery); other queries are left as they are. Every
// reader that builds queries over the tiers calls it between building and
// running a query (the query API, rules, SLAs, trends, /metrics/history).
func Prepare(qry promql.Query, q storage.Queryable) {
	if p, ok := q.(preparer); ok {
		p.PrepareQuery(qry)
	}
}

// PrepareQuery rewrites the avg_over_time selectors of qry that a tier
// answers into the exact mean of the tier's buckets (see above). qry must
// not have run.
func (q *Queryable) PrepareQuery(qry promql.Query) {
	s, ok := qry.Statement().(*parser.EvalStmt)
	if !ok {
		return
	}
	s.Expr = q.rewriteAvg(s, s.Expr, nil)
	if s.Interval > 0 {
		markGrid(s)
	}
}

// markGrid adds GridLabel to the selectors of s, a range query, whose
// steps are the query's (outside subqueries and without @; not under
// absent, whose answer carries its selector's matchers): the time of the
// first step, less the selector's offset (see coarse.go).
func markGrid(s *parser.EvalStmt) {
	start := timestamp.FromTime(s.Start)
	parser.Inspect(s.Expr, func(n parser.Node, path []parser.Node) error {
		vs, ok := n.(*parser.VectorSelector)
		if !ok || vs.Timestamp != nil || vs.StartOrEnd != 0 || vs.Anchored || vs.Smoothed {
			return nil
		}
		for _, p := range path {
			if _, ok := p.(*parser.SubqueryExpr); ok {
				return nil
			}
			// absent() and absent_over_time() answer with their selector's
			// equality matchers as labels: a marker there is in the answer.
			if c, ok := p.(*parser.Call); ok && (c.Func.Name == "absent" || c.Func.Name == "absent_over_time") {
				return nil
			}
		}
		first := start - vs.OriginalOffset.Milliseconds()
		vs.LabelMatchers = append(vs.LabelMatchers[:len(vs.LabelMatchers):len(vs.LabelMatchers)],
			labels.MustNewMatcher(labels.MatchEqual, GridLabel, strconv.FormatInt(first, 10)))
		return nil
	})
}

// rewriteAvg returns e with its avg_over_time calls that a tier answers
// rewritten; path holds e's ancestors, outermost first.
func (q *Queryable) rewriteAvg(s *parser.EvalStmt, e parser.Expr, path []parser.Node) parser.Expr {
	sub := append(path[:len(path):len(path)], e)
	switch n := e.(type) {
	case *parser.Call:
		if r := q.avgAsSumOverCount(s, n, path); r != nil {
			return r
		}
		for i, a := range n.Args {
			n.Args[i] = q.rewriteAvg(s, a, sub)
		}
	case *parser.AggregateExpr:
		n.Expr = q.rewriteAvg(s, n.Expr, sub)
		if n.Param != nil {
			n.Param = q.rewriteAvg(s, n.Param, sub)
		}
	case *parser.BinaryExpr:
		n.LHS = q.rewriteAvg(s, n.LHS, sub)
		n.RHS = q.rewriteAvg(s, n.RHS, sub)
	case *parser.ParenExpr:
		n.Expr = q.rewriteAvg(s, n.Expr, sub)
	case *parser.UnaryExpr:
		n.Expr = q.rewriteAvg(s, n.Expr, sub)
	case *parser.SubqueryExpr:
		n.Expr = q.rewriteAvg(s, n.Expr, sub)
	case *parser.StepInvariantExpr:
		n.Expr = q.rewriteAvg(s, n.Expr, sub)
	}
	return e
}

// avgAsSumOverCount returns the rewrite of call, an avg_over_time a tier
// answers, or nil.
func (q *Queryable) avgAsSumOverCount(s *parser.EvalStmt, call *parser.Call, path []parser.Node) parser.Expr {
	if call.Func.Name != "avg_over_time" || len(call.Args) != 1 {
		return nil
	}
	arg := call.Args[0]
	for {
		p, ok := arg.(*parser.ParenExpr)
		if !ok {
			break
		}
		arg = p.Expr
	}
	ms, ok := arg.(*parser.MatrixSelector)
	if !ok {
		return nil
	}
	vs, ok := ms.VectorSelector.(*parser.VectorSelector)
	if !ok || vs.Anchored || vs.Smoothed {
		return nil
	}
	force, named := "", false
	for _, m := range vs.LabelMatchers {
		switch {
		case m.Name == AggLabel:
			return nil
		case m.Name == TierLabel && m.Type == labels.MatchEqual:
			force = m.Value
		case m.Name == model.MetricNameLabel && m.Type == labels.MatchEqual:
			named = true
		}
	}
	if !named {
		return nil
	}
	hints, ok := selectHints(s, vs, path, ms.Range)
	if !ok {
		return nil
	}
	// The first step, as markGrid will mark it (Select then chooses with it).
	first, onGrid := int64(0), s.Interval > 0 && vs.Timestamp == nil && vs.StartOrEnd == 0
	for _, p := range path {
		if _, ok := p.(*parser.SubqueryExpr); ok {
			onGrid = false
		}
	}
	if onGrid {
		first = timestamp.FromTime(s.Start) - vs.OriginalOffset.Milliseconds()
	}
	if t, _ := q.choose(hints, force, first, onGrid); t == nil {
		return nil
	}
	count := *vs
	count.LabelMatchers = append(append([]*labels.Matcher(nil), vs.LabelMatchers...), labels.MustNewMatcher(labels.MatchEqual, AggLabel, AggCount))
	countRange := *ms
	countRange.VectorSelector = &count
	sum := parser.Functions["sum_over_time"]
	div := &parser.BinaryExpr{
		Op:             parser.DIV,
		LHS:            &parser.Call{Func: sum, Args: parser.Expressions{ms}, PosRange: call.PosRange},
		RHS:            &parser.Call{Func: sum, Args: parser.Expressions{&countRange}, PosRange: call.PosRange},
		VectorMatching: &parser.VectorMatching{Card: parser.CardOneToOne},
	}
	if !onGrid && (s.Interval > 0 || vs.Timestamp != nil || vs.StartOrEnd != 0 || inSubquery(path)) {
		return div // evaluated by the engine, in its order (see ordered averages above)
	}
	return &parser.VectorSelector{
		LabelMatchers: []*labels.Matcher{labels.MustNewMatcher(labels.MatchEqual, AvgLabel, encodeAvg(q.set.avgKey, s, div, ms))},
		PosRange:      call.PosRange,
	}
}

// inSubquery says whether path holds a subquery.
func inSubquery(path []parser.Node) bool {
	for _, p := range path {
		if _, ok := p.(*parser.SubqueryExpr); ok {
			return true
		}
	}
	return false
}

// Ordered averages. The engine evaluates a binary operation through a map
// of its answer's series and hands them on in that map's order, which Go
// makes different every time: an aggregation above the division added its
// series in a different order at every evaluation, and
// `avg by (service) (avg_over_time(x[1h]))` from the tiers changed in its
// last digit from one refresh to the next (TestAvgOverTimeAggregatedIsDeterministic;
// raw avg_over_time reads its series in storage's order). So, in a range
// query (outside subqueries) or an instant query, without @, the rewrite is
// a selector {__avg__="…"} carrying the division and the query's steps,
// which Select answers (selectAvg) by evaluating the division with the
// engine over the same steps and handing its series on in their labels'
// order, each with a sample at every step: its value there, or a staleness
// marker where it has none (the engine's lookback then carries nothing to
// the next step). At each step the engine reads the sample at that step:
// the values are the division's, bit for bit, in a fixed order. Elsewhere
// (a subquery's steps are the engine's to choose) the division is left to
// the engine as it is.
//
// Why it is still an engine's (2026-12-07): the order is lost in the
// engine's rangeEval, which gathers a range query's answer series in a map
// (Prometheus v0.316 engine.go: `for _, ss := range seriess`), whatever the
// order of the division's operands, so sorting them would not fix it; and
// the selector serves every range query holding an avg_over_time a tier
// answers (the REST API's history, trends, any expression around it), not
// only the panel shapes EvalPanel takes. An instant query keeps its
// operands' order (rangeEval's instant shortcut), so there the plain
// division should do (not tried); and the division's windows could be
// computed here as EvalPanel computes avg_over_time's (its sums over its
// counts), without a second engine: the signing would stay, the label
// carrying a time range.

// AvgLabel is the label of the selector that stands for a rewritten
// avg_over_time: "start:end:step:mac:division" (ms; step 0 for an instant
// query; mac the hex HMAC-SHA256 of the rest under the Set's avgKey, so
// that a query that writes the label itself is refused rather than
// evaluated: its division would run outside the query lanes' admission),
// the division's text placed so that its sum_over_time's argument
// starts where avg_over_time's did in the query (an annotation the engine
// makes about it then points into the query at the right place).
const AvgLabel = "__avg__"

// encodeAvg is the AvgLabel value for div, the rewrite of avg_over_time
// over ms in s, signed with key.
func encodeAvg(key []byte, s *parser.EvalStmt, div *parser.BinaryExpr, ms *parser.MatrixSelector) string {
	text := div.String()
	pad := int(ms.PositionRange().Start) - len("sum_over_time(")
	if strings.HasPrefix(text, "sum_over_time(") && pad > 0 {
		text = strings.Repeat(" ", pad) + text
	}
	steps := fmt.Sprintf("%d:%d:%d:", timestamp.FromTime(s.Start), timestamp.FromTime(s.End), s.Interval.Milliseconds())
	return steps + avgMAC(key, steps, text) + ":" + text
}

// decodeAvg parses an AvgLabel value signed with key; an error for one
// not signed so (written in a query, or by another gmc process).
func decodeAvg(key []byte, v string) (start, end, step int64, expr string, err error) {
	parts := strings.SplitN(v, ":", 5)
	if len(parts) != 5 || !hmac.Equal([]byte(parts[3]), []byte(avgMAC(key, strings.Join(parts[:3], ":")+":", parts[4]))) {
		return 0, 0, 0, "", fmt.Errorf("%s is gmc's own label (an avg_over_time it rewrote), not one a query may write", AvgLabel)
	}
	var nums [3]int64
	for i := range nums {
		if nums[i], err = strconv.ParseInt(parts[i], 10, 64); err != nil {
			return 0, 0, 0, "", fmt.Errorf("bad %s value %q: %w", AvgLabel, v, err)
		}
	}
	return nums[0], nums[1], nums[2], parts[4], nil
}

// avgMAC is the hex HMAC-SHA256 of steps and text under key.
func avgMAC(key []byte, steps, text string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(steps))
	m.Write([]byte(text))
	return hex.EncodeToString(m.Sum(nil))
}

// newAvgKey is a random key for avgMAC, a process's own.
func newAvgKey() []byte {
	k := make([]byte, 32)
	_, _ = rand.Read(k) // crypto/rand's Read never fails (Go 1.24+)
	return k
}

// selectHints are the hints the engine gives Select for vs, a matrix
// selector of rng under path, as sum_over_time's argument (the engine's
// getTimeRangesForSelector and populateSeries, for a plain range).
func selectHints(s *parser.EvalStmt, vs *parser.VectorSelector, path []parser.Node, rng time.Duration) (*storage.SelectHints, bool) {
	start, end := timestamp.FromTime(s.Start), timestamp.FromTime(s.End)
	interval := s.Interval
	var subOffset, subRange time.Duration
	subTs := int64(math.MaxInt64)
	for _, n := range path {
		sq, ok := n.(*parser.SubqueryExpr)
		if !ok {
			continue
		}
		if sq.Step == 0 {
			return nil, false // the engine's default step: unknown here
		}
		interval = sq.Step
		subOffset += sq.OriginalOffset
		subRange += sq.Range
		if sq.Timestamp != nil {
			subOffset, subRange, subTs = sq.OriginalOffset, sq.Range, *sq.Timestamp
		}
	}
	if subTs != math.MaxInt64 {
		start, end = subTs, subTs
	}
	if vs.Timestamp != nil {
		start, end = *vs.Timestamp, *vs.Timestamp
	} else {
		start -= subOffset.Milliseconds() + subRange.Milliseconds()
		end -= subOffset.Milliseconds()
	}
	start -= rng.Milliseconds() - 1
	start -= vs.OriginalOffset.Milliseconds()
	end -= vs.OriginalOffset.Milliseconds()
	return &storage.SelectHints{
		Start: start, End: end, Step: interval.Milliseconds(), Range: rng.Milliseconds(), Func: "sum_over_time",
	}, true
}

// Engine returns e with every query it builds over a tier Queryable
// prepared (Prepare) as it is built: for code that builds and runs its
// queries itself (Prometheus's rules.EngineQueryFunc).
func Engine(e promql.QueryEngine) promql.QueryEngine { return preparingEngine{e} }

type preparingEngine struct{ promql.QueryEngine }

func (p preparingEngine) NewInstantQuery(ctx context.Context, q storage.Queryable, opts promql.QueryOpts, qs string, ts time.Time) (promql.Query, error) {
	qry, err := p.QueryEngine.NewInstantQuery(ctx, q, opts, qs, ts)
	if err == nil {
		Prepare(qry, q)
	}
	return qry, err
}

func (p preparingEngine) NewRangeQuery(ctx context.Context, q storage.Queryable, opts promql.QueryOpts, qs string, start, end time.Time, interval time.Duration) (promql.Query, error) {
	qry, err := p.QueryEngine.NewRangeQuery(ctx, q, opts, qs, start, end, interval)
	if err == nil {
		Prepare(qry, q)
	}
	return qry, err
}
