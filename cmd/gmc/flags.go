package main

import (
	"flag"
	"fmt"

	"github.com/gmc-dev/gmc/internal/agent"
	"github.com/gmc-dev/gmc/internal/config"
)

// The flags several subcommands share are declared here only, so every
// subcommand spells them alike, gives them the one usage below and, where
// they mean the same thing, the same default:
//
//	--log.level           info everywhere
//	--web.listen-address  127.0.0.1:9900 (config.DefaultListenAddress): gmc's
//	                      HTTP address in server, demo and check; the agent
//	                      serves its own /metrics on 127.0.0.1:9901
//	                      (agent.DefaultListenAddress), beside a server on
//	                      the same host
//	--storage.path        ./data (config.DefaultDataDir) in server, check and
//	                      bench run (which archives its runs where a server
//	                      on that dir reports them); ./demo-data in the demo,
//	                      which backfills history and injects incidents and
//	                      must never write into a real server's data;
//	                      ./agent-spool (agent.DefaultSpoolDir) in the
//	                      agent, whose only data is its spool
//
// A subcommand declares only the flags that mean something for it: bench
// run serves no HTTP (no --web.listen-address) and bench compare reads two
// files and logs nothing (none of them). sharedDefaults is the table;
// TestSharedFlags holds every subcommand to it.
const (
	flagLogLevel      = "log.level"
	flagListenAddress = "web.listen-address"
	flagStoragePath   = "storage.path"
)

// sharedUsage is a shared flag's usage, the same in every subcommand.
func sharedUsage(name string) string {
	switch name {
	case flagLogLevel:
		return "log level: debug, info, warn, error"
	case flagListenAddress:
		return "address to serve HTTP on, overriding the config file's listen_address (gmc agent: its /metrics; 'none' serves nothing)"
	case flagStoragePath:
		return "data directory, overriding server.data_dir (gmc bench run: runs archived in DIR/bench; gmc agent: its spool)"
	}
	panic("no shared flag " + name)
}

// sharedDefaults is the shared flags subcommand cmd declares, by name, with
// their defaults.
func sharedDefaults(cmd string) map[string]string {
	switch cmd {
	case "server", "check config":
		return map[string]string{flagLogLevel: "info", flagListenAddress: config.DefaultListenAddress, flagStoragePath: config.DefaultDataDir}
	case "demo":
		return map[string]string{flagLogLevel: "info", flagListenAddress: config.DefaultListenAddress, flagStoragePath: "./demo-data"}
	case "agent":
		return map[string]string{flagLogLevel: "info", flagListenAddress: agent.DefaultListenAddress, flagStoragePath: agent.DefaultSpoolDir}
	case "bench run":
		return map[string]string{flagLogLevel: "info", flagStoragePath: config.DefaultDataDir}
	}
	return nil
}

// sharedFlags are the values of the shared flags one subcommand declared;
// a flag it does not declare is nil.
type sharedFlags struct {
	fs                            *flag.FlagSet
	logLevel, listen, storagePath *string
	storageAliases                []string
}

// declareShared declares on fs the shared flags of subcommand cmd
// (sharedDefaults); aliases are old spellings of --storage.path, kept working.
func declareShared(fs *flag.FlagSet, cmd string, aliases ...string) *sharedFlags {
	defs := sharedDefaults(cmd)
	if defs == nil {
		panic(fmt.Sprintf("no shared flags for %q", cmd))
	}
	s := &sharedFlags{fs: fs, storageAliases: aliases}
	for _, name := range []string{flagLogLevel, flagListenAddress, flagStoragePath} {
		def, ok := defs[name]
		if !ok {
			continue
		}
		p := fs.String(name, def, sharedUsage(name))
		switch name {
		case flagLogLevel:
			s.logLevel = p
		case flagListenAddress:
			s.listen = p
		case flagStoragePath:
			s.storagePath = p
			for _, a := range aliases {
				fs.StringVar(p, a, def, "old spelling of --storage.path")
			}
		}
	}
	return s
}

// listenSet and storageSet report whether --web.listen-address and
// --storage.path (or an old spelling) were given on the command line: a
// flag overrides the config file only then.
func (s *sharedFlags) listenSet() bool { return isSet(s.fs, flagListenAddress) }

func (s *sharedFlags) storageSet() bool {
	for _, n := range append([]string{flagStoragePath}, s.storageAliases...) {
		if isSet(s.fs, n) {
			return true
		}
	}
	return false
}

// override applies the shared flags given on the command line to a server
// configuration, as gmc server and gmc check config do.
func (s *sharedFlags) override(cfg *config.Config) {
	if s.listenSet() {
		cfg.Server.ListenAddress = *s.listen
	}
	if s.storageSet() {
		cfg.Server.DataDir = *s.storagePath
	}
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
