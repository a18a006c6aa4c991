package notify

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/alertmanager/pkg/labels"
	"github.com/prometheus/common/model"

	"github.com/gmc-dev/gmc/internal/atomicfile"
	"github.com/gmc-dev/gmc/internal/duration"
)

// SilenceState is where a silence is in its life.
type SilenceState string

// Silence states, as Alertmanager's.
const (
	SilenceActive  SilenceState = "active"
	SilencePending SilenceState = "pending"
	SilenceExpired SilenceState = "expired"
)

// Silence mutes the alerts its matchers select between StartsAt and EndsAt.
type Silence struct {
	ID        string          `json:"id"`
	Matchers  labels.Matchers `json:"matchers"`
	StartsAt  time.Time       `json:"startsAt"`
	EndsAt    time.Time       `json:"endsAt"`
	UpdatedAt time.Time       `json:"updatedAt"`
	CreatedBy string          `json:"createdBy"`
	Comment   string          `json:"comment"`
}

// State is the silence's state at now.
func (s *Silence) State(now time.Time) SilenceState {
	switch {
	case !now.Before(s.EndsAt):
		return SilenceExpired
	case now.Before(s.StartsAt):
		return SilencePending
	}
	return SilenceActive
}

// ErrSilenceNotFound is returned for an unknown silence id.
var ErrSilenceNotFound = errors.New("silence not found")

// Silences holds the silences; safe for concurrent use.
type Silences struct {
	mu        sync.RWMutex
	now       func() time.Time
	retention time.Duration
	file      string
	items     map[string]*Silence
	broadcast func([]byte) // shares changes with HA peers; nil when alone
	// maxCount bounds the active and pending silences, maxSize one silence's
	// JSON (Alertmanager's --silences.max-silences and
	// --silences.max-silence-size-bytes); 0: no bound.
	maxCount, maxSize int
	// With a file, the silences are the snapshot in file plus the changes
	// appended (one JSON object a line, fsynced) to file.log since; the
	// snapshot is rewritten and the log emptied once the log outgrows the
	// snapshot (at least logCompactBytes), so an Add writes only its own
	// silence (Alertmanager snapshots its silences on a timer, losing the
	// changes since at a crash; gmc acknowledges a silence once it is on disk).
	log                 *os.File
	logBytes, snapBytes int64
}

// logCompactBytes is the smallest change log that is folded into the snapshot.
const logCompactBytes = 1 << 20

// Default silence limits (Options.MaxSilences, Options.MaxSilenceSizeBytes).
const (
	DefaultMaxSilences         = 10_000
	DefaultMaxSilenceSizeBytes = 16 << 10
	DefaultSilenceRetention    = 5 * 24 * time.Hour
)

// SilencesConfig bounds the silences: the `silences:` section of gmc.yml,
// Alertmanager's --silences.max-silences, --silences.max-silence-size-bytes
// and --data.retention.
type SilencesConfig struct {
	// MaxSilences bounds the active and pending silences; a new one over it
	// is refused with 400.
	MaxSilences int `yaml:"max_silences"`
	// MaxSilenceSizeBytes bounds one silence, as JSON.
	MaxSilenceSizeBytes int `yaml:"max_silence_size_bytes"`
	// Retention keeps expired silences listed this long.
	Retention duration.Duration `yaml:"retention"`
}

// DefaultSilencesConfig is 10,000 silences of at most 16 KiB each, expired
// ones kept 5 days.
func DefaultSilencesConfig() SilencesConfig {
	return SilencesConfig{MaxSilences: DefaultMaxSilences, MaxSilenceSizeBytes: DefaultMaxSilenceSizeBytes,
		Retention: duration.Duration(DefaultSilenceRetention)}
}

// Validate checks the section; errors name the field under `silences.`.
func (c SilencesConfig) Validate() error {
	switch {
	case c.MaxSilences <= 0:
		return errors.New("silences.max_silences: must be positive")
	case c.MaxSilenceSizeBytes <= 0:
		return errors.New("silences.max_silence_size_bytes: must be positive")
	case c.Retention <= 0:
		return errors.New("silences.retention: must be positive")
	}
	return nil
}

