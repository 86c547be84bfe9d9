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

package pin

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cloud37/ansible-playbook-operator/functions/internal/imageref"
	"github.com/cloud37/ansible-playbook-operator/functions/internal/lock"
	"github.com/cloud37/ansible-playbook-operator/functions/internal/registry"
)

func digest(c string) string { return "sha256:" + strings.Repeat(c, 64) }

// fakeResolver answers from maps and counts calls; unit tests only.
type fakeResolver struct {
	mu      sync.Mutex
	tags    map[string]string // normalized name:tag|platform -> digest
	digests map[string]bool   // normalized name@digest that exist
	calls   map[string]int
}

func (f *fakeResolver) Resolve(_ context.Context, ref imageref.Ref, platform string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	k := ref.Key() + "|" + platform
	f.calls[k]++
	if d, ok := f.tags[k]; ok {
		return d, nil
	}
	return "", registry.NewError(registry.ManifestUnknown, ref.Original, "MANIFEST_UNKNOWN")
}

func (f *fakeResolver) Exists(_ context.Context, ref imageref.Ref, d string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	k := ref.Name + "@" + d
	f.calls[k]++
	if f.digests[k] {
		return nil
	}
	return registry.NewError(registry.ManifestUnknown, ref.Original, "MANIFEST_UNKNOWN")
}

func newFake() *fakeResolver {
	return &fakeResolver{
		tags: map[string]string{
			"docker.io/library/nginx:1.25|":            digest("a"),
			"docker.io/library/nginx:1.25|linux/arm64": digest("c"),
			"registry:5000/team/app:2|":                digest("b"),
		},
		digests: map[string]bool{
			"docker.io/library/nginx@" + digest("a"): true,
			"docker.io/library/nginx@" + digest("e"): true, // an old build the tag moved away from
			"registry:5000/team/app@" + digest("b"):  true,
		},
		calls: map[string]int{},
	}
}

