package tier

import (
	"context"
	"errors"
	"log/slog"
	"strings"
)

// housekeeping lowers the routine records of a tier's TSDB to debug: its
// info lines (blocks written, compacted and deleted, head GC) and the two
// warnings a tier gives by design. A tier's blocks overlap (a backfilled
// SLA's block and the out-of-order batches of a catch-up cover spans the
// tier already holds, and compaction merges them: "Overlapping blocks
// found", one line naming every block at each reload), and a catch-up
// writes the head faster than compaction keeps up ("aborting block
// compactions to persist the head block"). At info they were 4,805 of
// the 4,932 lines the demo printed while its tiers caught up with a
// 30-day history (t-user9 #4; the overlap warning alone 732 lines and
// 7.2 MB before, t-user8 #1), its notifications lost among them. Other
// warnings and errors stay as they are.
type housekeeping struct{ slog.Handler }

// expectedWarnings are the prefixes of the warnings lowered to debug.
var expectedWarnings = []string{"Overlapping blocks found", "aborting block compactions to persist the head block"}

func (h housekeeping) Enabled(ctx context.Context, l slog.Level) bool {
	// Info and the expected warnings become debug: asked before the
	// message is known, a warning stays enabled.
	if l == slog.LevelInfo {
		l = slog.LevelDebug
	}
	return h.Handler.Enabled(ctx, l)
}

func (h housekeeping) Handle(ctx context.Context, r slog.Record) error {
	switch r.Level {
	case slog.LevelInfo:
		r.Level = slog.LevelDebug
	case slog.LevelWarn:
		for _, p := range expectedWarnings {
			if strings.HasPrefix(r.Message, p) {
				r.Level = slog.LevelDebug
			}
		}
	case slog.LevelError:
		// A compaction cut short by the shutdown ("compact head: persist
		// head block: context canceled") is redone at the next start: an
		// ERROR on a clean stop (t-user13 F10f) said otherwise.
		if canceled(r) {
			r.Level = slog.LevelDebug
		}
	}
	if r.Level < slog.LevelInfo && !h.Handler.Enabled(ctx, r.Level) {
		return nil
	}
	return h.Handler.Handle(ctx, r)
}

func (h housekeeping) WithAttrs(as []slog.Attr) slog.Handler {
	return housekeeping{h.Handler.WithAttrs(as)}
}

func (h housekeeping) WithGroup(name string) slog.Handler {
	return housekeeping{h.Handler.WithGroup(name)}
}

// canceled reports whether the record's err attribute is a context
// cancellation.
func canceled(r slog.Record) bool {
	found := false
	r.Attrs(func(a slog.Attr) bool {
		if a.Key != "err" {
			return true
		}
		if err, ok := a.Value.Any().(error); ok {
			found = errors.Is(err, context.Canceled)
		} else {
			found = strings.HasSuffix(a.Value.String(), context.Canceled.Error())
		}
		return false
	})
	return found
}
