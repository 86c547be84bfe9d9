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
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	yamlv4 "go.yaml.in/yaml/v4"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// SyntaxError is a YAML syntax error with the position it was found at.
type SyntaxError struct {
	Line, Column int
	Message      string
	// Context says what was being read, and where it started (0 when unknown).
	Context                    string
	ContextLine, ContextColumn int
}

func (e *SyntaxError) Error() string {
	msg := e.Message
	if e.Line > 0 {
		msg = fmt.Sprintf("line %d column %d: %s", e.Line, e.Column, e.Message)
	}
	if e.Context != "" && e.ContextLine > 0 && (e.ContextLine != e.Line || e.ContextColumn != e.Column) {
		msg += fmt.Sprintf(" (%s that starts at line %d column %d)", e.Context, e.ContextLine, e.ContextColumn)
	}
	return msg
}

// Decode parses every document of src into nodes, as yaml.v3 (and so kyaml)
// reads them. A syntax error is a *SyntaxError with line and column, which
// yaml.v3's own errors lack (and its line too, on the first line).
func Decode(src []byte) ([]*yaml.Node, error) {
	var docs []*yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(src))
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, Locate(src, err)
		}
		docs = append(docs, &doc)
	}
}

// Locate turns yaml.v3's syntax error for src into a *SyntaxError. The
// position comes from go-yaml v4 reading the same text (its errors carry
// line and column); when v4 reads it without error, yaml.v3's message is
// kept, without its "yaml: " prefix.
func Locate(src []byte, err error) error {
	dec := yamlv4.NewDecoder(bytes.NewReader(src))
	for {
		var n yamlv4.Node
		verr := dec.Decode(&n)
		if verr == nil {
			continue
		}
		var le *yamlv4.LoadError
		if errors.As(verr, &le) && le.Mark.Line > 0 {
			return &SyntaxError{Line: le.Mark.Line, Column: le.Mark.Column, Message: le.Message,
				Context: le.ContextMsg, ContextLine: le.ContextMark.Line, ContextColumn: le.ContextMark.Column}
		}
		return &SyntaxError{Message: strings.TrimPrefix(err.Error(), "yaml: ")}
	}
}
