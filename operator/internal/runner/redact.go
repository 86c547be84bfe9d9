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

package runner

import (
	"sort"
	"strings"

	"github.com/cloud37/ansible-playbook-operator/operator/internal/git"
)

const (
	redacted = "[redacted]"
	// minGitSecretLen is the shortest git credential redacted literally, as
	// in internal/git.
	minGitSecretLen = 4
	// minVarSecretLen is the shortest extra vars Secret value redacted from
	// the summary: such Secrets also carry short settings (a region, "yes")
	// whose redaction would mangle every message.
	minVarSecretLen = 8
)

// redactor removes credentials from the runner's own messages: the
// patterns of git.Sanitize and the literal secret values it was given.
type redactor struct {
	secrets []string
}

// add registers values (and each of their lines) of at least min bytes.
func (r *redactor) add(min int, values ...string) {
	for _, v := range values {
		for _, s := range append([]string{v}, strings.Split(v, "\n")...) {
			s = strings.TrimSpace(s)
			if len(s) >= min {
				r.secrets = append(r.secrets, s)
			}
		}
	}
	// Longest first, so that a secret containing another is removed whole.
	sort.SliceStable(r.secrets, func(i, j int) bool { return len(r.secrets[i]) > len(r.secrets[j]) })
}

func (r *redactor) apply(s string) string {
	for _, secret := range r.secrets {
		s = strings.ReplaceAll(s, secret, redacted)
	}
	return git.Sanitize(s)
}
