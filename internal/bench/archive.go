package bench

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/gmc-dev/gmc/internal/atomicfile"
)

// Archive keeps every run as JSON in <data dir>/bench/runs/ and the weekly
// reports in <data dir>/bench/reports/. Files are written atomically (temp
// file, fsync, rename), so a reader never sees half a run. An Archive is safe
// for concurrent use by one process.
type Archive struct {
	dir string
}

// OpenArchive creates (if needed) the archive under dataDir/bench.
func OpenArchive(dataDir string) (*Archive, error) {
	a := &Archive{dir: filepath.Join(dataDir, "bench")}
	for _, d := range []string{a.runsDir(), a.reportsDir()} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("create bench archive %s: %w", d, err)
		}
	}
	return a, nil
}

// Dir is the archive's directory.
func (a *Archive) Dir() string { return a.dir }

func (a *Archive) runsDir() string    { return filepath.Join(a.dir, "runs") }
func (a *Archive) reportsDir() string { return filepath.Join(a.dir, "reports") }

// SaveRun writes run as runs/<id>.json.
func (a *Archive) SaveRun(run *Run) (string, error) {
	data, err := json.MarshalIndent(run, "", "  ")
	if err != nil {
		return "", fmt.Errorf("encode run %s: %w", run.ID, err)
	}
	path := filepath.Join(a.runsDir(), run.ID+".json")
	if err := atomicfile.Write(path, data, 0o644); err != nil {
		return "", err
	}
	return path, nil
}

// ReadRun reads one archived (or pinned) run file.
func ReadRun(path string) (*Run, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read run: %w", err)
	}
	var run Run
	if err := json.Unmarshal(data, &run); err != nil {
		return nil, fmt.Errorf("decode run %s: %w", path, err)
	}
	return &run, nil
}

// Runs returns the archived runs that started in [from, to), oldest first.
// Unreadable files are skipped.
func (a *Archive) Runs(from, to time.Time) ([]*Run, error) {
	entries, err := os.ReadDir(a.runsDir())
	if err != nil {
		return nil, fmt.Errorf("list bench runs: %w", err)
	}
	var runs []*Run
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".json") {
			continue
		}
		// The ID starts with the start time; skip files clearly outside
		// the range without reading them.
		if t, err := time.Parse(idTimeLayout, strings.SplitN(name, "-", 2)[0]); err == nil {
			if t.Before(from.Add(-time.Second)) || !t.Before(to.Add(time.Second)) {
				continue
			}
		}
		run, err := ReadRun(filepath.Join(a.runsDir(), name))
		if err != nil {
			continue
		}
		if run.Start.Before(from) || !run.Start.Before(to) {
			continue
		}
		runs = append(runs, run)
	}
	slices.SortFunc(runs, func(x, y *Run) int { return x.Start.Compare(y.Start) })
	return runs, nil
}

const idTimeLayout = "20060102T150405.000Z"

var idUnsafe = regexp.MustCompile(`[^a-zA-Z0-9_.-]+`)

// newRunID builds a file-safe, time-sortable run ID.
func newRunID(start time.Time, name string) string {
	return start.UTC().Format(idTimeLayout) + "-" + idUnsafe.ReplaceAllString(name, "_")
}

// SaveReport writes one report in every format: reports/<id>.{json,md,html}.
func (a *Archive) SaveReport(rep *Report) error {
	js, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return fmt.Errorf("encode report %s: %w", rep.ID, err)
	}
	for ext, data := range map[string][]byte{"json": js, "md": []byte(rep.Markdown()), "html": []byte(rep.HTML())} {
		if err := atomicfile.Write(filepath.Join(a.reportsDir(), rep.ID+"."+ext), data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

var reportIDRE = regexp.MustCompile(`^\d{4}-W\d{2}$`)

// ReportIDs lists the archived reports, newest first.
func (a *Archive) ReportIDs() ([]string, error) {
	entries, err := os.ReadDir(a.reportsDir())
	if err != nil {
		return nil, fmt.Errorf("list bench reports: %w", err)
	}
	var ids []string
	for _, e := range entries {
		id, ok := strings.CutSuffix(e.Name(), ".json")
		if ok && reportIDRE.MatchString(id) {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	slices.Reverse(ids)
	return ids, nil
}

// ErrNoReport is returned for a report that is not archived.
var ErrNoReport = errors.New("no such report")

// ReportFile returns the archived report id in format json, md or html.
func (a *Archive) ReportFile(id, format string) ([]byte, error) {
	if !reportIDRE.MatchString(id) {
		return nil, fmt.Errorf("report id %q: %w (ids look like 2026-W48)", id, ErrNoReport)
	}
	data, err := os.ReadFile(filepath.Join(a.reportsDir(), id+"."+format))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("report %s: %w", id, ErrNoReport)
	}
	if err != nil {
		return nil, fmt.Errorf("read report %s: %w", id, err)
	}
	return data, nil
}
