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

package registrytest

import (
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// head resolves ref with opts; tests compare its digest to pushed ones.
func head(t *testing.T, ref string, opts ...remote.Option) (*v1.Descriptor, error) {
	t.Helper()
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatalf("parsing %q: %v", ref, err)
	}
	return remote.Head(r, opts...)
}

func mustHead(t *testing.T, ref string, opts ...remote.Option) v1.Hash {
	t.Helper()
	desc, err := head(t, ref, opts...)
	if err != nil {
		t.Fatalf("head %s: %v", ref, err)
	}
	return desc.Digest
}

func hasStatus(err error, status int, code string) bool {
	var terr *transport.Error
	if errors.As(err, &terr) && terr.StatusCode == status {
		return true
	}
	return err != nil && strings.Contains(err.Error(), code)
}

func TestStartPushAndHead(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts Options
	}{
		{"none", Options{}},
		{"basic", Options{Auth: AuthBasic}},
		{"token", Options{Auth: AuthToken}},
		{"tls", Options{TLS: true}},
		{"tls-basic", Options{Auth: AuthBasic, TLS: true}},
		{"tls-token", Options{Auth: AuthToken, TLS: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			r := Start(t, tc.opts)
			t.Logf("started %s in %v", r.Host, time.Since(start))
			if !strings.HasPrefix(r.Host, "127.0.0.1:") {
				t.Errorf("Host = %q, want 127.0.0.1:PORT", r.Host)
			}
			if (r.CAPEM != nil) != tc.opts.TLS {
				t.Errorf("CAPEM set = %v, want %v", r.CAPEM != nil, tc.opts.TLS)
			}
			want := r.PushRandom(t, "team/app:1.0")
			if got := mustHead(t, r.Ref("team/app:1.0"), r.RemoteOptions()...); got.String() != want {
				t.Errorf("head digest = %s, want %s", got, want)
			}
			if tc.opts.Auth == AuthToken && r.TokenRequests() == 0 {
				t.Errorf("TokenRequests() = 0, want token server to be used")
			}
		})
	}
}

func TestAnonymousRejected(t *testing.T) {
	for _, mode := range []AuthMode{AuthBasic, AuthToken} {
		t.Run(mode.String(), func(t *testing.T) {
			r := Start(t, Options{Auth: mode})
			r.PushRandom(t, "team/app:1.0")
			before := r.TokenRequests()
			_, err := head(t, r.Ref("team/app:1.0"), remote.WithAuth(authn.Anonymous))
			if !hasStatus(err, http.StatusUnauthorized, "UNAUTHORIZED") {
				t.Fatalf("anonymous head error = %v, want 401 UNAUTHORIZED", err)
			}
			t.Logf("anonymous error: %v", err)
			if mode == AuthToken && r.TokenRequests() == before {
				t.Errorf("anonymous client never asked the token server")
			}
			_, err = head(t, r.Ref("team/app:1.0"), remote.WithAuth(&authn.Basic{Username: r.Username, Password: "wrong"}))
			if !hasStatus(err, http.StatusUnauthorized, "UNAUTHORIZED") {
				t.Fatalf("wrong-password head error = %v, want 401 UNAUTHORIZED", err)
			}
		})
	}
}

// TestTLSNeedsTrustedCA documents how clients must reach a TLS registry:
// ggcr pings https first even for 127.0.0.1, so only trust is required.
func TestTLSNeedsTrustedCA(t *testing.T) {
	r := Start(t, Options{TLS: true})
	want := r.PushRandom(t, "team/app:1.0")
	if got := mustHead(t, r.Ref("team/app:1.0"), remote.WithTransport(r.Transport())); got.String() != want {
		t.Errorf("head digest = %s, want %s", got, want)
	}
	_, err := head(t, r.Ref("team/app:1.0"))
	if err == nil {
		t.Fatalf("head without the test ca succeeded, want a certificate error")
	}
	t.Logf("untrusted-ca error: %v", err)
}

