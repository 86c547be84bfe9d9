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
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	gogit "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/transport"

	"github.com/cloud37/ansible-playbook-operator/operator/internal/git"
	"github.com/cloud37/ansible-playbook-operator/operator/internal/runspec"
)

const (
	// deepenDepth is the second, deeper fetch of a shallow run whose commit
	// is not the branch tip: enough for a branch that moved on a little
	// since the Repository resolved it.
	deepenDepth = 50
	// maxSubmoduleDepth bounds submodules of submodules, as git's default.
	maxSubmoduleDepth = 10
)

// gitAuth is the Repository's credentials, read from the mounted Secret and
// known_hosts file; they stay in memory and go to go-git's transports only.
type gitAuth struct {
	git.Auth
	// repoHost is the host:port of the repository URL: http credentials are
	// sent to it only, never to a submodule on another host.
	repoHost string
}

// loadAuth reads the auth Secret's files for r.AuthMethod (git.Credentials
// decides which keys the method takes) and the known_hosts file.
func loadAuth(r runspec.Repository) (gitAuth, error) {
	var a gitAuth
	if err := git.ValidateURL(r.URL); err != nil {
		return a, fail(ReasonInvalidSpec, "%s", err.Error())
	}
	ep, err := transport.NewEndpoint(r.URL)
	if err != nil {
		return a, fail(ReasonInvalidSpec, "invalid repository URL: it cannot be parsed")
	}
	a.repoHost = hostPort(ep)
	creds, err := git.Credentials(r.AuthMethod, func(key string) ([]byte, error) {
		b, err := os.ReadFile(filepath.Join(r.AuthDir, key))
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		if err != nil {
			return nil, fail(ReasonGitFailed, "failed to read the key %s of the git auth Secret: %s", key, pathError(err))
		}
		return b, nil
	})
	var missing *git.MissingKeyError
	switch {
	case errors.As(err, &missing):
		return a, fail(ReasonGitFailed, "the git auth Secret has no key %s in %s, which auth.method %s needs", missing.Keys, r.AuthDir, missing.Method)
	case err != nil:
		return a, err
	}
	a.Auth = creds
	a.InsecureIgnoreHostKey = !r.StrictHostKeyChecking
	if ep.Protocol == "ssh" && r.StrictHostKeyChecking {
		if r.KnownHostsFile == "" {
			return a, fail(ReasonGitFailed, "strict host key checking needs a known_hosts file: set spec.ssh.knownHostsConfigMapRef on the Repository, or strictHostKeyChecking: false")
		}
		b, err := os.ReadFile(r.KnownHostsFile)
		if err != nil {
			return a, fail(ReasonGitFailed, "failed to read the known_hosts file %s (strict host key checking needs it): %s", r.KnownHostsFile, pathError(err))
		}
		a.SSHKnownHosts = b
	}
	return a, nil
}

// method returns the go-git auth for rawURL (git.TransportAuth): the key and
// known_hosts check for any ssh host, http credentials for the repository's
// host only. hostKeyErr receives the verdict of the host key check.
func (a gitAuth) method(rawURL string, hostKeyErr *error) (transport.AuthMethod, error) {
	return git.TransportAuth(rawURL, a.Auth, a.repoHost, hostKeyErr)
}

// hostPort is host:port with the scheme's default port filled in.
func hostPort(ep *transport.Endpoint) string { return git.HostPort(ep) }

// fetchAttempt is one fetch of the sequence that looks for the commit.
type fetchAttempt struct {
	what     string
	refSpecs []config.RefSpec
	depth    int
	// fresh starts from an empty repository: a full fetch into a shallow one
	// would stop at its shallow boundary.
	fresh bool
}

