/*
Copyright 2026 The Ansible Playbook Operator Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

package files

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// ErrInterrupted is returned when the context ends (SIGINT, SIGTERM) before
// the first rename: no file was changed and no temporary file is left.
var ErrInterrupted = errors.New("interrupted")

// Txn is a set of file replacements that happen all or nothing.
type Txn struct {
	replaces []replacement
	merges   []merge
	// LockWait bounds the wait for another pin-images holding a lock file
	// (default 2 minutes).
	LockWait time.Duration
}

type replacement struct {
	snap *Snapshot
	data []byte
}

type merge struct {
	path string
	fn   func(current []byte, exists bool) ([]byte, error)
}

// Replace writes data over a file read before. The file must still be as it
// was read when the transaction commits.
func (t *Txn) Replace(snap *Snapshot, data []byte) {
	t.replaces = append(t.replaces, replacement{snap: snap, data: data})
}

// Merge writes what fn makes of the file's current content (nil and false
// when it does not exist yet), read under an exclusive lock that every
// pin-images merging into the same directory takes, so that two runs
// updating one lock keep both their entries.
func (t *Txn) Merge(path string, fn func(current []byte, exists bool) ([]byte, error)) {
	t.merges = append(t.merges, merge{path: path, fn: fn})
}

// pending is a temporary file written beside its target.
type pending struct {
	shown, target, tmp string
	// old, existed and owner are the target's before, to restore it after
	// a failed rename.
	old     []byte
	existed bool
	owner   *unix.Stat_t
}

// Commit writes every temporary file, takes the locks and merges, checks
// that no replaced file changed, then renames; it returns the files written
// (as named). On an error before the renames nothing is changed; a rename
// that fails undoes the renames before it.
func (t *Txn) Commit(ctx context.Context) (written []string, err error) {
	var temps []pending
	renaming := false
	defer func() {
		for _, p := range temps {
			_ = os.Remove(p.tmp) // the renamed ones are gone already
		}
		if err != nil && !renaming && !errors.Is(err, ErrInterrupted) {
			err = fmt.Errorf("%w: no file was written", err)
		}
	}()
	seen := map[string]bool{}
	for _, r := range t.replaces {
		if seen[r.snap.Real] {
			return nil, fmt.Errorf("failed to write %q: it is reached twice (%s): name it once", r.snap.Path, r.snap.Real)
		}
		seen[r.snap.Real] = true
		if err := checkUnchanged(r.snap); err != nil {
			return nil, err
		}
		if err := checkWritable(r.snap.Path, r.snap.Real, &r.snap.stat); err != nil {
			return nil, err
		}
		p, err := writeTemp(r.snap.Path, r.snap.Real, r.data, &r.snap.stat)
		if err != nil {
			return nil, err
		}
		p.old, p.existed, p.owner = r.snap.Data, true, &r.snap.stat
		temps = append(temps, p)
		if ctx.Err() != nil {
			return nil, ErrInterrupted
		}
	}
	unlock, merged, err := t.merge(ctx, seen)
	defer unlock()
	temps = append(temps, merged...)
	if err != nil {
		return nil, err
	}
	// Someone may have edited a file while the temporary files were written.
	for _, r := range t.replaces {
		if err := checkUnchanged(r.snap); err != nil {
			return nil, err
		}
	}
	if ctx.Err() != nil {
		return nil, ErrInterrupted
	}
	renaming = true
	return rename(temps)
}

// merge takes each merged file's directory lock, reads the file and writes
// the merged content to a temporary file.
func (t *Txn) merge(ctx context.Context, replaced map[string]bool) (unlock func(), temps []pending, err error) {
	var locks []*os.File
	unlock = func() {
		for _, l := range locks {
			_ = l.Close() // closing releases the flock
		}
	}
	wait := t.LockWait
	if wait <= 0 {
		wait = 2 * time.Minute
	}
	for _, m := range t.merges {
		real, err := resolveNew(m.path)
		if err != nil {
			return unlock, temps, err
		}
		if replaced[real] {
			return unlock, temps, fmt.Errorf("failed to write %q: it holds both the lock and images to pin: keep the ImageLock in a file of its own", m.path)
		}
		replaced[real] = true
		l, err := lockDir(ctx, filepath.Dir(real), wait)
		if err != nil {
			return unlock, temps, fmt.Errorf("failed to lock %q: %w", m.path, err)
		}
		locks = append(locks, l)
		var st unix.Stat_t
		current, exists := []byte(nil), true
		switch err := unix.Stat(real, &st); {
		case isNotExist(err):
			exists = false
		case err != nil:
			return unlock, temps, fmt.Errorf("failed to read %q: %w", m.path, err)
		default:
			snap, err := Read(real)
			if err != nil {
				return unlock, temps, err
			}
			current, st = snap.Data, snap.stat
			if err := checkWritable(m.path, real, &st); err != nil {
				return unlock, temps, err
			}
		}
		data, err := m.fn(current, exists)
		if err != nil {
			return unlock, temps, err
		}
		var owner *unix.Stat_t
		if exists {
			owner = &st
		}
		p, err := writeTemp(m.path, real, data, owner)
		if err != nil {
			return unlock, temps, err
		}
		p.old, p.existed, p.owner = current, exists, owner
		temps = append(temps, p)
	}
	return unlock, temps, nil
}

// resolveNew resolves symlinks of a file that may not exist yet.
func resolveNew(path string) (string, error) {
	real, err := filepath.EvalSymlinks(path)
	if err == nil {
		return real, nil
	}
	if !isNotExist(err) {
		return "", fmt.Errorf("failed to write %q: %w", path, err)
	}
	dir, err := filepath.EvalSymlinks(filepath.Dir(path))
	if err != nil {
		return "", fmt.Errorf("failed to write %q: %w", path, err)
	}
	return filepath.Join(dir, filepath.Base(path)), nil
}

// lockDir takes an exclusive flock on a directory, polling so that the wait
// ends with ctx (a blocking flock is restarted after a signal, and would
// keep the process from cleaning up) or after wait.
func lockDir(ctx context.Context, dir string, wait time.Duration) (*os.File, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(wait)
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			return f, nil
		}
		if !errors.Is(err, unix.EWOULDBLOCK) {
			f.Close()
			return nil, err
		}
		if time.Now().After(deadline) {
			f.Close()
			return nil, fmt.Errorf("another pin-images has held the lock of %s for %v", dir, wait)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, ErrInterrupted
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// checkUnchanged fails when the file is no longer what was read: edited,
// replaced or deleted by someone else. It is not overwritten or re-created.
func checkUnchanged(s *Snapshot) error {
	var st unix.Stat_t
	if err := unix.Stat(s.Real, &st); err != nil {
		if isNotExist(err) {
			return fmt.Errorf("failed to write %q: it was deleted after pin-images read it: nothing was written; run pin-images again", s.Path)
		}
		return fmt.Errorf("failed to write %q: %w", s.Path, err)
	}
	if st.Dev != s.stat.Dev || st.Ino != s.stat.Ino {
		return fmt.Errorf("failed to write %q: it was replaced after pin-images read it: nothing was written; run pin-images again", s.Path)
	}
	now, err := Read(s.Real)
	if err != nil {
		return err
	}
	if !bytes.Equal(now.Data, s.Data) {
		return fmt.Errorf("failed to write %q: it was changed after pin-images read it: nothing was written; run pin-images again", s.Path)
	}
	return nil
}

// checkWritable refuses what pin-images must not replace: a read-only file
// (no write permission for anyone: refused for its owner and root too, who
// could write it anyway), a file this user may not write, and a file with
// other hard links, which a rename would split from its new content.
func checkWritable(shown, real string, st *unix.Stat_t) error {
	if st.Mode&0o222 == 0 {
		return fmt.Errorf("failed to write %q: it is read-only (mode %04o): pin-images does not write read-only files; make it writable (chmod u+w %s) or leave it out", shown, st.Mode&0o7777, shown)
	}
	if err := unix.Access(real, unix.W_OK); err != nil {
		return fmt.Errorf("failed to write %q: %w", shown, err)
	}
	if st.Nlink > 1 {
		return fmt.Errorf("failed to write %q: it has %d hard links, and pin-images replaces files by rename, which would leave the other names with the old content: break the link (cp %s %s.tmp && mv %s.tmp %s) or leave it out",
			shown, st.Nlink, shown, shown, shown, shown)
	}
	return nil
}

// writeTemp writes data to a temporary file beside real, with the mode and
// owner of the file it replaces (owner nil: 0644, this process's owner),
// and fsyncs it.
func writeTemp(shown, real string, data []byte, owner *unix.Stat_t) (pending, error) {
	fail := func(err error) (pending, error) {
		return pending{}, fmt.Errorf("failed to write %q: %w", shown, err)
	}
	dir, base := filepath.Split(real)
	f, err := os.CreateTemp(dir, "."+base+".pin-images-*")
	if err != nil {
		return fail(err)
	}
	p := pending{shown: shown, target: real, tmp: f.Name()}
	err = func() error {
		if _, err := f.Write(data); err != nil {
			return err
		}
		mode := os.FileMode(0o644)
		if owner != nil {
			mode = os.FileMode(owner.Mode & 0o777)
			if owner.Mode&unix.S_ISUID != 0 {
				mode |= os.ModeSetuid
			}
			if owner.Mode&unix.S_ISGID != 0 {
				mode |= os.ModeSetgid
			}
			if int(owner.Uid) != os.Geteuid() || int(owner.Gid) != os.Getegid() {
				if err := f.Chown(int(owner.Uid), int(owner.Gid)); err != nil {
					return fmt.Errorf("cannot keep its owner (uid %d, gid %d): %w", owner.Uid, owner.Gid, err)
				}
			}
		}
		if err := f.Chmod(mode); err != nil {
			return err
		}
		return f.Sync()
	}()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(p.tmp)
		return fail(err)
	}
	return p, nil
}

// rename puts every temporary file in place and fsyncs the directories.
// When a rename fails, the files renamed before it get their old content
// back, so the set stays all or nothing.
func rename(temps []pending) ([]string, error) {
	var done []pending
	for _, p := range temps {
		if err := os.Rename(p.tmp, p.target); err != nil {
			restored := restore(done)
			return nil, fmt.Errorf("failed to write %q: %w: %s", p.shown, err, restored)
		}
		done = append(done, p)
	}
	dirs := map[string]bool{}
	var written []string
	for _, p := range done {
		written = append(written, p.shown)
		dirs[filepath.Dir(p.target)] = true
	}
	for dir := range dirs {
		if err := syncDir(dir); err != nil {
			return written, fmt.Errorf("failed to sync directory %q after writing %s: %w", dir, strings.Join(written, ", "), err)
		}
	}
	return written, nil
}

// restore undoes renames, and says what it did.
func restore(done []pending) string {
	if len(done) == 0 {
		return "no file was written"
	}
	var failed []string
	for _, p := range done {
		var err error
		if p.existed {
			var q pending
			if q, err = writeTemp(p.shown, p.target, p.old, p.owner); err == nil {
				err = os.Rename(q.tmp, p.target)
			}
		} else {
			err = os.Remove(p.target)
		}
		if err != nil {
			failed = append(failed, p.shown)
		}
	}
	if len(failed) > 0 {
		return "these files were written and could not be restored: " + strings.Join(failed, ", ")
	}
	return "the files written before it were restored"
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
