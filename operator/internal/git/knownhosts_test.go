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

package git

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"net"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

func newPublicKey(t *testing.T, rsaKey bool) ssh.PublicKey {
	t.Helper()
	var raw any
	if rsaKey {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		raw = &k.PublicKey
	} else {
		pub, _, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		raw = pub
	}
	key, err := ssh.NewPublicKey(raw)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func TestKnownHosts_hostKeyCheck(t *testing.T) {
	edKey, rsaKey, otherKey := newPublicKey(t, false), newPublicKey(t, true), newPublicKey(t, false)
	line := func(hosts string, key ssh.PublicKey) string {
		return hosts + " " + string(ssh.MarshalAuthorizedKey(key))
	}
	addr := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 22}
	tests := map[string]struct {
		knownHosts string
		hostPort   string
		presented  ssh.PublicKey
		wantErr    string // substring of the HostKeyMismatch message; empty means accepted
		wantAlgos  []string
	}{
		"a plain host on port 22 matches without brackets": {
			knownHosts: line("git.example.com", edKey), hostPort: "git.example.com:22", presented: edKey,
			wantAlgos: []string{ssh.KeyAlgoED25519},
		},
		"host names match case-insensitively": {
			knownHosts: line("Git.Example.COM", edKey), hostPort: "git.example.com:22", presented: edKey,
			wantAlgos: []string{ssh.KeyAlgoED25519},
		},
		"a bracketed host and port match a non-default port": {
			knownHosts: line("[git.example.com]:2222", edKey), hostPort: "git.example.com:2222", presented: edKey,
			wantAlgos: []string{ssh.KeyAlgoED25519},
		},
		"a plain host does not match a non-default port": {
			knownHosts: line("git.example.com", edKey), hostPort: "git.example.com:2222", presented: edKey,
			wantErr: "unknown host [git.example.com]:2222",
		},
		"a wildcard matches": {
			knownHosts: line("*.example.com", edKey), hostPort: "git.example.com:22", presented: edKey,
			wantAlgos: []string{ssh.KeyAlgoED25519},
		},
		"a question mark matches one character": {
			knownHosts: line("git?.example.com", edKey), hostPort: "git1.example.com:22", presented: edKey,
			wantAlgos: []string{ssh.KeyAlgoED25519},
		},
		"a negated pattern excludes a host the wildcard matches": {
			knownHosts: line("*.example.com,!evil.example.com", edKey), hostPort: "evil.example.com:22", presented: edKey,
			wantErr: "unknown host",
		},
		"one of several comma-separated hosts matches": {
			knownHosts: line("github.com,140.82.121.4", edKey), hostPort: "140.82.121.4:22", presented: edKey,
			wantAlgos: []string{ssh.KeyAlgoED25519},
		},
		"a hashed host matches": {
			knownHosts: line(knownhosts.HashHostname("git.example.com"), edKey), hostPort: "git.example.com:22", presented: edKey,
			wantAlgos: []string{ssh.KeyAlgoED25519},
		},
		"a hashed host does not match another host": {
			knownHosts: line(knownhosts.HashHostname("git.example.com"), edKey), hostPort: "other.example.com:22", presented: edKey,
			wantErr: "unknown host",
		},
		"an rsa entry offers the rsa algorithms only": {
			knownHosts: line("git.example.com", rsaKey), hostPort: "git.example.com:22", presented: rsaKey,
			wantAlgos: []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA},
		},
		"several entries offer the algorithms of each": {
			knownHosts: line("git.example.com", rsaKey) + line("git.example.com", edKey), hostPort: "git.example.com:22", presented: edKey,
			wantAlgos: []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA, ssh.KeyAlgoED25519},
		},
		"another key for a known host is a mismatch": {
			knownHosts: line("git.example.com", edKey), hostPort: "git.example.com:22", presented: otherKey,
			wantErr: "host key mismatch", wantAlgos: []string{ssh.KeyAlgoED25519},
		},
		"a revoked key is refused even when listed": {
			knownHosts: line("git.example.com", edKey) + "@revoked " + line("*", edKey), hostPort: "git.example.com:22", presented: edKey,
			wantErr: "@revoked", wantAlgos: []string{ssh.KeyAlgoED25519},
		},
		"unparsable lines are skipped and counted": {
			knownHosts: "garbage line here\n# comment\n\n" + line("other.example.com", edKey), hostPort: "git.example.com:22", presented: edKey,
			wantErr: "1 unparsable lines were ignored",
		},
		"empty known_hosts knows no host": {
			hostPort: "git.example.com:22", presented: edKey, wantErr: "unknown host git.example.com",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			check, algos := parseKnownHosts([]byte(tc.knownHosts)).hostKeyCheck(tc.hostPort)
			if diff := cmp.Diff(tc.wantAlgos, algos); diff != "" {
				t.Errorf("host key algorithms (-want +got):\n%s", diff)
			}
			err := check(tc.hostPort, addr, tc.presented)
			if tc.wantErr == "" {
				if err != nil {
					t.Errorf("check() = %v, want accepted", err)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) || e.Reason != HostKeyMismatch {
				t.Fatalf("check() = %v, want a HostKeyMismatch *Error", err)
			}
			if !strings.Contains(e.Message, tc.wantErr) {
				t.Errorf("message %q does not contain %q", e.Message, tc.wantErr)
			}
		})
	}
}

func TestWildcardMatch(t *testing.T) {
	tests := map[string]struct {
		pattern, s string
		want       bool
	}{
		"brackets are literal":                {pattern: "[127.0.0.1]:2222", s: "[127.0.0.1]:2222", want: true},
		"brackets are not a character class":  {pattern: "[127.0.0.1]:2222", s: "1:2222", want: false},
		"a star matches an empty run":         {pattern: "git*.example.com", s: "git.example.com", want: true},
		"a star matches across dots":          {pattern: "*.com", s: "a.b.example.com", want: true},
		"a question mark needs one character": {pattern: "git?", s: "git", want: false},
		"a longer string does not match":      {pattern: "git", s: "github", want: false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := wildcardMatch(tc.pattern, tc.s); got != tc.want {
				t.Errorf("wildcardMatch(%q, %q) = %v, want %v", tc.pattern, tc.s, got, tc.want)
			}
		})
	}
}

func TestNewHTTPTransport(t *testing.T) {
	// Proxies come from HTTPS_PROXY/HTTP_PROXY/NO_PROXY through
	// http.ProxyFromEnvironment, which never proxies loopback, so a server
	// test cannot show it; the transport must at least consult it.
	if newHTTPTransport().Proxy == nil {
		t.Error("the http transport ignores proxies from the environment")
	}
}
