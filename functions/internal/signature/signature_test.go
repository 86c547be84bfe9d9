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

package signature

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"strings"
	"testing"
)

// These unit tests build candidates in the documented formats with Go's
// crypto; the registry package's tests check the same verdicts on
// signatures the real cosign CLI wrote.

const (
	digestA = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	digestB = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
)

func ecKey(t *testing.T) (*ecdsa.PrivateKey, string) {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return priv, string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

func sign(t *testing.T, priv *ecdsa.PrivateKey, msg []byte) []byte {
	t.Helper()
	sum := sha256.Sum256(msg)
	sig, err := ecdsa.SignASN1(rand.Reader, priv, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	return sig
}

func simplePayload(digest, typ string) []byte {
	b, _ := json.Marshal(map[string]any{"critical": map[string]any{"identity": map[string]string{"docker-reference": "r.example/app"},
		"image": map[string]string{"docker-manifest-digest": digest}, "type": typ}, "optional": nil})
	return b
}

func bundle(t *testing.T, priv *ecdsa.PrivateKey, digest, predicate, payloadType string) []byte {
	t.Helper()
	st, _ := json.Marshal(map[string]any{"_type": "https://in-toto.io/Statement/v1",
		"subject": []any{map[string]any{"digest": map[string]string{"sha256": strings.TrimPrefix(digest, "sha256:")}}}, "predicateType": predicate, "predicate": map[string]any{}})
	b, _ := json.Marshal(map[string]any{"mediaType": BundleMediaType, "dsseEnvelope": map[string]any{
		"payload": base64.StdEncoding.EncodeToString(st), "payloadType": payloadType,
		"signatures": []any{map[string]string{"sig": base64.StdEncoding.EncodeToString(sign(t, priv, pae(payloadType, st)))}}}})
	return b
}

func TestVerify(t *testing.T) {
	trustedPriv, trustedPEM := ecKey(t)
	otherPriv, _ := ecKey(t)
	trusted, err := ParseKey("trusted", trustedPEM)
	if err != nil {
		t.Fatal(err)
	}
	good := simplePayload(digestA, simpleSigningType)
	cases := map[string]struct {
		cands    []Candidate
		verified bool
		problem  string
	}{
		"a simple signature by the trusted key naming the digest": {
			cands: []Candidate{FromSimpleSigning(good, base64.StdEncoding.EncodeToString(sign(t, trustedPriv, good)))}, verified: true},
		"a bundle by the trusted key naming the digest": {
			cands: []Candidate{FromBundle(bundle(t, trustedPriv, digestA, cosignSignPredicate, inTotoPayloadType))}, verified: true},
		"one good among bad ones verifies": {
			cands: []Candidate{FromBundle([]byte("{")), FromSimpleSigning(good, base64.StdEncoding.EncodeToString(sign(t, otherPriv, good))),
				FromBundle(bundle(t, trustedPriv, digestA, cosignSignPredicate, inTotoPayloadType))}, verified: true},
		"another key": {
			cands: []Candidate{FromSimpleSigning(good, base64.StdEncoding.EncodeToString(sign(t, otherPriv, good)))}, problem: "none of the trusted keys"},
		"another digest": {
			cands: []Candidate{FromBundle(bundle(t, trustedPriv, digestB, cosignSignPredicate, inTotoPayloadType))}, problem: "names " + digestB + ", not " + digestA},
		"an attestation is not a signature": {
			cands: []Candidate{FromBundle(bundle(t, trustedPriv, digestA, "https://slsa.dev/provenance/v1", inTotoPayloadType))}, problem: "attestation"},
		"a payload that is not a cosign image signature": {
			cands: []Candidate{FromSimpleSigning(simplePayload(digestA, "other"), base64.StdEncoding.EncodeToString(sign(t, trustedPriv, simplePayload(digestA, "other"))))}, problem: "not a cosign image signature"},
		"a payload signed, then changed": {
			cands: []Candidate{FromSimpleSigning(simplePayload(digestA, simpleSigningType), base64.StdEncoding.EncodeToString(sign(t, trustedPriv, simplePayload(digestB, simpleSigningType))))}, problem: "none of the trusted keys"},
		"a layer without a signature": {
			cands: []Candidate{FromSimpleSigning(good, "")}, problem: "without a base64"},
		"a bundle of another payload type": {
			cands: []Candidate{FromBundle(bundle(t, trustedPriv, digestA, cosignSignPredicate, "text/plain"))}, problem: "payload type"},
		"a blob signature bundle": {
			cands: []Candidate{FromBundle([]byte(`{"messageSignature": {}}`))}, problem: "without a DSSE envelope"},
		"nothing found": {},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			v := Verify(tc.cands, []Key{trusted}, digestA)
			if v.Verified() != tc.verified || v.Found != len(tc.cands) {
				t.Fatalf("verdict %+v, want verified %v with %d found", v, tc.verified, len(tc.cands))
			}
			if tc.verified && v.Key != "trusted" {
				t.Errorf("verified by %q, want trusted", v.Key)
			}
			if tc.problem != "" && !strings.Contains(strings.Join(v.Problems, "; "), tc.problem) {
				t.Errorf("problems %q, want one with %q", v.Problems, tc.problem)
			}
		})
	}
}

func TestParseKey(t *testing.T) {
	_, good := ecKey(t)
	weak, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	weakDER, _ := x509.MarshalPKIXPublicKey(&weak.PublicKey)
	privDER, _ := x509.MarshalPKCS8PrivateKey(weak)
	cases := map[string]struct{ pem, want string }{
		"a cosign public key":         {pem: good},
		"indented, as YAML holds it":  {pem: "  " + strings.ReplaceAll(good, "\n", "\n  ")},
		"garbage":                     {pem: "ssh-ed25519 AAAA", want: "not a PEM block"},
		"a private key":               {pem: string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: privDER})), want: "never a private key"},
		"a weak RSA key":              {pem: string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: weakDER})), want: "too weak"},
		"two keys in one entry":       {pem: good + good, want: "more than one PEM block"},
		"a PEM block that is not DER": {pem: "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", want: "failed to parse"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			k, err := ParseKey("k", tc.pem)
			if tc.want == "" {
				if err != nil || !strings.HasPrefix(k.Fingerprint, "sha256:") || len(k.Fingerprint) != 71 {
					t.Fatalf("ParseKey = %+v, %v", k, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("ParseKey error %v, want %q", err, tc.want)
			}
		})
	}
}
