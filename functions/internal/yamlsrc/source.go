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

// Package yamlsrc relates parsed YAML to the bytes it came from: byte
// offsets of node positions (counted as yaml.v3 counts them), syntax errors
// with line and column, duplicate keys, and the byte ranges of the
// documents of a stream. It reads; it never writes.
package yamlsrc

import (
	"bytes"
	"fmt"
	"unicode/utf8"
)

// bom is the UTF-8 byte order mark; yaml.v3 skips it without counting a column.
const bom = "\xef\xbb\xbf"

// Source maps node positions (1-based line, column in characters) to byte
// offsets of the text they were parsed from. Lines end where yaml.v3 ends
// them: at CR LF, CR, LF, NEL, LS and PS.
type Source struct {
	src        []byte
	lineStarts []int
	lineEnds   []int // offset of the line's break (or len(src))
	// runes caches, for lines that are not ASCII, the byte offset of each
	// character, so that finding a column costs O(1) after one pass over
	// the line; a line of 16,000 flow-style containers is then linear.
	runes map[int][]int
}

// New indexes src. It fails on UTF-16 text, whose positions yaml.v3 counts
// in another encoding than the bytes.
func New(src []byte) (*Source, error) {
	if bytes.HasPrefix(src, []byte("\xff\xfe")) || bytes.HasPrefix(src, []byte("\xfe\xff")) {
		return nil, fmt.Errorf("UTF-16 text cannot be edited in place: convert it to UTF-8")
	}
	s := &Source{src: src, lineStarts: []int{0}}
	if bytes.HasPrefix(src, []byte(bom)) {
		s.lineStarts[0] = len(bom)
	}
	// Most texts end lines with LF alone: then one fast search per line,
	// into slices sized once.
	if bytes.IndexByte(src, '\r') < 0 && bytes.IndexByte(src, 0xC2) < 0 && bytes.IndexByte(src, 0xE2) < 0 {
		n := bytes.Count(src, []byte{'\n'}) + 1
		s.lineStarts = append(make([]int, 0, n), s.lineStarts...)
		s.lineEnds = make([]int, 0, n)
		for off := 0; ; {
			i := bytes.IndexByte(src[off:], '\n')
			if i < 0 {
				break
			}
			s.lineEnds = append(s.lineEnds, off+i)
			off += i + 1
			s.lineStarts = append(s.lineStarts, off)
		}
		s.lineEnds = append(s.lineEnds, len(src))
		return s, nil
	}
	for i := 0; i < len(src); {
		if n := breakAt(src, i); n > 0 {
			s.lineEnds = append(s.lineEnds, i)
			i += n
			s.lineStarts = append(s.lineStarts, i)
			continue
		}
		i++
	}
	s.lineEnds = append(s.lineEnds, len(src))
	return s, nil
}

// breakAt returns the length of the line break at src[i:], or 0.
func breakAt(src []byte, i int) int {
	switch c := src[i]; {
	case c == '\n':
		return 1
	case c == '\r':
		if i+1 < len(src) && src[i+1] == '\n' {
			return 2
		}
		return 1
	case c == 0xC2:
		if i+1 < len(src) && src[i+1] == 0x85 {
			return 2
		}
	case c == 0xE2:
		if i+2 < len(src) && src[i+1] == 0x80 && (src[i+2] == 0xA8 || src[i+2] == 0xA9) {
			return 3
		}
	}
	return 0
}

// Bytes returns the indexed text.
func (s *Source) Bytes() []byte { return s.src }

// Lines is the number of lines.
func (s *Source) Lines() int { return len(s.lineStarts) }

// LineStart and LineEnd are the offsets of line's first byte and of its break.
func (s *Source) LineStart(line int) int { return s.lineStarts[line-1] }

// LineEnd is the offset of the line's break, or the end of the text.
func (s *Source) LineEnd(line int) int { return s.lineEnds[line-1] }

// Offset returns the byte offset of a position.
func (s *Source) Offset(line, col int) (int, error) {
	if line < 1 || line > len(s.lineStarts) {
		return 0, fmt.Errorf("line %d is outside the text", line)
	}
	start, end := s.lineStarts[line-1], s.lineEnds[line-1]
	if col < 1 {
		return 0, fmt.Errorf("column %d is outside line %d", col, line)
	}
	offsets := s.lineRunes(line, start, end)
	if offsets == nil { // ASCII: a character is a byte
		if start+col-1 > end {
			return 0, fmt.Errorf("column %d is outside line %d", col, line)
		}
		return start + col - 1, nil
	}
	if col-1 > len(offsets) {
		return 0, fmt.Errorf("column %d is outside line %d", col, line)
	}
	if col-1 == len(offsets) {
		return end, nil
	}
	return offsets[col-1], nil
}

// lineRunes returns the offsets of the characters of a non-ASCII line, or
// nil for an ASCII one.
func (s *Source) lineRunes(line, start, end int) []int {
	if offs, ok := s.runes[line]; ok {
		return offs
	}
	ascii := true
	for _, c := range s.src[start:end] {
		if c >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	var offs []int
	if !ascii {
		offs = make([]int, 0, end-start)
		for i := start; i < end; {
			offs = append(offs, i)
			_, size := utf8.DecodeRune(s.src[i:end])
			i += size
		}
	}
	if s.runes == nil {
		s.runes = map[int][]int{}
	}
	s.runes[line] = offs
	return offs
}

// Newline is the text's line break as written in its first line ("\n"
// when it has none), for lines added to it.
func (s *Source) Newline() string {
	if len(s.lineStarts) < 2 {
		return "\n"
	}
	return string(s.src[s.lineEnds[0]:s.lineStarts[1]])
}
