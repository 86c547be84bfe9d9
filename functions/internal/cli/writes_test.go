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

package cli

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cloud37/ansible-playbook-operator/functions/internal/lock"
	"github.com/cloud37/ansible-playbook-operator/functions/internal/registrytest"
)

const digestA = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

// pod is a manifest naming image.
func pod(name, image string) string {
	return fmt.Sprintf("apiVersion: v1\nkind: Pod\nmetadata:\n  name: %s\nspec:\n  containers:\n  - name: c\n    image: %s\n", name, image)
}

// lockFor is an ImageLock pinning each image (name:tag as written) to digestA.
func lockFor(t *testing.T, images ...string) string {
	t.Helper()
	l := lock.New()
	for _, img := range images {
		l.Set(lock.Key{Image: img}, digestA, time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	}
	b, err := l.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// lockedTree writes n manifests (one per directory given) and a lock that
// answers all of them, so `pin -w --mode locked` needs no registry.
func lockedTree(t *testing.T, dirs ...string) (manifests []string, lockPath string) {
	t.Helper()
	var images []string
	for i, d := range dirs {
		img := fmt.Sprintf("registry.example.com/team/app%d:1", i)
		images = append(images, img)
		m := filepath.Join(d, fmt.Sprintf("%c-deploy.yaml", 'a'+i))
		writeFile(t, m, pod(fmt.Sprintf("p%d", i), img))
		manifests = append(manifests, m)
	}
	lockPath = filepath.Join(t.TempDir(), "images.lock.yaml")
	writeFile(t, lockPath, lockFor(t, images...))
	return manifests, lockPath
}

// snapshot reads files, to compare after a run that must change nothing.
func snapshot(t *testing.T, paths ...string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, p := range paths {
		out[p] = read(t, p)
	}
	return out
}

func unchanged(t *testing.T, before map[string]string) {
	t.Helper()
	for p, want := range before {
		if got := read(t, p); got != want {
			t.Errorf("%s changed although the run failed:\n%s", p, got)
		}
	}
}

// tempFiles lists pin-images' temporary files left in dirs.
func tempFiles(t *testing.T, dirs ...string) []string {
	t.Helper()
	var out []string
	for _, d := range dirs {
		matches, err := filepath.Glob(filepath.Join(d, ".*.pin-images-*"))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, matches...)
	}
	return out
}

func pinLocked(t *testing.T, lockPath string, paths ...string) (string, string, error) {
	t.Helper()
	return run(t, "", append([]string{"pin", "-w", "--mode", "locked", "--lock", lockPath}, paths...)...)
}

// mountTmpfs mounts a tmpfs of size bytes at a new directory (root only)
// and unmounts it when the test ends.
func mountTmpfs(t *testing.T, size string, options ...string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root")
	}
	dir := t.TempDir()
	opts := append([]string{"size=" + size}, options...)
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", strings.Join(opts, ","), "tmpfs", dir).CombinedOutput(); err != nil {
		if strings.Contains(string(out), "permission denied") {
			t.Skipf("root without the right to mount here (a container without CAP_SYS_ADMIN?): %s", out)
		}
		t.Fatalf("mount tmpfs: %v\n%s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("umount", dir).Run() })
	return dir
}

func TestPinWrite_allOrNothing(t *testing.T) {
	t.Run("a read-only file is refused naming it, even for its owner and root, and no file is written", func(t *testing.T) {
		a, b := t.TempDir(), t.TempDir()
		manifests, lockPath := lockedTree(t, a, b)
		if err := os.Chmod(manifests[1], 0o444); err != nil {
			t.Fatal(err)
		}
		before := snapshot(t, manifests...)
		stderr := wantFailure(t, "", []string{manifests[1], "read-only", "no file was written"},
			"pin", "-w", "--mode", "locked", "--lock", lockPath, a, b)
		unchanged(t, before)
		if strings.Contains(stderr, "wrote ") {
			t.Errorf("stderr claims a write:\n%s", stderr)
		}
	})
	t.Run("an unwritable directory writes no file", func(t *testing.T) {
		a := t.TempDir()
		b := filepath.Join(t.TempDir(), "b")
		manifests, lockPath := lockedTree(t, a, b)
		if os.Geteuid() == 0 {
			// root writes into any directory: make it a read-only mount.
			b = mountTmpfs(t, "1m")
			manifests[1] = filepath.Join(b, "b-deploy.yaml")
			writeFile(t, manifests[1], pod("p1", "registry.example.com/team/app1:1"))
			if out, err := exec.Command("mount", "-o", "remount,ro", b).CombinedOutput(); err != nil {
				t.Fatalf("remount ro: %v\n%s", err, out)
			}
		} else if err := os.Chmod(b, 0o555); err != nil {
			t.Fatal(err)
		}
		before := snapshot(t, manifests...)
		wantFailure(t, "", []string{manifests[1], "no file was written"}, "pin", "-w", "--mode", "locked", "--lock", lockPath, a, b)
		unchanged(t, before)
		if left := tempFiles(t, a, b); len(left) > 0 {
			t.Errorf("temporary files left: %v", left)
		}
	})
	t.Run("a full disk writes no file", func(t *testing.T) {
		a := t.TempDir()
		full := mountTmpfs(t, "64k")
		manifests, lockPath := lockedTree(t, a, full)
		// Fill the file system, so the temporary file cannot be written.
		filler, err := os.Create(filepath.Join(full, "filler"))
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 4096)
		for {
			if _, err := filler.Write(buf); err != nil {
				break
			}
		}
		filler.Close()
		before := snapshot(t, manifests...)
		wantFailure(t, "", []string{manifests[1], "no space left on device", "no file was written"},
			"pin", "-w", "--mode", "locked", "--lock", lockPath, a, full)
		unchanged(t, before)
		if left := tempFiles(t, a, full); len(left) > 0 {
			t.Errorf("temporary files left: %v", left)
		}
	})
	t.Run("every file written keeps its mode and owner, and is reported", func(t *testing.T) {
		a, b := t.TempDir(), t.TempDir()
		manifests, lockPath := lockedTree(t, a, b)
		if err := os.Chmod(manifests[0], 0o640); err != nil {
			t.Fatal(err)
		}
		if os.Geteuid() == 0 {
			if err := os.Chown(manifests[1], 1234, 5678); err != nil {
				t.Fatal(err)
			}
		}
		_, stderr, err := pinLocked(t, lockPath, a, b)
		if err != nil {
			t.Fatalf("pin -w: %v\n%s", err, stderr)
		}
		for _, m := range manifests {
			if !strings.Contains(read(t, m), "@"+digestA) {
				t.Errorf("%s was not pinned", m)
			}
			if !strings.Contains(stderr, "wrote "+m+"\n") {
				t.Errorf("stderr does not report %s:\n%s", m, stderr)
			}
		}
		if info, err := os.Stat(manifests[0]); err != nil || info.Mode().Perm() != 0o640 {
			t.Errorf("mode of %s = %v, want 0640 (%v)", manifests[0], info.Mode().Perm(), err)
		}
		if os.Geteuid() == 0 {
			info, err := os.Stat(manifests[1])
			if err != nil {
				t.Fatal(err)
			}
			if st := info.Sys().(*syscall.Stat_t); st.Uid != 1234 || st.Gid != 5678 {
				t.Errorf("owner of %s = %d:%d, want 1234:5678", manifests[1], st.Uid, st.Gid)
			}
		}
	})
}

