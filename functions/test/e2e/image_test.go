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
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"

	"github.com/cloud37/ansible-playbook-operator/functions/internal/registry"
	"github.com/cloud37/ansible-playbook-operator/functions/internal/registrytest"
)

func imageContext(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(root(t), "_out", "image-fn", "linux-"+runtime.GOARCH)
	if !fileExists(filepath.Join(dir, "pin-images")) {
		t.Fatalf("%s has no build context: run `make image-fn`", dir)
	}
	return dir
}

// TestImage_reproducible builds the image of Dockerfile.fn twice from the
// same context: the digests are equal; another timestamp changes them.
func TestImage_reproducible(t *testing.T) {
	ctx := imageContext(t)
	build := func(epoch string) string {
		r := mustSh(t, root(t), []string{"SOURCE_DATE_EPOCH=" + epoch}, "", tool(t, "imagebuild"),
			"-f", "Dockerfile.fn", "-context", "linux/"+runtime.GOARCH+"="+ctx)
		return strings.TrimSpace(r.stdout)
	}
	first, second := build("0"), build("0")
	if first == "" || first != second {
		t.Fatalf("two builds from the same inputs differ:\n%s\n%s", first, second)
	}
	if other := build("1"); other == first {
		t.Fatalf("a different SOURCE_DATE_EPOCH gave the same digest %s: the check cannot fail", first)
	}
	t.Logf("image digest: %s", first)
}

// TestImage_dockerfileMatchesLocalEngine builds Dockerfile.fn and
// Dockerfile.operator with the local engine (the legacy builder: buildx is
// not installed here) from the contexts `make images` assembled, and checks
// that each holds exactly the files and settings of the reproducible image
// that make loaded.
func TestImage_dockerfileMatchesLocalEngine(t *testing.T) {
	for _, tc := range []struct{ dockerfile, context, image string }{
		{"Dockerfile.fn", "image-fn", Image},
		{"Dockerfile.operator", "image-operator", "localhost/ansible-playbook-operator:dev"},
	} {
		t.Run(tc.dockerfile, func(t *testing.T) {
			if err := exec.Command("docker", "image", "inspect", tc.image).Run(); err != nil {
				t.Fatalf("%s is not in the local Docker engine: run `make images` (make test does)", tc.image)
			}
			ctx := filepath.Join(root(t), "_out", tc.context, "linux-"+runtime.GOARCH)
			if !fileExists(ctx) {
				t.Fatalf("%s has no build context: run `make images`", ctx)
			}
			tag := "localhost/dockerfile-check:" + strings.TrimPrefix(tc.context, "image-")
			r := sh(t, root(t), []string{"DOCKER_BUILDKIT=0"}, "", "docker", "build", "-q", "-f", tc.dockerfile, "-t", tag, ctx)
			if r.err != nil {
				t.Fatalf("docker build -f %s: %v\n%s", tc.dockerfile, r.err, r)
			}
			t.Cleanup(func() { _ = exec.Command("docker", "rmi", "-f", tag).Run() })
			if a, b := files(t, tc.image), files(t, tag); a != b {
				t.Errorf("files differ:\nimagebuild:\n%s\ndocker build:\n%s", a, b)
			}
			for _, f := range []string{"{{.Config.User}}", "{{json .Config.Entrypoint}}", "{{.Os}}/{{.Architecture}}"} {
				a := mustSh(t, "", nil, "", "docker", "image", "inspect", tc.image, "--format", f).stdout
				b := mustSh(t, "", nil, "", "docker", "image", "inspect", tag, "--format", f).stdout
				if a != b {
					t.Errorf("%s: imagebuild %q, docker build %q", f, a, b)
				}
			}
		})
	}
}

