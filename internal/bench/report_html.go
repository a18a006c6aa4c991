package bench

import (
	"fmt"
	"html/template"
	"math"
	"strings"
	"time"
)

// reportTemplate is the weekly report page: inline CSS and an inline SVG
// trend plot per benchmark, no scripts, no external resources. html/template
// escapes every value by its context (text, attribute, URL).
var reportTemplate = template.Must(template.New("report").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>gmc benchmark report {{.ID}}</title>
<style>
body{font-family:system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}
th{background:#f4f4f4}.reg{color:#b00;font-weight:bold}.ok{color:#070}.worse{color:#a60}.none{color:#666}
.plot{margin:0.5em 0 2em}svg text{font-size:11px;fill:#555}
</style></head><body>
<h1>Benchmark report {{.ID}}</h1>
<p>{{.FromDay}} – {{.ToDay}} (UTC), {{.Counts}}; {{.Summary}}, <span class="{{if .Regressions}}reg{{else if .AllJudged}}ok{{else}}none{{end}}">{{.Regressions}} regressions</span>. Generated {{.Generated}}.</p>
{{if .SkippedRuns}}<p>{{.SkippedRuns}} scheduled runs skipped (host saturated){{if .Skips}}; not run since:{{else}}; every benchmark ran since.{{end}}</p>{{end}}
{{if .Skips}}<ul>{{range .Skips}}<li>{{.Benchmark}}, latest {{.Time}}: {{.Reason}}</li>{{end}}</ul>{{end}}
{{if not .Rows -}}
<p>No benchmark ran this week.</p></body></html>
{{else -}}
<table><tr><th>benchmark</th><th>kind</th><th>latest median ± 95% CI</th><th>baseline median</th><th>vs baseline</th><th>runs</th><th>status</th></tr>
{{range .Rows -}}
<tr><td><a href="#{{.Anchor}}">{{.Name}}</a></td><td>{{.Kind}}</td><td>{{.Latest}}</td><td>{{.Base}}</td><td>{{.Change}}</td><td>{{.Runs}}</td><td>
{{- if eq .Verdict "regression"}}<span class="reg">{{.Status}}</span>{{else if eq .Verdict "unchanged" "improvement"}}<span class="ok">{{.Status}}</span>{{else if eq .Verdict "worse"}}<span class="worse">{{.Status}}</span>{{else}}<span class="none">{{.Status}}</span>{{end}}
{{- if .SaturatedRuns}} ({{.SaturatedRuns}} runs on a saturated host){{end}}
{{- if .Skipped}} (then skipped: {{.Skipped}}){{end}}
{{- if .Failed}} ({{.Failed}} failed runs){{end}}
{{- if .LatestError}} <span class="reg">(latest run FAILED: {{.LatestError}})</span>{{end}}</td></tr>
{{end -}}
</table>
{{range .Rows -}}
<h2 id="{{.Anchor}}">{{.Name}}</h2>
<ul>
{{range .Details}}<li>{{.}}</li>
{{end -}}
</ul>
<div class="plot">{{with .Plot}}<svg xmlns="http://www.w3.org/2000/svg" width="{{.W}}" height="{{.H}}" viewBox="0 0 {{.W}} {{.H}}" role="img" aria-label="trend of {{.Name}}">
<rect x="{{.FrameX}}" y="{{.FrameY}}" width="{{.FrameW}}" height="{{.FrameH}}" fill="none" stroke="#ccc"/>
{{- range .YTicks}}<text x="{{.X}}" y="{{.Y}}" text-anchor="end" data-tick="y">{{.Label}}</text>{{end}}
{{- $p := .}}{{range .XTicks}}<line x1="{{.X}}" x2="{{.X}}" y1="{{$p.GridTop}}" y2="{{$p.GridBottom}}" stroke="#eee"/><text x="{{.X}}" y="{{.Y}}" text-anchor="middle" data-tick="x">{{.Label}}</text>{{end}}
{{- with .Baseline}}<line x1="{{.X1}}" x2="{{.X2}}" y1="{{.Y}}" y2="{{.Y}}" stroke="#888" stroke-dasharray="4 3"><title>baseline median {{.Label}}</title></line>{{end -}}
<polyline fill="none" stroke="#36c" stroke-width="1.5" points="{{.Points}}"/>
{{- range .Dots}}{{if .CI}}<line x1="{{.X}}" x2="{{.X}}" y1="{{.Lo}}" y2="{{.Hi}}" stroke="{{.Color}}" stroke-opacity="0.5"/>{{end}}<circle cx="{{.X}}" cy="{{.Y}}" r="3" fill="{{.Color}}"><title>{{.Title}}</title></circle>{{end -}}
</svg>{{end}}</div>
{{end -}}
</body></html>
{{end -}}
`))

// The page's data: every value is plain text, escaped by the template.
type (
	htmlReport struct {
		ID, FromDay, ToDay, Generated string
		Summary, Counts               string
		Regressions                   int
		AllJudged                     bool
		SkippedRuns                   int
		Skips                         []Skip
		Rows                          []htmlRow
	}
	htmlRow struct {
		Anchor, Name, Kind, Latest, Base, Change string
		Runs                                     int
		Verdict, Status, Skipped                 string
		SaturatedRuns, Failed                    int
		LatestError                              string
		Details                                  []string
		Plot                                     htmlPlot
	}
	htmlPlot struct {
		Name, W, H, Points             string
		FrameX, FrameY, FrameW, FrameH string // the plot area's border
		GridTop, GridBottom            string // the x ticks' grid lines
		YTicks, XTicks                 []htmlTick
		Baseline                       *htmlBaseline
		Dots                           []htmlDot
	}
	htmlTick     struct{ X, Y, Label string }
	htmlBaseline struct{ X1, X2, Y, Label string }
	htmlDot      struct {
		X, Y, Lo, Hi, Color, Title string
		CI                         bool
	}
)

// HTML renders the report as one self-contained page: inline CSS and an
// inline SVG trend plot per benchmark, no scripts, no external resources.
func (r *Report) HTML() string {
	page := htmlReport{
		ID: r.ID, FromDay: r.From.Format("2006-01-02"), ToDay: r.To.AddDate(0, 0, -1).Format("2006-01-02"),
		Generated: r.Generated.Format(time.RFC3339), Counts: r.counts(), Regressions: r.Regressions,
		Summary: r.summary(), AllJudged: r.NoVerdict == 0 && r.Compared > 0, SkippedRuns: r.Skipped, Skips: r.Skips,
	}
	for i := range r.Entries {
		e := &r.Entries[i]
		v, _ := e.outcome()
		if e.Regressed {
			v = VerdictRegression // standing from its latest verdict: red, as the alert
		}
		skipped := e.LatestSkipped
		if e.Regressed {
			skipped = "" // said in the status
		}
		base := "—"
		if c := e.Latest.Comparison; c != nil {
			base = medianCI(c.Base, e.Unit)
		}
		page.Rows = append(page.Rows, htmlRow{
			Anchor: anchor(e.Name), Name: e.Name, Kind: e.Kind, Latest: medianCI(e.Latest.Summary, e.Unit), Base: base,
			Change: verdict(e.Latest.Comparison), Verdict: v, Status: e.status(), Runs: e.Runs,
			SaturatedRuns: e.Untrustworthy, Skipped: skipped, Failed: e.Failed, LatestError: e.LatestError, Details: detailLines(&e.Latest), Plot: trendPlot(e, r.From, r.To),
		})
	}
	var b strings.Builder
	if err := reportTemplate.Execute(&b, page); err != nil {
		// The template is fixed and its data plain strings and numbers.
		return fmt.Sprintf("<!DOCTYPE html><p>report %s: %s</p>", template.HTMLEscapeString(r.ID), template.HTMLEscapeString(err.Error()))
	}
	return b.String()
}

// trendPlot lays out the week's medians with their confidence intervals,
// and the baseline median as a dashed line; regressed runs are red. The y
// axis has round ticks and a left margin as wide as its longest label; the x
// axis spans the runs (not the whole week, which squeezed 50 runs of one
// afternoon into one line) with ticks chosen for it.
func trendPlot(e *ReportEntry, from, to time.Time) htmlPlot {
	const w, h, right, top, bottom = 640.0, 200.0, 10.0, 10.0, 30.0
	f0 := func(v float64) string { return fmt.Sprintf("%.0f", v) }
	f1 := func(v float64) string { return fmt.Sprintf("%.1f", v) }
	p := htmlPlot{Name: e.Name, W: f0(w), H: f0(h)}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, t := range e.Trend {
		lo = math.Min(lo, math.Min(t.Median, nonZero(t.Lo, t.Median)))
		hi = math.Max(hi, math.Max(t.Median, nonZero(t.Hi, t.Median)))
	}
	var baseline float64
	if c := e.Latest.Comparison; c != nil && c.Base.N > 0 {
		baseline = c.Base.Median
		lo, hi = math.Min(lo, baseline), math.Max(hi, baseline)
	}
	if math.IsInf(lo, 0) {
		lo, hi = 0, 1
	}
	if hi == lo {
		lo, hi = lo*0.9, hi*1.1+1e-12
	}
	pad := (hi - lo) * 0.1
	yTicks, step := niceTicks(math.Max(0, lo-pad), hi+pad, 5)
	lo, hi = yTicks[0], yTicks[len(yTicks)-1]
	labels := make([]string, len(yTicks))
	left := 40.0
	for i, v := range yTicks {
		labels[i] = FormatValue(roundTo(v, step), e.Unit)
		// ~6.5 px per character at 11px, and a gap before the frame.
		left = math.Max(left, 10+6.5*float64(len([]rune(labels[i]))))
	}

	// The x range: the runs, padded by a twentieth (at least 30 minutes
	// wide), within [from, to].
	tMin, tMax := to, from
	for _, t := range e.Trend {
		if t.T.Before(tMin) {
			tMin = t.T
		}
		if t.T.After(tMax) {
			tMax = t.T
		}
	}
	if tMax.Before(tMin) {
		tMin, tMax = from, to
	}
	span := max(tMax.Sub(tMin), 30*time.Minute)
	tMin, tMax = tMin.Add(-span/20), tMin.Add(span+span/20)

	x := func(t time.Time) float64 {
		return left + (w-left-right)*float64(t.Sub(tMin))/float64(tMax.Sub(tMin))
	}
	y := func(v float64) float64 { return top + (h-top-bottom)*(1-(v-lo)/(hi-lo)) }
	p.FrameX, p.FrameY, p.FrameW, p.FrameH = f0(left), f0(top), f0(w-left-right), f0(h-top-bottom)
	p.GridTop, p.GridBottom = f0(top), f0(h-bottom)
	for i, v := range yTicks {
		p.YTicks = append(p.YTicks, htmlTick{X: f0(left - 4), Y: f1(y(v) + 4), Label: labels[i]})
	}
	for _, t := range timeTicks(tMin, tMax, w-left-right) {
		p.XTicks = append(p.XTicks, htmlTick{X: f1(x(t.at)), Y: f0(h - 10), Label: t.label})
	}
	if baseline > 0 {
		p.Baseline = &htmlBaseline{X1: f0(left), X2: f0(w - right), Y: f1(y(baseline)), Label: FormatValue(baseline, e.Unit)}
	}
	pts := make([]string, 0, len(e.Trend))
	for _, t := range e.Trend {
		pts = append(pts, f1(x(t.T))+","+f1(y(t.Median)))
		color := "#36c"
		if t.Regression {
			color = "#c00"
		}
		p.Dots = append(p.Dots, htmlDot{
			X: f1(x(t.T)), Y: f1(y(t.Median)), Lo: f1(y(t.Lo)), Hi: f1(y(t.Hi)), CI: t.Lo > 0 && t.Hi > 0, Color: color,
			Title: t.T.UTC().Format(time.RFC3339) + " " + FormatValue(t.Median, e.Unit),
		})
	}
	p.Points = strings.Join(pts, " ")
	return p
}

func anchor(name string) string { return "b-" + idUnsafe.ReplaceAllString(name, "_") }
