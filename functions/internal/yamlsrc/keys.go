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

package yamlsrc

import (
	"fmt"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// DuplicateKey is a mapping key written twice. yaml.v3 reads such a mapping
// into nodes without complaint, and readers disagree on which value counts
// (the first for a node walk, the last for Kubernetes' JSON), so an image
// could be pinned in one copy and run from the other.
type DuplicateKey struct {
	Key           string
	First, Second int // lines
}

func (d *DuplicateKey) Error() string {
	return fmt.Sprintf("duplicate key %q at lines %d and %d: a key may appear once in a mapping (readers disagree on which one counts); remove one", d.Key, d.First, d.Second)
}

// smallMapping is the size up to which pairs are compared directly; larger
// mappings (a ConfigMap with thousands of keys) use a set.
const smallMapping = 16

// DuplicateKeys returns the duplicate scalar keys of every mapping under n,
// in document order. Aliases are not followed: the mapping they name is
// checked where it is written.
func DuplicateKeys(n *yaml.Node) []*DuplicateKey {
	var out []*DuplicateKey
	var walk func(*yaml.Node)
	walk = func(n *yaml.Node) {
		if n == nil {
			return
		}
		if n.Kind == yaml.MappingNode {
			out = append(out, mappingDuplicates(n)...)
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(n)
	return out
}

func mappingDuplicates(m *yaml.Node) []*DuplicateKey {
	var out []*DuplicateKey
	pairs := len(m.Content) / 2
	if pairs <= smallMapping {
		for i := 0; i < pairs; i++ {
			ki := m.Content[2*i]
			for j := 0; j < i; j++ {
				if kj := m.Content[2*j]; sameKey(ki, kj) {
					out = append(out, &DuplicateKey{Key: ki.Value, First: kj.Line, Second: ki.Line})
					break
				}
			}
		}
		return out
	}
	seen := make(map[string]*yaml.Node, pairs)
	for i := 0; i < pairs; i++ {
		k := m.Content[2*i]
		if k.Kind != yaml.ScalarNode {
			continue
		}
		if first, ok := seen[k.Value]; ok {
			out = append(out, &DuplicateKey{Key: k.Value, First: first.Line, Second: k.Line})
			continue
		}
		seen[k.Value] = k
	}
	return out
}

// sameKey compares scalar keys by value, as their JSON form does ("1" and 1
// are one key there).
func sameKey(a, b *yaml.Node) bool {
	return a.Kind == yaml.ScalarNode && b.Kind == yaml.ScalarNode && a.Value == b.Value
}
