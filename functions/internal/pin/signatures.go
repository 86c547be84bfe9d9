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
	"strings"
	"sync"

	"github.com/cloud37/ansible-playbook-operator/functions/internal/imageref"
	"github.com/cloud37/ansible-playbook-operator/functions/internal/lock"
	"github.com/cloud37/ansible-playbook-operator/functions/internal/registry"
	"github.com/cloud37/ansible-playbook-operator/functions/internal/signature"
)

// The signature step runs after every digest is decided and before the
// lock is updated: each digest the run writes or keeps, under a prefix of
// the signature policy, must be signed by one of that prefix's keys, in a
// payload naming exactly that digest (the index digest when an index is
// pinned, the child's when a platform is). The lock records the key that
// verified an entry, so resolve and locked runs verify lock hits offline;
// verify and refresh runs always ask the registry. Without a policy the
// step does nothing and makes no request.

// SignatureUnverified is the class of a digest no trusted key signed.
const SignatureUnverified registry.Code = "signature not verified"

// SignaturePolicy is policy.signatures, validated.
type SignaturePolicy struct {
	Rules []SignatureRule
}

// SignatureRule trusts keys for the images under its prefixes.
type SignatureRule struct {
	// Field names the rule in messages ("policy.signatures[0]").
	Field    string
	Prefixes []imageref.Prefix
	Keys     []signature.Key
	// Required makes an unverified digest an error; otherwise a warning
	// and the digest is pinned.
	Required bool
}

// Rule returns the rule for a normalized name: the one with the longest
// matching prefix (nil: no rule covers it, nothing is checked).
func (p *SignaturePolicy) Rule(normalizedName string) *SignatureRule {
	if p == nil {
		return nil
	}
	var best *SignatureRule
	bestLen := -1
	for i := range p.Rules {
		for _, px := range p.Rules[i].Prefixes {
			if px.Matches(normalizedName) && len(px) > bestLen {
				best, bestLen = &p.Rules[i], len(px)
			}
		}
	}
	return best
}

// trusts reports whether the rule holds the key a lock entry names.
func (r *SignatureRule) trusts(name, fingerprint string) bool {
	for _, k := range r.Keys {
		if k.Name == name && k.Fingerprint == fingerprint {
			return true
		}
	}
	return false
}

// keyList names the rule's keys for messages: name and short fingerprint.
func (r *SignatureRule) keyList() string {
	names := make([]string, len(r.Keys))
	for i, k := range r.Keys {
		names[i] = k.Name + " (" + shortFingerprint(k.Fingerprint) + ")"
	}
	return strings.Join(names, ", ")
}

func shortFingerprint(fp string) string {
	if len(fp) > len("sha256:")+12 {
		return fp[:len("sha256:")+12]
	}
	return fp
}

// SignatureCheck is what the signature step found for an outcome's digest.
type SignatureCheck struct {
	Rule   *SignatureRule
	Digest string
	// Key and Fingerprint name the key that verified ("" when none did).
	Key, Fingerprint string
	// Layout is where the verifying signature was found ("" from the lock).
	Layout string
	// FromLock is set when the lock's record answered, without a lookup.
	FromLock bool
	// Err says why the digest is not verified (nil when it is).
	Err *registry.Error
}

// Verified reports whether a trusted key signed the digest.
func (c *SignatureCheck) Verified() bool { return c.Err == nil && c.Key != "" }

// Summary says in a few words how the digest was verified, for results.
func (c *SignatureCheck) Summary() string {
	if c.FromLock {
		return fmt.Sprintf("signed by %s (%s), as the lock records", c.Key, shortFingerprint(c.Fingerprint))
	}
	return fmt.Sprintf("signed by %s (%s) in the %s", c.Key, shortFingerprint(c.Fingerprint), c.Layout)
}

