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

package webhook

import (
	"bytes"
	"encoding/json"
	"sort"
	"strconv"
	"strings"
)

// op is one RFC 6902 operation.
type op struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	Value any    `json:"value"`
}

// stringDiff is the patch from before to after limited to string values
// that changed or were added: the engine writes only image strings and
// digests, so everything else (numbers re-encoded through YAML, key order)
// is left alone by construction.
func stringDiff(before, after []byte) ([]op, error) {
	var a, b any
	for _, x := range []struct {
		data []byte
		into *any
	}{{before, &a}, {after, &b}} {
		dec := json.NewDecoder(bytes.NewReader(x.data))
		dec.UseNumber()
		if err := dec.Decode(x.into); err != nil {
			return nil, err
		}
	}
	var ops []op
	diffStrings("", a, b, &ops)
	return ops, nil
}

func diffStrings(path string, a, b any, ops *[]op) {
	switch bv := b.(type) {
	case map[string]any:
		av, _ := a.(map[string]any)
		keys := make([]string, 0, len(bv))
		for k := range bv {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			child := path + "/" + escape(k)
			old, had := av[k]
			if !had {
				if s, ok := bv[k].(string); ok && av != nil {
					*ops = append(*ops, op{Op: "add", Path: child, Value: s})
				}
				continue
			}
			diffStrings(child, old, bv[k], ops)
		}
	case []any:
		av, ok := a.([]any)
		if !ok || len(av) != len(bv) {
			return
		}
		for i := range bv {
			diffStrings(path+"/"+strconv.Itoa(i), av[i], bv[i], ops)
		}
	case string:
		if as, ok := a.(string); ok && as != bv {
			*ops = append(*ops, op{Op: "replace", Path: path, Value: bv})
		}
	}
}

// escape is a JSON pointer token (RFC 6901).
func escape(s string) string { return strings.NewReplacer("~", "~0", "/", "~1").Replace(s) }

// annotationOps records what was pinned in an annotation of the object,
// creating metadata.annotations when absent.
func annotationOps(object []byte, key, value string) []op {
	var m struct {
		Metadata struct {
			Annotations map[string]string `json:"annotations"`
		} `json:"metadata"`
	}
	_ = json.Unmarshal(object, &m)
	if m.Metadata.Annotations == nil {
		return []op{{Op: "add", Path: "/metadata/annotations", Value: map[string]string{key: value}}}
	}
	verb := "add"
	if _, ok := m.Metadata.Annotations[key]; ok {
		verb = "replace"
	}
	return []op{{Op: verb, Path: "/metadata/annotations/" + escape(key), Value: value}}
}
