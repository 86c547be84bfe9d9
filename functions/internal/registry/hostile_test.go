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
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/cloud37/ansible-playbook-operator/functions/internal/registry"
	"github.com/cloud37/ansible-playbook-operator/functions/internal/registrytest"
)

// hostile is a real docker-registry behind a proxy that gives hostile answers.
type hostile struct {
	reg    *registrytest.Registry
	proxy  *registrytest.Proxy
	single string // digest of team/app:1, single-platform linux/amd64
	index  string // digest of team/multi:1, an index
}

func startHostile(t *testing.T) *hostile {
	t.Helper()
	reg := registrytest.Start(t, registrytest.Options{})
	h := &hostile{reg: reg, single: pushPlatformImage(t, reg, "team/app:1", "linux/amd64")}
	h.index, _ = reg.PushIndex(t, "team/multi:1", "linux/amd64", "linux/arm64")
	h.proxy = registrytest.NewProxy(t, reg.Host)
	return h
}

// Every way pin-images asks for a digest, so each hostile answer is tried
// on the HEAD path, the GET paths and the existence check.
var lookups = map[string]func(t *testing.T, r *registry.Remote, h *hostile) (string, error){
	"Resolve of a tag (HEAD)": func(t *testing.T, r *registry.Remote, h *hostile) (string, error) {
		return resolve(t, r, h.proxy.Host+"/team/app:1", "")
	},
	"Resolve of a platform (GET of the index)": func(t *testing.T, r *registry.Remote, h *hostile) (string, error) {
		return resolve(t, r, h.proxy.Host+"/team/multi:1", "linux/arm64")
	},
	"Resolve of a platform of a single-platform image (GET)": func(t *testing.T, r *registry.Remote, h *hostile) (string, error) {
		return resolve(t, r, h.proxy.Host+"/team/app:1", "linux/amd64")
	},
	"Exists of a digest": func(t *testing.T, r *registry.Remote, h *hostile) (string, error) {
		return "", r.Exists(testContext(t), parseRef(t, h.proxy.Host+"/team/app:1"), h.single)
	},
}

