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
// go-containerregistry, one shared puller per run (one transport and one ping
// per registry, one token per repository), HEAD first, retries that honour Retry-After,
// custom CAs, insecure registries, mirrors and credentials from the docker
// config, never printed. Every answer is checked before its digest is
// returned (a manifest or index media type, a sha256 digest, a GET body that
// hashes to the digest the registry names and parses as a manifest).
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
	"github.com/cloud37/ansible-playbook-operator/functions/internal/redact"
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
	// VerifyContent GETs and hashes every manifest, also where a HEAD's
	// digest would do, and fails when the two disagree: for registries and
	// caches that are not trusted to name digests truthfully. Each GET
	// counts against Docker Hub's pull quota.
	VerifyContent bool
	// Secrets collects the credentials the run sends, so that no echo of
	// them reaches an error; nil means the resolver keeps its own.
	Secrets *redact.Secrets
}

// Remote is the production Resolver.
type Remote struct {
	puller        *remote.Puller
	keychain      *recordingKeychain
	secrets       *redact.Secrets
	insecure      map[string]bool
	mirrors       []mirror
	hasNetwork    func() bool
	verifyContent bool
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
	if opts.Secrets == nil {
		opts.Secrets = &redact.Secrets{}
	}
	keychain := opts.Keychain
	if keychain == nil {
		keychain = authn.DefaultKeychain
	}
	r := &Remote{insecure: map[string]bool{}, hasNetwork: opts.HasNetwork, secrets: opts.Secrets,
		keychain: &recordingKeychain{inner: keychain, secrets: opts.Secrets}, verifyContent: opts.VerifyContent}
	for _, h := range opts.Insecure {
		r.insecure[imageref.NormalizeHost(h)] = true
	}
	for _, m := range opts.Mirrors {
		p, err := imageref.ParsePrefix(m.From)
		if err != nil {
			return nil, fmt.Errorf("failed to use mirror from %q: %w", opts.Secrets.Text(m.From), err)
		}
		to, err := MirrorTarget(m.To)
		if err != nil {
			return nil, err
		}
		r.mirrors = append(r.mirrors, mirror{from: p, to: to})
	}
	base, err := newTransport(opts.CABundle, opts.Insecure, opts.Retry, opts.Now)
	if err != nil {
		return nil, err
	}
	tr := newPingCache(&guardTransport{inner: base, secrets: opts.Secrets}, opts.Now)
	ua := opts.UserAgent
	if ua == "" {
		ua = "pin-images"
	}
	never := func(error) bool { return false }
	r.puller, err = remote.NewPuller(
		remote.WithAuthFromKeychain(r.keychain),
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

// MirrorTarget checks a mirror's "to" (a registry[/path], no scheme, no
// credentials) and returns it without a trailing slash. Its errors never
// repeat credentials written into it.
func MirrorTarget(to string) (string, error) {
	var patternsOnly *redact.Secrets
	shown := patternsOnly.Text(to)
	if strings.Contains(to, "@") || strings.Contains(to, "://") {
		return "", fmt.Errorf("failed to use mirror to %q: write a registry[/path] such as mirror.internal:5000/hub, without scheme or credentials (put the mirror's credentials in the docker config)", shown)
	}
	to = strings.TrimSuffix(to, "/")
	if to == "" {
		return "", fmt.Errorf("failed to use mirror to \"\": write a registry[/path] such as mirror.internal:5000/hub")
	}
	if _, err := name.NewRepository(to+"/x", name.WeakValidation); err != nil {
		return "", fmt.Errorf("failed to use mirror to %q: %w", shown, err)
	}
	return to, nil
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
		digest, err = r.manifestDigest(ctx, tag)
	} else {
		digest, err = r.platformDigest(ctx, tag, platform)
	}
	if err != nil {
		return "", r.classify(ref.Original, repo, err)
	}
	return digest, nil
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
	got, err := r.manifestDigest(ctx, d)
	if err == nil && got != digest {
		err = badAnswer("registry %s answered for %s with digest %s", imageref.Registry(repo), digest, got)
	}
	if err != nil {
		return r.classify(ref.Original, repo, err)
	}
	return nil
}

// classify makes err a classified error without the run's secrets, and
// names a credential source that failed when the registry then refused.
func (r *Remote) classify(ref, repo string, err error) *Error {
	e := classify(ref, err, r.hasNetwork, r.secrets)
	if e.Code == Unauthorized && r.keychain.failedFor(imageref.Registry(repo)) {
		e.Detail = credentialsFailed + ": " + e.Detail
	}
	return e
}

// manifestDigest asks for the digest with HEAD (free of pull quotas) and
// GETs the manifest only when HEAD gave no usable answer or VerifyContent
// asks for the body too; then the two must agree.
func (r *Remote) manifestDigest(ctx context.Context, ref name.Reference) (string, error) {
	head, err := r.head(ctx, ref)
	if err != nil && !headFallback(err) {
		return "", err
	}
	if err == nil && !r.verifyContent {
		return head, nil
	}
	got, _, err := r.get(ctx, ref)
	if err != nil {
		return "", err
	}
	if head != "" && got.digest != head {
		return "", badAnswer("%s with digest %s, but a GET of the same manifest serves content that hashes to %s", got.answer.what(), head, got.digest)
	}
	return got.digest, nil
}

// head is one checked HEAD: its digest, or why it cannot name one.
func (r *Remote) head(ctx context.Context, ref name.Reference) (string, error) {
	ctx, a := withAnswer(ctx)
	desc, err := r.puller.Head(ctx, ref)
	if err != nil {
		// A definite but unusable answer (a login page, a sha512 digest)
		// is reported as such; missing headers leave it to a GET.
		if problem := a.snapshot().headersProblem(); problem != nil {
			return "", problem
		}
		return "", err
	}
	return checkHead(a.snapshot(), desc)
}

// checked is a checked manifest GET.
type checked struct {
	digest string
	answer manifestAnswer
}

// get is one checked manifest GET, with the descriptor go-containerregistry
// made of it.
func (r *Remote) get(ctx context.Context, ref name.Reference) (checked, *remote.Descriptor, error) {
	ctx, a := withAnswer(ctx)
	desc, err := r.puller.Get(ctx, ref)
	if err != nil {
		if problem := a.snapshot().headersProblem(); problem != nil {
			return checked{}, nil, problem
		}
		return checked{}, nil, err
	}
	ans := a.snapshot()
	digest, err := checkGet(ans, desc.MediaType, desc.Manifest)
	if err != nil {
		return checked{}, nil, err
	}
	return checked{digest: digest, answer: ans}, desc, nil
}

// headFallback reports whether a HEAD failure is worth a GET: for registries
// whose HEAD is broken (405, missing headers), not for definite answers
// (not found, auth, rate limits, a checked answer that cannot be a pin),
// nor for 5xx, which the transport already retried, nor for network or
// deadline errors.
func headFallback(err error) bool {
	var aerr *answerError
	if errors.As(err, &aerr) {
		return false
	}
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
// matches. With VerifyContent the child is fetched and hashed too.
func (r *Remote) platformDigest(ctx context.Context, ref name.Reference, platform string) (string, error) {
	want, err := v1.ParsePlatform(platform)
	if err != nil {
		return "", NewError(PlatformNotFound, "", fmt.Sprintf("invalid platform %q: %v", platform, err))
	}
	got, desc, err := r.get(ctx, ref)
	if err != nil {
		return "", err
	}
	if !desc.MediaType.IsIndex() {
		return r.singlePlatform(desc, got.digest, platform, want)
	}
	idx, err := v1.ParseIndexManifest(bytes.NewReader(desc.Manifest))
	if err != nil {
		return "", err
	}
	var seen []string
	for _, m := range idx.Manifests {
		if m.Platform == nil {
			continue
		}
		if !matchPlatform(*m.Platform, *want) {
			seen = append(seen, m.Platform.String())
			continue
		}
		child := m.Digest.String()
		if imageref.ValidateDigest(child) != nil {
			return "", badAnswer("%s with an index whose %s child has digest %q, not sha256: and 64 lower-case hex digits", got.answer.what(), platform, child)
		}
		if r.verifyContent {
			if _, err := r.manifestDigest(ctx, ref.Context().Digest(child)); err != nil {
				return "", err
			}
		}
		return child, nil
	}
	return "", NewError(PlatformNotFound, "", fmt.Sprintf("%s not in index (has %s)", platform, strings.Join(seen, ", ")))
}

// singlePlatform answers for an image that is not an index: its own digest
// when its config names the platform.
func (r *Remote) singlePlatform(desc *remote.Descriptor, digest, platform string, want *v1.Platform) (string, error) {
	img, err := desc.Image()
	if err != nil {
		return "", err
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return "", err
	}
	if got := cfg.Platform(); got != nil && matchPlatform(*got, *want) {
		return digest, nil
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
