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
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloud37/ansible-playbook-operator/functions/internal/imageref"
	"github.com/cloud37/ansible-playbook-operator/functions/internal/lock"
	"github.com/cloud37/ansible-playbook-operator/functions/internal/registry"
	"github.com/cloud37/ansible-playbook-operator/functions/internal/signature"
)

// The signature step with signatures built in cosign's simple-signing
// format by Go's crypto; the registry and function tests check the same
// on signatures the real cosign CLI wrote.

type testKey struct {
	priv *ecdsa.PrivateKey
	key  signature.Key
}

func newTestKey(t *testing.T, name string) testKey {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	k, err := signature.ParseKey(name, string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})))
	if err != nil {
		t.Fatal(err)
	}
	return testKey{priv: priv, key: k}
}

// signs is a cosign classic signature by k of a payload naming digest.
func (k testKey) signs(t *testing.T, digest string) signature.Candidate {
	t.Helper()
	payload, _ := json.Marshal(map[string]any{"critical": map[string]any{
		"identity": map[string]string{"docker-reference": "r.example/app"},
		"image":    map[string]string{"docker-manifest-digest": digest}, "type": "cosign container image signature"}})
	sum := sha256.Sum256(payload)
	sig, err := ecdsa.SignASN1(rand.Reader, k.priv, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	return signature.FromSimpleSigning(payload, base64.StdEncoding.EncodeToString(sig))
}

// fakeSignatures serves candidates by "name@digest" and counts lookups.
type fakeSignatures struct {
	mu    sync.Mutex
	sigs  map[string][]signature.Candidate
	calls int
}

func (f *fakeSignatures) Signatures(_ context.Context, ref imageref.Ref, digest string) ([]signature.Candidate, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	return f.sigs[ref.Name+"@"+digest], nil
}

func policyOf(required bool, keys ...testKey) *SignaturePolicy {
	p := SignatureRule{Field: "policy.signatures[0]", Prefixes: []imageref.Prefix{"docker.io/library/nginx"}, Required: required}
	for _, k := range keys {
		p.Keys = append(p.Keys, k.key)
	}
	return &SignaturePolicy{Rules: []SignatureRule{p}}
}

func TestEngine_signatures(t *testing.T) {
	trusted, other := newTestKey(t, "release"), newTestKey(t, "other")
	const nginx = "docker.io/library/nginx"
	key := lock.Key{Image: nginx + ":1.25"}
	cases := map[string]struct {
		mode     Mode
		ref      string
		platform string
		sigs     map[string][]signature.Candidate
		// lock is the entry before the run (digest, verifiedBy key; "" none).
		lockDigest, lockKey string
		required            bool // the rule's required (default false here: set per case)
		status              Status
		errHas              string // in the outcome's or the check's error
		verifiedBy          string // the check's key ("" none)
		lookups             int    // signature lookups
		lockAfter           string // the entry's verifiedBy after the run
	}{
		"a digest signed by the trusted key is pinned and recorded": {
			mode: Resolve, ref: "nginx:1.25", required: true,
			sigs:   map[string][]signature.Candidate{nginx + "@" + digest("a"): {trusted.signs(t, digest("a"))}},
			status: Pinned, verifiedBy: "release", lookups: 1, lockAfter: "release",
		},
		"an unsigned digest fails and is never pinned": {
			mode: Resolve, ref: "nginx:1.25", required: true,
			status: Failed, errHas: "no signature for it", lookups: 1,
		},
		"a digest signed by another key fails": {
			mode: Resolve, ref: "nginx:1.25", required: true,
			sigs:   map[string][]signature.Candidate{nginx + "@" + digest("a"): {other.signs(t, digest("a"))}},
			status: Failed, errHas: "none of the trusted keys", lookups: 1,
		},
		"a trusted signature naming another digest fails": {
			mode: Resolve, ref: "nginx:1.25", required: true,
			sigs:   map[string][]signature.Candidate{nginx + "@" + digest("a"): {trusted.signs(t, digest("e"))}},
			status: Failed, errHas: "not " + digest("a"), lookups: 1,
		},
		"required false pins an unsigned digest (the verdict warns)": {
			mode: Resolve, ref: "nginx:1.25",
			status: Pinned, errHas: "no signature for it", lookups: 1,
		},
		"platform checks the child's digest": {
			mode: Resolve, ref: "nginx:1.25", platform: "linux/arm64", required: true,
			sigs:   map[string][]signature.Candidate{nginx + "@" + digest("a"): {trusted.signs(t, digest("a"))}},
			status: Failed, errHas: "cosign sign --recursive", lookups: 1,
		},
		"resolve takes a lock hit's verifiedBy without a lookup": {
			mode: Resolve, ref: "nginx:1.25", required: true, lockDigest: digest("9"), lockKey: "release",
			status: Pinned, verifiedBy: "release", lockAfter: "release",
		},
		"resolve re-verifies a lock hit without verifiedBy and records it": {
			mode: Resolve, ref: "nginx:1.25", required: true, lockDigest: digest("9"),
			sigs:   map[string][]signature.Candidate{nginx + "@" + digest("9"): {trusted.signs(t, digest("9"))}},
			status: Pinned, verifiedBy: "release", lookups: 1, lockAfter: "release",
		},
		"resolve verifies an existing pin from the lock's record of its digest": {
			mode: Resolve, ref: "nginx:1.25@" + digest("9"), required: true, lockDigest: digest("9"), lockKey: "release",
			status: Kept, verifiedBy: "release", lockAfter: "release",
		},
		"locked verifies from the lock, offline": {
			mode: Locked, ref: "nginx:1.25", required: true, lockDigest: digest("9"), lockKey: "release",
			status: Pinned, verifiedBy: "release", lockAfter: "release",
		},
		"locked fails for an entry whose key was revoked": {
			mode: Locked, ref: "nginx:1.25", required: true, lockDigest: digest("9"), lockKey: "retired",
			status: Failed, errHas: "no longer trusts (revoked or replaced)", lockAfter: "retired",
		},
		"locked fails for an entry without verifiedBy under a required rule": {
			mode: Locked, ref: "nginx:1.25", required: true, lockDigest: digest("9"),
			status: Failed, errHas: "re-resolve",
		},
		"locked warns for an entry without verifiedBy under required false": {
			mode: Locked, ref: "nginx:1.25", lockDigest: digest("9"),
			status: Pinned, errHas: "re-resolve",
		},
		"refresh of a tag moved to an unsigned image fails and keeps the old entry": {
			mode: Refresh, ref: "nginx:1.25@" + digest("e"), required: true, lockDigest: digest("e"), lockKey: "release",
			status: Failed, errHas: "no signature for it", lookups: 1, lockAfter: "release",
		},
		"verify reports the signature of an existing pin, from the registry": {
			mode: Verify, ref: "nginx:1.25@" + digest("a"), required: true, lockDigest: digest("a"), lockKey: "release",
			sigs:   map[string][]signature.Candidate{nginx + "@" + digest("a"): {trusted.signs(t, digest("a"))}},
			status: Kept, verifiedBy: "release", lookups: 1, lockAfter: "release",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			lk := lock.New()
			if tc.lockDigest != "" {
				lk.Set(key, tc.lockDigest, t0)
				if tc.lockKey != "" {
					fp := trusted.key.Fingerprint
					if tc.lockKey != "release" {
						fp = other.key.Fingerprint
					}
					lk.SetVerified(key, tc.lockDigest, tc.lockKey, fp)
				}
			}
			src := &fakeSignatures{sigs: tc.sigs}
			eng := &Engine{Resolver: newFake(), Mode: tc.mode, Lock: lk, Now: func() time.Time { return t0 },
				Signatures: policyOf(tc.required, trusted), SignatureSource: src}
			if tc.mode == Locked {
				eng.Resolver = nil
			}
			req := Request{Ref: mustRef(t, tc.ref), Platform: tc.platform}
			if tc.platform != "" {
				key = lock.Key{Image: nginx + ":1.25", Platform: tc.platform}
				defer func() { key = lock.Key{Image: nginx + ":1.25"} }()
			}
			out, newLock, stats, err := eng.Run(context.Background(), []Request{req})
			if err != nil {
				t.Fatal(err)
			}
			o := out[req.ID()]
			if o.Status != tc.status {
				t.Errorf("status %s (%v), want %s", o.Status, o.Err, tc.status)
			}
			var msg string
			if o.Err != nil {
				msg = o.Err.Error() + " — " + o.Err.Hint
			} else if o.Signature != nil && o.Signature.Err != nil {
				msg = o.Signature.Err.Error() + " — " + o.Signature.Err.Hint
			}
			if tc.errHas == "" && msg != "" || !strings.Contains(msg, tc.errHas) {
				t.Errorf("error %q, want one saying %q", msg, tc.errHas)
			}
			if tc.errHas != "" && !strings.Contains(msg, "release (sha256:") {
				t.Errorf("error %q does not name the keys tried", msg)
			}
			if got := ""; o.Signature != nil && (o.Signature.Verified() || tc.verifiedBy != "") {
				got = o.Signature.Key
				if got != tc.verifiedBy {
					t.Errorf("verified by %q, want %q", got, tc.verifiedBy)
				}
			}
			if src.calls != tc.lookups || stats.SignatureLookups != tc.lookups {
				t.Errorf("%d signature lookups (stats %d), want %d", src.calls, stats.SignatureLookups, tc.lookups)
			}
			e, _ := newLock.Get(key)
			if e.VerifiedBy != tc.lockAfter {
				t.Errorf("lock entry %+v, want verifiedBy %q", e, tc.lockAfter)
			}
			if tc.status == Failed && tc.mode == Refresh && e.Digest != tc.lockDigest {
				t.Errorf("lock entry %+v: the old pin %s must stay", e, tc.lockDigest)
			}
		})
	}
}

