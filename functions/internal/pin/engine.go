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

// Package pin decides, for every image reference of a run, which digest it is
// pinned to: from the lock, from the registry, or as already pinned, by mode
// (resolve, verify, refresh, locked). Each distinct lookup is made once, with
// bounded parallelism, under one deadline.
package pin

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/cloud37/ansible-playbook-operator/functions/internal/imageref"
	"github.com/cloud37/ansible-playbook-operator/functions/internal/lock"
	"github.com/cloud37/ansible-playbook-operator/functions/internal/registry"
)

// Mode selects what a run may change and ask.
type Mode string

const (
	// Resolve pins unpinned references (lock first, registry on a miss) and keeps existing pins.
	Resolve Mode = "resolve"
	// Verify changes nothing and reports: unpinned references, vanished pins, drift.
	Verify Mode = "verify"
	// Refresh re-resolves every tag, moves pins whose tag moved, and prunes unused lock entries.
	Refresh Mode = "refresh"
	// Locked uses only the lock: no network, and a miss is an error.
	Locked Mode = "locked"
)

// Modes lists the accepted modes, for messages.
var Modes = []Mode{Resolve, Verify, Refresh, Locked}

// ParseMode accepts a mode name; empty means Resolve.
func ParseMode(s string) (Mode, error) {
	if s == "" {
		return Resolve, nil
	}
	for _, m := range Modes {
		if string(m) == s {
			return m, nil
		}
	}
	return "", fmt.Errorf("unknown mode %q: accepted values are resolve, verify, refresh, locked", s)
}

// DefaultConcurrency and DefaultTimeout are the documented defaults.
const (
	DefaultConcurrency = 8
	DefaultTimeout     = 2 * time.Minute
)

// Request is one reference to pin, with the platform to pin it for ("" = index).
type Request struct {
	Ref      imageref.Ref
	Platform string
}

// ID identifies the request for de-duplication: same normalized reference,
// same written digest, same platform.
func (r Request) ID() string {
	return r.Ref.Key() + "@" + r.Ref.Digest + "|" + r.Platform
}

func (r Request) lockKey() lock.Key {
	return lock.Key{Image: r.Ref.Key(), Platform: r.Platform}
}

// Status is what happened to a reference.
type Status string

const (
	// Pinned: an unpinned reference got a digest.
	Pinned Status = "pinned"
	// Kept: an existing pin stays as it is (and, where checked, still matches).
	Kept Status = "kept"
	// Updated: refresh moved a pin to the tag's new digest.
	Updated Status = "updated"
	// Unpinned: verify found a reference without digest (Digest is the proposal).
	Unpinned Status = "unpinned"
	// Drifted: the tag now points elsewhere than the pin (Current has the registry's digest).
	Drifted Status = "drifted"
	// Failed: see Err.
	Failed Status = "failed"
)

// Source says where a digest came from.
type Source string

// Sources of digests.
const (
	FromLock     Source = "lock"
	FromRegistry Source = "registry"
	FromPin      Source = "pin"
)

// Outcome is the decision for one request.
type Outcome struct {
	Request Request
	Status  Status
	// Digest is the digest to write (the proposal in Verify mode).
	Digest string
	Source Source
	// Current is the registry's digest for the tag when it differs from the pin.
	Current string
	// Err is set when Status is Failed or Drifted.
	Err *registry.Error
	// Signature is the signature check of Digest (nil: no signature
	// policy covers the image).
	Signature *SignatureCheck
}

// Engine runs a mode over a set of requests.
type Engine struct {
	Resolver registry.Resolver
	Mode     Mode
	// Lock is read in Resolve and Locked modes and updated in Resolve and
	// Refresh modes; nil means an empty lock.
	Lock *lock.Lock
	// Concurrency bounds lookups in flight (default 8).
	Concurrency int
	// Timeout bounds the whole run (default 2 minutes).
	Timeout time.Duration
	// Now stamps new lock entries.
	Now func() time.Time
	// Signatures is the signature policy (nil: signatures are not
	// checked); SignatureSource fetches them (signatures.go).
	Signatures      *SignaturePolicy
	SignatureSource registry.SignatureSource
}

