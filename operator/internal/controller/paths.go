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

package controller

import (
	"context"
	"errors"
	"fmt"
	"path"
	"time"

	gogit "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/storage/memory"

	"github.com/cloud37/ansible-playbook-operator/operator/internal/git"
)

const (
	// pathCheckLimit caps what one path check may fetch into memory.
	pathCheckLimit = 64 << 20
	// pathCheckTimeout bounds one path check.
	pathCheckTimeout = 60 * time.Second
)

var errTooLarge = errors.New("the repository is larger than 64 MiB at depth 1")

// cappedStorage is go-git's in-memory storage that refuses objects past a
// total size, so a path check cannot fill the operator's memory.
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

// CheckPaths fetches the branch at depth 1 into memory (capped) and reports
// which paths are missing at commit. When the branch has moved past commit,
// the check is impossible at depth 1 and an error says so.
func CheckPaths(ctx context.Context, url, branch string, auth git.Auth, commit string, paths []string) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, pathCheckTimeout)
	defer cancel()
	if branch == "" {
		branch = "main"
	}
	st := &cappedStorage{Storage: memory.NewStorage(), limit: pathCheckLimit}
	repo, err := gogit.Init(st, nil)
	if err != nil {
		return nil, err
	}
	remote, err := repo.CreateRemote(&config.RemoteConfig{Name: "origin", URLs: []string{url}})
	if err != nil {
		return nil, err
	}
	ep, err := transport.NewEndpoint(url)
	if err != nil {
		return nil, fmt.Errorf("invalid repository URL %s", git.Sanitize(url))
	}
	var hostKeyErr error
	method, err := git.TransportAuth(url, auth, git.HostPort(ep), &hostKeyErr)
	if err != nil {
		return nil, err
	}
	ref := plumbing.NewBranchReferenceName(branch)
	err = remote.FetchContext(ctx, &gogit.FetchOptions{
		RefSpecs: []config.RefSpec{config.RefSpec("+" + ref.String() + ":" + ref.String())},
		Depth:    1, Auth: method, Tags: gogit.NoTags,
	})
	if hostKeyErr != nil {
		return nil, hostKeyErr
	}
	if err != nil && !errors.Is(err, gogit.NoErrAlreadyUpToDate) {
		return nil, fmt.Errorf("fetch of branch %s failed: %s", branch, git.Sanitize(err.Error()))
	}
	tip, err := repo.Reference(ref, true)
	if err != nil {
		return nil, err
	}
	if tip.Hash().String() != commit {
		return nil, fmt.Errorf("branch %s is at %s, not at the resolved commit %s, so depth 1 cannot show it", branch, tip.Hash(), commit)
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
