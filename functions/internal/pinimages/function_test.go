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

package pinimages

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// An earlier function's results in the input: the output is still the
// input spliced (head comments, blank lines, wide list indentation stay),
// the earlier results come first, and a second run changes no item.
func TestRunFunction_resultsInTheInputAreKeptAndItemsSpliced(t *testing.T) {
	const items = `apiVersion: config.kubernetes.io/v1
kind: ResourceList
items:
  # the web tier
  - apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: web

    spec:
      template:
        spec:
          containers:
            - name: app
              image: registry.example.com/team/app:1.0   # pinned by CI
`
	in := items + `results:
  - message: set by an earlier function
    severity: info
`
	fake := &fakeRegistry{}
	out, stderr, status := runFunction(t, []byte(in), fake)
	if status != 0 {
		t.Fatalf("exit %d: %s", status, stderr)
	}
	pinned := strings.Replace(items, "app:1.0 ", "app:1.0@"+derived("registry.example.com/team/app:1.0")+" ", 1)
	if !strings.HasPrefix(out, pinned+"results:\n") {
		t.Fatalf("the items are not the input with the digest spliced in (-want +got):\n%s", cmp.Diff(pinned, out))
	}
	var rl struct {
		Results []struct{ Message string } `yaml:"results"`
	}
	if err := yaml.Unmarshal([]byte(out), &rl); err != nil {
		t.Fatal(err)
	}
	if len(rl.Results) < 2 || rl.Results[0].Message != "set by an earlier function" || !strings.HasPrefix(rl.Results[1].Message, "pinned registry.example.com/team/app:1.0") {
		t.Errorf("results: the earlier function's first, then this run's; got %+v", rl.Results)
	}

	again, stderr, status := runFunction(t, []byte(out), fake)
	if status != 0 {
		t.Fatalf("second run: exit %d: %s", status, stderr)
	}
	if !strings.HasPrefix(again, pinned+"results:\n") {
		t.Errorf("the second run changed the items (-want +got):\n%s", cmp.Diff(pinned, again))
	}
}