func TestPushIndex(t *testing.T) {
	r := Start(t, Options{})
	index, children := r.PushIndex(t, "team/multi:1.0", "linux/amd64", "linux/arm64")
	if len(children) != 2 || children["linux/amd64"] == children["linux/arm64"] {
		t.Fatalf("children = %v, want two distinct digests", children)
	}
	if got := mustHead(t, r.Ref("team/multi:1.0"), r.RemoteOptions()...); got.String() != index {
		t.Errorf("head digest = %s, want index %s", got, index)
	}
	ref, err := name.ParseReference(r.Ref("team/multi:1.0"))
	if err != nil {
		t.Fatal(err)
	}
	idx, err := remote.Index(ref, r.RemoteOptions()...)
	if err != nil {
		t.Fatalf("fetching index: %v", err)
	}
	manifest, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range manifest.Manifests {
		if d.Platform == nil {
			t.Fatalf("descriptor %s has no platform", d.Digest)
		}
		if want := children[d.Platform.String()]; d.Digest.String() != want {
			t.Errorf("child %s digest = %s, want %s", d.Platform, d.Digest, want)
		}
	}
}

func TestDelete(t *testing.T) {
	r := Start(t, Options{Auth: AuthBasic})
	digest := r.PushRandom(t, "team/app:1.0")
	r.Delete(t, "team/app", digest)
	_, err := head(t, r.Ref("team/app@"+digest), r.RemoteOptions()...)
	if !hasStatus(err, http.StatusNotFound, "MANIFEST_UNKNOWN") {
		t.Fatalf("head after delete error = %v, want 404 MANIFEST_UNKNOWN", err)
	}
}

func TestStartInProcess(t *testing.T) {
	r := StartInProcess(t)
	want := r.PushRandom(t, "team/app:1.0")
	if got := mustHead(t, r.Ref("team/app:1.0"), r.RemoteOptions()...); got.String() != want {
		t.Errorf("head digest = %s, want %s", got, want)
	}
}

func TestWriteDockerConfig(t *testing.T) {
	r := Start(t, Options{Auth: AuthBasic})
	want := r.PushRandom(t, "team/app:1.0")
	dir := r.WriteDockerConfig(t)
	if _, err := os.Stat(filepath.Join(dir, "config.json")); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DOCKER_CONFIG", dir)
	got := mustHead(t, r.Ref("team/app:1.0"), remote.WithAuthFromKeychain(authn.DefaultKeychain))
	if got.String() != want {
		t.Errorf("head digest = %s, want %s", got, want)
	}
}

// fastRetry keeps retry tests quick; ggcr's default backoff starts at 1s.
var fastRetry = remote.WithRetryBackoff(remote.Backoff{Duration: 10 * time.Millisecond, Factor: 1, Steps: 3})

func TestProxyFailNextThenSuccess(t *testing.T) {
	// Token auth proves the proxy leaves the realm usable for clients.
	r := Start(t, Options{Auth: AuthToken})
	want := r.PushRandom(t, "team/app:1.0")
	p := NewProxy(t, r.Host)
	p.FailNext(1, http.StatusTooManyRequests, "1")

	opts := append(r.RemoteOptions(), fastRetry)
	if got := mustHead(t, p.Host+"/team/app:1.0", opts...); got.String() != want {
		t.Errorf("head digest = %s, want %s", got, want)
	}
	counts := p.RequestsByMethod()
	if counts["HEAD"] != 2 || counts[PingKey] < 1 {
		t.Errorf("counts = %v, want 2 HEAD (429 then success) and at least one ping", counts)
	}
	if p.Requests() < 3 {
		t.Errorf("Requests() = %d, want >= 3", p.Requests())
	}

	p.FailNext(5, http.StatusInternalServerError, "")
	_, err := head(t, p.Host+"/team/app:1.0", opts...)
	if !hasStatus(err, http.StatusInternalServerError, "UNKNOWN") {
		t.Errorf("head with persistent 500 error = %v, want 500", err)
	}

	p.Reset()
	if p.Requests() != 0 || len(p.RequestsByMethod()) != 0 {
		t.Errorf("after Reset: requests=%d counts=%v", p.Requests(), p.RequestsByMethod())
	}
	mustHead(t, p.Host+"/team/app:1.0", opts...) // Reset also cancelled leftover failures
}

func TestProxyDelay(t *testing.T) {
	r := StartInProcess(t)
	r.PushRandom(t, "team/app:1.0")
	p := NewProxy(t, r.Host)
	const delay = 100 * time.Millisecond
	p.SetDelay(delay)

	start := time.Now()
	mustHead(t, p.Host+"/team/app:1.0")
	elapsed := time.Since(start)
	t.Logf("head through %v proxy delay took %v (%d requests)", delay, elapsed, p.Requests())
	// Lower bound only: the ping and the HEAD are each delayed, but
	// scheduling on a loaded machine makes any upper bound flaky.
	if elapsed < delay {
		t.Errorf("elapsed %v < delay %v", elapsed, delay)
	}
}
