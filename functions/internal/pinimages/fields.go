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
	"fmt"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/cloud37/ansible-playbook-operator/functions/internal/yamlsrc"
)

// Where images live (DESIGN.md 2.2). Each entry has a golden case in testdata/.
//
//   - pod specs: containers[].image, initContainers[].image,
//     ephemeralContainers[].image and volumes[].image.reference of
//     Pod (spec), PodTemplate (template.spec), ReplicationController,
//     Deployment, ReplicaSet, StatefulSet, DaemonSet, Job (spec.template.spec)
//     and CronJob (spec.jobTemplate.spec.template.spec);
//   - Playbook (ansible.cloud37.dev) spec.runtime.image;
//   - Kustomization images[] (name/newName/newTag/digest): the digest is filled;
//   - image objects {repository, tag, digest} in YAML embedded in ConfigMap
//     keys named by the annotation pin-images.ansible.cloud37.dev/embedded;
//   - user fieldSpecs.
//
// Kinds are matched by API group too: a "Deployment" of another group, or an
// unknown kind with a containers list, is left alone.
//
// YAML aliases and merge keys are followed: an image reached through
// "*anchor" or "<<: *base" is the anchor's node, so it is pinned where the
// anchor is written. A field that holds no string (null, ~, 42, true, a
// list) is an error, not a lookup of "docker.io/library/null"; an empty
// string is left alone (pod templates may leave the image to a later step).

const (
	// SkipAnnotation: "true" skips every image of the resource; otherwise a
	// comma list of container names.
	SkipAnnotation = "pin-images.ansible.cloud37.dev/skip"
	// EmbeddedAnnotation names ConfigMap data keys that hold YAML with image objects.
	EmbeddedAnnotation = "pin-images.ansible.cloud37.dev/embedded"
	// SkipComment on a field's line skips that field.
	SkipComment = "pin-images:skip"
)

// podSpecPaths maps group/kind to the path of the pod spec.
var podSpecPaths = map[string][]string{
	"/Pod":                   {"spec"},
	"/PodTemplate":           {"template", "spec"},
	"/ReplicationController": {"spec", "template", "spec"},
	"apps/Deployment":        {"spec", "template", "spec"},
	"apps/ReplicaSet":        {"spec", "template", "spec"},
	"apps/StatefulSet":       {"spec", "template", "spec"},
	"apps/DaemonSet":         {"spec", "template", "spec"},
	"batch/Job":              {"spec", "template", "spec"},
	"batch/CronJob":          {"spec", "jobTemplate", "spec", "template", "spec"},
}

// FieldKind tells a string field from an image object.
type FieldKind int

const (
	// StringField holds "repo:tag[@digest]".
	StringField FieldKind = iota
	// ObjectField is a mapping with repository/tag/digest keys (or Kustomization's name/newName/newTag/digest).
	ObjectField
)

// objectKeys name the keys of an image object.
type objectKeys struct {
	repo    []string // first non-empty wins (Kustomization: newName, then name)
	tag     string
	digest  string
	tagless bool // Kustomization: a digest replaces the tag
}

var (
	helmKeys          = objectKeys{repo: []string{"repository"}, tag: "tag", digest: "digest"}
	kustomizationKeys = objectKeys{repo: []string{"newName", "name"}, tag: "newTag", digest: "digest", tagless: true}
)

// Field is one place that holds an image.
type Field struct {
	// Path is the field path for results, e.g. spec.template.spec.containers[name=app].image.
	Path string
	Kind FieldKind
	// Node is the scalar (StringField) or the mapping (ObjectField).
	Node *yaml.Node
	// Key is the mapping key node of Node (for line comments).
	Key  *yaml.Node
	keys objectKeys
	// Container is the container name, for the skip annotation.
	Container string
	// Embedded is set for fields inside YAML embedded in a ConfigMap key.
	Embedded *Embedded
	// Alias is the alias node the field was reached through, when it was
	// (its line comments count for skips).
	Alias *yaml.Node
	// Problem says why the field holds no image reference, or (an
	// ObjectField) no image object ("" when it does).
	Problem string
}

