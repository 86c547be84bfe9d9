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
	"errors"
	"os"
	"path/filepath"
	"strings"

	"github.com/cloud37/ansible-playbook-operator/operator/internal/runspec"
)

// paths are the spec's paths checked against the checkout. Repository paths
// keep the spec's relative form for ansible's argv (ansible runs in the
// repository root), and are absolute in the environment.
type paths struct {
	playbook    string
	inventories []string
	// rolesDir is absolute, empty when the directory does not exist.
	rolesDir string
	// requirements is empty when the file does not exist.
	requirements string
	// ansibleCfg is absolute, empty when not set.
	ansibleCfg    string
	vaultFile     string
	extraVarsFile string
}

// resolvePaths checks the spec's paths: the playbook, the inventories, the
// ansible.cfg and the vault password file must exist (PathNotFound names
// the one that does not); the inventory directory, roles directory and
// requirements file are used only when they exist.
func (r *run) resolvePaths() (paths, error) {
	s := r.spec
	commit := s.Repository.Commit
	var p paths
	var err error
	if p.playbook, err = r.mustExist("playbook", s.Playbook, commit); err != nil {
		return p, err
	}
	for _, inv := range s.Inventories {
		if runspec.InventoryKind(inv) == runspec.HostList {
			p.inventories = append(p.inventories, inv)
			continue
		}
		arg, err := r.mustExist("inventory", inv, commit)
		if err != nil {
			return p, err
		}
		p.inventories = append(p.inventories, arg)
	}
	if len(s.Inventories) == 0 && s.InventoryDir != "" {
		if abs, err := r.inRepo("inventoryDir", s.InventoryDir); err != nil {
			return p, err
		} else if exists(abs) {
			p.inventories = []string{argPath(s.InventoryDir)}
		}
	}
	if s.RolesDir != "" {
		abs, err := r.inRepo("rolesDir", s.RolesDir)
		if err != nil {
			return p, err
		}
		if info, err := os.Stat(abs); err == nil && info.IsDir() {
			p.rolesDir = abs
		}
	}
	if s.RequirementsFile != "" {
		abs, err := r.inRepo("requirementsFile", s.RequirementsFile)
		if err != nil {
			return p, err
		}
		if info, err := os.Stat(abs); err == nil && info.Mode().IsRegular() {
			p.requirements = argPath(s.RequirementsFile)
		}
	}
	if s.AnsibleCfg != "" {
		if _, err := r.mustExist("ansibleCfg", s.AnsibleCfg, commit); err != nil {
			return p, err
		}
		p.ansibleCfg, _ = r.inRepo("ansibleCfg", s.AnsibleCfg)
	}
	if s.VaultPasswordFile != "" {
		if !exists(s.VaultPasswordFile) {
			return p, fail(ReasonPathNotFound, "the vault password file %s does not exist: the vault password Secret needs the key the Playbook names", s.VaultPasswordFile)
		}
		p.vaultFile = s.VaultPasswordFile
	}
	return p, nil
}

// inRepo returns the absolute path of a spec path: relative paths are in
// the repository and may not leave it; absolute paths name files of the
// executor image or of volumes mounted into the pod (runspec.FileKind).
func (r *run) inRepo(field, p string) (string, error) {
	if runspec.FileKind(p) == runspec.PodPath {
		return filepath.Clean(p), nil
	}
	if !filepath.IsLocal(p) {
		return "", fail(ReasonInvalidSpec, "invalid run spec: %s %q leaves the repository", field, p)
	}
	return filepath.Join(r.repoDir, p), nil
}

// mustExist resolves p and fails with PathNotFound when it does not exist;
// it returns p as ansible's argument.
func (r *run) mustExist(field, p, commit string) (string, error) {
	abs, err := r.inRepo(field, p)
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(abs); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			if runspec.FileKind(p) == runspec.PodPath {
				return "", fail(ReasonPathNotFound, "%s %s not found in the executor pod: mount it (secrets.fileMounts, runtime.volumes) or use a path relative to the repository root", field, p)
			}
			return "", fail(ReasonPathNotFound, "%s %q not found in commit %s of the repository", field, p, commit)
		}
		return "", fail(ReasonPathNotFound, "%s %q cannot be read: %s", field, p, pathError(err))
	}
	return argPath(p), nil
}

// argPath keeps a relative path from being read as an option.
func argPath(p string) string {
	if strings.HasPrefix(p, "-") {
		return "./" + p
	}
	return p
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
