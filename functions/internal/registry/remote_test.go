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
	"context"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/cloud37/ansible-playbook-operator/functions/internal/imageref"
	"github.com/cloud37/ansible-playbook-operator/functions/internal/registry"
	"github.com/cloud37/ansible-playbook-operator/functions/internal/registrytest"
)

// fastRetry keeps retried tests quick; a Retry-After the registry sends still wins.
var fastRetry = registry.RetryPolicy{Base: 10 * time.Millisecond}

// newRemote builds a resolver that never blames the network (the sandbox
// may have no external interface) and backs off briefly unless told otherwise.
func newRemote(t *testing.T, opts registry.Options) *registry.Remote {
	t.Helper()
	if opts.HasNetwork == nil {
		opts.HasNetwork = func() bool { return true }
	}
	if opts.Retry == (registry.RetryPolicy{}) {
		opts.Retry = fastRetry
	}
	r, err := registry.NewRemote(opts)
	if err != nil {
		t.Fatalf("NewRemote: %v", err)
	}
	return r
}

func parseRef(t *testing.T, s string) imageref.Ref {
	t.Helper()
	ref, err := imageref.Parse(s)
	if err != nil {
		t.Fatalf("imageref.Parse(%q): %v", s, err)
	}
	return ref
}

// testContext bounds every lookup, so a hanging registry fails the test
// instead of the whole run.
func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func resolve(t *testing.T, r *registry.Remote, ref, platform string) (string, error) {
	t.Helper()
	return r.Resolve(testContext(t), parseRef(t, ref), platform)
}

func mustResolve(t *testing.T, r *registry.Remote, ref, platform string) string {
	t.Helper()
	got, err := resolve(t, r, ref, platform)
	if err != nil {
		t.Fatalf("Resolve(%q, %q): %v", ref, platform, err)
	}
	return got
}

// wantCode asserts err is a classified *registry.Error with code and a hint.
func wantCode(t *testing.T, err error, code registry.Code) *registry.Error {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want code %q", code)
	}
	var e *registry.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not a *registry.Error", err, err)
	}
	if e.Code != code {
		t.Fatalf("Code = %q, want %q (error: %v)", e.Code, code, e)
	}
	if e.Hint == "" {
		t.Errorf("Hint is empty for %v", e)
	}
	return e
}

// assertNoSecret fails when any user-visible part of e contains a secret.
func assertNoSecret(t *testing.T, e *registry.Error, secrets ...string) {
	t.Helper()
	for _, secret := range secrets {
		if secret == "" {
			t.Fatal("assertNoSecret called with an empty secret")
		}
		for field, text := range map[string]string{"Error()": e.Error(), "Message()": e.Message(), "Hint": e.Hint, "Detail": e.Detail} {
			if strings.Contains(text, secret) {
				t.Errorf("%s leaks a password: %q", field, text)
			}
		}
	}
}

// hostKeychain hands out credentials for one registry host only, like a
// docker config with one "auths" entry.
type hostKeychain struct {
	host string
	auth authn.Authenticator
}

func (k hostKeychain) Resolve(res authn.Resource) (authn.Authenticator, error) {
	if res.RegistryStr() == k.host {
		return k.auth, nil
	}
	return authn.Anonymous, nil
}

func keychainFor(reg *registrytest.Registry) authn.Keychain {
	return authn.NewMultiKeychain(hostKeychain{host: reg.Host, auth: reg.Auth()})
}

// anonymousDockerConfig points DOCKER_CONFIG at a config without
// credentials, so the default keychain cannot pick up the developer's.
func anonymousDockerConfig(t *testing.T) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"auths":{}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DOCKER_CONFIG", dir)
}

