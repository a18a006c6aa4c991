package notify

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"time"

	"github.com/prometheus/alertmanager/pkg/labels"
	"github.com/prometheus/alertmanager/timeinterval"
	commoncfg "github.com/prometheus/common/config"
	"github.com/prometheus/common/model"
	"gopkg.in/yaml.v3"

	"github.com/gmc-dev/gmc/internal/duration"
	"github.com/gmc-dev/gmc/internal/notify/alertmanager"
	"github.com/gmc-dev/gmc/internal/notify/channel"
	"github.com/gmc-dev/gmc/internal/notify/email"
	"github.com/gmc-dev/gmc/internal/notify/slack"
	"github.com/gmc-dev/gmc/internal/notify/telegram"
	"github.com/gmc-dev/gmc/internal/notify/webhook"
)

// Config is the notification section of gmc.yml, in Alertmanager's shape.
// The zero Config is valid and sends nothing.
type Config struct {
	Global    Global     `yaml:"global,omitempty" json:"global"`
	Route     Route      `yaml:"route,omitempty" json:"route"`
	Receivers []Receiver `yaml:"receivers,omitempty" json:"receivers"`
	// InhibitRules mute alerts while others fire, in Alertmanager's schema;
	// absent means DefaultInhibitRules, an empty list none.
	InhibitRules []InhibitRule `yaml:"inhibit_rules,omitempty" json:"inhibit_rules"`
	// Templates are globs of template files (Alertmanager's `templates:`,
	// relative to the configuration file's directory) whose definitions the
	// channels' template fields may use.
	Templates []string `yaml:"templates,omitempty" json:"templates,omitempty"`
	// TimeIntervals are named sets of times (Alertmanager's schema and
	// timeinterval package) that routes mute or are active in;
	// MuteTimeIntervals is Alertmanager's older name for the same list.
	TimeIntervals     []TimeInterval `yaml:"time_intervals,omitempty" json:"time_intervals,omitempty"`
	MuteTimeIntervals []TimeInterval `yaml:"mute_time_intervals,omitempty" json:"mute_time_intervals,omitempty"`
}

// TimeInterval is one named time_intervals entry.
type TimeInterval struct {
	Name          string                      `yaml:"name" json:"name"`
	TimeIntervals []timeinterval.TimeInterval `yaml:"time_intervals" json:"time_intervals"`
}

// intervals is every named interval, by name.
func (c *Config) intervals() map[string][]timeinterval.TimeInterval {
	m := map[string][]timeinterval.TimeInterval{}
	for _, ti := range append(append([]TimeInterval(nil), c.TimeIntervals...), c.MuteTimeIntervals...) {
		m[ti.Name] = ti.TimeIntervals
	}
	return m
}

// Global holds settings shared by every route.
type Global struct {
	// ResolveTimeout is how long an alert sent without EndsAt stays firing
	// without being sent again (default 5m, as Alertmanager's).
	ResolveTimeout duration.Duration `yaml:"resolve_timeout,omitempty" json:"resolve_timeout"`
}

// Route is a node of the routing tree. Unset fields are inherited from the parent.
type Route struct {
	Receiver string   `yaml:"receiver,omitempty" json:"receiver,omitempty"`
	GroupBy  []string `yaml:"group_by,omitempty" json:"group_by,omitempty"`
	// Matchers select the alerts of this route, in Alertmanager's syntax:
	// `severity="page"`, `service=~"match.*"`, `env!="dev"`.
	Matchers       Matchers           `yaml:"matchers,omitempty" json:"matchers,omitempty"`
	Continue       bool               `yaml:"continue,omitempty" json:"continue,omitempty"`
	GroupWait      *duration.Duration `yaml:"group_wait,omitempty" json:"group_wait,omitempty"`
	GroupInterval  *duration.Duration `yaml:"group_interval,omitempty" json:"group_interval,omitempty"`
	RepeatInterval *duration.Duration `yaml:"repeat_interval,omitempty" json:"repeat_interval,omitempty"`
	// MuteTimeIntervals and ActiveTimeIntervals name time_intervals: the
	// route does not notify inside a mute interval, nor outside every
	// active one (not inherited by child routes, as in Alertmanager).
	MuteTimeIntervals   []string `yaml:"mute_time_intervals,omitempty" json:"mute_time_intervals,omitempty"`
	ActiveTimeIntervals []string `yaml:"active_time_intervals,omitempty" json:"active_time_intervals,omitempty"`
	Routes              []Route  `yaml:"routes,omitempty" json:"routes,omitempty"`
}

