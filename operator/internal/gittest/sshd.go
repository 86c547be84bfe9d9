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

package gittest

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// sshdPath is Debian's sshd; it must be started by absolute path because it
// re-executes itself for every connection.
const sshdPath = "/usr/sbin/sshd"

// privsepDir is the privilege separation directory sshd insists on, even
// when it runs unprivileged; Debian creates it only when its service starts.
const privsepDir = "/run/sshd"

// SSHServer is an sshd serving git over ssh for one user and one key.
type SSHServer struct {
	// URL is ssh://USER@127.0.0.1:PORT/<absolute path of the bare repository>.
	URL string
	// ClientKey is the OpenSSH PEM private key the server accepts.
	ClientKey []byte
	// KnownHosts is the known_hosts line for [127.0.0.1]:PORT with the
	// server's host key.
	KnownHosts []byte
	// Port is the port sshd listens on.
	Port int
}

// StartSSHD runs OpenSSH's sshd on a free loopback port with a generated
// host key, letting the current user in with a generated client key only,
// and returns how to reach bareDir through it. The session runs
// git-upload-pack as the current user, so tests as root work
// (PermitRootLogin prohibit-password) as well as unprivileged ones.
func StartSSHD(t testing.TB, bareDir string, opts ...Option) *SSHServer {
	t.Helper()
	requireGit(t)
	if _, err := os.Stat(sshdPath); err != nil {
		t.Fatalf("sshd is not installed: install the Debian package openssh-server (make test does, through hack/install-deps.sh): %v", err)
	}
	if _, err := os.Stat(privsepDir); err != nil {
		if err := os.MkdirAll(privsepDir, 0o755); err != nil {
			t.Fatalf("sshd needs %s and it cannot be created (run the tests as root once, or create it): %v", privsepDir, err)
		}
	}
	bareDir = mustAbs(t, bareDir)
	u, err := user.Current()
	if err != nil {
		t.Fatalf("failed to look up the current user: %v", err)
	}

	dir := t.TempDir()
	hostKey, hostPEM := newKey(t)
	clientKey, clientPEM := newKey(t)
	hostKeyFile := filepath.Join(dir, "ssh_host_ed25519_key")
	// sshd ignores a host key that others can read.
	writeFile(t, hostKeyFile, hostPEM, 0o600)
	authorizedKeys := filepath.Join(dir, "authorized_keys")
	writeFile(t, authorizedKeys, ssh.MarshalAuthorizedKey(clientKey), 0o600)

	extra := ""
	if sshdAtLeast(t, 9, 8) {
		// Since 9.8 sshd refuses sources for a while after failed or
		// unauthenticated connections, which tests make on purpose.
		extra = "PerSourcePenalties no\n"
	}
	host := settingsOf(opts).host
	port := startProcess(t, "sshd", host, func(port int) *exec.Cmd {
		config := filepath.Join(dir, fmt.Sprintf("sshd_config.%d", port))
		writeFile(t, config, []byte(fmt.Sprintf(`ListenAddress %s
Port %d
HostKey %s
PidFile none
AuthorizedKeysFile %s
AllowUsers %s
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
AllowAgentForwarding no
AllowTcpForwarding no
X11Forwarding no
PrintMotd no
LogLevel VERBOSE
%s`, host, port, hostKeyFile, authorizedKeys, u.Username, extra)), 0o600)
		// -D: stay in the foreground; -e: log to stderr.
		return exec.Command(sshdPath, "-D", "-e", "-f", config)
	})

	return &SSHServer{
		URL:        fmt.Sprintf("ssh://%s@%s%s", u.Username, net.JoinHostPort(host, strconv.Itoa(port)), filepath.ToSlash(bareDir)),
		ClientKey:  clientPEM,
		KnownHosts: []byte(knownhosts.Line([]string{net.JoinHostPort(host, strconv.Itoa(port))}, hostKey) + "\n"),
		Port:       port,
	}
}

// newKey generates an ed25519 key pair and returns the public key and the
// private key as OpenSSH PEM.
func newKey(t testing.TB) (ssh.PublicKey, []byte) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatalf("failed to generate an ed25519 key: %v", err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatalf("failed to marshal the private key: %v", err)
	}
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatalf("failed to convert the public key: %v", err)
	}
	return sshPub, pem.EncodeToMemory(block)
}

// NewSSHKey returns a fresh ed25519 key pair, the public key in
// authorized_keys form and the private key as OpenSSH PEM; tests use it for a
// key the server does not know, or to write a known_hosts line for a
// different host key.
func NewSSHKey(t testing.TB) (authorizedKey, privateKey []byte) {
	t.Helper()
	pub, priv := newKey(t)
	return ssh.MarshalAuthorizedKey(pub), priv
}

func writeFile(t testing.TB, path string, data []byte, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, data, mode); err != nil {
		t.Fatalf("failed to write %s: %v", path, err)
	}
}

var opensshVersionRE = regexp.MustCompile(`OpenSSH_(\d+)\.(\d+)`)

// sshdAtLeast reports whether sshd's version is at least major.minor.
func sshdAtLeast(t testing.TB, major, minor int) bool {
	t.Helper()
	// -V prints the version and exits; versions before 9.0 print it in
	// the usage text of an unknown option instead, which matches too.
	out, _ := exec.Command(sshdPath, "-V").CombinedOutput()
	m := opensshVersionRE.FindStringSubmatch(string(out))
	if m == nil {
		t.Fatalf("failed to read the sshd version from %q", strings.TrimSpace(string(out)))
	}
	gotMajor, _ := strconv.Atoi(m[1])
	gotMinor, _ := strconv.Atoi(m[2])
	return gotMajor > major || gotMajor == major && gotMinor >= minor
}