func TestPinWrite_concurrentEdits(t *testing.T) {
	reg := registrytest.StartInProcess(t)
	reg.PushRandom(t, "team/app:1")
	for name, edit := range map[string]func(path string) error{
		"a file edited after it was read is not overwritten": func(path string) error {
			return os.WriteFile(path, []byte(pod("p", "nginx:1.25")+"# someone else's edit\n"), 0o644)
		},
		"a file deleted after it was read is not re-created": os.Remove,
	} {
		t.Run(name, func(t *testing.T) {
			proxy := registrytest.NewProxy(t, reg.Host)
			dir := t.TempDir()
			path := filepath.Join(dir, "deploy.yaml")
			writeFile(t, path, pod("p", proxy.Host+"/team/app:1"))
			held, release := proxy.Hold()
			done := make(chan error, 1)
			var stderr string
			go func() {
				var err error
				_, stderr, err = run(t, "", "pin", "-w", dir)
				done <- err
			}()
			<-held // pin-images has read the file and asks the registry
			if err := edit(path); err != nil {
				t.Fatal(err)
			}
			after, _ := os.ReadFile(path)
			release()
			err := <-done
			if err == nil {
				t.Fatalf("pin -w succeeded; stderr:\n%s", stderr)
			}
			if msg := err.Error(); !strings.Contains(msg, path) || !strings.Contains(msg, "after pin-images read it") {
				t.Errorf("error does not name the file and what happened: %v", err)
			}
			now, statErr := os.ReadFile(path)
			if string(now) != string(after) || (after == nil) != os.IsNotExist(statErr) {
				t.Errorf("the file is %q (%v), want it as the other editor left it (%q)", now, statErr, after)
			}
			if left := tempFiles(t, dir); len(left) > 0 {
				t.Errorf("temporary files left: %v", left)
			}
		})
	}
}

