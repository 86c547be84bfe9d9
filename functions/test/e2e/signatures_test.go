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
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cloud37/ansible-playbook-operator/functions/internal/registrytest"
)

// fnImage is the function image the signature tests run as a container:
// PIN_IMAGES_E2E_IMAGE when set (a branch's image loaded under its own
// tag), else the one `make image-fn` loads.
func fnImage(t *testing.T) string {
	t.Helper()
	img := os.Getenv("PIN_IMAGES_E2E_IMAGE")
	if img == "" {
		img = Image
	}
	if err := exec.Command("docker", "image", "inspect", img).Run(); err != nil {
		t.Fatalf("%s is not in the local Docker engine: run `make image-fn` (make test does)", img)
	}
	return img
}

// signaturesSpec is policy.signatures with the key inline, as kpt render
// carries it (it mounts no files).
func signaturesSpec(prefix, keyName, pem string) string {
	s := "policy:\n  signatures:\n  - prefixes: [" + prefix + "]\n    keys:\n    - name: " + keyName + "\n      publicKey: |\n"
	for _, l := range strings.Split(strings.TrimSpace(pem), "\n") {
		s += "        " + l + "\n"
	}
	return s
}

// TestSignatures_pipelines: policy.signatures with keys inline, signed by
// the real cosign, under the real kustomize and kpt, as exec and as
// container function: a signed digest is pinned, an unsigned one fails
// the render with the image and the key named, and a locked render checks
// the lock's verifiedBy offline.
func TestSignatures_pipelines(t *testing.T) {
	image := fnImage(t)
	kustomize, kpt, pinImages := tool(t, "kustomize"), tool(t, "kpt"), tool(t, "pin-images")
	reg := registrytest.Start(t, registrytest.Options{})
	key := registrytest.NewCosignKey(t)
	signed := reg.PushRandom(t, "team/app:1.0")
	registrytest.Sign(t, key, reg.Host+"/team/app@"+signed)
	unsigned := reg.PushRandom(t, "team/unsigned:1.0")
	spec := signaturesSpec(reg.Host+"/team", "release", key.PublicKey)
	signedImage, unsignedImage := reg.Host+"/team/app:1.0", reg.Host+"/team/unsigned:1.0"
	refused := []string{"error: signature not verified: " + unsignedImage + "@" + unsigned, "tried release (sha256:", "the registry has no signature for it"}

	kustomizeCases := map[string]struct {
		function string
		flags    []string
	}{
		"exec":      {function: "exec:\n  path: " + pinImages, flags: []string{"--enable-exec"}},
		"container": {function: "container:\n  image: " + image + "\n  network: true", flags: []string{"--network"}},
	}
	for name, tc := range kustomizeCases {
		t.Run("kustomize "+name+": a signed digest is pinned", func(t *testing.T) {
			dir := kustomizeDir(t, signedImage, tc.function, spec)
			r := mustSh(t, "", nil, "", kustomize, append(append([]string{"build", "--enable-alpha-plugins"}, tc.flags...), dir)...)
			if !strings.Contains(r.stdout, "image: "+signedImage+"@"+signed) {
				t.Errorf("not pinned:\n%s", r)
			}
		})
		t.Run("kustomize "+name+": an unsigned digest fails the build", func(t *testing.T) {
			dir := kustomizeDir(t, unsignedImage, tc.function, spec)
			r := sh(t, "", nil, "", kustomize, append(append([]string{"build", "--enable-alpha-plugins"}, tc.flags...), dir)...)
			if r.err == nil || strings.Contains(r.stdout, "@sha256:") {
				t.Fatalf("the build passed or pinned:\n%s", r)
			}
			for _, s := range refused {
				if !strings.Contains(r.stderr, s) {
					t.Errorf("stderr does not say %q:\n%s", s, r)
				}
			}
		})
	}

	t.Run("kpt render exec: pins, records verifiedBy, then a locked container render checks it offline", func(t *testing.T) {
		lock := "apiVersion: fn.ansible.cloud37.dev/v1alpha1\nkind: ImageLock\nmetadata:\n  name: images\n" +
			"  annotations:\n    config.kubernetes.io/local-config: \"true\"\nspec:\n  images: []\n"
		dir := kptPackage(t, signedImage, "pipeline:\n  mutators:\n  - exec: ./pin-images\n    configPath: pin.yaml\n",
			map[string]string{"pin.yaml": pinConfigWith(spec), "images.lock.yaml": lock})
		mustSh(t, dir, nil, "", kpt, "fn", "render", "--allow-exec", ".")
		if got := read(t, filepath.Join(dir, "deployment.yaml")); !strings.Contains(got, "image: "+signedImage+"@"+signed) {
			t.Errorf("not pinned:\n%s", got)
		}
		if got := read(t, filepath.Join(dir, "images.lock.yaml")); !strings.Contains(got, "verifiedBy: release") {
			t.Fatalf("the lock does not record the key:\n%s", got)
		}
		// A container without network, mode locked: only the lock answers.
		write(t, filepath.Join(dir, "deployment.yaml"), strings.ReplaceAll(kustomizeDeployment, "%IMAGE%", signedImage))
		write(t, filepath.Join(dir, "pin.yaml"), pinConfigWith("mode: locked\n"+spec))
		write(t, filepath.Join(dir, "Kptfile"), "apiVersion: kpt.dev/v1\nkind: Kptfile\nmetadata:\n  name: pkg\n"+
			"  annotations:\n    config.kubernetes.io/local-config: \"true\"\npipeline:\n  mutators:\n  - image: "+image+"\n    configPath: pin.yaml\n")
		mustSh(t, dir, nil, "", kpt, "fn", "render", "--image-pull-policy", "never", ".")
		if got := read(t, filepath.Join(dir, "deployment.yaml")); !strings.Contains(got, "image: "+signedImage+"@"+signed) {
			t.Errorf("not pinned from the lock:\n%s", got)
		}
		// The key revoked (another key in its place): the locked render fails.
		write(t, filepath.Join(dir, "deployment.yaml"), strings.ReplaceAll(kustomizeDeployment, "%IMAGE%", signedImage))
		other := registrytest.NewCosignKey(t)
		write(t, filepath.Join(dir, "pin.yaml"), pinConfigWith("mode: locked\n"+signaturesSpec(reg.Host+"/team", "successor", other.PublicKey)))
		r := sh(t, dir, nil, "", kpt, "fn", "render", "--image-pull-policy", "never", ".")
		if r.err == nil || !strings.Contains(r.stdout+r.stderr, "the lock records it verified by key release") {
			t.Errorf("a locked render with the key revoked passed or did not say why: %v\n%s", r.err, r)
		}
	})
	t.Run("kpt render container: an unsigned digest fails and the package is unchanged", func(t *testing.T) {
		dir := kptPackage(t, unsignedImage, "pipeline:\n  mutators:\n  - image: "+image+"\n    configPath: pin.yaml\n",
			map[string]string{"pin.yaml": pinConfigWith(spec)})
		before := read(t, filepath.Join(dir, "deployment.yaml"))
		r := sh(t, dir, nil, "", kpt, "fn", "render", "--allow-network", "--image-pull-policy", "never", ".")
		if r.err == nil || !strings.Contains(r.stdout+r.stderr, "signature not verified") {
			t.Errorf("render passed or did not say why: %v\n%s", r.err, r)
		}
		if read(t, filepath.Join(dir, "deployment.yaml")) != before {
			t.Error("a failed render changed the package")
		}
	})
	t.Run("kpt eval exec with the keys inline in --fn-config", func(t *testing.T) {
		dir := kptPackage(t, unsignedImage, "", map[string]string{"pin.yaml": pinConfigWith(spec)})
		r := sh(t, dir, nil, "", kpt, "fn", "eval", ".", "--exec", "./pin-images", "--fn-config", "pin.yaml")
		if r.err == nil || !strings.Contains(r.stdout+r.stderr, "signature not verified") {
			t.Errorf("eval passed or did not say why: %v\n%s", r.err, r)
		}
	})
}