// Receiver is a named set of channels.
type Receiver struct {
	Name                string                `yaml:"name" json:"name"`
	SlackConfigs        []slack.Config        `yaml:"slack_configs,omitempty" json:"slack_configs,omitempty"`
	TelegramConfigs     []telegram.Config     `yaml:"telegram_configs,omitempty" json:"telegram_configs,omitempty"`
	EmailConfigs        []email.Config        `yaml:"email_configs,omitempty" json:"email_configs,omitempty"`
	WebhookConfigs      []webhook.Config      `yaml:"webhook_configs,omitempty" json:"webhook_configs,omitempty"`
	AlertmanagerConfigs []alertmanager.Config `yaml:"alertmanager_configs,omitempty" json:"alertmanager_configs,omitempty"`
}

// Defaults, as Alertmanager's.
const (
	DefaultGroupWait      = 30 * time.Second
	DefaultGroupInterval  = 5 * time.Minute
	DefaultRepeatInterval = 4 * time.Hour
	DefaultResolveTimeout = 5 * time.Minute
)

// DefaultGroupBy is the root route's group_by when it sets none: one
// notification group per alert name and service.
func DefaultGroupBy() []string { return []string{"alertname", "service"} }

// Matchers is a list of label matchers written as strings in YAML.
type Matchers labels.Matchers

// UnmarshalYAML parses each string with Alertmanager's matcher syntax; one
// string may hold several matchers ("a=b, c=~d") or braces ("{a="b"}").
func (m *Matchers) UnmarshalYAML(node *yaml.Node) error {
	var ss []string
	if err := node.Decode(&ss); err != nil {
		return fmt.Errorf("matchers: want a list of strings: %w", err)
	}
	out := Matchers{}
	for _, s := range ss {
		ms, err := labels.ParseMatchers(s)
		if err != nil {
			return fmt.Errorf("matchers: line %d: %q: %w", node.Line, s, err)
		}
		out = append(out, ms...)
	}
	*m = out
	return nil
}

// MarshalYAML writes one string per matcher.
func (m Matchers) MarshalYAML() (any, error) {
	out := make([]string, len(m))
	for i, x := range m {
		out[i] = x.String()
	}
	return out, nil
}

// Matches reports whether every matcher matches lset.
func (m Matchers) Matches(lset model.LabelSet) bool { return labels.Matchers(m).Matches(lset) }

// LoadConfig parses YAML (unknown fields are errors), normalises and
// validates it.
func LoadConfig(data []byte) (Config, error) {
	var c Config
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
		return Config{}, fmt.Errorf("parse notify config: %w", err)
	}
	c.Normalise()
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// String is the config as YAML with every secret shown as <secret>.
func (c Config) String() string {
	out, err := yaml.Marshal(c)
	if err != nil {
		return fmt.Sprintf("<config: %v>", err)
	}
	return string(out)
}

var labelNameRE = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

// SetDirectory resolves the channels' relative *_file paths against dir,
// the directory of the configuration file (as Alertmanager does).
func (c *Config) SetDirectory(dir string) {
	for i, g := range c.Templates {
		c.Templates[i] = commoncfg.JoinDir(dir, g)
	}
	for i := range c.Receivers {
		r := &c.Receivers[i]
		for j := range r.SlackConfigs {
			r.SlackConfigs[j].SetDirectory(dir)
		}
		for j := range r.TelegramConfigs {
			r.TelegramConfigs[j].SetDirectory(dir)
		}
		for j := range r.EmailConfigs {
			r.EmailConfigs[j].SetDirectory(dir)
		}
		for j := range r.WebhookConfigs {
			r.WebhookConfigs[j].SetDirectory(dir)
		}
	}
}

