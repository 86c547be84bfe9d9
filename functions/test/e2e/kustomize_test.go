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
	"path/filepath"
	"strings"
	"testing"

	"github.com/cloud37/ansible-playbook-operator/functions/internal/registrytest"
)

const kustomizeDeployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  template:
    spec:
      containers:
      - name: app
        image: %IMAGE%
`

// kustomizeDir writes a kustomization with pin-images as a transformer.
func kustomizeDir(t *testing.T, image, function, spec string, extraResources ...string) string {
	t.Helper()
	dir := t.TempDir()
	write(t, filepath.Join(dir, "deployment.yaml"), strings.ReplaceAll(kustomizeDeployment, "%IMAGE%", image))
	res := "- deployment.yaml\n"
	for i, r := range extraResources {
		name := "extra" + string(rune('0'+i)) + ".yaml"
		write(t, filepath.Join(dir, name), r)
		res += "- " + name + "\n"
	}
	write(t, filepath.Join(dir, "kustomization.yaml"), "resources:\n"+res+"transformers:\n- pin-images.yaml\n")
	cfg := "apiVersion: fn.ansible.cloud37.dev/v1alpha1\nkind: PinImages\nmetadata:\n  name: pin-images\n" +
		"  annotations:\n    config.kubernetes.io/function: |\n" + indent(function, 6)
	if spec != "" {
		cfg += "spec:\n" + indent(spec, 2)
	}
	write(t, filepath.Join(dir, "pin-images.yaml"), cfg)
	return dir
}

func indent(s string, n int) string {
	pad := strings.Repeat(" ", n)
	var b strings.Builder
	for _, l := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		b.WriteString(pad + l + "\n")
	}
	return b.String()
}

func TestKustomize(t *testing.T) {
	requireImage(t)
	kustomize := tool(t, "kustomize")
	pinImages := tool(t, "pin-images")
	reg := registrytest.Start(t, registrytest.Options{})
	digest := reg.PushRandom(t, "team/app:1.0")
	image := reg.Host + "/team/app:1.0"
	pinned := "image: " + image + "@" + digest

	t.Run("exec transformer with --enable-exec pins against the registry", func(t *testing.T) {
		dir := kustomizeDir(t, image, "exec:\n  path: "+pinImages, "")
		r := mustSh(t, "", nil, "", kustomize, "build", "--enable-alpha-plugins", "--enable-exec", dir)
		if !strings.Contains(r.stdout, pinned) {
			t.Errorf("not pinned:\n%s", r)
		}
	})
	t.Run("exec transformer without --enable-exec is skipped silently by kustomize", func(t *testing.T) {
		// The reason every pipeline test checks the rendered output.
		dir := kustomizeDir(t, image, "exec:\n  path: "+pinImages, "")
		r := mustSh(t, "", nil, "", kustomize, "build", "--enable-alpha-plugins", dir)
		if strings.Contains(r.stdout, "@sha256:") || !strings.Contains(r.stdout, "image: "+image+"\n") {
			t.Errorf("kustomize ran the exec function without --enable-exec:\n%s", r)
		}
	})
	t.Run("container transformer with network true and --network pins", func(t *testing.T) {
		dir := kustomizeDir(t, image, "container:\n  image: "+Image+"\n  network: true", "")
		r := mustSh(t, "", nil, "", kustomize, "build", "--enable-alpha-plugins", "--network", dir)
		if !strings.Contains(r.stdout, pinned) {
			t.Errorf("not pinned:\n%s", r)
		}
	})
	t.Run("container without network fails each lookup with the flags to set", func(t *testing.T) {
		dir := kustomizeDir(t, image, "container:\n  image: "+Image, "")
		r := sh(t, "", nil, "", kustomize, "build", "--enable-alpha-plugins", dir)
		if r.err == nil || !strings.Contains(r.stderr, "Deployment/web spec.template.spec.containers[name=app].image: error: network required: kustomize build --enable-alpha-plugins --network / kpt fn render --allow-network") {
			t.Errorf("err %v\n%s", r.err, r)
		}
	})
	t.Run("an ImageLock in resources makes the render offline and byte-identical", func(t *testing.T) {
		lock := "apiVersion: fn.ansible.cloud37.dev/v1alpha1\nkind: ImageLock\nmetadata:\n  name: images\n" +
			"  annotations:\n    config.kubernetes.io/local-config: \"true\"\nspec:\n  images:\n" +
			"  - image: " + image + "\n    digest: " + digest + "\n    resolvedAt: \"2026-11-27T00:00:00Z\"\n"
		// No network for the container, mode locked: only the lock can answer.
		dir := kustomizeDir(t, image, "container:\n  image: "+Image, "mode: locked\n", lock)
		first := mustSh(t, "", nil, "", kustomize, "build", "--enable-alpha-plugins", dir)
		second := mustSh(t, "", nil, "", kustomize, "build", "--enable-alpha-plugins", dir)
		if !strings.Contains(first.stdout, pinned) {
			t.Errorf("not pinned from the lock:\n%s", first)
		}
		if first.stdout != second.stdout {
			t.Errorf("two renders differ:\n%s\n---\n%s", first.stdout, second.stdout)
		}
		if strings.Contains(first.stdout, "ImageLock") {
			t.Errorf("kustomize emitted the local-config lock:\n%s", first.stdout)
		}
	})
	t.Run("errors reach kustomize's stderr as file: Kind/name field: message", func(t *testing.T) {
		dir := kustomizeDir(t, reg.Host+"/team/app:9.9", "exec:\n  path: "+pinImages, "")
		r := sh(t, "", nil, "", kustomize, "build", "--enable-alpha-plugins", "--enable-exec", dir)
		want := "Deployment/web spec.template.spec.containers[name=app].image: error: manifest unknown"
		if r.err == nil || !strings.Contains(r.stderr, want) || !strings.Contains(r.stderr, "the tag or digest does not exist") {
			t.Errorf("err %v, want stderr with %q\n%s", r.err, want, r)
		}
	})
}
