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

// Package gittest runs real git servers on loopback for tests: git daemon,
// git http-backend behind net/http with basic auth, and OpenSSH's sshd, all
// serving bare repositories built from work repositories made with the git
// CLI.
package gittest

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Repo is a non-bare work repository whose commits, branches and tags are
// pushed to its bare clone once Bare has made one.
type Repo struct {
	// Dir is the work tree.
	Dir string
	// root holds Dir and the bare clone; it belongs to the test that called
	// NewRepo, so the bare clone outlives subtests that serve it.
	root string
	bare string
}

// NewRepo creates a work repository with one commit of files (path → content;
// nil makes an empty commit) on branch main.
func NewRepo(t testing.TB, files map[string]string) *Repo {
	t.Helper()
	requireGit(t)
	root := t.TempDir()
	r := &Repo{Dir: filepath.Join(root, "work"), root: root}
	runGit(t, "", "init", "-q", "--initial-branch=main", r.Dir)
	r.Commit(t, files, "initial commit")
	return r
}

// Commit writes files (path → content, directories created) into the work
// tree, commits them on the checked-out branch, pushes that branch to the
// bare clone if there is one, and returns the new commit's hash.
func (r *Repo) Commit(t testing.TB, files map[string]string, msg string) string {
	t.Helper()
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		full := filepath.Join(r.Dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatalf("failed to create the directory of %q: %v", p, err)
		}
		if err := os.WriteFile(full, []byte(files[p]), 0o644); err != nil {
			t.Fatalf("failed to write %q: %v", p, err)
		}
	}
	runGit(t, r.Dir, "add", "-A")
	runGit(t, r.Dir, "commit", "-q", "--allow-empty", "-m", msg)
	r.push(t)
	return runGit(t, r.Dir, "rev-parse", "HEAD")
}

// Branch checks out branch name, creating it at the current commit if it does
// not exist, so that later Commits land on it; a new branch is pushed to the
// bare clone if there is one. Branch(t, "main") goes back to main.
func (r *Repo) Branch(t testing.TB, name string) {
	t.Helper()
	if err := gitCommand(r.Dir, "rev-parse", "--verify", "-q", "refs/heads/"+name).Run(); err == nil {
		runGit(t, r.Dir, "checkout", "-q", name)
		return
	}
	runGit(t, r.Dir, "checkout", "-q", "-b", name)
	r.push(t)
}

// DeleteBranch deletes branch name from the work repository and the bare
// clone, if there is one; it must not be checked out.
func (r *Repo) DeleteBranch(t testing.TB, name string) {
	t.Helper()
	runGit(t, r.Dir, "branch", "-q", "-D", name)
	if r.bare != "" {
		runGit(t, r.Dir, "push", "-q", "origin", "--delete", name)
	}
}

// Tag creates the annotated tag name at the checked-out commit, pushes it to
// the bare clone if there is one, and returns the tag object's hash (the
// commit's is Head's).
func (r *Repo) Tag(t testing.TB, name, msg string) string {
	t.Helper()
	runGit(t, r.Dir, "tag", "-a", "-m", msg, name)
	if r.bare != "" {
		runGit(t, r.Dir, "push", "-q", "--force", "origin", "refs/tags/"+name)
	}
	return runGit(t, r.Dir, "rev-parse", "refs/tags/"+name)
}

// Head returns the commit hash of branch in the work repository.
func (r *Repo) Head(t testing.TB, branch string) string {
	t.Helper()
	return runGit(t, r.Dir, "rev-parse", "--verify", "refs/heads/"+branch+"^{commit}")
}

// Bare returns the path of a bare clone of the repository, named repo.git,
// creating it on the first call with every branch and HEAD on main. From then
// on Commit and Branch push to it, so the servers see new commits.
func (r *Repo) Bare(t testing.TB) string {
	t.Helper()
	return r.BareAt(t, filepath.Join(r.root, "repo.git"))
}

// BareAt is Bare with the bare clone at path (absolute; the directory
// must not exist): StartHTTP serves every repository next to the one it is
// given, so clones in one directory share a server. A Repo has one bare
// clone: once made, BareAt returns it whatever path says.
func (r *Repo) BareAt(t testing.TB, bare string) string {
	t.Helper()
	if r.bare != "" {
		return r.bare
	}
	runGit(t, "", "clone", "-q", "--bare", r.Dir, bare)
	// clone --bare copies tags reachable from branches only.
	runGit(t, r.Dir, "push", "-q", bare, "refs/tags/*:refs/tags/*")
	// The clone's HEAD follows whatever the work tree had checked out.
	runGit(t, bare, "symbolic-ref", "HEAD", "refs/heads/main")
	runGit(t, r.Dir, "remote", "add", "origin", bare)
	r.bare = bare
	return bare
}

func (r *Repo) push(t testing.TB) {
	t.Helper()
	if r.bare == "" {
		return
	}
	runGit(t, r.Dir, "push", "-q", "--force", "origin", "HEAD")
}