// enabled reports whether the config routes anything: the zero Config sends
// nothing.
func (c *Config) enabled() bool {
	return len(c.Receivers) > 0 || c.Route.Receiver != "" || len(c.Route.Routes) > 0
}

// Normalise fills the defaults: resolve_timeout, the default inhibit rules
// when none are configured, the root route's group_by and timings (when
// notifications are enabled) and the channels' own defaults. It is
// idempotent; config.Load calls it before Validate.
func (c *Config) Normalise() {
	if c.Global.ResolveTimeout == 0 {
		c.Global.ResolveTimeout = duration.Duration(DefaultResolveTimeout)
	}
	if c.InhibitRules == nil {
		c.InhibitRules = DefaultInhibitRules()
	}
	for i := range c.Receivers {
		for j := range c.Receivers[i].TelegramConfigs {
			c.Receivers[i].TelegramConfigs[j].Normalise()
		}
		for j := range c.Receivers[i].SlackConfigs {
			c.Receivers[i].SlackConfigs[j].Normalise()
		}
	}
	if !c.enabled() {
		return
	}
	setDefault := func(p **duration.Duration, d time.Duration) {
		if *p == nil {
			v := duration.Duration(d)
			*p = &v
		}
	}
	if c.Route.GroupBy == nil {
		// One notification per alert name and service, unless the root
		// route says otherwise (group_by: [] is Alertmanager's one group).
		c.Route.GroupBy = DefaultGroupBy()
	}
	setDefault(&c.Route.GroupWait, DefaultGroupWait)
	setDefault(&c.Route.GroupInterval, DefaultGroupInterval)
	setDefault(&c.Route.RepeatInterval, DefaultRepeatInterval)
}

// Validate checks a normalised config and returns an error naming the bad
// field. It never changes the config.
func (c *Config) Validate() error {
	if c.Global.ResolveTimeout < 0 {
		return errors.New("global.resolve_timeout: must be positive")
	}
	tmpl, err := channel.LoadTemplates("", c.Templates)
	if err != nil {
		return err
	}
	intervals := map[string]bool{}
	for i, ti := range append(append([]TimeInterval(nil), c.TimeIntervals...), c.MuteTimeIntervals...) {
		if ti.Name == "" {
			return fmt.Errorf("time_intervals[%d].name: must be set", i)
		}
		if intervals[ti.Name] {
			return fmt.Errorf("time_intervals[%d].name: %q is defined twice", i, ti.Name)
		}
		intervals[ti.Name] = true
	}
	if err := c.Route.checkIntervals("route", intervals); err != nil {
		return err
	}
	names := map[string]bool{}
	for i := range c.Receivers {
		r := &c.Receivers[i]
		field := fmt.Sprintf("receivers[%d]", i)
		if r.Name == "" {
			return fmt.Errorf("%s.name: must be set", field)
		}
		if names[r.Name] {
			return fmt.Errorf("%s.name: receiver %q is defined twice", field, r.Name)
		}
		names[r.Name] = true
		if err := r.validate(); err != nil {
			return fmt.Errorf("%s (%s).%w", field, r.Name, err)
		}
		if err := r.checkTemplates(tmpl); err != nil {
			return fmt.Errorf("%s (%s).%w", field, r.Name, err)
		}
	}
	for i := range c.InhibitRules {
		if err := c.InhibitRules[i].validate(fmt.Sprintf("inhibit_rules[%d]", i)); err != nil {
			return err
		}
	}
	if !c.enabled() {
		return nil // notifications disabled
	}
	if c.Route.Receiver == "" {
		return errors.New("route.receiver: the root route must name a receiver")
	}
	if len(c.Route.Matchers) > 0 {
		return errors.New("route.matchers: the root route matches every alert and must not have matchers")
	}
	if c.Route.Continue {
		return errors.New("route.continue: the root route cannot continue")
	}
	return c.Route.validate("route", names)
}

