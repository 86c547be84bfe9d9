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

// Package signature verifies cosign's key-based image signatures, offline:
// whether one of a set of trusted public keys signed a payload that names
// exactly a given digest. It reads the two layouts cosign writes, the
// simple-signing layers of a `sha256-<hex>.sig` tag (cosign's classic
// format) and sigstore bundles with a DSSE envelope stored as OCI 1.1
// referrers (the format cosign v3 writes by default). It makes no network
// request and consults no transparency log or certificate authority: the
// registry package fetches the candidates, this package judges them.
package signature

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"hash"
	"strings"
)

// Media types and annotations of cosign's layouts.
const (
	// SimpleSigningMediaType is a classic signature layer: the payload is
	// the layer, the signature its annotation.
	SimpleSigningMediaType = "application/vnd.dev.cosign.simplesigning.v1+json"
	// SignatureAnnotation holds a simple-signing layer's base64 signature.
	SignatureAnnotation = "dev.cosignproject.cosign/signature"
	// BundleMediaType is a sigstore bundle (artifact type of the referrer
	// manifest and media type of its layer).
	BundleMediaType = "application/vnd.dev.sigstore.bundle.v0.3+json"

	simpleSigningType = "cosign container image signature"
	inTotoPayloadType = "application/vnd.in-toto+json"
	// cosignSignPredicate is the predicate of `cosign sign` statements; an
	// attestation (`cosign attest`) also names the digest but is not a
	// signature of it.
	cosignSignPredicate = "https://sigstore.dev/cosign/sign/v1"
)

// Layouts a candidate comes from.
const (
	LayoutTag       = "sha256-<hex>.sig tag"
	LayoutReferrers = "OCI referrers (sigstore bundle)"
)

// Key is a trusted public key.
type Key struct {
	// Name identifies the key in results and in the lock.
	Name string
	// Fingerprint is "sha256:" and the hex SHA-256 of the key's DER
	// SubjectPublicKeyInfo.
	Fingerprint string
	pub         crypto.PublicKey
}

// ParseKey reads a PEM public key (PKIX "PUBLIC KEY", as `cosign
// generate-key-pair` writes it): ECDSA P-256, P-384 or P-521, Ed25519 or
// RSA (2048 bits or more).
func ParseKey(name, pemText string) (Key, error) {
	// Each line trimmed: a key pasted into YAML or JSON keeps indentation.
	lines := strings.Split(strings.TrimSpace(pemText), "\n")
	for i := range lines {
		lines[i] = strings.TrimSpace(lines[i])
	}
	block, rest := pem.Decode([]byte(strings.Join(lines, "\n")))
	if block == nil {
		return Key{}, errors.New("not a PEM block: paste the key as `cosign generate-key-pair` writes cosign.pub (-----BEGIN PUBLIC KEY-----)")
	}
	if len(strings.TrimSpace(string(rest))) > 0 {
		return Key{}, errors.New("more than one PEM block: give each key its own entry")
	}
	if block.Type != "PUBLIC KEY" {
		return Key{}, fmt.Errorf("a %q PEM block: want a public key (-----BEGIN PUBLIC KEY-----), never a private key", block.Type)
	}
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return Key{}, fmt.Errorf("failed to parse the public key: %w", err)
	}
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256(), elliptic.P384(), elliptic.P521():
		default:
			return Key{}, fmt.Errorf("ECDSA curve %s is not supported: use P-256, P-384 or P-521", k.Curve.Params().Name)
		}
	case ed25519.PublicKey:
	case *rsa.PublicKey:
		if k.N.BitLen() < 2048 {
			return Key{}, fmt.Errorf("a %d-bit RSA key is too weak: use 2048 bits or more", k.N.BitLen())
		}
	default:
		return Key{}, fmt.Errorf("key type %T is not supported: use ECDSA, Ed25519 or RSA", pub)
	}
	sum := sha256.Sum256(block.Bytes)
	return Key{Name: name, Fingerprint: "sha256:" + hex.EncodeToString(sum[:]), pub: pub}, nil
}

