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

package git_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/cloud37/ansible-playbook-operator/operator/internal/git"
	"github.com/cloud37/ansible-playbook-operator/operator/internal/gittest"
)

const (
	user     = "alice"
	password = "hunter2-Sup3r-s3cret"
	token    = "ghp_T0kenT0kenT0kenT0kenT0kenT0ken"
)

// servers is one repository served by every kind of server.
type servers struct {
	repo                *gittest.Repo
	bare                string
	daemon              string // git://
	httpAuth, httpToken string // basic auth as user/password, and as oauth2/token
	httpAnon            string
	sshd                *gittest.SSHServer
}

func startServers(t *testing.T) *servers {
	t.Helper()
	repo := gittest.NewRepo(t, map[string]string{"site.yml": "- hosts: all\n"})
	repo.Branch(t, "feature")
	repo.Commit(t, map[string]string{"feature.txt": "x"}, "feature work")
	repo.Branch(t, "main")
	bare := repo.Bare(t)
	return &servers{
		repo:      repo,
		bare:      bare,
		daemon:    gittest.StartDaemon(t, bare),
		httpAuth:  gittest.StartHTTP(t, bare, user, password),
		httpToken: gittest.StartHTTP(t, bare, "oauth2", token),
		httpAnon:  gittest.StartHTTP(t, bare, "", ""),
		sshd:      gittest.StartSSHD(t, bare),
	}
}

// closedPort returns a loopback port nothing listens on.
func closedPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	return port
}

// replacePath swaps the repository path of a server URL.
func replacePath(url, path string) string {
	i := strings.Index(url[len("ssh://"):], "/") + len("ssh://")
	return url[:i] + path
}

// secretsIn lists what must never appear in an error: the passwords and
// every line of the private key.
func secretsIn(auth git.Auth) []string {
	out := []string{password, token, base64.StdEncoding.EncodeToString([]byte(user + ":" + password))}
	if auth.Password != "" {
		out = append(out, auth.Password)
	}
	for _, line := range strings.Split(string(auth.SSHPrivateKey), "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "-----") {
			out = append(out, line)
		}
	}
	return out
}

func assertNoSecrets(t *testing.T, msg string, auth git.Auth) {
	t.Helper()
	for _, s := range secretsIn(auth) {
		if strings.Contains(msg, s) {
			t.Errorf("error %q contains the credential %q", msg, s)
		}
	}
}

