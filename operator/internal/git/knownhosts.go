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
	"bytes"
	"crypto/hmac"
	"crypto/sha1" //nolint:gosec // known_hosts hashes host names with HMAC-SHA1; it is a lookup, not a signature.
	"encoding/base64"
	"fmt"
	"net"
	"strings"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// knownHosts is a parsed known_hosts file (sshd(8) "SSH_KNOWN_HOSTS FILE
// FORMAT"). x/crypto/ssh/knownhosts only reads files, and the operator runs
// with a read-only root filesystem, so matching is done here on the bytes
// from the ConfigMap.
type knownHosts struct {
	entries []knownHost
	// skipped counts lines that could not be parsed; like ssh, they are
	// ignored, and the count goes into messages to point at them.
	skipped int
}

type knownHost struct {
	marker   string   // "", "cert-authority" or "revoked"
	patterns []string // comma-separated host field, split
	key      ssh.PublicKey
}

func parseKnownHosts(data []byte) knownHosts {
	var kh knownHosts
	for _, line := range bytes.Split(data, []byte("\n")) {
		marker, hosts, key, _, _, err := ssh.ParseKnownHosts(line)
		if err != nil {
			if t := bytes.TrimSpace(line); len(t) > 0 && t[0] != '#' {
				kh.skipped++
			}
			continue
		}
		kh.entries = append(kh.entries, knownHost{marker: marker, patterns: hosts, key: key})
	}
	return kh
}

// matches reports whether the host field matches address, which is in
// knownhosts.Normalize form (host, or [host]:port when the port is not 22).
func (e knownHost) matches(address string) bool {
	if len(e.patterns) == 1 && strings.HasPrefix(e.patterns[0], "|") {
		return hashedMatch(e.patterns[0], address)
	}
	matched := false
	for _, p := range e.patterns {
		negate := strings.HasPrefix(p, "!")
		p = strings.TrimPrefix(p, "!")
		if wildcardMatch(strings.ToLower(p), address) {
			if negate {
				return false
			}
			matched = true
		}
	}
	return matched
}

// wildcardMatch matches ssh host patterns, where * is any run of characters
// and ? any one character; "[" is literal, as in [host]:port.
func wildcardMatch(pattern, s string) bool {
	for len(pattern) > 0 {
		switch pattern[0] {
		case '*':
			for i := len(s); i >= 0; i-- {
				if wildcardMatch(pattern[1:], s[i:]) {
					return true
				}
			}
			return false
		case '?':
			if s == "" {
				return false
			}
		default:
			if s == "" || s[0] != pattern[0] {
				return false
			}
		}
		pattern, s = pattern[1:], s[1:]
	}
	return s == ""
}

// hashedMatch matches a HashKnownHosts entry: |1|base64(salt)|base64(HMAC-SHA1(salt, host)).
func hashedMatch(pattern, address string) bool {
	parts := strings.Split(pattern, "|")
	if len(parts) != 4 || parts[1] != "1" {
		return false
	}
	salt, err := base64.StdEncoding.DecodeString(parts[2])
	if err != nil {
		return false
	}
	want, err := base64.StdEncoding.DecodeString(parts[3])
	if err != nil {
		return false
	}
	mac := hmac.New(sha1.New, salt)
	mac.Write([]byte(address))
	return hmac.Equal(mac.Sum(nil), want)
}

// hostKeyCheck builds the HostKeyCallback and the host key algorithms to
// offer for hostPort (the dialed host:port). Offering only the algorithms of
// the known keys matters: a server prefers its own key type, so with a
// known_hosts listing only the ecdsa key of a server that also has ed25519,
// the default offer would get the ed25519 key and a spurious mismatch.
func (kh knownHosts) hostKeyCheck(hostPort string) (ssh.HostKeyCallback, []string) {
	address := strings.ToLower(knownhosts.Normalize(hostPort))
	var (
		keys, authorities, revoked []ssh.PublicKey
		algos                      []string
	)
	for _, e := range kh.entries {
		if !e.matches(address) {
			continue
		}
		switch e.marker {
		case "":
			keys = append(keys, e.key)
			algos = appendAlgos(algos, e.key.Type())
		case "cert-authority":
			authorities = append(authorities, e.key)
		}
	}
	// Revoked keys apply to every host, whatever the host field says.
	for _, e := range kh.entries {
		if e.marker == "revoked" {
			revoked = append(revoked, e.key)
		}
	}
	if len(authorities) > 0 || len(keys) == 0 {
		// Certificates need the default offer; an unknown host gets it too,
		// so that the message can name the key the server presents.
		algos = nil
	}

	isRevoked := func(key ssh.PublicKey) bool {
		for _, r := range revoked {
			if bytes.Equal(r.Marshal(), key.Marshal()) {
				return true
			}
		}
		return false
	}
	plain := func(_ string, _ net.Addr, key ssh.PublicKey) error {
		if isRevoked(key) {
			return &Error{Reason: HostKeyMismatch, Message: fmt.Sprintf(
				"the host key of %s (%s) is marked @revoked in known_hosts", address, describeKey(key))}
		}
		for _, k := range keys {
			if bytes.Equal(k.Marshal(), key.Marshal()) {
				return nil
			}
		}
		if len(keys) > 0 {
			return &Error{Reason: HostKeyMismatch, Message: fmt.Sprintf(
				"host key mismatch for %s: the server presented %s, which is not among the %d known_hosts keys for it; "+
					"if the server's key changed on purpose, update the known_hosts ConfigMap",
				address, describeKey(key), len(keys))}
		}
		return &Error{Reason: HostKeyMismatch, Message: fmt.Sprintf(
			"unknown host %s: known_hosts has no key for it%s; the server presented %s: verify it out of band and add a known_hosts line for %s, "+
				"or set strictHostKeyChecking: false",
			address, kh.skippedNote(), describeKey(key), address)}
	}
	checker := &ssh.CertChecker{
		IsHostAuthority: func(auth ssh.PublicKey, _ string) bool {
			for _, a := range authorities {
				if bytes.Equal(a.Marshal(), auth.Marshal()) {
					return true
				}
			}
			return false
		},
		IsRevoked: func(cert *ssh.Certificate) bool {
			return isRevoked(cert.SignatureKey) || isRevoked(cert.Key)
		},
		HostKeyFallback: plain,
	}
	return checker.CheckHostKey, algos
}

func (kh knownHosts) skippedNote() string {
	if kh.skipped == 0 {
		return ""
	}
	return fmt.Sprintf(" (%d unparsable lines were ignored)", kh.skipped)
}

// appendAlgos adds the host key algorithms that can produce a key of keyType.
func appendAlgos(algos []string, keyType string) []string {
	add := []string{keyType}
	if keyType == ssh.KeyAlgoRSA {
		add = []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA}
	}
	for _, a := range add {
		found := false
		for _, have := range algos {
			found = found || have == a
		}
		if !found {
			algos = append(algos, a)
		}
	}
	return algos
}

// describeKey names a public key as ssh-keygen -l does: type and SHA256 fingerprint.
func describeKey(key ssh.PublicKey) string {
	return key.Type() + " " + ssh.FingerprintSHA256(key)
}
