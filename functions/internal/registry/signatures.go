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

package registry

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/cloud37/ansible-playbook-operator/functions/internal/imageref"
	"github.com/cloud37/ansible-playbook-operator/functions/internal/signature"
)

// Bounds on what a registry may make a lookup of signatures read: cosign's
// payloads and bundles are a few KiB.
const (
	maxSignatureBlob   = 1 << 20
	maxSignatureLayers = 16
)

// SignatureSource fetches the signatures stored for a digest.
type SignatureSource interface {
	// Signatures returns the cosign signature candidates stored for digest
	// in ref's repository (after mirrors): none is no error.
	Signatures(ctx context.Context, ref imageref.Ref, digest string) ([]signature.Candidate, error)
}

var _ SignatureSource = (*Remote)(nil)

// Signatures implements SignatureSource: the layers of the
// `sha256-<hex>.sig` tag, then the sigstore bundles among the digest's
// OCI referrers (the referrers API, or its tag schema on registries
// without it). Every blob is read with a bound and must hash to its
// descriptor's digest.
func (r *Remote) Signatures(ctx context.Context, ref imageref.Ref, digest string) ([]signature.Candidate, error) {
	repo := r.target(ref.Name)
	d, err := name.NewDigest(repo+"@"+digest, r.nameOptions(repo)...)
	if err != nil {
		return nil, NewError(Failed, ref.Original, err.Error())
	}
	tagged, err := r.simpleSignatures(ctx, d)
	if err != nil {
		return nil, r.classify(ref.Original, repo, err)
	}
	referred, err := r.bundleSignatures(ctx, d)
	if err != nil {
		return nil, r.classify(ref.Original, repo, err)
	}
	return append(tagged, referred...), nil
}

// simpleSignatures reads cosign's classic layout.
func (r *Remote) simpleSignatures(ctx context.Context, d name.Digest) ([]signature.Candidate, error) {
	tag := d.Context().Tag(strings.Replace(d.DigestStr(), ":", "-", 1) + ".sig")
	// A checked GET, as for pins: a login page or a body that does not
	// hash to its Docker-Content-Digest is an invalid answer.
	_, desc, err := r.get(ctx, tag)
	if notFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	m, err := v1.ParseManifest(strings.NewReader(string(desc.Manifest)))
	if err != nil {
		return nil, badAnswer("the signature tag %s is not an image manifest: %v", tag.TagStr(), err)
	}
	var out []signature.Candidate
	for i, l := range m.Layers {
		if i == maxSignatureLayers {
			break
		}
		if string(l.MediaType) != signature.SimpleSigningMediaType {
			continue
		}
		payload, err := r.blob(ctx, d.Context(), l)
		if err != nil {
			return nil, err
		}
		out = append(out, signature.FromSimpleSigning(payload, l.Annotations[signature.SignatureAnnotation]))
	}
	return out, nil
}

// bundleSignatures reads the sigstore bundles referring to the digest.
func (r *Remote) bundleSignatures(ctx context.Context, d name.Digest) ([]signature.Candidate, error) {
	idx, err := remote.Referrers(d, remote.Reuse(r.puller), remote.WithContext(ctx))
	if notFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, badAnswer("the referrers of %s are not an index: %v", d.DigestStr(), err)
	}
	var out []signature.Candidate
	for _, ref := range im.Manifests {
		if ref.ArtifactType != signature.BundleMediaType {
			continue
		}
		if len(out) == maxSignatureLayers {
			break
		}
		_, desc, err := r.get(ctx, d.Context().Digest(ref.Digest.String()))
		if err != nil {
			return nil, err
		}
		m, err := v1.ParseManifest(strings.NewReader(string(desc.Manifest)))
		if err != nil {
			return nil, badAnswer("the referrer %s is not an image manifest: %v", ref.Digest, err)
		}
		for _, l := range m.Layers {
			if string(l.MediaType) != signature.BundleMediaType {
				continue
			}
			data, err := r.blob(ctx, d.Context(), l)
			if err != nil {
				return nil, err
			}
			out = append(out, signature.FromBundle(data))
			break
		}
	}
	return out, nil
}

// blob reads a small blob and checks it hashes to its descriptor.
func (r *Remote) blob(ctx context.Context, repo name.Repository, desc v1.Descriptor) ([]byte, error) {
	if desc.Size > maxSignatureBlob {
		return nil, badAnswer("a signature blob of %d bytes (at most %d)", desc.Size, maxSignatureBlob)
	}
	layer, err := r.puller.Layer(ctx, repo.Digest(desc.Digest.String()))
	if err != nil {
		return nil, err
	}
	rc, err := layer.Compressed()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, maxSignatureBlob+1))
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(data)
	if got := "sha256:" + hex.EncodeToString(sum[:]); got != desc.Digest.String() || len(data) > maxSignatureBlob {
		return nil, badAnswer("a signature blob that hashes to %s, not its digest %s", got, desc.Digest)
	}
	return data, nil
}

// notFound reports whether err says the tag or the referrers do not exist.
func notFound(err error) bool {
	var terr *transport.Error
	if errors.As(err, &terr) {
		if terr.StatusCode == http.StatusNotFound {
			return true
		}
		for _, d := range terr.Errors {
			if d.Code == transport.ManifestUnknownErrorCode || d.Code == transport.NameUnknownErrorCode {
				return true
			}
		}
	}
	return false
}

// String names the layouts looked at, for messages.
func signatureLayouts() string {
	return fmt.Sprintf("the %s and the %s", signature.LayoutTag, signature.LayoutReferrers)
}
