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
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cloud37/ansible-playbook-operator/operator/internal/gittest"
)

// versionedRepo is a repository whose site.yml writes marker-localhost
// with the version of the commit it belongs to.
func versionedRepo(t *testing.T) *gittest.Repo {
	t.Helper()
	return gittest.NewRepo(t, map[string]string{
		"hosts":    localInventory("localhost"),
		"site.yml": markerPlaybook("version-1"),
	})
}

func TestRun_commits(t *testing.T) {
	t.Parallel()
	repo := versionedRepo(t)
	first := repo.Head(t, "main")
	second := repo.Commit(t, map[string]string{"site.yml": markerPlaybook("version-2")}, "second")
	for i := 3; i <= 60; i++ {
		repo.Commit(t, map[string]string{"site.yml": markerPlaybook(fmt.Sprintf("version-%d", i))}, fmt.Sprintf("commit %d", i))
	}
	tip := repo.Head(t, "main")
	repo.Branch(t, "feature")
	onFeature := repo.Commit(t, map[string]string{"site.yml": markerPlaybook("feature")}, "feature only")
	repo.Branch(t, "main")
	url := gittest.StartDaemon(t, repo.Bare(t))
	// The 20th commit, 40 below the tip.
	version20 := gitOutput(t, repo.Dir, "rev-list", "-n", "1", "--skip", "40", "main")

	tests := map[string]struct {
		commit  string
		branch  string
		shallow bool
		want    string
		// wantLog are the fetches made, in order.
		wantLog []string
		// wantShallow: the checkout is a shallow repository.
		wantShallow bool
	}{
		"the tip of the branch": {
			commit: tip, branch: "main", want: "version-60",
			wantLog: []string{`Fetched branch "main" of`},
		},
		"a shallow clone of the tip fetches depth 1 only": {
			commit: tip, branch: "main", shallow: true, want: "version-60", wantShallow: true,
			wantLog: []string{`Fetched branch "main" (depth 1) of`},
		},
		"a non-tip commit is checked out exactly": {
			commit: second, branch: "main", want: "version-2",
			wantLog: []string{`Fetched branch "main" of`},
		},
		"a shallow non-tip commit within 50 commits is found by deepening": {
			commit: version20, branch: "main", shallow: true, want: "version-20", wantShallow: true,
			wantLog: []string{`Fetched branch "main" (depth 1) of`, `commit`, `Fetched branch "main" (depth 50) of`},
		},
		"a shallow commit deeper than 50 falls back to the whole branch": {
			commit: first, branch: "main", shallow: true, want: "version-1",
			wantLog: []string{`(depth 1)`, `(depth 50)`, `is not among them`, `Fetched branch "main" of`},
		},
		"a commit on another branch is found among all branches": {
			commit: onFeature, branch: "main", want: "feature",
			wantLog: []string{`Fetched branch "main" of`, `is not among them`, `Fetched all branches and tags of`},
		},
		"without a branch all branches are fetched": {
			commit: second, want: "version-2",
			wantLog: []string{`Fetched all branches and tags of`},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			commit := tc.commit
			p := newPod(t)
			s := spec(url, commit)
			s.Repository.Branch = tc.branch
			s.Repository.Shallow = tc.shallow
			got, _ := p.run(t, s)
			wantSummary(t, got, ResultSucceeded, ReasonSucceeded, 0)
			if c := p.file(t, "marker-localhost"); c != tc.want {
				t.Errorf("the playbook of the checkout wrote %q, want %q", c, tc.want)
			}
			head := gitOutput(t, filepath.Join(p.workspace, RepoSubdir), "rev-parse", "HEAD")
			if head != commit {
				t.Errorf("HEAD = %s, want %s", head, commit)
			}
			if status := gitOutput(t, filepath.Join(p.workspace, RepoSubdir), "status", "--porcelain"); status != "" {
				t.Errorf("the checkout is not clean:\n%s", status)
			}
			_, err := os.Stat(filepath.Join(p.workspace, RepoSubdir, ".git", "shallow"))
			if isShallow := err == nil; isShallow != tc.wantShallow {
				t.Errorf("shallow = %v, want %v", isShallow, tc.wantShallow)
			}
			assertInOrder(t, p.out.String(), tc.wantLog)
		})
	}

	t.Run("a commit nowhere in the repository is GitFailed", func(t *testing.T) {
		p := newPod(t)
		got, _ := p.run(t, spec(url, strings.Repeat("0", 39)+"1"))
		wantSummary(t, got, ResultFailed, ReasonGitFailed, 1)
		if !strings.Contains(got.Message, "not found") {
			t.Errorf("message = %q", got.Message)
		}
	})
	t.Run("a missing branch falls back to all branches", func(t *testing.T) {
		p := newPod(t)
		s := spec(url, second)
		s.Repository.Branch = "gone"
		got, _ := p.run(t, s)
		wantSummary(t, got, ResultSucceeded, ReasonSucceeded, 0)
		assertInOrder(t, p.out.String(), []string{`Found no branch "gone"`, "Fetched all branches and tags"})
	})
}

