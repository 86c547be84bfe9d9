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
	"context"
	"fmt"
	"reflect"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/fn/framework"
	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/cloud37/ansible-playbook-operator/functions/internal/imageref"
	"github.com/cloud37/ansible-playbook-operator/functions/internal/lock"
	"github.com/cloud37/ansible-playbook-operator/functions/internal/pin"
	"github.com/cloud37/ansible-playbook-operator/functions/internal/registry"
	"github.com/cloud37/ansible-playbook-operator/functions/internal/signature"
)

// SignatureSpec is one entry of policy.signatures: the keys trusted for
// the images under its prefixes.
type SignatureSpec struct {
	// Prefixes are registry or repository prefixes, as skip.prefixes; an
	// image under several entries' prefixes follows the longest prefix.
	Prefixes []string `yaml:"prefixes"`
	// Keys are the trusted public keys, inline PEM.
	Keys []KeySpec `yaml:"keys"`
	// Required (default true) makes a digest no key signed an error and
	// never a pin; false makes it a warning, and the digest is pinned.
	Required *bool `yaml:"required,omitempty"`
}

// KeySpec is a trusted public key.
type KeySpec struct {
	// Name identifies the key in results and in the lock's verifiedBy.
	Name string `yaml:"name"`
	// PublicKey is the PEM public key (cosign.pub): ECDSA, Ed25519 or RSA.
	PublicKey string `yaml:"publicKey"`
}

// validateSignatures checks policy.signatures and builds the engine's
// policy (nil when there is none: no signature is looked up).
func validateSignatures(specs []SignatureSpec, prefix string) (*pin.SignaturePolicy, []string) {
	if len(specs) == 0 {
		return nil, nil
	}
	var errs []string
	bad := func(field, format string, args ...any) {
		errs = append(errs, prefix+field+": "+fmt.Sprintf(format, args...))
	}
	policy := &pin.SignaturePolicy{}
	seenPrefix := map[imageref.Prefix]string{}
	seenKey := map[string]signature.Key{}
	base := "policy.signatures"
	if prefix == "data." { // a ConfigMap's key
		base = "signatures"
	}
	for i, spec := range specs {
		field := fmt.Sprintf("%s[%d]", base, i)
		rule := pin.SignatureRule{Field: field, Required: spec.Required == nil || *spec.Required}
		if len(spec.Prefixes) == 0 {
			bad(field+".prefixes", "empty: list the registries or repositories whose images these keys sign, e.g. [registry.example.com/team]")
		}
		for j, p := range spec.Prefixes {
			pp, err := imageref.ParsePrefix(p)
			if err != nil {
				bad(fmt.Sprintf("%s.prefixes[%d]", field, j), "%v", err)
				continue
			}
			if other, dup := seenPrefix[pp]; dup {
				bad(fmt.Sprintf("%s.prefixes[%d]", field, j), "%q is also a prefix of %s: list each prefix once", p, other)
				continue
			}
			seenPrefix[pp] = field
			rule.Prefixes = append(rule.Prefixes, pp)
		}
		if len(spec.Keys) == 0 {
			bad(field+".keys", "empty: give at least one key {name, publicKey} (the PEM of cosign.pub)")
		}
		names := map[string]bool{}
		for j, ks := range spec.Keys {
			kf := fmt.Sprintf("%s.keys[%d]", field, j)
			if ks.Name == "" {
				bad(kf+".name", "empty: name the key (the lock records it as verifiedBy)")
				continue
			}
			if names[ks.Name] {
				bad(kf+".name", "%q is listed twice in this entry", ks.Name)
				continue
			}
			names[ks.Name] = true
			if strings.TrimSpace(ks.PublicKey) == "" {
				bad(kf+".publicKey", "empty: paste the PEM public key (cosign.pub, -----BEGIN PUBLIC KEY-----)")
				continue
			}
			k, err := signature.ParseKey(ks.Name, ks.PublicKey)
			if err != nil {
				bad(kf+".publicKey", "%v", err)
				continue
			}
			// A name means one key everywhere: the lock records names,
			// and revocation is by name and fingerprint.
			if prev, ok := seenKey[k.Name]; ok && prev.Fingerprint != k.Fingerprint {
				bad(kf+".name", "%q names another key in an earlier entry: give each key its own name", k.Name)
				continue
			}
			seenKey[k.Name] = k
			rule.Keys = append(rule.Keys, k)
		}
		policy.Rules = append(policy.Rules, rule)
	}
	return policy, errs
}

