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
	_ "embed"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/cloud37/ansible-playbook-operator/operator/internal/runspec"
)

// callbackPlugin is the aggregate callback that writes per-host counts and
// failed tasks as JSON (see the file's header).
//
//go:embed ansible_playbook_operator_summary.py
var callbackPlugin []byte

const (
	// CallbackName is the plugin's name (its file name without .py).
	CallbackName = "ansible_playbook_operator_summary"
	// summaryEnv names the file the plugin writes.
	summaryEnv = "ANSIBLE_PLAYBOOK_OPERATOR_SUMMARY"
	// maxVerbosity caps -v as the CRD and the reference do.
	maxVerbosity = 4
	// stopGrace is how long ansible-playbook gets after SIGTERM before it is
	// killed; the kubelet's default grace period is 30s.
	stopGrace = 20 * time.Second
	// stderrTail is how much of a command's stderr is kept for the summary
	// message.
	stderrTail = 16 << 10
)

// PlaybookArgs is ansible-playbook's argv after the command name: the
// inventories, the extra vars file, the vault password file, the
// execution options and the playbook last. Execution.Strategy is not an
// option of ansible-playbook; see PlaybookEnv.
func PlaybookArgs(s runspec.Spec, inventories []string, extraVarsFile, vaultFile, playbook string) []string {
	var args []string
	for _, inv := range inventories {
		args = append(args, "-i", inv)
	}
	if extraVarsFile != "" {
		args = append(args, "--extra-vars", "@"+extraVarsFile)
	}
	if vaultFile != "" {
		args = append(args, "--vault-password-file", vaultFile)
	}
	e := s.Execution
	if len(e.Tags) > 0 {
		args = append(args, "--tags", strings.Join(e.Tags, ","))
	}
	if len(e.SkipTags) > 0 {
		args = append(args, "--skip-tags", strings.Join(e.SkipTags, ","))
	}
	if e.Check {
		args = append(args, "--check")
	}
	if e.Diff {
		args = append(args, "--diff")
	}
	if v := min(e.Verbosity, maxVerbosity); v > 0 {
		args = append(args, "-"+strings.Repeat("v", v))
	}
	if e.Limit != "" {
		args = append(args, "--limit", e.Limit)
	}
	if e.ConnectionTimeout > 0 {
		args = append(args, "--timeout", strconv.Itoa(e.ConnectionTimeout))
	}
	if e.Forks > 0 {
		args = append(args, "--forks", strconv.Itoa(e.Forks))
	}
	if e.FlushCache {
		args = append(args, "--flush-cache")
	}
	if e.ForceHandlers {
		args = append(args, "--force-handlers")
	}
	if e.StartAtTask != "" {
		args = append(args, "--start-at-task", e.StartAtTask)
	}
	return append(args, playbook)
}

// PlaybookEnv is what the spec sets in ansible-playbook's environment:
// ANSIBLE_STRATEGY for a strategy other than linear (ansible-playbook has no
// --strategy option; the reference's flag made it fail; linear is the
// default and is left out, so that an ansible.cfg choosing another one
// stays in force).
func PlaybookEnv(s runspec.Spec) map[string]string {
	env := map[string]string{}
	if st := s.Execution.Strategy; st != "" && st != "linear" {
		env["ANSIBLE_STRATEGY"] = st
	}
	return env
}

// baseEnv is the environment of every ansible process: the container's,
// HOME, TMPDIR, ANSIBLE_CONFIG, the repository's credentials when passed
// to ansible, and no git prompt (a Job has no terminal: a prompt would
// wait forever).
func (r *run) baseEnv(p paths) map[string]string {
	env := map[string]string{
		"HOME":                r.opts.Home,
		"TMPDIR":              r.opts.TmpDir,
		"GIT_TERMINAL_PROMPT": "0",
	}
	if p.ansibleCfg != "" {
		env["ANSIBLE_CONFIG"] = p.ansibleCfg
	}
	for k, v := range r.authEnv {
		env[k] = v
	}
	return env
}

// installRequirements runs ansible-galaxy install -r, which installs the
// file's roles and collections into their default paths under HOME (or
// where the repository's ansible.cfg says). ANSIBLE_ROLES_PATH is not set
// here: galaxy would install roles into the repository's roles directory.
func (r *run) installRequirements(ctx context.Context, p paths) error {
	galaxy := r.opts.AnsibleGalaxy
	if galaxy == "" {
		galaxy = "ansible-galaxy"
	}
	args := []string{"install", "-r", p.requirements}
	r.log("Installing requirements: %s %s", galaxy, strings.Join(args, " "))
	code, tail, err := r.command(ctx, galaxy, args, r.baseEnv(p))
	if err != nil {
		return fail(ReasonRequirementsFailed, "failed to run %s: %s", galaxy, err)
	}
	if code != 0 {
		msg := fmt.Sprintf("ansible-galaxy install -r %s exited with code %d", p.requirements, code)
		if line := errorLine(tail); line != "" {
			msg += ": " + line
		}
		return fail(ReasonRequirementsFailed, "%s", msg)
	}
	return nil
}

