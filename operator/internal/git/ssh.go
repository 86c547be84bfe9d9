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
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/go-git/go-git/v5/plumbing/protocol/packp"
	"golang.org/x/crypto/ssh"
)

// defaultSSHUser is the user when an ssh:// URL names none: the operator's
// own account name means nothing to a git host, and every hosted git service
// serves ssh as "git".
const defaultSSHUser = "git"

// listSSH runs git-upload-pack over ssh. It owns the TCP connection rather
// than using go-git's ssh transport, whose dial and handshake ignore the
// context and which reads ~/.ssh/config, SSH_KNOWN_HOSTS and the ssh agent
// through package-level defaults.
func listSSH(ctx context.Context, ep endpoint, auth Auth) (*packp.AdvRefs, error) {
	config := &ssh.ClientConfig{User: ep.user}
	if config.User == "" {
		config.User = defaultSSHUser
	}
	if len(auth.SSHPrivateKey) > 0 {
		signer, err := ssh.ParsePrivateKey(auth.SSHPrivateKey)
		var missing *ssh.PassphraseMissingError
		switch {
		case errors.As(err, &missing):
			return nil, &Error{Reason: AuthFailed, Message: "the ssh private key is encrypted with a passphrase, which is not supported: store it unencrypted in the Secret's ssh-privatekey"}
		case err != nil:
			// The parse error is not quoted: for a malformed key it may echo key bytes.
			return nil, &Error{Reason: AuthFailed, Message: "failed to parse the ssh private key: the Secret's ssh-privatekey must be an unencrypted PEM or OpenSSH private key"}
		}
		config.Auth = []ssh.AuthMethod{ssh.PublicKeys(signer)}
	}

	hostPort := ep.hostPort()
	// The host key callback runs inside the handshake; its verdict is kept
	// here because the handshake error wraps it in ssh's own text.
	var hostKeyErr error
	if auth.InsecureIgnoreHostKey {
		config.HostKeyCallback = ssh.InsecureIgnoreHostKey() //nolint:gosec // the user chose strictHostKeyChecking: false.
	} else {
		check, algos := parseKnownHosts(auth.SSHKnownHosts).hostKeyCheck(hostPort)
		config.HostKeyCallback = func(hostname string, remote net.Addr, key ssh.PublicKey) error {
			hostKeyErr = check(hostname, remote, key)
			return hostKeyErr
		}
		config.HostKeyAlgorithms = algos
	}

	conn, closeConn, err := dial(ctx, hostPort)
	if err != nil {
		return nil, err
	}
	defer closeConn()
	c, chans, reqs, err := ssh.NewClientConn(conn, hostPort, config)
	if err != nil {
		switch {
		case ctx.Err() != nil:
			return nil, ctx.Err()
		case hostKeyErr != nil:
			var e *Error
			if errors.As(hostKeyErr, &e) {
				return nil, e
			}
			// CertChecker's own verdicts: an expired certificate, a wrong principal.
			return nil, &Error{Reason: HostKeyMismatch, Message: fmt.Sprintf("host key of %s rejected: %s", ep, hostKeyErr)}
		case strings.Contains(err.Error(), "unable to authenticate"):
			if len(auth.SSHPrivateKey) == 0 {
				return nil, &Error{Reason: AuthFailed, Message: fmt.Sprintf("ssh authentication failed for %s: no private key given; set spec.auth to a Secret with ssh-privatekey", ep)}
			}
			return nil, &Error{Reason: AuthFailed, Message: fmt.Sprintf("ssh authentication failed for %s as user %q: the server refused the private key (is its public key authorized for that user?)", ep, config.User)}
		case errors.Is(err, io.EOF):
			return nil, &Error{Reason: Failed, Message: fmt.Sprintf("ssh handshake with %s failed: the server closed the connection", ep)}
		}
		return nil, fmt.Errorf("ssh handshake failed: %w", err)
	}
	client := ssh.NewClient(c, chans, reqs)
	defer func() { _ = client.Close() }()

	session, err := client.NewSession()
	if err != nil {
		return nil, fmt.Errorf("failed to open an ssh session: %w", err)
	}
	defer func() { _ = session.Close() }()
	stdin, err := session.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := session.StdoutPipe()
	if err != nil {
		return nil, err
	}
	stderr := &limitedBuffer{max: 4096}
	session.Stderr = stderr
	if err := session.Start("git-upload-pack " + shellQuote(ep.path)); err != nil {
		return nil, fmt.Errorf("failed to start git-upload-pack: %w", err)
	}
	ar, err := decodeAdvertisement(stdout)
	if errors.Is(err, errEmptyStream) {
		// The explanation is on stderr, complete once the command has exited.
		_ = session.Wait()
		return nil, sshRefusal(ep, stderr.String())
	}
	if err != nil {
		return nil, err
	}
	_, _ = io.WriteString(stdin, flushPkt)
	return ar, nil
}

// sshRefusal classifies what the remote side wrote to stderr when it
// advertised nothing.
func sshRefusal(ep endpoint, stderr string) error {
	msg := strings.TrimSpace(stderr)
	lower := strings.ToLower(msg)
	switch {
	case strings.Contains(lower, "does not appear to be a git repository"),
		strings.Contains(lower, "not a git repository"),
		strings.Contains(lower, "repository not found"),
		strings.Contains(lower, "no such file or directory"):
		return &Error{Reason: Failed, Message: fmt.Sprintf("repository not found at %s: check the path in spec.url", ep)}
	case strings.Contains(lower, "permission denied"), strings.Contains(lower, "access denied"):
		return &Error{Reason: AuthFailed, Message: fmt.Sprintf("access denied by %s: the key authenticates but may not read this repository", ep)}
	case msg == "":
		return &Error{Reason: Failed, Message: fmt.Sprintf("%s advertised no refs and gave no reason", ep)}
	}
	if first, _, _ := strings.Cut(msg, "\n"); first != "" {
		msg = first
	}
	return &Error{Reason: Failed, Message: fmt.Sprintf("%s advertised no refs: %s", ep, msg)}
}

// shellQuote quotes s for the remote shell as git's sq_quote_buf does: inside
// single quotes, with ' and ! closed, escaped and reopened.
func shellQuote(s string) string {
	var b strings.Builder
	b.WriteByte('\'')
	for _, r := range s {
		if r == '\'' || r == '!' {
			b.WriteString(`'\`)
			b.WriteRune(r)
			b.WriteByte('\'')
			continue
		}
		b.WriteRune(r)
	}
	b.WriteByte('\'')
	return b.String()
}
