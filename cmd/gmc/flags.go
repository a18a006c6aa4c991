package main

import (
	"flag"

	"github.com/gmc-dev/gmc/internal/config"
)

// The flags several subcommands share are declared here, so every
// subcommand spells them, and where they mean the same thing defaults them,
// alike: --log.level (info), --web.listen-address (the subcommand's own HTTP
// address: 127.0.0.1:9900 for gmc's server and demo) and --storage.path (the
// data directory: ./data; ./demo-data for the demo, which must not write into
// a real server's data).

// logLevelFlag declares --log.level.
func logLevelFlag(fs *flag.FlagSet) *string {
	return fs.String("log.level", "info", "log level: debug, info, warn, error")
}

// listenAddressFlag declares --web.listen-address.
func listenAddressFlag(fs *flag.FlagSet, def, usage string) *string {
	return fs.String("web.listen-address", def, usage)
}

// storagePathFlag declares --storage.path with the default data directory
// (config.DefaultDataDir unless def says otherwise); old spellings are kept
// as aliases.
func storagePathFlag(fs *flag.FlagSet, def, usage string, aliases ...string) *string {
	if def == "" {
		def = config.DefaultDataDir
	}
	p := fs.String("storage.path", def, usage)
	for _, a := range aliases {
		fs.StringVar(p, a, def, "old spelling of --storage.path")
	}
	return p
}

// isSet reports whether the flag name was given on the command line.
func isSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) {
		if f.Name == name {
			set = true
		}
	})
	return set
}