func TestRun_https(t *testing.T) {
	t.Parallel()
	const token = "tok-3xY9-very-SECRET-value"
	repo := gittest.NewRepo(t, map[string]string{
		"hosts":    localInventory("alpha", "beta"),
		"site.yml": failingPlaybook,
	})
	bare := repo.Bare(t)
	commit := repo.Head(t, "main")
	tokenURL := gittest.StartHTTP(t, bare, "oauth2", token)
	basicURL := gittest.StartHTTP(t, bare, "alice", "pa ss:word@1")

	authDir := func(t *testing.T, kv map[string]string) string {
		dir := t.TempDir()
		for k, v := range kv {
			writeFile(t, filepath.Join(dir, k), v)
		}
		return dir
	}
	tests := map[string]struct {
		url, method string
		files       map[string]string
		wantReason  string
		secret      string
	}{
		"a token authenticates as oauth2 on any host": {
			url: tokenURL, method: "token", files: map[string]string{"token": token}, wantReason: ReasonPlaybookFailed, secret: token,
		},
		"https with a token key": {
			url: tokenURL, method: "https", files: map[string]string{"token": token}, wantReason: ReasonPlaybookFailed, secret: token,
		},
		"https with basic-auth keys": {
			url: basicURL, method: "https", files: map[string]string{"username": "alice", "password": "pa ss:word@1"}, wantReason: ReasonPlaybookFailed, secret: "pa ss:word@1",
		},
		"a wrong token is GitFailed without the token": {
			url: tokenURL, method: "token", files: map[string]string{"token": token + "-wrong"}, wantReason: ReasonGitFailed, secret: token,
		},
		"no credentials is GitFailed": {
			url: tokenURL, wantReason: ReasonGitFailed,
		},
		"a missing token key is GitFailed naming the key": {
			url: tokenURL, method: "token", files: map[string]string{"username": "x"}, wantReason: ReasonGitFailed,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			p := newPod(t)
			s := spec(tc.url, commit)
			s.Playbook = "site.yml"
			if tc.method != "" {
				s.Repository.AuthMethod = tc.method
				s.Repository.AuthDir = authDir(t, tc.files)
			}
			got, raw := p.run(t, s)
			if got.Reason != tc.wantReason {
				t.Errorf("reason = %s (%q), want %s", got.Reason, got.Message, tc.wantReason)
			}
			if tc.wantReason == ReasonGitFailed && got.Message == "" {
				t.Errorf("GitFailed without a message")
			}
			if tc.secret != "" {
				for what, text := range map[string]string{"output": p.out.String(), "summary": string(raw)} {
					if strings.Contains(text, tc.secret) {
						t.Errorf("the %s shows the credential:\n%s", what, text)
					}
				}
				assertNoSecretIn(t, tc.secret, p.workspace, p.home, p.tmp)
			}
		})
	}
}

