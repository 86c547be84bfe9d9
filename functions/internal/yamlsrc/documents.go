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

// Span is a byte range [Start, End) of a text.
type Span struct{ Start, End int }

// Documents returns the byte range of each document of a YAML stream,
// without its "---" marker line. A line that starts with "---" followed by
// white space or its end is a document marker wherever it is: YAML forbids
// it inside content, so no scalar can hold one. A marker with content after
// it ("--- {a: 1}") starts its document right after the marker.
func Documents(src []byte) []Span {
	s, err := New(src)
	if err != nil { // UTF-16: one document, as far as bytes go
		return []Span{{0, len(src)}}
	}
	var out []Span
	start := s.LineStart(1)
	for line := 1; line <= s.Lines(); line++ {
		ls, le := s.LineStart(line), s.LineEnd(line)
		text := src[ls:le]
		if !marker(text) {
			continue
		}
		if line > 1 || ls > start {
			out = append(out, Span{start, ls})
		}
		start = le
		if line < s.Lines() {
			start = s.LineStart(line + 1)
		}
		if rest := trimLeft(text[3:]); len(rest) > 0 && rest[0] != '#' {
			start = ls + (len(text) - len(rest))
		}
	}
	return append(out, Span{start, len(src)})
}

// marker reports a document start marker line.
func marker(line []byte) bool {
	return len(line) >= 3 && line[0] == '-' && line[1] == '-' && line[2] == '-' &&
		(len(line) == 3 || line[3] == ' ' || line[3] == '\t')
}

func trimLeft(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	return b
}
