package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// maxCheckErrors bounds the errors CheckFile reports for one file.
const maxCheckErrors = 100

// CheckFile reads the configuration file at path as LoadFile does and
// returns every error it finds rather than the first, each
// naming the file and, where known, the line, as promtool check rules
// does: each field that does not decode (its key is then left out, so
// that the rest of the file is read on), each section that does not
// validate (by its first error), each rule file under alerting.rule_files
// that does not parse (each of its errors). A YAML syntax error ends the
// reading. Errors a left-out field may have caused (a section missing
// what it held) are not reported. adjust (nil: none) then applies the
// command line's overrides, as gmc server does, and what they make
// invalid is reported "with the flags given". No errors: the file is
// valid.
func CheckFile(path string, adjust func(*Config)) []error {
	data, err := os.ReadFile(path)
	if err != nil {
		return []error{fmt.Errorf("read config: %w", err)}
	}
	var errs []error
	var left []string // the YAML paths of the fields left out
	var cfg Config
	for {
		if cfg, err = decode(data); err == nil {
			break
		}
		errs = append(errs, split(err)...)
		next, paths := leaveOut(data, errLines(err))
		if next == nil || len(errs) >= maxCheckErrors {
			return prefix(path, errs)
		}
		data, left = next, append(left, paths...)
	}
	cfg.SetDirectory(filepath.Dir(path))
	cfg.Normalise()
	file := cfg.validate()
	for _, err := range file {
		if !related(err.Error(), left) {
			errs = append(errs, withLine(data, err))
		}
	}
	if adjust != nil {
		// What the flags make invalid, as gmc server would refuse it.
		adjust(&cfg)
		for _, err := range cfg.validate() {
			if !slices.ContainsFunc(file, func(e error) bool { return e.Error() == err.Error() }) {
				errs = append(errs, fmt.Errorf("with the flags given: %w", err))
			}
		}
	}
	errs = append(errs, split(cfg.Alerting.CheckRuleFiles())...)
	return prefix(path, errs)
}

// prefix names path in each of errs.
func prefix(path string, errs []error) []error {
	out := make([]error, len(errs))
	for i, err := range errs {
		out[i] = fmt.Errorf("%s: %w", path, err)
	}
	return out
}

// split is err's errors one by one: those errors.Join joined, and each
// field a yaml.TypeError names.
func split(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok { //nolint:errorlint // a join's own errors, not the chain's
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, split(e)...)
		}
		return out
	}
	var te *yaml.TypeError
	if errors.As(err, &te) {
		out := make([]error, len(te.Errors))
		for i, e := range te.Errors {
			out[i] = fmt.Errorf("parse config: %s", strings.TrimSpace(e))
		}
		return out
	}
	return []error{err}
}

var lineRE = regexp.MustCompile(`line (\d+):`)

// errLines are the lines a decoding error names ("line 7: …").
func errLines(err error) []int {
	var lines []int
	for _, m := range lineRE.FindAllStringSubmatch(err.Error(), -1) {
		if n, err := strconv.Atoi(m[1]); err == nil {
			lines = append(lines, n)
		}
	}
	return lines
}

// pair is one key and its value in a YAML mapping, with its path
// ("notify.receivers[0].name").
type pair struct {
	key, value *yaml.Node
	path       string
	end        int // the value's last line
}

// leaveOut returns data with the key and value on each of lines blanked
// out (the lines kept, so the others' numbers hold) and the YAML paths of
// what it blanked; nil when it cannot: no line, no field there, or what is
// left does not parse. When blanking a field leaves YAML that does not
// parse (a flow mapping cut short), the nearest field holding it that can
// be blanked is.
func leaveOut(data []byte, lines []int) ([]byte, []string) {
	var doc yaml.Node
	if len(lines) == 0 || yaml.Unmarshal(data, &doc) != nil || len(doc.Content) == 0 {
		return nil, nil
	}
	var pairs []pair
	walk(doc.Content[0], "", &pairs)
	text := strings.Split(string(data), "\n")
	var paths []string
	for _, line := range lines {
		p, ok := pairAt(pairs, line)
		if !ok || p.key.Line > len(text) {
			return nil, nil
		}
		// p, then the fields holding it, innermost first.
		candidates := []pair{p}
		for i := len(pairs) - 1; i >= 0; i-- {
			if q := pairs[i]; q.path != p.path && within(p.path, q.path) {
				candidates = append(candidates, q)
			}
		}
		done := false
		for _, c := range candidates {
			next := blank(text, pairs, c)
			if yaml.Unmarshal([]byte(strings.Join(next, "\n")), new(yaml.Node)) == nil {
				text, done = next, true
				paths = append(paths, c.path)
				break
			}
		}
		if !done {
			return nil, nil
		}
	}
	next := []byte(strings.Join(text, "\n"))
	if string(next) == string(data) {
		return nil, nil
	}
	return next, paths
}

// blank returns text with p's key and value blanked: its key's line from
// the key on, and the lines after it up to the line before the next key
// outside its value.
func blank(text []string, pairs []pair, p pair) []string {
	out := slices.Clone(text)
	end := len(out)
	for _, q := range pairs {
		if q.key.Line > p.end {
			end = min(end, q.key.Line-1)
		}
	}
	row := out[p.key.Line-1]
	if c := p.key.Column - 1; c < len(row) {
		out[p.key.Line-1] = row[:c]
	}
	for l := p.key.Line + 1; l <= end; l++ {
		out[l-1] = ""
	}
	return out
}

// pairAt is the deepest pair whose key is on line, else the deepest whose
// value starts there, else the deepest whose lines hold it.
func pairAt(pairs []pair, line int) (pair, bool) {
	for _, match := range []func(p pair) bool{
		func(p pair) bool { return p.key.Line == line },
		func(p pair) bool { return p.value.Line == line },
		func(p pair) bool { return p.key.Line <= line && line <= p.end },
	} {
		for i := len(pairs) - 1; i >= 0; i-- {
			if match(pairs[i]) {
				return pairs[i], true
			}
		}
	}
	return pair{}, false
}

// walk appends n's pairs, parents before their children, to out.
func walk(n *yaml.Node, path string, out *[]pair) {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			p := k.Value
			if path != "" {
				p = path + "." + p
			}
			*out = append(*out, pair{key: k, value: v, path: p, end: lastLine(v)})
			walk(v, p, out)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			walk(c, fmt.Sprintf("%s[%d]", path, i), out)
		}
	}
}

// lastLine is the last line n or a node under it starts on.
func lastLine(n *yaml.Node) int {
	l := n.Line
	for _, c := range n.Content {
		l = max(l, lastLine(c))
	}
	return l
}

// related reports whether the field a validation error names first (or
// any of the fields it lists: "a.b, a.c: …") is one of paths, under one,
// or holds one.
func related(msg string, paths []string) bool {
	head, _, ok := strings.Cut(msg, ": ")
	if !ok {
		return false
	}
	for _, f := range strings.Split(head, ", ") {
		for _, p := range paths {
			if within(f, p) || within(p, f) {
				return true
			}
		}
	}
	return false
}

// within reports whether the YAML path a is b or under it.
func within(a, b string) bool {
	if !strings.HasPrefix(a, b) {
		return false
	}
	return len(a) == len(b) || a[len(b)] == '.' || a[len(b)] == '['
}
