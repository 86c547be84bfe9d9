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
	"path"
	"strings"
	"time"

	gogit "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/storage/memory"
)

const (
	// FetchLimit caps what one fetch of the operator (a path check, the
	// resolution of an abbreviated revision) holds in memory.
	FetchLimit = 64 << 20
	// FetchTimeout bounds one fetch of the operator.
	FetchTimeout = 60 * time.Second
)

// errTooLarge stops a fetch at FetchLimit.
var errTooLarge = errors.New("fetch over the size limit")

// cappedStorage is go-git's in-memory storage that refuses objects past a
// total size, so a fetch cannot fill the operator's memory.
type cappedStorage struct {
	*memory.Storage
	used, limit int64
}

func (s *cappedStorage) SetEncodedObject(o plumbing.EncodedObject) (plumbing.Hash, error) {
	s.used += o.Size()
	if s.used > s.limit {
		return plumbing.ZeroHash, errTooLarge
	}
	return s.Storage.SetEncodedObject(o)
}

// IsFullHash reports whether s is a full SHA-1 commit name in lower case:
// the only form playbook-runner checks out, so the only form a Repository
// records.
func IsFullHash(s string) bool {
	if len(s) != 40 {
		return false
	}
	for _, c := range s {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// fetch fetches refSpecs of url (at depth, 0 for the whole history) into
// memory, refusing more than limit bytes of objects. Errors are *Error: what
// names the refs for the message.
func fetch(ctx context.Context, url string, auth Auth, refSpecs []config.RefSpec, depth int, limit int64, what string) (*gogit.Repository, error) {
	ep, verr := parseEndpoint(url)
	if verr != nil {
		return nil, verr
	}
	ctx, cancel := context.WithTimeout(ctx, FetchTimeout)
	defer cancel()
	repo, err := gogit.Init(&cappedStorage{Storage: memory.NewStorage(), limit: limit}, nil)
	if err != nil {
		return nil, newError(Failed, "failed to prepare a fetch in memory: %s", err)
	}
	remote, err := repo.CreateRemote(&config.RemoteConfig{Name: gogit.DefaultRemoteName, URLs: []string{url}})
	if err != nil {
		return nil, newError(Failed, "failed to prepare a fetch in memory: %s", err)
	}
	gep, err := transport.NewEndpoint(url)
	if err != nil {
		return nil, invalidURL("it cannot be parsed as a URL; %s", supportedForms)
	}
	var hostKeyErr error
	method, err := TransportAuth(url, auth, HostPort(gep), &hostKeyErr)
	if err != nil {
		return nil, newError(AuthFailed, "%s", err.Error())
	}
	err = remote.FetchContext(ctx, &gogit.FetchOptions{RefSpecs: refSpecs, Depth: depth, Auth: method, Tags: gogit.NoTags})
	switch {
	case hostKeyErr != nil:
		return nil, classify(ctx, hostKeyErr, "fetch from", ep.String(), auth)
	case errors.Is(err, errTooLarge):
		return nil, newError(TooLarge, "%s of %s hold more than %d MiB, more than the operator fetches into memory", what, ep.String(), limit>>20)
	case err != nil && !errors.Is(err, gogit.NoErrAlreadyUpToDate):
		return nil, classify(ctx, err, "fetch from", ep.String(), auth)
	}
	return repo, nil
}

// ResolveRevision returns the full commit that revision (a Repository's
// spec.revision) names. A full SHA-1 in any case is lower-cased without
// asking the server; whether the commit exists is the run's fetch to find
// out, as for any pinned revision. An abbreviated SHA-1 (7 to 39 hex
// digits, which the Python operator's git checkout accepted) is looked up
// among the commits of every branch and tag, fetched into memory within
// FetchLimit: ls-remote lists tips only. No match, several matches, a
// repository too large to fetch and a SHA-256 name are *Errors with
// Reason RevisionNotFound, RevisionNotFound, TooLarge and InvalidRevision.
func ResolveRevision(ctx context.Context, url, revision string, auth Auth) (string, error) {
	return resolveRevision(ctx, url, revision, auth, FetchLimit)
}

func resolveRevision(ctx context.Context, url, revision string, auth Auth, limit int64) (string, error) {
	prefix := strings.ToLower(revision)
	switch {
	case IsFullHash(prefix):
		return prefix, nil
	case len(prefix) == 64:
		return "", newError(InvalidRevision, "revision %s is a SHA-256 commit name: runs check out SHA-1 repositories only", revision)
	case len(prefix) < 4 || len(prefix) > 40 || strings.Trim(prefix, "0123456789abcdef") != "":
		return "", newError(InvalidRevision, "revision %q is not a commit SHA: 7 to 40 hex digits", revision)
	}
	repo, err := fetch(ctx, url, auth, []config.RefSpec{
		"+refs/heads/*:refs/remotes/origin/*",
		"+refs/tags/*:refs/tags/*",
	}, 0, limit, "the branches and tags")
	if err != nil {
		var e *Error
		if errors.As(err, &e) && e.Reason == TooLarge {
			e.Message = fmt.Sprintf("cannot resolve the abbreviated revision %s: %s; set spec.revision to the full 40-hex commit", revision, e.Message)
		}
		return "", err
	}
	commits, err := repo.CommitObjects()
	if err != nil {
		return "", newError(Failed, "failed to read the fetched commits: %s", err)
	}
	var matches []string
	_ = commits.ForEach(func(c *object.Commit) error {
		if h := c.Hash.String(); strings.HasPrefix(h, prefix) {
			matches = append(matches, h)
		}
		return nil
	})
	ep, _ := parseEndpoint(url)
	switch len(matches) {
	case 1:
		return matches[0], nil
	case 0:
		return "", newError(RevisionNotFound, "no commit of the branches and tags of %s starts with %s", ep.String(), revision)
	}
	return "", newError(RevisionNotFound, "revision %s is ambiguous in %s (%s): give more hex digits", revision, ep.String(), listSome(matches))
}

// CheckPaths fetches branch (required) at depth 1 into memory (within FetchLimit) and
// reports which paths are missing at commit. When the branch has moved past
// commit, the check is impossible at depth 1 and an error says so.
func CheckPaths(ctx context.Context, url, branch string, auth Auth, commit string, paths []string) ([]string, error) {
	if branch == "" {
		// The default branch is the API's (Repository.GetBranch), not ours.
		return nil, newError(BranchNotFound, "no branch given to check paths on")
	}
	ref := plumbing.NewBranchReferenceName(branch)
	what := fmt.Sprintf("branch %s", branch)
	repo, err := fetch(ctx, url, auth, []config.RefSpec{config.RefSpec("+" + ref.String() + ":" + ref.String())}, 1, FetchLimit, what+" at depth 1")
	if err != nil {
		return nil, err
	}
	tip, err := repo.Reference(ref, true)
	if err != nil {
		return nil, newError(BranchNotFound, "%s is not in the fetch: %s", what, err)
	}
	if tip.Hash().String() != commit {
		return nil, fmt.Errorf("%s is at %s, not at the resolved commit %s, so depth 1 cannot show it", what, tip.Hash(), commit)
	}
	c, err := repo.CommitObject(tip.Hash())
	if err != nil {
		return nil, err
	}
	tree, err := c.Tree()
	if err != nil {
		return nil, err
	}
	var missing []string
	for _, p := range paths {
		if _, err := tree.FindEntry(path.Clean(p)); err != nil {
			missing = append(missing, p)
		}
	}
	return missing, nil
}
