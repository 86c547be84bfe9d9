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
	"strings"
	"testing"

	"github.com/cloud37/ansible-playbook-operator/operator/internal/git"
	"github.com/cloud37/ansible-playbook-operator/operator/internal/gittest"
)

func TestResolveRevision(t *testing.T) {
	repo := gittest.NewRepo(t, map[string]string{"site.yml": "- hosts: all\n"})
	old := repo.Head(t, "main")
	repo.Commit(t, map[string]string{"b.yml": "- hosts: all\n"}, "second")
	// A commit only a tag reaches.
	repo.Branch(t, "topic")
	tagged := repo.Commit(t, map[string]string{"c.yml": "- hosts: all\n"}, "tagged")
	repo.Tag(t, "v1", "release v1")
	repo.Branch(t, "main")
	url := gittest.StartDaemon(t, repo.Bare(t))
	repo.DeleteBranch(t, "topic")
	ctx := context.Background()

	cases := map[string]struct {
		url, revision string
		want          string
		reason        git.Reason
		message       string // part of the error
	}{
		"an abbreviation of an old commit resolves":        {url: url, revision: old[:7], want: old},
		"an upper-case abbreviation resolves":              {url: url, revision: strings.ToUpper(old[:10]), want: old},
		"a commit reached only by a tag resolves":          {url: url, revision: tagged[:8], want: tagged},
		"a full hash in upper case needs no server":        {url: "git://127.0.0.1:1/unreachable.git", revision: strings.ToUpper(old), want: old},
		"an abbreviation of no commit is RevisionNotFound": {url: url, revision: "0000000", reason: git.RevisionNotFound, message: "no commit of the branches and tags of"},
		"a SHA-256 name is InvalidRevision":                {url: url, revision: strings.Repeat("ab", 32), reason: git.InvalidRevision, message: "SHA-256"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := git.ResolveRevision(ctx, tc.url, tc.revision, git.Auth{})
			if tc.reason == "" {
				if err != nil || got != tc.want {
					t.Fatalf("ResolveRevision(%q) = %q, %v; want %s", tc.revision, got, err, tc.want)
				}
				return
			}
			if git.ReasonOf(err) != tc.reason || !strings.Contains(err.Error(), tc.message) {
				t.Fatalf("ResolveRevision(%q) = %q, %v; want reason %s with %q", tc.revision, got, err, tc.reason, tc.message)
			}
		})
	}

	t.Run("a repository over the fetch limit is TooLarge and says what to set", func(t *testing.T) {
		_, err := git.ResolveRevisionWithLimit(ctx, url, old[:7], git.Auth{}, 512)
		if git.ReasonOf(err) != git.TooLarge || !strings.Contains(err.Error(), "set spec.revision to the full 40-hex commit") {
			t.Fatalf("err = %v, want TooLarge naming the fix", err)
		}
	})
}
