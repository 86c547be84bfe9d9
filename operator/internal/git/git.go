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
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing/protocol/packp"
	"golang.org/x/sync/singleflight"
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
// deadline DefaultTimeout applies. Concurrent calls for one URL with the
// same credentials share one exchange (inflight).
func LsRemote(ctx context.Context, url string, auth Auth) ([]Ref, error) {
	ep, verr := parseEndpoint(url)
	if verr != nil {
		return nil, verr
	}
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(DefaultTimeout)
	}
	ch := inflight.DoChan(inflightKey(url, auth), func() (any, error) {
		// The call is shared: a caller that gives up must not cancel it
		// for the others, who wait for it with their own contexts. The
		// first caller's deadline still bounds it.
		shared, cancel := context.WithDeadline(context.WithoutCancel(ctx), deadline)
		defer cancel()
		ar, err := listRefs(shared, ep, url, auth)
		if err != nil {
			return nil, classify(shared, err, "list refs of", ep.String(), auth)
		}
		return refsOf(ar), nil
	})
	if testHookJoined != nil {
		testHookJoined()
	}
	ctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	select {
	case res := <-ch:
		if res.Err != nil {
			return nil, res.Err
		}
		return slices.Clone(res.Val.([]Ref)), nil
	case <-ctx.Done():
		return nil, classify(ctx, ctx.Err(), "list refs of", ep.String(), auth)
	}
}

// inflight coalesces concurrent ls-remotes of one URL with the same
// credentials into one: Repositories that share a remote (a monorepo of
// playbooks, the same repository in every namespace) are resolved
// together after a restart or an edit of many, and each ls-remote is a
// server process on the git host (an upload-pack) for an answer that is
// the same for all. A caller that joins a call in flight gets refs listed
// at most one round trip before it asked: the answer it could have got by
// racing that call. Nothing is kept once the call returns.
var inflight singleflight.Group

// testHookJoined, when set by a test, runs once a call has joined or
// started its shared exchange.
var testHookJoined func()

// inflightKey identifies a remote and the credentials it is asked with;
// the credentials enter only as a hash, so that the key holds no secret.
func inflightKey(url string, auth Auth) string {
	h := sha256.New()
	for _, field := range [][]byte{[]byte(url), []byte(auth.Username), []byte(auth.Password), auth.SSHPrivateKey, auth.SSHKnownHosts} {
		// Length-prefixed, so that no two field lists hash alike.
		_ = binary.Write(h, binary.BigEndian, uint64(len(field)))
		h.Write(field)
	}
	if auth.InsecureIgnoreHostKey {
		h.Write([]byte{1})
	}
	return string(h.Sum(nil))
}

// listRefs asks the remote for its ref advertisement over ep's transport.
func listRefs(ctx context.Context, ep endpoint, url string, auth Auth) (*packp.AdvRefs, error) {
	switch ep.scheme {
	case "https", "http":
		return listHTTP(ctx, url, auth)
	case "ssh":
		return listSSH(ctx, ep, auth)
	default:
		return listGitDaemon(ctx, ep)
	}
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
