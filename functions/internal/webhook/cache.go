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
	"container/list"
	"context"
	"sync"
	"time"

	"github.com/cloud37/ansible-playbook-operator/functions/internal/imageref"
	"github.com/cloud37/ansible-playbook-operator/functions/internal/registry"
)

// Cache remembers what registries answered, so that admissions fit in the
// API server's timeout: resolved digests and existing pins, for TTL, at
// most Size entries (least recently used first out). Entries are kept per
// credential set: a namespace without access to a private image never
// learns its digest from another namespace's lookup.
type Cache struct {
	TTL  time.Duration
	Size int
	Now  func() time.Time

	mu      sync.Mutex
	entries map[string]*list.Element
	order   *list.List // front: most recently used
}

type cacheEntry struct {
	key     string
	digest  string
	expires time.Time
}

// NewCache is a cache of at most size entries kept for ttl.
func NewCache(ttl time.Duration, size int) *Cache {
	return &Cache{TTL: ttl, Size: size, Now: time.Now, entries: map[string]*list.Element{}, order: list.New()}
}

func (c *Cache) get(key string) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.entries[key]
	if !ok {
		return "", false
	}
	e := el.Value.(*cacheEntry)
	if c.Now().After(e.expires) {
		c.order.Remove(el)
		delete(c.entries, key)
		return "", false
	}
	c.order.MoveToFront(el)
	return e.digest, true
}

func (c *Cache) put(key, digest string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.entries[key]; ok {
		e := el.Value.(*cacheEntry)
		e.digest, e.expires = digest, c.Now().Add(c.TTL)
		c.order.MoveToFront(el)
		return
	}
	c.entries[key] = c.order.PushFront(&cacheEntry{key: key, digest: digest, expires: c.Now().Add(c.TTL)})
	for c.order.Len() > c.Size {
		old := c.order.Back()
		c.order.Remove(old)
		delete(c.entries, old.Value.(*cacheEntry).key)
	}
}

// Len is the number of entries.
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}

// cached is a Resolver that asks the cache first. Failures are not cached:
// the next admission asks again.
type cached struct {
	inner   registry.Resolver
	id      string // the credential set
	cache   *Cache
	metrics *Metrics
}

var _ registry.Resolver = (*cached)(nil)

func (r *cached) Resolve(ctx context.Context, ref imageref.Ref, platform string) (string, error) {
	key := r.id + "|resolve|" + ref.Key() + "|" + platform
	if d, ok := r.cache.get(key); ok {
		r.metrics.lookup("hit")
		return d, nil
	}
	r.metrics.lookup("miss")
	d, err := r.inner.Resolve(ctx, ref, platform)
	if err == nil {
		r.cache.put(key, d)
	}
	return d, err
}

func (r *cached) Exists(ctx context.Context, ref imageref.Ref, digest string) error {
	key := r.id + "|exists|" + ref.Name + "@" + digest
	if _, ok := r.cache.get(key); ok {
		r.metrics.lookup("hit")
		return nil
	}
	r.metrics.lookup("miss")
	err := r.inner.Exists(ctx, ref, digest)
	if err == nil {
		r.cache.put(key, digest)
	}
	return err
}
