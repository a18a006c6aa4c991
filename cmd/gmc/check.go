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

func (c *checkCommand) Run(_ context.Context, args []string) error {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.Usage = func() { fmt.Fprintln(fs.Output(), "usage: gmc check config FILE...") }
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() < 2 || fs.Arg(0) != "config" {
		fs.Usage()
		return errors.New("check: want 'config FILE...'")
	}
	var failed int
	for _, path := range fs.Args()[1:] {
		if _, err := config.LoadFile(path); err != nil {
			fmt.Fprintf(c.stdout, "FAILED %v\n", err)
			failed++
			continue
		}
		fmt.Fprintf(c.stdout, "SUCCESS %s is valid\n", path)
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d config files are invalid", failed, fs.NArg()-1)
	}
	return nil
}
