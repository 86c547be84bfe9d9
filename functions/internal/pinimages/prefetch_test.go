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
	"context"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cloud37/ansible-playbook-operator/functions/internal/imageref"
	"github.com/cloud37/ansible-playbook-operator/functions/internal/registry"
)

func TestSplitResourceList(t *testing.T) {
	for name, tc := range map[string]struct {
		in        string
		wantFC    string
		wantItems []string
		wantOK    bool
	}{
		"kustomize: items at column 0, functionConfig last": {
			in:        "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n- a: 1\n  b:\n  - c\n# between\n- d: 2\nfunctionConfig:\n  kind: PinImages\n",
			wantFC:    "functionConfig:\n  kind: PinImages\n",
			wantItems: []string{"- a: 1\n  b:\n  - c\n# between\n", "- d: 2\n"},
			wantOK:    true,
		},
		"kpt: items indented, functionConfig first, results after": {
			in:        "kind: ResourceList\nfunctionConfig: # cfg\n  kind: PinImages\nitems:\n  - a: |\n      - not an item\n  -\n    d: 2\nresults:\n- message: x\n",
			wantFC:    "functionConfig: # cfg\n  kind: PinImages\n",
			wantItems: []string{"  - a: |\n      - not an item\n", "  -\n    d: 2\n"},
			wantOK:    true,
		},
		"no functionConfig":                     {in: "kind: ResourceList\nitems:\n- a: 1\n", wantItems: []string{"- a: 1\n"}, wantOK: true},
		"flow items":                            {in: "kind: ResourceList\nitems: [{a: 1}]\n"},
		"flow ResourceList":                     {in: "{kind: ResourceList, items: []}\n"},
		"CR LF line ends":                       {in: "kind: ResourceList\r\nitems:\r\n- a: 1\r\n"},
		"a key written twice":                   {in: "kind: ResourceList\nitems:\n- a: 1\nitems:\n- b: 2\n"},
		"a document marker":                     {in: "---\nkind: ResourceList\nitems:\n- a: 1\n"},
		"an item key at the dash's indentation": {in: "kind: ResourceList\nitems:\n  - a: 1\n  b: 2\n"},
		"a tab before an item":                  {in: "kind: ResourceList\nitems:\n\t- a: 1\n"},
	} {
		t.Run(name, func(t *testing.T) {
			fc, items, ok := splitResourceList([]byte(tc.in))
			if ok != tc.wantOK {
				t.Fatalf("ok = %v, want %v", ok, tc.wantOK)
			}
			var got []string
			for _, it := range items {
				got = append(got, string(it))
			}
			if diff := cmp.Diff(tc.wantItems, got); diff != "" || string(fc) != tc.wantFC {
				t.Errorf("functionConfig %q, want %q; items (-want +got):\n%s", fc, tc.wantFC, diff)
			}
		})
	}
}

// recordingResolver records the questions it is asked; with hold set, each
// waits until the test closes it.
type recordingResolver struct {
	mu      sync.Mutex
	asked   map[string]int
	started chan string
	hold    chan struct{}
}