func TestResolveBranch(t *testing.T) {
	s := startServers(t)
	main, feature := s.repo.Head(t, "main"), s.repo.Head(t, "feature")
	sshAuth := git.Auth{SSHPrivateKey: s.sshd.ClientKey, SSHKnownHosts: s.sshd.KnownHosts}
	otherHostKey, _ := gittest.NewSSHKey(t)
	otherPub, _, _, _, err := ssh.ParseAuthorizedKey(otherHostKey)
	if err != nil {
		t.Fatal(err)
	}
	hostPort := fmt.Sprintf("127.0.0.1:%d", s.sshd.Port)
	_, _, serverPub, _, _, err := ssh.ParseKnownHosts(s.sshd.KnownHosts)
	if err != nil {
		t.Fatal(err)
	}
	_, unknownClientKey := gittest.NewSSHKey(t)

	tests := map[string]struct {
		url, branch string
		auth        git.Auth
		want        string     // commit hash; empty when an error is expected
		wantReason  git.Reason // with want empty
		wantInMsg   string     // a substring the message must contain
	}{
		"anonymous git daemon resolves main's head":                 {url: s.daemon, branch: "main", want: main},
		"anonymous git daemon resolves a branch":                    {url: s.daemon, branch: "feature", want: feature},
		"an empty branch resolves HEAD's target":                    {url: s.daemon, want: main},
		"a branch given as refs/heads/NAME resolves":                {url: s.daemon, branch: "refs/heads/feature", want: feature},
		"anonymous http resolves without credentials":               {url: s.httpAnon, branch: "feature", want: feature},
		"http with correct basic credentials resolves":              {url: s.httpAuth, branch: "main", auth: git.Auth{Username: user, Password: password}, want: main},
		"http with a token as oauth2 password resolves":             {url: s.httpToken, branch: "main", auth: git.Auth{Username: "oauth2", Password: token}, want: main},
		"http with a wrong password is AuthFailed":                  {url: s.httpAuth, branch: "main", auth: git.Auth{Username: user, Password: "wrong-" + password}, wantReason: git.AuthFailed, wantInMsg: "rejected the credentials"},
		"http without credentials on the auth server is AuthFailed": {url: s.httpAuth, branch: "main", wantReason: git.AuthFailed, wantInMsg: "authentication required"},
		"ssh with key and known_hosts resolves":                     {url: s.sshd.URL, branch: "feature", auth: sshAuth, want: feature},
		"ssh with a hashed known_hosts entry resolves": {url: s.sshd.URL, branch: "main", want: main, auth: git.Auth{
			SSHPrivateKey: s.sshd.ClientKey,
			SSHKnownHosts: []byte(knownhosts.Line([]string{knownhosts.HashHostname(knownhosts.Normalize(hostPort))}, serverPub) + "\n"),
		}},
		"ssh with a wildcard known_hosts entry among comments resolves": {url: s.sshd.URL, branch: "main", want: main, auth: git.Auth{
			SSHPrivateKey: s.sshd.ClientKey,
			SSHKnownHosts: []byte("# comment\n\nnot a valid line\n" + fmt.Sprintf("[127.0.0.*]:%d ", s.sshd.Port) + string(ssh.MarshalAuthorizedKey(serverPub))),
		}},
		"ssh with a known_hosts entry of a different key is HostKeyMismatch": {url: s.sshd.URL, branch: "main", wantReason: git.HostKeyMismatch, wantInMsg: "host key mismatch", auth: git.Auth{
			SSHPrivateKey: s.sshd.ClientKey,
			SSHKnownHosts: []byte(knownhosts.Line([]string{hostPort}, otherPub) + "\n"),
		}},
		"ssh with a revoked host key is HostKeyMismatch": {url: s.sshd.URL, branch: "main", wantReason: git.HostKeyMismatch, wantInMsg: "@revoked", auth: git.Auth{
			SSHPrivateKey: s.sshd.ClientKey,
			SSHKnownHosts: append([]byte("@revoked * "+string(ssh.MarshalAuthorizedKey(serverPub))), s.sshd.KnownHosts...),
		}},
		"ssh with empty known_hosts and strict checking is HostKeyMismatch for an unknown host": {url: s.sshd.URL, branch: "main", wantReason: git.HostKeyMismatch, wantInMsg: "unknown host",
			auth: git.Auth{SSHPrivateKey: s.sshd.ClientKey}},
		"ssh with known_hosts for another port is HostKeyMismatch for an unknown host": {url: s.sshd.URL, branch: "main", wantReason: git.HostKeyMismatch, wantInMsg: "unknown host", auth: git.Auth{
			SSHPrivateKey: s.sshd.ClientKey,
			SSHKnownHosts: []byte(knownhosts.Line([]string{"127.0.0.1:1"}, serverPub) + "\n"),
		}},
		"InsecureIgnoreHostKey with empty known_hosts resolves": {url: s.sshd.URL, branch: "main", want: main,
			auth: git.Auth{SSHPrivateKey: s.sshd.ClientKey, InsecureIgnoreHostKey: true}},
		"ssh with a key the server does not know is AuthFailed": {url: s.sshd.URL, branch: "main", wantReason: git.AuthFailed, wantInMsg: "refused the private key",
			auth: git.Auth{SSHPrivateKey: unknownClientKey, SSHKnownHosts: s.sshd.KnownHosts}},
		"ssh without a key is AuthFailed": {url: s.sshd.URL, branch: "main", wantReason: git.AuthFailed, wantInMsg: "no private key",
			auth: git.Auth{SSHKnownHosts: s.sshd.KnownHosts}},
		"ssh with a malformed key is AuthFailed without echoing it": {url: s.sshd.URL, branch: "main", wantReason: git.AuthFailed, wantInMsg: "failed to parse the ssh private key",
			auth: git.Auth{SSHPrivateKey: []byte("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ-truncated\n-----END OPENSSH PRIVATE KEY-----\n"), SSHKnownHosts: s.sshd.KnownHosts}},
		"a missing branch is BranchNotFound naming the branches": {url: s.daemon, branch: "nope", wantReason: git.BranchNotFound, wantInMsg: "branches: feature, main"},
		"a missing repository over git daemon is Failed":         {url: strings.TrimSuffix(s.daemon, "repo.git") + "missing.git", branch: "main", wantReason: git.Failed, wantInMsg: "repository not found"},
		"a missing repository over http is Failed":               {url: strings.TrimSuffix(s.httpAnon, "repo.git") + "missing.git", branch: "main", wantReason: git.Failed, wantInMsg: "repository not found"},
		"a missing repository over ssh is Failed":                {url: replacePath(s.sshd.URL, "/nonexistent/repo.git"), branch: "main", auth: sshAuth, wantReason: git.Failed, wantInMsg: "repository not found"},
		"a closed port over git daemon is Unreachable":           {url: fmt.Sprintf("git://127.0.0.1:%d/repo.git", closedPort(t)), wantReason: git.Unreachable, wantInMsg: "connection refused"},
		"a closed port over http is Unreachable":                 {url: fmt.Sprintf("http://127.0.0.1:%d/repo.git", closedPort(t)), wantReason: git.Unreachable, wantInMsg: "connection refused"},
		"a closed port over ssh is Unreachable":                  {url: fmt.Sprintf("ssh://git@127.0.0.1:%d/repo.git", closedPort(t)), auth: sshAuth, wantReason: git.Unreachable, wantInMsg: "connection refused"},
		"an invalid URL is InvalidURL":                           {url: "file:///srv/repo.git", wantReason: git.InvalidURL},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			got, err := git.ResolveBranch(ctx, tc.url, tc.branch, tc.auth)
			if tc.want != "" {
				if err != nil {
					t.Fatalf("ResolveBranch() error = %v (%s)", err, git.ReasonOf(err))
				}
				if got != tc.want {
					t.Errorf("ResolveBranch() = %s, want %s", got, tc.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("ResolveBranch() = %s, want a %s error", got, tc.wantReason)
			}
			var gitErr *git.Error
			if !errors.As(err, &gitErr) {
				t.Fatalf("error %v is a %T, want *git.Error", err, err)
			}
			t.Logf("%s: %s", gitErr.Reason, gitErr.Message)
			if gitErr.Reason != tc.wantReason {
				t.Errorf("Reason = %s, want %s; message: %s", gitErr.Reason, tc.wantReason, gitErr.Message)
			}
			if !strings.Contains(err.Error(), tc.wantInMsg) {
				t.Errorf("message %q does not contain %q", err.Error(), tc.wantInMsg)
			}
			assertNoSecrets(t, err.Error(), tc.auth)
		})
	}
}

