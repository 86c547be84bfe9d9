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

// Package runner is playbook-runner's work inside an executor pod: fetch the
// recorded commit, install the requirements, run ansible-playbook by argv and
// summarize the run for the termination message (runspec.Summary).
package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/cloud37/ansible-playbook-operator/operator/internal/git"
	"github.com/cloud37/ansible-playbook-operator/operator/internal/runspec"
)

// Results and reasons of a Summary.
const (
	ResultSucceeded = "succeeded"
	ResultFailed    = "failed"

	ReasonSucceeded          = "Succeeded"
	ReasonPlaybookFailed     = "PlaybookFailed"
	ReasonHostsUnreachable   = "HostsUnreachable"
	ReasonGitFailed          = "GitFailed"
	ReasonRequirementsFailed = "RequirementsFailed"
	ReasonInvalidSpec        = "InvalidSpec"
	ReasonPathNotFound       = "PathNotFound"
)

// SetupFailedExitCode is the exit code of a run that failed before
// ansible-playbook started (git, spec, paths, requirements).
const SetupFailedExitCode = 1

// RepoSubdir is the directory under Options.Workspace that holds the
// checkout, as the reference operator's /workspace/repo did: repositories'
// ansible.cfg files may name paths below it.
const RepoSubdir = "repo"

// Options are the runner's surroundings; the binary fills them from its
// environment, tests point them at temporary directories.
type Options struct {
	// Workspace is the writable directory (an emptyDir) whose RepoSubdir
	// receives the checkout; runspec.WorkspaceDir in pods.
	Workspace string
	// Home is HOME for ansible and ansible-galaxy (an emptyDir, or the cache
	// PVC at Home/.ansible): galaxy installs there.
	Home string
	// TmpDir is TMPDIR (an emptyDir): the extra vars file, the callback
	// plugin and its output go there. Nothing else is written outside
	// Workspace and Home.
	TmpDir string
	// Env is the environment ansible's processes start from (the
	// container's); HOME, TMPDIR and the runner's ANSIBLE_* settings are
	// put over it.
	Env []string
	// Stdout and Stderr receive ansible's output; the runner's own log
	// lines go to Stderr.
	Stdout, Stderr io.Writer
	// AnsiblePlaybook and AnsibleGalaxy are the commands to run, by name
	// (looked up in PATH) or path; empty means ansible-playbook and
	// ansible-galaxy.
	AnsiblePlaybook, AnsibleGalaxy string
	// Started is when the process started, for the overhead in the log;
	// zero means when Run was called.
	Started time.Time
}

// stepError is a failure before ansible-playbook ran, with its Reason.
type stepError struct {
	reason  string
	message string
}

func (e *stepError) Error() string { return e.message }

func fail(reason, format string, args ...any) *stepError {
	return &stepError{reason: reason, message: fmt.Sprintf(format, args...)}
}

// run is the state of one Run.
type run struct {
	spec    runspec.Spec
	opts    Options
	repoDir string
	log     func(format string, args ...any)
	// redact removes credentials and secret values from text bound for the
	// summary or the log.
	redact *git.Redactor
	// authEnv is the environment that gives ansible the repository's
	// credentials (ansibleAuth).
	authEnv map[string]string
}

// Run executes spec and returns its summary, whose ExitCode is the exit code
// for the process: ansible-playbook's, or SetupFailedExitCode when the run
// failed before it (Reason GitFailed, InvalidSpec, PathNotFound or
// RequirementsFailed). ctx ending stops ansible-playbook with SIGTERM.
func Run(ctx context.Context, spec runspec.Spec, opts Options) runspec.Summary {
	if opts.Started.IsZero() {
		opts.Started = time.Now()
	}
	if opts.Stdout == nil {
		opts.Stdout = io.Discard
	}
	if opts.Stderr == nil {
		opts.Stderr = io.Discard
	}
	r := &run{
		spec:    spec,
		opts:    opts,
		repoDir: filepath.Join(opts.Workspace, RepoSubdir),
		redact:  &git.Redactor{},
	}
	r.log = func(format string, args ...any) {
		msg := r.redact.Apply(fmt.Sprintf(format, args...))
		_, _ = fmt.Fprintf(opts.Stderr, "playbook-runner: %s\n", msg)
	}
	sum, err := r.execute(ctx)
	if err != nil {
		var se *stepError
		if !errors.As(err, &se) {
			se = &stepError{reason: ReasonInvalidSpec, message: err.Error()}
		}
		sum = runspec.Summary{
			Result:   ResultFailed,
			Reason:   se.reason,
			Message:  r.redact.Apply(se.message),
			ExitCode: SetupFailedExitCode,
		}
		r.log("Run failed before ansible-playbook started (%s): %s", sum.Reason, sum.Message)
	}
	sum.Commit = spec.Repository.Commit
	return sum
}

