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

// agentFlags are gmc agent's flags.
type agentFlags struct {
	*sharedFlags
	configFile, gmcURL *string
	interval           config.Duration
	spoolMax           *int64
	processes, labels  listFlag
}

// flags declares gmc agent's flags. --storage.path is the spool directory
// (the agent keeps nothing else on disk); --spool.dir is its old spelling.
func (c *agentCommand) flags() (*flag.FlagSet, *agentFlags) {
	fs := flag.NewFlagSet("agent", flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	f := &agentFlags{sharedFlags: declareShared(fs, "agent", "spool.dir")}
	f.configFile = fs.String("config", "", "YAML configuration file (optional)")
	f.gmcURL = fs.String("gmc.url", "", "URL of gmc to remote-write to (default "+agent.DefaultGMCURL+")")
	fs.Var(&f.interval, "interval", "collection and push interval, e.g. 500ms (default 1s)")
	f.spoolMax = fs.Int64("spool.max-bytes", 0, "spool size bound in bytes; beyond it the oldest requests are dropped (default 256 MiB)")
	fs.Var(&f.processes, "process", "a service to report, repeatable: service=name:PROCNAME, service=pidfile:PATH or service=cgroup:PATH")
	fs.Var(&f.labels, "label", "an external label added to every series, repeatable: name=value (defaults: instance=<hostname>, job=gmc-agent)")
	return fs, f
}

func (c *agentCommand) Run(ctx context.Context, args []string) error {
	fs, f := c.flags()
	if err := fs.Parse(args); err != nil {
		return err
	}
	configFile, gmcURL, interval, spoolMax, listen, logLevel := f.configFile, f.gmcURL, f.interval, f.spoolMax, f.listen, f.logLevel
	processes, labels := f.processes, f.labels
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
	if f.storageSet() {
		cfg.Spool.Dir = *f.storagePath
	}
	if *spoolMax != 0 {
		cfg.Spool.MaxBytes = *spoolMax
	}
	switch {
	case !f.listenSet():
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