func mustRef(t *testing.T, s string) imageref.Ref {
	t.Helper()
	r, err := imageref.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

var t0 = time.Date(2026, 11, 27, 5, 0, 0, 0, time.UTC)

func TestEngine_Run(t *testing.T) {
	type want struct {
		status Status
		digest string
		code   registry.Code // expected error class, "" for none
	}
	cases := map[string]struct {
		mode  Mode
		lock  map[lock.Key]string // lock content before the run
		ref   string
		plat  string
		want  want
		calls int // registry calls expected for this one reference
	}{
		"resolve pins from the registry on a lock miss": {
			mode: Resolve, ref: "nginx:1.25", want: want{Pinned, digest("a"), ""}, calls: 1,
		},
		"resolve pins from the lock without a lookup": {
			mode: Resolve, ref: "nginx:1.25", lock: map[lock.Key]string{{Image: "docker.io/library/nginx:1.25"}: digest("9")},
			want: want{Pinned, digest("9"), ""},
		},
		"resolve keeps an existing pin without a lookup": {
			mode: Resolve, ref: "nginx:1.25@" + digest("e"), want: want{Kept, digest("e"), ""},
		},
		"resolve of an unknown tag is manifest unknown": {
			mode: Resolve, ref: "nginx:0.0", want: want{Failed, "", registry.ManifestUnknown}, calls: 1,
		},
		"platform pins the child digest": {
			mode: Resolve, ref: "nginx:1.25", plat: "linux/arm64", want: want{Pinned, digest("c"), ""}, calls: 1,
		},
		"locked pins from the lock": {
			mode: Locked, ref: "nginx:1.25", lock: map[lock.Key]string{{Image: "docker.io/library/nginx:1.25"}: digest("9")},
			want: want{Pinned, digest("9"), ""},
		},
		"locked miss is an error and no lookup": {
			mode: Locked, ref: "nginx:1.25", want: want{Failed, "", registry.NotLocked},
		},
		"locked lock entry of another platform is a miss": {
			mode: Locked, ref: "nginx:1.25", plat: "linux/arm64", lock: map[lock.Key]string{{Image: "docker.io/library/nginx:1.25"}: digest("9")},
			want: want{Failed, "", registry.NotLocked},
		},
		"verify reports an unpinned reference with the proposal": {
			mode: Verify, ref: "nginx:1.25", want: want{Unpinned, digest("a"), ""}, calls: 1,
		},
		"verify keeps a matching pin": {
			mode: Verify, ref: "nginx:1.25@" + digest("a"), want: want{Kept, digest("a"), ""}, calls: 1,
		},
		"verify reports drift when the tag moved and the pin exists": {
			mode: Verify, ref: "nginx:1.25@" + digest("e"), want: want{Drifted, digest("e"), registry.DigestMismatch}, calls: 2,
		},
		"verify reports a vanished pin as manifest unknown": {
			mode: Verify, ref: "nginx:1.25@" + digest("f"), want: want{Failed, "", registry.ManifestUnknown}, calls: 2,
		},
		"verify checks a bare digest exists": {
			mode: Verify, ref: "registry:5000/team/app@" + digest("b"), want: want{Kept, digest("b"), ""}, calls: 1,
		},
		"verify of a vanished bare digest is manifest unknown": {
			mode: Verify, ref: "registry:5000/team/app@" + digest("0"), want: want{Failed, "", registry.ManifestUnknown}, calls: 1,
		},
		"refresh moves a pin whose tag moved": {
			mode: Refresh, ref: "nginx:1.25@" + digest("e"), want: want{Updated, digest("a"), ""}, calls: 1,
		},
		"refresh ignores the lock": {
			mode: Refresh, ref: "nginx:1.25", lock: map[lock.Key]string{{Image: "docker.io/library/nginx:1.25"}: digest("9")},
			want: want{Pinned, digest("a"), ""}, calls: 1,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			f := newFake()
			lk := lock.New()
			for k, d := range tc.lock {
				lk.Set(k, d, t0)
			}
			e := Engine{Resolver: f, Mode: tc.mode, Lock: lk, Now: func() time.Time { return t0 }}
			req := Request{Ref: mustRef(t, tc.ref), Platform: tc.plat}
			out, _, _, err := e.Run(context.Background(), []Request{req})
			if err != nil {
				t.Fatal(err)
			}
			o := out[req.ID()]
			if o.Status != tc.want.status || o.Digest != tc.want.digest {
				t.Errorf("got status %s digest %s, want %s %s (err %v)", o.Status, o.Digest, tc.want.status, tc.want.digest, o.Err)
			}
			var code registry.Code
			if o.Err != nil {
				code = o.Err.Code
				if o.Err.Ref != tc.ref {
					t.Errorf("error names %q, want the reference as written %q", o.Err.Ref, tc.ref)
				}
			}
			if code != tc.want.code {
				t.Errorf("error code %q, want %q (%v)", code, tc.want.code, o.Err)
			}
			total := 0
			for _, n := range f.calls {
				total += n
			}
			if total != tc.calls {
				t.Errorf("registry calls = %d (%v), want %d", total, f.calls, tc.calls)
			}
		})
	}
}

func TestEngine_Run_dedupesSpellings(t *testing.T) {
	f := newFake()
	e := Engine{Resolver: f, Mode: Resolve, Concurrency: 3}
	var reqs []Request
	for _, s := range []string{"nginx:1.25", "docker.io/nginx:1.25", "index.docker.io/library/nginx:1.25", "nginx:1.25"} {
		reqs = append(reqs, Request{Ref: mustRef(t, s)})
	}
	out, lk, stats, err := e.Run(context.Background(), reqs)
	if err != nil {
		t.Fatal(err)
	}
	if got := f.calls["docker.io/library/nginx:1.25|"]; got != 1 {
		t.Errorf("one lookup for four spellings, got %d", got)
	}
	if stats.Lookups != 1 || stats.Requests != 1 {
		t.Errorf("stats = %+v, want 1 lookup for 1 distinct request", stats)
	}
	for _, r := range reqs {
		if o := out[r.ID()]; o.Digest != digest("a") {
			t.Errorf("%s: digest %s", r.Ref.Original, o.Digest)
		}
	}
	if lk.Len() != 1 {
		t.Errorf("lock has %d entries, want 1", lk.Len())
	}
}

