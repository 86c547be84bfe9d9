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
	"bytes"
	"context"
	"io"
	"testing"
	"time"

	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/cloud37/ansible-playbook-operator/functions/internal/registry"
)

// The fuzz targets' seed corpora are in testdata/fuzz/<Target>; crashers
// found are committed there as regression cases, so plain `go test` runs
// them. `make fuzz` runs each target for FUZZTIME.

// FuzzReadResourceList runs the whole function on arbitrary input with the
// fake registry: it must never panic, and what it accepts must come out as
// one ResourceList that still has every item.
func FuzzReadResourceList(f *testing.F) {
	f.Fuzz(func(t *testing.T, in []byte) {
		_, rl, err := readResourceList(in)
		if err != nil {
			return
		}
		p := &Processor{
			Ctx:         context.Background(),
			Stderr:      io.Discard,
			NewResolver: func(registry.Options) (registry.Resolver, error) { return &fakeRegistry{}, nil },
			Now:         func() time.Time { return goldenNow },
		}
		var out bytes.Buffer
		if err := RunFunction(p, in, &out); err != nil {
			return
		}
		_, got, err := readResourceList(out.Bytes())
		if err != nil {
			t.Fatalf("the output does not read as a ResourceList: %v\n%s", err, out.Bytes())
		}
		if len(got.Items) != len(rl.Items) {
			t.Fatalf("%d items in, %d out:\n%s", len(rl.Items), len(got.Items), out.Bytes())
		}
	})
}

// fuzzDigest is the digest FuzzSplice pins every field to.
const fuzzDigest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// FuzzSplice is the splicer's round trip: setting every image field of a
// file to a new value and parsing the result gives the intended values, and
// setting them back gives the original bytes, so no other byte changed.
func FuzzSplice(f *testing.F) {
	f.Fuzz(func(t *testing.T, src []byte) {
		file, err := ParseFile("fuzz.yaml", src)
		if err != nil {
			return
		}
		forward, wants := spliceAll(file.Resources, func(f *Field) string {
			if f.Kind == ObjectField {
				return fuzzDigest
			}
			return "fuzz.example.com/app:1@" + fuzzDigest
		})
		if len(forward) == 0 {
			return
		}
		out, err := SpliceFile(src, forward)
		if err != nil {
			return // some fields cannot be edited in place (block scalars, escapes): an error, never bad bytes
		}
		back, err := ParseFile("fuzz.yaml", out)
		if err != nil {
			t.Fatalf("spliced file does not parse: %v\n%q\n->\n%q", err, src, out)
		}
		reverse, after := spliceAll(back.Resources, func(*Field) string { return "" })
		if len(after) != len(wants) {
			t.Fatalf("%d fields before, %d after:\n%q\n->\n%q", len(wants), len(after), src, out)
		}
		for i := range wants {
			if after[i].old != wants[i].new {
				t.Fatalf("field %d is %q, want %q:\n%q\n->\n%q", i, after[i].old, wants[i].new, src, out)
			}
		}
		// Back to the old values: only fields that had one can be restored
		// (a digest key added to an object cannot be removed by a splice).
		var restore []Change
		for i, c := range reverse {
			if !wants[i].added {
				c.New = wants[i].old
				restore = append(restore, c)
			}
		}
		if len(restore) != len(reverse) {
			return
		}
		again, err := SpliceFile(out, restore)
		if err != nil {
			t.Fatalf("the spliced values cannot be spliced back: %v\n%q", err, out)
		}
		if !bytes.Equal(again, src) {
			t.Fatalf("splicing back does not restore the file:\n%q\n->\n%q\n->\n%q", src, out, again)
		}
	})
}

type fuzzWant struct {
	old, new string
	// added is set where splicing back cannot restore the bytes: an
	// object's digest key was absent, or an empty value got its value after
	// a space ("digest:" becomes "digest: sha256:…").
	added bool
}

// spliceAll makes one change per distinct image field node of resources,
// with the value value gives, and returns the changes and, per field, its
// old and intended value (the current value when value's is "").
func spliceAll(resources []*Resource, value func(*Field) string) ([]Change, []fuzzWant) {
	var changes []Change
	var wants []fuzzWant
	seen := map[*yaml.Node]bool{}
	for _, r := range resources {
		fields, err := FindFields(r, nil)
		if err != nil {
			continue
		}
		for _, f := range fields {
			if f.Problem != "" || seen[f.Node] {
				continue
			}
			seen[f.Node] = true
			w := fuzzWant{}
			if f.Kind == StringField {
				w.old = f.Node.Value
			} else {
				if _, v := field(f.Node, f.keys.digest); v != nil {
					w.old = deref(v).Value
				} else {
					w.added = true
				}
				if obj, _, _, _ := readObject(f); obj.last == nil {
					continue // nothing to add a digest after
				}
			}
			if w.old == "" {
				w.added = true
			}
			n := value(f)
			if n == "" {
				n = w.old
			}
			w.new = n
			changes = append(changes, Change{Resource: r, Field: f, Old: w.old, New: n})
			wants = append(wants, w)
		}
	}
	return changes, wants
}

// FuzzDecodeConfig decodes arbitrary config files: never a panic, and what
// decodes validates without one.
func FuzzDecodeConfig(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := DecodeConfig(data)
		if err != nil {
			return
		}
		_, _ = cfg.Validate()
		if n, err := yaml.Parse(string(data)); err == nil && n.YNode().Kind == yaml.MappingNode {
			_, _ = ParseConfig(n)
		}
	})
}
