package agent

import "testing"

// TestReleaseExecutablePages checks that the executable's read-only mappings
// are found and madvise accepts both advices for each (an error names the
// mapping), twice: released pages fault back in and a second release works.
// The RSS it saves is measured by bench/agent, not asserted here.
func TestReleaseExecutablePages(t *testing.T) {
	for i := range 2 {
		if err := ReleaseExecutablePages(); err != nil {
			t.Fatalf("release %d: %v", i+1, err)
		}
	}
}