// attempts returns the fetches to try in order until the commit is there:
// the branch (shallow, then deeper, when asked), the whole branch, and all
// branches and tags (a pinned revision need not be on the branch).
func attempts(r runspec.Repository) []fetchAttempt {
	branch := strings.TrimPrefix(r.Branch, "refs/heads/")
	all := fetchAttempt{
		what: "all branches and tags",
		refSpecs: []config.RefSpec{
			"+refs/heads/*:refs/remotes/origin/*",
			"+refs/tags/*:refs/tags/*",
		},
	}
	var out []fetchAttempt
	if branch != "" {
		specs := []config.RefSpec{config.RefSpec("+refs/heads/" + branch + ":refs/remotes/origin/" + branch)}
		what := fmt.Sprintf("branch %q", branch)
		if r.Shallow {
			out = append(out,
				fetchAttempt{what: what + " (depth 1)", refSpecs: specs, depth: 1, fresh: true},
				fetchAttempt{what: fmt.Sprintf("%s (depth %d)", what, deepenDepth), refSpecs: specs, depth: deepenDepth})
		}
		out = append(out, fetchAttempt{what: what, refSpecs: specs, fresh: true})
		return append(out, all)
	}
	if r.Shallow {
		heads := fetchAttempt{what: "all branches", refSpecs: all.refSpecs[:1]}
		d1, deeper := heads, heads
		d1.what, d1.depth, d1.fresh = heads.what+" (depth 1)", 1, true
		deeper.what, deeper.depth = fmt.Sprintf("%s (depth %d)", heads.what, deepenDepth), deepenDepth
		out = append(out, d1, deeper)
	}
	all.fresh = true
	return append(out, all)
}

// checkout fetches until the recorded commit is present, checks it out
// (detached HEAD) into r.repoDir and updates the submodules.
func (r *run) checkout(ctx context.Context, auth gitAuth) error {
	spec := r.spec.Repository
	hash := plumbing.NewHash(spec.Commit)
	what := displayURL(spec.URL)
	var hostKeyErr error
	method, err := auth.method(spec.URL, &hostKeyErr)
	if err != nil {
		return fail(ReasonGitFailed, "%s", err.Error())
	}

	var repo *gogit.Repository
	var tried []string
	// missing holds the refspecs the server has no refs for (the branch
	// does not exist): later attempts with them are skipped.
	missing := map[config.RefSpec]bool{}
	for _, at := range attempts(spec) {
		if missing[at.refSpecs[0]] {
			continue
		}
		if at.fresh || repo == nil {
			if repo, err = initRepo(r.repoDir, spec.URL); err != nil {
				return fail(ReasonGitFailed, "failed to prepare the checkout directory %s: %s", r.repoDir, pathError(err))
			}
		}
		tried = append(tried, at.what)
		start := time.Now()
		err := repo.FetchContext(ctx, &gogit.FetchOptions{
			RemoteName: gogit.DefaultRemoteName,
			RefSpecs:   at.refSpecs,
			Depth:      at.depth,
			Auth:       method,
			Tags:       gogit.NoTags,
		})
		switch {
		case err == nil, errors.Is(err, gogit.NoErrAlreadyUpToDate):
		case errors.Is(err, gogit.NoMatchingRefSpecError{}):
			r.log("Found no %s in %s", at.what, what)
			missing[at.refSpecs[0]] = true
			continue
		case at.depth > 1:
			// A server that cannot deepen: the full fetch comes next.
			r.log("Failed to fetch %s of %s, fetching the whole history: %s", at.what, what, r.redact.Apply(err.Error()))
			continue
		default:
			return fail(ReasonGitFailed, "%s", r.fetchError(ctx, err, hostKeyErr, at.what, what))
		}
		if _, err := repo.CommitObject(hash); err == nil {
			r.log("Fetched %s of %s in %s", at.what, what, since(start))
			break
		}
		r.log("Fetched %s of %s in %s: commit %s is not among them", at.what, what, since(start), spec.Commit)
	}
	if repo == nil {
		return fail(ReasonGitFailed, "commit %s not found in %s: it has no branches", spec.Commit, what)
	}
	if _, err := repo.CommitObject(hash); err != nil {
		return fail(ReasonGitFailed, "commit %s not found in %s (fetched %s)", spec.Commit, what, strings.Join(tried, ", then "))
	}

	wt, err := repo.Worktree()
	if err != nil {
		return fail(ReasonGitFailed, "failed to open the work tree: %s", err)
	}
	if err := wt.Checkout(&gogit.CheckoutOptions{Hash: hash, Force: true}); err != nil {
		return fail(ReasonGitFailed, "failed to check out commit %s: %s", spec.Commit, r.redact.Apply(err.Error()))
	}
	if spec.Submodules {
		if err := r.updateSubmodules(ctx, wt, spec.URL, auth, 1); err != nil {
			return err
		}
	}
	return nil
}

// initRepo makes dir an empty repository whose origin is rawURL.
func initRepo(dir, rawURL string) (*gogit.Repository, error) {
	if err := os.RemoveAll(dir); err != nil {
		return nil, err
	}
	// Not world-writable: ansible ignores an ansible.cfg in a world-writable
	// working directory, and emptyDirs are created 0777.
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	repo, err := gogit.PlainInit(dir, false)
	if err != nil {
		return nil, err
	}
	_, err = repo.CreateRemote(&config.RemoteConfig{Name: gogit.DefaultRemoteName, URLs: []string{rawURL}})
	return repo, err
}