// TestEngine_signaturesOff: without a policy the engine asks for no
// signature, and with one it asks once per repository and digest.
func TestEngine_signaturesOff(t *testing.T) {
	src := &fakeSignatures{}
	reqs := []Request{{Ref: mustRef(t, "nginx:1.25")}, {Ref: mustRef(t, "docker.io/nginx:1.25")}, {Ref: mustRef(t, "registry:5000/team/app:2")}}
	eng := &Engine{Resolver: newFake(), Mode: Resolve, SignatureSource: src}
	if _, _, st, err := eng.Run(context.Background(), reqs); err != nil || src.calls != 0 || st.SignatureLookups != 0 {
		t.Fatalf("no policy: %d signature lookups, err %v", src.calls, err)
	}
	trusted := newTestKey(t, "release")
	eng.Signatures = policyOf(true, trusted)
	out, _, _, err := eng.Run(context.Background(), reqs)
	if err != nil {
		t.Fatal(err)
	}
	if src.calls != 1 {
		t.Errorf("%d signature lookups for one digest of nginx, want 1", src.calls)
	}
	if o := out[reqs[2].ID()]; o.Signature != nil || o.Status != Pinned {
		t.Errorf("an image under no rule: %+v", o)
	}
}

func TestSignaturePolicy_longestPrefixWins(t *testing.T) {
	p := &SignaturePolicy{Rules: []SignatureRule{
		{Field: "a", Prefixes: []imageref.Prefix{"registry:5000"}},
		{Field: "b", Prefixes: []imageref.Prefix{"registry:5000/team/app"}},
	}}
	for name, want := range map[string]string{"registry:5000/team/app": "b", "registry:5000/team/other": "a", "registry:5000/team/apple": "a", "docker.io/library/nginx": ""} {
		got := ""
		if r := p.Rule(name); r != nil {
			got = r.Field
		}
		if got != want {
			t.Errorf("Rule(%s) = %q, want %q", name, got, want)
		}
	}
}

var _ registry.SignatureSource = (*fakeSignatures)(nil)