// Stats count the work of a run.
type Stats struct {
	Requests  int // distinct requests
	LockHits  int
	Lookups   int // registry lookups made (after de-duplication)
	LockAdded int // lock entries added or changed
	Pruned    []lock.Key
	// SignatureLookups are the digests whose signatures were fetched;
	// SignaturesFromLock those the lock's verifiedBy answered for.
	SignatureLookups, SignaturesFromLock int
}

// Run decides every request and returns outcomes by Request.ID, the lock to
// write (Resolve and Refresh may change it) and counts.
func (e *Engine) Run(ctx context.Context, reqs []Request) (map[string]*Outcome, *lock.Lock, Stats, error) {
	s, err := e.Start(ctx)
	if err != nil {
		return nil, nil, Stats{}, err
	}
	for _, r := range reqs {
		s.Add(r)
	}
	return s.Finish()
}

// Session is a run whose requests arrive one at a time, while the caller is
// still reading its input: a lookup starts as soon as its request is added,
// so the registry's round trips overlap the reading. Add and Finish are
// called from one goroutine.
type Session struct {
	e *Engine
	// ctx is the run's (under its deadline): the signature lookups of
	// Finish use it too.
	ctx      context.Context
	cancel   context.CancelFunc
	lk       *lock.Lock
	now      func() time.Time
	distinct []Request
	out      map[string]*Outcome
	stats    Stats
	lookups  *lookups
}

// Start begins a run under the engine's deadline; Finish ends it.
func (e *Engine) Start(ctx context.Context) (*Session, error) {
	if _, err := ParseMode(string(e.Mode)); err != nil {
		return nil, err
	}
	if e.Mode != Locked && e.Resolver == nil {
		return nil, fmt.Errorf("mode %s needs a registry resolver", e.Mode)
	}
	timeout := e.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	s := &Session{e: e, ctx: ctx, cancel: cancel, lk: e.Lock, now: e.Now, out: map[string]*Outcome{}}
	if s.now == nil {
		s.now = time.Now
	}
	if s.lk == nil {
		s.lk = lock.New()
	}
	s.lookups = newLookups(ctx, e.Resolver, e.Concurrency)
	return s, nil
}

// Add decides r if the lock or its pin can, and otherwise starts its lookup.
// A request seen before (same ID) is not asked twice.
func (s *Session) Add(r Request) {
	if _, ok := s.out[r.ID()]; ok {
		return
	}
	o := &Outcome{Request: r}
	s.out[r.ID()] = o
	s.distinct = append(s.distinct, r)
	s.e.plan(o, s.lk, s.lookups, &s.stats)
}

// Wait returns when every lookup added so far is answered.
func (s *Session) Wait() { s.lookups.wait() }

// Stop ends a session that is not finished: lookups in flight are
// cancelled, and the workers stop.
func (s *Session) Stop() {
	s.cancel()
	s.lookups.close()
}

// Finish waits for the lookups and returns outcomes by Request.ID, the lock
// to write (Resolve and Refresh may change it) and counts.
func (s *Session) Finish() (map[string]*Outcome, *lock.Lock, Stats, error) {
	defer s.cancel()
	defer s.lookups.close()
	e, lk, out, distinct, lookups := s.e, s.lk, s.out, s.distinct, s.lookups
	stats := s.stats
	stats.Requests = len(distinct)
	lookups.wait()

	// Read the answers; a pin that no longer matches its tag gets one more
	// lookup to tell drift (digest still there) from a vanished pin.
	var drifted []*Outcome
	for _, r := range distinct {
		o := out[r.ID()]
		if e.settle(o, lookups) {
			drifted = append(drifted, o)
		}
	}
	if len(drifted) > 0 {
		for _, o := range drifted {
			lookups.exists(o.Request.Ref, o.Request.Ref.Digest)
		}
		lookups.wait()
		for _, o := range drifted {
			e.settleDrift(o, lookups)
		}
	}
	stats.Lookups = lookups.count()
	e.checkSignatures(s.ctx, distinct, out, lk, &stats)

	// Lock maintenance: record what the registry said.
	if e.Mode == Resolve || e.Mode == Refresh {
		used := map[lock.Key]bool{}
		for _, r := range distinct {
			if r.Ref.Pinned() && r.Ref.Tag == "" {
				continue // a bare digest has no tag to lock
			}
			used[r.lockKey()] = true
			if o := out[r.ID()]; o.Source == FromRegistry && o.Err == nil && lk.Set(r.lockKey(), o.Digest, s.now()) {
				stats.LockAdded++
			}
		}
		if e.Mode == Refresh {
			stats.Pruned = lk.Prune(used)
		}
	}
	e.recordSignatures(distinct, out, lk, &stats)
	return out, lk, stats, nil
}

