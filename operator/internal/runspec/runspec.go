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

// Package runspec is the contract between the Job builder and
// playbook-runner: the JSON run spec passed as the runner's only argument,
// the summary the runner writes to the termination message, and the paths
// both sides agree on. Secret values are never part of the spec: the spec
// names the directories where Secrets are mounted.
package runspec

import (
	"encoding/json"
	"fmt"
)

// Paths inside executor pods. The root filesystem is read-only; everything
// written goes to emptyDirs mounted at these paths.
const (
	// RunnerDir holds playbook-runner, copied there by the init container.
	RunnerDir = "/opt/ansible-playbook-operator"
	// RunnerPath is the runner binary in executor pods.
	RunnerPath = RunnerDir + "/playbook-runner"
	// WorkspaceDir is where the repository is checked out (emptyDir).
	WorkspaceDir = "/workspace"
	// HomeDir is HOME (emptyDir, or the cache PVC at HomeDir/.ansible).
	HomeDir = "/home/ansible"
	// TmpDir is TMPDIR (emptyDir).
	TmpDir = "/tmp"
	// GitAuthDir is where the Repository's auth Secret is mounted (0400).
	GitAuthDir = "/etc/ansible-playbook-operator/git-auth"
	// KnownHostsDir is where the known_hosts ConfigMap is mounted.
	KnownHostsDir = "/etc/ansible-playbook-operator/known-hosts"
	// ExtraVarsDir holds one subdirectory per extraVarsSecretRefs entry, in order.
	ExtraVarsDir = "/etc/ansible-playbook-operator/extra-vars"
	// VaultDir is where the vault password Secret is mounted: the Python
	// operator's path, so that an ansible.cfg naming
	// vault_password_file = /vault-password/password keeps working.
	VaultDir = "/vault-password"
	// TerminationLog is where the summary goes (the pod's terminationMessagePath).
	TerminationLog = "/dev/termination-log"
	// MaxSummaryBytes is the kubelet's cap on termination messages.
	MaxSummaryBytes = 4096
)

// Spec is everything a run needs besides the mounted Secrets.
type Spec struct {
	// RunID identifies the run (annotation ansible.cloud37.dev/run-id).
	RunID      string     `json:"runId"`
	Repository Repository `json:"repository"`
	// Playbook is the playbook path relative to the repository root.
	Playbook string `json:"playbook"`
	// Inventories are -i arguments, relative to the repository root.
	Inventories []string `json:"inventories,omitempty"`
	// InventoryDir is used as inventory only when Inventories is empty and
	// the directory exists in the checkout.
	InventoryDir string `json:"inventoryDir,omitempty"`
	// RolesDir becomes ANSIBLE_ROLES_PATH when it exists in the checkout.
	RolesDir string `json:"rolesDir,omitempty"`
	// RequirementsFile is installed with ansible-galaxy when it exists.
	RequirementsFile string `json:"requirementsFile,omitempty"`
	// AnsibleCfg becomes ANSIBLE_CONFIG (relative to the repository root).
	AnsibleCfg string    `json:"ansibleCfg,omitempty"`
	Execution  Execution `json:"execution,omitempty"`
	// ExtraVars is Playbook.spec.extraVars (not secret); the runner merges it
	// with the ExtraVarsSecretDirs into one file passed as --extra-vars @file.
	ExtraVars json.RawMessage `json:"extraVars,omitempty"`
	// ExtraVarsSecretDirs are the mount directories of extraVarsSecretRefs,
	// in list order: each file is one variable (name = file name); later
	// directories win over earlier ones and over ExtraVars.
	ExtraVarsSecretDirs []string `json:"extraVarsSecretDirs,omitempty"`
	// VaultPasswordFile is passed as --vault-password-file.
	VaultPasswordFile string `json:"vaultPasswordFile,omitempty"`
}

