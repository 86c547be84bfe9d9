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
	"strconv"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/cloud37/ansible-playbook-operator/functions/internal/yamlsrc"
)

// Where images live (DESIGN.md 2.2). Each entry has a golden case in testdata/.
//
//   - pod specs: containers[].image, initContainers[].image,
//     ephemeralContainers[].image and volumes[].image.reference of
//     Pod (spec), PodTemplate (template.spec), ReplicationController,
//     Deployment, ReplicaSet, StatefulSet, DaemonSet (apps, and the older
//     extensions group), Job (spec.template.spec) and CronJob
//     (spec.jobTemplate.spec.template.spec), in every version of their group
//     (apps/v1beta1, apps/v1beta2, batch/v1beta1 are still rendered);
//   - Playbook (ansible.cloud37.dev) spec.runtime.image;
//   - Kustomization and Component images[] (name/newName/newTag/digest): the
//     digest is filled. A file kustomize reads as a kustomization
//     (KustomizationFileNames) is one without apiVersion and kind;
//   - embedded YAML: ConfigMap keys named by the annotation
//     pin-images.ansible.cloud37.dev/embedded, and string fields declared with
//     a fieldSpec of type embedded. In each of their documents: the built-in
//     places of its kind, image objects {repository, tag, digest} anywhere,
//     and the string and object fieldSpecs that match it (a fieldSpec
//     without kind matches every document). Embedded YAML inside embedded
//     YAML is not followed;
//   - user fieldSpecs, in kustomize's syntax (see specFields).
//
// One node is one field: a place reached twice (a built-in field declared
// again as a fieldSpec, two fieldSpecs, an alias) is found once, under the
// name it was found by first. Any other string that looks like an image
// reference is found by the scan (scan.go) and reported, never changed.
//
// Kinds are matched by API group too: a "Deployment" of another group, or an
// unknown kind with a containers list, is not a built-in place (the scan
// reports it).
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
	// EmbeddedAnnotation names ConfigMap data keys that hold YAML with images.
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
	"extensions/Deployment":  {"spec", "template", "spec"},
	"extensions/ReplicaSet":  {"spec", "template", "spec"},
	"extensions/DaemonSet":   {"spec", "template", "spec"},
	"batch/Job":              {"spec", "template", "spec"},
	"batch/CronJob":          {"spec", "jobTemplate", "spec", "template", "spec"},
}

// KustomizationFileNames are the file names kustomize reads a kustomization
// from; such a file needs no apiVersion and kind (most have none).
var KustomizationFileNames = []string{"kustomization.yaml", "kustomization.yml", "Kustomization"}

// IsKustomizationFile reports whether path names a kustomization file.
func IsKustomizationFile(path string) bool {
	base := path[strings.LastIndexByte(path, '/')+1:]
	for _, n := range KustomizationFileNames {
		if base == n {
			return true
		}
	}
	return false
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
	// match is a key that must name a repository although the image is
	// read from another (Kustomization: name, which kustomize matches).
	match string
}

var (
	helmKeys          = objectKeys{repo: []string{"repository"}, tag: "tag", digest: "digest"}
	kustomizationKeys = objectKeys{repo: []string{"newName", "name"}, tag: "newTag", digest: "digest", tagless: true, match: "name"}
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
	// Embedded is set for fields inside embedded YAML.
	Embedded *Embedded
	// Alias is the alias node the field was reached through, when it was
	// (its line comments count for skips).
	Alias *yaml.Node
	// Problem says why the field holds no image reference, or (an
	// ObjectField) no image object ("" when it does).
	Problem string
	// Undeclared marks a string the scan found: it looks like an image
	// reference but is in no known or declared place. It is reported, never
	// changed. Declare is a fieldSpec that would declare it.
	Undeclared bool
	Declare    string
	// at is Path with list elements by position, not name: two elements
	// of one name are two places.
	at string
}

