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
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/cloud37/ansible-playbook-operator/operator/internal/opconfig"
)

// pushedImages are the images the tests build and push: the operator image
// as a multi-arch index (amd64 + arm64) and an executor stand-in.
type pushedImages struct {
	reg                          registry
	operatorIndex, executorImage string // digests
}

// pushIndexes pushes both images of the build contexts `make images`
// assembled (both platforms) as OCI indexes tagged version, with
// hack/push-images.sh, and returns each index digest by image name.
func pushIndexes(t testing.TB, reg registry, version string) map[string]string {
	t.Helper()
	r := mustSh(t, repoRoot(), []string{"REGISTRY=" + reg.Host, "VERSION=" + version, "INSECURE=1"}, "",
		filepath.Join(repoRoot(), "hack", "push-images.sh"))
	out := map[string]string{}
	for _, m := range pushedRE.FindAllStringSubmatch(r.stdout, -1) {
		out[m[1]] = m[2]
	}
	for _, name := range []string{"pin-images", "ansible-playbook-operator"} {
		if out[name] == "" {
			t.Fatalf("hack/push-images.sh printed no digest of %s:\n%s", name, r)
		}
	}
	return out
}

var pushedRE = regexp.MustCompile(`(?m)/([a-z-]+):[^@\s]+@(sha256:[a-f0-9]{64})$`)

func pushImages(t *testing.T) pushedImages {
	t.Helper()
	reg := startRegistry(t)
	p := pushedImages{reg: reg, operatorIndex: pushIndexes(t, reg, "dev")["ansible-playbook-operator"]}
	// No Ansible runner image can be pulled here: the executor is a one-layer
	// stand-in; what matters is that its digest is the registry's.
	pushRandom(t, reg.Host+"/ansible-runner:13")
	p.executorImage = strings.TrimSpace(mustSh(t, "", nil, "", tool(t, "crane"), "digest", "--insecure", reg.Host+"/ansible-runner:13").stdout)
	return p
}

// pushRandom pushes a one-layer image whose only file names the test and
// the time, so every push is a new digest.
func pushRandom(t testing.TB, ref string) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "stamp"), []byte(fmt.Sprintf("%s %s %d\n", t.Name(), ref, time.Now().UnixNano())), 0o644); err != nil {
		t.Fatal(err)
	}
	mustSh(t, "", nil, "", "tar", "-C", dir, "-cf", filepath.Join(dir, "layer.tar"), "stamp")
	mustSh(t, "", nil, "", tool(t, "crane"), "append", "--insecure", "-f", filepath.Join(dir, "layer.tar"), "-t", ref)
}