// Candidate is one signature the registry holds for a digest, as found.
type Candidate struct {
	// Layout says where it was found (LayoutTag, LayoutReferrers).
	Layout string
	// Signed is what the signature is over: the simple-signing payload, or
	// the DSSE pre-authentication encoding of the envelope's payload.
	Signed []byte
	// Signatures are the raw signatures (one per envelope signature).
	Signatures [][]byte
	// Payload is the document naming what was signed: the simple-signing
	// JSON or the in-toto statement.
	Payload []byte
	// dsse is set for a bundle's envelope.
	dsse bool
	// Problem is why the candidate cannot be a signature at all (a
	// malformed bundle), reported when no candidate verifies.
	Problem string
}

// FromSimpleSigning is a classic layer: its payload and the base64
// signature annotation.
func FromSimpleSigning(payload []byte, signatureB64 string) Candidate {
	c := Candidate{Layout: LayoutTag, Signed: payload, Payload: payload}
	sig, err := base64.StdEncoding.DecodeString(signatureB64)
	if err != nil || len(sig) == 0 {
		c.Problem = "a signature layer without a base64 " + SignatureAnnotation + " annotation"
		return c
	}
	c.Signatures = [][]byte{sig}
	return c
}

// FromBundle reads a sigstore bundle with a DSSE envelope.
func FromBundle(data []byte) Candidate {
	c := Candidate{Layout: LayoutReferrers, dsse: true}
	var b struct {
		MediaType    string `json:"mediaType"`
		DSSEEnvelope *struct {
			Payload     string `json:"payload"`
			PayloadType string `json:"payloadType"`
			Signatures  []struct {
				Sig string `json:"sig"`
			} `json:"signatures"`
		} `json:"dsseEnvelope"`
		MessageSignature json.RawMessage `json:"messageSignature"`
	}
	if err := json.Unmarshal(data, &b); err != nil {
		c.Problem = "a bundle that is not JSON: " + err.Error()
		return c
	}
	if b.DSSEEnvelope == nil {
		c.Problem = "a bundle without a DSSE envelope (a blob signature, not an image signature)"
		return c
	}
	payload, err := base64.StdEncoding.DecodeString(b.DSSEEnvelope.Payload)
	if err != nil {
		c.Problem = "a bundle whose envelope payload is not base64"
		return c
	}
	c.Payload = payload
	c.Signed = pae(b.DSSEEnvelope.PayloadType, payload)
	if b.DSSEEnvelope.PayloadType != inTotoPayloadType {
		c.Problem = fmt.Sprintf("a bundle whose payload type is %q, not an in-toto statement", b.DSSEEnvelope.PayloadType)
		return c
	}
	for _, s := range b.DSSEEnvelope.Signatures {
		if sig, err := base64.StdEncoding.DecodeString(s.Sig); err == nil && len(sig) > 0 {
			c.Signatures = append(c.Signatures, sig)
		}
	}
	if len(c.Signatures) == 0 {
		c.Problem = "a bundle whose envelope has no signature"
	}
	return c
}

// pae is DSSE's pre-authentication encoding, what envelope signatures are
// over.
func pae(payloadType string, payload []byte) []byte {
	return []byte(fmt.Sprintf("DSSEv1 %d %s %d %s", len(payloadType), payloadType, len(payload), payload))
}

// Verdict is what the candidates prove about a digest.
type Verdict struct {
	// Key is the name of the key whose signature verified ("" if none).
	Key string
	// Layout is where the verifying signature was found.
	Layout string
	// Found is how many signatures the registry had for the digest.
	Found int
	// Problems say, when nothing verified, what each candidate was: signed
	// by another key, naming another digest, malformed.
	Problems []string
}

// Verified reports whether a trusted key signed the digest.
func (v Verdict) Verified() bool { return v.Key != "" }

