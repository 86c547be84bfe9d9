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
	"strings"
	"testing"

	"github.com/cloud37/ansible-playbook-operator/functions/internal/registrytest"
)

// kptPackage writes a kpt package with a Kptfile pipeline, a Deployment and
// a copy of the pin-images binary (kpt resolves exec: paths from the current
// directory, so the tests run kpt from the package directory).
func kptPackage(t *testing.T, image, pipeline string, extra map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	write(t, filepath.Join(dir, "Kptfile"), "apiVersion: kpt.dev/v1\nkind: Kptfile\nmetadata:\n  name: pkg\n"+
		"  annotations:\n    config.kubernetes.io/local-config: \"true\"\n"+pipeline)
	write(t, filepath.Join(dir, "deployment.yaml"), strings.ReplaceAll(kustomizeDeployment, "%IMAGE%", image))
	for name, content := range extra {
		write(t, filepath.Join(dir, name), content)
	}
	bin, err := os.ReadFile(tool(t, "pin-images"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "pin-images"), bin, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

const pinConfig = `apiVersion: fn.ansible.cloud37.dev/v1alpha1
kind: PinImages
metadata:
  name: pin-images
  annotations:
    config.kubernetes.io/local-config: "true"
spec:
%SPEC%`

func pinConfigWith(spec string) string {
	return strings.ReplaceAll(pinConfig, "%SPEC%", indent(spec, 2))
}

func TestKpt(t *testing.T) {
	requireImage(t)
	kpt := tool(t, "kpt")
	reg := registrytest.Start(t, registrytest.Options{})
	digest := reg.PushRandom(t, "team/app:1.0")
	image := reg.Host + "/team/app:1.0"
	pinned := "image: " + image + "@" + digest

	t.Run("render with pin-images as exec mutator", func(t *testing.T) {
		dir := kptPackage(t, image, "pipeline:\n  mutators:\n  - exec: ./pin-images\n", nil)
		mustSh(t, dir, nil, "", kpt, "fn", "render", "--allow-exec", ".")
		if got := read(t, filepath.Join(dir, "deployment.yaml")); !strings.Contains(got, pinned) {
			t.Errorf("not pinned:\n%s", got)
		}
	})
	t.Run("render with pin-images as container mutator with network", func(t *testing.T) {
		dir := kptPackage(t, image, "pipeline:\n  mutators:\n  - image: "+Image+"\n", nil)
		mustSh(t, dir, nil, "", kpt, "fn", "render", "--allow-network", "--image-pull-policy", "never", ".")
		if got := read(t, filepath.Join(dir, "deployment.yaml")); !strings.Contains(got, pinned) {
			t.Errorf("not pinned:\n%s", got)
		}
	})
	t.Run("validator in policy mode fails the render on an unpinned image", func(t *testing.T) {
		dir := kptPackage(t, image, "pipeline:\n  validators:\n  - image: "+Image+"\n    configPath: policy.yaml\n",
			map[string]string{"policy.yaml": pinConfigWith("mode: verify\npolicy:\n  requireDigests: true\n")})
		before := read(t, filepath.Join(dir, "deployment.yaml"))
		r := sh(t, dir, nil, "", kpt, "fn", "render", "--allow-network", "--image-pull-policy", "never", ".")
		if r.err == nil || !strings.Contains(r.stdout+r.stderr, "not pinned and policy.requireDigests is set") {
			t.Errorf("render passed or did not say why: %v\n%s", r.err, r)
		}
		if read(t, filepath.Join(dir, "deployment.yaml")) != before {
			t.Error("a failed render changed the package")
		}
	})
	t.Run("validator passes once the package is pinned", func(t *testing.T) {
		dir := kptPackage(t, image, "pipeline:\n  mutators:\n  - exec: ./pin-images\n  validators:\n  - exec: ./pin-images\n    configPath: policy.yaml\n",
			map[string]string{"policy.yaml": pinConfigWith("mode: verify\npolicy:\n  requireDigests: true\n  failOnDrift: true\n")})
		mustSh(t, dir, nil, "", kpt, "fn", "render", "--allow-exec", ".")
	})
	t.Run("eval --exec with key=value settings", func(t *testing.T) {
		dir := kptPackage(t, image, "", nil)
		mustSh(t, dir, nil, "", kpt, "fn", "eval", ".", "--exec", "./pin-images", "--", "dropTag=true")
		if got := read(t, filepath.Join(dir, "deployment.yaml")); !strings.Contains(got, "image: "+reg.Host+"/team/app@"+digest) {
			t.Errorf("not pinned with dropTag:\n%s", got)
		}
	})
}

// TestKpt_privateRegistry: containers get no mounts or env under kpt fn
// render, so private registries work through exec mode (the user's docker
// config) or a committed lock; kpt fn eval can mount the docker config.
func TestKpt_privateRegistry(t *testing.T) {
	requireImage(t)
	kpt := tool(t, "kpt")
	reg := registrytest.Start(t, registrytest.Options{Auth: registrytest.AuthBasic})
	digest := reg.PushRandom(t, "team/app:1.0")
	image := reg.Host + "/team/app:1.0"
	pinned := "image: " + image + "@" + digest
	dockerConfig := reg.WriteDockerConfig(t)

	t.Run("eval --image with the docker config mounted", func(t *testing.T) {
		dir := kptPackage(t, image, "", nil)
		mustSh(t, dir, nil, "", kpt, "fn", "eval", ".", "--image", Image, "--image-pull-policy", "never", "--network",
			"--as-current-user", "--mount", "type=bind,src="+dockerConfig+",dst=/docker-config,rw=false",
			"--env", "DOCKER_CONFIG=/docker-config")
		if got := read(t, filepath.Join(dir, "deployment.yaml")); !strings.Contains(got, pinned) {
			t.Errorf("not pinned:\n%s", got)
		}
	})
	t.Run("render with a container gets no credentials: unauthorized", func(t *testing.T) {
		dir := kptPackage(t, image, "pipeline:\n  mutators:\n  - image: "+Image+"\n", nil)
		r := sh(t, dir, []string{"DOCKER_CONFIG=" + dockerConfig}, "", kpt, "fn", "render", "--allow-network", "--image-pull-policy", "never", ".")
		if r.err == nil || !strings.Contains(r.stdout+r.stderr, "unauthorized") || !strings.Contains(r.stdout+r.stderr, "use exec mode") {
			t.Errorf("err %v\n%s", r.err, r)
		}
		if strings.Contains(r.stdout+r.stderr, reg.Password) {
			t.Error("the password appears in the output")
		}
	})
	t.Run("render with exec uses the user's docker config", func(t *testing.T) {
		dir := kptPackage(t, image, "pipeline:\n  mutators:\n  - exec: ./pin-images\n", nil)
		mustSh(t, dir, []string{"DOCKER_CONFIG=" + dockerConfig}, "", kpt, "fn", "render", "--allow-exec", ".")
		if got := read(t, filepath.Join(dir, "deployment.yaml")); !strings.Contains(got, pinned) {
			t.Errorf("not pinned:\n%s", got)
		}
	})
	t.Run("render with a container and a committed lock needs neither network nor credentials", func(t *testing.T) {
		dir := kptPackage(t, image, "pipeline:\n  mutators:\n  - image: "+Image+"\n    configPath: pin.yaml\n", map[string]string{
			"pin.yaml": pinConfigWith("mode: locked\n"),
		})
		// The lock is written with exec mode and the user's credentials, once.
		mustSh(t, dir, []string{"DOCKER_CONFIG=" + dockerConfig}, "", tool(t, "pin-images"), "lock", "-o", filepath.Join(dir, "images.lock.yaml"), dir)
		mustSh(t, dir, nil, "", kpt, "fn", "render", "--image-pull-policy", "never", ".")
		if got := read(t, filepath.Join(dir, "deployment.yaml")); !strings.Contains(got, pinned) {
			t.Errorf("not pinned from the lock:\n%s", got)
		}
	})
}
