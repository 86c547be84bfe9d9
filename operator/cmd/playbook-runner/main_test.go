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

package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cloud37/ansible-playbook-operator/operator/internal/gittest"
	"github.com/cloud37/ansible-playbook-operator/operator/internal/runspec"
)

// buildRunner builds the static binary as the image gets it.
func buildRunner(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "playbook-runner")
	cmd := exec.Command("go", "build", "-trimpath", "-o", bin, ".")
	cmd.Env = append(os.Environ(), "GOWORK=off", "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// result is one run of the binary.
type result struct {
	code    int
	output  string
	summary runspec.Summary
	raw     []byte
}

// runBinary runs bin with args as the executor container would, with
// HOME, TMPDIR and the workspace in temporary directories.
func runBinary(t *testing.T, bin string, args []string, signalAfter time.Duration) result {
	t.Helper()
	if _, err := exec.LookPath("ansible-playbook"); err != nil {
		t.Fatalf("ansible-playbook is not installed: install the Debian package ansible-core (make test does): %v", err)
	}
	termLog := filepath.Join(t.TempDir(), "termination-log")
	cmd := exec.Command(bin, args...)
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"),
		"LANG=C.UTF-8",
		"HOME=" + t.TempDir(),
		"TMPDIR=" + t.TempDir(),
		"PLAYBOOK_RUNNER_WORKSPACE=" + t.TempDir(),
		"PLAYBOOK_RUNNER_TERMINATION_LOG=" + termLog,
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if signalAfter > 0 {
		time.AfterFunc(signalAfter, func() { _ = cmd.Process.Signal(syscall.SIGTERM) })
	}
	err := cmd.Wait()
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		t.Fatal(err)
	}
	r := result{code: cmd.ProcessState.ExitCode(), output: out.String()}
	r.raw, err = os.ReadFile(termLog)
	if err != nil {
		t.Fatalf("no termination message: %v\noutput:\n%s", err, r.output)
	}
	if err := json.Unmarshal(r.raw, &r.summary); err != nil {
		t.Fatalf("the termination message is not a summary: %v\n%s", err, r.raw)
	}
	t.Logf("exit code %d, output:\n%s", r.code, r.output)
	return r
}

var overheadRE = regexp.MustCompile(`Started ansible-playbook .* after (\S+) \(runner overhead\)`)

func TestPlaybookRunner(t *testing.T) {
	bin := buildRunner(t)
	sleepCmd := fmt.Sprintf("sleep 60.%05d", time.Now().UnixNano()%100000)
	repo := gittest.NewRepo(t, map[string]string{
		"hosts": "[all]\nalpha ansible_connection=local\nbeta ansible_connection=local\n[all:vars]\nansible_python_interpreter=/usr/bin/python3\n",
		"site.yml": `- hosts: all
  gather_facts: false
  tasks:
    - name: Break on beta
      fail:
        msg: beta is broken
      when: inventory_hostname == 'beta'
`,
		"slow.yml": "- hosts: alpha\n  gather_facts: false\n  tasks:\n    - name: Sleep\n      command: " + sleepCmd + "\n",
	})
	url := gittest.StartDaemon(t, repo.Bare(t))
	spec := func(playbook string) string {
		s, err := runspec.Spec{
			RunID:       "cli",
			Repository:  runspec.Repository{URL: url, Branch: "main", Commit: repo.Head(t, "main")},
			Playbook:    playbook,
			Inventories: []string{"hosts"},
		}.Encode()
		if err != nil {
			t.Fatal(err)
		}
		return s
	}

	t.Run("install copies the executable with mode 0755", func(t *testing.T) {
		dir := t.TempDir()
		out, err := exec.Command(bin, "install", dir).CombinedOutput()
		if err != nil {
			t.Fatalf("install: %v\n%s", err, out)
		}
		info, err := os.Stat(filepath.Join(dir, "playbook-runner"))
		if err != nil || info.Mode().Perm() != 0o755 {
			t.Fatalf("installed file: %v, mode %v", err, info.Mode().Perm())
		}
		// The copy runs: without arguments it prints the usage and exits 2.
		err = exec.Command(filepath.Join(dir, "playbook-runner")).Run()
		var exitErr *exec.ExitError
		if !errors.As(err, &exitErr) || exitErr.ExitCode() != 2 {
			t.Errorf("the installed copy without arguments: %v, want exit code 2", err)
		}
	})

	t.Run("run exits with ansible's code and writes the summary", func(t *testing.T) {
		r := runBinary(t, bin, []string{"run", spec("site.yml")}, 0)
		if r.code != 2 || r.summary.ExitCode != 2 || r.summary.Reason != "PlaybookFailed" || len(r.summary.Failures) != 1 {
			t.Errorf("exit code %d, summary %s", r.code, r.raw)
		}
		m := overheadRE.FindStringSubmatch(r.output)
		if m == nil {
			t.Fatalf("no overhead in the log")
		}
		t.Logf("runner overhead from process start to ansible-playbook start: %s", m[1])
		if !strings.Contains(r.output, "playbook-runner: Summary {") {
			t.Errorf("the log lacks the summary")
		}
	})

	t.Run("an invalid spec exits 1 with InvalidSpec", func(t *testing.T) {
		r := runBinary(t, bin, []string{"run", `{"playbook": 1}`}, 0)
		if r.code != 1 || r.summary.Reason != "InvalidSpec" {
			t.Errorf("exit code %d, summary %s", r.code, r.raw)
		}
	})

	t.Run("SIGTERM stops ansible-playbook and still writes the summary", func(t *testing.T) {
		start := time.Now()
		r := runBinary(t, bin, []string{"run", spec("slow.yml")}, 3*time.Second)
		if elapsed := time.Since(start); elapsed > 30*time.Second {
			t.Errorf("the runner took %s after SIGTERM", elapsed)
		}
		if r.code == 0 || r.summary.Result != "failed" || r.summary.ExitCode != r.code {
			t.Errorf("exit code %d, summary %s", r.code, r.raw)
		}
		// The sleep is unique to this run, so other tests' processes do not
		// count; the processes get a moment to be reaped after the signal.
		var out []byte
		for deadline := time.Now().Add(25 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
			if out, _ = exec.Command("pgrep", "-f", sleepCmd).Output(); len(out) == 0 {
				break
			}
		}
		if len(out) > 0 {
			t.Errorf("ansible's processes outlived the runner: %s", out)
		}
	})
}
