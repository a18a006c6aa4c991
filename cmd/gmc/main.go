// Command gmc is the Global Metrics Center: one binary that ingests, stores,
// queries, alerts on and benchmarks the metrics of a trading system.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/gmc-dev/gmc/internal/bench"
	"github.com/gmc-dev/gmc/internal/demo"
)

// command is one gmc subcommand.
type command interface {
	Run(ctx context.Context, args []string) error
}

const usage = `gmc — the Global Metrics Center

Usage:
  gmc demo [flags]            gmc on a simulated trading system (dashboard at http://127.0.0.1:9900)
  gmc server [flags]          run the metrics center (ingest, storage, query, REST API)
  gmc agent [flags]           collect host and process metrics and push them to gmc
  gmc bench run --config F    run benchmarks; gmc bench compare OLD.json NEW.json
  gmc check config FILE...    validate configuration files
  gmc version                 print the version (also --version)

Run 'gmc COMMAND -h' for the flags of a command.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "gmc:", err)
		}
		stop()
		os.Exit(exitCode(err))
	}
}

// newLogger is every subcommand's logger: text to w at the --log.level given.
func newLogger(w io.Writer, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log.level: %w", err)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l})), nil
}

func exitCode(err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return 2
	}
	return 1
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return flag.ErrHelp
	}
	var cmd command
	switch args[0] {
	case "server":
		cmd = &serverCommand{stdout: stdout, stderr: stderr}
	case "demo":
		cmd = &demoCommand{stdout: stdout, stderr: stderr}
	case "agent":
		cmd = &agentCommand{stdout: stdout, stderr: stderr}
	case "bench":
		// The demo's in-process benchmarks, so the example configs'
		// func benchmarks run from the command line too.
		reg := bench.NewRegistry()
		if err := demo.RegisterBenchmarks(reg); err != nil {
			return err
		}
		cmd = &benchCommand{stdout: stdout, stderr: stderr, registry: reg}
	case "check":
		cmd = &checkCommand{stdout: stdout}
	case "version", "--version", "-version":
		fmt.Fprintf(stdout, "gmc %s\n", buildVersion())
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown command %q", args[0])
	}
	return cmd.Run(ctx, args[1:])
}