func TestPinWrite_links(t *testing.T) {
	t.Run("a symlinked file is written through to its target", func(t *testing.T) {
		target := t.TempDir()
		manifests, lockPath := lockedTree(t, target)
		dir := t.TempDir()
		link := filepath.Join(dir, "deploy.yaml")
		if err := os.Symlink(manifests[0], link); err != nil {
			t.Fatal(err)
		}
		if _, stderr, err := pinLocked(t, lockPath, dir); err != nil {
			t.Fatalf("pin -w: %v\n%s", err, stderr)
		}
		if info, err := os.Lstat(link); err != nil || info.Mode()&os.ModeSymlink == 0 {
			t.Fatalf("%s is no longer a symlink (%v)", link, err)
		}
		if !strings.Contains(read(t, manifests[0]), "@"+digestA) {
			t.Errorf("the target was not pinned:\n%s", read(t, manifests[0]))
		}
	})
	t.Run("a hard-linked file is refused naming it, and both names keep their content", func(t *testing.T) {
		dir := t.TempDir()
		manifests, lockPath := lockedTree(t, dir)
		other := filepath.Join(t.TempDir(), "other-name.yaml")
		if err := os.Link(manifests[0], other); err != nil {
			t.Fatal(err)
		}
		before := snapshot(t, manifests[0], other)
		wantFailure(t, "", []string{manifests[0], "hard links"}, "pin", "-w", "--mode", "locked", "--lock", lockPath, dir)
		unchanged(t, before)
	})
	t.Run("a symlinked directory inside a walk is named as skipped", func(t *testing.T) {
		root, elsewhere := t.TempDir(), t.TempDir()
		manifests, lockPath := lockedTree(t, root, elsewhere)
		link := filepath.Join(root, "linked")
		if err := os.Symlink(elsewhere, link); err != nil {
			t.Fatal(err)
		}
		_, stderr, err := pinLocked(t, lockPath, root)
		if err != nil {
			t.Fatalf("pin -w: %v\n%s", err, stderr)
		}
		if !strings.Contains(stderr, "skipped "+link) {
			t.Errorf("stderr does not name the skipped directory %s:\n%s", link, stderr)
		}
		if strings.Contains(read(t, manifests[1]), "@") {
			t.Errorf("a file behind the skipped link was pinned")
		}
	})
	t.Run("a symlinked directory given as a PATH is walked", func(t *testing.T) {
		target := t.TempDir()
		manifests, lockPath := lockedTree(t, target)
		link := filepath.Join(t.TempDir(), "linked")
		if err := os.Symlink(target, link); err != nil {
			t.Fatal(err)
		}
		if _, stderr, err := pinLocked(t, lockPath, link); err != nil {
			t.Fatalf("pin -w: %v\n%s", err, stderr)
		}
		if !strings.Contains(read(t, manifests[0]), "@"+digestA) {
			t.Errorf("the file in the linked directory was not pinned")
		}
	})
}