// Embedded is a YAML document held in a ConfigMap data key.
type Embedded struct {
	Key string
	// Value is the data scalar in the ConfigMap.
	Value *yaml.Node
	// Text is the embedded text the documents were parsed from.
	Text string
}

// gvk splits apiVersion into group and version.
func gvk(n *yaml.RNode) (group, version, kind string) {
	api := n.GetApiVersion()
	group, version, found := strings.Cut(api, "/")
	if !found {
		group, version = "", api
	}
	return group, version, n.GetKind()
}

// FindFields lists the image fields of one resource, in document order,
// with built-in places first and user fieldSpecs after.
func FindFields(obj *yaml.RNode, specs []FieldSpec) ([]*Field, error) {
	group, version, kind := gvk(obj)
	var fields []*Field
	if path, ok := podSpecPaths[group+"/"+kind]; ok {
		if ps := lookup(obj.YNode(), path...); ps != nil {
			fields = append(fields, podSpecFields(ps, strings.Join(path, "."))...)
		}
	}
	switch {
	case group == "ansible.cloud37.dev" && kind == "Playbook":
		if f := stringField(lookup(obj.YNode(), "spec", "runtime"), "image", "spec.runtime.image"); f != nil {
			fields = append(fields, f)
		}
	case group == "kustomize.config.k8s.io" && kind == "Kustomization":
		if _, imgs := field(obj.YNode(), "images"); imgs != nil && imgs.Kind == yaml.SequenceNode {
			for i, m := range imgs.Content {
				if m := deref(m); m.Kind == yaml.MappingNode {
					fields = append(fields, &Field{Path: fmt.Sprintf("images[%d]", i), Kind: ObjectField, Node: m, keys: kustomizationKeys})
				}
			}
		}
	case group == "" && kind == "ConfigMap":
		emb, err := embeddedFields(obj)
		if err != nil {
			return nil, err
		}
		fields = append(fields, emb...)
	}
	for _, fs := range specs {
		if !matchFieldSpec(fs, group, version, kind, obj.GetName()) {
			continue
		}
		fields = append(fields, specFields(obj.YNode(), fs)...)
	}
	return fields, nil
}

func podSpecFields(ps *yaml.Node, base string) []*Field {
	var out []*Field
	for _, list := range []string{"initContainers", "containers", "ephemeralContainers"} {
		_, seq := field(ps, list)
		if seq == nil || seq.Kind != yaml.SequenceNode {
			continue
		}
		for i, c := range seq.Content {
			c = deref(c)
			name := scalar(c, "name")
			if f := stringField(c, "image", base+"."+list+elem(i, name)+".image"); f != nil {
				f.Container = name
				out = append(out, f)
			}
		}
	}
	if _, vols := field(ps, "volumes"); vols != nil && vols.Kind == yaml.SequenceNode {
		for i, v := range vols.Content {
			v = deref(v)
			if f := stringField(lookup(v, "image"), "reference", base+".volumes"+elem(i, scalar(v, "name"))+".image.reference"); f != nil {
				out = append(out, f)
			}
		}
	}
	return out
}

// stringField is the image string held by key of mapping m: nil when the
// key is absent or holds "", a field with a Problem when it holds no string.
func stringField(m *yaml.Node, key, path string) *Field {
	k, v := field(m, key)
	if v == nil {
		return nil
	}
	f := &Field{Path: path, Kind: StringField, Key: k, Node: deref(v)}
	if f.Node == nil {
		return nil
	}
	if v.Kind == yaml.AliasNode {
		f.Alias = v
	}
	if f.Problem = notAString(f.Node); f.Problem == "" && f.Node.Value == "" {
		return nil
	}
	return f
}

