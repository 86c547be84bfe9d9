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

package lock

import (
	"bytes"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// FuzzParse checks that the lock decoder never panics, that what it
// accepts round-trips (Marshal, then Parse, gives the same entries, and
// Marshal is byte-stable), and that finding the lock in a file agrees.
// Seeds: testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		if span, l, found, err := FindIn(data); err == nil && found {
			if span.Start < 0 || span.End > len(data) || span.Start > span.End {
				t.Fatalf("FindIn span %+v outside %d bytes", span, len(data))
			}
			if l == nil {
				t.Fatal("FindIn found no lock")
			}
		}
		l, err := Parse(data)
		if err != nil {
			return
		}
		out, err := l.Marshal()
		if err != nil {
			t.Fatalf("Marshal of a parsed lock: %v", err)
		}
		back, err := Parse(out)
		if err != nil {
			t.Fatalf("a marshaled lock does not parse: %v\n%s", err, out)
		}
		if diff := cmp.Diff(l.Entries(), back.Entries()); diff != "" {
			t.Errorf("round trip changed the entries (-parsed +reparsed):\n%s", diff)
		}
		again, err := back.Marshal()
		if err != nil || !bytes.Equal(out, again) {
			t.Errorf("Marshal is not stable (%v):\n%s\n---\n%s", err, out, again)
		}
	})
}