// files lists path, mode, owner and content hash of an image's filesystem.
func files(t *testing.T, image string) string {
	t.Helper()
	id := strings.TrimSpace(mustSh(t, "", nil, "", "docker", "create", image).stdout)
	t.Cleanup(func() { _ = exec.Command("docker", "rm", "-f", id).Run() })
	cmd := exec.Command("docker", "export", id)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var lines []string
	tr := tar.NewReader(out)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		// docker export adds the mount points every container has.
		if h.Typeflag == tar.TypeDir || strings.HasPrefix(h.Name, "dev/") || strings.HasPrefix(h.Name, "proc/") ||
			strings.HasPrefix(h.Name, "sys/") || h.Name == ".dockerenv" || strings.HasPrefix(h.Name, "etc/hostname") ||
			h.Name == "etc/hosts" || h.Name == "etc/resolv.conf" || h.Name == "etc/mtab" {
			continue
		}
		sum := sha256.New()
		if _, err := io.Copy(sum, tr); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, fmt.Sprintf("%s %o %d:%d %s", h.Name, h.Mode&0o7777, h.Uid, h.Gid, hex.EncodeToString(sum.Sum(nil))[:16]))
	}
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// TestImage_users checks the image runs as nonroot by default and as nobody,
// the user kustomize and kpt start function containers with.
func TestImage_users(t *testing.T) {
	requireImage(t)
	if u := strings.TrimSpace(mustSh(t, "", nil, "", "docker", "image", "inspect", Image, "--format", "{{.Config.User}}").stdout); u != "65532:65532" {
		t.Errorf("image user = %q, want 65532:65532", u)
	}
	for _, user := range []string{"", "nobody"} {
		args := []string{"run", "--rm", "--network", "none"}
		if user != "" {
			args = append(args, "--user", user)
		}
		args = append(args, Image, "version")
		if r := sh(t, "", nil, "", "docker", args...); r.err != nil || strings.TrimSpace(r.stdout) == "" {
			t.Errorf("docker %s: %v\n%s", strings.Join(args, " "), r.err, r)
		}
	}
}

// TestContainer_networkNone: without network every lookup the lock cannot
// answer fails with the flags to set; a fully locked run succeeds.
func TestContainer_networkNone(t *testing.T) {
	requireImage(t)
	reg := registrytest.Start(t, registrytest.Options{})
	digest := reg.PushRandom(t, "team/app:1.0")
	pod := podList(reg.Host + "/team/app:1.0")

	r := sh(t, "", nil, pod, "docker", "run", "--rm", "-i", "--network", "none", "--user", "nobody", Image)
	if r.err == nil || !strings.Contains(r.stderr, registry.NetworkRequiredMessage) {
		t.Fatalf("unlocked run without network: err %v, want the network required message\n%s", r.err, r)
	}
	if strings.Contains(r.stdout, "@sha256:") {
		t.Errorf("a failed run changed items:\n%s", r.stdout)
	}

	locked := podList(reg.Host+"/team/app:1.0", lockItem(reg.Host+"/team/app:1.0", digest))
	r = sh(t, "", nil, locked, "docker", "run", "--rm", "-i", "--network", "none", "--user", "nobody", Image)
	if r.err != nil {
		t.Fatalf("locked run without network: %v\n%s", r.err, r)
	}
	if !strings.Contains(r.stdout, "image: "+reg.Host+"/team/app:1.0@"+digest) {
		t.Errorf("not pinned from the lock:\n%s", r.stdout)
	}
}

// podList is a ResourceList with one Pod and extra items.
func podList(image string, extra ...string) string {
	s := "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n" +
		"- apiVersion: v1\n  kind: Pod\n  metadata:\n    name: p\n  spec:\n    containers:\n    - name: c\n      image: " + image + "\n"
	for _, e := range extra {
		s += e
	}
	return s
}

// lockItem renders an ImageLock item for a ResourceList.
func lockItem(image, digest string) string {
	return "- apiVersion: fn.ansible.cloud37.dev/v1alpha1\n  kind: ImageLock\n  metadata:\n    name: images\n" +
		"    annotations:\n      config.kubernetes.io/local-config: \"true\"\n  spec:\n    images:\n" +
		"    - image: " + image + "\n      digest: " + digest + "\n      resolvedAt: \"2026-11-27T00:00:00Z\"\n"
}