func TestCLI_specialFiles(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo.yaml")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	manifests, _ := lockedTree(t, t.TempDir())
	for name, tc := range map[string]struct {
		args []string
		want []string
	}{
		"/dev/zero as a PATH is refused, not read without end": {
			args: []string{"pin", "/dev/zero"}, want: []string{"/dev/zero", "a device"},
		},
		"a FIFO as a PATH is refused, not waited on": {
			args: []string{"verify", fifo}, want: []string{fifo, "a FIFO"},
		},
		"a FIFO found in a walk is refused": {
			args: []string{"verify", dir}, want: []string{fifo, "a FIFO"},
		},
		"--config /dev/zero is refused": {
			args: []string{"pin", "--config", "/dev/zero", manifests[0]}, want: []string{"--config", "a device"},
		},
		"--lock on a FIFO is refused": {
			args: []string{"pin", "--mode", "locked", "--lock", fifo, manifests[0]}, want: []string{"--lock", "a FIFO"},
		},
		"lock -o /dev/full is refused": {
			args: []string{"lock", "-o", "/dev/full", manifests[0]}, want: []string{"/dev/full", "not a regular file"},
		},
		"lock -o /dev/stdout is refused, pointing at stdout": {
			args: []string{"lock", "-o", "/dev/stdout", manifests[0]}, want: []string{"/dev/stdout", "leave -o out"},
		},
	} {
		t.Run(name, func(t *testing.T) {
			wantFailure(t, "", tc.want, tc.args...)
		})
	}
}

func TestLock_keepsOtherDocuments(t *testing.T) {
	dir := t.TempDir()
	manifests, _ := lockedTree(t, dir)
	lockPath := filepath.Join(t.TempDir(), "bundle.yaml")
	other := "# settings kept beside the lock\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings   # a comment\ndata:\n  a: \"1\"\n"
	writeFile(t, lockPath, other+"---\n"+lockFor(t, "registry.example.com/team/app0:1")+"---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: last\n")
	// A second image, resolved from the registry, updates the lock.
	reg := registrytest.StartInProcess(t)
	digest := reg.PushRandom(t, "team/new:1")
	writeFile(t, filepath.Join(dir, "new.yaml"), pod("n", reg.Host+"/team/new:1"))

	if _, stderr, err := run(t, "", "pin", "-w", "--lock", lockPath, dir); err != nil {
		t.Fatalf("pin -w: %v\n%s", err, stderr)
	}
	got := read(t, lockPath)
	if !strings.HasPrefix(got, other+"---\n") || !strings.HasSuffix(got, "---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: last\n") {
		t.Errorf("the lock file lost its other documents:\n%s", got)
	}
	docs := strings.Split(got, "---\n")
	l, err := lock.Parse([]byte(docs[1]))
	if err != nil {
		t.Fatalf("lock document: %v\n%s", err, got)
	}
	if e, ok := l.Get(lock.Key{Image: reg.Host + "/team/new:1"}); !ok || e.Digest != digest {
		t.Errorf("new entry = %+v, want digest %s", e, digest)
	}
	if !strings.Contains(read(t, manifests[0]), "@"+digestA) {
		t.Errorf("the locked manifest was not pinned")
	}
}

