package tier

import (
	"context"
	"log/slog"
	"strings"
)

// overlapsExpected lowers the TSDB's "Overlapping blocks found" warning to
// debug. A tier's blocks overlap by design: a backfilled SLA's block and
// the out-of-order batches of a catch-up cover spans the tier already
// holds, and compaction merges them. As a warning, one line naming every
// block at each reload, it was 732 lines and most of the 7.2 MB the demo
// printed in its first 28 minutes over a 30-day history (t-user8 #1).
type overlapsExpected struct{ slog.Handler }

func (h overlapsExpected) Handle(ctx context.Context, r slog.Record) error {
	if r.Level == slog.LevelWarn && strings.HasPrefix(r.Message, "Overlapping blocks found") {
		if !h.Handler.Enabled(ctx, slog.LevelDebug) {
			return nil
		}
		r.Level = slog.LevelDebug
	}
	return h.Handler.Handle(ctx, r)
}

func (h overlapsExpected) WithAttrs(as []slog.Attr) slog.Handler {
	return overlapsExpected{h.Handler.WithAttrs(as)}
}

func (h overlapsExpected) WithGroup(name string) slog.Handler {
	return overlapsExpected{h.Handler.WithGroup(name)}
}