// checkSignatures is the signature step: it sets Signature on every
// outcome that has a digest under a rule, and fails the outcomes a
// required rule refuses.
func (e *Engine) checkSignatures(ctx context.Context, distinct []Request, out map[string]*Outcome, lk *lock.Lock, stats *Stats) {
	if e.Signatures == nil || len(e.Signatures.Rules) == 0 {
		return
	}
	records := lockRecords(lk)
	q := &signatureLookups{source: e.SignatureSource, concurrency: e.Concurrency, answers: map[string]signatureAnswer{}}
	var online []*Outcome
	for _, r := range distinct {
		o := out[r.ID()]
		rule := e.Signatures.Rule(r.Ref.Name)
		if rule == nil || o.Digest == "" || o.Status == Failed {
			continue
		}
		o.Signature = &SignatureCheck{Rule: rule, Digest: o.Digest}
		if e.offline(o) {
			if e.fromLock(o, records) {
				stats.SignaturesFromLock++
				continue
			}
			if e.Mode == Locked {
				continue // fromLock said why
			}
		}
		q.add(r.Ref, o.Digest)
		online = append(online, o)
	}
	q.run(ctx)
	stats.SignatureLookups = len(q.answers)
	for _, o := range online {
		a := q.answers[signatureKey(o.Request.Ref, o.Digest)]
		if a.err != nil {
			// The lookup's class and hint (network required, unauthorized)
			// say what to do; the detail says it was the signatures.
			err := *withRef(a.err, o.Request.Ref)
			image := o.Request.Ref.WithDigest(o.Digest, false)
			err.Detail = fmt.Sprintf("failed to fetch the signatures of %s (%s): %s", image, o.Signature.Rule.Field, err.Detail)
			if err.Code == registry.NetworkRequired {
				err.Detail = fmt.Sprintf("the signatures of %s (%s) are fetched from the registry, or read from the lock's verifiedBy", image, o.Signature.Rule.Field)
			}
			o.Signature.Err = &err
			continue
		}
		v := signature.Verify(a.candidates, o.Signature.Rule.Keys, o.Digest)
		if !v.Verified() {
			o.Signature.Err = notVerified(o, foundText(v))
			continue
		}
		o.Signature.Key, o.Signature.Layout = v.Key, v.Layout
		for _, k := range o.Signature.Rule.Keys {
			if k.Name == v.Key {
				o.Signature.Fingerprint = k.Fingerprint
			}
		}
	}
	for _, r := range distinct {
		o := out[r.ID()]
		if c := o.Signature; c != nil && c.Err != nil && c.Rule.Required {
			o.Status, o.Err = Failed, c.Err
		}
	}
}

// offline reports whether the lock's record may answer for the outcome:
// in locked mode always (there is no other way), in resolve mode for
// digests the lock or the manifests decided. Verify and refresh ask the
// registry for everything, so they check signatures there too.
func (e *Engine) offline(o *Outcome) bool {
	return e.Mode == Locked || (e.Mode == Resolve && o.Source != FromRegistry)
}

// fromLock answers from the lock's record of the digest: verified when
// the recorded key is still trusted. In locked mode a missing or revoked
// record is the answer; elsewhere it sends the digest to the registry.
func (e *Engine) fromLock(o *Outcome, records map[recordKey]lock.Entry) bool {
	c := o.Signature
	rec, ok := findRecord(records, o.Request, o.Digest)
	switch {
	case ok && rec.VerifiedBy != "" && c.Rule.trusts(rec.VerifiedBy, rec.KeyFingerprint):
		c.Key, c.Fingerprint, c.FromLock = rec.VerifiedBy, rec.KeyFingerprint, true
		return true
	case e.Mode != Locked:
		return false
	case ok && rec.VerifiedBy != "":
		c.Err = notVerified(o, fmt.Sprintf("the lock records it verified by key %s (%s), which %s no longer trusts (revoked or replaced)",
			rec.VerifiedBy, shortFingerprint(rec.KeyFingerprint), c.Rule.Field))
	case ok:
		c.Err = notVerified(o, fmt.Sprintf("the lock entry has no verifiedBy: it was resolved before %s covered it", c.Rule.Field))
	default:
		c.Err = notVerified(o, "the lock has no entry with this digest, and locked mode makes no lookups")
	}
	c.Err.Hint = "re-resolve with network (mode resolve or refresh, or pin-images lock) so that the current keys verify the digest and the lock records which one, then commit the lock"
	return false
}

// recordKey finds lock entries by repository, digest and platform: a pin
// written with another tag (or none) is verified by the same record.
type recordKey struct {
	name, digest, platform string
}

func lockRecords(lk *lock.Lock) map[recordKey]lock.Entry {
	out := map[recordKey]lock.Entry{}
	for _, e := range lk.Entries() {
		ref, err := imageref.Parse(e.Image)
		if err != nil {
			continue
		}
		k := recordKey{name: ref.Name, digest: e.Digest, platform: e.Platform}
		if prev, ok := out[k]; !ok || prev.VerifiedBy == "" {
			out[k] = e
		}
	}
	return out
}

