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

// Package registry resolves image tags to the digests registries serve, with
// go-containerregistry, one shared puller per run (one transport and one token
// per registry/repository), HEAD first, retries that honour Retry-After,
// custom CAs, insecure registries, mirrors and credentials from the docker
// config, never printed.
package registry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/cloud37/ansible-playbook-operator/functions/internal/imageref"
)

// Resolver answers digest questions about image references.
type Resolver interface {
	// Resolve returns the digest the registry serves for ref's tag: the
	// manifest or index digest, or, when platform is set ("linux/arm64"), the
	// digest of that platform's child manifest. Never the config digest.
	Resolve(ctx context.Context, ref imageref.Ref, platform string) (string, error)
	// Exists checks that the registry still has ref's repository at digest.
	Exists(ctx context.Context, ref imageref.Ref, digest string) error
}

// Mirror redirects lookups for references under From to To: the digest is read
// from the mirror, the manifests keep the original spelling.
type Mirror struct {
	// From is a prefix in the form imageref.ParsePrefix accepts ("docker.io").
	From string
	// To replaces From ("mirror.internal:5000/dockerhub").
	To string
}

// Options configure a Remote resolver.
type Options struct {
	// Keychain supplies credentials; nil means the docker config (DOCKER_CONFIG)
	// and its credential helpers.
	Keychain authn.Keychain
	// CABundle is PEM added to the system roots.
	CABundle []byte
	// Insecure names registries (host[:port]) reached over plain HTTP or
	// unverified TLS.
	Insecure []string
	// Mirrors are tried in order; the first matching prefix wins.
	Mirrors []Mirror
	// Retry bounds retries of 429 and 5xx answers.
	Retry RetryPolicy
	// UserAgent identifies pin-images to registries.
	UserAgent string
	// HasNetwork reports whether the process has a non-loopback network;
	// nil means HasExternalNetwork.
	HasNetwork func() bool
	// Now is the clock for Retry-After dates; nil means time.Now.
	Now func() time.Time
}

// Remote is the production Resolver.
type Remote struct {
	puller     *remote.Puller
	insecure   map[string]bool
	mirrors    []mirror
	hasNetwork func() bool
}

type mirror struct {
	from imageref.Prefix
	to   string
}

var _ Resolver = (*Remote)(nil)

// NewRemote builds the resolver of one run. Its puller is shared by every
// lookup, so each repository is authenticated once.
func NewRemote(opts Options) (*Remote, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.HasNetwork == nil {
		opts.HasNetwork = HasExternalNetwork
	}
	keychain := opts.Keychain
	if keychain == nil {
		keychain = authn.DefaultKeychain
	}
	r := &Remote{insecure: map[string]bool{}, hasNetwork: opts.HasNetwork}
	for _, h := range opts.Insecure {
		r.insecure[imageref.NormalizeHost(h)] = true
	}
	for _, m := range opts.Mirrors {
		p, err := imageref.ParsePrefix(m.From)
		if err != nil {
			return nil, fmt.Errorf("invalid mirror from %q: %w", m.From, err)
		}
		to := strings.TrimSuffix(m.To, "/")
		if _, err := name.NewRepository(to+"/x", name.WeakValidation); err != nil {
			return nil, fmt.Errorf("invalid mirror to %q: %w", m.To, err)
		}
		r.mirrors = append(r.mirrors, mirror{from: p, to: to})
	}
	tr, err := newTransport(opts.CABundle, opts.Insecure, opts.Retry, opts.Now)
	if err != nil {
		return nil, err
	}
	ua := opts.UserAgent
	if ua == "" {
		ua = "pin-images"
	}
	never := func(error) bool { return false }
	r.puller, err = remote.NewPuller(
		remote.WithAuthFromKeychain(keychain),
		remote.WithTransport(tr),
		remote.WithUserAgent(ua),
		// Retries happen in our transport, which honours Retry-After.
		remote.WithRetryPredicate(never),
		remote.WithRetryStatusCodes(),
	)
	if err != nil {
		return nil, err
	}
	return r, nil
}

// target is where a lookup for the normalized name really goes (after mirrors).
func (r *Remote) target(normalizedName string) string {
	for _, m := range r.mirrors {
		if m.from.Matches(normalizedName) {
			return m.to + strings.TrimPrefix(normalizedName, string(m.from))
		}
	}
	return normalizedName
}

func (r *Remote) nameOptions(repo string) []name.Option {
	opts := []name.Option{name.WeakValidation}
	if r.insecure[imageref.Registry(repo)] {
		opts = append(opts, name.Insecure)
	}
	return opts
}