// notAString says why n is not an image string ("" when it is one).
func notAString(n *yaml.Node) string {
	switch {
	case n.Kind == yaml.MappingNode:
		return "the field holds a mapping, want a string such as nginx:1.25"
	case n.Kind == yaml.SequenceNode:
		return "the field holds a list, want a string such as nginx:1.25"
	case n.Kind != yaml.ScalarNode:
		return "the field holds no string"
	}
	switch tag := n.ShortTag(); tag {
	case "!!str":
		return ""
	case "!!null":
		return fmt.Sprintf("%s is YAML's null: write the image, or remove the field", orTilde(n.Value))
	default:
		return fmt.Sprintf("%s is a YAML %s, not a string: write the image, and quote it if it really is a name such as \"%s\"", n.Value, strings.TrimPrefix(tag, "!!"), n.Value)
	}
}

func orTilde(v string) string {
	if v == "" {
		return "an empty value"
	}
	return v
}

// elem renders a list element the way kpt results do: [name=x], or [i] without a name.
func elem(i int, name string) string {
	if name != "" {
		return "[name=" + name + "]"
	}
	return fmt.Sprintf("[%d]", i)
}

// embeddedFields finds image objects in YAML held by annotated ConfigMap keys.
func embeddedFields(cm *yaml.RNode) ([]*Field, error) {
	keys := cm.GetAnnotations()[EmbeddedAnnotation]
	if keys == "" {
		return nil, nil
	}
	_, data := field(cm.YNode(), "data")
	var out []*Field
	for _, key := range splitList(keys) {
		_, val := field(data, key)
		if val == nil || val.Kind != yaml.ScalarNode {
			return nil, fmt.Errorf("annotation %s names data key %q, which the ConfigMap does not have: fix the annotation or add the key", EmbeddedAnnotation, key)
		}
		docs, err := yamlsrc.Decode([]byte(val.Value))
		if err != nil {
			return nil, fmt.Errorf("data.%s is not YAML (annotation %s): %w (lines count from the key's first line)", key, EmbeddedAnnotation, err)
		}
		emb := &Embedded{Key: key, Value: val, Text: val.Value}
		for i, doc := range docs {
			path := "data[" + key + "]"
			if len(docs) > 1 {
				path += fmt.Sprintf("[doc %d]", i)
			}
			walkObjects(doc, path, func(path string, m, k *yaml.Node) {
				out = append(out, &Field{Path: path, Kind: ObjectField, Node: m, Key: k, keys: helmKeys, Embedded: emb})
			})
		}
	}
	return out, nil
}

// walkObjects calls fn for every mapping that looks like an image object: a
// scalar repository and a tag or digest key. A node reached through aliases
// is walked once: an alias bomb (aliases of aliases of lists) would
// otherwise take exponential time.
func walkObjects(n *yaml.Node, path string, fn func(path string, m, key *yaml.Node)) {
	w := &objectWalk{fn: fn, seen: map[*yaml.Node]bool{}}
	w.walk(n, path, nil)
}

type objectWalk struct {
	fn   func(path string, m, key *yaml.Node)
	seen map[*yaml.Node]bool // alias targets already walked
}

func (w *objectWalk) walk(n *yaml.Node, path string, key *yaml.Node) {
	if n.Kind == yaml.AliasNode {
		if n.Alias == nil || w.seen[n.Alias] {
			return
		}
		w.seen[n.Alias] = true
		n = n.Alias
	}
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			w.walk(c, path, nil)
		}
	case yaml.MappingNode:
		if isImageObject(n) {
			w.fn(path, n, key)
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			w.walk(n.Content[i+1], path+"."+n.Content[i].Value, n.Content[i])
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			w.walk(c, fmt.Sprintf("%s[%d]", path, i), nil)
		}
	}
}

func isImageObject(m *yaml.Node) bool {
	_, repo := field(m, "repository")
	if repo = deref(repo); repo == nil || repo.Kind != yaml.ScalarNode {
		return false
	}
	_, tag := field(m, "tag")
	_, digest := field(m, "digest")
	return tag != nil || digest != nil
}