func TestLsRemote(t *testing.T) {
	s := startServers(t)
	tagObject := s.repo.Tag(t, "v1.0.0", "release 1.0.0")
	out, err := exec.Command("git", "ls-remote", s.bare).Output()
	if err != nil {
		t.Fatalf("git ls-remote %s: %v", s.bare, err)
	}
	// git ls-remote's own listing of the bare repository is the oracle.
	var want []git.Ref
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		hash, name, _ := strings.Cut(line, "\t")
		want = append(want, git.Ref{Name: name, Hash: hash})
	}
	if !strings.Contains(string(out), tagObject) {
		t.Fatalf("the oracle lacks the tag object %s:\n%s", tagObject, out)
	}

	sshAuth := git.Auth{SSHPrivateKey: s.sshd.ClientKey, SSHKnownHosts: s.sshd.KnownHosts}
	tests := map[string]struct {
		url  string
		auth git.Auth
	}{
		"git daemon lists what git ls-remote lists": {url: s.daemon},
		"http lists what git ls-remote lists":       {url: s.httpAuth, auth: git.Auth{Username: user, Password: password}},
		"ssh lists what git ls-remote lists":        {url: s.sshd.URL, auth: sshAuth},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			got, err := git.LsRemote(ctx, tc.url, tc.auth)
			if err != nil {
				t.Fatalf("LsRemote() error = %v", err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("LsRemote() mismatch (-git ls-remote +got):\n%s", diff)
			}
		})
	}
}

