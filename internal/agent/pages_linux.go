package agent

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// ReleaseExecutablePages drops the resident pages of this process's own
// executable that are mapped read-only (code, read-only data, the Go symbol
// table) and turns off read-around for them. It returns how many mappings
// it advised.
//
// Why: gmc is one binary, and Go runs the package initialisers of everything
// linked into it — the TSDB, PromQL and their cloud SDKs — before `gmc agent`
// starts. Each page those initialisers touch faults in with the kernel's
// read-around (up to 128 KiB), which leaves ~20 MiB of the binary resident
// in a daemon whose own loop needs a small fraction of it. Released pages are
// clean file pages: the ones the agent uses fault back in from the page cache
// or the file, one page at a time (MADV_RANDOM), and nothing else changes.
func ReleaseExecutablePages() (mappings int, err error) {
	exe, err := os.Executable()
	if err != nil {
		return 0, fmt.Errorf("find executable: %w", err)
	}
	if exe, err = filepath.EvalSymlinks(exe); err != nil {
		return 0, fmt.Errorf("find executable: %w", err)
	}
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return 0, fmt.Errorf("read mappings: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// 00400000-012c9000 r-xp 00000000 fd:00 1234 /path/to/gmc
		fields := strings.Fields(sc.Text())
		if len(fields) < 6 || fields[5] != exe || strings.Contains(fields[1], "w") {
			continue
		}
		lo, hi, ok := strings.Cut(fields[0], "-")
		if !ok {
			continue
		}
		start, err1 := strconv.ParseUint(lo, 16, 64)
		end, err2 := strconv.ParseUint(hi, 16, 64)
		if err1 != nil || err2 != nil || end <= start {
			continue
		}
		for _, advice := range []uintptr{unix.MADV_RANDOM, unix.MADV_PAGEOUT} {
			if _, _, errno := unix.Syscall(unix.SYS_MADVISE, uintptr(start), uintptr(end-start), advice); errno != 0 {
				return mappings, fmt.Errorf("madvise %s: %w", fields[0], errno)
			}
		}
		mappings++
	}
	return mappings, sc.Err()
}
