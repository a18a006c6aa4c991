// Package errlog logs the errors of reads repeated at every poll once
// while they last: when one begins or its text changes, and its end once.
// The dashboard's reads (the alerts, each burn alert's drain) run every
// second, per open tab; logging each failure flooded the log.
package errlog

import (
	"log/slog"
	"maps"
	"slices"
	"sync"
)

// Keyed holds the error logged last by each read, named by K (struct{}
// where there is one read). The zero value is ready; it is safe for
// concurrent use.
type Keyed[K comparable] struct {
	mu   sync.Mutex
	errs map[K]string // the error text of each read failing now
}

// Note logs what changed with the read k's outcome err (nil: it
// succeeded): msg at Warn with attrs and err when err begins or its text
// changes, msg+" again" at Info with attrs once when it ends.
func (e *Keyed[K]) Note(logger *slog.Logger, k K, err error, msg string, attrs ...any) {
	e.mu.Lock()
	defer e.mu.Unlock()
	was, failing := e.errs[k]
	switch {
	case err == nil && failing:
		delete(e.errs, k)
		logger.Info(msg+" again", attrs...)
	case err != nil && (!failing || was != err.Error()):
		if e.errs == nil {
			e.errs = map[K]string{}
		}
		e.errs[k] = err.Error()
		logger.Warn(msg, slices.Concat(attrs, []any{"err", err})...)
	}
}

// Keep forgets the errors of the reads not in read (no longer made): when
// one is made again, its error is news.
func (e *Keyed[K]) Keep(read map[K]bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	maps.DeleteFunc(e.errs, func(k K, _ string) bool { return !read[k] })
}
