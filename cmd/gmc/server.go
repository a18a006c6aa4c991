package main

import (
	"context"
	"flag"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"syscall"

	"github.com/gmc-dev/gmc/internal/config"
	"github.com/gmc-dev/gmc/internal/server"
)

// serverCommand runs the metrics center: gmc server [flags].
type serverCommand struct {
	stdout, stderr io.Writer
}

// serverFlags are gmc server's flags.
type serverFlags struct {
	*sharedFlags
	configFile, retention, webConfig *string
}

func (c *serverCommand) flags() (*flag.FlagSet, *serverFlags) {
	fs := flag.NewFlagSet("server", flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	f := &serverFlags{sharedFlags: declareShared(fs, "server")}
	f.configFile = fs.String("config", "", "YAML configuration file (optional)")
	f.retention = fs.String("storage.retention", "", "how long to keep samples, e.g. 15d (default 15d)")
	f.webConfig = fs.String("web.config.file", "", "Prometheus web config file (exporter-toolkit) enabling TLS and basic auth for every request")
	return fs, f
}

func (c *serverCommand) Run(ctx context.Context, args []string) error {
	fs, f := c.flags()
	if err := fs.Parse(args); err != nil {
		return err
	}
	configFile, retention, logLevel, webConfig := f.configFile, f.retention, f.logLevel, f.webConfig
	// load reads the configuration: at start, and again on a reload.
	load := func() (config.Config, error) {
		cfg := config.Default()
		if *configFile != "" {
			var err error
			if cfg, err = config.LoadFile(*configFile); err != nil {
				return config.Config{}, err
			}
		}
		f.override(&cfg)
		if *retention != "" {
			d, err := config.ParseDuration(*retention)
			if err != nil {
				return config.Config{}, err
			}
			cfg.Storage.Retention = d
		}
		cfg.Normalise()
		if err := cfg.Validate(); err != nil {
			return config.Config{}, err
		}
		return cfg, nil
	}
	cfg, err := load()
	if err != nil {
		return err
	}
	logger, err := newLogger(c.stderr, *logLevel)
	if err != nil {
		return err
	}
	if extra := heavyProcs(cfg); extra > 0 {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(runtime.GOMAXPROCS(0) + extra))
	}
	flags := map[string]string{} // for /api/v1/status/flags, defaults included as Prometheus shows them
	fs.VisitAll(func(f *flag.Flag) { flags[f.Name] = f.Value.String() })
	srv, err := server.New(server.Options{Config: cfg, Logger: logger, Version: buildVersion(), WebConfigFile: *webConfig, Flags: flags,
		LoadConfig: load})
	if err != nil {
		return err
	}
	// SIGHUP reads the configuration and the credentials again, as
	// Prometheus reloads on it (see server.Server.Reload).
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				if _, err := srv.Reload(); err != nil { // Reload logs what it applied
					logger.Error("reload on SIGHUP", "err", err)
				}
			}
		}
	}()
	return srv.Run(ctx)
}

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// buildVersion is version, and for a "dev" build (go build, go run) the
// commit it was built from when Go recorded it ("dev+c6a5368a1b2c", with
// "-dirty" for uncommitted changes): what gmc version, /system/status and
// Alertmanager's /api/v2/status say.
func buildVersion() string {
	if version != "dev" {
		return version
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return version
	}
	v, dirty := version, ""
	for _, s := range info.Settings {
		switch {
		case s.Key == "vcs.revision" && len(s.Value) >= 12:
			v = version + "+" + s.Value[:12]
		case s.Key == "vcs.modified" && s.Value == "true":
			dirty = "-dirty"
		}
	}
	if v == version {
		return version
	}
	return v + dirty
}
