package main

import (
	"context"
	"fmt"
	"io"
	"path"
	"sort"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/profiler"
	"github.com/chromedp/chromedp"
)

// jsProfile sums the self time of the page's main thread by function over
// the measured loads of a page (V8's sampling profiler, from navigation to
// charts drawn): "(program)" is the renderer's own work (parsing HTML and
// CSS, style, layout, paint), "(garbage collector)" and "(idle)" are what
// they say.
type jsProfile struct {
	loads int
	self  map[string]time.Duration
	incl  map[string]time.Duration // self and callees' (a function's time counted once per sample however deep it recurses)
	total time.Duration
}

// startProfile starts V8's sampler in a tab (every 100 µs).
func startProfile(tctx context.Context) error {
	if _, err := chromedp.Call(tctx, profiler.Enable, cdp.Empty{}); err != nil {
		return err
	}
	if _, err := chromedp.Call(tctx, profiler.SetSamplingInterval, profiler.SetSamplingIntervalParams{Interval: 100}); err != nil {
		return err
	}
	_, err := chromedp.Call(tctx, profiler.Start, cdp.Empty{})
	return err
}

// stopProfile stops the sampler and adds its samples to p.
func (p *jsProfile) stopProfile(tctx context.Context) error {
	res, err := chromedp.Call(tctx, profiler.Stop, cdp.Empty{})
	if err != nil {
		return err
	}
	if p.self == nil {
		p.self = map[string]time.Duration{}
		p.incl = map[string]time.Duration{}
	}
	p.loads++
	pr := res.Profile
	if pr == nil {
		return nil
	}
	name := map[int64]string{}
	for _, n := range pr.Nodes {
		f := n.CallFrame
		s := f.FunctionName
		if s == "" {
			s = "(anonymous)"
		}
		if f.URL != "" {
			s = fmt.Sprintf("%s %s:%d", s, path.Base(f.URL), f.LineNumber+1)
		}
		name[n.ID] = s
	}
	parent := map[int64]int64{}
	for _, n := range pr.Nodes {
		for _, c := range n.Children {
			parent[c] = n.ID
		}
	}
	for i, id := range pr.Samples {
		if i >= len(pr.TimeDeltas) {
			break
		}
		// A sample's time is the gap to the next one.
		var d int64
		if i+1 < len(pr.TimeDeltas) {
			d = pr.TimeDeltas[i+1]
		}
		p.self[name[id]] += time.Duration(d) * time.Microsecond
		seen := map[string]bool{}
		for n, ok := id, true; ok; n, ok = parent[n] {
			if s := name[n]; !seen[s] {
				seen[s] = true
				p.incl[s] += time.Duration(d) * time.Microsecond
			}
		}
		p.total += time.Duration(d) * time.Microsecond
	}
	return nil
}

// print lists the top n functions by self time, per load.
func (p *jsProfile) print(w io.Writer, page string, n int) {
	if p == nil || p.loads == 0 {
		return
	}
	type fn struct {
		name string
		d    time.Duration
	}
	var fs []fn
	for k, d := range p.self {
		fs = append(fs, fn{k, d})
	}
	sort.Slice(fs, func(i, j int) bool { return fs[i].d > fs[j].d })
	per := func(d time.Duration) string { return ms(d / time.Duration(p.loads)) }
	fmt.Fprintf(w, "\n%s: main thread per load (V8 sampler, %d loads, %s a load sampled)\n| self time | with callees | function |\n|---|---|---|\n", page, p.loads, per(p.total))
	for i, f := range fs {
		if i == n {
			break
		}
		fmt.Fprintf(w, "| %s | %s | %s |\n", per(f.d), per(p.incl[f.name]), f.name)
	}
	// The same by time with callees: where a load's script time goes.
	fs = fs[:0]
	for k, d := range p.incl {
		if k != "(root)" {
			fs = append(fs, fn{k, d})
		}
	}
	sort.Slice(fs, func(i, j int) bool { return fs[i].d > fs[j].d })
	fmt.Fprintf(w, "\n%s: by time with callees, per load\n| with callees | self time | function |\n|---|---|---|\n", page)
	for i, f := range fs {
		if i == 2*n {
			break
		}
		fmt.Fprintf(w, "| %s | %s | %s |\n", per(f.d), per(p.self[f.name]), f.name)
	}
}
