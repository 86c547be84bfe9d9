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
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cloud37/ansible-playbook-operator/functions/internal/lock"
	"github.com/cloud37/ansible-playbook-operator/functions/internal/registrytest"
)

// run executes the command line like main does and returns stdout, stderr and the error.
func run(t *testing.T, stdin string, args ...string) (string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := Run(context.Background(), args, IO{Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errOut})
	return out.String(), errOut.String(), err
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
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

const deployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  template:
    spec:
      containers:
      - name: app
        image: %REG%/team/app:1.0   # the application
      - name: multi
        image: %REG%/team/multi:1
`

// TestCLI_realRegistry runs resolve, pin, verify and lock against Debian's
// docker-registry with htpasswd auth, credentials from DOCKER_CONFIG.
func TestCLI_realRegistry(t *testing.T) {
	reg := registrytest.Start(t, registrytest.Options{Auth: registrytest.AuthBasic})
	appDigest := reg.PushRandom(t, "team/app:1.0")
	index, children := reg.PushIndex(t, "team/multi:1", "linux/amd64", "linux/arm64")
	t.Setenv("DOCKER_CONFIG", reg.WriteDockerConfig(t))

	dir := t.TempDir()
	manifest := filepath.Join(dir, "deploy.yaml")
	original := strings.ReplaceAll(deployment, "%REG%", reg.Host)
	writeFile(t, manifest, original)

	t.Run("resolve prints REF@digest per line", func(t *testing.T) {
		out, stderr, err := run(t, "", "resolve", reg.Host+"/team/app:1.0", reg.Host+"/team/multi:1")
		if err != nil {
			t.Fatalf("resolve: %v\n%s", err, stderr)
		}
		want := reg.Host + "/team/app:1.0@" + appDigest + "\n" + reg.Host + "/team/multi:1@" + index + "\n"
		if out != want {
			t.Errorf("stdout = %q, want %q", out, want)
		}
	})
	t.Run("resolve --platform prints the child digest", func(t *testing.T) {
		out, stderr, err := run(t, "", "resolve", "--platform", "linux/arm64", reg.Host+"/team/multi:1")
		if err != nil {
			t.Fatalf("resolve: %v\n%s", err, stderr)
		}
		if want := reg.Host + "/team/multi:1@" + children["linux/arm64"] + "\n"; out != want {
			t.Errorf("stdout = %q, want %q", out, want)
		}
	})
	t.Run("pin without -w shows the change and writes nothing", func(t *testing.T) {
		out, stderr, err := run(t, "", "pin", dir)
		if err != nil {
			t.Fatalf("pin: %v\n%s", err, stderr)
		}
		if !strings.Contains(out, "-> "+reg.Host+"/team/app:1.0@"+appDigest) {
			t.Errorf("stdout does not show the change: %s", out)
		}
		if read(t, manifest) != original {
			t.Error("pin without -w changed the file")
		}
	})
	t.Run("pin -w splices the digests", func(t *testing.T) {
		if _, stderr, err := run(t, "", "pin", "-w", dir); err != nil {
			t.Fatalf("pin -w: %v\n%s", err, stderr)
		}
		want := strings.NewReplacer(
			"team/app:1.0   #", "team/app:1.0@"+appDigest+"   #",
			"team/multi:1\n", "team/multi:1@"+index+"\n").Replace(original)
		if got := read(t, manifest); got != want {
			t.Errorf("file after pin -w:\n%s\nwant:\n%s", got, want)
		}
	})
	t.Run("verify passes on fresh pins", func(t *testing.T) {
		if _, stderr, err := run(t, "", "verify", "--fail-on-drift", dir); err != nil {
			t.Fatalf("verify: %v\n%s", err, stderr)
		}
	})

	// The tag moves: a drift warning, an error with --fail-on-drift.
	reg.PushRandom(t, "team/app:1.0")
	t.Run("verify warns on drift", func(t *testing.T) {
		_, stderr, err := run(t, "", "verify", dir)
		if err != nil {
			t.Fatalf("verify: %v\n%s", err, stderr)
		}
		if !strings.Contains(stderr, "warning: digest verification failed") {
			t.Errorf("stderr has no drift warning:\n%s", stderr)
		}
	})
	t.Run("verify --fail-on-drift fails on drift", func(t *testing.T) {
		_, stderr, err := run(t, "", "verify", "--fail-on-drift", dir)
		if !errors.Is(err, ErrFailed) || !strings.Contains(stderr, "error: digest verification failed") {
			t.Fatalf("err = %v, stderr:\n%s", err, stderr)
		}
		if !strings.Contains(stderr, "deploy.yaml: Deployment/web spec.template.spec.containers[name=app].image:") {
			t.Errorf("stderr lines must name file, object and field:\n%s", stderr)
		}
	})
	// The pinned digest vanishes: an error even without --fail-on-drift.
	reg.Delete(t, "team/app", appDigest)
	t.Run("verify fails when the pinned digest vanished", func(t *testing.T) {
		_, stderr, err := run(t, "", "verify", dir)
		if !errors.Is(err, ErrFailed) || !strings.Contains(stderr, "manifest unknown: pinned digest "+appDigest+" no longer exists") {
			t.Fatalf("err = %v, stderr:\n%s", err, stderr)
		}
	})
}

func TestCLI_lockThenLockedOffline(t *testing.T) {
	reg := registrytest.Start(t, registrytest.Options{})
	appDigest := reg.PushRandom(t, "team/app:1.0")
	index, _ := reg.PushIndex(t, "team/multi:1", "linux/amd64", "linux/arm64")
	// The manifests reach the registry through a proxy that is closed before
	// the locked run, so that run provably needs no network.
	proxy := registrytest.NewProxy(t, reg.Host)
	src := strings.ReplaceAll(deployment, "%REG%", proxy.Host)

	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "deploy.yaml"), src)
	lockFile := filepath.Join(t.TempDir(), "images.lock.yaml")

	// kustomize build DIR | pin-images lock -o FILE
	if _, stderr, err := run(t, src, "lock", "-o", lockFile); err != nil {
		t.Fatalf("lock: %v\n%s", err, stderr)
	}
	first := read(t, lockFile)
	lk, err := lock.Parse([]byte(first))
	if err != nil {
		t.Fatal(err)
	}
	if e, ok := lk.Get(lock.Key{Image: proxy.Host + "/team/app:1.0"}); !ok || e.Digest != appDigest {
		t.Errorf("lock entry for app = %+v, want digest %s", e, appDigest)
	}
	if e, ok := lk.Get(lock.Key{Image: proxy.Host + "/team/multi:1"}); !ok || e.Digest != index {
		t.Errorf("lock entry for multi = %+v, want the index digest %s", e, index)
	}
	// A second lock run changes nothing, byte for byte.
	if _, stderr, err := run(t, src, "lock", "-o", lockFile); err != nil {
		t.Fatalf("lock again: %v\n%s", err, stderr)
	}
	if read(t, lockFile) != first {
		t.Error("a second lock run changed the lock")
	}

	proxy.Close()
	if _, stderr, err := run(t, "", "pin", "-w", "--mode", "locked", "--lock", lockFile, dir); err != nil {
		t.Fatalf("pin --mode locked: %v\n%s", err, stderr)
	}
	if got := read(t, filepath.Join(dir, "deploy.yaml")); !strings.Contains(got, "team/app:1.0@"+appDigest) || !strings.Contains(got, "team/multi:1@"+index) {
		t.Errorf("locked pin did not use the lock:\n%s", got)
	}
}

func TestCLI_unauthorizedWritesNothing(t *testing.T) {
	reg := registrytest.Start(t, registrytest.Options{Auth: registrytest.AuthToken})
	reg.PushRandom(t, "team/app:1.0")
	t.Setenv("DOCKER_CONFIG", t.TempDir()) // no credentials
	dir := t.TempDir()
	src := strings.ReplaceAll(deployment, "%REG%", reg.Host)
	src = strings.ReplaceAll(src, reg.Host+"/team/multi:1", reg.Host+"/team/app:1.0")
	writeFile(t, filepath.Join(dir, "deploy.yaml"), src)

	_, stderr, err := run(t, "", "pin", "-w", dir)
	if !errors.Is(err, ErrFailed) {
		t.Fatalf("err = %v, want ErrFailed", err)
	}
	if !strings.Contains(stderr, "error: unauthorized") || !strings.Contains(stderr, "docker login") {
		t.Errorf("stderr does not explain the failure:\n%s", stderr)
	}
	if !strings.Contains(stderr, "no file was written") {
		t.Errorf("stderr does not say nothing was written:\n%s", stderr)
	}
	if strings.Contains(stderr, reg.Password) {
		t.Error("stderr contains the registry password")
	}
	if read(t, filepath.Join(dir, "deploy.yaml")) != src {
		t.Error("the file changed although an error was reported")
	}
}

func TestCLI_functionMode(t *testing.T) {
	reg := registrytest.StartInProcess(t)
	digest := reg.PushRandom(t, "team/app:1.0")
	rl := `apiVersion: config.kubernetes.io/v1
kind: ResourceList
items:
- apiVersion: v1
  kind: Pod
  metadata:
    name: p
  spec:
    containers:
    - name: c
      image: ` + reg.Host + `/team/app:1.0
`
	out, stderr, err := run(t, rl)
	if err != nil {
		t.Fatalf("function: %v\n%s", err, stderr)
	}
	if !strings.Contains(out, "image: "+reg.Host+"/team/app:1.0@"+digest) {
		t.Errorf("stdout:\n%s", out)
	}
	if !strings.HasPrefix(out, "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\n") {
		t.Errorf("stdout is not only the ResourceList:\n%s", out)
	}

	t.Run("malformed input is a clear error and writes nothing", func(t *testing.T) {
		out, stderr, err := run(t, "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems: [oops\n")
		if err == nil || out != "" {
			t.Fatalf("err = %v, stdout = %q", err, out)
		}
		_ = stderr
	})
	t.Run("stdin that is not a ResourceList names what to do", func(t *testing.T) {
		_, stderr, err := run(t, "apiVersion: v1\nkind: Pod\n")
		if err == nil || !strings.Contains(stderr, "stdin is not a ResourceList") {
			t.Fatalf("err = %v, stderr = %q", err, stderr)
		}
	})
}

// TestCLI_verifyChecksLockEntries: verify holds the lock's entries to the
// registry like pins, naming the lock file and the entry.
func TestCLI_verifyChecksLockEntries(t *testing.T) {
	reg := registrytest.Start(t, registrytest.Options{Auth: registrytest.AuthBasic})
	first := reg.PushRandom(t, "team/app:1")
	t.Setenv("DOCKER_CONFIG", reg.WriteDockerConfig(t))
	dir := t.TempDir()
	// The manifest stays on its tag; the lock answers for it.
	writeFile(t, filepath.Join(dir, "deploy.yaml"), pod("web", reg.Ref("team/app:1")))
	lockPath := filepath.Join(dir, "images.lock.yaml")
	if _, stderr, err := run(t, "", "lock", "-o", lockPath, dir); err != nil {
		t.Fatalf("lock: %v\n%s", err, stderr)
	}
	entry := lockPath + ": ImageLock/images spec.images[0].digest: "

	t.Run("entries the registry still serves pass", func(t *testing.T) {
		if _, stderr, err := run(t, "", "verify", "--fail-on-drift", dir); err != nil {
			t.Fatalf("verify: %v\n%s", err, stderr)
		}
	})
	second := reg.PushRandom(t, "team/app:1")
	t.Run("an entry whose tag moved is drift, a warning", func(t *testing.T) {
		_, stderr, err := run(t, "", "verify", dir)
		if err != nil {
			t.Fatalf("verify: %v\n%s", err, stderr)
		}
		if want := entry + "warning: digest verification failed"; !strings.Contains(stderr, want) {
			t.Errorf("stderr does not say %q:\n%s", want, stderr)
		}
		for _, d := range []string{first, second} {
			if !strings.Contains(stderr, d) {
				t.Errorf("stderr does not name %s:\n%s", d, stderr)
			}
		}
	})
	t.Run("an entry whose tag moved is an error with --fail-on-drift", func(t *testing.T) {
		_, stderr, err := run(t, "", "verify", "--fail-on-drift", dir)
		if !errors.Is(err, ErrFailed) || !strings.Contains(stderr, entry+"error: digest verification failed") {
			t.Fatalf("err = %v, stderr:\n%s", err, stderr)
		}
	})
	reg.Delete(t, "team/app", first)
	t.Run("an entry whose digest vanished is an error", func(t *testing.T) {
		_, stderr, err := run(t, "", "verify", dir)
		if !errors.Is(err, ErrFailed) || !strings.Contains(stderr, entry+"error: manifest unknown: pinned digest "+first+" no longer exists") {
			t.Fatalf("err = %v, stderr:\n%s", err, stderr)
		}
	})
}
