package e2e

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// The compatibility table: every TestCompat* test runs each call of a real
// client as a subtest through compat, which logs a row marker. The
// generator in ./compatdoc reads `go test -json` output and writes
// docs/compat.md with each row's pass or fail (make compat).

// compatMarker starts the log line of a compatibility row.
const compatMarker = "compat-row\t"

// compat runs fn as the subtest "client: call" and records the row
// (client, call, expected result) for the compatibility table.
func compat(t *testing.T, client, call, result string, fn func(t *testing.T)) {
	t.Helper()
	t.Run(client+": "+call, func(t *testing.T) {
		t.Log(compatMarker + strings.Join([]string{client, call, result}, "\t"))
		fn(t)
	})
}

// must fails the test on err.
func must(t *testing.T, err error, what string, args ...any) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", fmt.Sprintf(what, args...), err)
	}
}

// writeTemp writes data to a file in a fresh temp dir and returns its path.
func writeTemp(t *testing.T, name, data string) string {
	t.Helper()
	path := t.TempDir() + "/" + name
	must(t, os.WriteFile(path, []byte(data), 0o644), "write %s", name)
	return path
}