// signaturesFromData reads the ConfigMap key signatures: the same list,
// as YAML text.
func signaturesFromData(v string) ([]SignatureSpec, []string) {
	var n yaml.Node
	if err := yaml.Unmarshal([]byte(v), &n); err != nil {
		return nil, []string{fmt.Sprintf("data.signatures: not YAML: %v", err)}
	}
	if len(n.Content) == 0 {
		return nil, nil
	}
	var errs []string
	checkShape(n.Content[0], reflect.TypeOf([]SignatureSpec{}), "data.signatures", lines{of: " of data.signatures"}, &errs)
	if len(errs) > 0 {
		return nil, errs
	}
	var specs []SignatureSpec
	if err := n.Content[0].Decode(&specs); err != nil {
		return nil, []string{fmt.Sprintf("data.signatures: %v", err)}
	}
	return specs, nil
}

// withSignature adds the signature check to a verdict: how the digest
// was verified, or, under a rule that is not required, the warning that
// it was not (a required rule's failure is already the outcome's error).
func withSignature(v verdict, o *occurrence, outcomes map[string]*pin.Outcome) verdict {
	if o.err != nil || o.skip != "" || o.field.Undeclared {
		return v
	}
	out := outcomes[o.req.ID()]
	if out == nil || out.Signature == nil || out.Status == pin.Failed {
		return v
	}
	c := out.Signature
	if c.Verified() {
		v.msg += "; " + c.Summary()
		v.counted = append(v.counted, "signed")
		return v
	}
	if v.sev != framework.Error {
		v.sev = framework.Warning
	}
	v.msg += fmt.Sprintf("; %s (%s.required is false: pinned all the same)", errMessage(c.Err), c.Rule.Field)
	v.counted = append(v.counted, "unsigned")
	return v
}

// signatureSummary is the summary's part on signatures ("" without a policy).
func signatureSummary(s Settings, c map[string]int, st pin.Stats) string {
	if s.Signatures == nil {
		return ""
	}
	msg := fmt.Sprintf("; signatures: %d verified (%d from the lock's verifiedBy, %d digests looked up)", c["signed"], st.SignaturesFromLock, st.SignatureLookups)
	if n := c["unsigned"]; n > 0 {
		msg += fmt.Sprintf(", %d not verified under required: false", n)
	}
	return msg
}

// signatureSource is the resolver's signature fetcher, when it has one.
func signatureSource(r registry.Resolver) registry.SignatureSource {
	if src, ok := r.(registry.SignatureSource); ok {
		return src
	}
	return nil
}

// CheckSignatures is the admission webhook's validation of signatures:
// every pinned image under policy.signatures must be signed by a trusted
// key (the lock's verifiedBy answers where it records the digest), and
// an unpinned image under a required rule is refused, since no digest of
// it was verified. Images skipped or refused by CheckPolicy are left to
// it. Warnings are the findings of rules that are not required.
func CheckSignatures(ctx context.Context, r *Resource, s Settings, resolver registry.Resolver, lk *lock.Lock) (violations []Violation, warnings []string, err error) {
	if s.Signatures == nil {
		return nil, nil, nil
	}
	fields, err := FindFields(r, s.FieldSpecs)
	if err != nil {
		return nil, nil, err
	}
	refs := parsedRefs{}
	var occs []*occurrence
	var reqs []pin.Request
	for _, f := range fields {
		o := s.prepare(r, f, refs)
		if o.skip != "" || o.err != nil || f.Undeclared {
			continue
		}
		rule := s.Signatures.Rule(o.ref.Name)
		if rule == nil {
			continue
		}
		if !o.ref.Pinned() {
			if rule.Required {
				violations = append(violations, Violation{Path: f.Path, Value: o.value(), Message: fmt.Sprintf(
					"unpinned image %s under %s: only a digest signed by a trusted key is admitted (pin it: pin-images pin -w, or let the mutating webhook pin it)", o.ref.Original, rule.Field)})
			}
			continue
		}
		occs = append(occs, o)
		reqs = append(reqs, o.req)
	}
	if len(reqs) == 0 {
		return violations, nil, nil
	}
	// Resolve keeps pins as they are: the only lookups are signatures.
	eng := pin.Engine{Resolver: resolver, Mode: pin.Resolve, Lock: lk, Concurrency: s.Concurrency, Timeout: s.Timeout,
		Signatures: s.Signatures, SignatureSource: signatureSource(resolver)}
	if lk != nil {
		eng.Lock = lk.Clone()
	}
	outcomes, _, _, err := eng.Run(ctx, reqs)
	if err != nil {
		return nil, nil, err
	}
	for _, o := range occs {
		out := outcomes[o.req.ID()]
		c := out.Signature
		switch {
		case out.Status == pin.Failed:
			violations = append(violations, Violation{Path: o.field.Path, Value: o.value(), Message: s.Registry.Secrets.Text(errMessage(out.Err))})
		case c != nil && !c.Verified():
			warnings = append(warnings, s.Registry.Secrets.Text(o.field.Path+": "+errMessage(c.Err)))
		}
	}
	return violations, warnings, nil
}
