package rules

import (
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
)

// selectors is what a rule group reads, by metric name: exact names, name
// matchers (e.g. {__name__=~"gmc_.+"}), or everything (a selector with no
// __name__ matcher).
type selectors struct {
	names map[string]struct{}
	// matchers holds, per selector, the conjunction of its __name__ matchers.
	matchers [][]*labels.Matcher
	all      bool
}

// add records the vector selectors of expr.
func (s *selectors) add(expr parser.Expr) {
	if s.names == nil {
		s.names = map[string]struct{}{}
	}
	parser.Inspect(expr, func(n parser.Node, _ []parser.Node) error {
		vs, ok := n.(*parser.VectorSelector)
		if !ok {
			return nil
		}
		var nameMs []*labels.Matcher
		exact := ""
		for _, m := range vs.LabelMatchers {
			if m.Name != model.MetricNameLabel {
				continue
			}
			if m.Type == labels.MatchEqual {
				exact = m.Value
			}
			nameMs = append(nameMs, m)
		}
		switch {
		case vs.Name != "":
			s.names[vs.Name] = struct{}{}
		case exact != "":
			s.names[exact] = struct{}{}
		case len(nameMs) == 0:
			s.all = true
		default:
			s.matchers = append(s.matchers, nameMs)
		}
		return nil
	})
}

// readsAny reports whether a selector may select a series of one of names.
func (s *selectors) readsAny(names []string) bool {
	if s.all {
		return true
	}
	for _, n := range names {
		if _, ok := s.names[n]; ok {
			return true
		}
		for _, conj := range s.matchers {
			match := true
			for _, m := range conj {
				if !m.Matches(n) {
					match = false
					break
				}
			}
			if match {
				return true
			}
		}
	}
	return false
}
