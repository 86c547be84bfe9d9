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

package imageref

import (
	"strings"
	"testing"
)

// FuzzParse checks that parsing never panics and that what it accepts keeps
// the user's spelling and normalizes to a fixed point: the normalized key
// parses to itself, a pin parses back to the same reference, and a prefix
// made of a name matches it. Seeds: testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		if p, err := ParsePrefix(s); err == nil && !p.Matches(string(p)) {
			t.Errorf("prefix %q does not match itself", p)
		}
		r, err := Parse(s)
		if err != nil {
			return
		}
		if r.String() != s || r.Original != s {
			t.Fatalf("Parse(%q) spells it %q", s, r.String())
		}
		if strings.ToLower(Registry(r.Name)) != Registry(r.Name) {
			t.Errorf("Name %q has an upper-case registry", r.Name)
		}
		key, err := Parse(r.Key())
		if err != nil {
			t.Fatalf("the key %q of %q does not parse: %v", r.Key(), s, err)
		}
		if key.Key() != r.Key() || key.Name != r.Name {
			t.Errorf("normalization is not a fixed point: %q -> %q -> %q", s, r.Key(), key.Key())
		}
		pinned := r.WithDigest("sha256:"+strings.Repeat("0", 64), false)
		back, err := Parse(pinned.String())
		if err != nil {
			t.Fatalf("the pin %q of %q does not parse: %v", pinned, s, err)
		}
		if back.Name != r.Name || back.Tag != r.Tag || back.Digest != pinned.Digest {
			t.Errorf("pin %q parses to %+v, want %+v", pinned, back, pinned)
		}
		p, err := ParsePrefix(r.Name)
		if err != nil {
			t.Fatalf("the name %q of %q is no prefix: %v", r.Name, s, err)
		}
		if !p.Matches(r.Name) {
			t.Errorf("prefix %q made of %q does not match it", p, r.Name)
		}
	})
}