func TestResolveBranch_afterPush(t *testing.T) {
	s := startServers(t)
	sshAuth := git.Auth{SSHPrivateKey: s.sshd.ClientKey, SSHKnownHosts: s.sshd.KnownHosts}
	urls := map[string]git.Auth{s.daemon: {}, s.httpAnon: {}, s.sshd.URL: sshAuth}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	before := s.repo.Head(t, "main")
	for url, auth := range urls {
		if got, err := git.ResolveBranch(ctx, url, "main", auth); err != nil || got != before {
			t.Fatalf("before the push: ResolveBranch(%s) = %s, %v; want %s", url, got, err, before)
		}
	}
	after := s.repo.Commit(t, map[string]string{"site.yml": "- hosts: web\n"}, "second commit")
	for url, auth := range urls {
		if got, err := git.ResolveBranch(ctx, url, "main", auth); err != nil || got != after {
			t.Errorf("after the push: ResolveBranch(%s) = %s, %v; want %s", url, got, err, after)
		}
	}
}

// silentServer accepts connections and never answers, holding them until
// the test ends.
func silentServer(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		conns []net.Conn
	)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		_ = l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	})
	return l.Addr().String()
}

func TestLsRemote_deadline(t *testing.T) {
	addr := silentServer(t)
	tests := map[string]string{
		"a git daemon that never answers times out as Unreachable":   "git://" + addr + "/repo.git",
		"an http server that never answers times out as Unreachable": "http://" + addr + "/repo.git",
		"an ssh server that never answers times out as Unreachable":  "ssh://git@" + addr + "/repo.git",
	}
	for name, url := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			start := time.Now()
			_, err := git.LsRemote(ctx, url, git.Auth{InsecureIgnoreHostKey: true})
			if elapsed := time.Since(start); elapsed > 5*time.Second {
				t.Errorf("LsRemote returned after %s, long past the 300ms deadline", elapsed)
			}
			t.Logf("%s after %s: %v", git.ReasonOf(err), time.Since(start), err)
			if git.ReasonOf(err) != git.Unreachable {
				t.Errorf("error = %v (%s), want Unreachable", err, git.ReasonOf(err))
			}
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("error %v does not wrap context.DeadlineExceeded", err)
			}
		})
	}
}

func TestValidateURL(t *testing.T) {
	valid := []string{
		"https://github.com/org/repo.git",
		"https://github.com/org/repo",
		"http://127.0.0.1:8080/repo.git",
		"https://oauth2@gitlab.example.com/group/sub/repo.git",
		"ssh://git@github.com/org/repo.git",
		"ssh://git@[::1]:2222/srv/repo.git",
		"ssh://github.com/org/repo.git",
		"ssh://git@host/~alice/repo.git",
		"git://127.0.0.1:9418/repo.git",
		"git@github.com:org/repo.git",
		"git@host:/srv/git/repo.git",
		"git@[::1]:repo.git",
	}
	for _, url := range valid {
		if err := git.ValidateURL(url); err != nil {
			t.Errorf("ValidateURL(%q) = %v, want nil", url, err)
		}
	}

	tests := map[string]struct {
		url       string
		wantInMsg string
	}{
		"an empty URL is rejected":                  {url: "", wantInMsg: "empty"},
		"a local path is rejected":                  {url: "/srv/git/repo.git", wantInMsg: "local paths"},
		"a relative path is rejected":               {url: "./repo", wantInMsg: "local paths"},
		"file:// is rejected":                       {url: "file:///srv/git/repo.git", wantInMsg: `scheme "file"`},
		"ftp:// is rejected":                        {url: "ftp://host/repo.git", wantInMsg: `scheme "ftp"`},
		"an scp-like URL without user is rejected":  {url: "github.com:org/repo.git", wantInMsg: "needs a user"},
		"a URL without host is rejected":            {url: "https:///repo.git", wantInMsg: "no host"},
		"a URL without path is rejected":            {url: "https://github.com", wantInMsg: "no repository path"},
		"a URL with only a slash path is rejected":  {url: "https://github.com/", wantInMsg: "no repository path"},
		"a port out of range is rejected":           {url: "ssh://git@host:70000/repo.git", wantInMsg: "port"},
		"a query is rejected":                       {url: "https://host/repo.git?ref=main", wantInMsg: "query"},
		"a fragment is rejected":                    {url: "https://host/repo.git#main", wantInMsg: "fragment"},
		"whitespace is rejected":                    {url: "https://host/my repo.git", wantInMsg: "whitespace"},
		"a trailing newline is rejected":            {url: "https://host/repo.git\n", wantInMsg: "whitespace"},
		"a password in the URL is rejected":         {url: "https://alice:" + password + "@host/repo.git", wantInMsg: "carries a password"},
		"a token as user with password is rejected": {url: "https://oauth2:" + token + "@host/repo.git", wantInMsg: "carries a password"},
		"an unparsable URL is rejected silently":    {url: "https://alice:" + password + "@host:port/repo.git", wantInMsg: "cannot be parsed"},
		"a user on git:// is rejected":              {url: "git://alice@host/repo.git", wantInMsg: "no user"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			err := git.ValidateURL(tc.url)
			if git.ReasonOf(err) != git.InvalidURL || err == nil {
				t.Fatalf("ValidateURL(%q) = %v, want an InvalidURL error", tc.url, err)
			}
			if !strings.Contains(err.Error(), tc.wantInMsg) {
				t.Errorf("message %q does not contain %q", err.Error(), tc.wantInMsg)
			}
			assertNoSecrets(t, err.Error(), git.Auth{})
			// LsRemote refuses the same URL before any network access.
			if _, lerr := git.LsRemote(context.Background(), tc.url, git.Auth{}); git.ReasonOf(lerr) != git.InvalidURL {
				t.Errorf("LsRemote(%q) = %v, want InvalidURL", tc.url, lerr)
			}
		})
	}
}