// updateSubmodules checks out every submodule of wt at the commit its
// superproject records, recursively. Each one gets the credentials its URL
// may see (see gitAuth.method) and a full fetch: a submodule commit is
// rarely a branch tip.
func (r *run) updateSubmodules(ctx context.Context, wt *gogit.Worktree, parentURL string, auth gitAuth, level int) error {
	subs, err := wt.Submodules()
	if err != nil {
		return fail(ReasonGitFailed, "failed to read .gitmodules: %s", r.redact.Apply(err.Error()))
	}
	for _, sub := range subs {
		cfg := sub.Config()
		subURL := resolveSubmoduleURL(parentURL, cfg.URL)
		if err := git.ValidateURL(subURL); err != nil {
			return fail(ReasonGitFailed, "submodule %q: %s", cfg.Path, err.Error())
		}
		var hostKeyErr error
		method, err := auth.method(subURL, &hostKeyErr)
		if err != nil {
			return fail(ReasonGitFailed, "submodule %q: %s", cfg.Path, err.Error())
		}
		start := time.Now()
		err = sub.UpdateContext(ctx, &gogit.SubmoduleUpdateOptions{
			Init:              true,
			Auth:              method,
			RecurseSubmodules: gogit.NoRecurseSubmodules,
		})
		if err != nil {
			return fail(ReasonGitFailed, "submodule %q: %s", cfg.Path, r.fetchError(ctx, err, hostKeyErr, "its commit", displayURL(subURL)))
		}
		r.log("Checked out submodule %q from %s in %s", cfg.Path, displayURL(subURL), since(start))
		if level >= maxSubmoduleDepth {
			continue
		}
		subRepo, err := sub.Repository()
		if err != nil {
			return fail(ReasonGitFailed, "submodule %q: %s", cfg.Path, r.redact.Apply(err.Error()))
		}
		subWT, err := subRepo.Worktree()
		if err != nil {
			return fail(ReasonGitFailed, "submodule %q: %s", cfg.Path, r.redact.Apply(err.Error()))
		}
		if err := r.updateSubmodules(ctx, subWT, subURL, auth, level+1); err != nil {
			return err
		}
	}
	return nil
}

// resolveSubmoduleURL resolves a relative submodule URL (./x, ../x)
// against the superproject's URL, as git does.
func resolveSubmoduleURL(parent, sub string) string {
	if !strings.HasPrefix(sub, "./") && !strings.HasPrefix(sub, "../") {
		return sub
	}
	ep, err := transport.NewEndpoint(parent)
	if err != nil {
		return sub
	}
	ep.Path = path.Join(ep.Path, sub)
	return ep.String()
}

// fetchError explains a failed fetch without credentials.
func (r *run) fetchError(ctx context.Context, err, hostKeyErr error, what, where string) string {
	var gitErr *git.Error
	switch {
	case hostKeyErr != nil && errors.As(hostKeyErr, &gitErr):
		return gitErr.Message
	case hostKeyErr != nil:
		return fmt.Sprintf("host key of %s rejected: %s", where, r.redact.Apply(hostKeyErr.Error()))
	case ctx.Err() != nil:
		return fmt.Sprintf("canceled while fetching %s of %s", what, where)
	case errors.Is(err, transport.ErrAuthenticationRequired):
		return fmt.Sprintf("authentication failed for %s: the server rejected the credentials, or needs some; check the Repository's auth Secret", where)
	case errors.Is(err, transport.ErrAuthorizationFailed):
		return fmt.Sprintf("access denied by %s: the credentials may not read this repository", where)
	case errors.Is(err, transport.ErrRepositoryNotFound):
		return fmt.Sprintf("repository not found at %s", where)
	case strings.Contains(err.Error(), "unable to authenticate"):
		return fmt.Sprintf("ssh authentication failed for %s: the server refused the private key", where)
	}
	return fmt.Sprintf("failed to fetch %s of %s: %s", what, where, r.redact.Apply(err.Error()))
}

// displayURL is the URL for messages, without userinfo secrets.
func displayURL(rawURL string) string {
	return strconv.Quote(git.Sanitize(rawURL))
}

// pathError is an os error's text without the repeated path.
func pathError(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}
