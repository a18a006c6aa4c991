package main

import (
	"flag"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/gmc-dev/gmc/internal/agent"
	"github.com/gmc-dev/gmc/internal/config"
)

// Every subcommand declares the shared flags that mean something for it,
// spelled alike, with the one usage, and with the same default save the
// exceptions flags.go explains (the demo's and the agent's data, the
// agent's own HTTP address). The expectations are written out here, not
// read from sharedDefaults, so a change of the table fails this test.
func TestSharedFlags(t *testing.T) {
	const (
		logLevel = flagLogLevel
		listen   = flagListenAddress
		storage  = flagStoragePath
	)
	common := map[string]string{logLevel: "info", listen: config.DefaultListenAddress, storage: config.DefaultDataDir}
	type want struct {
		flags      []string          // the shared flags it declares
		exceptions map[string]string // defaults other than common's
		aliases    []string          // old spellings of --storage.path
	}
	for name, tc := range map[string]struct {
		fs   func() *flag.FlagSet
		want want
	}{
		"server":       {commandFlagSets()["server"], want{flags: []string{logLevel, listen, storage}}},
		"check config": {commandFlagSets()["check config"], want{flags: []string{logLevel, listen, storage}}},
		"demo": {commandFlagSets()["demo"],
			want{flags: []string{logLevel, listen, storage}, exceptions: map[string]string{storage: "./demo-data"}, aliases: []string{"data-dir"}}},
		"agent": {commandFlagSets()["agent"],
			want{flags: []string{logLevel, listen, storage},
				exceptions: map[string]string{listen: agent.DefaultListenAddress, storage: agent.DefaultSpoolDir}, aliases: []string{"spool.dir"}}},
		"bench run": {commandFlagSets()["bench run"], want{flags: []string{logLevel, storage}, aliases: []string{"out"}}},
	} {
		t.Run(name, func(t *testing.T) {
			fs := tc.fs()
			for _, f := range []string{logLevel, listen, storage} {
				got := fs.Lookup(f)
				declared := false
				for _, w := range tc.want.flags {
					declared = declared || w == f
				}
				if !declared {
					if got != nil {
						t.Errorf("--%s declared, want not", f)
					}
					continue
				}
				if got == nil {
					t.Errorf("--%s not declared", f)
					continue
				}
				def := common[f]
				if d, ok := tc.want.exceptions[f]; ok {
					def = d
				}
				if got.DefValue != def {
					t.Errorf("--%s default %q, want %q", f, got.DefValue, def)
				}
				if got.Usage != sharedUsage(f) {
					t.Errorf("--%s usage %q, want the shared %q", f, got.Usage, sharedUsage(f))
				}
			}
			// No other flag is a spelling of a shared one (--data-dir,
			// --listen, --log-level...) except the documented aliases.
			fs.VisitAll(func(fl *flag.Flag) {
				if fl.Name == logLevel || fl.Name == listen || fl.Name == storage {
					return
				}
				for _, a := range tc.want.aliases {
					if fl.Name == a {
						if fl.DefValue != fs.Lookup(storage).DefValue || !strings.Contains(fl.Usage, "--"+storage) {
							t.Errorf("alias --%s: default %q, usage %q", a, fl.DefValue, fl.Usage)
						}
						return
					}
				}
				n := strings.NewReplacer("-", "", "_", "", ".", "").Replace(fl.Name)
				for _, bad := range []string{"loglevel", "listen", "listenaddress", "datadir", "storage", "path"} {
					if n == bad {
						t.Errorf("--%s is another spelling of a shared flag", fl.Name)
					}
				}
			})
		})
	}
}

// commandFlagSets builds each subcommand's flags, as its Run declares them.
func commandFlagSets() map[string]func() *flag.FlagSet {
	out := io.Discard
	return map[string]func() *flag.FlagSet{
		"server":       func() *flag.FlagSet { fs, _ := (&serverCommand{stdout: out, stderr: out}).flags(); return fs },
		"check config": func() *flag.FlagSet { fs, _ := (&checkCommand{stdout: out}).flags(); return fs },
		"demo":         func() *flag.FlagSet { fs, _ := (&demoCommand{stdout: out, stderr: out}).flags(); return fs },
		"agent":        func() *flag.FlagSet { fs, _ := (&agentCommand{stdout: out, stderr: out}).flags(); return fs },
		"bench run":    func() *flag.FlagSet { fs, _ := (&benchCommand{stdout: out, stderr: out}).runFlags(); return fs },
	}
}