func TestSanitize(t *testing.T) {
	tests := map[string]struct {
		in, want string
		secret   string // must not survive
	}{
		"a password in an https URL is stripped with its user": {
			in:   `Get "https://alice:` + password + `@git.example.com/repo.git/info/refs": EOF`,
			want: `Get "https://git.example.com/repo.git/info/refs": EOF`, secret: password,
		},
		"a token as user of a URL is stripped": {
			in:   "failed to clone https://" + token + "@github.com/org/repo.git",
			want: "failed to clone https://github.com/org/repo.git", secret: token,
		},
		"an unescaped @ in a password does not leave half of it": {
			in: "clone ssh://git:p@ss" + password + "@host/repo", want: "clone ssh://host/repo", secret: password,
		},
		"a URL without userinfo is unchanged": {
			in: "https://github.com/org/repo.git and git@github.com:org/repo.git", want: "https://github.com/org/repo.git and git@github.com:org/repo.git",
		},
		"an authorization header value is redacted": {
			in:   "server said: Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+password)),
			want: "server said: Authorization: Basic [redacted]", secret: base64.StdEncoding.EncodeToString([]byte(user + ":" + password)),
		},
		"a bearer token is redacted": {
			in: "Bearer " + token, want: "Bearer [redacted]", secret: token,
		},
		"a token query parameter is redacted": {
			in: "GET /repo.git?private_token=" + token + "&x=1", want: "GET /repo.git?private_token=[redacted]&x=1", secret: token,
		},
		"a private key block is redacted": {
			in:     "bad key: -----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n",
			want:   "bad key: [redacted]\n",
			secret: "b3BlbnNzaC1rZXktdjEAAAAA",
		},
		"a cut-off private key block is redacted": {
			in: "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA", want: "[redacted]", secret: "MIIEowIBAAKCAQEA",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := git.Sanitize(tc.in)
			if got != tc.want {
				t.Errorf("Sanitize() = %q, want %q", got, tc.want)
			}
			if tc.secret != "" && strings.Contains(got, tc.secret) {
				t.Errorf("Sanitize() = %q still contains %q", got, tc.secret)
			}
		})
	}
}

// echoServer answers every request with status and a body that repeats the
// request's Authorization header and URL, as a careless proxy or server might.
func echoServer(t *testing.T, status int) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(status)
		_, _ = fmt.Fprintf(w, "no access for %s (password %s?) at %s", r.Header.Get("Authorization"), password, r.URL)
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/repo.git"
}

