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
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// Edits are made by splicing new scalars into the original bytes: kyaml
// locates the node, and only the digest (or image) text changes. A kyaml
// round-trip would rewrite blank lines, comments and flow style.

// span replaces src[off:end] with text.
type span struct {
	off, end int
	text     string
}

// source maps node positions (1-based line, column in characters) to byte
// offsets. lineDelta and colDelta translate positions of a document embedded
// in a literal block scalar into positions of the enclosing file.
type source struct {
	src        []byte
	lineStarts []int
	lineDelta  int
	colDelta   int
}

func newSource(src []byte) *source {
	s := &source{src: src, lineStarts: []int{0}}
	for i, b := range src {
		if b == '\n' {
			s.lineStarts = append(s.lineStarts, i+1)
		}
	}
	return s
}

func (s *source) offset(line, col int) (int, error) {
	line += s.lineDelta
	col += s.colDelta
	if line < 1 || line > len(s.lineStarts) {
		return 0, fmt.Errorf("line %d is outside the file", line)
	}
	off := s.lineStarts[line-1]
	for i := 1; i < col; i++ {
		if off >= len(s.src) || s.src[off] == '\n' {
			return 0, fmt.Errorf("column %d is outside line %d", col, line)
		}
		_, size := utf8.DecodeRune(s.src[off:])
		off += size
	}
	return off, nil
}

// newline is the file's line ending ("\r\n" when its first line has one).
func (s *source) newline() string {
	if i := bytes.IndexByte(s.src, '\n'); i > 0 && s.src[i-1] == '\r' {
		return "\r\n"
	}
	return "\n"
}

// nextLine is the offset of the line after the one containing off.
func (s *source) nextLine(off int) int {
	if i := bytes.IndexByte(s.src[off:], '\n'); i >= 0 {
		return off + i + 1
	}
	return len(s.src)
}

// scalarInner is the byte range of a scalar's text inside its quotes, and the
// quote style, checked against the node's value.
func (s *source) scalarInner(n *yaml.Node) (off, end int, err error) {
	off, err = s.offset(n.Line, n.Column)
	if err != nil {
		return 0, 0, err
	}
	rest := s.src[off:]
	switch {
	case n.Style&yaml.DoubleQuotedStyle != 0 || n.Style&yaml.SingleQuotedStyle != 0:
		q := rest[0]
		if q != '"' && q != '\'' {
			return 0, 0, fmt.Errorf("line %d: expected a quoted scalar", n.Line+s.lineDelta)
		}
		i := bytes.IndexByte(rest[1:], q)
		if i < 0 || string(rest[1:1+i]) != n.Value {
			return 0, 0, fmt.Errorf("line %d: quoted scalar with escapes cannot be edited in place", n.Line+s.lineDelta)
		}
		return off + 1, off + 1 + i, nil
	case n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0:
		return 0, 0, fmt.Errorf("line %d: block scalar cannot be edited in place: write the image on one line", n.Line+s.lineDelta)
	}
	if !bytes.HasPrefix(rest, []byte(n.Value)) {
		return 0, 0, fmt.Errorf("line %d: scalar %q does not match the file", n.Line+s.lineDelta, n.Value)
	}
	return off, off + len(n.Value), nil
}

// setScalar replaces a scalar's text, keeping its quotes.
func (s *source) setScalar(n *yaml.Node, value string) (span, error) {
	if n.Tag == "!!null" && (n.Value == "" || n.Value == "~" || n.Value == "null") && n.Style == 0 {
		off, err := s.offset(n.Line, n.Column)
		if err != nil {
			return span{}, err
		}
		if n.Value == "" {
			return span{off: off, end: off, text: value}, nil
		}
		return span{off: off, end: off + len(n.Value), text: value}, nil
	}
	off, end, err := s.scalarInner(n)
	if err != nil {
		return span{}, err
	}
	return span{off: off, end: end, text: value}, nil
}

// addKey adds "key: value" to a mapping after the entry whose value is after.
func (s *source) addKey(m, afterKey, after *yaml.Node, key, value string) (span, error) {
	if m.Style&yaml.FlowStyle != 0 {
		_, end, err := s.scalarInner(after)
		if err != nil {
			return span{}, err
		}
		if after.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0 {
			end++ // past the closing quote
		}
		return span{off: end, end: end, text: ", " + key + ": " + value}, nil
	}
	if after.Kind != yaml.ScalarNode || after.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
		return span{}, fmt.Errorf("line %d: cannot add %s after a multi-line value", after.Line+s.lineDelta, key)
	}
	off, err := s.offset(after.Line, after.Column)
	if err != nil {
		return span{}, err
	}
	at := s.nextLine(off)
	indent := strings.Repeat(" ", afterKey.Column-1+s.colDelta)
	nl := s.newline()
	text := indent + key + ": " + value + nl
	if at == len(s.src) && len(s.src) > 0 && s.src[len(s.src)-1] != '\n' {
		text = nl + indent + key + ": " + value
	}
	return span{off: at, end: at, text: text}, nil
}

// applySpans splices spans into src; overlapping spans are an error.
func applySpans(src []byte, spans []span) ([]byte, error) {
	sort.SliceStable(spans, func(i, j int) bool { return spans[i].off < spans[j].off })
	var out bytes.Buffer
	grow := len(src)
	for _, sp := range spans {
		grow += len(sp.text)
	}
	out.Grow(grow)
	last := 0
	for _, sp := range spans {
		if sp.off < last {
			return nil, fmt.Errorf("overlapping edits at byte %d", sp.off)
		}
		out.Write(src[last:sp.off])
		out.WriteString(sp.text)
		last = sp.end
	}
	out.Write(src[last:])
	return out.Bytes(), nil
}
