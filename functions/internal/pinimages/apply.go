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
)

// spans computes the byte edits of one change against src. Embedded fields
// are positioned inside their document's text; the caller supplies a source
// translated accordingly.
func (c Change) spans(src *source) ([]span, error) {
	f := c.Field
	if f.Kind == StringField {
		sp, err := src.setScalar(f.Node, c.New)
		return []span{sp}, err
	}
	_, v := field(f.Node, f.keys.digest)
	if v != nil {
		sp, err := src.setScalar(v, c.New)
		return []span{sp}, err
	}
	obj, _, _, _ := readObject(f)
	if obj.last == nil {
		return nil, fmt.Errorf("%s: nothing to add %s after", f.Path, f.keys.digest)
	}
	sp, err := src.addKey(f.Node, obj.lastKey, obj.last, f.keys.digest, c.New)
	return []span{sp}, err
}

// ApplyToNodes writes changes into the resources' nodes (the KRM function's
// output is re-serialized by the orchestrator). Embedded documents are
// spliced as text so their formatting survives.
func ApplyToNodes(changes []Change) error {
	byEmbedded := map[*Embedded][]Change{}
	var order []*Embedded
	for _, c := range changes {
		if e := c.Field.Embedded; e != nil {
			if _, seen := byEmbedded[e]; !seen {
				order = append(order, e)
			}
			byEmbedded[e] = append(byEmbedded[e], c)
			continue
		}
		setNode(c)
	}
	for _, e := range order {
		text, err := spliceText([]byte(e.Text), byEmbedded[e], 0, 0)
		if err != nil {
			return fmt.Errorf("%s: %w", e.Path, err)
		}
		e.Value.Value = string(text)
	}
	return nil
}

func setNode(c Change) {
	f := c.Field
	if f.Kind == StringField {
		f.Node.Value = c.New
		return
	}
	if _, v := field(f.Node, f.keys.digest); v != nil {
		v.Value, v.Tag = c.New, "!!str"
		if v.Style != yaml.DoubleQuotedStyle && v.Style != yaml.SingleQuotedStyle {
			v.Style = 0
		}
		return
	}
	f.Node.Content = append(f.Node.Content,
		&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: f.keys.digest},
		&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: c.New})
}

// spliceText applies changes whose nodes were parsed from src (shifted by
// lineDelta/colDelta) and returns the new bytes.
func spliceText(src []byte, changes []Change, lineDelta, colDelta int) ([]byte, error) {
	base, err := newSource(src)
	if err != nil {
		return nil, err
	}
	s := base.shifted(lineDelta, colDelta)
	var all []span
	for _, c := range changes {
		sp, err := c.spans(s)
		if err != nil {
			return nil, err
		}
		all = append(all, sp...)
	}
	return applySpans(src, all)
}

// SpliceFile applies changes to the bytes of the file their resources were
// parsed from (nodes carry positions in that file). Fields embedded in a
// ConfigMap key are mapped through the literal block scalar that holds them.
func SpliceFile(src []byte, changes []Change) ([]byte, error) {
	return splice(src, changes, nil)
}

// splice is SpliceFile with more spans to apply (a part to remove), made
// from the same source.
func splice(src []byte, changes []Change, extra func(*source) []span) ([]byte, error) {
	s, err := newSource(src)
	if err != nil {
		return nil, err
	}
	var all []span
	if extra != nil {
		all = extra(s)
	}
	for _, c := range changes {
		cs := s
		if e := c.Field.Embedded; e != nil {
			if e.Value.Style&yaml.LiteralStyle == 0 {
				return nil, fmt.Errorf("%s: %s must be a literal block scalar (|) to be edited in place", c.Field.Path, e.Path)
			}
			indent, err := blockIndent(s, e.Value)
			if err != nil {
				return nil, err
			}
			cs = s.shifted(e.Value.Line, indent)
		}
		sp, err := c.spans(cs)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", c.Field.Path, err)
		}
		all = append(all, sp...)
	}
	return applySpans(src, all)
}

// blockIndent is the indentation of a literal block scalar's first content
// line (the line after its "|" indicator).
func blockIndent(s *source, n *yaml.Node) (int, error) {
	for line := n.Line + 1; line <= s.Lines(); line++ {
		off, end := s.LineStart(line), s.LineEnd(line)
		i := off
		for i < end && s.src[i] == ' ' {
			i++
		}
		if i < end {
			return i - off, nil
		}
	}
	return 0, fmt.Errorf("line %d: empty block scalar", n.Line)
}
