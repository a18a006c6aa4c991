package agent

import "testing"

// TestReleaseExecutablePages checks that the executable's read-only mappings
// (code, read-only data, symbol table: at least 2) are found and madvise
// accepts both advices for each, twice: released pages fault back in and a
// second release works.
// The RSS it saves is measured by bench/agent, not asserted here.
func TestReleaseExecutablePages(t *testing.T) {
	for i := range 2 {
		n, err := ReleaseExecutablePages()
		if err != nil {
			t.Fatalf("release %d: %v", i+1, err)
		}
		if n < 2 {
			t.Fatalf("release %d advised %d read-only mappings of the executable, want ≥ 2", i+1, n)
		}
	}
}