func TestEngine_Run_lockMaintenance(t *testing.T) {
	f := newFake()
	lk := lock.New()
	unused := lock.Key{Image: "docker.io/library/redis:7"}
	lk.Set(unused, digest("7"), t0)
	moved := lock.Key{Image: "docker.io/library/nginx:1.25"}
	lk.Set(moved, digest("e"), t0)
	app := lock.Key{Image: "registry:5000/team/app:2"}
	lk.Set(app, digest("b"), t0)

	t1 := t0.Add(time.Hour)
	reqs := []Request{{Ref: mustRef(t, "nginx:1.25")}, {Ref: mustRef(t, "registry:5000/team/app:2")}}

	// Resolve: the lock answers, nothing is added, nothing pruned.
	e := Engine{Resolver: f, Mode: Resolve, Lock: lk, Now: func() time.Time { return t1 }}
	out, lk, stats, err := e.Run(context.Background(), reqs)
	if err != nil {
		t.Fatal(err)
	}
	if out[reqs[0].ID()].Digest != digest("e") || stats.Lookups != 0 || lk.Len() != 3 {
		t.Fatalf("resolve from lock: digest %s lookups %d entries %d", out[reqs[0].ID()].Digest, stats.Lookups, lk.Len())
	}

	// Refresh: the moved tag is updated with a new resolvedAt, the unchanged
	// one keeps its resolvedAt, the unused one is pruned.
	e = Engine{Resolver: f, Mode: Refresh, Lock: lk, Now: func() time.Time { return t1 }}
	_, lk, stats, err = e.Run(context.Background(), reqs)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := lk.Get(moved); got.Digest != digest("a") || got.ResolvedAt != t1.Format(time.RFC3339) {
		t.Errorf("moved entry = %+v", got)
	}
	if got, _ := lk.Get(app); got.ResolvedAt != t0.Format(time.RFC3339) {
		t.Errorf("unchanged entry got a new resolvedAt: %+v", got)
	}
	if _, ok := lk.Get(unused); ok || len(stats.Pruned) != 1 {
		t.Errorf("unused entry not pruned: %v", stats.Pruned)
	}
	if stats.LockAdded != 1 {
		t.Errorf("LockAdded = %d, want 1", stats.LockAdded)
	}
}

func TestParseMode(t *testing.T) {
	if m, err := ParseMode(""); err != nil || m != Resolve {
		t.Errorf("empty mode = %q, %v", m, err)
	}
	_, err := ParseMode("fast")
	if err == nil || !strings.Contains(err.Error(), "resolve, verify, refresh, locked") {
		t.Errorf("error should list the accepted values: %v", err)
	}
}

// startedResolver tells which lookups started, and holds each one until
// the test releases it.
type startedResolver struct {
	started chan string
	release chan struct{}
}

func (r *startedResolver) Resolve(_ context.Context, ref imageref.Ref, _ string) (string, error) {
	r.started <- ref.String()
	<-r.release
	return digest("a"), nil
}

func (r *startedResolver) Exists(context.Context, imageref.Ref, string) error { return nil }

// A session starts a lookup when its request is added, before the caller
// has added the others or called Finish, and takes the pending ones
// round-robin over repositories (the first lookup of each repository pays
// its token, so that they overlap).
func TestSession_lookupsStartWhenAdded(t *testing.T) {
	res := &startedResolver{started: make(chan string), release: make(chan struct{})}
	s, err := (&Engine{Resolver: res, Mode: Resolve, Concurrency: 1}).Start(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	s.Add(Request{Ref: mustRef(t, "registry:5000/a:1")})
	var order []string
	select { // the lookup runs before the next Add
	case r := <-res.started:
		order = append(order, r)
	case <-time.After(30 * time.Second):
		t.Fatal("no lookup started after Add")
	}
	for _, r := range []string{"registry:5000/a:2", "registry:5000/a:3", "registry:5000/b:1", "registry:5000/a:1"} {
		s.Add(Request{Ref: mustRef(t, r)})
	}
	for range 3 {
		res.release <- struct{}{}
		order = append(order, <-res.started)
	}
	close(res.release)
	want := []string{"registry:5000/a:1", "registry:5000/a:2", "registry:5000/b:1", "registry:5000/a:3"}
	if diff := cmp.Diff(want, order); diff != "" {
		t.Errorf("lookup order (-want +got):\n%s", diff)
	}
	out, _, stats, err := s.Finish()
	if err != nil || len(out) != 4 || stats.Lookups != 4 {
		t.Fatalf("Finish: %d outcomes, %d lookups, %v; want 4, 4", len(out), stats.Lookups, err)
	}
	for id, o := range out {
		if o.Status != Pinned || o.Digest != digest("a") {
			t.Errorf("%s: %s %s, want pinned to %s", id, o.Status, o.Digest, digest("a"))
		}
	}
}
