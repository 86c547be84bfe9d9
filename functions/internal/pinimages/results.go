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
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/fn/framework"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// writeResults renders the input's results (as they were) and this run's as
// YAML text. Reflection-based encoding took over a second for 20,000
// results; the shape is fixed, so they are written directly, quoting every
// value that is not plainly a string.
func writeResults(b *bytes.Buffer, input []*yaml.Node, results framework.Results) error {
	if len(input)+len(results) == 0 {
		return nil
	}
	b.Grow(len(results) * 384) // a result is about 300 bytes
	b.WriteString("results:\n")
	for _, n := range input {
		if err := writeIndented(b, n, "- ", "  ", false); err != nil {
			return err
		}
	}
	for _, r := range results {
		b.WriteString("- message: " + quote(r.Message) + "\n")
		b.WriteString("  severity: " + quote(string(r.Severity)) + "\n")
		if ref := r.ResourceRef; ref != nil {
			b.WriteString("  resourceRef:\n")
			kv(b, "    ", "apiVersion", ref.APIVersion)
			kv(b, "    ", "kind", ref.Kind)
			kv(b, "    ", "name", ref.Name)
			kv(b, "    ", "namespace", ref.Namespace)
		}
		if f := r.Field; f != nil {
			b.WriteString("  field:\n")
			kv(b, "    ", "path", f.Path)
			if f.CurrentValue != nil {
				b.WriteString("    currentValue: " + quote(fmt.Sprint(f.CurrentValue)) + "\n")
			}
			if f.ProposedValue != nil {
				b.WriteString("    proposedValue: " + quote(fmt.Sprint(f.ProposedValue)) + "\n")
			}
		}
		if len(r.Tags) > 0 {
			b.WriteString("  tags:\n")
			for _, k := range slices.Sorted(maps.Keys(r.Tags)) {
				b.WriteString("    " + quote(k) + ": " + quote(r.Tags[k]) + "\n")
			}
		}
		if f := r.File; f != nil {
			b.WriteString("  file:\n")
			kv(b, "    ", "path", f.Path)
			if f.Index > 0 {
				b.WriteString("    index: " + strconv.Itoa(f.Index) + "\n")
			}
		}
	}
	return nil
}

func kv(b *bytes.Buffer, indent, key, value string) {
	if value != "" {
		b.WriteString(indent + key + ": " + quote(value) + "\n")
	}
}

// quote returns s as a plain YAML scalar when YAML reads it back as the same
// string, else double-quoted.
func quote(s string) string {
	if isPlain(s) {
		return s
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c == 0x7f {
			// A JSON string is a YAML double-quoted scalar.
			var q bytes.Buffer
			enc := json.NewEncoder(&q)
			enc.SetEscapeHTML(false)
			_ = enc.Encode(s) // a string always encodes
			return strings.TrimSuffix(q.String(), "\n")
		}
	}
	return `"` + s + `"`
}

// isPlain accepts strings of letters, digits and _./@=+- with single colons
// inside, starting with a letter, / or _, and not a YAML 1.1 boolean or null.
func isPlain(s string) bool {
	if s == "" {
		return false
	}
	switch c := s[0]; {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '_', c == '/':
	default:
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '_' || c == '.' || c == '/' || c == '@' || c == '=' || c == '+' || c == '-' || c == '[' || c == ']':
		case c == ':' && i+1 < len(s) && s[i+1] != ':' && s[i+1] != ' ':
		default:
			return false
		}
	}
	switch strings.ToLower(s) {
	case "true", "false", "yes", "no", "on", "off", "y", "n", "null":
		return false
	}
	return true
}
