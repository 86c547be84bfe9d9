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
	"sort"
	"strings"
	"testing"

	"github.com/cloud37/ansible-playbook-operator/functions/internal/registrytest"
)

// kustomize build with fieldSpecs pasted from a kustomize configurations
// file (no kind, no [], create: true) and the extensions group's workloads
// kustomize still renders.
func TestKustomize_whatKustomizeUsersWrite(t *testing.T) {
	kustomize := tool(t, "kustomize")
	pinImages := tool(t, "pin-images")
	reg := registrytest.Start(t, registrytest.Options{})
	app := reg.PushRandom(t, "team/app:1.0")
	worker := reg.PushRandom(t, "team/worker:2")
	legacy := "apiVersion: extensions/v1beta1\nkind: DaemonSet\nmetadata:\n  name: agent\nspec:\n  template:\n    spec:\n      containers:\n      - name: agent\n        image: " + reg.Host + "/team/worker:2\n"
	widget := "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\nspec:\n  workers:\n  - name: a\n    image: " + reg.Host + "/team/worker:2\n"
	spec := "fieldSpecs:\n- path: spec/workers/image\n  create: true\n"
	dir := kustomizeDir(t, reg.Host+"/team/app:1.0", "exec:\n  path: "+pinImages, spec, legacy, widget)
	r := mustSh(t, "", nil, "", kustomize, "build", "--enable-alpha-plugins", "--enable-exec", dir)
	// kustomize sorts the keys it writes: count the pins, the DaemonSet's
	// and the Widget's.
	if !strings.Contains(r.stdout, "image: "+reg.Host+"/team/app:1.0@"+app) || strings.Count(r.stdout, "image: "+reg.Host+"/team/worker:2@"+worker) != 2 {
		t.Errorf("want the Deployment, the DaemonSet and the Widget pinned:\n%s", r)
	}
	if strings.Contains(r.stderr, "warning") {
		t.Errorf("warnings for declared fields:\n%s", r.stderr)
	}
}

// kpt fn eval on a package laid out for kustomize too: kustomizations
// without apiVersion and kind (kpt passes them), a configurations: file
// kpt cannot read (it is not KRM, so it is in .krmignore) that the exec
// function reads from the package directory.
func TestKpt_evalOnAKustomizePackage(t *testing.T) {
	kpt := tool(t, "kpt")
	reg := registrytest.Start(t, registrytest.Options{})
	d := map[string]string{}
	for _, n := range []string{"team/app:1.0", "team/web:1", "team/engine:2", "team/api:3"} {
		d[n] = reg.PushRandom(t, n)
	}
	dir := kptPackage(t, reg.Host+"/team/app:1.0", "", map[string]string{
		"kustomization.yaml":              "resources: [deployment.yaml, widget.yaml]\nconfigurations:\n- kustomizeconfig.yaml\nimages:\n- name: " + reg.Host + "/team/web\n  newTag: \"1\"\n",
		"kustomizeconfig.yaml":            "images:\n- path: spec/engine/image\n  kind: Widget\n",
		".krmignore":                      "kustomizeconfig.yaml\n",
		"widget.yaml":                     "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\nspec:\n  engine:\n    image: " + reg.Host + "/team/engine:2\n",
		"overlays/prod/kustomization.yml": "resources: [../../]\nimages:\n- name: " + reg.Host + "/team/api\n  newTag: \"3\"\n",
	})
	r := mustSh(t, dir, nil, "", kpt, "fn", "eval", ".", "--exec", "./pin-images")
	for name, want := range map[string]string{
		"deployment.yaml":                 "image: " + reg.Host + "/team/app:1.0@" + d["team/app:1.0"],
		"kustomization.yaml":              "digest: " + d["team/web:1"],
		"widget.yaml":                     "image: " + reg.Host + "/team/engine:2@" + d["team/engine:2"],
		"overlays/prod/kustomization.yml": "digest: " + d["team/api:3"],
	} {
		if got := read(t, filepath.Join(dir, name)); !strings.Contains(got, want) {
			t.Errorf("%s: want %q in:\n%s\n%s", name, want, got, r)
		}
	}
	if got := read(t, filepath.Join(dir, "kustomization.yaml")); strings.Contains(got, "kind:") || strings.Contains(got, "metadata:") {
		t.Errorf("kpt wrote the kustomization back with fields it did not have:\n%s", got)
	}
}

