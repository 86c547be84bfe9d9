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
	"sync"

	"github.com/cloud37/ansible-playbook-operator/functions/internal/imageref"
	"github.com/cloud37/ansible-playbook-operator/functions/internal/registry"
	"github.com/cloud37/ansible-playbook-operator/functions/internal/signature"
)

// Memo is a Resolver that asks its inner resolver each question once and
// gives every caller the answer, with at most concurrency questions in
// flight whoever asks. Two engines of one run share it: one started early
// on a first reading of the input (its lookups begin while the input is
// still parsed), one deciding on the complete input, whose lookups then
// find their answers made or in flight.
type Memo struct {
	inner registry.Resolver
	slots chan struct{}

	mu    sync.Mutex
	calls map[memoKey]*memoCall
}

var _ registry.Resolver = (*Memo)(nil)

type memoKey struct {
	exists   bool
	name     string // normalized name:tag, or name@digest
	platform string
}

type memoCall struct {
	done   chan struct{}
	digest string
	err    error
	// given up: the asker's context ended before the answer, which then
	// says nothing about the registry.
	givenUp bool
}

// NewMemo wraps r; concurrency <= 0 means DefaultConcurrency.
func NewMemo(r registry.Resolver, concurrency int) *Memo {
	if concurrency <= 0 {
		concurrency = DefaultConcurrency
	}
	return &Memo{inner: r, slots: make(chan struct{}, concurrency), calls: map[memoKey]*memoCall{}}
}

// Resolve implements registry.Resolver.
func (m *Memo) Resolve(ctx context.Context, ref imageref.Ref, platform string) (string, error) {
	return m.ask(ctx, memoKey{name: ref.Key(), platform: platform}, func(ctx context.Context) (string, error) {
		return m.inner.Resolve(ctx, ref, platform)
	})
}

// Exists implements registry.Resolver.
func (m *Memo) Exists(ctx context.Context, ref imageref.Ref, digest string) error {
	_, err := m.ask(ctx, memoKey{exists: true, name: ref.Name + "@" + digest}, func(ctx context.Context) (string, error) {
		return "", m.inner.Exists(ctx, ref, digest)
	})
	return err
}

// ask answers k from a call made or in flight, or makes it. An answer cut
// short by its asker's context (a run given up) is not kept: the next
// caller asks again under its own.
func (m *Memo) ask(ctx context.Context, k memoKey, call func(context.Context) (string, error)) (string, error) {
	for {
		m.mu.Lock()
		c, ok := m.calls[k]
		if !ok {
			c = &memoCall{done: make(chan struct{})}
			m.calls[k] = c
		}
		m.mu.Unlock()
		if !ok {
			return m.make(ctx, k, c, call)
		}
		select {
		case <-c.done:
		case <-ctx.Done():
			return "", ctx.Err()
		}
		if !c.givenUp {
			return c.digest, c.err
		}
	}
}

func (m *Memo) make(ctx context.Context, k memoKey, c *memoCall, call func(context.Context) (string, error)) (string, error) {
	defer close(c.done)
	select {
	case m.slots <- struct{}{}:
		c.digest, c.err = call(ctx)
		<-m.slots
	case <-ctx.Done():
		c.err = ctx.Err()
	}
	if ctx.Err() != nil {
		c.givenUp = true
		m.mu.Lock()
		delete(m.calls, k)
		m.mu.Unlock()
	}
	return c.digest, c.err
}

var _ registry.SignatureSource = (*Memo)(nil)

// Signatures implements registry.SignatureSource with the inner resolver's
// (only the deciding engine asks for signatures: nothing to share), within
// the same bound of questions in flight.
func (m *Memo) Signatures(ctx context.Context, ref imageref.Ref, digest string) ([]signature.Candidate, error) {
	src, ok := m.inner.(registry.SignatureSource)
	if !ok {
		return nil, registry.NewError(registry.Failed, ref.Original, "this resolver cannot fetch signatures")
	}
	select {
	case m.slots <- struct{}{}:
		defer func() { <-m.slots }()
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return src.Signatures(ctx, ref, digest)
}
