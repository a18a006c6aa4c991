package main

import (
	"context"
	"flag"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/gmc-dev/gmc/internal/config"
	"github.com/gmc-dev/gmc/internal/server"
)

// serverCommand runs the metrics center: gmc server [flags].
type serverCommand struct {
	stdout, stderr io.Writer
}

func (c *serverCommand) Run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("server", flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	configFile := fs.String("config", "", "YAML configuration file (optional)")
	listen := listenAddressFlag(fs, config.DefaultListenAddress, "address to listen on (overrides server.listen_address)")
	dataDir := storagePathFlag(fs, "", "data directory (overrides server.data_dir)")
	retention := fs.String("storage.retention", "", "how long to keep samples, e.g. 15d (default 15d)")
	logLevel := logLevelFlag(fs)
	webConfig := fs.String("web.config.file", "", "Prometheus web config file (exporter-toolkit) enabling TLS and basic auth for every request")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg := config.Default()
	if *configFile != "" {
		var err error
		if cfg, err = config.LoadFile(*configFile); err != nil {
			return err
		}
	}
	if isSet(fs, "web.listen-address") {
		cfg.Server.ListenAddress = *listen
	}
	if isSet(fs, "storage.path") {
		cfg.Server.DataDir = *dataDir
	}
	if *retention != "" {
		d, err := config.ParseDuration(*retention)
		if err != nil {
			return err
		}
		cfg.Storage.Retention = d
	}
	cfg.Normalise()
	if err := cfg.Validate(); err != nil {
		return err
	}
	logger, err := newLogger(c.stderr, *logLevel)
	if err != nil {
		return err
	}
	flags := map[string]string{} // for /api/v1/status/flags, defaults included as Prometheus shows them
	fs.VisitAll(func(f *flag.Flag) { flags[f.Name] = f.Value.String() })
	srv, err := server.New(server.Options{Config: cfg, Logger: logger, Version: version, WebConfigFile: *webConfig, Flags: flags})
	if err != nil {
		return err
	}
	// SIGHUP reads the credentials again, as Prometheus reloads on it.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				if err := srv.Reload(); err != nil {
					logger.Error("reload on SIGHUP", "err", err)
				}
			}
		}
	}()
	return srv.Run(ctx)
}

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"