// findRecord is an entry of the request's repository with that digest and
// platform (one that records a key, when several do), whatever its tag.
func findRecord(records map[recordKey]lock.Entry, r Request, digest string) (lock.Entry, bool) {
	e, ok := records[recordKey{name: r.Ref.Name, digest: digest, platform: r.Platform}]
	return e, ok
}

// recordSignatures writes the verifying key into the lock entries of
// verified digests (resolve and refresh).
func (e *Engine) recordSignatures(distinct []Request, out map[string]*Outcome, lk *lock.Lock, stats *Stats) {
	if e.Signatures == nil || (e.Mode != Resolve && e.Mode != Refresh) {
		return
	}
	for _, r := range distinct {
		o := out[r.ID()]
		if c := o.Signature; c != nil && c.Verified() && o.Err == nil && lk.SetVerified(r.lockKey(), c.Digest, c.Key, c.Fingerprint) {
			stats.LockAdded++
		}
	}
}

// notVerified is the error of an outcome whose digest is not verified:
// it names the image, the keys tried and what was found.
func notVerified(o *Outcome, found string) *registry.Error {
	c := o.Signature
	hint := "sign the digest with a trusted key (cosign sign --key KEY IMAGE@DIGEST), or pin a digest that is signed"
	if o.Request.Platform != "" {
		hint = "the pin is the " + o.Request.Platform + " child's digest: sign the index with cosign sign --recursive, so each child is signed"
	}
	return &registry.Error{Code: SignatureUnverified, Ref: o.Request.Ref.Original, Hint: hint,
		Detail: fmt.Sprintf("%s: no signature by a key %s trusts (tried %s): %s",
			o.Request.Ref.WithDigest(c.Digest, false), c.Rule.Field, c.Rule.keyList(), found)}
}

// foundText says what the registry holds for a digest no trusted key signed.
func foundText(v signature.Verdict) string {
	if v.Found == 0 {
		return "the registry has no signature for it (looked in the " + signature.LayoutTag + " and the " + signature.LayoutReferrers + ")"
	}
	s := fmt.Sprintf("the registry has %d signatures for it", v.Found)
	if v.Found == 1 {
		s = "the registry has 1 signature for it"
	}
	if len(v.Problems) > 0 {
		s += ": " + strings.Join(v.Problems, "; ")
	}
	return s
}

// signatureLookups fetches signatures once per repository and digest, with
// the engine's bound on lookups in flight, under the run's deadline.
type signatureLookups struct {
	source      registry.SignatureSource
	concurrency int
	mu          sync.Mutex
	pending     []imageref.Ref
	digests     []string
	answers     map[string]signatureAnswer
}

type signatureAnswer struct {
	candidates []signature.Candidate
	err        *registry.Error
}

func signatureKey(ref imageref.Ref, digest string) string { return ref.Name + "@" + digest }

func (q *signatureLookups) add(ref imageref.Ref, digest string) {
	k := signatureKey(ref, digest)
	if _, ok := q.answers[k]; ok {
		return
	}
	q.answers[k] = signatureAnswer{}
	q.pending = append(q.pending, ref)
	q.digests = append(q.digests, digest)
}

func (q *signatureLookups) run(ctx context.Context) {
	if len(q.pending) == 0 {
		return
	}
	workers := q.concurrency
	if workers <= 0 {
		workers = DefaultConcurrency
	}
	ch := make(chan int)
	var wg sync.WaitGroup
	for range min(workers, len(q.pending)) {
		wg.Go(func() {
			for i := range ch {
				q.answer(ctx, q.pending[i], q.digests[i])
			}
		})
	}
	for i := range q.pending {
		ch <- i
	}
	close(ch)
	wg.Wait()
}

func (q *signatureLookups) answer(ctx context.Context, ref imageref.Ref, digest string) {
	var a signatureAnswer
	if q.source == nil {
		a.err = registry.NewError(registry.Failed, ref.Original, "this run has no registry to fetch signatures from")
	} else if cands, err := q.source.Signatures(ctx, ref, digest); err != nil {
		a.err = registry.Classify(ref.Original, err, nil)
	} else {
		a.candidates = cands
	}
	q.mu.Lock()
	q.answers[signatureKey(ref, digest)] = a
	q.mu.Unlock()
}
