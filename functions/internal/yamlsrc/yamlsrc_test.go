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
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// TestSource_Offset checks offsets against yaml.v3 itself: every plain
// scalar it reads must be found at the offset of its position.
func TestSource_Offset(t *testing.T) {
	for name, text := range map[string]string{
		"LF":                                    "a: x1\nb:\n  c: x2\n",
		"CRLF":                                  "a: x1\r\nb:\r\n  c: x2\r\n",
		"CR only, as classic Mac OS wrote":      "a: x1\rb:\r  c: x2\r",
		"NEL, LS and PS are line breaks too":    "a: x1\u0085b: x2\u2028c: x3\u2029d: x4\n",
		"a byte order mark does not count":      "\ufeff{\"a\": x1, \"b\": x2}",
		"characters before the value on a line": "{ü: ñ, é: x1, ß: [x2, x3]}\n",
		"one long flow line":                    "[" + strings.Repeat("x0, ", 2000) + "x1]",
		"no final line break":                   "a: x1\nb: x2",
	} {
		t.Run(name, func(t *testing.T) {
			src := []byte(text)
			s, err := New(src)
			if err != nil {
				t.Fatal(err)
			}
			docs, err := Decode(src)
			if err != nil {
				t.Fatal(err)
			}
			checked := 0
			var walk func(*yaml.Node)
			walk = func(n *yaml.Node) {
				if n.Kind == yaml.ScalarNode && n.Style == 0 {
					off, err := s.Offset(n.Line, n.Column)
					if err != nil {
						t.Fatalf("Offset(%d, %d) for %q: %v", n.Line, n.Column, n.Value, err)
					}
					if !strings.HasPrefix(text[off:], n.Value) {
						t.Errorf("Offset(%d, %d) = %d points at %q, want %q", n.Line, n.Column, off, text[off:min(len(text), off+10)], n.Value)
					}
					checked++
				}
				for _, c := range n.Content {
					walk(c)
				}
			}
			for _, d := range docs {
				walk(d)
			}
			if checked == 0 {
				t.Fatal("no scalar checked")
			}
		})
	}
	t.Run("UTF-16 is refused", func(t *testing.T) {
		if _, err := New([]byte("\xff\xfea\x00")); err == nil {
			t.Fatal("UTF-16 text was indexed")
		}
	})
	t.Run("positions outside the text are errors", func(t *testing.T) {
		s, err := New([]byte("ab\ncd\n"))
		if err != nil {
			t.Fatal(err)
		}
		for _, pos := range [][2]int{{0, 1}, {4, 1}, {1, 0}, {1, 4}} {
			if off, err := s.Offset(pos[0], pos[1]); err == nil {
				t.Errorf("Offset(%d, %d) = %d, want an error", pos[0], pos[1], off)
			}
		}
	})
}

func TestSource_Newline(t *testing.T) {
	for text, want := range map[string]string{"a\nb": "\n", "a\r\nb": "\r\n", "a\rb": "\r", "a": "\n"} {
		s, err := New([]byte(text))
		if err != nil {
			t.Fatal(err)
		}
		if got := s.Newline(); got != want {
			t.Errorf("Newline(%q) = %q, want %q", text, got, want)
		}
	}
}

func TestDecode_syntaxErrorsHaveLineAndColumn(t *testing.T) {
	for name, tc := range map[string]struct {
		text string
		want string
	}{
		"an unclosed flow sequence": {
			text: "items: [oops\n",
			want: "line 2 column 1: did not find expected ',' or ']' (while parsing a flow sequence that starts at line 1 column 8)",
		},
		"a mapping value on the first line, where yaml.v3 names no line": {
			text: "a: b: c\n",
			want: "line 1 column 5: mapping values are not allowed in this context",
		},
		"a bad indentation": {
			text: "a:\n  - x\n y: 2\n",
			want: "line 3 column 2: did not find expected key (while parsing a block mapping that starts at line 1 column 1)",
		},
		"an error in the second document": {
			text: "a: 1\n---\nb: [\n",
			want: "line 4 column 1: did not find expected node content",
		},
		"a tab as indentation": {
			text: "a:\n\t- b\n",
			want: "line 2 column 1: found character that cannot start any token",
		},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Decode([]byte(tc.text))
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("Decode error = %v (%T), want a *SyntaxError", err, err)
			}
			if got := err.Error(); got != tc.want {
				t.Errorf("error = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestDuplicateKeys(t *testing.T) {
	big := "m:\n"
	for i := range 40 {
		big += "  k" + string(rune('a'+i%26)) + string(rune('a'+i/26)) + ": 1\n"
	}
	big += "  kaa: 2\n"
	for name, tc := range map[string]struct {
		text string
		want []*DuplicateKey
	}{
		"none":                          {text: "a: 1\nb: {c: 1, d: 2}\n"},
		"a duplicate image":             {text: "containers:\n- name: c\n  image: a:1\n  image: b:1\n", want: []*DuplicateKey{{Key: "image", First: 3, Second: 4}}},
		"a quoted and a plain spelling": {text: "a: 1\n\"a\": 2\n", want: []*DuplicateKey{{Key: "a", First: 1, Second: 2}}},
		"in a flow mapping":             {text: "x: {a: 1, a: 2}\n", want: []*DuplicateKey{{Key: "a", First: 1, Second: 1}}},
		"in a large mapping":            {text: big, want: []*DuplicateKey{{Key: "kaa", First: 2, Second: 42}}},
		"the same key in two mappings":  {text: "a: {k: 1}\nb: {k: 1}\n"},
	} {
		t.Run(name, func(t *testing.T) {
			docs, err := Decode([]byte(tc.text))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, DuplicateKeys(docs[0])); diff != "" {
				t.Errorf("DuplicateKeys (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDocuments(t *testing.T) {
	for name, tc := range map[string]struct {
		text string
		want []string
	}{
		"one document":                     {text: "a: 1\n", want: []string{"a: 1\n"}},
		"a leading marker":                 {text: "---\na: 1\n", want: []string{"a: 1\n"}},
		"two documents":                    {text: "a: 1\n---\nb: 2\n", want: []string{"a: 1\n", "b: 2\n"}},
		"a marker with a comment":          {text: "a: 1\n--- # next\nb: 2\n", want: []string{"a: 1\n", "b: 2\n"}},
		"a marker with content":            {text: "a: 1\n--- {b: 2}\n", want: []string{"a: 1\n", "{b: 2}\n"}},
		"CRLF":                             {text: "a: 1\r\n---\r\nb: 2\r\n", want: []string{"a: 1\r\n", "b: 2\r\n"}},
		"dashes inside a block scalar":     {text: "a: |\n  ---\n  x\n", want: []string{"a: |\n  ---\n  x\n"}},
		"a key that starts with dashes":    {text: "---x: 1\n", want: []string{"---x: 1\n"}},
		"a trailing marker leaves nothing": {text: "a: 1\n---\n", want: []string{"a: 1\n", ""}},
	} {
		t.Run(name, func(t *testing.T) {
			var got []string
			for _, d := range Documents([]byte(tc.text)) {
				got = append(got, tc.text[d.Start:d.End])
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Documents (-want +got):\n%s", diff)
			}
		})
	}
}
