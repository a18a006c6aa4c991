package notify

import (
	"sort"
	"strconv"
	"time"

	"github.com/prometheus/alertmanager/pkg/labels"
	"github.com/prometheus/common/model"
)

// route is a Route with everything inherited resolved.
type route struct {
	key            string // unique: parent key, index, matchers
	amKey          string // Alertmanager's route key: parent's, "/", sorted matchers
	receiver       string
	groupBy        map[model.LabelName]struct{}
	groupByAll     bool
	matchers       Matchers
	cont           bool
	groupWait      time.Duration
	groupInterval  time.Duration
	repeatInterval time.Duration
	mute, active   []string // time_intervals names; not inherited
	children       []*route
}

// newRoute builds the tree from a validated Route.
func newRoute(r *Route, parent *route, idx int) *route {
	rt := &route{matchers: r.Matchers, cont: r.Continue}
	if parent != nil {
		*rt = route{
			receiver: parent.receiver, groupBy: parent.groupBy, groupByAll: parent.groupByAll,
			matchers: r.Matchers, cont: r.Continue,
			groupWait: parent.groupWait, groupInterval: parent.groupInterval, repeatInterval: parent.repeatInterval,
		}
		rt.key = parent.key + "/" + strconv.Itoa(idx) + labelsString(r.Matchers)
		sorted := append(Matchers(nil), r.Matchers...)
		sort.Sort(labels.Matchers(sorted))
		rt.amKey = parent.amKey + "/" + labelsString(sorted)
	} else {
		rt.key, rt.amKey = "{}", "{}"
	}
	if r.Receiver != "" {
		rt.receiver = r.Receiver
	}
	rt.mute, rt.active = r.MuteTimeIntervals, r.ActiveTimeIntervals
	if r.GroupBy != nil {
		rt.groupBy = map[model.LabelName]struct{}{}
		rt.groupByAll = false
		for _, g := range r.GroupBy {
			if g == "..." {
				rt.groupByAll = true
				continue
			}
			rt.groupBy[model.LabelName(g)] = struct{}{}
		}
	}
	if r.GroupWait != nil {
		rt.groupWait = time.Duration(*r.GroupWait)
	}
	if r.GroupInterval != nil {
		rt.groupInterval = time.Duration(*r.GroupInterval)
	}
	if r.RepeatInterval != nil {
		rt.repeatInterval = time.Duration(*r.RepeatInterval)
	}
	for i := range r.Routes {
		rt.children = append(rt.children, newRoute(&r.Routes[i], rt, i))
	}
	return rt
}

func labelsString(m Matchers) string {
	s := "{"
	for i, x := range m {
		if i > 0 {
			s += ","
		}
		s += x.String()
	}
	return s + "}"
}

// match returns the routes an alert goes to, depth first as Alertmanager:
// the first matching child (and later ones while they say continue), or
// the node itself when no child matches.
func (r *route) match(lset model.LabelSet) []*route {
	if !r.matchers.Matches(lset) {
		return nil
	}
	var all []*route
	for _, c := range r.children {
		m := c.match(lset)
		all = append(all, m...)
		if m != nil && !c.cont {
			break
		}
	}
	if len(all) == 0 {
		all = append(all, r)
	}
	return all
}

// groupLabels picks the labels this route groups by.
func (r *route) groupLabels(lset model.LabelSet) model.LabelSet {
	if r.groupByAll {
		return lset.Clone()
	}
	out := make(model.LabelSet, len(r.groupBy))
	for k := range r.groupBy {
		if v, ok := lset[k]; ok {
			out[k] = v
		}
	}
	return out
}