func matchFieldSpec(fs FieldSpec, group, version, kind, name string) bool {
	return fs.Kind == kind && (fs.Group == "" || fs.Group == group) &&
		(fs.Version == "" || fs.Version == version) && (fs.Name == "" || fs.Name == name)
}

// specFields walks a kustomize-style path ("spec/x[]/image") and returns the
// fields it reaches.
func specFields(root *yaml.Node, fs FieldSpec) []*Field {
	var out []*Field
	var walk func(n *yaml.Node, segs []string, path string, key *yaml.Node)
	walk = func(n *yaml.Node, segs []string, path string, key *yaml.Node) {
		if n == nil {
			return
		}
		if len(segs) == 0 {
			if n = deref(n); n == nil {
				return
			}
			switch {
			case fs.Type == "object" && n.Kind == yaml.MappingNode:
				out = append(out, &Field{Path: path, Kind: ObjectField, Node: n, Key: key, keys: helmKeys})
			case fs.Type == "object":
				out = append(out, &Field{Path: path, Kind: ObjectField, Node: n, Key: key, keys: helmKeys,
					Problem: "want a mapping with repository, tag and digest (fieldSpecs type: object)"})
			default:
				f := &Field{Path: path, Kind: StringField, Node: n, Key: key, Problem: notAString(n)}
				if f.Problem != "" || n.Value != "" {
					out = append(out, f)
				}
			}
			return
		}
		seg, list := strings.CutSuffix(segs[0], "[]")
		k, v := field(n, seg)
		if v == nil {
			return
		}
		p := strings.TrimPrefix(path+"."+seg, ".")
		if len(segs) > 1 || list {
			v = deref(v)
		}
		if !list {
			walk(v, segs[1:], p, k)
			return
		}
		if v.Kind != yaml.SequenceNode {
			return
		}
		for i, c := range v.Content {
			c = deref(c)
			walk(c, segs[1:], p+elem(i, scalar(c, "name")), nil)
		}
	}
	walk(root, strings.Split(fs.Path, "/"), "", nil)
	return out
}

// field returns the key and value nodes of a mapping entry. m may be an
// alias; an entry not written in m is looked up in the mappings it merges
// ("<<: *base", "<<: [*a, *b]"), first match first, as YAML's merge key
// says. The value is returned as written (it may be an alias: see deref).
func field(m *yaml.Node, name string) (key, value *yaml.Node) {
	return fieldDepth(deref(m), name, 0)
}

// maxMergeDepth bounds merges of merges; real files use one or two.
const maxMergeDepth = 8

func fieldDepth(m *yaml.Node, name string, depth int) (key, value *yaml.Node) {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil, nil
	}
	var merges []*yaml.Node
	for i := 0; i+1 < len(m.Content); i += 2 {
		k := m.Content[i]
		if k.Value == name {
			return k, m.Content[i+1]
		}
		if k.Value == "<<" && k.Kind == yaml.ScalarNode && (k.Tag == "!!merge" || k.Style == 0) {
			merges = append(merges, m.Content[i+1])
		}
	}
	if depth >= maxMergeDepth {
		return nil, nil
	}
	for _, mv := range merges {
		mv = deref(mv)
		sources := []*yaml.Node{mv}
		if mv.Kind == yaml.SequenceNode {
			sources = mv.Content
		}
		for _, src := range sources {
			if k, v := fieldDepth(deref(src), name, depth+1); v != nil {
				return k, v
			}
		}
	}
	return nil, nil
}

// deref follows an alias to its anchor's node.
func deref(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < maxMergeDepth; i++ {
		n = n.Alias
	}
	return n
}

func lookup(n *yaml.Node, path ...string) *yaml.Node {
	for _, p := range path {
		_, n = field(n, p)
		if n == nil {
			return nil
		}
	}
	return deref(n)
}

func scalar(m *yaml.Node, name string) string {
	if _, v := field(m, name); v != nil {
		if v = deref(v); v != nil && v.Kind == yaml.ScalarNode {
			return v.Value
		}
	}
	return ""
}
