package rules

import (
	"fmt"
	"log/slog"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
	promrules "github.com/prometheus/prometheus/rules"
)

// loader is a promrules.GroupLoader reading the built-in sources (defaults,
// thresholds, SLAs) from memory and everything else from rule files, all
// through rulefmt's parser and validation.
type loader struct {
	mem    map[string][]byte
	parser parser.Parser
	logger *slog.Logger
}

var _ promrules.GroupLoader = loader{}

// Load implements promrules.GroupLoader.
func (l loader) Load(id string, ignoreUnknownFields bool, scheme model.ValidationScheme) (*rulefmt.RuleGroups, []error) {
	b, ok := l.mem[id]
	if !ok {
		return rulefmt.ParseFile(id, ignoreUnknownFields, scheme, l.parser, l.logger)
	}
	rgs, errs := rulefmt.Parse(b, ignoreUnknownFields, scheme, l.parser, l.logger)
	for i := range errs {
		errs[i] = fmt.Errorf("%s: %w", id, errs[i])
	}
	return rgs, errs
}

// Parse implements promrules.GroupLoader.
func (l loader) Parse(query string) (parser.Expr, error) { return l.parser.ParseExpr(query) }