// runPlaybook runs ansible-playbook with the summary callback and turns its
// exit code and the callback's output into the summary.
func (r *run) runPlaybook(ctx context.Context, p paths) (runspec.Summary, error) {
	pluginDir, err := os.MkdirTemp(r.opts.TmpDir, "callback-plugins-")
	if err != nil {
		return runspec.Summary{}, fail(ReasonInvalidSpec, "failed to create the callback plugin directory in TMPDIR %s: %s", r.opts.TmpDir, pathError(err))
	}
	defer func() { _ = os.RemoveAll(pluginDir) }()
	if err := os.WriteFile(filepath.Join(pluginDir, CallbackName+".py"), callbackPlugin, 0o600); err != nil {
		return runspec.Summary{}, fail(ReasonInvalidSpec, "failed to write the callback plugin: %s", pathError(err))
	}
	statsFile := filepath.Join(pluginDir, "summary.json")

	env := r.baseEnv(p)
	for k, v := range PlaybookEnv(r.spec) {
		env[k] = v
	}
	// Both variables replace what they name: the roles ansible-galaxy
	// installed and the repository's own settings stay behind ours.
	getenv := lookupEnv(mergeEnv(r.opts.Env, env))
	if p.rolesDir != "" {
		env[rolesPath.env] = prependPath(p.rolesDir, rolesPath, getenv, r.repoDir, r.opts.Home)
	}
	env[callbackPlugins.env] = prependPath(pluginDir, callbackPlugins, getenv, r.repoDir, r.opts.Home)
	env[summaryEnv] = statsFile

	playbook := r.opts.AnsiblePlaybook
	if playbook == "" {
		playbook = "ansible-playbook"
	}
	args := PlaybookArgs(r.spec, p.inventories, p.extraVarsFile, p.vaultFile, p.playbook)
	r.log("Started %s %s after %s (runner overhead)", playbook, strings.Join(args, " "), since(r.opts.Started))
	start := time.Now()
	code, tail, err := r.command(ctx, playbook, args, env)
	if err != nil {
		return runspec.Summary{}, fail(ReasonPlaybookFailed, "failed to run %s: %s", playbook, err)
	}
	r.log("Finished %s with exit code %d in %s", playbook, code, since(start))

	stats, statsErr := readStats(statsFile)
	if statsErr != nil && !errors.Is(statsErr, os.ErrNotExist) {
		r.log("Failed to read the callback's summary: %s", statsErr)
	}
	sum := stats.summary(code, r.spec.Playbook)
	if ctx.Err() != nil && code != 0 {
		sum.Result, sum.Reason = ResultFailed, ReasonPlaybookFailed
		sum.Message = fmt.Sprintf("ansible-playbook was stopped with SIGTERM (exit code %d): the runner was terminated, by a pod deletion or the Job's deadline", code)
	} else if code != 0 && len(stats.Hosts) == 0 {
		if line := errorLine(tail); line != "" {
			sum.Message += ": " + line
		}
	}
	sum.Message = r.redact.Apply(sum.Message)
	for i := range sum.Failures {
		sum.Failures[i].Message = r.redact.Apply(sum.Failures[i].Message)
		sum.Failures[i].Task = r.redact.Apply(sum.Failures[i].Task)
	}
	return sum, nil
}

// command runs name with args in the repository root by argv (never a
// shell), in its own process group, with the container's environment and
// set over it. Stdout goes to the runner's stdout, stderr to its stderr;
// the end of stderr is returned for messages. When ctx ends the group gets
// SIGTERM, and SIGKILL after stopGrace.
func (r *run) command(ctx context.Context, name string, args []string, set map[string]string) (int, string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = r.repoDir
	cmd.Env = mergeEnv(r.opts.Env, set)
	cmd.Stdin = nil
	cmd.Stdout = r.opts.Stdout
	tail := &tailBuffer{max: stderrTail}
	cmd.Stderr = io.MultiWriter(r.opts.Stderr, tail)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
	}
	cmd.WaitDelay = stopGrace
	err := cmd.Run()
	var exitErr *exec.ExitError
	switch {
	case err == nil:
		return 0, tail.String(), nil
	case errors.As(err, &exitErr):
		if ws, ok := exitErr.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal()), tail.String(), nil
		}
		return exitErr.ExitCode(), tail.String(), nil
	case cmd.ProcessState != nil:
		// Started and ended, but WaitDelay cut its output short.
		return cmd.ProcessState.ExitCode(), tail.String(), nil
	}
	return 0, "", err
}

// mergeEnv returns base with the keys of set replaced or added.
func mergeEnv(base []string, set map[string]string) []string {
	out := make([]string, 0, len(base)+len(set))
	for _, kv := range base {
		k, _, _ := strings.Cut(kv, "=")
		if _, ok := set[k]; !ok {
			out = append(out, kv)
		}
	}
	for k, v := range set {
		out = append(out, k+"="+v)
	}
	return out
}

func lookupEnv(env []string) func(string) string {
	return func(key string) string {
		v := ""
		for _, kv := range env {
			if k, val, ok := strings.Cut(kv, "="); ok && k == key {
				v = val
			}
		}
		return v
	}
}

// errorLine returns ansible's "ERROR! ..." message from a stderr tail,
// its lines joined, or else the tail's last non-empty line; at most 400
// bytes.
func errorLine(tail string) string {
	const limit = 400
	lines := strings.Split(tail, "\n")
	var picked []string
	for i, l := range lines {
		if strings.HasPrefix(strings.TrimSpace(l), "ERROR!") {
			for _, next := range lines[i:] {
				if next = strings.TrimSpace(next); next != "" {
					picked = append(picked, next)
				}
			}
			break
		}
	}
	if picked == nil {
		for i := len(lines) - 1; i >= 0; i-- {
			if l := strings.TrimSpace(lines[i]); l != "" {
				picked = []string{l}
				break
			}
		}
	}
	return truncate(strings.Join(picked, " "), limit)
}

// truncate cuts s to at most n bytes at a rune boundary, marking the cut.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n - len("...")
	for cut > 0 && !isRuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
	max int
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}
