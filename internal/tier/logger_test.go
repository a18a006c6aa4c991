package tier

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	promstorage "github.com/prometheus/prometheus/storage"
)

// relabelled is a raw series under other labels: new to the tiers.
type relabelled struct {
	promstorage.Series
	lset labels.Labels
}

func (r relabelled) Labels() labels.Labels { return r.lset }

// TestOverlapsNotWarned: two backfills over one span give a tier two
// overlapping blocks, which its TSDB merges; it logged "Overlapping blocks
// found" as a warning naming every block at each reload and opening (732 lines, 7 MB,
// in the demo's first 28 minutes). Overlaps are a tier's normal state: at
// info the line is gone, at debug it is there, at debug level. So are the
// TSDB's info records (4,805 of 4,932 lines of a demo's catch-up).
func TestOverlapsNotWarned(t *testing.T) {
	for _, level := range []slog.Level{slog.LevelInfo, slog.LevelDebug} {
		t.Run(level.String(), func(t *testing.T) {
			f := newFixture(t)
			var buf bytes.Buffer
			f.set.Close()
			f.opts.Logger = slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: level}))
			f.open(t)
			ctx := context.Background()
			q, err := f.raw.Querier(0, f.now.UnixMilli())
			if err != nil {
				t.Fatal(err)
			}
			defer q.Close()
			from, to := t0.UnixMilli(), t0.Add(3*time.Hour).UnixMilli()
			for i, name := range []string{"copy_a", "copy_b"} {
				ss := q.Select(ctx, true, nil, labels.MustNewMatcher(labels.MatchEqual, "__name__", "g"))
				var series []promstorage.Series
				for ss.Next() {
					s := ss.At()
					series = append(series, relabelled{s, labels.NewBuilder(s.Labels()).Set("__name__", name).Labels()})
				}
				// The second span overlaps the first by an hour.
				if _, err := f.set.Backfill(ctx, series, from+int64(i)*2*3600e3, to+int64(i)*2*3600e3); err != nil {
					t.Fatal(err)
				}
			}
			// Opened again, the tiers' TSDBs load the blocks (running, at
			// their next reload).
			f.set.Close()
			f.open(t)
			out := buf.String()
			warned := strings.Contains(out, `level=WARN msg="Overlapping blocks found`)
			debug := strings.Contains(out, `level=DEBUG msg="Overlapping blocks found`)
			if warned || debug != (level == slog.LevelDebug) {
				t.Errorf("at %s: overlap warned %v, at debug %v; the log:\n%.2000s", level, warned, debug, out)
			}
			// The TSDB's routine records (its opening's WAL replay here;
			// blocks written, compacted, deleted in a catch-up) likewise.
			info := strings.Contains(out, `level=INFO msg="WAL replay completed`)
			debug = strings.Contains(out, `level=DEBUG msg="WAL replay completed`)
			if info || debug != (level == slog.LevelDebug) {
				t.Errorf("at %s: the tiers' WAL replay at info %v, at debug %v; the log:\n%.2000s", level, info, debug, out)
			}
		})
	}
}

// TestShutdownCompactionNotAnError: a tier's compaction cut short by the
// shutdown logged ERROR "compaction failed … context canceled" on a clean
// stop (t-user13 F10f); it is redone at the next start. Other errors stay.
func TestShutdownCompactionNotAnError(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(housekeeping{slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo})})
	log.Error("compaction failed", "err", fmt.Errorf("compact head: persist head block: %w", context.Canceled))
	if buf.Len() != 0 {
		t.Errorf("a compaction cancelled by the shutdown logged: %s", buf.String())
	}
	log.Error("compaction failed", "err", errors.New("write block: no space left on device"))
	if !strings.Contains(buf.String(), "level=ERROR") {
		t.Errorf("a real compaction error not logged as one: %q", buf.String())
	}
}