func newSilences(now func() time.Time, retention time.Duration, file string) (*Silences, error) {
	s := &Silences{now: now, retention: retention, file: file, items: map[string]*Silence{}}
	if file == "" {
		return s, nil
	}
	data, err := os.ReadFile(file)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("read silences: %w", err)
	default:
		var list []*Silence
		if err := json.Unmarshal(data, &list); err != nil {
			return nil, fmt.Errorf("parse silences %s: %w", file, err)
		}
		for _, sil := range list {
			s.items[sil.ID] = sil
		}
		s.snapBytes = int64(len(data))
	}
	if err := s.openLog(); err != nil {
		return nil, err
	}
	return s, nil
}

// openLog replays the change log over the snapshot and opens it for
// appending. A last line cut short by a crash (never acknowledged: Add
// returns after its fsync) is dropped; a bad line before it is an error.
func (s *Silences) openLog() error {
	name := s.file + ".log"
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("open silences log: %w", err)
	}
	data, err := io.ReadAll(f)
	if err != nil {
		f.Close()
		return fmt.Errorf("read silences log: %w", err)
	}
	good := 0
	for n := 1; good < len(data); n++ {
		end := bytes.IndexByte(data[good:], '\n')
		if end < 0 {
			break // the torn tail of a write a crash cut
		}
		var sil Silence
		if err := json.Unmarshal(data[good:good+end], &sil); err != nil || sil.ID == "" {
			f.Close()
			return fmt.Errorf("parse %s line %d: %v", name, n, cmp.Or(err, errors.New("no id")))
		}
		s.items[sil.ID] = &sil
		good += end + 1
	}
	if good < len(data) {
		if err := f.Truncate(int64(good)); err != nil {
			f.Close()
			return fmt.Errorf("truncate torn silences log: %w", err)
		}
	}
	if _, err := f.Seek(int64(good), io.SeekStart); err != nil {
		f.Close()
		return fmt.Errorf("seek silences log: %w", err)
	}
	s.log, s.logBytes = f, int64(good)
	s.gc(s.now())
	return nil
}

// Validate checks a silence as Add would; errors name the field.
func (s *Silence) Validate() error {
	if len(s.Matchers) == 0 {
		return errors.New("matchers: at least one matcher is required")
	}
	allEmpty := true
	for _, m := range s.Matchers {
		if !model.UTF8Validation.IsValidLabelName(m.Name) {
			return fmt.Errorf("matchers: %q is not a label name", m.Name)
		}
		// As Alertmanager 0.25: a negative matcher (service!="x") counts,
		// so a silence of negative matchers only is accepted.
		if !m.Matches("") || m.Type == labels.MatchNotEqual || m.Type == labels.MatchNotRegexp {
			allEmpty = false
		}
	}
	if allEmpty {
		return errors.New("matchers: at least one matcher must not match the empty string, or be negative (it would silence everything)")
	}
	if s.EndsAt.IsZero() {
		return errors.New("endsAt: must be set")
	}
	if !s.StartsAt.IsZero() && !s.EndsAt.After(s.StartsAt) {
		return errors.New("endsAt: must be after startsAt")
	}
	if s.CreatedBy == "" {
		return errors.New("createdBy: must be set")
	}
	if s.Comment == "" {
		return errors.New("comment: must be set")
	}
	return nil
}