func (r *run) execute(ctx context.Context) (runspec.Summary, error) {
	if err := validate(r.spec); err != nil {
		return runspec.Summary{}, err
	}
	for name, dir := range map[string]string{"workspace": r.opts.Workspace, "HOME": r.opts.Home, "TMPDIR": r.opts.TmpDir} {
		if dir == "" || !filepath.IsAbs(dir) {
			return runspec.Summary{}, fail(ReasonInvalidSpec, "the %s directory %q is not an absolute path", name, dir)
		}
	}

	auth, err := loadAuth(r.spec.Repository)
	if err != nil {
		return runspec.Summary{}, err
	}
	r.redact.Add(git.MinSecretLen, auth.Secrets()...)

	fetchStart := time.Now()
	if err := r.checkout(ctx, auth); err != nil {
		return runspec.Summary{}, err
	}
	r.log("Checked out commit %s of %s in %s", r.spec.Repository.Commit, displayURL(r.spec.Repository.URL), since(fetchStart))
	if r.authEnv, err = r.ansibleAuth(auth); err != nil {
		return runspec.Summary{}, err
	}

	p, err := r.resolvePaths()
	if err != nil {
		return runspec.Summary{}, err
	}

	vars, secretValues, err := mergeExtraVars(r.spec.ExtraVars, r.spec.ExtraVarsSecretDirs)
	if err != nil {
		return runspec.Summary{}, err
	}
	r.redact.Add(minVarSecretLen, secretValues...)
	if vars != nil {
		file, err := writeExtraVars(r.opts.TmpDir, vars)
		if err != nil {
			return runspec.Summary{}, err
		}
		defer func() { _ = os.Remove(file) }()
		p.extraVarsFile = file
	}

	if p.requirements != "" {
		galaxyStart := time.Now()
		if err := r.installRequirements(ctx, p); err != nil {
			return runspec.Summary{}, err
		}
		r.log("Installed the requirements of %s in %s", r.spec.RequirementsFile, since(galaxyStart))
	}

	return r.runPlaybook(ctx, p)
}

// validate checks what runspec.Decode does not.
func validate(s runspec.Spec) error {
	if s.Repository.URL == "" || s.Repository.Commit == "" || s.Playbook == "" {
		return fail(ReasonInvalidSpec, "invalid run spec: repository.url, repository.commit and playbook are required")
	}
	if !git.IsFullHash(s.Repository.Commit) {
		return fail(ReasonInvalidSpec, "invalid run spec: repository.commit %q is not a full 40-hex commit hash", s.Repository.Commit)
	}
	switch s.Repository.AuthMethod {
	case "", git.MethodSSH, git.MethodHTTPS, git.MethodToken:
	default:
		return fail(ReasonInvalidSpec, "invalid run spec: repository.authMethod %q is not ssh, https, token or empty", s.Repository.AuthMethod)
	}
	if s.Repository.AuthMethod != "" && s.Repository.AuthDir == "" {
		return fail(ReasonInvalidSpec, "invalid run spec: repository.authDir is required with authMethod %s", s.Repository.AuthMethod)
	}
	if len(s.ExtraVars) > 0 {
		t := strings.TrimSpace(string(s.ExtraVars))
		if t != "null" && !strings.HasPrefix(t, "{") {
			return fail(ReasonInvalidSpec, "invalid run spec: extraVars must be a JSON object")
		}
	}
	return nil
}

// DecodeSpec parses the runner's argument with runspec.Decode, and keeps
// strict host key checking on when the spec does not mention it: the field
// documents true as its default, which a plain bool cannot carry.
func DecodeSpec(arg string) (runspec.Spec, error) {
	spec, err := runspec.Decode(arg)
	if err != nil {
		return runspec.Spec{}, err
	}
	var probe struct {
		Repository map[string]json.RawMessage `json:"repository"`
	}
	if err := json.Unmarshal([]byte(arg), &probe); err == nil {
		if _, ok := probe.Repository["strictHostKeyChecking"]; !ok {
			spec.Repository.StrictHostKeyChecking = true
		}
	}
	return spec, nil
}

// InvalidSpecSummary is the summary of a run whose spec could not be decoded.
func InvalidSpecSummary(err error) runspec.Summary {
	return runspec.Summary{
		Result:   ResultFailed,
		Reason:   ReasonInvalidSpec,
		Message:  err.Error(),
		ExitCode: SetupFailedExitCode,
	}
}

func since(t time.Time) time.Duration {
	return time.Since(t).Round(time.Millisecond)
}
