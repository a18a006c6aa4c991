package channel

import (
	"sort"
	"strconv"
	"strings"

	"github.com/prometheus/common/model"
)

func upper(s string) string { return strings.ToUpper(s) }

func itoa(i int) string { return strconv.Itoa(i) }

func join(s []string, sep string) string { return strings.Join(s, sep) }

func sortedNames(ls model.LabelSet) []string {
	names := make([]string, 0, len(ls))
	for k := range ls {
		names = append(names, string(k))
	}
	sort.Strings(names)
	return names
}

// SortedPairs returns ls as "name=value" strings sorted by name.
func SortedPairs(ls model.LabelSet) []string {
	out := make([]string, 0, len(ls))
	for _, k := range sortedNames(ls) {
		out = append(out, k+"="+string(ls[model.LabelName(k)]))
	}
	return out
}

// SortedNames returns the label names of ls, sorted.
func SortedNames(ls model.LabelSet) []string { return sortedNames(ls) }

// Summary is the best one-line description of an alert: its summary or
// description annotation, else its alertname.
func (a Alert) Summary() string {
	for _, k := range []model.LabelName{"summary", "description", "message"} {
		if v := a.Annotations[k]; v != "" {
			return string(v)
		}
	}
	return string(a.Labels[model.AlertNameLabel])
}

// Truncate cuts s to at most n bytes on a rune boundary, marking the cut with "…".
func Truncate(s string, n int) (string, bool) {
	if len(s) <= n {
		return s, false
	}
	const mark = "…"
	cut := n - len(mark)
	for cut > 0 && !utf8Start(s[cut]) {
		cut--
	}
	return s[:cut] + mark, true
}

func utf8Start(b byte) bool { return b&0xC0 != 0x80 }

// OwnLabels returns the labels of a that are not common to the whole
// notification, as sorted "name=value" strings.
func (n *Notification) OwnLabels(a Alert) []string {
	own := model.LabelSet{}
	for k, v := range a.Labels {
		if _, common := n.CommonLabels[k]; !common {
			own[k] = v
		}
	}
	return SortedPairs(own)
}
