package forward

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"sync"

	"github.com/gmc-dev/gmc/internal/atomicfile"
)

// watermark is the forwarding position kept across restarts: every sample
// up to SentUntil had been sent when it was written (but for the samples the
// replay margin covers). It belongs to one set of receivers: a changed
// remote_write starts afresh, as Prometheus's queues do.
type watermark struct {
	path string
	key  string

	mu    sync.Mutex
	value int64
	dirty bool
	found bool
	// none: no receiver is configured; flush removes the file, store
	// changes nothing.
	none bool
}

type watermarkFile struct {
	Receivers string `json:"receivers"`
	SentUntil int64  `json:"sent_until_ms"`
}

// receiversKey identifies the configured receivers (URL and name, never
// credentials).
func receiversKey(c Config) string {
	var ids []string
	for _, rw := range c {
		ids = append(ids, rw.Name+"@"+rw.URL.Redacted())
	}
	sort.Strings(ids)
	sum := sha256.New()
	for _, id := range ids {
		sum.Write([]byte(id))
		sum.Write([]byte{0})
	}
	return hex.EncodeToString(sum.Sum(nil))[:16]
}

// openWatermark reads dir/forward/watermark.json when it exists and is for
// the same receivers.
func openWatermark(dir string, c Config) (*watermark, error) {
	w := &watermark{path: filepath.Join(dir, "forward", "watermark.json"), key: receiversKey(c)}
	data, err := os.ReadFile(w.path)
	if errors.Is(err, fs.ErrNotExist) {
		return w, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read forwarding watermark: %w", err)
	}
	var f watermarkFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("read forwarding watermark %s: %w", w.path, err)
	}
	if f.Receivers == w.key && f.SentUntil > 0 {
		w.value, w.found = f.SentUntil, true
	}
	return w, nil
}

// setReceivers makes the watermark c's: the next flush writes it for them.
func (w *watermark) setReceivers(c Config) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if k := receiversKey(c); k != w.key {
		w.key, w.dirty = k, true
	}
}

// reset makes the watermark c's with the value v (none without entries in
// c: the next flush removes the file).
func (w *watermark) reset(c Config, v int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.key, w.value, w.dirty, w.none = receiversKey(c), v, true, len(c) == 0
}

// load returns the value read at open, if any.
func (w *watermark) load() (int64, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.value, w.found
}

// store sets the value; flush writes it.
func (w *watermark) store(v int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if v != w.value && !w.none {
		w.value, w.dirty = v, true
	}
}

// flush writes the value atomically if it changed.
func (w *watermark) flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.dirty {
		return nil
	}
	if w.none {
		if err := os.Remove(w.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove forwarding watermark: %w", err)
		}
		w.dirty = false
		return nil
	}
	data, err := json.Marshal(watermarkFile{Receivers: w.key, SentUntil: w.value})
	if err != nil {
		return err
	}
	if err := atomicfile.Write(w.path, data, 0o644); err != nil {
		return fmt.Errorf("save forwarding watermark: %w", err)
	}
	w.dirty = false
	return nil
}
