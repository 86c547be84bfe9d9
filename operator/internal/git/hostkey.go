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

import "golang.org/x/crypto/ssh"

// HostKeyCallback is the strict host key check that LsRemote applies, for
// other ssh clients (playbook-runner's fetch): it checks the key presented by
// hostPort (the dialed host:port) against knownHosts (known_hosts content,
// with hashed names, wildcards, @cert-authority and @revoked), and returns
// the host key algorithms to offer, which the client must set as
// ssh.ClientConfig.HostKeyAlgorithms (nil means the default offer). A
// refusal is an *Error with Reason HostKeyMismatch whose message names the
// presented key and what to do.
func HostKeyCallback(knownHosts []byte, hostPort string) (ssh.HostKeyCallback, []string) {
	return parseKnownHosts(knownHosts).hostKeyCheck(hostPort)
}
