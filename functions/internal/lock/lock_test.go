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
	"strings"
	"testing"
	"time"
)

const (
	da = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	db = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
)

var t0 = time.Date(2026, 11, 27, 5, 0, 0, 0, time.UTC)

func TestLock_MarshalRoundTrip(t *testing.T) {
	l := New()
	l.Set(Key{Image: "registry:5000/team/app:2"}, db, t0)
	l.Set(Key{Image: "docker.io/library/nginx:1.25", Platform: "linux/arm64"}, da, t0)
	l.Set(Key{Image: "docker.io/library/nginx:1.25"}, db, t0)
	first, err := l.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	want := `apiVersion: fn.ansible.cloud37.dev/v1alpha1
kind: ImageLock
metadata:
  name: images
  annotations:
    config.kubernetes.io/local-config: "true"
spec:
  images:
  - image: docker.io/library/nginx:1.25
    digest: ` + db + `
    resolvedAt: "2026-11-27T05:00:00Z"
  - image: docker.io/library/nginx:1.25
    platform: linux/arm64
    digest: ` + da + `
    resolvedAt: "2026-11-27T05:00:00Z"
  - image: registry:5000/team/app:2
    digest: ` + db + `
    resolvedAt: "2026-11-27T05:00:00Z"
`
	if string(first) != want {
		t.Fatalf("Marshal:\n%s\nwant:\n%s", first, want)
	}
	parsed, err := Parse(first)
	if err != nil {
		t.Fatal(err)
	}
	// Setting the same digests later changes nothing, so the bytes are identical.
	for _, e := range parsed.Entries() {
		if parsed.Set(e.Key(), e.Digest, t0.Add(48*time.Hour)) {
			t.Errorf("Set of an unchanged digest reported a change for %s", e.Key())
		}
	}
	second, err := parsed.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if string(second) != string(first) {
		t.Errorf("re-marshal differs:\n%s", second)
	}
}

func TestLock_SetChangesResolvedAtOnlyWithDigest(t *testing.T) {
	l := New()
	k := Key{Image: "docker.io/library/nginx:1.25"}
	l.Set(k, da, t0)
	t1 := t0.Add(time.Hour)
	if !l.Set(k, db, t1) {
		t.Fatal("a new digest must be a change")
	}
	if e, _ := l.Get(k); e.ResolvedAt != "2026-11-27T06:00:00Z" || e.Digest != db {
		t.Errorf("entry = %+v", e)
	}
}

