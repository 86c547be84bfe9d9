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

	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/cloud37/ansible-playbook-operator/functions/internal/lock"
	"github.com/cloud37/ansible-playbook-operator/functions/internal/yamlsrc"
)

// File is a YAML file read for in-place editing.
type File struct {
	Path      string
	Src       []byte
	Resources []*Resource
	// LockIndex is the position of an ImageLock document in this file, or -1.
	LockIndex int
}

// ParseFile parses every document of src, keeping node positions. Documents
// without apiVersion and kind are not Kubernetes resources and are left
// alone, except in a kustomization file (IsKustomizationFile), which most
// users write without them.
func ParseFile(name string, src []byte) (*File, error) {
	f := &File{Path: name, Src: src, LockIndex: -1}
	docs, err := yamlsrc.Decode(src)
	if err != nil {
		return nil, fmt.Errorf("%s: invalid YAML: %w", name, err)
	}
	for index, doc := range docs {
		if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
			continue
		}
		n := yaml.NewRNode(doc.Content[0])
		if (n.GetApiVersion() == "" || n.GetKind() == "") && !IsKustomizationFile(name) {
			continue
		}
		if n.GetApiVersion() == lock.APIVersion && n.GetKind() == lock.Kind {
			f.LockIndex = len(f.Resources)
		}
		f.Resources = append(f.Resources, &Resource{Node: n, File: name, Index: index})
	}
	return f, nil
}

// Nodes returns the resources of all files.
func Nodes(files []*File) []*Resource {
	var out []*Resource
	for _, f := range files {
		out = append(out, f.Resources...)
	}
	return out
}

// Edited is a file's new content.
type Edited struct {
	Path string
	Old  []byte
	New  []byte
}

// SpliceFiles applies changes file by file; it fails without partial
// results if any change cannot be spliced.
func SpliceFiles(files []*File, changes []Change) ([]Edited, error) {
	byFile := map[string][]Change{}
	for _, c := range changes {
		byFile[c.Resource.File] = append(byFile[c.Resource.File], c)
	}
	var out []Edited
	for _, f := range files {
		cs := byFile[f.Path]
		if len(cs) == 0 {
			continue
		}
		b, err := SpliceFile(f.Src, cs)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f.Path, err)
		}
		out = append(out, Edited{Path: f.Path, Old: f.Src, New: b})
	}
	return out, nil
}
