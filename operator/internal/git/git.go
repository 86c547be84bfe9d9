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

// Package git lists a remote repository's refs in-process (the ls-remote that
// resolves a Repository's branch to a commit) over https, http, ssh and git://,
// and classifies every failure into a credential-free *Error.
package git

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing/protocol/packp"
)

// DefaultTimeout bounds LsRemote and ResolveBranch when ctx has no deadline,
// so that a server that accepts a connection and never answers cannot hold a
// reconcile forever.
const DefaultTimeout = 60 * time.Second

// Auth is what a Repository's Secret and known_hosts ConfigMap provide. Only
// the fields for the URL's transport are used: Username and Password for
// http(s), the SSH fields for ssh.
type Auth struct {
	// Username and Password are https basic credentials or a token (the
	// caller defaults Username to "oauth2" when only a token is given). Both
	// empty means anonymous.
	Username, Password string
	// SSHPrivateKey is an unencrypted PEM or OpenSSH private key. Empty
	// means ssh authenticates with none, which servers refuse.
	SSHPrivateKey []byte
	// SSHKnownHosts is known_hosts content; required for ssh unless
	// InsecureIgnoreHostKey.
	SSHKnownHosts []byte
	// InsecureIgnoreHostKey accepts any ssh host key; only when the user set
	// strictHostKeyChecking: false.
	InsecureIgnoreHostKey bool
}

// Ref is one advertised ref, as a line of git ls-remote: peeled tags appear a
// second time with a ^{} suffix and the commit they point to.
type Ref struct {
	Name, Hash string
}

// LsRemote lists the refs of the repository at url: HEAD first (resolved to a
// commit), then the others sorted by name. An empty repository has no refs
// and no error. Every error is an *Error whose message carries no
// credentials. ctx bounds the whole exchange, connection included; without a
// deadline DefaultTimeout applies.
func LsRemote(ctx context.Context, url string, auth Auth) ([]Ref, error) {
	ep, verr := parseEndpoint(url)
	if verr != nil {
		return nil, verr
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultTimeout)
		defer cancel()
	}
	var (
		ar  *packp.AdvRefs
		err error
	)
	switch ep.scheme {
	case "https", "http":
		ar, err = listHTTP(ctx, url, auth)
	case "ssh":
		ar, err = listSSH(ctx, ep, auth)
	default:
		ar, err = listGitDaemon(ctx, ep)
	}
	if err != nil {
		return nil, classify(ctx, err, "list refs of", ep.String(), auth)
	}
	return refsOf(ar), nil
}

// ResolveBranch returns the commit hash refs/heads/<branch> points to, or
// HEAD's when branch is empty. A missing branch is an *Error with Reason
// BranchNotFound that lists some of the branches the repository has.
func ResolveBranch(ctx context.Context, url, branch string, auth Auth) (string, error) {
	refs, err := LsRemote(ctx, url, auth)
	if err != nil {
		return "", err
	}
	want := "HEAD"
	if branch != "" {
		want = "refs/heads/" + strings.TrimPrefix(branch, "refs/heads/")
	}
	var branches []string
	for _, r := range refs {
		if r.Name == want {
			return r.Hash, nil
		}
		if name, ok := strings.CutPrefix(r.Name, "refs/heads/"); ok {
			branches = append(branches, name)
		}
	}
	// LsRemote has validated url.
	ep, _ := parseEndpoint(url)
	what := ep.String()
	if len(branches) == 0 {
		return "", newError(BranchNotFound, "%s has no branches: push a commit, or check spec.url", what)
	}
	if branch == "" {
		return "", newError(BranchNotFound, "the HEAD of %s points to no branch: set spec.branch (branches: %s)", what, listSome(branches))
	}
	return "", newError(BranchNotFound, "branch %q not found in %s (branches: %s)", branch, what, listSome(branches))
}

// listSome joins up to ten names for a message.
func listSome(names []string) string {
	const limit = 10
	if len(names) <= limit {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:limit], ", "), len(names)-limit)
}

// refsOf flattens an advertisement into ls-remote order.
func refsOf(ar *packp.AdvRefs) []Ref {
	refs := make([]Ref, 0, len(ar.References)+len(ar.Peeled))
	for name, hash := range ar.References {
		refs = append(refs, Ref{Name: name, Hash: hash.String()})
	}
	for name, hash := range ar.Peeled {
		refs = append(refs, Ref{Name: name + "^{}", Hash: hash.String()})
	}
	sort.Slice(refs, func(i, j int) bool { return refs[i].Name < refs[j].Name })
	if ar.Head != nil {
		refs = append([]Ref{{Name: "HEAD", Hash: ar.Head.String()}}, refs...)
	}
	return refs
}
