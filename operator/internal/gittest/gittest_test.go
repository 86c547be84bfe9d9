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
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// lsRemote runs the git CLI's ls-remote, so that the servers are checked by
// a client other than the one under test elsewhere.
func lsRemote(t *testing.T, url string, env ...string) (string, error) {
	t.Helper()
	cmd := gitCommand("", "ls-remote", url)
	cmd.Env = append(cmd.Env, env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// refOf returns the hash of name in ls-remote output.
func refOf(out, name string) string {
	for _, line := range strings.Split(out, "\n") {
		if hash, ref, ok := strings.Cut(line, "\t"); ok && ref == name {
			return hash
		}
	}
	return ""
}

func TestRepo(t *testing.T) {
	repo := NewRepo(t, map[string]string{"site.yml": "- hosts: all\n", "roles/x/tasks/main.yml": "[]\n"})
	first := repo.Head(t, "main")
	repo.Branch(t, "feature")
	onFeature := repo.Commit(t, map[string]string{"feature.txt": "x"}, "feature work")
	repo.Branch(t, "main")
	bare := repo.Bare(t)
	afterBare := repo.Commit(t, nil, "empty commit after the bare clone")

	t.Run("commits land on the checked-out branch", func(t *testing.T) {
		if got := repo.Head(t, "feature"); got != onFeature {
			t.Errorf("feature = %s, want %s", got, onFeature)
		}
		if afterBare == first {
			t.Errorf("the empty commit did not move main")
		}
		if _, err := os.Stat(filepath.Join(repo.Dir, "roles", "x", "tasks", "main.yml")); err != nil {
			t.Errorf("nested file not written: %v", err)
		}
	})
	t.Run("bare clone has every branch, HEAD on main and later commits", func(t *testing.T) {
		if got := runGit(t, bare, "symbolic-ref", "HEAD"); got != "refs/heads/main" {
			t.Errorf("bare HEAD = %s, want refs/heads/main", got)
		}
		if got := runGit(t, bare, "rev-parse", "refs/heads/main"); got != afterBare {
			t.Errorf("bare main = %s, want %s", got, afterBare)
		}
		if got := runGit(t, bare, "rev-parse", "refs/heads/feature"); got != onFeature {
			t.Errorf("bare feature = %s, want %s", got, onFeature)
		}
	})
	t.Run("a branch created after the bare clone is pushed", func(t *testing.T) {
		repo.Branch(t, "late")
		if got := runGit(t, bare, "rev-parse", "refs/heads/late"); got != afterBare {
			t.Errorf("bare late = %s, want %s", got, afterBare)
		}
		repo.Branch(t, "main")
	})
}

func TestStartDaemon(t *testing.T) {
	repo := NewRepo(t, map[string]string{"a": "1"})
	url := StartDaemon(t, repo.Bare(t))
	out, err := lsRemote(t, url)
	if err != nil {
		t.Fatalf("git ls-remote %s: %v\n%s", url, err, out)
	}
	if got, want := refOf(out, "refs/heads/main"), repo.Head(t, "main"); got != want {
		t.Errorf("main = %q, want %q; output:\n%s", got, want, out)
	}
	next := repo.Commit(t, map[string]string{"a": "2"}, "second")
	out, err = lsRemote(t, url)
	if err != nil || refOf(out, "refs/heads/main") != next {
		t.Errorf("after a push, ls-remote = %v\n%s, want main at %s", err, out, next)
	}
}

func TestStartHTTP(t *testing.T) {
	repo := NewRepo(t, map[string]string{"a": "1"})
	bare := repo.Bare(t)
	main := repo.Head(t, "main")

	t.Run("anonymous server answers git ls-remote", func(t *testing.T) {
		url := StartHTTP(t, bare, "", "")
		out, err := lsRemote(t, url)
		if err != nil || refOf(out, "refs/heads/main") != main {
			t.Errorf("git ls-remote %s = %v\n%s, want main at %s", url, err, out, main)
		}
	})

	url := StartHTTP(t, bare, "alice", "s3cret-pass")
	infoRefs := url + "/info/refs?service=git-upload-pack"
	tests := map[string]struct {
		user, pass string // empty user sends no Authorization header
		wantStatus int
	}{
		"correct credentials get the smart advertisement": {user: "alice", pass: "s3cret-pass", wantStatus: http.StatusOK},
		"a wrong password gets 401":                       {user: "alice", pass: "nope", wantStatus: http.StatusUnauthorized},
		"no credentials get 401":                          {wantStatus: http.StatusUnauthorized},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodGet, infoRefs, nil)
			if err != nil {
				t.Fatal(err)
			}
			if tc.user != "" {
				req.SetBasicAuth(tc.user, tc.pass)
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			_ = res.Body.Close()
			if res.StatusCode != tc.wantStatus {
				t.Fatalf("status = %d, want %d", res.StatusCode, tc.wantStatus)
			}
			switch res.StatusCode {
			case http.StatusOK:
				if ct := res.Header.Get("Content-Type"); ct != "application/x-git-upload-pack-advertisement" {
					t.Errorf("Content-Type = %q, want the smart HTTP advertisement", ct)
				}
			case http.StatusUnauthorized:
				if res.Header.Get("WWW-Authenticate") == "" {
					t.Errorf("401 without a WWW-Authenticate challenge")
				}
			}
		})
	}
	t.Run("git ls-remote with credentials in the URL resolves main", func(t *testing.T) {
		withCreds := strings.Replace(url, "http://", "http://alice:s3cret-pass@", 1)
		out, err := lsRemote(t, withCreds)
		if err != nil || refOf(out, "refs/heads/main") != main {
			t.Errorf("git ls-remote = %v\n%s, want main at %s", err, out, main)
		}
	})
}

func TestStartSSHD(t *testing.T) {
	repo := NewRepo(t, map[string]string{"a": "1"})
	srv := StartSSHD(t, repo.Bare(t))
	dir := t.TempDir()
	key := filepath.Join(dir, "id")
	knownHosts := filepath.Join(dir, "known_hosts")
	writeFile(t, key, srv.ClientKey, 0o600)
	writeFile(t, knownHosts, srv.KnownHosts, 0o600)
	ssh := "ssh -F /dev/null -o BatchMode=yes -o IdentitiesOnly=yes -o StrictHostKeyChecking=yes" +
		" -o UserKnownHostsFile=" + knownHosts + " -i "

	t.Run("the generated client key and known_hosts line let git ls-remote in", func(t *testing.T) {
		out, err := lsRemote(t, srv.URL, "GIT_SSH_COMMAND="+ssh+key)
		if err != nil || refOf(out, "refs/heads/main") != repo.Head(t, "main") {
			t.Errorf("git ls-remote %s = %v\n%s", srv.URL, err, out)
		}
	})
	t.Run("another key is refused", func(t *testing.T) {
		_, other := NewSSHKey(t)
		otherFile := filepath.Join(dir, "other")
		writeFile(t, otherFile, other, 0o600)
		out, err := lsRemote(t, srv.URL, "GIT_SSH_COMMAND="+ssh+otherFile)
		if err == nil || !strings.Contains(out, "Permission denied") {
			t.Errorf("git ls-remote with an unknown key = %v\n%s, want Permission denied", err, out)
		}
	})
}