// Add stores a new silence, or updates the one whose ID is given (an expired
// one is replaced by a new silence, as in Alertmanager). It returns the id.
func (s *Silences) Add(sil Silence) (string, error) {
	if err := sil.Validate(); err != nil {
		return "", err
	}
	now := s.now()
	if !sil.EndsAt.After(now) {
		return "", errors.New("endsAt: is in the past")
	}
	if sil.StartsAt.IsZero() || sil.StartsAt.Before(now) {
		sil.StartsAt = now
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if sil.ID != "" {
		old, ok := s.items[sil.ID]
		if !ok {
			return "", fmt.Errorf("id %q: %w", sil.ID, ErrSilenceNotFound)
		}
		if old.State(now) == SilenceExpired {
			sil.ID = ""
		} else if old.State(now) == SilenceActive && old.StartsAt.Before(sil.StartsAt) {
			sil.StartsAt = old.StartsAt // an active silence keeps its start
		}
	}
	if s.maxSize > 0 {
		if b, err := json.Marshal(&sil); err == nil && len(b) > s.maxSize {
			return "", fmt.Errorf("silence exceeded maximum size: %d bytes (limit: %d bytes)", len(b), s.maxSize)
		}
	}
	if sil.ID == "" {
		if s.maxCount > 0 {
			n := 0
			for _, o := range s.items {
				if o.State(now) != SilenceExpired {
					n++
				}
			}
			if n >= s.maxCount {
				return "", fmt.Errorf("exceeded maximum number of silences: %d (limit: %d)", n, s.maxCount)
			}
		}
		sil.ID = newID()
	}
	sil.UpdatedAt = now
	s.items[sil.ID] = &sil
	s.gc(now)
	s.share(&sil)
	return sil.ID, s.persist(&sil)
}

// Expire ends a silence now.
func (s *Silences) Expire(id string) error {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	sil, ok := s.items[id]
	if !ok {
		return fmt.Errorf("id %q: %w", id, ErrSilenceNotFound)
	}
	if sil.State(now) == SilenceExpired {
		return nil
	}
	cp := *sil
	if cp.StartsAt.After(now) {
		cp.StartsAt = now
	}
	cp.EndsAt = now
	cp.UpdatedAt = now
	s.items[id] = &cp
	s.share(&cp)
	return s.persist(&cp)
}

// SetBroadcast has every change sent to the HA peers through f
// (internal/cluster gossips it, as Alertmanager gossips its silences).
func (s *Silences) SetBroadcast(f func([]byte)) {
	s.mu.Lock()
	s.broadcast = f
	s.mu.Unlock()
}

// share broadcasts one changed silence. Caller holds mu.
func (s *Silences) share(sil *Silence) {
	if s.broadcast == nil {
		return
	}
	if data, err := json.Marshal([]*Silence{sil}); err == nil {
		s.broadcast(data)
	}
}

// MarshalBinary is the whole state a joining peer receives: every silence,
// as JSON.
func (s *Silences) MarshalBinary() ([]byte, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	list := make([]*Silence, 0, len(s.items))
	for _, sil := range s.items {
		list = append(list, sil)
	}
	return json.Marshal(list)
}

// Merge takes silences from a peer: for each id the version updated last
// wins, Alertmanager's rule. It saves when anything changed.
func (s *Silences) Merge(b []byte) error {
	var list []*Silence
	if err := json.Unmarshal(b, &list); err != nil {
		return fmt.Errorf("merge silences: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var changed []*Silence
	for _, sil := range list {
		if sil == nil || sil.ID == "" {
			continue
		}
		if old, ok := s.items[sil.ID]; ok && !sil.UpdatedAt.After(old.UpdatedAt) {
			continue
		}
		s.items[sil.ID] = sil
		changed = append(changed, sil)
	}
	if len(changed) == 0 {
		return nil
	}
	s.gc(s.now())
	return s.persist(changed...)
}

// Get returns one silence.
func (s *Silences) Get(id string) (Silence, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	sil, ok := s.items[id]
	if !ok {
		return Silence{}, false
	}
	return *sil, true
}

// List returns every silence kept (expired ones for the retention), active
// first, then pending, then expired, each by EndsAt.
func (s *Silences) List() []Silence {
	now := s.now()
	s.mu.RLock()
	out := make([]Silence, 0, len(s.items))
	for _, sil := range s.items {
		out = append(out, *sil)
	}
	s.mu.RUnlock()
	rank := map[SilenceState]int{SilenceActive: 0, SilencePending: 1, SilenceExpired: 2}
	sort.Slice(out, func(i, j int) bool {
		ri, rj := rank[out[i].State(now)], rank[out[j].State(now)]
		if ri != rj {
			return ri < rj
		}
		if !out[i].EndsAt.Equal(out[j].EndsAt) {
			return out[i].EndsAt.Before(out[j].EndsAt)
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// Mutes reports whether an active silence matches lset.
func (s *Silences) Mutes(lset model.LabelSet) bool {
	now := s.now()
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, sil := range s.items {
		if sil.State(now) == SilenceActive && sil.Matchers.Matches(lset) {
			return true
		}
	}
	return false
}

// matching returns the active silences that match lset.
func (s *Silences) matching(lset model.LabelSet) []Silence {
	now := s.now()
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []Silence
	for _, sil := range s.items {
		if sil.State(now) == SilenceActive && sil.Matchers.Matches(lset) {
			out = append(out, *sil)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// SetConfig puts new limits and a new retention in force (a reload): for
// the silences added after, and for the expired ones the next collection
// drops. Silences kept over a lowered limit stay.
func (s *Silences) SetConfig(c SilencesConfig) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.maxCount = cmp.Or(c.MaxSilences, DefaultMaxSilences)
	s.maxSize = cmp.Or(c.MaxSilenceSizeBytes, DefaultMaxSilenceSizeBytes)
	s.retention = cmp.Or(time.Duration(c.Retention), DefaultSilenceRetention)
}

// gc drops silences expired for longer than the retention. Caller holds mu.
func (s *Silences) gc(now time.Time) {
	for id, sil := range s.items {
		if sil.State(now) == SilenceExpired && now.Sub(sil.EndsAt) > s.retention {
			delete(s.items, id)
		}
	}
}

// persist makes changed durable: appended to the log and fsynced, or, once
// the log has outgrown the snapshot, by a new snapshot. Caller holds mu.
func (s *Silences) persist(changed ...*Silence) error {
	if s.file == "" {
		return nil
	}
	if s.logBytes > max(logCompactBytes, s.snapBytes) {
		return s.snapshot()
	}
	var b []byte
	for _, sil := range changed {
		line, err := json.Marshal(sil)
		if err != nil {
			return fmt.Errorf("encode silence: %w", err)
		}
		b = append(append(b, line...), '\n')
	}
	if _, err := s.log.Write(b); err != nil {
		return fmt.Errorf("append to silences log: %w", err)
	}
	if err := s.log.Sync(); err != nil {
		return fmt.Errorf("sync silences log: %w", err)
	}
	s.logBytes += int64(len(b))
	return nil
}

// snapshot writes every silence kept to the file atomically, then empties
// the log (a crash between the two replays changes the snapshot already
// holds: harmless). Caller holds mu.
func (s *Silences) snapshot() error {
	if s.file == "" {
		return nil
	}
	list := make([]*Silence, 0, len(s.items))
	for _, sil := range s.items {
		list = append(list, sil)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].ID < list[j].ID })
	data, err := json.Marshal(list)
	if err != nil {
		return fmt.Errorf("encode silences: %w", err)
	}
	if err := atomicfile.Write(s.file, data, 0o600); err != nil {
		return fmt.Errorf("save silences: %w", err)
	}
	s.snapBytes = int64(len(data))
	if err := s.log.Truncate(0); err != nil {
		return fmt.Errorf("empty silences log: %w", err)
	}
	if _, err := s.log.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("empty silences log: %w", err)
	}
	s.logBytes = 0
	return s.log.Sync()
}

// Snapshot folds the change log into the snapshot file (at shutdown).
func (s *Silences) Snapshot() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gc(s.now())
	return s.snapshot()
}

// newID returns a random UUID (version 4), as Alertmanager's silence IDs.
func newID() string { return uuid.NewString() }
