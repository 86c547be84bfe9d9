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

// Package redact removes credentials from text before it reaches any output
// of pin-images (stdout, stderr, results, errors). Secrets.Text is the one
// redaction of the module: it removes what looks like a credential (URL
// userinfo, token and password parameters, Authorization values) and every
// value a credential source returned during the run, in the forms a server
// may echo it (as is, base64, decoded "user:password").
package redact

import (
	"encoding/base64"
	"regexp"
	"sort"
	"strings"
	"sync"
)

// Marker replaces what was removed.
const Marker = "REDACTED"

// minSecret is the shortest value removed by value: shorter ones would cut
// words out of every message and are not credentials worth the name.
const minSecret = 4

// The patterns, each run only on texts that hold what it needs (a result
// message rarely does: the redaction of 20,000 results must stay cheap).
var (
	userinfoRE   = regexp.MustCompile(`(?i)([a-z][a-z0-9+.-]*://)[^/@\s"']+@`)
	paramRE      = regexp.MustCompile(`(?i)((?:access_token|refresh_token|id_token|password|passwd|secret|token|auth)=)[^&\s"']+`)
	jsonFieldRE  = regexp.MustCompile(`(?i)("(?:access_token|refresh_token|id_token|identitytoken|registrytoken|password|secret|token|auth)"\s*:\s*")[^"]*`)
	authHeaderRE = regexp.MustCompile(`(?i)((?:bearer|basic)\s+)[A-Za-z0-9._~+/=-]+`)
)

// Secrets are the credential values seen during a run. The zero value is
// ready; a nil *Secrets removes by pattern only. Safe for concurrent use.
type Secrets struct {
	mu     sync.RWMutex
	values map[string]bool
	sorted []string // longest first, so a value is removed before its parts
	// starts has a bit set for the hash of each value's first minSecret
	// bytes: a text none of whose windows hits one holds no value, and
	// is passed without a search for each of them (a run that fetched
	// fifty tokens records two hundred values, and redacts each of its
	// thousands of results).
	starts []uint64
}

// startLog2 sizes Secrets.starts at 2^20 bits (128 KiB): with hundreds of
// values, a few texts in a hundred are searched in vain.
const startLog2 = 20

// startHash hashes the minSecret bytes at b[0:] to a bit of Secrets.starts.
func startHash(b string) uint32 {
	w := uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
	return (w * 0x9E3779B1) >> (32 - startLog2)
}

// mayHold reports whether text may hold a recorded value: some window of
// it starts like one. Called with mu held for reading.
func (s *Secrets) mayHold(text string) bool {
	for i := 0; i+minSecret <= len(text); i++ {
		h := startHash(text[i:])
		if s.starts[h>>6]&(1<<(h&63)) != 0 {
			return true
		}
	}
	return false
}