// Verify judges the candidates for digest: verified when one signature of
// one candidate checks against one key and its payload names exactly
// digest.
func Verify(candidates []Candidate, keys []Key, digest string) Verdict {
	v := Verdict{Found: len(candidates)}
	for _, c := range candidates {
		if c.Problem != "" {
			v.Problems = append(v.Problems, c.Layout+": "+c.Problem)
			continue
		}
		key, ok := signedBy(c, keys)
		if !ok {
			v.Problems = append(v.Problems, c.Layout+": a signature by none of the trusted keys")
			continue
		}
		named, err := names(c, digest)
		if err != nil {
			v.Problems = append(v.Problems, fmt.Sprintf("%s: signed by %s, but %v", c.Layout, key.Name, err))
			continue
		}
		if !named {
			continue
		}
		v.Key, v.Layout = key.Name, c.Layout
		v.Problems = nil
		return v
	}
	return v
}

// signedBy returns the first key one of the candidate's signatures checks
// against.
func signedBy(c Candidate, keys []Key) (Key, bool) {
	for _, k := range keys {
		for _, sig := range c.Signatures {
			if verifySig(k.pub, c.Signed, sig) {
				return k, true
			}
		}
	}
	return Key{}, false
}

// verifySig checks one signature: ECDSA (ASN.1) over the curve's hash,
// Ed25519 (pure or prehashed), RSA PKCS#1 v1.5 or PSS over SHA-256, as
// sigstore's signers produce them.
func verifySig(pub crypto.PublicKey, msg, sig []byte) bool {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		var h hash.Hash
		switch k.Curve {
		case elliptic.P384():
			h = sha512.New384()
		case elliptic.P521():
			h = sha512.New()
		default:
			h = sha256.New()
		}
		h.Write(msg)
		return ecdsa.VerifyASN1(k, h.Sum(nil), sig)
	case ed25519.PublicKey:
		// cosign signs with Ed25519ph (over the message's SHA-512) when it
		// imports an Ed25519 key; plain Ed25519 as RFC 8032 defines it too.
		sum := sha512.Sum512(msg)
		return ed25519.Verify(k, msg, sig) || ed25519.VerifyWithOptions(k, sum[:], sig, &ed25519.Options{Hash: crypto.SHA512}) == nil
	case *rsa.PublicKey:
		sum := sha256.Sum256(msg)
		return rsa.VerifyPKCS1v15(k, crypto.SHA256, sum[:], sig) == nil ||
			rsa.VerifyPSS(k, crypto.SHA256, sum[:], sig, nil) == nil
	}
	return false
}

// names reports whether the candidate's signed payload names exactly
// digest; an error says what else it is.
func names(c Candidate, digest string) (bool, error) {
	if c.dsse {
		var st struct {
			Type    string `json:"_type"`
			Subject []struct {
				Digest map[string]string `json:"digest"`
			} `json:"subject"`
			PredicateType string `json:"predicateType"`
		}
		if err := json.Unmarshal(c.Payload, &st); err != nil {
			return false, errors.New("its statement is not JSON")
		}
		if st.PredicateType != cosignSignPredicate {
			return false, fmt.Errorf("it is an attestation (%s), not a signature", st.PredicateType)
		}
		for _, s := range st.Subject {
			if "sha256:"+s.Digest["sha256"] == digest {
				return true, nil
			}
		}
		var got []string
		for _, s := range st.Subject {
			got = append(got, "sha256:"+s.Digest["sha256"])
		}
		return false, fmt.Errorf("it names %s, not %s", strings.Join(got, ", "), digest)
	}
	var p struct {
		Critical struct {
			Image struct {
				Digest string `json:"docker-manifest-digest"`
			} `json:"image"`
			Type string `json:"type"`
		} `json:"critical"`
	}
	if err := json.Unmarshal(c.Payload, &p); err != nil {
		return false, errors.New("its payload is not JSON")
	}
	if p.Critical.Type != simpleSigningType {
		return false, fmt.Errorf("its payload is a %q, not a cosign image signature", p.Critical.Type)
	}
	if p.Critical.Image.Digest != digest {
		return false, fmt.Errorf("it names %s, not %s", p.Critical.Image.Digest, digest)
	}
	return true, nil
}