func TestRun_ssh(t *testing.T) {
	t.Parallel()
	repo := gittest.NewRepo(t, map[string]string{
		"hosts":    localInventory("localhost"),
		"site.yml": markerPlaybook("over ssh"),
	})
	srv := gittest.StartSSHD(t, repo.Bare(t))
	commit := repo.Head(t, "main")
	otherKey, _ := gittest.NewSSHKey(t)
	wrongHosts := fmt.Sprintf("[127.0.0.1]:%d %s", srv.Port, otherKey)

	tests := map[string]struct {
		knownHosts  *string // nil: no known_hosts file
		strict      bool
		key         []byte
		wantReason  string
		wantMessage string
	}{
		"a key and known_hosts fetch over ssh": {
			knownHosts: ptr(string(srv.KnownHosts)), strict: true, key: srv.ClientKey, wantReason: ReasonSucceeded,
		},
		"another host key is refused": {
			knownHosts: &wrongHosts, strict: true, key: srv.ClientKey, wantReason: ReasonGitFailed, wantMessage: "host key mismatch",
		},
		"an unknown host is refused": {
			knownHosts: ptr(""), strict: true, key: srv.ClientKey, wantReason: ReasonGitFailed, wantMessage: "unknown host [127.0.0.1]",
		},
		"strict checking without known_hosts fails fast": {
			strict: true, key: srv.ClientKey, wantReason: ReasonGitFailed, wantMessage: "known_hosts",
		},
		"without strict checking any host key is accepted": {
			key: srv.ClientKey, wantReason: ReasonSucceeded,
		},
		"a key the server does not know is refused": {
			knownHosts: ptr(string(srv.KnownHosts)), strict: true, key: func() []byte { _, k := gittest.NewSSHKey(t); return k }(),
			wantReason: ReasonGitFailed, wantMessage: "ssh authentication failed",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			p := newPod(t)
			s := spec(srv.URL, commit)
			s.Repository.AuthMethod = "ssh"
			s.Repository.AuthDir = t.TempDir()
			writeFile(t, filepath.Join(s.Repository.AuthDir, "ssh-privatekey"), string(tc.key))
			s.Repository.StrictHostKeyChecking = tc.strict
			if tc.knownHosts != nil {
				s.Repository.KnownHostsFile = writeFile(t, filepath.Join(t.TempDir(), "known_hosts"), *tc.knownHosts)
			}
			got, raw := p.run(t, s)
			if got.Reason != tc.wantReason || !strings.Contains(got.Message, tc.wantMessage) {
				t.Errorf("summary = %s %q, want %s containing %q", got.Reason, got.Message, tc.wantReason, tc.wantMessage)
			}
			if tc.wantReason == ReasonSucceeded && p.file(t, "marker-localhost") != "over ssh" {
				t.Errorf("the playbook did not run")
			}
			keyLine := strings.Split(string(tc.key), "\n")[1]
			if strings.Contains(p.out.String(), keyLine) || strings.Contains(string(raw), keyLine) {
				t.Errorf("the private key leaked")
			}
		})
	}
}

