package agent

import (
	"os"
	"strings"
	"testing"
)

func TestReleaseExecutablePages(t *testing.T) {
	if err := ReleaseExecutablePages(); err != nil {
		t.Fatal(err)
	}
	// The process goes on running code from the released pages.
	b, err := os.ReadFile("/proc/self/status")
	if err != nil || !strings.Contains(string(b), "RssFile:") {
		t.Fatalf("read /proc/self/status after release: %v", err)
	}
	if err := ReleaseExecutablePages(); err != nil {
		t.Fatalf("second release: %v", err)
	}
}