// Add records credential values (passwords, tokens, base64 auth strings).
// A base64 value is also recorded decoded, and every value also in the
// base64 forms a server may echo.
func (s *Secrets) Add(values ...string) {
	if s == nil {
		return
	}
	var all []string
	for _, v := range values {
		if len(v) < minSecret {
			continue
		}
		all = append(all, v, base64.StdEncoding.EncodeToString([]byte(v)), base64.RawURLEncoding.EncodeToString([]byte(v)))
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
			if b, err := enc.DecodeString(v); err == nil && len(b) >= minSecret && printable(b) {
				all = append(all, string(b))
				if _, pass, ok := strings.Cut(string(b), ":"); ok && len(pass) >= minSecret {
					all = append(all, pass) // base64("user:password"): the password alone too
				}
				break
			}
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.values == nil {
		s.values = map[string]bool{}
	}
	changed := false
	for _, v := range all {
		if len(v) >= minSecret && !s.values[v] {
			s.values[v] = true
			if s.starts == nil {
				s.starts = make([]uint64, (1<<startLog2)/64)
			}
			h := startHash(v)
			s.starts[h>>6] |= 1 << (h & 63)
			changed = true
		}
	}
	if changed {
		s.sorted = s.sorted[:0]
		for v := range s.values {
			s.sorted = append(s.sorted, v)
		}
		sort.Slice(s.sorted, func(i, j int) bool { return len(s.sorted[i]) > len(s.sorted[j]) })
	}
}

// AddBasic records a username and password pair: the password, "user:password"
// and their base64 forms. The username alone is not a secret (Docker Hub
// names are often the organisation of the image), so it stays readable.
func (s *Secrets) AddBasic(username, password string) {
	if password == "" {
		return
	}
	s.Add(password, username+":"+password)
}

// Text returns text without credentials: every recorded value, URL userinfo,
// credential query parameters and JSON fields, and Authorization header
// values are replaced by Marker.
func (s *Secrets) Text(text string) string {
	if s != nil {
		s.mu.RLock()
		if len(s.sorted) > 0 && s.mayHold(text) {
			for _, v := range s.sorted {
				if strings.Contains(text, v) {
					text = strings.ReplaceAll(text, v, Marker)
				}
			}
		}
		s.mu.RUnlock()
	}
	if strings.Contains(text, "@") {
		if strings.Contains(text, "://") {
			text = userinfoRE.ReplaceAllString(text, "${1}"+Marker+"@")
		}
		text = bareUserinfo(text)
	}
	if strings.Contains(text, "=") {
		text = paramRE.ReplaceAllString(text, "${1}"+Marker)
	}
	if strings.Contains(text, `":`) || strings.Contains(text, `" :`) {
		text = jsonFieldRE.ReplaceAllString(text, "${1}"+Marker)
	}
	if hasAuthScheme(text) {
		text = authHeaderRE.ReplaceAllString(text, "${1}"+Marker)
	}
	return text
}

// bareUserinfo replaces the userinfo of references and hosts written with
// credentials but without a scheme ("user:pass@registry.example.com/app",
// "u:p@localhost:5000/x"). The host after "@" needs a dot, or a numeric
// port followed by a path, so "app:1@sha256:…" is not taken for one.
func bareUserinfo(text string) string {
	var b strings.Builder
	last := 0
	for i := 0; i < len(text); i++ {
		if text[i] != '@' {
			continue
		}
		start := i
		for start > 0 && !strings.ContainsRune(" \t\n\"'(=/@", rune(text[start-1])) {
			start--
		}
		user := text[start:i]
		if start < last || !strings.Contains(user, ":") || strings.HasPrefix(user, ":") || !isHost(text[i+1:]) {
			continue
		}
		b.WriteString(text[last:start])
		b.WriteString(Marker)
		last = i
	}
	if last == 0 {
		return text
	}
	b.WriteString(text[last:])
	return b.String()
}

// isHost reports whether s starts with a registry host: a name with a dot,
// or a name and a numeric port followed by a path or the end of a word.
func isHost(s string) bool {
	end := 0
	for end < len(s) && !strings.ContainsRune(" \t\n\"'/@", rune(s[end])) {
		end++
	}
	host := s[:end]
	name, port, hasPort := strings.Cut(host, ":")
	if name == "" || strings.Trim(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-") != "" {
		return false
	}
	if hasPort {
		return port != "" && len(port) <= 5 && strings.Trim(port, "0123456789") == "" && (end == len(s) || s[end] != '@')
	}
	return strings.Contains(name, ".")
}

// hasAuthScheme reports whether text holds "bearer" or "basic" in any case,
// without lower-casing (and allocating) the text.
func hasAuthScheme(text string) bool {
	for i := 0; i < len(text); i++ {
		if text[i]|0x20 != 'b' {
			continue
		}
		rest := text[i:]
		if len(rest) >= 6 && strings.EqualFold(rest[:6], "bearer") || len(rest) >= 5 && strings.EqualFold(rest[:5], "basic") {
			return true
		}
	}
	return false
}

func printable(b []byte) bool {
	for _, c := range b {
		if c < 0x20 || c == 0x7f {
			return false
		}
	}
	return true
}