// copyTree copies the kustomize/ and examples/ trees into a temporary root
// (the examples refer to ../../kustomize) with localhost:5000 replaced by
// the test registry.
func copyTree(t *testing.T, host string) string {
	t.Helper()
	dst := t.TempDir()
	for _, top := range []string{"kustomize", "examples"} {
		err := filepath.WalkDir(filepath.Join(repoRoot(), top), func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(repoRoot(), p)
			if d.IsDir() {
				return os.MkdirAll(filepath.Join(dst, rel), 0o755)
			}
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			data = []byte(strings.ReplaceAll(string(data), "localhost:5000", host))
			return os.WriteFile(filepath.Join(dst, rel), data, 0o644)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// rendered is what a render of an example deploys: the manager's image and
// resources, the executor image the operator will use, the config and the
// cache claim.
type rendered struct {
	managerImage string
	manager      corev1.Container
	executor     string
	executorPin  bool
	config       opconfig.Config
	cache        *corev1.PersistentVolumeClaim
}

func renderExample(t *testing.T, dir string) rendered {
	t.Helper()
	objs := decodeAll(t, mustSh(t, dir, nil, "", tool(t, "kustomize"), "build", ".").stdout)
	c := typed[appsDeployment](t, find(objs, "Deployment", "ansible-playbook-operator")).Spec.Template.Spec.Containers[0]
	cm := typed[corev1.ConfigMap](t, find(objs, "ConfigMap", "ansible-playbook-operator-config"))
	cfg, err := opconfig.Parse([]byte(cm.Data[opconfig.Key]))
	if err != nil {
		t.Fatalf("the rendered OperatorConfig does not parse: %v", err)
	}
	exec, pinned := cfg.ExecutorImage("")
	r := rendered{managerImage: c.Image, manager: c, executor: exec, executorPin: pinned, config: cfg}
	if pvc := find(objs, "PersistentVolumeClaim", "ansible-playbook-cache"); pvc != nil {
		r.cache = typed[corev1.PersistentVolumeClaim](t, pvc)
	}
	return r
}

// TestExamples_pinningStrategies renders the seed's three pinning
// strategies before and after `pin-images pin -w`, against the images the
// test built and pushed: an empty digest falls back to the tag, a digest
// wins over the tag, and mixed pinning leaves the executor on its tag.
func TestExamples_pinningStrategies(t *testing.T) {
	imgs := pushImages(t)
	host := imgs.reg.Host
	operatorTag := host + "/ansible-playbook-operator:dev"
	operatorPinned := operatorTag + "@" + imgs.operatorIndex
	executorTag := host + "/ansible-runner:13"
	executorPinned := host + "/ansible-runner@" + imgs.executorImage
	pinImages := tool(t, "pin-images")

	for _, tc := range []struct {
		example                   string
		wantManager, wantExecutor string
		wantExecutorPinned        bool
		wantPinned, wantSkipped   string
		check                     func(t *testing.T, r rendered)
	}{
		{
			example:     "image-pinning",
			wantManager: operatorPinned, wantExecutor: executorPinned, wantExecutorPinned: true,
			wantPinned: "2 pinned",
		},
		{
			example:     "production-pinning",
			wantManager: operatorPinned, wantExecutor: executorPinned, wantExecutorPinned: true,
			wantPinned: "2 pinned",
			check: func(t *testing.T, r rendered) {
				res := r.manager.Resources
				if res.Requests.Cpu().String() != "200m" || res.Requests.Memory().String() != "256Mi" ||
					res.Limits.Cpu().String() != "1" || res.Limits.Memory().String() != "1Gi" {
					t.Errorf("manager resources %v, want requests 200m/256Mi and limits 1000m/1Gi", res)
				}
				if r.cache == nil || r.cache.Spec.Resources.Requests.Storage().String() != "50Gi" ||
					r.cache.Spec.StorageClassName == nil || *r.cache.Spec.StorageClassName != "fast-ssd" {
					t.Errorf("cache claim %+v, want 50Gi of fast-ssd", r.cache)
				}
				if c := r.config.ExecutorDefaults.Cache; c.Strategy != "pvc" || c.PVCName != "ansible-playbook-cache" || !r.config.RequirePinnedExecutor {
					t.Errorf("config cache %+v requirePinnedExecutor %v, want pvc ansible-playbook-cache and true", c, r.config.RequirePinnedExecutor)
				}
			},
		},
		{
			example:     "mixed-pinning",
			wantManager: operatorPinned, wantExecutor: executorTag, wantExecutorPinned: false,
			wantPinned: "1 pinned", wantSkipped: "1 skipped",
		},
	} {
		t.Run(tc.example, func(t *testing.T) {
			root := copyTree(t, host)
			dir := filepath.Join(root, "examples", tc.example)
			before := renderExample(t, dir)
			if before.managerImage != operatorTag || before.executor != executorTag || before.executorPin {
				t.Errorf("before pinning: manager %s, executor %s (pinned %v); want the tags %s and %s (an empty digest falls back to the tag)",
					before.managerImage, before.executor, before.executorPin, operatorTag, executorTag)
			}
			r := mustSh(t, dir, nil, "", pinImages, "pin", "-w", ".")
			for _, want := range []string{tc.wantPinned, tc.wantSkipped} {
				if !strings.Contains(r.stdout+r.stderr, want) {
					t.Errorf("pin-images pin -w: want %q in\n%s", want, r)
				}
			}
			after := renderExample(t, dir)
			if after.managerImage != tc.wantManager || after.executor != tc.wantExecutor || after.executorPin != tc.wantExecutorPinned {
				t.Errorf("after pinning: manager %s, executor %s (pinned %v); want %s, %s (pinned %v)",
					after.managerImage, after.executor, after.executorPin, tc.wantManager, tc.wantExecutor, tc.wantExecutorPinned)
			}
			mustSh(t, dir, nil, "", pinImages, "verify", "--fail-on-drift", ".")
			// What the kubelet pulls exists: the references resolve in the registry.
			for _, ref := range []string{after.managerImage, after.executor} {
				mustSh(t, "", nil, "", tool(t, "crane"), "manifest", "--insecure", ref)
			}
			if tc.check != nil {
				tc.check(t, after)
			}
			if tc.wantExecutorPinned {
				// Digest over tag: a tag that no longer exists does not matter
				// once the digest is set.
				cfg := after.config
				cfg.ExecutorDefaults.Image.Tag = "gone"
				if img, _ := cfg.ExecutorImage(""); img != executorPinned {
					t.Errorf("with a digest and another tag the executor is %s, want %s", img, executorPinned)
				}
			}
		})
	}
}