// Resolve implements Resolver.
func (r *Remote) Resolve(ctx context.Context, ref imageref.Ref, platform string) (string, error) {
	repo := r.target(ref.Name)
	tag, err := name.NewTag(repo+":"+ref.EffectiveTag(), r.nameOptions(repo)...)
	if err != nil {
		return "", NewError(Failed, ref.Original, err.Error())
	}
	var digest string
	if platform == "" {
		digest, err = r.headOrGet(ctx, tag)
	} else {
		digest, err = r.platformDigest(ctx, tag, platform)
	}
	if err != nil {
		return "", Classify(ref.Original, err, r.hasNetwork)
	}
	return digest, nil
}

// headOrGet asks for the digest with HEAD (free of pull quotas) and falls back
// to GET only when HEAD failed for a reason other than a definite answer.
func (r *Remote) headOrGet(ctx context.Context, ref name.Reference) (string, error) {
	desc, err := r.puller.Head(ctx, ref)
	if err == nil {
		return desc.Digest.String(), nil
	}
	if !headFallback(err) {
		return "", err
	}
	got, gerr := r.puller.Get(ctx, ref)
	if gerr != nil {
		return "", gerr
	}
	return got.Digest.String(), nil
}

// headFallback reports whether a HEAD failure is worth a GET: for registries
// whose HEAD is broken (405, missing headers), not for definite answers
// (not found, auth, rate limits), nor for 5xx, which the transport already
// retried, nor for network or deadline errors.
func headFallback(err error) bool {
	var terr *transport.Error
	if errors.As(err, &terr) {
		switch terr.StatusCode {
		case http.StatusNotFound, http.StatusUnauthorized, http.StatusForbidden, http.StatusTooManyRequests:
			return false
		}
		return terr.StatusCode < 500
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) || isNetworkError(err) {
		return false
	}
	// Registries that omit Docker-Content-Digest, Content-Type or Content-Length on HEAD.
	return true
}

// platformDigest GETs the manifest and picks the child for platform from an
// index; a single-platform image answers with its own digest when its config
// matches.
func (r *Remote) platformDigest(ctx context.Context, ref name.Reference, platform string) (string, error) {
	want, err := v1.ParsePlatform(platform)
	if err != nil {
		return "", NewError(PlatformNotFound, "", fmt.Sprintf("invalid platform %q: %v", platform, err))
	}
	desc, err := r.puller.Get(ctx, ref)
	if err != nil {
		return "", err
	}
	if desc.MediaType.IsIndex() {
		idx, err := v1.ParseIndexManifest(bytes.NewReader(desc.Manifest))
		if err != nil {
			return "", err
		}
		var seen []string
		for _, m := range idx.Manifests {
			if m.Platform == nil {
				continue
			}
			if matchPlatform(*m.Platform, *want) {
				return m.Digest.String(), nil
			}
			seen = append(seen, m.Platform.String())
		}
		return "", NewError(PlatformNotFound, "", fmt.Sprintf("%s not in index (has %s)", platform, strings.Join(seen, ", ")))
	}
	img, err := desc.Image()
	if err != nil {
		return "", err
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return "", err
	}
	if got := cfg.Platform(); got != nil && matchPlatform(*got, *want) {
		return desc.Digest.String(), nil
	}
	return "", NewError(PlatformNotFound, "", fmt.Sprintf("single-platform image built for %s/%s, not %s", cfg.OS, cfg.Architecture, platform))
}

// matchPlatform compares OS and architecture, and the variant when one is asked for.
func matchPlatform(got, want v1.Platform) bool {
	if got.OS != want.OS || got.Architecture != want.Architecture {
		return false
	}
	return want.Variant == "" || got.Variant == want.Variant
}

// Exists implements Resolver.
func (r *Remote) Exists(ctx context.Context, ref imageref.Ref, digest string) error {
	if err := imageref.ValidateDigest(digest); err != nil {
		return NewError(InvalidDigest, ref.Original, fmt.Sprintf("%q is not sha256: followed by 64 lower-case hex digits", digest))
	}
	repo := r.target(ref.Name)
	d, err := name.NewDigest(repo+"@"+digest, r.nameOptions(repo)...)
	if err != nil {
		return NewError(Failed, ref.Original, err.Error())
	}
	if _, err := r.headOrGet(ctx, d); err != nil {
		return Classify(ref.Original, err, r.hasNetwork)
	}
	return nil
}
