package ingest

import (
	"bytes"
	"context"
	"encoding/gob"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/prometheus/storage"
)

// TestPushGroupFiles: each group has its own file, written by its pushes
// only; a deleted group's file goes; a single groups.gob of the former
// format is turned into per-group files at start.
func TestPushGroupFiles(t *testing.T) {
	dir := t.TempDir()
	c := &clock{t: ingestTestNow()}
	e := newGroupEnv(t, dir, c, 0)
	e.push(t, http.MethodPut, "/metrics/job/a", "x 1\n", nil)
	e.push(t, http.MethodPut, "/metrics/job/b", "y 2\n", nil)
	files := func() map[string]time.Time {
		entries, err := os.ReadDir(groupsDir(e.state))
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]time.Time{}
		for _, en := range entries {
			info, err := en.Info()
			if err != nil {
				t.Fatal(err)
			}
			out[en.Name()] = info.ModTime()
		}
		return out
	}
	before := files()
	if len(before) != 2 {
		t.Fatalf("files %v, want one per group", before)
	}
	time.Sleep(20 * time.Millisecond) // so a rewrite shows in the modification time
	c.add(time.Second)
	e.push(t, http.MethodPost, "/metrics/job/a", "x 3\n", nil)
	after := files()
	aFile := filepath.Base(e.in.push.groupPath(`{job="a"}`))
	bFile := filepath.Base(e.in.push.groupPath(`{job="b"}`))
	if !after[aFile].After(before[aFile]) || !after[bFile].Equal(before[bFile]) {
		t.Errorf("a push to a rewrote %v → %v; only a's file should change", before, after)
	}
	e.push(t, http.MethodDelete, "/metrics/job/b", "", nil)
	if _, ok := files()[bFile]; ok {
		t.Errorf("deleted group's file kept")
	}

	// The former single file: read, written out per group, removed.
	dir2 := t.TempDir()
	legacy := filepath.Join(dir2, "pushgateway", "groups.gob")
	if err := os.MkdirAll(filepath.Dir(legacy), 0o700); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(pushState{Version: stateVersion, Groups: e.in.push.groups}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(legacy, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	e2 := newGroupEnv(t, dir2, c, 0)
	if _, err := os.Stat(legacy); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("groups.gob kept after migration: %v", err)
	}
	if got := len(e2.in.push.snapshot()); got != 1 {
		t.Fatalf("%d groups after migration, want 1", got)
	}
	_ = e2.db.Close()
	e3 := newGroupEnv(t, dir2, c, 0) // and again from the per-group files
	if got := e3.in.push.snapshot(); len(got) != 1 || got[0].Labels["job"] != "a" || got[0].Families["x"].Samples[0].Value != 3 {
		t.Fatalf("after restart: %+v", got)
	}
}

// failingAppendable's appenders fail at Commit (after rolling back).
type failingAppendable struct{ storage.AppendableV2 }

type failingAppender struct{ storage.AppenderV2 }

func (f failingAppendable) AppenderV2(ctx context.Context) storage.AppenderV2 {
	return failingAppender{f.AppendableV2.AppenderV2(ctx)}
}

func (a failingAppender) Commit() error {
	_ = a.AppenderV2.Rollback()
	return errors.New("disk on fire")
}

// TestPushGroupUnchangedWhenCommitFails: a push whose samples are not
// committed leaves the group, in memory and on disk, as it was.
func TestPushGroupUnchangedWhenCommitFails(t *testing.T) {
	dir := t.TempDir()
	c := &clock{t: ingestTestNow()}
	e := newGroupEnv(t, dir, c, 0)
	e.push(t, http.MethodPut, "/metrics/job/a", "x 1\n", nil)
	e.in.app = failingAppendable{e.db}
	if code, msg := do(t, e.in.TextPush(), http.MethodPut, "/metrics/job/a", nil, []byte("x 5\ny 1\n")); code != http.StatusInternalServerError {
		t.Fatalf("push with a failing commit: %d %q, want 500", code, msg)
	}
	if code, _ := do(t, e.in.TextPush(), http.MethodDelete, "/metrics/job/a", nil, nil); code != http.StatusInternalServerError {
		t.Fatalf("delete with a failing commit: %d, want 500", code)
	}
	check := func(in *Ingester, when string) {
		got := in.push.snapshot()
		if len(got) != 1 || len(got[0].Families) != 1 || got[0].Families["x"].Samples[0].Value != 1 || !got[0].PushTime.Equal(ingestTestNow()) {
			t.Fatalf("%s: group %+v, want x=1 as pushed first", when, got)
		}
	}
	check(e.in, "in memory")
	_ = e.db.Close()
	check(newGroupEnv(t, dir, c, 0).in, "after a restart")
}