func (r *recordingResolver) Resolve(ctx context.Context, ref imageref.Ref, platform string) (string, error) {
	r.mu.Lock()
	r.asked[ref.Key()]++
	r.mu.Unlock()
	if r.started != nil {
		select {
		case r.started <- ref.Key():
		default:
		}
	}
	if r.hold != nil {
		select {
		case <-r.hold:
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
	return derived(ref.Key()), nil
}

func (r *recordingResolver) Exists(context.Context, imageref.Ref, string) error { return nil }

const prefetchInput = `apiVersion: config.kubernetes.io/v1
kind: ResourceList
items:
- apiVersion: apps/v1
  kind: Deployment
  metadata:
    name: app
  spec:
    template:
      spec:
        containers:
        - name: web
          image: registry.example.com/team/web:1
        - name: locked
          image: busybox:1.36
        - name: pinned
          image: registry.example.com/team/app:1@sha256:eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee
        - name: commented
          image: registry.example.com/team/commented:1 # pin-images:skip
        - name: internal
          image: internal.example.com/tools/x:1
- apiVersion: apps/v1
  kind: Deployment
  metadata:
    name: legacy
    annotations:
      pin-images.ansible.cloud37.dev/skip: "true"
  spec:
    template:
      spec:
        containers:
        - name: legacy
          image: registry.example.com/team/legacy:7
- apiVersion: fn.ansible.cloud37.dev/v1alpha1
  kind: ImageLock
  metadata:
    name: images
    annotations:
      config.kubernetes.io/local-config: "true"
  spec:
    images:
    - image: docker.io/library/busybox:1.36
      digest: sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb
      resolvedAt: "2026-01-01T00:00:00Z"
functionConfig:
  apiVersion: fn.ansible.cloud37.dev/v1alpha1
  kind: PinImages
  metadata:
    name: pin
  spec:
    skip:
      prefixes: [internal.example.com]
`

// The first reading asks what the run asks, once, through one resolver:
// not the lock's hits, the pins, nor what a line comment, an annotation or
// a prefix skips.
func TestPrefetch_asksWhatTheRunAsks(t *testing.T) {
	res := &recordingResolver{asked: map[string]int{}}
	f := startPrefetch(&Processor{Ctx: t.Context(), NewResolver: func(registry.Options) (registry.Resolver, error) { return res, nil }}, []byte(prefetchInput))
	<-f.fed
	f.session.Wait()
	f.close()
	if diff := cmp.Diff(map[string]int{"registry.example.com/team/web:1": 1}, res.asked); diff != "" {
		t.Errorf("the first reading's questions (-want +got):\n%s", diff)
	}

	// With the run: one resolver, each question once.
	res = &recordingResolver{asked: map[string]int{}}
	made := 0
	p := &Processor{Ctx: t.Context(), Stderr: io.Discard,
		NewResolver: func(registry.Options) (registry.Resolver, error) { made++; return res, nil }}
	var out bytes.Buffer
	if err := RunFunction(p, []byte(prefetchInput), &out); err != nil {
		t.Fatalf("RunFunction: %v\n%s", err, out.String())
	}
	if diff := cmp.Diff(map[string]int{"registry.example.com/team/web:1": 1}, res.asked); diff != "" || made != 1 {
		t.Errorf("%d resolvers made, want 1; questions (-want +got):\n%s", made, diff)
	}
	if !bytes.Contains(out.Bytes(), []byte("web:1@"+derived("registry.example.com/team/web:1"))) {
		t.Errorf("the output does not pin web:1:\n%s", out.String())
	}
}

// The first reading starts its lookups on its own, before the run has read
// the input, and offers the run its resolver for the same settings; in
// locked mode it asks nothing.
func TestPrefetch_startsLookupsBeforeTheRunReadsTheInput(t *testing.T) {
	res := &recordingResolver{asked: map[string]int{}, started: make(chan string, 1), hold: make(chan struct{})}
	p := &Processor{Ctx: t.Context(), NewResolver: func(registry.Options) (registry.Resolver, error) { return res, nil }}
	f := startPrefetch(p, []byte(prefetchInput))
	select {
	case got := <-res.started:
		if got != "registry.example.com/team/web:1" {
			t.Errorf("first lookup for %s, want registry.example.com/team/web:1", got)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the first reading started no lookup")
	}
	_, rl, err := readResourceList([]byte(prefetchInput))
	if err != nil {
		t.Fatal(err)
	}
	s, err := ParseConfig(rl.FunctionConfig)
	if err != nil {
		t.Fatal(err)
	}
	s.Registry.Secrets = p.Secrets
	if f.resolver(s) == nil {
		t.Error("the run's settings are the first reading's, but it offers no resolver")
	}
	s.DropTag = true
	if f.resolver(s) != nil {
		t.Error("the first reading offers its resolver to a run with other settings")
	}
	close(res.hold)
	f.close()

	locked := bytes.Replace([]byte(prefetchInput), []byte("  spec:\n    skip:"), []byte("  spec:\n    mode: locked\n    skip:"), 1)
	res = &recordingResolver{asked: map[string]int{}}
	f = startPrefetch(p, locked)
	<-f.ready
	f.close()
	if len(res.asked) != 0 || f.memo != nil {
		t.Errorf("locked mode: the first reading asked %v", res.asked)
	}
}
