package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestVersion: gmc version and gmc --version print the version; both
// printed the usage (t-user14b F8.8).
func TestVersion(t *testing.T) {
	for _, arg := range []string{"version", "--version"} {
		var out bytes.Buffer
		if err := run(context.Background(), []string{arg}, &out, &out); err != nil || !strings.HasPrefix(out.String(), "gmc dev") ||
			strings.Count(out.String(), "\n") != 1 {
			t.Errorf("gmc %s: err %v, output %q; want one line, gmc dev…", arg, err, out.String())
		}
	}
}