func TestParse_errors(t *testing.T) {
	header := "apiVersion: fn.ansible.cloud37.dev/v1alpha1\nkind: ImageLock\nmetadata:\n  name: images\nspec:\n  images:\n"
	cases := map[string]struct {
		doc  string
		want string
	}{
		"unknown field is named": {
			doc:  header + "  - image: docker.io/library/nginx:1.25\n    digest: " + da + "\n    resolvedAt: \"2026-11-27T05:00:00Z\"\n    color: blue\n",
			want: "field color not found",
		},
		"wrong kind": {
			doc:  "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n",
			want: "not an ImageLock",
		},
		"invalid digest format names the entry": {
			doc:  header + "  - image: docker.io/library/nginx:1.25\n    digest: sha256:1234\n    resolvedAt: \"2026-11-27T05:00:00Z\"\n",
			want: "spec.images[0]: digest: invalid digest format",
		},
		"un-normalized image names the normal form": {
			doc:  header + "  - image: nginx:1.25\n    digest: " + da + "\n    resolvedAt: \"2026-11-27T05:00:00Z\"\n",
			want: `such as "docker.io/library/nginx:1.25"`,
		},
		"pinned image is not a lock key": {
			doc:  header + "  - image: docker.io/library/nginx:1.25@" + da + "\n    digest: " + da + "\n    resolvedAt: \"2026-11-27T05:00:00Z\"\n",
			want: "must be a normalized name:tag",
		},
		"bad time": {
			doc:  header + "  - image: docker.io/library/nginx:1.25\n    digest: " + da + "\n    resolvedAt: yesterday\n",
			want: "want an RFC 3339 time",
		},
		"verifiedBy without its fingerprint": {
			doc:  header + "  - image: docker.io/library/nginx:1.25\n    digest: " + da + "\n    resolvedAt: \"2026-11-27T05:00:00Z\"\n    verifiedBy: release\n",
			want: "spec.images[0]: verifiedBy and keyFingerprint go together",
		},
		"a fingerprint that is not sha256": {
			doc:  header + "  - image: docker.io/library/nginx:1.25\n    digest: " + da + "\n    resolvedAt: \"2026-11-27T05:00:00Z\"\n    verifiedBy: release\n    keyFingerprint: md5:12\n",
			want: `keyFingerprint "md5:12"`,
		},
		"duplicate keys": {
			doc: header + "  - image: docker.io/library/nginx:1.25\n    digest: " + da + "\n    resolvedAt: \"2026-11-27T05:00:00Z\"\n" +
				"  - image: docker.io/library/nginx:1.25\n    digest: " + db + "\n    resolvedAt: \"2026-11-27T05:00:00Z\"\n",
			want: "spec.images[1]: duplicate entry",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := Parse([]byte(tc.doc))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// TestVerifiedBy: the record of the key that verified an entry survives a
// round trip, goes with its digest (a new digest drops it, resolvedAt
// stays with the digest) and is merged into a lock another run changed.
func TestVerifiedBy(t *testing.T) {
	fp := "sha256:" + strings.Repeat("f", 64)
	k := Key{Image: "r.example.com/app:1"}
	l := New()
	l.Set(k, da, t0)
	if !l.SetVerified(k, da, "release", fp) || l.SetVerified(k, da, "release", fp) || l.SetVerified(k, db, "release", fp) {
		t.Fatal("SetVerified changes an entry once, and only for its digest")
	}
	b, err := l.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "verifiedBy: release\n    keyFingerprint: "+fp) {
		t.Errorf("marshaled lock:\n%s", b)
	}
	back, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if e, _ := back.Get(k); e.VerifiedBy != "release" || e.KeyFingerprint != fp || e.ResolvedAt != "2026-11-27T05:00:00Z" {
		t.Errorf("round trip: %+v", e)
	}
	// A lock written before signatures reads as before.
	old := New()
	old.Set(k, da, t0)
	ob, _ := old.Marshal()
	if strings.Contains(string(ob), "verified") {
		t.Errorf("an entry without a signature record writes none:\n%s", ob)
	}
	current := old.Clone()
	current.Apply(Diff(old, back))
	if e, _ := current.Get(k); e.VerifiedBy != "release" {
		t.Errorf("merged: %+v", e)
	}
	back.Set(k, db, t0.Add(time.Hour))
	if e, _ := back.Get(k); e.VerifiedBy != "" {
		t.Errorf("a new digest keeps the old digest's verifiedBy: %+v", e)
	}
}

func TestDiffApply_mergesIntoALockAnotherRunChanged(t *testing.T) {
	t1 := t0.Add(time.Hour)
	base := New()
	base.Set(Key{Image: "r.example.com/kept:1"}, da, t0)
	base.Set(Key{Image: "r.example.com/pruned:1"}, da, t0)
	base.Set(Key{Image: "r.example.com/moved:1"}, da, t0)

	ours := base.Clone()
	ours.Set(Key{Image: "r.example.com/ours:1"}, db, t1)
	ours.Set(Key{Image: "r.example.com/moved:1"}, db, t1)
	ours.Prune(map[Key]bool{{Image: "r.example.com/kept:1"}: true, {Image: "r.example.com/ours:1"}: true, {Image: "r.example.com/moved:1"}: true})

	// Meanwhile another run added its own entry and set "ours:1" to the same digest.
	current := base.Clone()
	current.Set(Key{Image: "r.example.com/theirs:1"}, da, t0)
	current.Set(Key{Image: "r.example.com/ours:1"}, db, t0)

	current.Apply(Diff(base, ours))
	got := map[string]string{}
	for _, e := range current.Entries() {
		got[e.Image] = e.Digest + " " + e.ResolvedAt
	}
	want := map[string]string{
		"r.example.com/kept:1":   da + " 2026-11-27T05:00:00Z",
		"r.example.com/moved:1":  db + " 2026-11-27T06:00:00Z",
		"r.example.com/ours:1":   db + " 2026-11-27T05:00:00Z", // the same digest keeps its first resolvedAt
		"r.example.com/theirs:1": da + " 2026-11-27T05:00:00Z",
	}
	if len(got) != len(want) {
		t.Errorf("entries = %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	if d := Diff(base, base.Clone()); !d.Empty() {
		t.Errorf("Diff of a lock and its clone = %+v, want empty", d)
	}
}

func TestFindInAndSplice_keepOtherDocuments(t *testing.T) {
	l := New()
	l.Set(Key{Image: "r.example.com/app:1"}, da, t0)
	doc, err := l.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	before := "# head comment\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\n"
	after := "---\napiVersion: v1\nkind: Secret\nmetadata: {name: b}\n"
	src := []byte(before + string(doc) + after)

	span, found, ok, err := FindIn(src)
	if err != nil || !ok {
		t.Fatalf("FindIn = %v, %v", ok, err)
	}
	if e, _ := found.Get(Key{Image: "r.example.com/app:1"}); e.Digest != da {
		t.Errorf("entry = %+v", e)
	}
	l.Set(Key{Image: "r.example.com/new:1"}, db, t0)
	doc2, err := l.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(Splice(src, span, doc2)), before+string(doc2)+after; got != want {
		t.Errorf("Splice =\n%s\nwant\n%s", got, want)
	}

	for name, src := range map[string]string{
		"no lock":        "apiVersion: v1\nkind: ConfigMap\n",
		"two locks":      string(doc) + "---\n" + string(doc),
		"a syntax error": "a: [\n",
	} {
		t.Run(name, func(t *testing.T) {
			_, _, ok, err := FindIn([]byte(src))
			if ok && err == nil {
				t.Errorf("FindIn found a lock in %q", src)
			}
		})
	}
}
