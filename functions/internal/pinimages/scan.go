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
	"strconv"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/cloud37/ansible-playbook-operator/functions/internal/imageref"
)

// The scan closes the gap between where images are and where pin-images
// looks: requireDigests and allowedRegistries would pass an image in a
// field nobody declared. It reports every string that looks like an image
// reference (it parses as one) under a key named image, or in a list under
// a key named images, that is no known or declared field; container lists
// in any kind at any depth are covered by the first rule. It never changes
// what it finds and never asks a registry about it.
//
// Left out, because what they hold is not an image to pin: metadata (labels
// and annotations are data), status (written by the cluster, never
// applied), the data, binaryData and stringData of ConfigMaps and Secrets,
// unless declared embedded, and the kinds of unscanned. Strings that are not references
// (templates, prose) are not image-like.

// unscanned are kinds (group/kind, or a whole group/) whose image-like
// strings are no images to run: a CRD's schema (kustomize's image
// transformer skips CRDs too), kbld's own config (its image: keys are
// matching rules and overrides) and imgpkg's ImagesLock, and kpt's records
// of the functions that ran.
var unscanned = map[string]bool{
	"apiextensions.k8s.io/CustomResourceDefinition": true,
	"kbld.k14s.io/":                true,
	"imgpkg.carvel.dev/ImagesLock": true,
	"kpt.dev/FunctionResultList":   true,
}

// scan collects the undeclared image-like fields of resources.
type scan struct {
	known map[*yaml.Node]bool // declared fields, and scan hits (an alias is reported once)
	seen  map[*yaml.Node]bool // alias targets walked
	emb   *Embedded
	out   []*Field
	// at is the walk's position, one step per key or list element; the
	// paths are made from it only for a hit (most nodes are none).
	at   []step
	base string
	kind string // the start of the fieldSpec that would declare a hit
}

type step struct {
	key   string // "" for a list element
	index int
	name  string // the element's name
}

func (s *scan) resource(root *yaml.Node, base string) {
	if root == nil || root.Kind != yaml.MappingNode {
		return
	}
	rn := yaml.NewRNode(root)
	group, _, kind := gvk(rn)
	if unscanned[group+"/"+kind] || unscanned[group+"/"] {
		return
	}
	if items := listItems(root, kind); items != nil {
		for i, it := range items {
			s.resource(it, joinPath(base, "items["+strconv.Itoa(i)+"]"))
		}
		return
	}
	s.base, s.kind, s.at = base, declareKind(group, kind), s.at[:0]
	dataKind := group == "" && (kind == "ConfigMap" || kind == "Secret")
	for i := 0; i+1 < len(root.Content); i += 2 {
		switch k := root.Content[i].Value; {
		case k == "metadata" || k == "status" || k == "apiVersion" || k == "kind":
			continue
		case dataKind && (k == "data" || k == "binaryData" || k == "stringData"):
			continue
		}
		s.entry(root.Content[i], root.Content[i+1])
	}
}

// declareKind is the start of the fieldSpec that would declare a field of
// the kind.
func declareKind(group, kind string) string {
	var b strings.Builder
	if group != "" {
		b.WriteString("group: " + group + ", ")
	}
	if kind != "" {
		b.WriteString("kind: " + kind + ", ")
	}
	return b.String()
}

// entry looks at one mapping entry: the key's value is a hit, or is walked.
func (s *scan) entry(k, v *yaml.Node) {
	n := deref(v)
	if n == nil {
		return
	}
	s.at = append(s.at, step{key: k.Value})
	defer func() { s.at = s.at[:len(s.at)-1] }()
	switch {
	case k.Value == "image" && n.Kind == yaml.ScalarNode:
		s.hit(v, k)
		return
	case k.Value == "images" && n.Kind == yaml.SequenceNode:
		for i, c := range n.Content {
			if dc := deref(c); dc != nil && dc.Kind == yaml.ScalarNode {
				s.at = append(s.at, step{index: i})
				s.hit(c, nil)
				s.at = s.at[:len(s.at)-1]
			}
		}
		// a list of mappings ({image: …}) is walked like any list
	}
	s.walk(v)
}

func (s *scan) walk(v *yaml.Node) {
	n := v
	if v.Kind == yaml.AliasNode {
		if v.Alias == nil || s.seen[v.Alias] {
			return
		}
		s.seen[v.Alias] = true
		n = deref(v)
	}
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			s.entry(n.Content[i], n.Content[i+1])
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			s.at = append(s.at, step{index: i, name: scalar(c, "name")})
			s.walk(c)
			s.at = s.at[:len(s.at)-1]
		}
	}
}

// hit records v when it is an image-like string in no known field.
func (s *scan) hit(v, key *yaml.Node) {
	n := deref(v)
	if n == nil || s.known[n] || n.ShortTag() != "!!str" || n.Value == "" {
		return
	}
	if _, err := imageref.Parse(n.Value); err != nil {
		return
	}
	s.known[n] = true
	path, spec, container := s.base, "", ""
	for i, st := range s.at {
		if st.key != "" {
			path, spec = joinPath(path, st.key), strings.TrimPrefix(spec+"/"+st.key, "/")
			continue
		}
		path, spec = path+elem(st.index, st.name), spec+"[]"
		if i > 0 && isContainerList(s.at[i-1].key) {
			container = st.name
		}
	}
	f := &Field{Path: path, Kind: StringField, Node: n, Key: key, Container: container, Embedded: s.emb,
		Undeclared: true, Declare: "{" + s.kind + "path: " + spec + "}"}
	if v.Kind == yaml.AliasNode {
		f.Alias = v
	}
	s.out = append(s.out, f)
}

func isContainerList(key string) bool {
	return key == "containers" || key == "initContainers" || key == "ephemeralContainers"
}