// pushPlatformImage pushes a single-platform image whose config declares
// platform ("linux/arm64") and returns its manifest digest.
func pushPlatformImage(t *testing.T, reg *registrytest.Registry, repoTag, platform string) string {
	t.Helper()
	plat, err := v1.ParsePlatform(platform)
	if err != nil {
		t.Fatal(err)
	}
	img, err := random.Image(256, 1)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Variant = plat.OS, plat.Architecture, plat.Variant
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	tag, err := name.NewTag(reg.Ref(repoTag))
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(tag, img, reg.RemoteOptions()...); err != nil {
		t.Fatalf("pushing %s: %v", tag, err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d.String()
}

func TestResolveAnonymousTagReturnsTheManifestDigestNotTheConfigDigest(t *testing.T) {
	reg := registrytest.Start(t, registrytest.Options{})
	pushed := reg.PushRandom(t, "team/app:1.0")
	r := newRemote(t, registry.Options{Keychain: authn.NewMultiKeychain()})

	got := mustResolve(t, r, reg.Ref("team/app:1.0"), "")
	if got != pushed {
		t.Errorf("Resolve = %s, want the pushed manifest digest %s", got, pushed)
	}

	tag, err := name.NewTag(reg.Ref("team/app:1.0"))
	if err != nil {
		t.Fatal(err)
	}
	img, err := remote.Image(tag, reg.RemoteOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	config, err := img.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	if config.String() == pushed {
		t.Fatalf("test image is degenerate: config digest equals manifest digest %s", pushed)
	}
	if got == config.String() {
		t.Errorf("Resolve returned the config digest %s", config)
	}

	if err := r.Exists(testContext(t), parseRef(t, reg.Ref("team/app:1.0")), got); err != nil {
		t.Errorf("Exists(resolved digest) = %v, want nil", err)
	}
}

func TestResolvePlatform(t *testing.T) {
	reg := registrytest.Start(t, registrytest.Options{})
	index, children := reg.PushIndex(t, "team/multi:1", "linux/amd64", "linux/arm64", "linux/arm/v7")
	single := pushPlatformImage(t, reg, "team/single:1", "linux/arm64")
	r := newRemote(t, registry.Options{Keychain: authn.NewMultiKeychain()})

	for name, tc := range map[string]struct {
		ref, platform string
		want          string
		wantCode      registry.Code
		wantInMessage []string
	}{
		"an index without a platform resolves to the index digest": {
			ref: "team/multi:1", want: index,
		},
		"an index with linux/arm64 resolves to that child's digest": {
			ref: "team/multi:1", platform: "linux/arm64", want: children["linux/arm64"],
		},
		"an index with linux/arm/v7 resolves to the child with that variant": {
			ref: "team/multi:1", platform: "linux/arm/v7", want: children["linux/arm/v7"],
		},
		"a platform the index lacks is PlatformNotFound listing the platforms present": {
			ref: "team/multi:1", platform: "linux/s390x", wantCode: registry.PlatformNotFound,
			wantInMessage: []string{"linux/s390x", "linux/amd64", "linux/arm64", "linux/arm/v7"},
		},
		"a single-platform image with its own platform resolves to its own digest": {
			ref: "team/single:1", platform: "linux/arm64", want: single,
		},
		"a single-platform image without a platform resolves to its own digest": {
			ref: "team/single:1", want: single,
		},
		"a single-platform image for another platform is PlatformNotFound naming both": {
			ref: "team/single:1", platform: "linux/amd64", wantCode: registry.PlatformNotFound,
			wantInMessage: []string{"linux/arm64", "linux/amd64"},
		},
		"an unparsable platform is PlatformNotFound": {
			ref: "team/multi:1", platform: "linux/arm64/v8/extra", wantCode: registry.PlatformNotFound,
		},
	} {
		t.Run(name, func(t *testing.T) {
			got, err := resolve(t, r, reg.Ref(tc.ref), tc.platform)
			if tc.wantCode != "" {
				e := wantCode(t, err, tc.wantCode)
				for _, s := range tc.wantInMessage {
					if !strings.Contains(e.Error(), s) {
						t.Errorf("error %q does not mention %q", e.Error(), s)
					}
				}
				if !strings.HasPrefix(e.Error(), reg.Ref(tc.ref)+": ") {
					t.Errorf("error %q does not start with the reference as written", e.Error())
				}
				return
			}
			if err != nil {
				t.Fatalf("Resolve: %v", err)
			}
			if got != tc.want {
				t.Errorf("Resolve = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestResolveBasicAuth(t *testing.T) {
	reg := registrytest.Start(t, registrytest.Options{Auth: registrytest.AuthBasic})
	pushed := reg.PushRandom(t, "team/app:1")
	ref := reg.Ref("team/app:1")
	wrongPassword := "wrong-" + reg.Password[:8] + "-password"

	t.Run("credentials from DOCKER_CONFIG and the default keychain resolve", func(t *testing.T) {
		t.Setenv("DOCKER_CONFIG", reg.WriteDockerConfig(t))
		r := newRemote(t, registry.Options{})
		if got := mustResolve(t, r, ref, ""); got != pushed {
			t.Errorf("Resolve = %s, want %s", got, pushed)
		}
	})

	t.Run("credentials from Options.Keychain resolve", func(t *testing.T) {
		anonymousDockerConfig(t)
		r := newRemote(t, registry.Options{Keychain: keychainFor(reg)})
		if got := mustResolve(t, r, ref, ""); got != pushed {
			t.Errorf("Resolve = %s, want %s", got, pushed)
		}
	})

	for name, keychain := range map[string]authn.Keychain{
		"no credentials is Unauthorized with a docker login hint": nil,
		"a wrong password is Unauthorized and never echoed": authn.NewMultiKeychain(hostKeychain{
			host: reg.Host, auth: &authn.Basic{Username: reg.Username, Password: wrongPassword},
		}),
	} {
		t.Run(name, func(t *testing.T) {
			anonymousDockerConfig(t)
			r := newRemote(t, registry.Options{Keychain: keychain})
			_, err := resolve(t, r, ref, "")
			e := wantCode(t, err, registry.Unauthorized)
			if !strings.Contains(e.Hint, "docker login") {
				t.Errorf("Hint %q does not mention docker login", e.Hint)
			}
			assertNoSecret(t, e, reg.Password, wrongPassword)

			err = r.Exists(testContext(t), parseRef(t, ref), pushed)
			assertNoSecret(t, wantCode(t, err, registry.Unauthorized), reg.Password, wrongPassword)
		})
	}
}

func TestResolveTokenAuth(t *testing.T) {
	reg := registrytest.Start(t, registrytest.Options{Auth: registrytest.AuthToken})
	digests := map[string]string{}
	for _, repoTag := range []string{"team/app:1", "team/app:2", "team/app:3", "team/other:1"} {
		digests[repoTag] = reg.PushRandom(t, repoTag)
	}

	for name, tc := range map[string]struct {
		repoTags   []string
		wantTokens int64
	}{
		"three tags of one repository need one token": {
			repoTags: []string{"team/app:1", "team/app:2", "team/app:3", "team/app:1"}, wantTokens: 1,
		},
		"one tag each of two repositories need two tokens": {
			repoTags: []string{"team/app:1", "team/other:1"}, wantTokens: 2,
		},
	} {
		t.Run(name, func(t *testing.T) {
			anonymousDockerConfig(t)
			r := newRemote(t, registry.Options{Keychain: keychainFor(reg)})
			before := reg.TokenRequests()
			for _, repoTag := range tc.repoTags {
				if got := mustResolve(t, r, reg.Ref(repoTag), ""); got != digests[repoTag] {
					t.Errorf("Resolve(%s) = %s, want %s", repoTag, got, digests[repoTag])
				}
			}
			if got := reg.TokenRequests() - before; got != tc.wantTokens {
				t.Errorf("token requests = %d, want %d", got, tc.wantTokens)
			}
		})
	}

	t.Run("no credentials is Unauthorized", func(t *testing.T) {
		anonymousDockerConfig(t)
		r := newRemote(t, registry.Options{})
		_, err := resolve(t, r, reg.Ref("team/app:1"), "")
		assertNoSecret(t, wantCode(t, err, registry.Unauthorized), reg.Password)
	})
}

func TestResolveTLS(t *testing.T) {
	reg := registrytest.Start(t, registrytest.Options{TLS: true})
	pushed := reg.PushRandom(t, "team/app:1")
	ref := reg.Ref("team/app:1")

	t.Run("the test CA in CABundle is trusted", func(t *testing.T) {
		r := newRemote(t, registry.Options{Keychain: authn.NewMultiKeychain(), CABundle: reg.CAPEM})
		if got := mustResolve(t, r, ref, ""); got != pushed {
			t.Errorf("Resolve = %s, want %s", got, pushed)
		}
	})

	t.Run("without CABundle the untrusted certificate is reported", func(t *testing.T) {
		r := newRemote(t, registry.Options{Keychain: authn.NewMultiKeychain()})
		_, err := resolve(t, r, ref, "")
		// go-containerregistry also tries plain HTTP for 127.0.0.1 and gets
		// 400 from the TLS port; the certificate is still what is reported.
		e := wantCode(t, err, registry.Unreachable)
		for _, s := range []string{"certificate", "https://" + reg.Host} {
			if !strings.Contains(e.Error(), s) {
				t.Errorf("error %q does not mention %q", e.Error(), s)
			}
		}
		t.Logf("reported as: %v", e)
	})

	t.Run("a registry named insecure resolves over unverified TLS", func(t *testing.T) {
		r := newRemote(t, registry.Options{Keychain: authn.NewMultiKeychain(), Insecure: []string{reg.Host}})
		if got := mustResolve(t, r, ref, ""); got != pushed {
			t.Errorf("Resolve = %s, want %s", got, pushed)
		}
	})

	t.Run("a token registry over TLS resolves with CABundle and credentials", func(t *testing.T) {
		treg := registrytest.Start(t, registrytest.Options{Auth: registrytest.AuthToken, TLS: true})
		want := treg.PushRandom(t, "team/app:1")
		t.Setenv("DOCKER_CONFIG", treg.WriteDockerConfig(t))
		r := newRemote(t, registry.Options{CABundle: treg.CAPEM})
		if got := mustResolve(t, r, treg.Ref("team/app:1"), ""); got != want {
			t.Errorf("Resolve = %s, want %s", got, want)
		}
	})
}

// closedPortHost returns "127.0.0.1:PORT" of a port nothing listens on.
func closedPortHost(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	host := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return host
}

func TestResolveAndExistsErrors(t *testing.T) {
	reg := registrytest.Start(t, registrytest.Options{})
	kept := reg.PushRandom(t, "team/app:1")
	deleted := reg.PushRandom(t, "team/app:gone")
	reg.Delete(t, "team/app", deleted)
	anonymous := authn.NewMultiKeychain()
	r := newRemote(t, registry.Options{Keychain: anonymous})

	t.Run("an unknown tag is ManifestUnknown", func(t *testing.T) {
		_, err := resolve(t, r, reg.Ref("team/app:nope"), "")
		wantCode(t, err, registry.ManifestUnknown)
	})

	t.Run("an unknown tag with a platform is ManifestUnknown", func(t *testing.T) {
		_, err := resolve(t, r, reg.Ref("team/app:nope"), "linux/amd64")
		wantCode(t, err, registry.ManifestUnknown)
	})

	t.Run("an unknown repository is ManifestUnknown", func(t *testing.T) {
		_, err := resolve(t, r, reg.Ref("team/nothing:1"), "")
		wantCode(t, err, registry.ManifestUnknown)
	})

	t.Run("Exists on a kept digest succeeds", func(t *testing.T) {
		if err := r.Exists(testContext(t), parseRef(t, reg.Ref("team/app:1")), kept); err != nil {
			t.Errorf("Exists = %v, want nil", err)
		}
	})

	t.Run("Exists on a deleted digest is ManifestUnknown", func(t *testing.T) {
		err := r.Exists(testContext(t), parseRef(t, reg.Ref("team/app:gone")), deleted)
		wantCode(t, err, registry.ManifestUnknown)
	})

	for name, digest := range map[string]string{
		"Exists with upper-case hex is InvalidDigest":  "sha256:" + strings.ToUpper(strings.TrimPrefix(kept, "sha256:")),
		"Exists with a short digest is InvalidDigest":  kept[:20],
		"Exists with sha512 is InvalidDigest":          "sha512:" + strings.Repeat("a", 128),
		"Exists with no algorithm is InvalidDigest":    strings.TrimPrefix(kept, "sha256:"),
		"Exists with an empty digest is InvalidDigest": "",
		"Exists with trailing space is InvalidDigest":  kept + " ",
		"Exists with a non-hex digit is InvalidDigest": "sha256:" + strings.Repeat("g", 64),
		"Exists with 65 hex digits is InvalidDigest":   kept + "0",
		"Exists without the colon is InvalidDigest":    "sha256" + strings.TrimPrefix(kept, "sha256:"),
	} {
		t.Run(name, func(t *testing.T) {
			err := r.Exists(testContext(t), parseRef(t, reg.Ref("team/app:1")), digest)
			wantCode(t, err, registry.InvalidDigest)
		})
	}

	t.Run("a registry that is down is Unreachable", func(t *testing.T) {
		host := closedPortHost(t)
		_, err := resolve(t, r, host+"/team/app:1", "")
		e := wantCode(t, err, registry.Unreachable)
		if !strings.Contains(e.Error(), host) {
			t.Errorf("error %q does not name the registry %s", e.Error(), host)
		}
	})

	t.Run("a registry that is down without any network is NetworkRequired", func(t *testing.T) {
		offline := newRemote(t, registry.Options{Keychain: anonymous, HasNetwork: func() bool { return false }})
		_, err := resolve(t, offline, closedPortHost(t)+"/team/app:1", "")
		wantCode(t, err, registry.NetworkRequired)
	})

	t.Run("a run stopped while the registry is slow is Interrupted, not Timeout", func(t *testing.T) {
		proxy := registrytest.NewProxy(t, reg.Host)
		held, release := proxy.Hold()
		defer release()
		ctx, cancel := context.WithCancel(t.Context())
		go func() {
			<-held
			cancel() // what Ctrl-C does to the run's context
		}()
		_, err := r.Resolve(ctx, parseRef(t, proxy.Host+"/team/app:1"), "")
		wantCode(t, err, registry.Interrupted)
	})

	t.Run("a deadline that passes while the registry is slow is Timeout", func(t *testing.T) {
		proxy := registrytest.NewProxy(t, reg.Host)
		proxy.SetDelay(2 * time.Second)
		ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
		defer cancel()
		_, err := r.Resolve(ctx, parseRef(t, proxy.Host+"/team/app:1"), "")
		wantCode(t, err, registry.Timeout)
	})
}

// manifestCounts keeps the manifest request counts of a proxy snapshot.
func manifestCounts(byMethod map[string]int64) map[string]int64 {
	return map[string]int64{http.MethodHead: byMethod[http.MethodHead], http.MethodGet: byMethod[http.MethodGet]}
}

func TestResolveRetries(t *testing.T) {
	reg := registrytest.Start(t, registrytest.Options{})
	pushed := reg.PushRandom(t, "team/app:1")
	proxy := registrytest.NewProxy(t, reg.Host)
	ref := proxy.Host + "/team/app:1"

	for name, tc := range map[string]struct {
		policy             registry.RetryPolicy
		failures, status   int
		retryAfter         string
		wantCode           registry.Code // empty: resolves to pushed
		wantHEAD, wantGET  int64
		wantFailuresUnused bool
	}{
		"two 429s with Retry-After are waited out and the third HEAD succeeds": {
			policy: fastRetry, failures: 2, status: http.StatusTooManyRequests, retryAfter: "1",
			wantHEAD: 3,
		},
		"one 503 is retried and the second HEAD succeeds": {
			policy: fastRetry, failures: 1, status: http.StatusServiceUnavailable,
			wantHEAD: 2,
		},
		// HEAD is tried Attempts times; a 5xx that outlasted the retries is
		// not worth a GET (headFallback), which would retry all over again.
		"500 on every try is Failed after Attempts HEADs and no GET": {
			policy: registry.RetryPolicy{Attempts: 3, Base: 10 * time.Millisecond}, failures: 10, status: http.StatusInternalServerError,
			wantCode: registry.Failed, wantHEAD: 3, wantGET: 0, wantFailuresUnused: true,
		},
		"429 beyond Attempts is RateLimited without a GET": {
			policy: registry.RetryPolicy{Attempts: 3, Base: 10 * time.Millisecond}, failures: 10, status: http.StatusTooManyRequests,
			wantCode: registry.RateLimited, wantHEAD: 3, wantFailuresUnused: true,
		},
		"404 is ManifestUnknown at once, without retry or GET": {
			policy: fastRetry, failures: 10, status: http.StatusNotFound,
			wantCode: registry.ManifestUnknown, wantHEAD: 1, wantFailuresUnused: true,
		},
	} {
		t.Run(name, func(t *testing.T) {
			r := newRemote(t, registry.Options{Keychain: authn.NewMultiKeychain(), Retry: tc.policy})
			proxy.Reset()
			proxy.FailNext(tc.failures, tc.status, tc.retryAfter)
			defer proxy.Reset()

			got, err := resolve(t, r, ref, "")
			if tc.wantCode != "" {
				wantCode(t, err, tc.wantCode)
			} else if err != nil {
				t.Fatalf("Resolve: %v", err)
			} else if got != pushed {
				t.Errorf("Resolve = %s, want %s", got, pushed)
			}

			want := map[string]int64{http.MethodHead: tc.wantHEAD, http.MethodGet: tc.wantGET}
			if diff := cmp.Diff(want, manifestCounts(proxy.RequestsByMethod())); diff != "" {
				t.Errorf("manifest requests (-want +got):\n%s", diff)
			}
			if tc.wantFailuresUnused {
				// The leftover injected failures prove the resolver gave up
				// rather than running out of failures to see.
				proxy.Reset()
				if d := mustResolve(t, r, ref, ""); d != pushed {
					t.Errorf("Resolve after Reset = %s, want %s", d, pushed)
				}
			}
		})
	}
}

func TestResolveMirrors(t *testing.T) {
	mirrorReg := registrytest.Start(t, registrytest.Options{})
	mirrored := mirrorReg.PushRandom(t, "mirror/team/app:1")
	origin := registrytest.Start(t, registrytest.Options{}) // has no team/app:1
	anonymous := authn.NewMultiKeychain()

	for name, tc := range map[string]struct {
		ref     string
		mirrors []registry.Mirror
	}{
		"a mirror for an unresolvable registry serves the digest": {
			ref:     "registry.invalid.example:5000/team/app:1",
			mirrors: []registry.Mirror{{From: "registry.invalid.example:5000", To: mirrorReg.Host + "/mirror"}},
		},
		"a mirror is asked instead of a registry that lacks the tag": {
			ref:     origin.Ref("team/app:1"),
			mirrors: []registry.Mirror{{From: origin.Host, To: mirrorReg.Host + "/mirror/"}},
		},
		"the first matching mirror wins": {
			ref: "registry.invalid.example:5000/team/app:1",
			mirrors: []registry.Mirror{
				{From: "other.invalid.example", To: origin.Host},
				{From: "registry.invalid.example:5000/team", To: mirrorReg.Host + "/mirror/team"},
				{From: "registry.invalid.example:5000", To: origin.Host},
			},
		},
	} {
		t.Run(name, func(t *testing.T) {
			r := newRemote(t, registry.Options{Keychain: anonymous, Mirrors: tc.mirrors})
			if got := mustResolve(t, r, tc.ref, ""); got != mirrored {
				t.Errorf("Resolve = %s, want the mirror's %s", got, mirrored)
			}
			if err := r.Exists(testContext(t), parseRef(t, tc.ref), mirrored); err != nil {
				t.Errorf("Exists on the mirror = %v, want nil", err)
			}
		})
	}

	t.Run("without a mirror the registry that lacks the tag answers ManifestUnknown", func(t *testing.T) {
		r := newRemote(t, registry.Options{Keychain: anonymous})
		_, err := resolve(t, r, origin.Ref("team/app:1"), "")
		wantCode(t, err, registry.ManifestUnknown)
	})
}

var manifestPathRE = regexp.MustCompile(`^/v2/.+/manifests/[^/]+$`)

// digestlessHEAD serves a registry whose HEAD manifest answers lack
// Docker-Content-Digest, as some registries' do, and counts manifest requests.
type digestlessHEAD struct {
	inner http.Handler
	mu    sync.Mutex
	count map[string]int64
}

func (h *digestlessHEAD) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if manifestPathRE.MatchString(r.URL.Path) {
		h.mu.Lock()
		h.count[r.Method]++
		h.mu.Unlock()
		if r.Method == http.MethodHead {
			w = dropDigest{w}
		}
	}
	h.inner.ServeHTTP(w, r)
}

func (h *digestlessHEAD) snapshot() map[string]int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return manifestCounts(h.count)
}

func (h *digestlessHEAD) reset() {
	h.mu.Lock()
	defer h.mu.Unlock()
	clear(h.count)
}

type dropDigest struct{ http.ResponseWriter }

func (d dropDigest) WriteHeader(status int) {
	d.Header().Del("Docker-Content-Digest")
	d.ResponseWriter.WriteHeader(status)
}

func (d dropDigest) Write(b []byte) (int, error) {
	d.Header().Del("Docker-Content-Digest")
	return d.ResponseWriter.Write(b)
}

func TestResolveFallsBackToGETWhenHEADLacksTheDigest(t *testing.T) {
	h := &digestlessHEAD{
		inner: ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0))),
		count: map[string]int64{},
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")

	img, err := random.Image(256, 1)
	if err != nil {
		t.Fatal(err)
	}
	tag, err := name.NewTag(host + "/team/app:1")
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(tag, img); err != nil {
		t.Fatal(err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	want := d.String()
	r := newRemote(t, registry.Options{Keychain: authn.NewMultiKeychain()})

	t.Run("Resolve reads the digest from a GET", func(t *testing.T) {
		h.reset()
		if got := mustResolve(t, r, host+"/team/app:1", ""); got != want {
			t.Errorf("Resolve = %s, want %s", got, want)
		}
		if diff := cmp.Diff(map[string]int64{"HEAD": 1, "GET": 1}, h.snapshot()); diff != "" {
			t.Errorf("manifest requests (-want +got):\n%s", diff)
		}
	})

	t.Run("Exists confirms the digest with a GET", func(t *testing.T) {
		h.reset()
		if err := r.Exists(testContext(t), parseRef(t, host+"/team/app:1"), want); err != nil {
			t.Errorf("Exists = %v, want nil", err)
		}
		if diff := cmp.Diff(map[string]int64{"HEAD": 1, "GET": 1}, h.snapshot()); diff != "" {
			t.Errorf("manifest requests (-want +got):\n%s", diff)
		}
	})
}

// connectProxy is a forward proxy that tunnels CONNECT to one upstream
// address, whatever host the client asked for, and refuses everything else.
type connectProxy struct {
	upstream string
	mu       sync.Mutex
	seen     []string // "METHOD host"
}

func (p *connectProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	p.seen = append(p.seen, r.Method+" "+r.Host)
	p.mu.Unlock()
	if r.Method != http.MethodConnect {
		http.Error(w, "test proxy only tunnels CONNECT", http.StatusBadGateway)
		return
	}
	up, err := net.Dial("tcp", p.upstream)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer up.Close()
	conn, buf, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	defer conn.Close()
	if _, err := conn.Write([]byte("HTTP/1.1 200 Connection Established\r\n\r\n")); err != nil {
		return
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = io.Copy(up, buf) // buf holds any bytes the client sent early
		if tc, ok := up.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
	}()
	_, _ = io.Copy(conn, up)
	_ = conn.Close()
	<-done
}

func (p *connectProxy) requests() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.seen...)
}

// Environment of the child process of TestResolveHonoursHTTPSProxy.
const (
	proxyChildEnv  = "REGISTRY_TEST_PROXY_CHILD"
	proxyChildRef  = "REGISTRY_TEST_PROXY_REF"
	proxyChildWant = "REGISTRY_TEST_PROXY_WANT"
	proxiedHost    = "registry.example.invalid:5000"
)

// TestResolveHonoursHTTPSProxy resolves a reference whose registry host
// cannot be resolved, so only the HTTPS_PROXY from the environment can
// reach it. net/http reads the proxy variables once per process, so the
// lookup runs in a child process started with them, not under t.Setenv.
// The registry's certificate names 127.0.0.1 and localhost only, so the
// child names the host insecure (unverified TLS through the tunnel).
func TestResolveHonoursHTTPSProxy(t *testing.T) {
	if os.Getenv(proxyChildEnv) == "1" {
		proxyChild(t)
		return
	}
	reg := registrytest.Start(t, registrytest.Options{TLS: true})
	want := reg.PushRandom(t, "team/app:1")
	p := &connectProxy{upstream: reg.Host}
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)

	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, exe, "-test.run=^TestResolveHonoursHTTPSProxy$", "-test.count=1", "-test.v")
	cmd.Env = append(withoutProxyEnv(os.Environ()),
		proxyChildEnv+"=1",
		proxyChildRef+"="+proxiedHost+"/team/app:1",
		proxyChildWant+"="+want,
		"HTTPS_PROXY="+srv.URL, "https_proxy="+srv.URL,
		"HTTP_PROXY="+srv.URL, "http_proxy="+srv.URL,
		"DOCKER_CONFIG="+t.TempDir(),
	)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child resolving through the proxy failed: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "--- PASS: TestResolveHonoursHTTPSProxy") {
		t.Fatalf("child did not run the lookup:\n%s", out)
	}
	var tunnels int
	for _, req := range p.requests() {
		if req == http.MethodConnect+" "+proxiedHost {
			tunnels++
		}
	}
	if tunnels == 0 {
		t.Errorf("proxy saw %q, want a CONNECT %s", p.requests(), proxiedHost)
	}
}

func proxyChild(t *testing.T) {
	ref, want := os.Getenv(proxyChildRef), os.Getenv(proxyChildWant)
	r := newRemote(t, registry.Options{Keychain: authn.NewMultiKeychain(), Insecure: []string{proxiedHost}})
	if got := mustResolve(t, r, ref, ""); got != want {
		t.Errorf("Resolve(%s) through the proxy = %s, want %s", ref, got, want)
	}
}

// withoutProxyEnv drops proxy variables so the child sees only the test's.
func withoutProxyEnv(env []string) []string {
	var out []string
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		switch strings.ToUpper(k) {
		case "HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY", "ALL_PROXY", "REQUEST_METHOD":
			continue
		}
		out = append(out, kv)
	}
	return out
}