// Embedded is YAML held in a string field.
type Embedded struct {
	// Path is the field that holds the text, e.g. data.values.yaml.
	Path string
	// Value is the string scalar.
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

// isKustomization reports whether r is a kustomization: kind Kustomization
// or Component of kustomize's group, with either left out as kustomize
// defaults them (no apiVersion, or no kind in kustomize's group), or a
// document without both in a file named as kustomize names kustomizations.
func isKustomization(r *Resource) bool {
	group, _, kind := gvk(r.Node)
	kustomizeGroup := group == "kustomize.config.k8s.io"
	switch api := r.Node.GetApiVersion(); {
	case kind == "Kustomization" || kind == "Component":
		return kustomizeGroup || api == ""
	case kind == "":
		return kustomizeGroup || api == "" && IsKustomizationFile(fileOf(r))
	}
	return false
}

// FindFields lists the image fields of one resource: built-in places first,
// then embedded YAML and user fieldSpecs, then what the scan found.
func FindFields(r *Resource, specs []FieldSpec) ([]*Field, error) {
	return newFieldFinder(specs).find(r)
}

// fieldFinder finds the fields of resource after resource, reusing its
// maps: a run of 10,000 resources would otherwise make 40,000.
type fieldFinder struct {
	f  finder
	sc scan
}

func newFieldFinder(specs []FieldSpec) *fieldFinder {
	nodes := map[*yaml.Node]bool{}
	return &fieldFinder{
		f:  finder{specs: specs, seen: map[place]bool{}, nodes: nodes, seenEmbedded: map[*yaml.Node]bool{}},
		sc: scan{known: nodes, seen: map[*yaml.Node]bool{}},
	}
}

func (ff *fieldFinder) find(r *Resource) ([]*Field, error) {
	f, sc := &ff.f, &ff.sc
	clear(f.seen)
	clear(f.nodes)
	clear(f.seenEmbedded)
	clear(sc.seen)
	f.fields, f.docs, sc.out, sc.emb = nil, f.docs[:0], nil, nil
	root := r.Node.YNode()
	if err := f.resource(root, isKustomization(r)); err != nil {
		return nil, err
	}
	sc.resource(root, "")
	for _, d := range f.docs {
		sc.emb = d.emb
		sc.resource(d.root, d.base)
	}
	return append(f.fields, sc.out...), nil
}

// finder collects the declared fields of a resource, each node once.
type finder struct {
	specs        []FieldSpec
	seen         map[place]bool      // places already a field
	nodes        map[*yaml.Node]bool // nodes of fields (an alias makes one node several places)
	seenEmbedded map[*yaml.Node]bool // string nodes already read as YAML
	fields       []*Field
	// docs are the embedded documents read, for the scan.
	docs []embeddedDoc
	// emb and base are set while the finder is inside an embedded document.
	emb  *Embedded
	base string
}

// place is a field: the same node at the same path. An alias is one node
// at several paths, each a field of its own (see refuseSharedConflicts).
type place struct {
	path string
	node *yaml.Node
}

type embeddedDoc struct {
	emb  *Embedded
	root *yaml.Node
	base string
}

func (f *finder) add(fl *Field) {
	at := fl.at
	if at == "" {
		at = fl.Path
	}
	if f.base != "" {
		fl.Path, at = joinPath(f.base, fl.Path), joinPath(f.base, at)
	}
	if f.emb != nil {
		fl.Embedded = f.emb
	}
	p := place{path: at, node: fl.Node}
	if f.seen[p] {
		return
	}
	f.seen[p] = true
	f.nodes[fl.Node] = true
	f.fields = append(f.fields, fl)
}

func joinPath(base, p string) string {
	if base == "" || p == "" {
		return base + p
	}
	if strings.HasPrefix(p, "[") {
		return base + p
	}
	return base + "." + p
}

// resource finds the declared fields of a resource or embedded document.
func (f *finder) resource(root *yaml.Node, kustomization bool) error {
	if root == nil || root.Kind != yaml.MappingNode {
		return nil
	}
	obj := yaml.NewRNode(root)
	group, version, kind := gvk(obj)
	if items := listItems(root, kind); items != nil {
		base := f.base
		defer func() { f.base = base }()
		for i, it := range items {
			f.base = joinPath(base, "items["+strconv.Itoa(i)+"]")
			if err := f.resource(it, false); err != nil {
				return err
			}
		}
		return nil
	}
	if path, ok := podSpecPaths[group+"/"+kind]; ok {
		if ps := lookup(root, path...); ps != nil {
			for _, fl := range podSpecFields(ps, strings.Join(path, ".")) {
				f.add(fl)
			}
		}
	}
	switch {
	case group == "ansible.cloud37.dev" && kind == "Playbook":
		if fl := stringField(lookup(root, "spec", "runtime"), "image", "spec.runtime.image"); fl != nil {
			f.add(fl)
		}
	case kustomization:
		if _, imgs := field(root, "images"); imgs != nil && deref(imgs).Kind == yaml.SequenceNode {
			for i, m := range deref(imgs).Content {
				if m := deref(m); m.Kind == yaml.MappingNode {
					f.add(&Field{Path: fmt.Sprintf("images[%d]", i), Kind: ObjectField, Node: m, keys: kustomizationKeys})
				}
			}
		}
	case group == "" && kind == "ConfigMap" && f.emb == nil:
		if err := f.annotatedEmbedded(obj); err != nil {
			return err
		}
	}
	for i, fs := range f.specs {
		if !matchFieldSpec(fs, group, version, kind, obj.GetName()) {
			continue
		}
		if fs.Type == "embedded" {
			if f.emb != nil {
				continue // embedded YAML inside embedded YAML is not followed
			}
			for _, fl := range specFields(root, fs) {
				if err := f.embedded(fl, fl.Path, specName(fs, i)); err != nil {
					return err
				}
			}
			continue
		}
		for _, fl := range specFields(root, fs) {
			f.add(fl)
		}
	}
	return nil
}

// listItems are the objects of a List (kind List, PodList, …: what
// kubectl get -o yaml writes), which kustomize reads as its items; nil for
// any other object.
func listItems(root *yaml.Node, kind string) []*yaml.Node {
	if !strings.HasSuffix(kind, "List") {
		return nil
	}
	_, items := field(root, "items")
	if items = deref(items); items == nil || items.Kind != yaml.SequenceNode {
		return nil
	}
	out := make([]*yaml.Node, 0, len(items.Content))
	for _, it := range items.Content {
		if it = deref(it); it.Kind == yaml.MappingNode {
			out = append(out, it)
		}
	}
	return out
}

func specName(fs FieldSpec, i int) string {
	if fs.origin != "" {
		return fs.origin
	}
	return fmt.Sprintf("fieldSpecs[%d]", i)
}

// annotatedEmbedded reads the ConfigMap keys named by the embedded annotation.
func (f *finder) annotatedEmbedded(cm *yaml.RNode) error {
	keys := cm.GetAnnotations()[EmbeddedAnnotation]
	if keys == "" {
		return nil
	}
	_, data := field(cm.YNode(), "data")
	for _, key := range splitList(keys) {
		k, val := field(data, key)
		if val = deref(val); val == nil || val.Kind != yaml.ScalarNode {
			return fmt.Errorf("annotation %s names data key %q, which the ConfigMap does not have: fix the annotation or add the key", EmbeddedAnnotation, key)
		}
		fl := &Field{Path: "data[" + key + "]", Kind: StringField, Node: val, Key: k}
		if err := f.embedded(fl, "data."+key, "annotation "+EmbeddedAnnotation); err != nil {
			return err
		}
	}
	return nil
}

// embedded reads the YAML documents held by a string field and finds their
// image fields. by says what declared the field embedded; embPath names the
// field in messages.
func (f *finder) embedded(fl *Field, embPath, by string) error {
	val := fl.Node
	if f.seenEmbedded[val] || fl.Problem == "" && val.Value == "" {
		return nil
	}
	f.seenEmbedded[val] = true
	if fl.Problem != "" || val.ShortTag() != "!!str" {
		fl.Problem = "want a string that holds YAML documents (declared embedded by " + by + ")"
		f.add(fl)
		return nil
	}
	f.nodes[val] = true // the text is read as YAML, not as an image
	emb := &Embedded{Path: embPath, Value: val, Text: val.Value}
	docs, err := yamlsrc.Decode([]byte(val.Value))
	if err != nil {
		return fmt.Errorf("%s is not YAML (declared embedded by %s): %w (lines count from the value's first line)", emb.Path, by, err)
	}
	for i, doc := range docs {
		base := fl.Path
		if len(docs) > 1 {
			base += fmt.Sprintf("[doc %d]", i)
		}
		if len(doc.Content) == 0 {
			continue
		}
		f.emb, f.base = emb, base
		err := f.resource(doc.Content[0], false)
		walkObjects(doc, "", func(path string, m, k *yaml.Node) {
			f.add(&Field{Path: strings.TrimPrefix(path, "."), Kind: ObjectField, Node: m, Key: k, keys: helmKeys})
		})
		f.emb, f.base = nil, ""
		if err != nil {
			return err
		}
		f.docs = append(f.docs, embeddedDoc{emb: emb, root: doc.Content[0], base: base})
	}
	return nil
}

func podSpecFields(ps *yaml.Node, base string) []*Field {
	var out []*Field
	for _, list := range []string{"initContainers", "containers", "ephemeralContainers"} {
		_, seq := field(ps, list)
		if seq = deref(seq); seq == nil || seq.Kind != yaml.SequenceNode {
			continue
		}
		for i, c := range seq.Content {
			c = deref(c)
			name := scalar(c, "name")
			if f := stringField(c, "image", base+"."+list+elem(i, name)+".image"); f != nil {
				f.Container = name
				f.at = base + "." + list + "[" + strconv.Itoa(i) + "].image"
				out = append(out, f)
			}
		}
	}
	if _, vols := field(ps, "volumes"); deref(vols) != nil && deref(vols).Kind == yaml.SequenceNode {
		for i, v := range deref(vols).Content {
			v = deref(v)
			if f := stringField(lookup(v, "image"), "reference", base+".volumes"+elem(i, scalar(v, "name"))+".image.reference"); f != nil {
				f.at = fmt.Sprintf("%s.volumes[%d].image.reference", base, i)
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
	return valueField(v, k, path)
}

// valueField is the image string v (as written: it may be an alias).
func valueField(v, key *yaml.Node, path string) *Field {
	f := &Field{Path: path, Kind: StringField, Key: key, Node: deref(v)}
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

// matchFieldSpec: a fieldSpec without kind (as kustomize's defaults are
// written) matches every kind.
func matchFieldSpec(fs FieldSpec, group, version, kind, name string) bool {
	return (fs.Kind == "" || fs.Kind == kind) && (fs.Group == "" || fs.Group == group) &&
		(fs.Version == "" || fs.Version == version) && (fs.Name == "" || fs.Name == name)
}

// splitSpecPath splits a fieldSpec path as kustomize does: at slashes, an
// escaped slash (\/) belongs to its key, a leading slash is allowed; "[]"
// after a key is a hint that it holds a list, and is dropped.
func splitSpecPath(p string) []string {
	p = strings.TrimPrefix(p, "/")
	var segs []string
	for _, s := range strings.Split(p, "/") {
		if n := len(segs); n > 0 && strings.HasSuffix(segs[n-1], `\`) {
			segs[n-1] = strings.TrimSuffix(segs[n-1], `\`) + "/" + s
			continue
		}
		segs = append(segs, s)
	}
	for i, s := range segs {
		segs[i] = strings.TrimSuffix(s, "[]")
	}
	return segs
}

// specFields walks a fieldSpec path ("spec/x[]/image") and returns the
// fields it reaches. As in kustomize, every list on the way is walked,
// whether the path marks it with [] or not, and so is a list at the end (a
// list of image strings, or of image objects).
func specFields(root *yaml.Node, fs FieldSpec) []*Field {
	var out []*Field
	var walk func(v *yaml.Node, segs []string, path, at string, key *yaml.Node)
	walk = func(v *yaml.Node, segs []string, path, at string, key *yaml.Node) {
		n := deref(v)
		if n == nil {
			return
		}
		if n.Kind == yaml.SequenceNode {
			for i, c := range n.Content {
				walk(c, segs, path+elem(i, scalar(c, "name")), fmt.Sprintf("%s[%d]", at, i), nil)
			}
			return
		}
		if len(segs) == 0 {
			if f := specField(fs, v, key, path); f != nil {
				f.at = at
				out = append(out, f)
			}
			return
		}
		k, next := field(n, segs[0])
		if next == nil {
			return
		}
		walk(next, segs[1:], joinPath(path, segs[0]), joinPath(at, segs[0]), k)
	}
	walk(root, splitSpecPath(fs.Path), "", "", nil)
	return out
}

// specField is the field a fieldSpec path ends at (v as written).
func specField(fs FieldSpec, v, key *yaml.Node, path string) *Field {
	n := deref(v)
	switch {
	case fs.Type == "object" && n.Kind == yaml.MappingNode:
		return &Field{Path: path, Kind: ObjectField, Node: n, Key: key, keys: helmKeys}
	case fs.Type == "object":
		return &Field{Path: path, Kind: ObjectField, Node: n, Key: key, keys: helmKeys,
			Problem: "want a mapping with repository, tag and digest (fieldSpecs type: object)"}
	}
	f := &Field{Path: path, Kind: StringField, Node: n, Key: key, Problem: notAString(n)}
	if v.Kind == yaml.AliasNode {
		f.Alias = v
	}
	if f.Problem == "" && n.Value == "" {
		return nil
	}
	return f
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