func TestLsRemote_errorsCarryNoCredentials(t *testing.T) {
	basic := git.Auth{Username: user, Password: password}
	tests := map[string]struct {
		url  string
		auth git.Auth
	}{
		"a 401 body echoing the Authorization header":    {url: echoServer(t, http.StatusUnauthorized), auth: basic},
		"a 500 body echoing the password and URL":        {url: echoServer(t, http.StatusInternalServerError), auth: basic},
		"a 403 body echoing a token":                     {url: echoServer(t, http.StatusForbidden), auth: git.Auth{Username: "oauth2", Password: token}},
		"a 200 that is not a git advertisement":          {url: echoServer(t, http.StatusOK), auth: basic},
		"an https URL with a password never gets sent":   {url: "https://" + user + ":" + password + "@127.0.0.1:1/repo.git"},
		"a malformed private key is not echoed":          {url: "ssh://git@127.0.0.1:1/repo.git", auth: git.Auth{SSHPrivateKey: []byte("-----BEGIN OPENSSH PRIVATE KEY-----\nc2VjcmV0LWtleS1tYXRlcmlhbC1zZWNyZXQ=\n-----END OPENSSH PRIVATE KEY-----\n")}},
		"a valid private key against a closed port":      {url: fmt.Sprintf("ssh://git@127.0.0.1:%d/repo.git", closedPort(t)), auth: git.Auth{SSHPrivateKey: testKey(t)}},
		"an unreachable host with credentials":           {url: fmt.Sprintf("http://127.0.0.1:%d/repo.git", closedPort(t)), auth: basic},
		"a user-only URL plus a Secret password failing": {url: strings.Replace(echoServer(t, http.StatusUnauthorized), "http://", "http://"+user+"@", 1), auth: basic},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := git.LsRemote(context.Background(), tc.url, tc.auth)
			if err == nil {
				t.Fatal("LsRemote() succeeded, want an error")
			}
			t.Logf("%s: %s", git.ReasonOf(err), err)
			assertNoSecrets(t, err.Error(), tc.auth)
			if strings.Contains(err.Error(), "c2VjcmV0LWtleS1tYXRlcmlhbC1zZWNyZXQ") {
				t.Errorf("error %q contains key material", err)
			}
		})
	}
}

func testKey(t *testing.T) []byte {
	t.Helper()
	_, key := gittest.NewSSHKey(t)
	return key
}

func TestResolveBranch_emptyRepository(t *testing.T) {
	bare := t.TempDir() + "/empty.git"
	if out, err := exec.Command("git", "init", "-q", "--bare", bare).CombinedOutput(); err != nil {
		t.Fatalf("git init --bare: %v\n%s", err, out)
	}
	srv := gittest.StartSSHD(t, bare)
	tests := map[string]struct {
		url  string
		auth git.Auth
	}{
		"an empty repository over git daemon has no branches": {url: gittest.StartDaemon(t, bare)},
		"an empty repository over http has no branches":       {url: gittest.StartHTTP(t, bare, "", "")},
		"an empty repository over ssh has no branches":        {url: srv.URL, auth: git.Auth{SSHPrivateKey: srv.ClientKey, SSHKnownHosts: srv.KnownHosts}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			// An empty repository's advertisement is a lone flush-pkt after
			// which the server waits: reading past it would hang until the
			// deadline.
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			start := time.Now()
			refs, err := git.LsRemote(ctx, tc.url, tc.auth)
			if elapsed := time.Since(start); elapsed > 5*time.Second {
				t.Errorf("LsRemote took %s: it waited for more than the advertisement", elapsed)
			}
			if err != nil || len(refs) != 0 {
				t.Fatalf("LsRemote() = %v, %v; want no refs and no error", refs, err)
			}
			_, err = git.ResolveBranch(ctx, tc.url, "main", tc.auth)
			if git.ReasonOf(err) != git.BranchNotFound || !strings.Contains(err.Error(), "has no branches") {
				t.Errorf("ResolveBranch() error = %v, want BranchNotFound saying it has no branches", err)
			}
		})
	}
}
