package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/gmc-dev/gmc/internal/agent"
	"github.com/gmc-dev/gmc/internal/config"
)

// agentCommand runs the host and process agent: gmc agent [flags].
type agentCommand struct {
	stdout, stderr io.Writer
}

// listFlag is a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(s string) error { *l = append(*l, s); return nil }

func (c *agentCommand) Run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("agent", flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	configFile := fs.String("config", "", "YAML configuration file (optional)")
	gmcURL := fs.String("gmc.url", "", "URL of gmc to remote-write to (default "+agent.DefaultGMCURL+")")
	var interval config.Duration
	fs.Var(&interval, "interval", "collection and push interval, e.g. 500ms (default 1s)")
	spoolDir := fs.String("spool.dir", "", "directory keeping what gmc could not take yet (default "+agent.DefaultSpoolDir+")")
	spoolMax := fs.Int64("spool.max-bytes", 0, "spool size bound in bytes; beyond it the oldest requests are dropped (default 256 MiB)")
	listen := listenAddressFlag(fs, agent.DefaultListenAddress, "address serving the agent's /metrics ('none' serves nothing; overrides web.listen_address)")
	logLevel := logLevelFlag(fs)
	var processes, labels listFlag
	fs.Var(&processes, "process", "a service to report, repeatable: service=name:PROCNAME, service=pidfile:PATH or service=cgroup:PATH")
	fs.Var(&labels, "label", "an external label added to every series, repeatable: name=value (defaults: instance=<hostname>, job=gmc-agent)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("agent: unexpected argument %q", fs.Arg(0))
	}
	cfg := agent.DefaultConfig()
	if *configFile != "" {
		var err error
		if cfg, err = agent.LoadConfigFile(*configFile); err != nil {
			return err
		}
	}
	if *gmcURL != "" {
		cfg.GMCURL = *gmcURL
	}
	if interval != 0 {
		cfg.Interval = interval
	}
	if *spoolDir != "" {
		cfg.Spool.Dir = *spoolDir
	}
	if *spoolMax != 0 {
		cfg.Spool.MaxBytes = *spoolMax
	}
	switch {
	case !isSet(fs, "web.listen-address"):
	case *listen == "none":
		cfg.Web.ListenAddress = ""
	default:
		cfg.Web.ListenAddress = *listen
	}
	for _, s := range processes {
		p, err := agent.ParseProcess(s)
		if err != nil {
			return err
		}
		cfg.Processes = append(cfg.Processes, p)
	}
	for _, s := range labels {
		k, v, ok := strings.Cut(s, "=")
		if !ok || k == "" {
			return fmt.Errorf("label %q: want name=value", s)
		}
		if cfg.ExternalLabels == nil {
			cfg.ExternalLabels = map[string]string{}
		}
		cfg.ExternalLabels[k] = v
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	logger, err := newLogger(c.stderr, *logLevel)
	if err != nil {
		return err
	}
	a, err := agent.New(agent.Options{Config: cfg, Logger: logger})
	if err != nil {
		return err
	}
	// The standalone agent needs little of the binary it shares with the
	// server: let go of what start-up paged in (see the function's comment).
	if _, err := agent.ReleaseExecutablePages(); err != nil {
		logger.Warn("release start-up pages", "err", err)
	}
	return a.Run(ctx)
}
