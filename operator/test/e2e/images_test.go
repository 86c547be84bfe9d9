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
	"encoding/json"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// OperatorImage is what `make images` loads into the local engine.
const OperatorImage = "localhost/ansible-playbook-operator:dev"

// TestImages_multiArchIndexIsReproducible pushes each image as an OCI
// index of linux/amd64 and linux/arm64 twice from the same build contexts:
// the index digests are equal and the index holds both platforms.
func TestImages_multiArchIndexIsReproducible(t *testing.T) {
	reg := startRegistry(t)
	first, second := pushIndexes(t, reg, "first"), pushIndexes(t, reg, "second")
	for _, name := range []string{"pin-images", "ansible-playbook-operator"} {
		t.Run(name, func(t *testing.T) {
			first, second := first[name], second[name]
			if first != second {
				t.Fatalf("two pushes of the same inputs gave %s and %s", first, second)
			}
			raw := mustSh(t, "", nil, "", tool(t, "crane"), "manifest", "--insecure", reg.Host+"/"+name+":first").stdout
			var idx struct {
				MediaType string `json:"mediaType"`
				Manifests []struct {
					Platform struct{ OS, Architecture string } `json:"platform"`
				} `json:"manifests"`
			}
			if err := json.Unmarshal([]byte(raw), &idx); err != nil {
				t.Fatal(err)
			}
			var plats []string
			for _, m := range idx.Manifests {
				plats = append(plats, m.Platform.OS+"/"+m.Platform.Architecture)
			}
			slices.Sort(plats)
			if idx.MediaType != "application/vnd.oci.image.index.v1+json" || !slices.Equal(plats, []string{"linux/amd64", "linux/arm64"}) {
				t.Errorf("index %s with platforms %v, want an OCI index of linux/amd64 and linux/arm64", idx.MediaType, plats)
			}
			if got := strings.TrimSpace(mustSh(t, "", nil, "", tool(t, "crane"), "digest", "--insecure", reg.Host+"/"+name+":first").stdout); got != first {
				t.Errorf("the registry serves %s, imagebuild printed %s", got, first)
			}
			t.Logf("%s index digest: %s", name, first)
		})
	}
}

// TestImages_operatorImageInTheLocalEngine checks the image `make images`
// loaded: non-root, the manager as entrypoint, playbook-runner where the
// runs' init container looks for it, and both binaries start.
func TestImages_operatorImageInTheLocalEngine(t *testing.T) {
	if err := exec.Command("docker", "image", "inspect", OperatorImage).Run(); err != nil {
		t.Fatalf("%s is not in the local Docker engine: run `make images` (make test does)", OperatorImage)
	}
	inspect := func(f string) string {
		return strings.TrimSpace(mustSh(t, "", nil, "", "docker", "image", "inspect", OperatorImage, "--format", f).stdout)
	}
	if u := inspect("{{.Config.User}}"); u != "65532:65532" {
		t.Errorf("user %q, want 65532:65532", u)
	}
	if e := inspect("{{json .Config.Entrypoint}}"); e != `["/manager"]` {
		t.Errorf("entrypoint %s, want [\"/manager\"]", e)
	}
	r := sh("", nil, "", "docker", "run", "--rm", "--network", "none", OperatorImage, "--help")
	if !strings.Contains(r.stderr, "-leader-elect") {
		t.Errorf("docker run %s --help: want the manager's flags\n%s", OperatorImage, r)
	}
	r = sh("", nil, "", "docker", "run", "--rm", "--network", "none", "--entrypoint", "/usr/local/bin/playbook-runner", OperatorImage)
	if !strings.Contains(r.stderr, "usage:") || !strings.Contains(r.stderr, "install") {
		t.Errorf("playbook-runner without arguments: want its usage\n%s", r)
	}
}

// TestImages_rebuildGivesTheSameDigest rebuilds the operator image from
// source (hack/image.sh: both binaries for both platforms, the context, the
// index) and pushes it: the index digest is the one of the contexts `make
// images` assembled before.
func TestImages_rebuildGivesTheSameDigest(t *testing.T) {
	reg := startRegistry(t)
	before := pushIndexes(t, reg, "before")["ansible-playbook-operator"]
	r := mustSh(t, repoRoot(), []string{"ARCHES=amd64 arm64"}, "", filepath.Join(repoRoot(), "hack", "image.sh"), "operator", "dev")
	after := pushIndexes(t, reg, "rebuilt")["ansible-playbook-operator"]
	if after != before {
		t.Fatalf("a rebuild gave index %s, the earlier build %s (if the source, commit or dirty state changed since `make images`, run it again: Go stamps them into the binaries)\n%s", after, before, r)
	}
	t.Logf("rebuilt index digest: %s", after)
}
