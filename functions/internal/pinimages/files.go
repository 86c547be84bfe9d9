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
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/cloud37/ansible-playbook-operator/functions/internal/lock"
)

// File is a YAML file read for in-place editing.
type File struct {
	Path      string
	Src       []byte
	Resources []*Resource
	// LockIndex is the position of an ImageLock document in this file, or -1.
	LockIndex int
}

// ReadFiles reads YAML files and directories (*.yaml, *.yml, recursively,
// skipping hidden directories). Documents without apiVersion and kind are
// not Kubernetes resources and are left alone.
func ReadFiles(paths []string) ([]*File, error) {
	var names []string
	for _, p := range paths {
		info, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("failed to read %q: %w", p, err)
		}
		if !info.IsDir() {
			names = append(names, p)
			continue
		}
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && path != p && strings.HasPrefix(d.Name(), ".") {
				return filepath.SkipDir
			}
			if !d.IsDir() && (strings.HasSuffix(path, ".yaml") || strings.HasSuffix(path, ".yml")) {
				names = append(names, path)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("failed to walk %q: %w", p, err)
		}
	}
	sort.Strings(names)
	var files []*File
	for _, name := range names {
		src, err := os.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("failed to read %q: %w", name, err)
		}
		f, err := ParseFile(name, src)
		if err != nil {
			return nil, err
		}
		files = append(files, f)
	}
	return files, nil
}

// ParseFile parses every document of src, keeping node positions.
func ParseFile(name string, src []byte) (*File, error) {
	f := &File{Path: name, Src: src, LockIndex: -1}
	dec := yaml.NewDecoder(bytes.NewReader(src))
	for index := 0; ; index++ {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: invalid YAML: %w", name, err)
		}
		if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
			continue
		}
		n := yaml.NewRNode(doc.Content[0])
		if n.GetApiVersion() == "" || n.GetKind() == "" {
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

// WriteAll writes every edited file through a temporary file and a rename,
// so a file is either old or new, never half-written.
func WriteAll(edits []Edited) error {
	for _, e := range edits {
		if err := WriteFileAtomic(e.Path, e.New); err != nil {
			return err
		}
	}
	return nil
}

// WriteFileAtomic replaces path with data via a rename, keeping its mode.
func WriteFileAtomic(path string, data []byte) error {
	mode := os.FileMode(0o644)
	if info, err := os.Stat(path); err == nil {
		mode = info.Mode().Perm()
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("failed to write %q: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("failed to write %q: %w", path, err)
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return fmt.Errorf("failed to write %q: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("failed to write %q: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("failed to write %q: %w", path, err)
	}
	return nil
}
