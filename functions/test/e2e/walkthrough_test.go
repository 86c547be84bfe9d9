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

package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/cloud37/ansible-playbook-operator/functions/internal/lock"
	"github.com/cloud37/ansible-playbook-operator/functions/internal/registrytest"
)

// step is a README code block marked <!-- e2e:NAME -->.
type step struct {
	name, script string
}

var stepRE = regexp.MustCompile("(?s)<!-- e2e:([a-z0-9-]+) -->\\s*```sh\\n(.*?)```")

func readmeSteps(t *testing.T) []step {
	t.Helper()
	var steps []step
	for _, m := range stepRE.FindAllStringSubmatch(read(t, filepath.Join(root(t), "README.md")), -1) {
		steps = append(steps, step{name: m[1], script: m[2]})
	}
	return steps
}

// TestWalkthrough runs the README's GitOps walkthrough, block by block, in a
// Git repository holding examples/update-digests, against a registry on
// localhost:5000, checking what each step did.
func TestWalkthrough(t *testing.T) {
	reg := registrytest.Start(t, registrytest.Options{Addr: "127.0.0.1:5000"})
	host := "localhost:5000"
	web := reg.PushRandom(t, "team/web:1.0")
	proxy := reg.PushRandom(t, "team/proxy:2")
	runner := reg.PushRandom(t, "team/ansible-runner:13")

	repo := t.TempDir()
	copyTree(t, filepath.Join(root(t), "examples", "update-digests"), filepath.Join(repo, "examples", "update-digests"))
	if err := os.Symlink(filepath.Join(root(t), "bin"), filepath.Join(repo, "bin")); err != nil {
		t.Fatal(err)
	}
	env := []string{
		"PATH=" + filepath.Join(repo, "bin") + string(os.PathListSeparator) + os.Getenv("PATH"),
		"GIT_AUTHOR_NAME=e2e", "GIT_AUTHOR_EMAIL=e2e@example.com", "GIT_COMMITTER_NAME=e2e", "GIT_COMMITTER_EMAIL=e2e@example.com",
		"DOCKER_CONFIG=" + t.TempDir(), // anonymous registry: no credentials needed
	}
	write(t, filepath.Join(repo, ".gitignore"), "/bin\n")
	mustSh(t, repo, env, "", "git", "init", "-q")
	mustSh(t, repo, env, "", "git", "add", "-A")
	mustSh(t, repo, env, "", "git", "commit", "-qm", "examples")

	pinned := filepath.Join(repo, "examples", "update-digests", "pinned")
	lockFile := filepath.Join(repo, "examples", "update-digests", "locked", "images.lock.yaml")
	run := func(s step) result {
		t.Helper()
		return mustSh(t, repo, env, "", "bash", "-euo", "pipefail", "-c", s.script)
	}
	// In a diff, every added line carries a digest and every removed line is
	// the image or digest line it replaces.
	onlyDigestLines := func(t *testing.T, diff string) {
		t.Helper()
		for _, l := range strings.Split(diff, "\n") {
			switch {
			case strings.HasPrefix(l, "+++") || strings.HasPrefix(l, "---"):
			case strings.HasPrefix(l, "+") && !strings.Contains(l, "sha256:"):
				t.Errorf("an added line without a digest: %q", l)
			case strings.HasPrefix(l, "-") && !strings.Contains(l, "image:") && !strings.Contains(l, "digest:"):
				t.Errorf("a removed line other than an image or digest line: %q", l)
			}
		}
	}

	steps := readmeSteps(t)
	want := []string{"pin", "verify", "refresh", "refresh-kpt", "lock", "render", "lock-refresh", "sign", "signed-render"}
	var names []string
	for _, s := range steps {
		names = append(names, s.name)
	}
	if strings.Join(names, ",") != strings.Join(want, ",") {
		t.Fatalf("README walkthrough steps = %v, want %v", names, want)
	}
	for _, s := range steps {
		switch s.name {
		case "pin":
			run(s)
			deploy := read(t, filepath.Join(pinned, "deployment.yaml"))
			for _, w := range []string{host + "/team/web:1.0@" + web, host + "/team/proxy:2@" + proxy} {
				if !strings.Contains(deploy, w) {
					t.Errorf("pin: deployment lacks %s:\n%s", w, deploy)
				}
			}
			if cfg := read(t, filepath.Join(pinned, "operator-config.yaml")); !strings.Contains(cfg, `digest: "`+runner+`"`) {
				t.Errorf("pin: operator config lacks the runner digest:\n%s", cfg)
			}
			onlyDigestLines(t, mustSh(t, repo, env, "", "git", "show", "HEAD").stdout)
		case "verify":
			run(s)
			// The tag moves: CI fails with --fail-on-drift, and the refresh moves the pin.
			web = reg.PushRandom(t, "team/web:1.0")
			r := sh(t, repo, env, "", "bash", "-c", s.script)
			if r.err == nil || !strings.Contains(r.stderr, "error: digest verification failed") {
				t.Errorf("verify after the tag moved: err %v\n%s", r.err, r)
			}
		case "refresh":
			out := run(s)
			if !strings.Contains(read(t, filepath.Join(pinned, "deployment.yaml")), host+"/team/web:1.0@"+web) {
				t.Errorf("refresh did not move the pin")
			}
			onlyDigestLines(t, out.stdout)
			if n := strings.Count(out.stdout, "\n+ "); n != 1 {
				t.Errorf("refresh changed %d lines, want 1:\n%s", n, out.stdout)
			}
			mustSh(t, repo, env, "", "git", "commit", "-qam", "refresh")
		case "refresh-kpt":
			proxy = reg.PushRandom(t, "team/proxy:2")
			run(s)
			if !strings.Contains(read(t, filepath.Join(pinned, "deployment.yaml")), host+"/team/proxy:2@"+proxy) {
				t.Errorf("kpt refresh did not move the pin")
			}
			onlyDigestLines(t, mustSh(t, repo, env, "", "git", "diff").stdout)
			mustSh(t, repo, env, "", "git", "commit", "-qam", "refresh with kpt")
		case "lock":
			run(s)
			lk, err := lock.Parse([]byte(read(t, lockFile)))
			if err != nil {
				t.Fatal(err)
			}
			for image, digest := range map[string]string{host + "/team/web:1.0": web, host + "/team/proxy:2": proxy} {
				if e, ok := lk.Get(lock.Key{Image: image}); !ok || e.Digest != digest {
					t.Errorf("lock entry %s = %+v, want %s", image, e, digest)
				}
			}
		case "render":
			first, second := run(s), run(s)
			if !strings.Contains(first.stdout, host+"/team/web:1.0@"+web) || first.stdout != second.stdout {
				t.Errorf("offline render not pinned or not repeatable:\n%s\n---\n%s", first.stdout, second.stdout)
			}
			if strings.Contains(first.stdout, "ImageLock") {
				t.Error("the render emitted the lock")
			}
		case "lock-refresh":
			before := read(t, lockFile)
			out := run(s)
			if read(t, lockFile) != before {
				t.Errorf("a refresh with nothing moved changed the lock:\n%s", out.stdout)
			}
			old, err := lock.Parse([]byte(before))
			if err != nil {
				t.Fatal(err)
			}
			web = reg.PushRandom(t, "team/web:1.0")
			out = run(s)
			if !strings.Contains(out.stdout, "1 file changed") {
				t.Errorf("lock refresh after a tag moved changed no file:\n%s", out.stdout)
			}
			lk, err := lock.Parse([]byte(read(t, lockFile)))
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range old.Entries() {
				got, _ := lk.Get(e.Key())
				if e.Image == host+"/team/web:1.0" {
					if got.Digest != web {
						t.Errorf("lock refresh did not move %s: %+v", e.Image, got)
					}
				} else if got != e {
					t.Errorf("lock refresh changed %s although its tag did not move: %+v -> %+v", e.Image, e, got)
				}
			}
		case "sign":
			run(s)
			lk, err := lock.Parse([]byte(read(t, lockFile)))
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range lk.Entries() {
				if e.VerifiedBy != "release" || e.KeyFingerprint == "" {
					t.Errorf("lock entry %s not recorded as verified by release: %+v", e.Image, e)
				}
			}
		case "signed-render":
			out := run(s)
			if !strings.Contains(out.stdout, host+"/team/web:1.0@"+web) {
				t.Errorf("signed render not pinned:\n%s", out)
			}
			cfgPath := filepath.Join(repo, "examples", "update-digests", "locked", "pin-images.yaml")
			cfg := read(t, cfgPath)
			// A tag moved to an unsigned image: the lock refresh with the
			// policy fails and keeps the old entry.
			locked := read(t, lockFile)
			reg.PushRandom(t, "team/web:1.0")
			r := sh(t, repo, env, "", "bash", "-c", "pin-images lock --refresh --config "+cfgPath+" -o "+lockFile+" examples/update-digests/locked/")
			if r.err == nil || !strings.Contains(r.stderr, "signature not verified: "+host+"/team/web:1.0@sha256:") || read(t, lockFile) != locked {
				t.Errorf("lock refresh to an unsigned image: err %v\n%s", r.err, r)
			}
			// The key revoked (renamed: another key in the config): the
			// offline render fails for every entry it verified.
			write(t, cfgPath, strings.Replace(cfg, "- name: release", "- name: successor", 1))
			r = sh(t, repo, env, "", "bash", "-c", s.script)
			if r.err == nil || !strings.Contains(r.stderr, "the lock records it verified by key release") {
				t.Errorf("render with the key revoked: err %v\n%s", r.err, r)
			}
		}
	}
}
