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
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// File cases live in testdata/files/<case>/{input,expected}/. pin -w is
// simulated on a copy of input/ with the fake registry; the result must equal
// expected/ byte for byte, only lines holding a digest or image may change,
// and a second run must change nothing. WRITE_GOLDEN=1 regenerates expected/.
func TestSpliceFiles_golden(t *testing.T) {
	cases, err := filepath.Glob("testdata/files/*")
	if err != nil || len(cases) == 0 {
		t.Fatalf("no file cases: %v", err)
	}
	write := os.Getenv("WRITE_GOLDEN") == "1"
	for _, dir := range cases {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			work := t.TempDir()
			copyDir(t, filepath.Join(dir, "input"), work)
			for _, e := range pinFiles(t, work) {
				if err := os.WriteFile(e.Path, e.New, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			expected := filepath.Join(dir, "expected")
			if write {
				_ = os.RemoveAll(expected)
				copyDir(t, work, expected)
			}
			for _, name := range listFiles(t, filepath.Join(dir, "input")) {
				in := readFile(t, filepath.Join(dir, "input", name))
				got := readFile(t, filepath.Join(work, name))
				want := readFile(t, filepath.Join(expected, name))
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("%s differs from expected (-want +got):\n%s", name, diff)
				}
				for _, line := range changedLines(in, got) {
					if !strings.Contains(line, "sha256:") && !strings.Contains(line, "digest:") {
						t.Errorf("%s: a line other than a digest line changed: %q", name, line)
					}
				}
				if strings.Contains(in, "\r\n") && strings.Count(got, "\n") != strings.Count(got, "\r\n") {
					t.Errorf("%s: CRLF line endings were not kept", name)
				}
			}
			if again := pinFiles(t, work); len(again) != 0 {
				t.Errorf("second run changed %d files: %s", len(again), again[0].Path)
			}
		})
	}
}

func pinFiles(t *testing.T, dir string) []Edited {
	t.Helper()
	var files []*File
	for _, name := range listFiles(t, dir) {
		f, err := ParseFile(filepath.Join(dir, name), []byte(readFile(t, filepath.Join(dir, name))))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	s, err := Config{}.Validate()
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Transform(context.Background(), Input{Resources: Nodes(files), ReadFile: os.ReadFile}, s, &fakeRegistry{}, func() time.Time { return goldenNow })
	if err != nil {
		t.Fatal(err)
	}
	if rep.HasErrors() || len(StderrLines(rep.Results)) > 0 {
		t.Fatalf("errors or warnings: %v", StderrLines(rep.Results))
	}
	edits, err := SpliceFiles(files, rep.Changes)
	if err != nil {
		t.Fatal(err)
	}
	return edits
}

// changedLines returns the lines of b that are not lines of a, in order
// (a line diff is enough: pinning never moves lines).
func changedLines(a, b string) []string {
	have := map[string]int{}
	for _, l := range strings.Split(a, "\n") {
		have[l]++
	}
	var out []string
	for _, l := range strings.Split(b, "\n") {
		if have[l] > 0 {
			have[l]--
			continue
		}
		out = append(out, l)
	}
	return out
}

func copyDir(t *testing.T, from, to string) {
	t.Helper()
	for _, name := range listFiles(t, from) {
		dst := filepath.Join(to, name)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, []byte(readFile(t, filepath.Join(from, name))), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func listFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		out = append(out, rel)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
