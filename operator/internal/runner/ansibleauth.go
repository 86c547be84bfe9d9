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
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/go-git/go-git/v5/plumbing/transport"
)

// Files ansibleAuth writes under HOME (the pod's own emptyDir).
const (
	netrcFile     = ".netrc"
	sshDir        = ".ssh"
	sshKeyFile    = "repository-key"
	sshConfigFile = "repository-config"
)

// ansibleAuth gives ansible-galaxy and the playbook's git the repository's
// credentials for the repository's host, as the Python operator did
// (Repository spec.auth.passToAnsible): for http(s) a ~/.netrc entry, which
// git (through curl) and ansible's uri and get_url read; for ssh a copy of
// the key (ssh refuses the Secret mount's group-readable file) and an ssh
// config for that host, through GIT_SSH_COMMAND. It returns the
// environment to set; nothing when the spec does not ask for it.
func (r *run) ansibleAuth(a gitAuth) (map[string]string, error) {
	spec := r.spec.Repository
	if !spec.PassAuthToAnsible || spec.AuthMethod == "" {
		return nil, nil
	}
	ep, err := transport.NewEndpoint(spec.URL)
	if err != nil {
		return nil, fail(ReasonInvalidSpec, "invalid repository URL: it cannot be parsed")
	}
	switch ep.Protocol {
	case "http", "https":
		if a.Password == "" {
			return nil, nil
		}
		entry := fmt.Sprintf("machine %s\n  login %s\n  password %s\n", ep.Host, netrcToken(a.Username), netrcToken(a.Password))
		if err := writePrivate(filepath.Join(r.opts.Home, netrcFile), entry); err != nil {
			return nil, fail(ReasonGitFailed, "failed to write ~/%s for ansible: %s", netrcFile, pathError(err))
		}
		return nil, nil
	case "ssh":
		if len(a.SSHPrivateKey) == 0 {
			return nil, nil
		}
		dir := filepath.Join(r.opts.Home, sshDir)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fail(ReasonGitFailed, "failed to create ~/%s for ansible: %s", sshDir, pathError(err))
		}
		key, config := filepath.Join(dir, sshKeyFile), filepath.Join(dir, sshConfigFile)
		known, strict := spec.KnownHostsFile, "yes"
		if a.InsecureIgnoreHostKey {
			known, strict = os.DevNull, "no"
		}
		// Host matches the host name git passes to ssh; values are quoted
		// for paths with spaces.
		cfg := fmt.Sprintf("Host %s\n  IdentityFile %q\n  IdentitiesOnly yes\n  UserKnownHostsFile %q\n  StrictHostKeyChecking %s\n", ep.Host, key, known, strict)
		// OpenSSH refuses a key file without its final newline, which a
		// Secret's value may lack.
		if err := writePrivate(key, strings.TrimRight(string(a.SSHPrivateKey), "\n")+"\n"); err != nil {
			return nil, fail(ReasonGitFailed, "failed to write the ssh key for ansible: %s", pathError(err))
		}
		if err := writePrivate(config, cfg); err != nil {
			return nil, fail(ReasonGitFailed, "failed to write the ssh config for ansible: %s", pathError(err))
		}
		// git runs GIT_SSH_COMMAND with a shell: the path is ours, quoted.
		return map[string]string{"GIT_SSH_COMMAND": "ssh -o BatchMode=yes -F " + shellQuote(config)}, nil
	}
	return nil, nil
}

// writePrivate writes content to path, readable by the owner only.
func writePrivate(path, content string) error {
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		return err
	}
	return os.Chmod(path, 0o600)
}

// netrcToken quotes a .netrc value that contains whitespace or quotes
// (curl reads quoted values since 7.84).
func netrcToken(s string) string {
	if !strings.ContainsAny(s, " \t\n\"\\") {
		return s
	}
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\t", `\t`).Replace(s) + `"`
}

// shellQuote quotes s for sh.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
