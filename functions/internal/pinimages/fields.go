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
	// SkipReason is why the field is left alone ("" when it is not).
	SkipReason string
}

// Embedded is a YAML document held in a ConfigMap data key.
type Embedded struct {
	Key string
	// Value is the data scalar in the ConfigMap.
	Value *yaml.Node
	// Doc is the parsed embedded document.
	Doc *yaml.Node
	// Text is the embedded text the document was parsed from.
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
		if rt := lookup(obj.YNode(), "spec", "runtime"); rt != nil {
			if k, v := field(rt, "image"); v != nil && v.Kind == yaml.ScalarNode && v.Value != "" {
				fields = append(fields, &Field{Path: "spec.runtime.image", Kind: StringField, Node: v, Key: k})
			}
		}
	case group == "kustomize.config.k8s.io" && kind == "Kustomization":
		if _, imgs := field(obj.YNode(), "images"); imgs != nil && imgs.Kind == yaml.SequenceNode {
			for i, m := range imgs.Content {
				if m.Kind == yaml.MappingNode {
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
			k, img := field(c, "image")
			if img == nil || img.Kind != yaml.ScalarNode || img.Value == "" {
				continue
			}
			name := scalar(c, "name")
			out = append(out, &Field{Path: base + "." + list + elem(i, name) + ".image", Kind: StringField, Node: img, Key: k, Container: name})
		}
	}
	if _, vols := field(ps, "volumes"); vols != nil && vols.Kind == yaml.SequenceNode {
		for i, v := range vols.Content {
			k, ref := field(lookup(v, "image"), "reference")
			if ref == nil || ref.Kind != yaml.ScalarNode || ref.Value == "" {
				continue
			}
			out = append(out, &Field{Path: base + ".volumes" + elem(i, scalar(v, "name")) + ".image.reference", Kind: StringField, Node: ref, Key: k})
		}
	}
	return out
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
		var doc yaml.Node
		if err := yaml.Unmarshal([]byte(val.Value), &doc); err != nil {
			return nil, fmt.Errorf("data.%s is not YAML (annotation %s): %w", key, EmbeddedAnnotation, err)
		}
		emb := &Embedded{Key: key, Value: val, Doc: &doc, Text: val.Value}
		walkObjects(&doc, "data["+key+"]", func(path string, m, k *yaml.Node) {
			out = append(out, &Field{Path: path, Kind: ObjectField, Node: m, Key: k, keys: helmKeys, Embedded: emb})
		})
	}
	return out, nil
}

// walkObjects calls fn for every mapping that looks like an image object: a
// scalar repository and a tag or digest key.
func walkObjects(n *yaml.Node, path string, fn func(path string, m, key *yaml.Node)) {
	walkObjectsKey(n, path, nil, fn)
}

func walkObjectsKey(n *yaml.Node, path string, key *yaml.Node, fn func(path string, m, key *yaml.Node)) {
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			walkObjectsKey(c, path, nil, fn)
		}
	case yaml.MappingNode:
		if isImageObject(n) {
			fn(path, n, key)
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			walkObjectsKey(n.Content[i+1], path+"."+n.Content[i].Value, n.Content[i], fn)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			walkObjectsKey(c, fmt.Sprintf("%s[%d]", path, i), nil, fn)
		}
	}
}

func isImageObject(m *yaml.Node) bool {
	_, repo := field(m, "repository")
	if repo == nil || repo.Kind != yaml.ScalarNode {
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
			switch {
			case fs.Type == "object" && n.Kind == yaml.MappingNode:
				out = append(out, &Field{Path: path, Kind: ObjectField, Node: n, Key: key, keys: helmKeys})
			case fs.Type != "object" && n.Kind == yaml.ScalarNode && n.Value != "":
				out = append(out, &Field{Path: path, Kind: StringField, Node: n, Key: key})
			}
			return
		}
		seg, list := strings.CutSuffix(segs[0], "[]")
		k, v := field(n, seg)
		if v == nil {
			return
		}
		p := strings.TrimPrefix(path+"."+seg, ".")
		if !list {
			walk(v, segs[1:], p, k)
			return
		}
		if v.Kind != yaml.SequenceNode {
			return
		}
		for i, c := range v.Content {
			walk(c, segs[1:], p+elem(i, scalar(c, "name")), nil)
		}
	}
	walk(root, strings.Split(fs.Path, "/"), "", nil)
	return out
}

// field returns the key and value nodes of a mapping entry.
func field(m *yaml.Node, name string) (key, value *yaml.Node) {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil, nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == name {
			return m.Content[i], m.Content[i+1]
		}
	}
	return nil, nil
}

func lookup(n *yaml.Node, path ...string) *yaml.Node {
	for _, p := range path {
		_, n = field(n, p)
		if n == nil {
			return nil
		}
	}
	return n
}

func scalar(m *yaml.Node, name string) string {
	if _, v := field(m, name); v != nil && v.Kind == yaml.ScalarNode {
		return v.Value
	}
	return ""
}