// checkIntervals checks that every interval a route names is defined.
func (r *Route) checkIntervals(field string, defined map[string]bool) error {
	for _, n := range r.MuteTimeIntervals {
		if !defined[n] {
			return fmt.Errorf("%s.mute_time_intervals: %q is not a time_intervals name", field, n)
		}
	}
	for _, n := range r.ActiveTimeIntervals {
		if !defined[n] {
			return fmt.Errorf("%s.active_time_intervals: %q is not a time_intervals name", field, n)
		}
	}
	for i := range r.Routes {
		if err := r.Routes[i].checkIntervals(fmt.Sprintf("%s.routes[%d]", field, i), defined); err != nil {
			return err
		}
	}
	return nil
}

func (r *Route) validate(field string, receivers map[string]bool) error {
	if r.Receiver != "" && !receivers[r.Receiver] {
		return fmt.Errorf("%s.receiver: no receiver named %q", field, r.Receiver)
	}
	seen := map[string]bool{}
	for _, g := range r.GroupBy {
		if g == "..." {
			if len(r.GroupBy) > 1 {
				return fmt.Errorf("%s.group_by: \"...\" must be alone", field)
			}
			continue
		}
		if !labelNameRE.MatchString(g) {
			return fmt.Errorf("%s.group_by: %q is not a label name", field, g)
		}
		if seen[g] {
			return fmt.Errorf("%s.group_by: %q is listed twice", field, g)
		}
		seen[g] = true
	}
	for name, d := range map[string]*duration.Duration{"group_wait": r.GroupWait, "group_interval": r.GroupInterval, "repeat_interval": r.RepeatInterval} {
		if d == nil {
			continue
		}
		if *d < 0 || (*d == 0 && name != "group_wait") {
			return fmt.Errorf("%s.%s: must be positive", field, name)
		}
	}
	for i := range r.Routes {
		if err := r.Routes[i].validate(fmt.Sprintf("%s.routes[%d]", field, i), receivers); err != nil {
			return err
		}
	}
	return nil
}

// checkTemplates renders every template of the receiver's channels against
// sample data; errors name the field.
func (r *Receiver) checkTemplates(ts *channel.Templates) error {
	for i := range r.SlackConfigs {
		if err := r.SlackConfigs[i].CheckTemplates(ts); err != nil {
			return fmt.Errorf("slack_configs[%d].%w", i, err)
		}
	}
	for i := range r.TelegramConfigs {
		if err := r.TelegramConfigs[i].CheckTemplates(ts); err != nil {
			return fmt.Errorf("telegram_configs[%d].%w", i, err)
		}
	}
	for i := range r.EmailConfigs {
		if err := r.EmailConfigs[i].CheckTemplates(ts); err != nil {
			return fmt.Errorf("email_configs[%d].%w", i, err)
		}
	}
	return nil
}

func (r *Receiver) validate() error {
	for i := range r.SlackConfigs {
		if err := r.SlackConfigs[i].Validate(); err != nil {
			return fmt.Errorf("slack_configs[%d].%w", i, err)
		}
	}
	for i := range r.TelegramConfigs {
		if err := r.TelegramConfigs[i].Validate(); err != nil {
			return fmt.Errorf("telegram_configs[%d].%w", i, err)
		}
	}
	for i := range r.EmailConfigs {
		if err := r.EmailConfigs[i].Validate(); err != nil {
			return fmt.Errorf("email_configs[%d].%w", i, err)
		}
	}
	for i := range r.WebhookConfigs {
		if err := r.WebhookConfigs[i].Validate(); err != nil {
			return fmt.Errorf("webhook_configs[%d].%w", i, err)
		}
	}
	for i := range r.AlertmanagerConfigs {
		if err := r.AlertmanagerConfigs[i].Validate(); err != nil {
			return fmt.Errorf("alertmanager_configs[%d].%w", i, err)
		}
	}
	return nil
}