// plan settles what the lock or the pin decides and queues registry lookups.
func (e *Engine) plan(o *Outcome, lk *lock.Lock, q *lookups, stats *Stats) {
	r := o.Request
	pinned := r.Ref.Pinned()
	switch {
	case pinned && (e.Mode == Resolve || e.Mode == Locked):
		o.Status, o.Digest, o.Source = Kept, r.Ref.Digest, FromPin
	case pinned && r.Ref.Tag == "":
		// A digest without a tag cannot drift; check that it still exists.
		q.exists(r.Ref, r.Ref.Digest)
	case pinned:
		q.resolve(r.Ref, r.Platform)
	case e.Mode == Resolve || e.Mode == Locked:
		if entry, ok := lk.Get(r.lockKey()); ok {
			o.Status, o.Digest, o.Source = Pinned, entry.Digest, FromLock
			stats.LockHits++
			return
		}
		if e.Mode == Locked {
			o.Status = Failed
			o.Err = registry.NewError(registry.NotLocked, r.Ref.Original, "locked mode makes no registry lookups")
			return
		}
		q.resolve(r.Ref, r.Platform)
	default: // Verify or Refresh of an unpinned reference
		q.resolve(r.Ref, r.Platform)
	}
}

// settle reads phase-1 answers; it reports whether the pin needs a drift check.
func (e *Engine) settle(o *Outcome, q *lookups) bool {
	if o.Status != "" {
		return false
	}
	r := o.Request
	o.Source = FromRegistry
	if r.Ref.Pinned() && r.Ref.Tag == "" {
		if err := q.existsResult(r.Ref, r.Ref.Digest); err != nil {
			o.Status, o.Err = Failed, err
			return false
		}
		o.Status, o.Digest = Kept, r.Ref.Digest
		return false
	}
	digest, err := q.resolveResult(r.Ref, r.Platform)
	if err != nil {
		o.Status, o.Err = Failed, err
		return false
	}
	switch {
	case !r.Ref.Pinned() && e.Mode == Verify:
		o.Status, o.Digest = Unpinned, digest
	case !r.Ref.Pinned():
		o.Status, o.Digest = Pinned, digest
	case digest == r.Ref.Digest:
		o.Status, o.Digest = Kept, digest
	case e.Mode == Refresh:
		o.Status, o.Digest, o.Current = Updated, digest, digest
	default:
		o.Current = digest
		return true
	}
	return false
}

// settleDrift tells a moved tag (warning, or error with failOnDrift) from a pin
// whose digest is gone (always an error).
func (e *Engine) settleDrift(o *Outcome, q *lookups) {
	r := o.Request
	if err := q.existsResult(r.Ref, r.Ref.Digest); err != nil {
		o.Status = Failed
		o.Err = err
		if err.Code == registry.ManifestUnknown {
			o.Err = registry.Errorf(registry.ManifestUnknown, r.Ref.Original,
				"pinned digest %s no longer exists; the tag now points to %s", r.Ref.Digest, o.Current)
		}
		return
	}
	o.Status, o.Digest = Drifted, r.Ref.Digest
	o.Err = registry.Errorf(registry.DigestMismatch, r.Ref.Original,
		"the registry serves %s for tag %q, the pin says %s", o.Current, r.Ref.EffectiveTag(), r.Ref.Digest)
}

// lookups de-duplicates registry questions and answers them with bounded
// parallelism as they come. Workers take pending lookups round-robin over
// repositories: the first lookup of a repository pays its token and the
// others of that repository wait for it, so taking one repository at a
// time would make the workers queue behind each token; spreading them lets
// the tokens of different repositories overlap.
type lookups struct {
	ctx         context.Context
	resolver    registry.Resolver
	concurrency int
	mu          sync.Mutex
	cond        *sync.Cond             // signals new work, a finished lookup, or close
	queues      map[string][]lookupKey // pending, by repository
	repos       []string               // repositories with pending lookups, in turn order
	turn        int
	workers     int
	busy        int // lookups pending or in flight
	closed      bool
	results     map[lookupKey]result
	made        int
}