func TestRun_submodules(t *testing.T) {
	t.Parallel()
	lib := gittest.NewRepo(t, map[string]string{
		"roles/librole/tasks/main.yml": "- copy:\n    content: from-submodule\n    dest: \"{{ lookup('env', 'TMPDIR') }}/librole\"\n",
	})
	libCommit := lib.Head(t, "main")
	// A later commit in the library: the superproject records the first.
	lib.Commit(t, map[string]string{"roles/librole/tasks/main.yml": "- fail: msg=wrong-commit\n"}, "moved on")

	main := gittest.NewRepo(t, map[string]string{
		"hosts":    localInventory("localhost"),
		"site.yml": "- hosts: all\n  gather_facts: false\n  roles: [librole]\n",
	})
	bare := main.Bare(t)
	// The library sits next to the superproject's bare repository, so that
	// the relative URL ../lib.git reaches it through the same daemon.
	gitOutput(t, "", "clone", "-q", "--bare", lib.Dir, filepath.Join(filepath.Dir(bare), "lib.git"))
	if err := os.MkdirAll(filepath.Join(main.Dir, "vendor", "lib"), 0o755); err != nil {
		t.Fatal(err)
	}
	gitOutput(t, main.Dir, "update-index", "--add", "--cacheinfo", "160000,"+libCommit+",vendor/lib")
	commit := main.Commit(t, map[string]string{
		".gitmodules": "[submodule \"lib\"]\n\tpath = vendor/lib\n\turl = ../lib.git\n",
		"ansible.cfg": "[defaults]\nroles_path = vendor/lib/roles\n",
	}, "add the library as a submodule")
	if got := gitOutput(t, main.Dir, "ls-tree", "HEAD", "vendor/lib"); !strings.Contains(got, "160000 commit "+libCommit) {
		t.Fatalf("the superproject does not record the submodule: %q", got)
	}
	url := gittest.StartDaemon(t, bare)

	t.Run("submodules are checked out at the recorded commit", func(t *testing.T) {
		p := newPod(t)
		s := spec(url, commit)
		s.Repository.Submodules = true
		got, _ := p.run(t, s)
		wantSummary(t, got, ResultSucceeded, ReasonSucceeded, 0)
		if p.file(t, "librole") != "from-submodule" {
			t.Errorf("the submodule's role did not run")
		}
		head := gitOutput(t, filepath.Join(p.workspace, RepoSubdir, "vendor", "lib"), "rev-parse", "HEAD")
		if head != libCommit {
			t.Errorf("submodule HEAD = %s, want %s", head, libCommit)
		}
	})
	t.Run("without submodules the directory stays empty", func(t *testing.T) {
		p := newPod(t)
		got, _ := p.run(t, spec(url, commit))
		if got.Result != ResultFailed {
			t.Errorf("summary = %+v, want a failure: the role is not there", got)
		}
	})
}

