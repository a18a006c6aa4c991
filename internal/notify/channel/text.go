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

// ResolvedSummaryAnnotation names the annotation a rule may set for the
// text of its alert once resolved (gmc's SLA burn alerts do). Annotations
// are rendered while the alert fires, never at its resolution (Prometheus
// sends a resolved alert with the annotations of its last firing
// evaluation, as Alertmanager then shows them), so it is worded as the
// state it leaves, with its figures as last seen firing.
const ResolvedSummaryAnnotation = "resolved_summary"

// Summary is the best one-line description of an alert in its status: its
// summary or description annotation, else its alertname. A resolved alert
// keeps the annotations rendered at its last firing evaluation, so its
// summary would read as firing now: it gives its resolved_summary
// annotation when set, else the summary marked "resolved; last seen
// firing: …" (an alert without either reads its alertname).
func (a Alert) Summary() string {
	s, annotated := a.summary()
	if a.Status == StatusResolved && annotated {
		if v := a.Annotations[ResolvedSummaryAnnotation]; v != "" {
			return string(v)
		}
		return "resolved; last seen firing: " + s
	}
	return s
}

// summary is the alert's summary, description or message annotation
// (annotated true), else its alertname.
func (a Alert) summary() (s string, annotated bool) {
	for _, k := range []model.LabelName{"summary", "description", "message"} {
		if v := a.Annotations[k]; v != "" {
			return string(v), true
		}
	}
	return string(a.Labels[model.AlertNameLabel]), false
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
