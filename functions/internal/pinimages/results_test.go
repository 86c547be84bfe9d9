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
	"testing"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// TestQuote checks that every rendering reads back as the same string.
func TestQuote(t *testing.T) {
	for _, s := range []string{
		"", "info", "spec.containers[name=app].image", "nginx:1.25@sha256:0a", "true", "No", "null", "1.25",
		"13", "0.10", "a b", "a: b", "a #b", "-x", "[x]", "x:", "x::y", `say "hi"`, `back\slash`, "line\nbreak",
		"tab\there", "~", "@x", "*alias", "&anchor", "!tag", "%x", "it's", "ünïcode", "ends with space ",
	} {
		var got string
		if err := yaml.Unmarshal([]byte("v: "+quote(s)+"\n"), &struct {
			V *string `yaml:"v"`
		}{V: &got}); err != nil {
			t.Errorf("quote(%q) = %s does not parse: %v", s, quote(s), err)
			continue
		}
		if got != s {
			t.Errorf("quote(%q) = %s reads back as %q", s, quote(s), got)
		}
	}
}