// pin-images on a directory reads the files kpt reads: .krmignore in the
// package and in a subpackage, which its parent's patterns do not cover.
func TestKpt_krmignoreSelectsTheSameFiles(t *testing.T) {
	kpt := tool(t, "kpt")
	pinImages := tool(t, "pin-images")
	reg := registrytest.Start(t, registrytest.Options{})
	reg.PushRandom(t, "team/app:1.0")
	pod := "apiVersion: v1\nkind: Pod\nmetadata:\n  name: %s\nspec:\n  containers:\n  - name: c\n    image: " + reg.Host + "/team/app:1.0\n"
	dir := t.TempDir()
	for _, name := range []string{"a.yaml", "drafts/b.yaml", "c.draft.yaml", "sub/d.yaml", "sub/e.draft.yaml", "sub/skip/f.yaml", "deep/g.yaml"} {
		write(t, filepath.Join(dir, name), strings.ReplaceAll(pod, "%s", strings.TrimSuffix(filepath.Base(name), ".yaml")))
	}
	write(t, filepath.Join(dir, "Kptfile"), "apiVersion: kpt.dev/v1\nkind: Kptfile\nmetadata:\n  name: pkg\n")
	write(t, filepath.Join(dir, ".krmignore"), "drafts/\n*.draft.yaml\nsub/d.yaml\n")
	write(t, filepath.Join(dir, "sub/Kptfile"), "apiVersion: kpt.dev/v1\nkind: Kptfile\nmetadata:\n  name: sub\n")
	write(t, filepath.Join(dir, "sub/.krmignore"), "skip/\n")

	src := mustSh(t, dir, nil, "", kpt, "fn", "source", ".")
	var kptFiles []string
	for _, line := range strings.Split(src.stdout, "\n") {
		if p, ok := strings.CutPrefix(strings.TrimSpace(line), "config.kubernetes.io/path: "); ok {
			if p = strings.Trim(p, `'"`); strings.HasSuffix(p, ".yaml") && filepath.Base(p) != "Kptfile" {
				kptFiles = append(kptFiles, p)
			}
		}
	}
	mustSh(t, dir, nil, "", pinImages, "pin", "-w", ".")
	var pinned []string
	err := filepath.WalkDir(dir, func(p string, de os.DirEntry, err error) error {
		if err != nil || de.IsDir() || !strings.HasSuffix(p, ".yaml") {
			return err
		}
		if strings.Contains(read(t, p), "@sha256:") {
			rel, _ := filepath.Rel(dir, p)
			pinned = append(pinned, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(kptFiles)
	sort.Strings(pinned)
	if strings.Join(kptFiles, " ") != strings.Join(pinned, " ") || len(pinned) == 0 {
		t.Errorf("kpt reads %v, pin-images pinned %v", kptFiles, pinned)
	}
}

// kpt's source | function | function | sink pipeline, pin-images twice:
// the second gets the first's results in its input; its output is still
// the input spliced, so the second run changes nothing and the package
// keeps its head comments, blank lines and list indentation.
func TestKpt_pipelineWithResultsInTheInput(t *testing.T) {
	kpt := tool(t, "kpt")
	pinImages := tool(t, "pin-images")
	reg := registrytest.Start(t, registrytest.Options{})
	digest := reg.PushRandom(t, "team/app:1.0")
	dir := t.TempDir()
	src := "# the web tier\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n\nspec:\n  template:\n    spec:\n      containers:\n        - name: app\n          image: " + reg.Host + "/team/app:1.0 # the app\n"
	write(t, filepath.Join(dir, "pkg/deployment.yaml"), src)
	source := mustSh(t, dir, nil, "", kpt, "fn", "source", "pkg")
	once := mustSh(t, dir, nil, source.stdout, pinImages)
	twice := mustSh(t, dir, nil, once.stdout, pinImages)
	items := func(rl string) string {
		if i := strings.Index(rl, "\nresults:\n"); i >= 0 {
			return rl[:i+1]
		}
		return rl
	}
	// What kpt gave, with the digest spliced in and nothing else changed.
	want := strings.Replace(source.stdout, "app:1.0 ", "app:1.0@"+digest+" ", 1)
	if got := items(once.stdout); got != want {
		t.Errorf("the first run did not splice kpt's ResourceList:\n%s\nwant:\n%s", got, want)
	}
	if got := items(twice.stdout); got != want {
		t.Errorf("the second run, with results in its input, changed the items:\n%s\nwant:\n%s", got, want)
	}
	if strings.Count(twice.stdout, "message: \"pinned ") != 1 || !strings.Contains(twice.stdout, "already pinned") {
		t.Errorf("the second run's output does not hold both runs' results:\n%s", twice.stdout)
	}
	mustSh(t, dir, nil, twice.stdout, kpt, "fn", "sink", "out")
	if got := read(t, filepath.Join(dir, "out/deployment.yaml")); !strings.Contains(got, "# the web tier\n") || !strings.Contains(got, "        - name: app\n          image: "+reg.Host+"/team/app:1.0@"+digest+" # the app\n") {
		t.Errorf("the package lost its comments or list indentation:\n%s", got)
	}
}
