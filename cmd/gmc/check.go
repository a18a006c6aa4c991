package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/gmc-dev/gmc/internal/config"
)

// checkCommand validates configuration files: gmc check config FILE...
type checkCommand struct {
	stdout io.Writer
}

// flags declares gmc check config's flags: the shared flags gmc server
// takes, so that `gmc check config --storage.path D F` checks what `gmc
// server --config F --storage.path D` would run.
func (c *checkCommand) flags() (*flag.FlagSet, *sharedFlags) {
	fs := flag.NewFlagSet("check config", flag.ContinueOnError)
	fs.SetOutput(c.stdout)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: gmc check config [flags] FILE...")
		fs.PrintDefaults()
	}
	return fs, declareShared(fs, "check config")
}

func (c *checkCommand) Run(_ context.Context, args []string) error {
	fs, f := c.flags()
	if len(args) == 0 || args[0] != "config" {
		fs.Usage()
		return errors.New("check: want 'config [flags] FILE...'")
	}
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return errors.New("check: want 'config [flags] FILE...'")
	}
	if _, err := newLogger(io.Discard, *f.logLevel); err != nil {
		return err
	}
	var failed int
	for _, path := range fs.Args() {
		// The flags override the file as in gmc server. Every error
		// found is reported, each on its own line, as promtool check
		// rules does.
		errs := config.CheckFile(path, f.override)
		for _, err := range errs {
			fmt.Fprintf(c.stdout, "FAILED %v\n", err)
		}
		if len(errs) > 0 {
			failed++
			continue
		}
		fmt.Fprintf(c.stdout, "SUCCESS %s is valid\n", path)
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d config files are invalid", failed, fs.NArg())
	}
	return nil
}
