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
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestTxn_aFailedRenameRestoresTheFilesRenamedBeforeIt makes the second of
// two renames fail for real: its target is a mount point (a file bound over
// it), which rename refuses with EBUSY after every check has passed.
func TestTxn_aFailedRenameRestoresTheFilesRenamedBeforeIt(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("a bind mount needs root")
	}
	dir := t.TempDir()
	first, second := filepath.Join(dir, "a.yaml"), filepath.Join(dir, "b.yaml")
	write(t, first, "a: old\n")
	write(t, second, "b: old\n")
	source := filepath.Join(t.TempDir(), "source.yaml")
	write(t, source, "b: old\n")
	if out, err := exec.Command("mount", "--bind", source, second).CombinedOutput(); err != nil {
		t.Skipf("bind mount refused here: %v\n%s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("umount", second).Run() })

	var txn Txn
	for path, data := range map[string]string{first: "a: new\n", second: "b: new\n"} {
		snap, err := Read(path)
		if err != nil {
			t.Fatal(err)
		}
		txn.Replace(snap, []byte(data))
	}
	// Replacements are renamed in the order they were added; sort them so a
	// comes first.
	if txn.replaces[0].snap.Path != first {
		txn.replaces[0], txn.replaces[1] = txn.replaces[1], txn.replaces[0]
	}
	written, err := txn.Commit(context.Background())
	if err == nil {
		t.Fatalf("Commit wrote %v over a mount point", written)
	}
	if !strings.Contains(err.Error(), second) || !strings.Contains(err.Error(), "restored") {
		t.Errorf("error does not name the file and the restore: %v", err)
	}
	if len(written) != 0 {
		t.Errorf("Commit reports %v written", written)
	}
	if got := read(t, first); got != "a: old\n" {
		t.Errorf("%s = %q after the failed commit, want its old content back", first, got)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".*.pin-images-*")); len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

func TestWalk_namesWhatItSkips(t *testing.T) {
	root, other := t.TempDir(), t.TempDir()
	write(t, filepath.Join(root, "a.yaml"), "a: 1\n")
	write(t, filepath.Join(root, "notes.txt"), "not yaml\n")
	if err := os.Mkdir(filepath.Join(root, ".hidden"), 0o755); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(root, ".hidden", "h.yaml"), "h: 1\n")
	write(t, filepath.Join(other, "o.yml"), "o: 1\n")
	if err := os.Symlink(other, filepath.Join(root, "linked")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(other, "o.yml"), filepath.Join(root, "file-link.yml")); err != nil {
		t.Fatal(err)
	}
	names, skipped, err := Walk([]string{root}, WalkOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{filepath.Join(root, "a.yaml"), filepath.Join(root, "file-link.yml")}
	if strings.Join(names, ",") != strings.Join(want, ",") {
		t.Errorf("names = %v, want %v", names, want)
	}
	if len(skipped) != 1 || skipped[0] != filepath.Join(root, "linked") {
		t.Errorf("skipped = %v, want the symlinked directory", skipped)
	}
}