func TestResolve_checksEveryAnswer(t *testing.T) {
	h := startHostile(t)
	r := newRemote(t, registry.Options{Keychain: authn.NewMultiKeychain()})

	for name, tc := range map[string]struct {
		fault registrytest.Fault
		// want are what the error must say came back.
		want []string
		// only limits the case to the lookups that see the fault (a GET-only
		// fault never reaches a HEAD that succeeds); empty: every lookup.
		only []string
	}{
		"a login page": {
			fault: registrytest.HTMLPage, want: []string{"text/html", "not a manifest"},
		},
		"a manifest served as application/octet-stream": {
			fault: registrytest.WrongMediaType, want: []string{"application/octet-stream", "not a manifest"},
		},
		"a sha512 Docker-Content-Digest": {
			fault: registrytest.SHA512Digest, want: []string{"sha512:", "Docker-Content-Digest"},
		},
		"a malformed Docker-Content-Digest": {
			fault: registrytest.MalformedDigest, want: []string{"sha256:0123456789ab", "Docker-Content-Digest"},
		},
		"a body cut short under its full Content-Length": {
			fault: registrytest.TruncatedBody, want: []string{"cut short"},
			only: []string{"Resolve of a platform (GET of the index)", "Resolve of a platform of a single-platform image (GET)"},
		},
		"a body cut short without Content-Length or digest": {
			fault: registrytest.UnsizedTruncatedBody, want: []string{"not a valid"},
			only: []string{"Resolve of a platform (GET of the index)", "Resolve of a platform of a single-platform image (GET)"},
		},
		"a GET whose Docker-Content-Digest is not its body's": {
			fault: registrytest.BodyDigestMismatch, want: []string{"Docker-Content-Digest", "hashes to"},
			only: []string{"Resolve of a platform (GET of the index)", "Resolve of a platform of a single-platform image (GET)"},
		},
	} {
		for lookup, do := range lookups {
			if len(tc.only) > 0 && !contains(tc.only, lookup) {
				continue
			}
			t.Run(name+" is an error, never a pin: "+lookup, func(t *testing.T) {
				h.proxy.Reset()
				h.proxy.SetFault(tc.fault, 0)
				defer h.proxy.Reset()
				digest, err := do(t, r, h)
				e := wantCode(t, err, registry.InvalidAnswer)
				t.Logf("reported as: %v", e)
				if digest != "" {
					t.Errorf("digest %q returned with the error", digest)
				}
				for _, s := range append([]string{h.proxy.Host}, tc.want...) {
					if !strings.Contains(e.Error(), s) {
						t.Errorf("error %q does not say %q", e.Error(), s)
					}
				}
			})
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestResolve_redirectLoopIsBounded(t *testing.T) {
	h := startHostile(t)
	r := newRemote(t, registry.Options{Keychain: authn.NewMultiKeychain()})
	h.proxy.SetFault(registrytest.RedirectLoop, 0)

	_, err := resolve(t, r, h.proxy.Host+"/team/app:1", "")
	e := wantCode(t, err, registry.InvalidAnswer)
	if !strings.Contains(e.Error(), "redirect") {
		t.Errorf("error %q does not name the redirects", e.Error())
	}
	// A HEAD and its redirects, then no GET: the loop is the registry's answer.
	if got := h.proxy.RequestsByMethod()[http.MethodHead]; got > 11 {
		t.Errorf("%d HEAD requests reached the registry, want at most 11 (the request and 10 redirects)", got)
	}
	if got := h.proxy.RequestsByMethod()[http.MethodGet]; got != 0 {
		t.Errorf("%d GET requests after a redirect loop, want none", got)
	}
}

func TestResolve_connectionResetIsRetried(t *testing.T) {
	h := startHostile(t)
	r := newRemote(t, registry.Options{Keychain: authn.NewMultiKeychain()})

	t.Run("two resets are retried like a 5xx and the third HEAD answers", func(t *testing.T) {
		h.proxy.Reset()
		h.proxy.SetFault(registrytest.ResetConnection, 2)
		if got := mustResolve(t, r, h.proxy.Host+"/team/app:1", ""); got != h.single {
			t.Errorf("Resolve = %s, want %s", got, h.single)
		}
		if got := h.proxy.RequestsByMethod()[http.MethodHead]; got != 3 {
			t.Errorf("%d HEAD requests, want 3 (two reset, one answered)", got)
		}
	})
	t.Run("resets beyond the attempts are Unreachable", func(t *testing.T) {
		h.proxy.Reset()
		h.proxy.SetFault(registrytest.ResetConnection, 0)
		_, err := resolve(t, r, h.proxy.Host+"/team/app:1", "")
		wantCode(t, err, registry.Unreachable)
	})
}

func TestResolve_noSecretInErrors(t *testing.T) {
	for name, auth := range map[string]registrytest.AuthMode{
		"a registry that echoes the basic credentials it received": registrytest.AuthBasic,
		"a registry that echoes the bearer token it received":      registrytest.AuthToken,
	} {
		t.Run(name, func(t *testing.T) {
			reg := registrytest.Start(t, registrytest.Options{Auth: auth})
			reg.PushRandom(t, "team/app:1")
			proxy := registrytest.NewProxy(t, reg.Host)
			proxy.SetFault(registrytest.EchoCredentials, 0)
			anonymousDockerConfig(t)
			r := newRemote(t, registry.Options{Keychain: authn.NewMultiKeychain(hostKeychain{host: proxy.Host, auth: reg.Auth()})})
			// A GET (a platform lookup): HEAD answers carry no body to echo in.
			_, err := resolve(t, r, proxy.Host+"/team/app:1", "linux/amd64")
			e := wantCode(t, err, registry.Unauthorized)
			registrytest.NoSecret(t, "error", e.Error(), reg.Password, reg.Username+":"+reg.Password)
			// Every JWT starts with the base64 of `{"`.
			if strings.Contains(e.Error(), "eyJ") {
				t.Errorf("error leaks the bearer token: %s", e.Error())
			}
		})
	}

	t.Run("a token service over TLS that echoes a refused login", func(t *testing.T) {
		reg := registrytest.Start(t, registrytest.Options{Auth: registrytest.AuthToken, TLS: true, EchoCredentials: true})
		reg.PushRandom(t, "team/app:1")
		wrong := "wrong-" + reg.Password
		anonymousDockerConfig(t)
		r := newRemote(t, registry.Options{CABundle: reg.CAPEM, Keychain: authn.NewMultiKeychain(hostKeychain{
			host: reg.Host, auth: &authn.Basic{Username: reg.Username, Password: wrong},
		})})
		_, err := resolve(t, r, reg.Ref("team/app:1"), "")
		e := wantCode(t, err, registry.Unauthorized)
		registrytest.NoSecret(t, "error", e.Error(), wrong, reg.Username+":"+wrong)
	})

	t.Run("a mirror written with userinfo", func(t *testing.T) {
		_, err := registry.NewRemote(registry.Options{Mirrors: []registry.Mirror{{From: "docker.io", To: "https://robot:s3cr3t-mirror@mirror.example.com/hub"}}})
		if err == nil {
			t.Fatal("a mirror with userinfo was accepted")
		}
		registrytest.NoSecret(t, "error", err.Error(), "s3cr3t-mirror")
	})
}

func TestResolve_failingCredentialHelper(t *testing.T) {
	const helperOutput = "keyring locked; cached token tok-3f9a8b7c6d5e expired"
	helper := registrytest.InstallCredentialHelper(t, "broken", "", "", helperOutput)
	t.Setenv("DOCKER_CONFIG", helper.WriteDockerConfig(t))

	t.Run("an anonymous registry still resolves", func(t *testing.T) {
		reg := registrytest.Start(t, registrytest.Options{})
		want := reg.PushRandom(t, "team/app:1")
		r := newRemote(t, registry.Options{})
		if got := mustResolve(t, r, reg.Ref("team/app:1"), ""); got != want {
			t.Errorf("Resolve = %s, want %s", got, want)
		}
	})
	t.Run("a registry that needs credentials is Unauthorized naming the helper, not its output", func(t *testing.T) {
		reg := registrytest.Start(t, registrytest.Options{Auth: registrytest.AuthBasic})
		reg.PushRandom(t, "team/app:1")
		r := newRemote(t, registry.Options{})
		_, err := resolve(t, r, reg.Ref("team/app:1"), "")
		e := wantCode(t, err, registry.Unauthorized)
		if !strings.Contains(e.Error(), "credential helper") {
			t.Errorf("error %q does not say the credential helper failed", e.Error())
		}
		registrytest.NoSecret(t, "error", e.Error(), "tok-3f9a8b7c6d5e")
	})
}

func TestResolve_credentialHelperSecretsAreNeverEchoed(t *testing.T) {
	reg := registrytest.Start(t, registrytest.Options{Auth: registrytest.AuthBasic})
	reg.PushRandom(t, "team/app:1")
	proxy := registrytest.NewProxy(t, reg.Host)
	proxy.SetFault(registrytest.EchoCredentials, 0)
	helper := registrytest.InstallCredentialHelper(t, "good", reg.Username, reg.Password, "")
	t.Setenv("DOCKER_CONFIG", helper.WriteDockerConfig(t))

	r := newRemote(t, registry.Options{})
	_, err := resolve(t, r, proxy.Host+"/team/app:1", "linux/amd64")
	e := wantCode(t, err, registry.Unauthorized)
	registrytest.NoSecret(t, "error", e.Error(), reg.Password, reg.Username+":"+reg.Password)
}

func TestResolve_verifyContent(t *testing.T) {
	h := startHostile(t)
	plain := newRemote(t, registry.Options{Keychain: authn.NewMultiKeychain()})
	verifying := newRemote(t, registry.Options{Keychain: authn.NewMultiKeychain(), VerifyContent: true})

	t.Run("a HEAD that names another digest than the body is taken without it", func(t *testing.T) {
		h.proxy.Reset()
		h.proxy.SetFault(registrytest.HeadDigestMismatch, 0)
		got := mustResolve(t, plain, h.proxy.Host+"/team/app:1", "")
		if got == h.single {
			t.Fatalf("the fault did not change the HEAD's digest (%s): this case cannot show anything", got)
		}
	})
	t.Run("a HEAD that names another digest than the body is an error with it", func(t *testing.T) {
		h.proxy.Reset()
		h.proxy.SetFault(registrytest.HeadDigestMismatch, 0)
		_, err := resolve(t, verifying, h.proxy.Host+"/team/app:1", "")
		e := wantCode(t, err, registry.InvalidAnswer)
		if !strings.Contains(e.Error(), h.single) || !strings.Contains(e.Error(), "GET") {
			t.Errorf("error %q does not name the body's digest %s and the GET", e.Error(), h.single)
		}
	})
	for name, tc := range map[string]struct {
		ref, platform string
		wantCounts    map[string]int64
	}{
		"a tag costs one HEAD and one GET": {
			ref: "team/app:1", wantCounts: map[string]int64{http.MethodHead: 1, http.MethodGet: 1},
		},
		"a platform costs the index GET and the child's HEAD and GET": {
			ref: "team/multi:1", platform: "linux/arm64", wantCounts: map[string]int64{http.MethodHead: 1, http.MethodGet: 2},
		},
	} {
		t.Run(name, func(t *testing.T) {
			h.proxy.Reset()
			got := mustResolve(t, verifying, h.proxy.Host+"/"+tc.ref, tc.platform)
			// The same digest as without verifyContent, from the registry itself.
			if want := mustResolve(t, plain, h.reg.Ref(tc.ref), tc.platform); got != want {
				t.Errorf("verifying Resolve = %s, plain Resolve = %s", got, want)
			}
			if diff := cmp.Diff(tc.wantCounts, manifestCounts(h.proxy.RequestsByMethod())); diff != "" {
				t.Errorf("manifest requests through the proxy (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("Exists costs one HEAD and one GET", func(t *testing.T) {
		h.proxy.Reset()
		if err := verifying.Exists(testContext(t), parseRef(t, h.proxy.Host+"/team/app:1"), h.single); err != nil {
			t.Fatalf("Exists = %v", err)
		}
		if diff := cmp.Diff(map[string]int64{http.MethodHead: 1, http.MethodGet: 1}, manifestCounts(h.proxy.RequestsByMethod())); diff != "" {
			t.Errorf("manifest requests (-want +got):\n%s", diff)
		}
	})
}
