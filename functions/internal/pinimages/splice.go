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

	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/cloud37/ansible-playbook-operator/functions/internal/yamlsrc"
)

// Edits are made by splicing new scalars into the original bytes: kyaml
// locates the node, and only the digest (or image) text changes. A kyaml
// round-trip would rewrite blank lines, comments and flow style.

// span replaces src[off:end] with text.
type span struct {
	off, end int
	text     string
}

// source maps node positions to byte offsets (yamlsrc counts lines and
// columns as yaml.v3 does: CR, NEL, LS and PS end lines too, a byte order
// mark is no column). lineDelta and colDelta translate positions of a
// document embedded in a literal block scalar into positions of the
// enclosing file.
type source struct {
	*yamlsrc.Source
	src       []byte
	lineDelta int
	colDelta  int
}

func newSource(src []byte) (*source, error) {
	s, err := yamlsrc.New(src)
	if err != nil {
		return nil, err
	}
	return &source{Source: s, src: src}, nil
}

// shifted is s for a document embedded at (lineDelta, colDelta).
func (s *source) shifted(lineDelta, colDelta int) *source {
	return &source{Source: s.Source, src: s.src, lineDelta: lineDelta, colDelta: colDelta}
}

func (s *source) offset(line, col int) (int, error) {
	return s.Offset(line+s.lineDelta, col+s.colDelta)
}

// nextLine is the offset of the line after the one containing off.
func (s *source) nextLine(off int) int {
	if line := s.lineOf(off); line < s.Lines() {
		return s.LineStart(line + 1)
	}
	return len(s.src)
}

// lineOf is the line holding off (binary search over line starts).
func (s *source) lineOf(off int) int {
	lo, hi := 1, s.Lines()
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if s.LineStart(mid) <= off {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return lo
}

// skipProperties returns the offset of a node's content: its anchor
// ("&app"), tag ("!!str", "!<tag:yaml.org,2002:str>", "!local") and the
// white space, line breaks and comments after them are skipped, since a
// node's position is that of its first property.
func (s *source) skipProperties(off int) int {
	return s.skipProps(off, true)
}

// skipProps skips properties, and line breaks and comments after them only
// when crossLines is set (an empty value ends where its line does).
func (s *source) skipProps(off int, crossLines bool) int {
	for off < len(s.src) {
		switch c := s.src[off]; {
		case c == '&' || c == '!':
			if c == '!' && off+1 < len(s.src) && s.src[off+1] == '<' {
				for off < len(s.src) && s.src[off] != '>' {
					off++
				}
				off++
				continue
			}
			for off < len(s.src) && !isBlank(s.src[off]) && s.src[off] != ',' && s.src[off] != '}' && s.src[off] != ']' {
				off++
			}
		case c == ' ' || c == '\t':
			off++
		case crossLines && (c == '\n' || c == '\r'):
			off++
		case crossLines && c == '#':
			off = s.nextLine(off)
		default:
			return off
		}
	}
	return off
}

func isBlank(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// hasProperties reports whether a node carries an anchor or a written tag.
func hasProperties(n *yaml.Node) bool {
	return n.Anchor != "" || n.Style&yaml.TaggedStyle != 0
}

// scalarInner is the byte range of a scalar's text inside its quotes,
// checked against the node's value.
func (s *source) scalarInner(n *yaml.Node) (off, end int, err error) {
	off, err = s.offset(n.Line, n.Column)
	if err != nil {
		return 0, 0, err
	}
	if hasProperties(n) {
		off = s.skipProperties(off)
	}
	rest := s.src[off:]
	switch {
	case n.Style&yaml.DoubleQuotedStyle != 0 || n.Style&yaml.SingleQuotedStyle != 0:
		if len(rest) == 0 || (rest[0] != '"' && rest[0] != '\'') {
			return 0, 0, fmt.Errorf("line %d: expected a quoted scalar", n.Line+s.lineDelta)
		}
		q := rest[0]
		i := bytes.IndexByte(rest[1:], q)
		if i < 0 || string(rest[1:1+i]) != n.Value {
			return 0, 0, fmt.Errorf("line %d: quoted scalar with escapes cannot be edited in place", n.Line+s.lineDelta)
		}
		return off + 1, off + 1 + i, nil
	case n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0:
		return 0, 0, fmt.Errorf("line %d: block scalar cannot be edited in place: write the image on one line", n.Line+s.lineDelta)
	}
	if !bytes.HasPrefix(rest, []byte(n.Value)) || plainContinues(rest[len(n.Value):]) {
		return 0, 0, fmt.Errorf("line %d: scalar %q does not match the file (a plain scalar on several lines?)", n.Line+s.lineDelta, n.Value)
	}
	return off, off + len(n.Value), nil
}

// plainContinues reports whether the bytes after a plain scalar's value
// still belong to it as written (a value folded over lines reads as one
// line: its text in the file is not its value).
func plainContinues(after []byte) bool {
	if len(after) == 0 {
		return false
	}
	switch after[0] {
	case ' ', '\t', '\n', '\r', ',', ']', '}', '#':
		return false
	}
	// NEL, LS, PS end a line too.
	return !bytes.HasPrefix(after, []byte("\u0085")) && !bytes.HasPrefix(after, []byte("\u2028")) && !bytes.HasPrefix(after, []byte("\u2029"))
}

// setScalar replaces a scalar's text, keeping its quotes and properties.
func (s *source) setScalar(n *yaml.Node, value string) (span, error) {
	if n.Tag == "!!null" && n.Value == "" && n.Style&^yaml.TaggedStyle == 0 {
		// An empty value ("digest:", "digest: &d") is where its line
		// continues: the value is written there, after a space when the
		// byte before it is the key's colon or a property.
		off, err := s.offset(n.Line, n.Column)
		if err != nil {
			return span{}, err
		}
		if hasProperties(n) {
			off = s.skipProps(off, false)
		}
		if off > 0 && !isBlank(s.src[off-1]) {
			value = " " + value
		}
		return span{off: off, end: off, text: value}, nil
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
	_, end, err := s.scalarInner(after)
	if err != nil {
		return span{}, err
	}
	at := s.nextLine(end)
	indent := strings.Repeat(" ", afterKey.Column-1+s.colDelta)
	nl := s.Newline()
	text := indent + key + ": " + value + nl
	if at == len(s.src) && len(s.src) > 0 && s.lineOf(len(s.src)) == s.lineOf(end) {
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
