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
	"encoding/base64"
	"net/url"
	"sort"
	"strings"
)

// MinSecretLen is the shortest credential that is redacted literally;
// shorter ones would mangle every message while hiding next to nothing.
const MinSecretLen = 4

// Redactor removes credentials from text bound for conditions, events,
// logs or a run's summary: the patterns of Sanitize, and the literal
// values it was given. It is the module's one redaction: the controller's
// git errors and the runner's messages both go through it.
type Redactor struct {
	secrets []string
}

// Add registers values, and each of their lines, of at least min bytes.
func (r *Redactor) Add(min int, values ...string) {
	for _, v := range values {
		for _, s := range append([]string{v}, strings.Split(v, "\n")...) {
			// PEM armor lines are no secret (Sanitize removes whole key blocks).
			if s = strings.TrimSpace(s); len(s) >= min && !strings.HasPrefix(s, "-----BEGIN ") && !strings.HasPrefix(s, "-----END ") {
				r.secrets = append(r.secrets, s)
			}
		}
	}
	// Longest first, so that a secret containing another is removed whole.
	sort.SliceStable(r.secrets, func(i, j int) bool { return len(r.secrets[i]) > len(r.secrets[j]) })
}

// Apply removes the registered values from s, then applies Sanitize.
func (r *Redactor) Apply(s string) string {
	if r != nil {
		for _, secret := range r.secrets {
			s = strings.ReplaceAll(s, secret, redacted)
		}
	}
	return Sanitize(s)
}

// Secrets lists the forms in which auth's credentials could appear in a
// server's or library's error text: the password or token as is and
// escaped, in userinfo and basic-auth form, and each line of the private
// key.
func (a Auth) Secrets() []string {
	var out []string
	if a.Password != "" {
		out = append(out, a.Password, url.QueryEscape(a.Password), url.PathEscape(a.Password),
			url.UserPassword(a.Username, a.Password).String(),
			base64.StdEncoding.EncodeToString([]byte(a.Username+":"+a.Password)))
	}
	if len(a.SSHPrivateKey) > 0 {
		out = append(out, string(a.SSHPrivateKey))
	}
	return out
}

// redact applies Sanitize and removes auth's credentials literally, as a
// second line of defence for text that Sanitize's patterns do not recognise.
func (a Auth) redact(s string) string {
	r := &Redactor{}
	r.Add(MinSecretLen, a.Secrets()...)
	return r.Apply(s)
}
