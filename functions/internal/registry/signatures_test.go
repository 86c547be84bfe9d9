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

package registry_test

import (
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/cloud37/ansible-playbook-operator/functions/internal/registry"
	"github.com/cloud37/ansible-playbook-operator/functions/internal/registrytest"
	"github.com/cloud37/ansible-playbook-operator/functions/internal/signature"
)

// TestSignatures_realCosign: images signed by the real cosign CLI in a
// real registry, in both of cosign's layouts and with keys of every
// supported kind: a trusted key's signature verifies, another key's does
// not, a copied signature that names another digest does not, an unsigned
// digest has none; a recursively signed index verifies as the index and
// as each child. Every verdict is the one `cosign verify` gives.
func TestSignatures_realCosign(t *testing.T) {
	reg := registrytest.Start(t, registrytest.Options{})
	r := newRemote(t, registry.Options{Keychain: authn.NewMultiKeychain()})
	trusted, other := registrytest.NewCosignKey(t), registrytest.NewCosignKey(t)
	keys := []signature.Key{mustKey(t, "trusted", trusted.PublicKey)}

	pinned := func(repoTag string) string {
		return reg.Ref(strings.Split(repoTag, ":")[0]) + "@" + reg.PushRandom(t, repoTag)
	}
	bundled, tagged, byOther, unsigned := pinned("team/bundled:1"), pinned("team/tagged:1"), pinned("team/other:1"), pinned("team/unsigned:1")
	registrytest.Sign(t, trusted, bundled)
	registrytest.Sign(t, trusted, tagged, registrytest.TagLayout)
	registrytest.Sign(t, other, byOther)
	registrytest.Sign(t, other, byOther, registrytest.TagLayout)

	// A signature for another digest: the trusted signature of tagged,
	// copied under unsigned's signature tag.
	copied := pinned("team/copied:1")
	tagSig := func(ref string) string {
		repo, digest, _ := strings.Cut(ref, "@")
		return repo + ":" + strings.Replace(digest, ":", "-", 1) + ".sig"
	}
	reg.Copy(t, tagSig(tagged), tagSig(copied))

	idx, children := reg.PushIndex(t, "team/multi:1", "linux/amd64", "linux/arm64")
	multi := reg.Ref("team/multi") + "@" + idx
	registrytest.Sign(t, trusted, multi, registrytest.Recursive)

	cases := []struct {
		name, ref  string
		opts       []registrytest.SignOption // for cosign verify
		verified   bool
		layout     string
		found      int
		problemHas string
	}{
		{name: "a bundle by the trusted key verifies", ref: bundled, verified: true, layout: signature.LayoutReferrers, found: 1},
		{name: "a classic .sig by the trusted key verifies", ref: tagged, opts: []registrytest.SignOption{registrytest.TagLayout}, verified: true, layout: signature.LayoutTag, found: 1},
		{name: "signatures by another key do not", ref: byOther, found: 2, problemHas: "none of the trusted keys"},
		{name: "a trusted signature naming another digest does not", ref: copied, opts: []registrytest.SignOption{registrytest.TagLayout}, found: 1, problemHas: "not " + strings.Split(copied, "@")[1]},
		{name: "an unsigned digest has no signature", ref: unsigned, found: 0},
		{name: "a recursively signed index verifies as the index", ref: multi, verified: true, layout: signature.LayoutReferrers, found: 1},
		{name: "and as its arm64 child", ref: reg.Ref("team/multi") + "@" + children["linux/arm64"], verified: true, layout: signature.LayoutReferrers, found: 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ref := parseRef(t, strings.Split(tc.ref, "@")[0])
			digest := strings.Split(tc.ref, "@")[1]
			cands, err := r.Signatures(testContext(t), ref, digest)
			if err != nil {
				t.Fatal(err)
			}
			v := signature.Verify(cands, keys, digest)
			if v.Verified() != tc.verified || v.Found != tc.found || (tc.verified && (v.Key != "trusted" || v.Layout != tc.layout)) {
				t.Errorf("verdict %+v, want verified %v by trusted in %q with %d found", v, tc.verified, tc.layout, tc.found)
			}
			if tc.problemHas != "" && !strings.Contains(strings.Join(v.Problems, "; "), tc.problemHas) {
				t.Errorf("problems %q, want one saying %q", v.Problems, tc.problemHas)
			}
			if cosignSays := registrytest.CosignVerifies(t, trusted.PublicKey, tc.ref, tc.opts...); cosignSays != tc.verified {
				t.Errorf("cosign verify says %v, pin-images %v", cosignSays, v.Verified())
			}
		})
	}
}

