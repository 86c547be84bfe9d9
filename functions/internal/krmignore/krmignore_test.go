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

package krmignore

import (
	"os"
	"path/filepath"
	"testing"
)

func TestMatcher(t *testing.T) {
	root := t.TempDir()
	for name, content := range map[string]string{
		".krmignore":         "# comments and blank lines are allowed\n\ndrafts/\n*.draft.yaml\n!keep.draft.yaml\nsub/x.yaml\n",
		"sub/Kptfile":        "apiVersion: kpt.dev/v1\nkind: Kptfile\n",
		"sub/.krmignore":     "local.yaml\n",
		"plain/x.yaml":       "",
		"plain/Kptfile.yaml": "",
	} {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	m := New(root)
	for path, want := range map[string]bool{
		"a.yaml":             false,
		"drafts":             true, // a directory
		"old.draft.yaml":     true,
		"keep.draft.yaml":    false, // negated
		"plain/b.draft.yaml": true,  // patterns without a slash match at any depth
		"plain/x.yaml":       false,
		"sub":                false, // a subpackage is never ignored
		"sub/x.yaml":         false, // the parent's patterns do not cover the subpackage
		"sub/c.draft.yaml":   false,
		"sub/local.yaml":     true, // the subpackage's own
	} {
		isDir := path == "drafts" || path == "sub"
		if isDir {
			if err := os.MkdirAll(filepath.Join(root, path), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		got, err := m.Ignored(filepath.Join(root, path), isDir)
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("Ignored(%s) = %v, want %v", path, got, want)
		}
	}
}

func TestMatcher_unreadableIgnoreFileIsAnError(t *testing.T) {
	root := t.TempDir()
	if err := os.Mkdir(filepath.Join(root, FileName), 0o755); err != nil { // a directory cannot be read as a file
		t.Fatal(err)
	}
	if _, err := New(root).Ignored(filepath.Join(root, "a.yaml"), false); err == nil {
		t.Error("no error for a .krmignore that cannot be read")
	}
}