// requireGit fails the test when git is missing: tests never skip for a
// missing tool, `make test` installs it.
func requireGit(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Fatalf("git is not installed: install the Debian package git (make test does, through hack/install-deps.sh): %v", err)
	}
}

// gitEnv is the environment for every git process: the caller's, minus GIT_*
// variables (a hook running the tests sets GIT_DIR and GIT_INDEX_FILE), with
// no system or global config and a fixed identity.
func gitEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GIT_") {
			env = append(env, kv)
		}
	}
	return append(env,
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_CONFIG_GLOBAL="+os.DevNull,
		"GIT_TERMINAL_PROMPT=0",
		"GIT_AUTHOR_NAME=gittest",
		"GIT_AUTHOR_EMAIL=gittest@example.invalid",
		"GIT_COMMITTER_NAME=gittest",
		"GIT_COMMITTER_EMAIL=gittest@example.invalid",
	)
}

func gitCommand(dir string, args ...string) *exec.Cmd {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = gitEnv()
	return cmd
}

// runGit runs git in dir and returns its trimmed stdout.
func runGit(t testing.TB, dir string, args ...string) string {
	t.Helper()
	cmd := gitCommand(dir, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("git %s failed: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return strings.TrimSpace(string(out))
}

// logBuffer collects a server's output; it is logged only when the test
// fails, since logging from a server goroutine after the test ends panics.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Option changes where a server listens.
type Option func(*settings)

type settings struct{ host string }

// On makes a server listen on host (an address of this machine) instead of
// 127.0.0.1, and name it in the URLs it returns: pods of the local cluster
// reach the host's bridge address, not its loopback.
func On(host string) Option { return func(s *settings) { s.host = host } }

func settingsOf(opts []Option) settings {
	s := settings{host: "127.0.0.1"}
	for _, o := range opts {
		o(&s)
	}
	return s
}

// freePort returns a port of host that was free a moment ago. The servers
// bind it themselves, so startProcess retries when another process wins it.
func freePort(t testing.TB, host string) int {
	t.Helper()
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Fatalf("failed to find a free port: %v", err)
	}
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port
}

// startProcess starts the command that newCmd builds for a free port, waits
// until the port accepts connections, and kills the command's process group
// in t.Cleanup. It retries with another port when the command exits first
// (the port was taken between freePort and the bind).
func startProcess(t testing.TB, name, host string, newCmd func(port int) *exec.Cmd) int {
	t.Helper()
	const attempts = 5
	var lastLog string
	for range attempts {
		port := freePort(t, host)
		cmd := newCmd(port)
		logs := &logBuffer{}
		cmd.Stdout, cmd.Stderr = logs, logs
		// A group of its own, so that cleanup also ends the children the
		// server forked per connection.
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := cmd.Start(); err != nil {
			t.Fatalf("failed to start %s: %v", name, err)
		}
		exited := make(chan struct{})
		go func() { _ = cmd.Wait(); close(exited) }()
		stop := func() {
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
		if waitListening(host, port, exited) {
			t.Cleanup(func() {
				stop()
				if t.Failed() {
					t.Logf("%s output:\n%s", name, logs.String())
				}
			})
			return port
		}
		stop()
		lastLog = logs.String()
	}
	t.Fatalf("%s did not start listening after %d attempts; its last output:\n%s", name, attempts, lastLog)
	return 0
}

// waitListening polls until host:port accepts a connection, giving up when
// the process exits or after ten seconds.
func waitListening(host string, port int, exited <-chan struct{}) bool {
	addr := net.JoinHostPort(host, strconv.Itoa(port))
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return false
		default:
		}
		if conn, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			_ = conn.Close()
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return false
}

// StartDaemon serves the parent directory of bareDir with git daemon
// (anonymous, read-only) on a free loopback port (or On's host) and returns
// git://HOST:PORT/<base name of bareDir>.
func StartDaemon(t testing.TB, bareDir string, opts ...Option) string {
	t.Helper()
	requireGit(t)
	bareDir = mustAbs(t, bareDir)
	host := settingsOf(opts).host
	port := startProcess(t, "git daemon", host, func(port int) *exec.Cmd {
		cmd := exec.Command("git", "daemon",
			"--export-all",
			"--base-path="+filepath.Dir(bareDir),
			"--listen="+host,
			"--port="+strconv.Itoa(port),
			"--reuseaddr",
			filepath.Dir(bareDir),
		)
		cmd.Env = gitEnv()
		return cmd
	})
	return fmt.Sprintf("git://%s/%s", net.JoinHostPort(host, strconv.Itoa(port)), filepath.Base(bareDir))
}

func mustAbs(t testing.TB, p string) string {
	t.Helper()
	abs, err := filepath.Abs(p)
	if err != nil {
		t.Fatalf("failed to make %q absolute: %v", p, err)
	}
	return abs
}
