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

// Command playbook-runner runs inside executor pods. The Job's init
// container, using the operator's image, runs `playbook-runner install DIR`
// to copy it into an emptyDir; the executor container then runs
// `playbook-runner run '<run spec JSON>'` (runspec.Spec), which fetches the
// recorded commit, runs ansible-playbook and writes the summary to the
// termination message.
//
// Environment: HOME and TMPDIR (default runspec.HomeDir and runspec.TmpDir);
// PLAYBOOK_RUNNER_TERMINATION_LOG overrides runspec.TerminationLog and
// PLAYBOOK_RUNNER_WORKSPACE overrides runspec.WorkspaceDir, for running it
// outside a pod.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/cloud37/ansible-playbook-operator/operator/internal/runner"
	"github.com/cloud37/ansible-playbook-operator/operator/internal/runspec"
)

const usage = `usage:
  playbook-runner install DIR      copy this executable to DIR/playbook-runner (mode 0755)
  playbook-runner run SPEC_JSON    run the playbook the run spec describes
`

func main() {
	started := time.Now()
	os.Exit(run(started, os.Args[1:], os.Stdout, os.Stderr))
}

// run returns the exit code: ansible-playbook's for run, 1 for setup
// failures, 2 for usage errors.
func run(started time.Time, args []string, stdout, stderr io.Writer) int {
	if len(args) != 2 {
		_, _ = fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "install":
		self, err := os.Executable()
		if err != nil {
			_, _ = fmt.Fprintf(stderr, "playbook-runner: failed to find its own executable: %v\n", err)
			return 1
		}
		dst, err := runner.Install(self, args[1])
		if err != nil {
			_, _ = fmt.Fprintf(stderr, "playbook-runner: %v\n", err)
			return 1
		}
		_, _ = fmt.Fprintf(stderr, "playbook-runner: Installed %s\n", dst)
		return 0
	case "run":
		return runSpec(started, args[1], stdout, stderr)
	}
	_, _ = fmt.Fprint(stderr, usage)
	return 2
}

func runSpec(started time.Time, arg string, stdout, stderr io.Writer) int {
	termLog := envOr("PLAYBOOK_RUNNER_TERMINATION_LOG", runspec.TerminationLog)
	var sum runspec.Summary
	spec, err := runner.DecodeSpec(arg)
	if err != nil {
		sum = runner.InvalidSpecSummary(err)
		_, _ = fmt.Fprintf(stderr, "playbook-runner: %s\n", sum.Message)
	} else {
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
		defer stop()
		sum = runner.Run(ctx, spec, runner.Options{
			Workspace: envOr("PLAYBOOK_RUNNER_WORKSPACE", runspec.WorkspaceDir),
			Home:      envOr("HOME", runspec.HomeDir),
			TmpDir:    envOr("TMPDIR", runspec.TmpDir),
			Env:       os.Environ(),
			Stdout:    stdout,
			Stderr:    stderr,
			Started:   started,
		})
	}
	b, err := runner.WriteSummary(termLog, sum)
	if err != nil {
		_, _ = fmt.Fprintf(stderr, "playbook-runner: %v\n", err)
	}
	_, _ = fmt.Fprintf(stderr, "playbook-runner: Summary %s\n", b)
	return sum.ExitCode
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