// Repository says what to fetch and check out.
type Repository struct {
	URL    string `json:"url"`
	Branch string `json:"branch,omitempty"`
	// Commit is checked out exactly (the Repository's resolvedRevision).
	Commit     string `json:"commit"`
	Shallow    bool   `json:"shallow,omitempty"`
	Submodules bool   `json:"submodules,omitempty"`
	// AuthMethod is ssh, https, token or empty (anonymous).
	AuthMethod string `json:"authMethod,omitempty"`
	// AuthDir holds the auth Secret's keys (ssh-privatekey; token, username,
	// password) when AuthMethod is set.
	AuthDir string `json:"authDir,omitempty"`
	// KnownHostsFile is the known_hosts file for ssh.
	KnownHostsFile string `json:"knownHostsFile,omitempty"`
	// StrictHostKeyChecking refuses unknown ssh hosts (default true).
	StrictHostKeyChecking bool `json:"strictHostKeyChecking"`
	// PassAuthToAnsible gives ansible-galaxy and the playbook the
	// credentials for the repository's host (~/.netrc, GIT_SSH_COMMAND).
	PassAuthToAnsible bool `json:"passAuthToAnsible,omitempty"`
}

// Execution are the ansible-playbook options.
type Execution struct {
	Tags              []string `json:"tags,omitempty"`
	SkipTags          []string `json:"skipTags,omitempty"`
	Check             bool     `json:"check,omitempty"`
	Diff              bool     `json:"diff,omitempty"`
	Verbosity         int      `json:"verbosity,omitempty"`
	Limit             string   `json:"limit,omitempty"`
	ConnectionTimeout int      `json:"connectionTimeout,omitempty"`
	Forks             int      `json:"forks,omitempty"`
	Strategy          string   `json:"strategy,omitempty"`
	FlushCache        bool     `json:"flushCache,omitempty"`
	ForceHandlers     bool     `json:"forceHandlers,omitempty"`
	StartAtTask       string   `json:"startAtTask,omitempty"`
}

// Encode renders the spec for the runner's argument.
func (s Spec) Encode() (string, error) {
	b, err := json.Marshal(s)
	if err != nil {
		return "", fmt.Errorf("failed to encode run spec: %w", err)
	}
	return string(b), nil
}

// Decode parses the runner's argument strictly.
func Decode(arg string) (Spec, error) {
	var s Spec
	if err := json.Unmarshal([]byte(arg), &s); err != nil {
		return Spec{}, fmt.Errorf("invalid run spec: %w", err)
	}
	if s.Repository.URL == "" || s.Repository.Commit == "" || s.Playbook == "" {
		return Spec{}, fmt.Errorf("invalid run spec: repository.url, repository.commit and playbook are required")
	}
	return s, nil
}

// Summary is what the runner writes to the termination message, at most
// MaxSummaryBytes: totals first, then the failed hosts, then Truncated.
type Summary struct {
	// Result is succeeded or failed.
	Result string `json:"result"`
	// Reason is a short machine word: Succeeded, PlaybookFailed, HostsUnreachable,
	// GitFailed, RequirementsFailed, InvalidSpec, PathNotFound.
	Reason string `json:"reason"`
	// Message says what happened, for people.
	Message  string `json:"message,omitempty"`
	Commit   string `json:"commit,omitempty"`
	ExitCode int    `json:"exitCode"`
	Totals   Counts `json:"totals"`
	// Hosts are per-host counts (failed and unreachable hosts first).
	Hosts []HostCounts `json:"hosts,omitempty"`
	// Failures are the failed tasks: host, task and message.
	Failures []Failure `json:"failures,omitempty"`
	// Truncated is set when hosts or failures were cut to fit the size cap.
	Truncated bool `json:"truncated,omitempty"`
}

// Counts are ansible's recap counters.
type Counts struct {
	OK          int `json:"ok"`
	Changed     int `json:"changed"`
	Failed      int `json:"failed"`
	Unreachable int `json:"unreachable"`
	Skipped     int `json:"skipped"`
}

// HostCounts are one host's counters.
type HostCounts struct {
	Host string `json:"host"`
	Counts
}

// Failure is one failed task.
type Failure struct {
	Host    string `json:"host"`
	Task    string `json:"task,omitempty"`
	Message string `json:"message,omitempty"`
}
