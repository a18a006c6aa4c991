package web_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// rawInsert is a call of a DOM method that inserts its arguments as
// children, writing a null (or undefined) one as the text "null": the
// Trends and Benchmarks pages of a gmc with nothing to show read "null"
// (t-user8 #5, 47babf5). appendChild and insertBefore are listed too (they
// throw on null instead): no module inserts a child but through util.js.
var rawInsert = regexp.MustCompile(`\.(append|prepend|replaceChildren|before|after|replaceWith|appendChild|insertBefore|insertAdjacentElement|insertAdjacentText)\s*\(`)

// TestUIChildrenThroughUtil: every child the dashboard inserts goes
// through util.js (h, fill, add, addFirst: nested arrays flattened, null
// and false left out), none through a native call, so a child that may be
// null never prints as "null". It reads every module of ui/src but util.js
// (whose helpers make the native calls), its code without comments
// (lines opening with // or *, and a " // " comment after code), and fails
// on each native call, naming its file and line.
func TestUIChildrenThroughUtil(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("ui", "src", "*.js"))
	if err != nil || len(files) < 10 {
		t.Fatalf("the dashboard's sources: %v (%d files)", err, len(files))
	}
	for _, f := range files {
		if filepath.Base(f) == "util.js" {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(b), "\n") {
			code := strings.TrimSpace(line)
			if strings.HasPrefix(code, "//") || strings.HasPrefix(code, "*") || strings.HasPrefix(code, "/*") {
				continue
			}
			if j := strings.Index(code, " // "); j >= 0 {
				code = code[:j]
			}
			if m := rawInsert.FindString(code); m != "" {
				t.Errorf("%s:%d: %s…): a native insertion prints a null child as \"null\"; use util.fill, add or addFirst", f, i+1, m)
			}
		}
	}
}
