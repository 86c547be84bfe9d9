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
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cloud37/ansible-playbook-operator/functions/internal/registrytest"
)

// TestPin_whatKustomizeAndKptUsersHave: pin -w on a directory as kustomize
// and kpt users lay it out: kustomizations without apiVersion and kind
// under each name kustomize reads, a configurations: file declaring an
// image field, and a .krmignore (with a subpackage that has its own).
func TestPin_whatKustomizeAndKptUsersHave(t *testing.T) {
	reg := registrytest.StartInProcess(t)
	d := map[string]string{}
	for _, name := range []string{"team/web:1", "team/engine:2", "team/redis:7", "team/api:3", "team/sub:4"} {
		d[name] = reg.PushRandom(t, name)
	}
	dir := t.TempDir()
	pod := "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n  - name: c\n    image: %REG%/team/web:1\n"
	files := map[string]string{
		"kustomization.yaml":              "resources: [widget.yaml]\nconfigurations:\n- kustomizeconfig.yaml\nimages:\n- name: %REG%/team/web\n  newTag: \"1\"\n",
		"kustomizeconfig.yaml":            "images:\n- path: spec/engine/image\n  kind: Widget\n  create: true\n",
		"widget.yaml":                     "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\nspec:\n  engine:\n    image: %REG%/team/engine:2\n",
		"overlays/dev/Kustomization":      "images:\n- name: %REG%/team/redis\n  newTag: \"7\"\n",
		"overlays/prod/kustomization.yml": "images:\n- name: %REG%/team/api\n  newTag: \"3\"\n",
		".krmignore":                      "drafts/\n*.draft.yaml\n",
		"drafts/pod.yaml":                 pod,
		"old.draft.yaml":                  pod,
		"sub/Kptfile":                     "apiVersion: kpt.dev/v1\nkind: Kptfile\nmetadata:\n  name: sub\n",
		"sub/.krmignore":                  "ignored.yaml\n",
		"sub/ignored.yaml":                pod,
		"sub/old.draft.yaml":              strings.Replace(pod, "web:1", "sub:4", 1),
	}
	for name, content := range files {
		writeFile(t, filepath.Join(dir, name), strings.ReplaceAll(content, "%REG%", reg.Host))
	}
	_, stderr, err := run(t, "", "pin", "-w", dir)
	if err != nil {
		t.Fatalf("pin -w: %v\n%s", err, stderr)
	}
	for name, want := range map[string]string{
		"kustomization.yaml":              "digest: " + d["team/web:1"],
		"widget.yaml":                     "image: " + reg.Host + "/team/engine:2@" + d["team/engine:2"],
		"overlays/dev/Kustomization":      "digest: " + d["team/redis:7"],
		"overlays/prod/kustomization.yml": "digest: " + d["team/api:3"],
		// the parent's *.draft.yaml does not cover the subpackage
		"sub/old.draft.yaml": "image: " + reg.Host + "/team/sub:4@" + d["team/sub:4"],
	} {
		if got := read(t, filepath.Join(dir, name)); !strings.Contains(got, want) {
			t.Errorf("%s: want %q in:\n%s", name, want, got)
		}
	}
	for _, name := range []string{"drafts/pod.yaml", "old.draft.yaml", "sub/ignored.yaml"} {
		if got := read(t, filepath.Join(dir, name)); strings.Contains(got, "sha256:") {
			t.Errorf("%s is in .krmignore but was pinned:\n%s", name, got)
		}
	}
	if strings.Count(stderr, "create: true is ignored ("+filepath.Join(dir, "kustomizeconfig.yaml")+" images[0])") != 1 {
		t.Errorf("stderr does not say once that create is ignored:\n%s", stderr)
	}
	if strings.Contains(stderr, "image-like field") {
		t.Errorf("a declared field was reported as undeclared:\n%s", stderr)
	}
}

// A configurations: file that is missing is said, never silently dropped.
func TestPin_missingConfigurationsFileIsAWarning(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "kustomization.yaml"), "configurations: [gone.yaml]\n")
	_, stderr, err := run(t, "", "verify", dir)
	if err != nil {
		t.Fatalf("verify: %v\n%s", err, stderr)
	}
	if !strings.Contains(stderr, "kustomization.yaml: configurations[0]: warning: configurations file "+filepath.Join(dir, "gone.yaml")+" is not in the input and cannot be read") {
		t.Errorf("stderr:\n%s", stderr)
	}
}

// TestPin_oneFileNamedTwice: a file reached by two PATHs is one file, read
// and written once.
func TestPin_oneFileNamedTwice(t *testing.T) {
	reg := registrytest.StartInProcess(t)
	digest := reg.PushRandom(t, "team/app:1.0")
	for name, args := range map[string]func(dir string) []string{
		"the same name twice":       func(dir string) []string { return []string{filepath.Join(dir, "d.yaml"), filepath.Join(dir, "d.yaml")} },
		"a directory and its file":  func(dir string) []string { return []string{dir, filepath.Join(dir, "d.yaml")} },
		"two spellings of one path": func(dir string) []string { return []string{filepath.Join(dir, "d.yaml"), dir + "/./d.yaml"} },
		"a file and a symlink to it": func(dir string) []string {
			return []string{filepath.Join(dir, "d.yaml"), filepath.Join(dir, "link.yaml")}
		},
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, filepath.Join(dir, "d.yaml"), strings.ReplaceAll(deployment, "%REG%", reg.Host))
			if err := os.Symlink("d.yaml", filepath.Join(dir, "link.yaml")); err != nil {
				t.Fatal(err)
			}
			reg.PushRandom(t, "team/multi:1")
			_, stderr, err := run(t, "", append([]string{"pin", "-w"}, args(dir)...)...)
			if err != nil {
				t.Fatalf("pin -w: %v\n%s", err, stderr)
			}
			if got := read(t, filepath.Join(dir, "d.yaml")); !strings.Contains(got, "/team/app:1.0@"+digest) {
				t.Errorf("not pinned:\n%s", got)
			}
			if n := strings.Count(stderr, "wrote "); n != 1 {
				t.Errorf("want one file written, got %d:\n%s", n, stderr)
			}
			// one file, its two fields, each with one result
			if !strings.Contains(stderr, ": 2 image fields: 2 pinned") {
				t.Errorf("the file's fields were counted more than once:\n%s", stderr)
			}
		})
	}
}