// gitOutput runs the git CLI (a second opinion on what go-git wrote).
func gitOutput(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL="+os.DevNull,
		"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.invalid", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.invalid")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// assertInOrder checks that the substrings appear in s in order.
func assertInOrder(t *testing.T, s string, subs []string) {
	t.Helper()
	rest := s
	for _, sub := range subs {
		i := strings.Index(rest, sub)
		if i < 0 {
			t.Errorf("the output lacks %q (in order %q):\n%s", sub, subs, s)
			return
		}
		rest = rest[i+len(sub):]
	}
}

func ptr[T any](v T) *T { return &v }

// TestRun_credentialsForAnsible: with passAuthToAnsible, ansible-galaxy
// installs a role from a second private repository on the repository's
// own server with the repository's credentials (https: ~/.netrc; ssh:
// GIT_SSH_COMMAND with the key and known_hosts); without it, the same
// requirements file fails.
func TestRun_credentialsForAnsible(t *testing.T) {
	t.Parallel()
	const token = "tok-for-ansible-9Q7w"
	served := t.TempDir() // both bare repositories, so one server has both
	role := gittest.NewRepo(t, map[string]string{
		"meta/main.yml":  "galaxy_info:\n  author: test\n  description: private role\n  license: MIT\n  min_ansible_version: '2.14'\ndependencies: []\n",
		"tasks/main.yml": "- copy:\n    content: from the private role\n    dest: \"{{ lookup('env', 'TMPDIR') }}/private-role\"\n",
	})
	roleBare := role.BareAt(t, filepath.Join(served, "role.git"))
	site := func(requirement string) *gittest.Repo {
		return gittest.NewRepo(t, map[string]string{
			"hosts":            localInventory("localhost"),
			"site.yml":         "- hosts: all\n  gather_facts: false\n  roles: [private_role]\n",
			"requirements.yml": "roles:\n  - name: private_role\n    src: " + requirement + "\n    version: main\n",
		})
	}
	// sshd serves every path: the role and the site repository.
	sshd := gittest.StartSSHD(t, roleBare)
	sshSite := site("git+" + sshd.URL)
	sshSiteURL := strings.Replace(sshd.URL, roleBare, sshSite.Bare(t), 1)
	// The http server serves role.git and site.git, neighbours in served.
	httpURL := gittest.StartHTTP(t, roleBare, "oauth2", token)
	httpSite := site("git+" + httpURL)
	httpSiteURL := strings.TrimSuffix(httpURL, "role.git") + filepath.Base(httpSite.BareAt(t, filepath.Join(served, "site.git")))
	// The same directory behind basic auth with a password .netrc must quote.
	const password = `pa ss"word`
	basicURL := gittest.StartHTTP(t, roleBare, "alice", password)
	basicSite := site("git+" + basicURL)
	basicSiteURL := strings.TrimSuffix(basicURL, "role.git") + filepath.Base(basicSite.BareAt(t, filepath.Join(served, "basic-site.git")))

	tests := map[string]struct {
		url, commit string
		method      string
		files       map[string]string
		knownHosts  []byte
		pass        bool
		want        string // summary reason
	}{
		"https: the token reaches ansible-galaxy": {
			url: httpSiteURL, commit: httpSite.Head(t, "main"), method: "token", files: map[string]string{"token": token}, pass: true, want: ReasonSucceeded,
		},
		"https: basic-auth keys with a space and a quote reach ansible-galaxy": {
			url: basicSiteURL, commit: basicSite.Head(t, "main"), method: "https", files: map[string]string{"username": "alice", "password": password}, pass: true, want: ReasonSucceeded,
		},
		"https: without passAuthToAnsible the role cannot be fetched": {
			url: httpSiteURL, commit: httpSite.Head(t, "main"), method: "token", files: map[string]string{"token": token}, want: ReasonRequirementsFailed,
		},
		"ssh: the key and known_hosts reach ansible-galaxy": {
			url: sshSiteURL, commit: sshSite.Head(t, "main"), method: "ssh", files: map[string]string{"ssh-privatekey": string(sshd.ClientKey)},
			knownHosts: sshd.KnownHosts, pass: true, want: ReasonSucceeded,
		},
		"ssh: without passAuthToAnsible the role cannot be fetched": {
			url: sshSiteURL, commit: sshSite.Head(t, "main"), method: "ssh", files: map[string]string{"ssh-privatekey": string(sshd.ClientKey)},
			knownHosts: sshd.KnownHosts, want: ReasonRequirementsFailed,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			p := newPod(t)
			s := spec(tc.url, tc.commit)
			s.RequirementsFile = "requirements.yml"
			s.Repository.AuthMethod, s.Repository.PassAuthToAnsible = tc.method, tc.pass
			s.Repository.AuthDir = t.TempDir()
			for k, v := range tc.files {
				writeFile(t, filepath.Join(s.Repository.AuthDir, k), v)
			}
			if tc.knownHosts != nil {
				s.Repository.KnownHostsFile = writeFile(t, filepath.Join(t.TempDir(), "known_hosts"), string(tc.knownHosts))
			}
			got, raw := p.run(t, s)
			if got.Reason != tc.want {
				t.Fatalf("reason = %s (%q), want %s\noutput:\n%s", got.Reason, got.Message, tc.want, p.out.String())
			}
			if tc.want == ReasonSucceeded && p.file(t, "private-role") != "from the private role" {
				t.Error("the private role did not run")
			}
			for what, text := range map[string]string{"output": p.out.String(), "summary": string(raw)} {
				if strings.Contains(text, token) {
					t.Errorf("the %s shows the token:\n%s", what, text)
				}
			}
			if !tc.pass {
				assertNoSecretIn(t, token, p.workspace, p.home, p.tmp)
			}
		})
	}
}
