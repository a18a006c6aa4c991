package channel

import (
	"fmt"
	"net/url"
	"path/filepath"
	"time"

	amtemplate "github.com/prometheus/alertmanager/template"
	"github.com/prometheus/common/model"
)

// Templates are user-defined notification templates in Alertmanager's
// template language, with Alertmanager's functions (toUpper, join,
// safeHtml, reReplaceAll, humanize, …) and its default templates
// (`{{ template "slack.default.title" . }}`, "email.default.html", …),
// plus the files of the `templates:` globs. A channel field holding a
// template (slack's title, telegram's message, …) is rendered against
// Alertmanager's template data (.Status, .Alerts, .CommonLabels, …). A nil
// *Templates renders nothing: every channel then sends its built-in text.
// Safe for concurrent use.
type Templates struct{ t *amtemplate.Template }

// LoadTemplates parses Alertmanager's default templates and the files the
// globs match (relative globs are relative to dir). Errors name the glob.
func LoadTemplates(dir string, globs []string) (*Templates, error) {
	t, err := amtemplate.FromGlobs(nil)
	if err != nil {
		return nil, fmt.Errorf("load default templates: %w", err)
	}
	for i, g := range globs {
		if dir != "" && !filepath.IsAbs(g) {
			g = filepath.Join(dir, g)
		}
		if err := t.FromGlob(g); err != nil {
			return nil, fmt.Errorf("templates[%d]: %q: %w", i, globs[i], err)
		}
	}
	return &Templates{t: t}, nil
}

// SetExternalURL sets what .ExternalURL renders as when a notification
// carries none.
func (ts *Templates) SetExternalURL(u *url.URL) {
	if ts != nil {
		ts.t.ExternalURL = u
	}
}

// Text renders the text template tmpl for n; "" when tmpl is "" or ts is nil.
func (ts *Templates) Text(tmpl string, n *Notification) (string, error) {
	if ts == nil || tmpl == "" {
		return "", nil
	}
	return ts.t.ExecuteTextString(tmpl, Data(n))
}

// HTML renders the html/template tmpl for n (values escaped for HTML).
func (ts *Templates) HTML(tmpl string, n *Notification) (string, error) {
	if ts == nil || tmpl == "" {
		return "", nil
	}
	return ts.t.ExecuteHTMLString(tmpl, Data(n))
}

// Check renders tmpl against a sample notification, so that a template that
// does not parse, calls an unknown function or names an unknown template
// is found when the config is checked rather than when an alert fires.
func (ts *Templates) Check(tmpl string, html bool) error {
	if tmpl == "" {
		return nil
	}
	var err error
	if html {
		_, err = ts.HTML(tmpl, sampleNotification())
	} else {
		_, err = ts.Text(tmpl, sampleNotification())
	}
	return err
}

// Data is n as Alertmanager's template data.
func Data(n *Notification) *amtemplate.Data {
	d := &amtemplate.Data{
		Receiver:          n.Receiver,
		Status:            n.Status,
		Alerts:            make(amtemplate.Alerts, 0, len(n.Alerts)),
		GroupLabels:       kv(n.GroupLabels),
		CommonLabels:      kv(n.CommonLabels),
		CommonAnnotations: kv(n.CommonAnnotations),
		RouteLabels:       amtemplate.KV{},
		ExternalURL:       n.ExternalURL,
	}
	for _, a := range n.Alerts {
		d.Alerts = append(d.Alerts, amtemplate.Alert{
			Status:       a.Status,
			Labels:       kv(a.Labels),
			Annotations:  kv(a.Annotations),
			StartsAt:     a.StartsAt,
			EndsAt:       a.EndsAt,
			GeneratorURL: a.GeneratorURL,
			Fingerprint:  a.Fingerprint,
		})
	}
	return d
}

func kv[M ~map[K]V, K, V ~string](m M) amtemplate.KV {
	out := make(amtemplate.KV, len(m))
	for k, v := range m {
		out[string(k)] = string(v)
	}
	return out
}

// sampleNotification is what Check renders templates against.
func sampleNotification() *Notification {
	labels := model.LabelSet{"alertname": "Sample", "service": "svc", "severity": "page"}
	annotations := model.LabelSet{"summary": "sample alert"}
	return &Notification{
		GroupKey: `{}:{alertname="Sample"}`, Status: StatusFiring, Receiver: "sample",
		GroupLabels:  model.LabelSet{"alertname": "Sample"},
		CommonLabels: labels, CommonAnnotations: annotations,
		ExternalURL: "http://gmc.invalid",
		Alerts: []Alert{{
			Status: StatusFiring, Labels: labels, Annotations: annotations,
			StartsAt:     time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
			GeneratorURL: "http://gmc.invalid/graph", Fingerprint: "0000000000000001",
		}},
	}
}

// Render is the text template tmpl rendered for n, or def() when there is
// none. A template that fails to render (it passed Check, so this is rare:
// a function failing on the alert's data) must not lose the alert: the
// built-in text is sent, followed by a line naming the failure.
func (ts *Templates) Render(field, tmpl string, n *Notification, def func() string) string {
	return ts.render(field, tmpl, n, def, false)
}

// RenderHTML is Render with html/template's escaping.
func (ts *Templates) RenderHTML(field, tmpl string, n *Notification, def func() string) string {
	return ts.render(field, tmpl, n, def, true)
}

func (ts *Templates) render(field, tmpl string, n *Notification, def func() string, html bool) string {
	if ts == nil || tmpl == "" {
		return def()
	}
	var out string
	var err error
	if html {
		out, err = ts.HTML(tmpl, n)
	} else {
		out, err = ts.Text(tmpl, n)
	}
	if err != nil {
		return def() + "\n(gmc: the " + field + " template failed: " + err.Error() + ")"
	}
	return out
}
