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
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"
	"golang.org/x/crypto/ssh"
)

// dialTimeout bounds a TCP connection (a go-git ssh fetch's dial ignores
// the context): a host that drops the connection attempt costs this, not
// the whole DefaultTimeout, of a worker.
const dialTimeout = 15 * time.Second

// TransportAuth returns the go-git auth for rawURL, for fetches by go-git
// (playbook-runner, the operator's path check): the key and the strict
// known_hosts check of HostKeyCallback for any ssh host, and http
// credentials for repoHost (the repository's host:port) only, never for a
// submodule on another host. hostKeyErr receives the verdict of the host key
// check, which the ssh handshake error would otherwise bury.
func TransportAuth(rawURL string, a Auth, repoHost string, hostKeyErr *error) (transport.AuthMethod, error) {
	ep, err := transport.NewEndpoint(rawURL)
	if err != nil {
		return nil, fmt.Errorf("failed to parse the URL %s", Sanitize(rawURL))
	}
	switch ep.Protocol {
	case "ssh":
		auth := &sshAuth{user: ep.User}
		if auth.user == "" {
			auth.user = defaultSSHUser
		}
		if len(a.SSHPrivateKey) > 0 {
			signer, err := ssh.ParsePrivateKey(a.SSHPrivateKey)
			var missing *ssh.PassphraseMissingError
			switch {
			case errors.As(err, &missing):
				return nil, errors.New("the ssh private key is encrypted with a passphrase, which is not supported: store it unencrypted in the Secret's ssh-privatekey")
			case err != nil:
				// Not quoted: a parse error may echo key bytes.
				return nil, errors.New("failed to parse the ssh private key: the Secret's ssh-privatekey must be an unencrypted PEM or OpenSSH private key")
			}
			auth.signer = signer
		}
		if !a.InsecureIgnoreHostKey {
			check, algos := HostKeyCallback(a.SSHKnownHosts, HostPort(ep))
			auth.callback = func(hostname string, remote net.Addr, key ssh.PublicKey) error {
				err := check(hostname, remote, key)
				*hostKeyErr = err
				return err
			}
			auth.algos = algos
		} else {
			auth.callback = ssh.InsecureIgnoreHostKey() //nolint:gosec // the user chose strictHostKeyChecking: false.
		}
		return auth, nil
	case "http", "https":
		if (a.Username != "" || a.Password != "") && HostPort(ep) == repoHost {
			return &githttp.BasicAuth{Username: a.Username, Password: a.Password}, nil
		}
	}
	return nil, nil
}

// sshAuth is go-git's ssh AuthMethod with the runner's host key check. With
// a HostKeyCallback of its own, go-git neither reads known_hosts files nor
// guesses host key algorithms.
type sshAuth struct {
	user     string
	signer   ssh.Signer
	callback ssh.HostKeyCallback
	algos    []string
}

var _ gitssh.AuthMethod = (*sshAuth)(nil)

func (a *sshAuth) Name() string   { return gitssh.PublicKeysName }
func (a *sshAuth) String() string { return fmt.Sprintf("user: %s, name: %s", a.user, a.Name()) }

// ClientConfig is the configuration of one ssh connection.
func (a *sshAuth) ClientConfig() (*ssh.ClientConfig, error) {
	cfg := &ssh.ClientConfig{
		User:              a.user,
		HostKeyCallback:   a.callback,
		HostKeyAlgorithms: a.algos,
		Timeout:           dialTimeout,
	}
	if a.signer != nil {
		cfg.Auth = []ssh.AuthMethod{ssh.PublicKeys(a.signer)}
	}
	return cfg, nil
}

// HostPort is host:port with the scheme's default port filled in.
func HostPort(ep *transport.Endpoint) string {
	port := ep.Port
	if port == 0 {
		switch ep.Protocol {
		case "ssh":
			port = 22
		case "http":
			port = 80
		case "https":
			port = 443
		case "git":
			port = 9418
		}
	}
	return net.JoinHostPort(ep.Host, strconv.Itoa(port))
}