// TestSignatures_keyKinds: Ed25519, RSA and P-384 keys imported into
// cosign sign in both layouts and verify.
func TestSignatures_keyKinds(t *testing.T) {
	reg := registrytest.Start(t, registrytest.Options{})
	r := newRemote(t, registry.Options{Keychain: authn.NewMultiKeychain()})
	for _, kind := range []string{"ed25519", "rsa", "p384"} {
		t.Run(kind, func(t *testing.T) {
			key := registrytest.ImportCosignKey(t, kind)
			for _, layout := range [][]registrytest.SignOption{nil, {registrytest.TagLayout}} {
				pushed := reg.PushRandom(t, "team/"+kind+":1")
				ref := reg.Ref("team/"+kind) + "@" + pushed
				registrytest.Sign(t, key, ref, layout...)
				cands, err := r.Signatures(testContext(t), parseRef(t, reg.Ref("team/"+kind)), pushed)
				if err != nil {
					t.Fatal(err)
				}
				if v := signature.Verify(cands, []signature.Key{mustKey(t, kind, key.PublicKey)}, pushed); !v.Verified() {
					t.Errorf("%s %v: verdict %+v", kind, layout, v)
				}
			}
		})
	}
}

// TestSignatures_checksAnswers: the signature manifests are read with the
// checks of every manifest answer: a login page or a body that does not
// hash to its Docker-Content-Digest is an invalid answer, never a verdict.
func TestSignatures_checksAnswers(t *testing.T) {
	reg := registrytest.Start(t, registrytest.Options{})
	key := registrytest.NewCosignKey(t)
	digest := reg.PushRandom(t, "team/app:1")
	registrytest.Sign(t, key, reg.Ref("team/app")+"@"+digest, registrytest.TagLayout)
	proxy := registrytest.NewProxy(t, reg.Host)
	r := newRemote(t, registry.Options{Keychain: authn.NewMultiKeychain()})
	ref := parseRef(t, proxy.Host+"/team/app:1")
	if cands, err := r.Signatures(testContext(t), ref, digest); err != nil || !signature.Verify(cands, []signature.Key{mustKey(t, "k", key.PublicKey)}, digest).Verified() {
		t.Fatalf("through the proxy: %v %+v", err, cands)
	}
	for name, tc := range map[string]struct {
		fault registrytest.Fault
		want  string
	}{
		"a login page":               {fault: registrytest.HTMLPage, want: "text/html"},
		"a body of another digest":   {fault: registrytest.BodyDigestMismatch, want: "hashes to"},
		"a manifest of another type": {fault: registrytest.WrongMediaType, want: "not a manifest"},
	} {
		t.Run(name, func(t *testing.T) {
			proxy.Reset()
			proxy.SetFault(tc.fault, 0)
			defer proxy.Reset()
			cands, err := r.Signatures(testContext(t), ref, digest)
			e := wantCode(t, err, registry.InvalidAnswer)
			if len(cands) > 0 || !strings.Contains(e.Error(), tc.want) {
				t.Errorf("candidates %d, error %q, want one saying %q", len(cands), e.Error(), tc.want)
			}
		})
	}
}

func mustKey(t *testing.T, name, pem string) signature.Key {
	t.Helper()
	k, err := signature.ParseKey(name, pem)
	if err != nil {
		t.Fatal(err)
	}
	return k
}
