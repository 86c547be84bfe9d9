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
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloud37/ansible-playbook-operator/operator/internal/runspec"
)

// requireAnsible fails the test when ansible-core is missing: tests never
// skip for a missing tool, make test installs it.
func requireAnsible(t *testing.T) {
	t.Helper()
	for _, bin := range []string{"ansible-playbook", "ansible-galaxy", "ansible-vault"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Fatalf("%s is not installed: install the Debian package ansible-core (make test does, through hack/install-deps.sh): %v", bin, err)
		}
	}
}

// syncBuffer is a bytes.Buffer for the output of several processes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// pod is an executor pod's writable directories and output.
type pod struct {
	workspace, home, tmp string
	out                  *syncBuffer
}

func newPod(t *testing.T) *pod {
	t.Helper()
	requireAnsible(t)
	return &pod{workspace: t.TempDir(), home: t.TempDir(), tmp: t.TempDir(), out: &syncBuffer{}}
}

// env is a container's environment: PATH and a UTF-8 locale, nothing of
// the test process's ANSIBLE_* settings.
func (p *pod) env() []string {
	return []string{"PATH=" + os.Getenv("PATH"), "LANG=C.UTF-8"}
}

// run runs spec like the binary does and returns the summary as written to
// the termination message, decoded, with the raw bytes.
func (p *pod) run(t *testing.T, spec runspec.Spec) (runspec.Summary, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	sum := Run(ctx, spec, Options{
		Workspace: p.workspace,
		Home:      p.home,
		TmpDir:    p.tmp,
		Env:       p.env(),
		Stdout:    p.out,
		Stderr:    p.out,
	})
	termLog := filepath.Join(t.TempDir(), "termination-log")
	b, err := WriteSummary(termLog, sum)
	if err != nil {
		t.Fatal(err)
	}
	var got runspec.Summary
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("the termination message is not JSON: %v\n%s", err, b)
	}
	if t.Failed() || testing.Verbose() {
		t.Logf("output:\n%s\nsummary: %s", p.out.String(), b)
	}
	return got, b
}

// file reads a file the playbook wrote into TMPDIR.
func (p *pod) file(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(p.tmp, name))
	if err != nil {
		t.Fatalf("the playbook did not write %s: %v\noutput:\n%s", name, err, p.out.String())
	}
	return string(b)
}

func (p *pod) exists(name string) bool {
	_, err := os.Stat(filepath.Join(p.tmp, name))
	return err == nil
}

// localInventory is an inventory of hosts that ansible runs on the
// controller itself.
func localInventory(hosts ...string) string {
	var b strings.Builder
	b.WriteString("[all]\n")
	for _, h := range hosts {
		b.WriteString(h + " ansible_connection=local\n")
	}
	b.WriteString("[all:vars]\nansible_python_interpreter=/usr/bin/python3\n")
	return b.String()
}

// spec is a run spec for url at commit with inventory "hosts".
func spec(url, commit string) runspec.Spec {
	return runspec.Spec{
		RunID:       "test",
		Repository:  runspec.Repository{URL: url, Branch: "main", Commit: commit},
		Playbook:    "site.yml",
		Inventories: []string{"hosts"},
	}
}

// writeFile writes a test fixture, mode 0600.
func writeFile(t *testing.T, path, content string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// wantSummary checks result, reason and exit code.
func wantSummary(t *testing.T, got runspec.Summary, result, reason string, code int) {
	t.Helper()
	if got.Result != result || got.Reason != reason || got.ExitCode != code {
		t.Errorf("summary = %s/%s exit %d (%q), want %s/%s exit %d", got.Result, got.Reason, got.ExitCode, got.Message, result, reason, code)
	}
}
