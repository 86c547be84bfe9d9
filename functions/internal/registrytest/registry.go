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

// Package registrytest starts real OCI registries, plus an in-process one and a fault-injecting proxy, for tests of image-digest resolution.
package registrytest

import (
	"crypto/rand"
	"encoding/hex"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/registry"
)

// AuthMode selects how the registry authenticates clients.
type AuthMode int

const (
	// AuthNone serves anonymous read/write access.
	AuthNone AuthMode = iota
	// AuthBasic protects the registry with an htpasswd (bcrypt) file.
	AuthBasic
	// AuthToken protects the registry with bearer JWTs issued by an in-process token server.
	AuthToken
)

// String makes test names and failure messages readable.
func (m AuthMode) String() string {
	switch m {
	case AuthNone:
		return "none"
	case AuthBasic:
		return "basic"
	case AuthToken:
		return "token"
	default:
		return "unknown"
	}
}

// Options configures Start.
type Options struct {
	// Auth: AuthBasic uses htpasswd (bcrypt, generated with `htpasswd -Bbn`);
	// AuthToken uses bearer JWTs from a token server started in-process.
	Auth AuthMode
	// TLS serves HTTPS with a certificate signed by a fresh test CA
	// (SANs: 127.0.0.1, ::1, localhost). With AuthToken the token server
	// is served over HTTPS by the same CA, because go-containerregistry
	// refuses plain-HTTP token realms for registries it reached over HTTPS.
	TLS bool
	// Addr, when set, is the fixed host:port to listen on (for examples
	// written against localhost:5000); a busy port is a test failure.
	Addr string
	// EchoCredentials makes the token server (AuthToken) quote the
	// credentials it received, base64 part decoded, when it refuses them,
	// as careless token services do in their error messages.
	EchoCredentials bool
}

// Registry describes a running test registry.
//
// Clients address it as Host ("127.0.0.1:PORT") in both plain and TLS mode.
// go-containerregistry's name.Registry.Scheme() reports "http" for
// 127.0.0.1, but its transport pings https first and only falls back to
// http, so a client whose transport trusts CAPEM talks HTTPS (see
// Transport). A client that does not trust CAPEM fails the https ping,
// falls back to http and gets "400 Bad Request" from the TLS listener.
type Registry struct {
	// Host is "127.0.0.1:PORT", what clients put in image references.
	Host string
	// Username is "testuser" when Auth != AuthNone, else empty.
	Username string
	// Password is random per registry when Auth != AuthNone, else empty.
	Password string
	// CAPEM is the PEM of the test CA when TLS, else nil.
	CAPEM []byte

	tokens    *tokenServer      // nil unless AuthToken
	transport http.RoundTripper // trusts CAPEM; nil means remote.DefaultTransport
}

// TokenRequests reports how many requests reached the token server
// (0 unless AuthToken), so tests can assert token caching.
func (r *Registry) TokenRequests() int64 {
	if r.tokens == nil {
		return 0
	}
	return r.tokens.requests.Load()
}

// Ref joins Host and a repository reference ("team/app:1.0" or
// "team/app@sha256:...") into a full image reference.
func (r *Registry) Ref(repoRef string) string {
	return r.Host + "/" + repoRef
}

// StartInProcess serves go-containerregistry's pkg/registry on httptest
// (plain HTTP, no auth). It is much faster than Start and suits tests that
// do not care about a real registry's auth or error behaviour.
func StartInProcess(t testing.TB) *Registry {
	t.Helper()
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	return &Registry{Host: strings.TrimPrefix(srv.URL, "http://")}
}

// randomHex returns n random bytes hex-encoded, for passwords and JWT IDs.
func randomHex(t testing.TB, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("registrytest: reading random bytes: %v", err)
	}
	return hex.EncodeToString(b)
}

// mustOK fails the test when a setup step failed; setup errors are never
// what a test wants to examine.
func mustOK(t testing.TB, err error, what string) {
	t.Helper()
	if err != nil {
		t.Fatalf("registrytest: %s: %v", what, err)
	}
}
