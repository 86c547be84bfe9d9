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

// Package krmignore reads kpt's .krmignore files, so that pin-images on a
// directory reads the files kpt reads: a package's .krmignore (gitignore
// syntax) covers the package's files and directories; a subpackage (a
// directory with a Kptfile) has its own and cannot be ignored by its
// parent's.
package krmignore

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	gitignore "github.com/monochromegane/go-gitignore"
)

// FileName is the ignore file kpt reads in each package.
const FileName = ".krmignore"

// Matcher answers for the files and directories below one walked root.
type Matcher struct {
	root     string
	packages map[string]gitignore.IgnoreMatcher // by package directory
}

// New is the matcher of a walk of root.
func New(root string) *Matcher {
	return &Matcher{root: filepath.Clean(root), packages: map[string]gitignore.IgnoreMatcher{}}
}

// Ignored reports whether the package path belongs to ignores it. path is
// below the root, as the walk names it.
func (m *Matcher) Ignored(path string, isDir bool) (bool, error) {
	path = filepath.Clean(path)
	if isDir && isPackage(path) {
		return false, nil // a subpackage is never ignored
	}
	pkg := m.packageOf(filepath.Dir(path))
	match, err := m.matcher(pkg)
	if err != nil {
		return false, err
	}
	return match.Match(path, isDir), nil
}

// packageOf is the package directory dir belongs to: the nearest directory
// up to the root that is the root or has a Kptfile.
func (m *Matcher) packageOf(dir string) string {
	for d := dir; ; d = filepath.Dir(d) {
		if d == m.root || isPackage(d) {
			return d
		}
		if parent := filepath.Dir(d); parent == d || !within(m.root, d) {
			return m.root
		}
	}
}

func within(root, p string) bool {
	rel, err := filepath.Rel(root, p)
	return err == nil && rel != ".." && !filepath.IsAbs(rel) && (len(rel) < 3 || rel[:3] != "../")
}

func isPackage(dir string) bool {
	info, err := os.Stat(filepath.Join(dir, "Kptfile"))
	return err == nil && info.Mode().IsRegular()
}

func (m *Matcher) matcher(pkg string) (gitignore.IgnoreMatcher, error) {
	if g, ok := m.packages[pkg]; ok {
		return g, nil
	}
	name := filepath.Join(pkg, FileName)
	// Read whole, so that an unreadable file is an error: the matcher's own
	// reader stops silently at the first read error.
	b, err := os.ReadFile(name)
	var g gitignore.IgnoreMatcher = gitignore.DummyIgnoreMatcher(false)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("failed to read %q: %w", name, err)
	default:
		g = gitignore.NewGitIgnoreFromReader(pkg, bytes.NewReader(b))
	}
	m.packages[pkg] = g
	return g, nil
}