// Every duration flag takes gmc.yml's syntax (config.Duration: 1d, 1h30m,
// 500us), not Go's flag.Duration, which refuses days.
func TestDurationFlags(t *testing.T) {
	for name, mk := range commandFlagSets() {
		mk().VisitAll(func(f *flag.Flag) {
			if fmt.Sprintf("%T", f.Value) == "*flag.durationValue" {
				t.Errorf("%s --%s is a flag.Duration", name, f.Name)
			}
		})
	}
	fs, f := (&demoCommand{stdout: io.Discard, stderr: io.Discard}).flags()
	if err := fs.Parse([]string{"--duration", "1d", "--incident-every", "-1s", "--bench-every", "1m30s", "--alerting.evaluation-interval", "500us"}); err != nil {
		t.Fatal(err)
	}
	if f.duration.Std() != 24*time.Hour || f.incidentEvery.Std() != -time.Second || f.benchEvery.Std() != 90*time.Second || f.evalInterval.Std() != 500*time.Microsecond {
		t.Fatalf("demo durations: %v %v %v %v", f.duration, f.incidentEvery, f.benchEvery, f.evalInterval)
	}
	if fs, _ := (&demoCommand{stdout: io.Discard, stderr: io.Discard}).flags(); fs.Lookup("bench-every").DefValue != "2m" {
		t.Fatalf("--bench-every default %q, want 2m", fs.Lookup("bench-every").DefValue)
	}
	// The demo's own services keep their addresses across restarts: the
	// market-data target's instance label changed with a random port, a
	// new up series each start (t-user12 F3).
	fs, _ = (&demoCommand{stdout: io.Discard, stderr: io.Discard}).flags()
	for flag, want := range map[string]string{"gateway.listen-address": "127.0.0.1:9910", "market-data.listen-address": "127.0.0.1:9911", "receiver.listen-address": "127.0.0.1:9912"} {
		if got := fs.Lookup(flag).DefValue; got != want {
			t.Errorf("--%s default %q, want %s", flag, got, want)
		}
	}
}

// The old spellings still set --storage.path.
func TestStoragePathAliases(t *testing.T) {
	fs, f := (&agentCommand{stdout: io.Discard, stderr: io.Discard}).flags()
	if err := fs.Parse([]string{"--spool.dir", "/tmp/x"}); err != nil {
		t.Fatal(err)
	}
	if *f.storagePath != "/tmp/x" || !f.storageSet() {
		t.Fatalf("--spool.dir: storage.path %q, set %v", *f.storagePath, f.storageSet())
	}
	fs, sf := (&serverCommand{stdout: io.Discard, stderr: io.Discard}).flags()
	if err := fs.Parse(nil); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.Server.DataDir, cfg.Server.ListenAddress = "/from/file", "127.0.0.1:1"
	sf.override(&cfg)
	if cfg.Server.DataDir != "/from/file" || cfg.Server.ListenAddress != "127.0.0.1:1" {
		t.Fatalf("flags not given overrode the file: %+v", cfg.Server)
	}
}

// gmc check config applies the shared flags as gmc server does: an empty
// --storage.path fails as the server would, a bad --log.level too.
func TestCheckConfigFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string // "" is success
	}{
		{[]string{"--storage.path", "/srv/gmc", "../../examples/gmc.yml"}, ""},
		{[]string{"--storage.path=", "../../examples/gmc.yml"}, "with the flags given: server.data_dir: must not be empty"},
		{[]string{"--log.level", "loud", "../../examples/gmc.yml"}, "--log.level"},
	} {
		var out strings.Builder
		err := run(t.Context(), append([]string{"check", "config"}, tc.args...), &out, &out)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%v: %v\n%s", tc.args, err, out.String())
		case tc.want != "" && (err == nil || !strings.Contains(err.Error()+out.String(), tc.want)):
			t.Errorf("%v: err %v, output %q; want %q", tc.args, err, out.String(), tc.want)
		}
	}
}