type lookupKey struct {
	exists   bool
	name     string // normalized name:tag, or name@digest
	platform string
}

type result struct {
	ref    imageref.Ref
	digest string
	err    *registry.Error
}

func newLookups(ctx context.Context, r registry.Resolver, concurrency int) *lookups {
	if concurrency <= 0 {
		concurrency = DefaultConcurrency
	}
	q := &lookups{ctx: ctx, resolver: r, concurrency: concurrency, queues: map[string][]lookupKey{}, results: map[lookupKey]result{}}
	q.cond = sync.NewCond(&q.mu)
	return q
}

// add queues a lookup not asked before; a worker starts it at once when
// fewer than concurrency are in flight.
func (q *lookups) add(k lookupKey, ref imageref.Ref) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if _, ok := q.results[k]; ok {
		return
	}
	q.results[k] = result{ref: ref}
	q.made++
	q.busy++
	if len(q.queues[ref.Name]) == 0 {
		q.repos = append(q.repos, ref.Name)
	}
	q.queues[ref.Name] = append(q.queues[ref.Name], k)
	if q.workers < q.concurrency && q.workers < q.busy {
		q.workers++
		go q.work()
	}
	q.cond.Broadcast()
}

func (q *lookups) resolve(ref imageref.Ref, platform string) {
	q.add(lookupKey{name: ref.Key(), platform: platform}, ref)
}

func (q *lookups) exists(ref imageref.Ref, digest string) {
	q.add(lookupKey{exists: true, name: ref.Name + "@" + digest}, ref)
}

func (q *lookups) resolveResult(ref imageref.Ref, platform string) (string, *registry.Error) {
	q.mu.Lock()
	res := q.results[lookupKey{name: ref.Key(), platform: platform}]
	q.mu.Unlock()
	return res.digest, withRef(res.err, ref)
}

func (q *lookups) existsResult(ref imageref.Ref, digest string) *registry.Error {
	q.mu.Lock()
	res := q.results[lookupKey{exists: true, name: ref.Name + "@" + digest}]
	q.mu.Unlock()
	return withRef(res.err, ref)
}

// withRef names the reference as this request wrote it (a shared lookup may
// have been queued under another spelling).
func withRef(err *registry.Error, ref imageref.Ref) *registry.Error {
	if err == nil || err.Ref == ref.Original {
		return err
	}
	c := *err
	c.Ref = ref.Original
	return &c
}

func (q *lookups) count() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.made
}

// wait returns when every lookup added so far is answered.
func (q *lookups) wait() {
	q.mu.Lock()
	defer q.mu.Unlock()
	for q.busy > 0 {
		q.cond.Wait()
	}
}

// close stops the workers once they are idle.
func (q *lookups) close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.closed = true
	q.cond.Broadcast()
}

// work answers pending lookups until the queue is closed.
func (q *lookups) work() {
	q.mu.Lock()
	defer q.mu.Unlock()
	for {
		k, ok := q.next()
		if !ok {
			if q.closed {
				return
			}
			q.cond.Wait()
			continue
		}
		q.mu.Unlock()
		q.answer(q.ctx, k)
		q.mu.Lock()
		q.busy--
		q.cond.Broadcast()
	}
}

// next takes the oldest pending lookup of the next repository in turn.
func (q *lookups) next() (lookupKey, bool) {
	if len(q.repos) == 0 {
		return lookupKey{}, false
	}
	q.turn %= len(q.repos)
	repo := q.repos[q.turn]
	pending := q.queues[repo]
	k := pending[0]
	if len(pending) == 1 {
		delete(q.queues, repo)
		q.repos = append(q.repos[:q.turn], q.repos[q.turn+1:]...)
	} else {
		q.queues[repo] = pending[1:]
		q.turn++
	}
	return k, true
}

func (q *lookups) answer(ctx context.Context, k lookupKey) {
	q.mu.Lock()
	res := q.results[k]
	q.mu.Unlock()
	var err error
	if k.exists {
		err = q.resolver.Exists(ctx, res.ref, res.ref.Digest)
	} else {
		res.digest, err = q.resolver.Resolve(ctx, res.ref, k.platform)
	}
	if err != nil {
		res.err = registry.Classify(res.ref.Original, err, nil)
	}
	q.mu.Lock()
	q.results[k] = res
	q.mu.Unlock()
}