func TestLock_concurrentUpdatersKeepBothEntries(t *testing.T) {
	reg := registrytest.StartInProcess(t)
	lockPath := filepath.Join(t.TempDir(), "images.lock.yaml")
	writeFile(t, lockPath, lockFor(t, "registry.example.com/team/old:1"))

	var wg sync.WaitGroup
	want := map[string]string{} // lock entry image -> digest
	errs := make([]error, 2)
	var releases []func()
	for i, repo := range []string{"team/one:1", "team/two:1"} {
		digest := reg.PushRandom(t, repo)
		proxy := registrytest.NewProxy(t, reg.Host)
		held, release := proxy.Hold()
		releases = append(releases, release)
		manifest := pod("p", proxy.Host+"/"+repo)
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, stderr, err := run(t, manifest, "lock", "-o", lockPath)
			if err != nil {
				errs[i] = fmt.Errorf("%v: %s", err, stderr)
			}
		}()
		<-held // this run has read the lock and waits for the registry
		want[proxy.Host+"/"+repo] = digest
	}
	for _, release := range releases {
		release()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	l, err := lock.Parse([]byte(read(t, lockPath)))
	if err != nil {
		t.Fatal(err)
	}
	for image, digest := range want {
		if e, ok := l.Get(lock.Key{Image: image}); !ok || e.Digest != digest {
			t.Errorf("entry %s = %+v, want digest %s (the other run overwrote it)", image, e, digest)
		}
	}
	if _, ok := l.Get(lock.Key{Image: "registry.example.com/team/old:1"}); !ok {
		t.Errorf("the entry both runs read was lost:\n%s", read(t, lockPath))
	}
}

// TestSignals_leaveNoTemporaryFiles runs the real binary: pin -w writes its
// temporary files, then waits for the lock file's directory lock, which the
// test holds; a signal then must end it with no temporary file left and no
// file changed.
func TestSignals_leaveNoTemporaryFiles(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "pin-images")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/pin-images").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	for name, sig := range map[string]syscall.Signal{"SIGINT": syscall.SIGINT, "SIGTERM": syscall.SIGTERM} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			manifests, lockPath := lockedTree(t, dir, dir)
			lockDir := filepath.Dir(lockPath)
			// A new image in the lock's own directory makes the run update
			// the lock, so it waits for the lock's directory.
			before := snapshot(t, append(manifests, lockPath)...)
			d, err := os.Open(lockDir)
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			if err := syscall.Flock(int(d.Fd()), syscall.LOCK_EX); err != nil {
				t.Fatal(err)
			}
			reg := registrytest.StartInProcess(t)
			reg.PushRandom(t, "team/extra:1")
			writeFile(t, filepath.Join(dir, "z-extra.yaml"), pod("z", reg.Host+"/team/extra:1"))
			before[filepath.Join(dir, "z-extra.yaml")] = read(t, filepath.Join(dir, "z-extra.yaml"))

			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			cmd := exec.CommandContext(ctx, bin, "pin", "-w", "--lock", lockPath, dir)
			var stderr strings.Builder
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait() }()
			// Wait until the temporary files exist (the run then waits for
			// the lock), or the run ends without waiting.
			for len(tempFiles(t, dir)) < 3 {
				select {
				case err := <-exited:
					t.Fatalf("pin -w ended (%v) without waiting for the lock file's lock; stderr:\n%s", err, stderr.String())
				case <-time.After(10 * time.Millisecond):
				}
			}
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			err = <-exited
			if err == nil {
				t.Fatalf("pin -w exited 0 after %s", name)
			}
			if !strings.Contains(stderr.String(), "interrupted") {
				t.Errorf("stderr does not say interrupted:\n%s", stderr.String())
			}
			if left := tempFiles(t, dir, lockDir); len(left) > 0 {
				t.Errorf("temporary files left after %s: %v", name, left)
			}
			unchanged(t, before)
		})
	}
}
