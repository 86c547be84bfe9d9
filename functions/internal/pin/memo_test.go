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
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/cloud37/ansible-playbook-operator/functions/internal/imageref"
)

// inFlight counts the lookups in flight and the most seen at once; each
// lookup takes a moment so that they overlap.
type inFlight struct {
	mu       sync.Mutex
	now, max int
	calls    map[string]int
}

func (f *inFlight) Resolve(ctx context.Context, ref imageref.Ref, _ string) (string, error) {
	f.mu.Lock()
	f.now++
	f.max = max(f.max, f.now)
	f.calls[ref.Key()]++
	f.mu.Unlock()
	select {
	case <-time.After(2 * time.Millisecond):
	case <-ctx.Done():
	}
	f.mu.Lock()
	f.now--
	f.mu.Unlock()
	if ctx.Err() != nil {
		return "", ctx.Err()
	}
	return digest("a"), nil
}

func (f *inFlight) Exists(context.Context, imageref.Ref, string) error { return nil }

// Two engines sharing a Memo ask the registry each question once, and
// together never have more than the Memo's concurrency in flight.
func TestMemo_twoEnginesAskOnce(t *testing.T) {
	res := &inFlight{calls: map[string]int{}}
	memo := NewMemo(res, 3)
	var reqs []Request
	for i := range 40 {
		reqs = append(reqs, Request{Ref: mustRef(t, fmt.Sprintf("registry:5000/r%d:%d", i%7, i))})
	}
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			out, _, _, err := (&Engine{Resolver: memo, Mode: Resolve, Concurrency: 8}).Run(t.Context(), reqs)
			if err != nil || len(out) != len(reqs) {
				t.Errorf("Run: %d outcomes, %v", len(out), err)
			}
			for id, o := range out {
				if o.Status != Pinned {
					t.Errorf("%s: %s %v", id, o.Status, o.Err)
				}
			}
		})
	}
	wg.Wait()
	for k, n := range res.calls {
		if n != 1 {
			t.Errorf("%s asked %d times, want once", k, n)
		}
	}
	if len(res.calls) != len(reqs) || res.max > 3 {
		t.Errorf("%d references asked, at most %d in flight; want %d, at most 3", len(res.calls), res.max, len(reqs))
	}
}

// An answer its asker gave up on is not kept: the next asker asks again.
func TestMemo_givenUpIsAskedAgain(t *testing.T) {
	res := &inFlight{calls: map[string]int{}}
	memo := NewMemo(res, 1)
	ref := mustRef(t, "registry:5000/app:1")
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := memo.Resolve(ctx, ref, ""); err == nil {
		t.Fatal("Resolve under a cancelled context succeeded")
	}
	got, err := memo.Resolve(t.Context(), ref, "")
	if err != nil || got != digest("a") {
		t.Fatalf("Resolve after the given-up one = %s, %v; want %s", got, err, digest("a"))
	}
	if got, err := memo.Resolve(t.Context(), ref, ""); err != nil || got != digest("a") || res.calls[ref.Key()] > 2 {
		t.Errorf("third Resolve = %s, %v after %d calls; want the kept answer", got, err, res.calls[ref.Key()])
	}
}
