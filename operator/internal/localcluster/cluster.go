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

package localcluster

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// Cluster is the machine's local cluster.
type Cluster struct {
	Layout
	// Log receives progress lines (stderr for `make cluster-up`).
	Log io.Writer
	// Starter says who starts it (recorded by Up): StarterCommand for
	// `make cluster-up`, StarterSession for a test's Use.
	Starter string
	procs   processes
}

// Who started the cluster.
const (
	StarterCommand = "make cluster-up"
	StarterSession = "session"
)

// New returns the cluster of layout l; nothing is started.
func New(l Layout, log io.Writer) *Cluster {
	if log == nil {
		log = io.Discard
	}
	return &Cluster{Layout: l, Log: log, procs: processes{dir: l.run("pids"), logs: l.LogsDir()}}
}

// hostState is what Up changed on the host that Down must undo, kept in
// StateDir (it outlives a killed run; RunDir is a tmpfs).
type hostState struct {
	// IPForwardWas is net.ipv4.ip_forward before Up set it ("" = untouched).
	IPForwardWas string `json:"ipForwardWas,omitempty"`
	// NFTablesBefore are the nftables tables that existed before the node
	// started; Down deletes the ones kube-proxy created.
	NFTablesBefore []string `json:"nftablesBefore"`
	// CreatedDirs are mount points Up created on the host (removed when
	// empty).
	CreatedDirs []string `json:"createdDirs,omitempty"`
	// Up is set once every component is ready.
	Up bool `json:"up"`
	// Starter is the Cluster's Starter that started it.
	Starter string `json:"starter,omitempty"`
}

func (c *Cluster) hostStateFile() string { return c.state("host-state.json") }

func (c *Cluster) readHostState() (hostState, bool) {
	b, err := os.ReadFile(c.hostStateFile())
	if err != nil {
		return hostState{}, false
	}
	var s hostState
	return s, json.Unmarshal(b, &s) == nil
}

func (c *Cluster) writeHostState(s hostState) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(c.hostStateFile(), b, 0o644)
}

func (c *Cluster) logf(format string, args ...any) {
	fmt.Fprintf(c.Log, "localcluster: "+format+"\n", args...)
}

// Up starts the node, or finds it running and ready. started reports
// whether this call started it. Whatever an earlier run left behind (a
// kill, a failure) is removed before starting. A failure leaves the
// components' logs in LogsDir and what was started running, for Down.
func (c *Cluster) Up(ctx context.Context, images []Image) (started bool, err error) {
	lock, err := lockFile(c.LockFile, false)
	if err != nil {
		return false, err
	}
	defer lock.unlock()

	cond, err := c.detect()
	if err != nil {
		return false, err
	}
	if p := cond.Problems(); len(p) > 0 {
		return false, errors.New(strings.Join(p, "; "))
	}
	if c.Ready(ctx) == nil {
		return false, nil
	}
	if err := c.checkBinaries(); err != nil {
		return false, err
	}
	if _, left := c.readHostState(); left || c.leftovers() {
		c.logf("removing what an earlier run left behind")
		if err := c.down(); err != nil {
			return false, fmt.Errorf("failed to clean up an earlier run: %w", err)
		}
	}
	t0 := time.Now()
	for _, line := range cond.Describe() {
		c.logf("%s", line)
	}
	if err := c.start(ctx, cond, images); err != nil {
		return true, err
	}
	c.logf("cluster ready in %.1fs: kubectl --kubeconfig %s, registry %s", time.Since(t0).Seconds(), c.Kubeconfig(), c.Registry())
	return true, nil
}

// detect reads this machine's conditions.
func (c *Cluster) detect() (Conditions, error) {
	forward, err := run("iptables", "", "-S", "FORWARD")
	if err != nil && os.Geteuid() == 0 {
		return Conditions{}, fmt.Errorf("failed to read the FORWARD chain (is iptables installed?): %w", err)
	}
	return Detect(os.DirFS("/proc"), forward)
}

// checkBinaries says what to run when a component's binary is missing.
func (c *Cluster) checkBinaries() error {
	var missing []string
	for _, b := range []string{"kube-apiserver", "etcd", "kubelet", "kube-controller-manager", "kube-scheduler", "kube-proxy", "containerd", "containerd-shim-runc-v2", "kubectl", "localcluster"} {
		if _, err := os.Stat(c.bin(b)); err != nil {
			missing = append(missing, b)
		}
	}
	for _, b := range []string{"docker-registry", "runc", "unshare", "nsenter", "iptables-restore", "nft", "crane"} {
		if _, err := lookPath(c.BinDir, b); err != nil {
			missing = append(missing, b)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%s missing from %s and PATH: run hack/cluster-bins.sh (make cluster-up does)", strings.Join(missing, ", "), c.BinDir)
	}
	return nil
}

// lookPath finds name in dir (bin/cluster), then bin/ beside it, then PATH.
func lookPath(dir, name string) (string, error) {
	for _, d := range []string{dir, filepath.Dir(dir)} {
		if p := filepath.Join(d, name); isExecutable(p) {
			return p, nil
		}
	}
	return exec.LookPath(name)
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

// leftovers reports whether anything of an earlier node remains.
func (c *Cluster) leftovers() bool {
	if _, err := os.Stat(c.RunDir); err == nil {
		return true
	}
	if _, err := net.InterfaceByName(c.Bridge); err == nil {
		return true
	}
	save, _ := run("iptables-save", "")
	return strings.Contains(save, "APO-LOCALCLUSTER-") || strings.Contains(save, ":KUBE-")
}

// Ready checks that every component runs and the API server answers with
// the node Ready.
func (c *Cluster) Ready(ctx context.Context) error {
	s, ok := c.readHostState()
	if !ok || !s.Up {
		return errors.New("the local cluster is not up")
	}
	for _, comp := range components(c.Layout) {
		if !c.procs.alive(comp.name) {
			return fmt.Errorf("%s is not running (log: %s)", comp.name, c.procs.logFile(comp.name))
		}
	}
	client, err := c.adminHTTP()
	if err != nil {
		return err
	}
	return c.nodeReady(ctx, client)
}

// adminHTTP is an HTTP client authenticated as the cluster administrator.
func (c *Cluster) adminHTTP() (*http.Client, error) {
	cert, err := tls.LoadX509KeyPair(c.state("pki", "admin.crt"), c.state("pki", "admin.key"))
	if err != nil {
		return nil, err
	}
	ca, err := os.ReadFile(c.state("pki", "ca.crt"))
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{
		RootCAs: pool, Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}}}, nil
}

// nodeReady asks the API server whether the node's Ready condition is
// True.
func (c *Cluster) nodeReady(ctx context.Context, client *http.Client) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.APIServer()+"/api/v1/nodes/"+c.NodeName, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("node %s: %s", c.NodeName, resp.Status)
	}
	var node struct {
		Status struct {
			Conditions []struct{ Type, Status, Message string } `json:"conditions"`
		} `json:"status"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&node); err != nil {
		return err
	}
	for _, cond := range node.Status.Conditions {
		if cond.Type == "Ready" {
			if cond.Status == "True" {
				return nil
			}
			return fmt.Errorf("node %s not Ready: %s", c.NodeName, cond.Message)
		}
	}
	return fmt.Errorf("node %s has no Ready condition yet", c.NodeName)
}

// waitFor polls check every 200ms until it returns nil, the timeout, or
// the component dies.
func (c *Cluster) waitFor(ctx context.Context, what, comp string, timeout time.Duration, check func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := check()
		if err == nil {
			return nil
		}
		if comp != "" && !c.procs.alive(comp) {
			return fmt.Errorf("%s exited while waiting for %s: %s", comp, what, c.tail(comp, 15))
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %v waiting for %s: %v (log: %s)", timeout, what, err, c.procs.logFile(comp))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// tail is the last n lines of a component's log.
func (c *Cluster) tail(comp string, n int) string {
	b, err := os.ReadFile(c.procs.logFile(comp))
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "\n  " + strings.Join(lines, "\n  ")
}

// Diagnose writes the last lines of every component's log, for a failed
// test.
func (c *Cluster) Diagnose(w io.Writer, lines int) {
	for _, comp := range components(c.Layout) {
		fmt.Fprintf(w, "==> %s (%s, running: %t)%s\n", comp.name, c.procs.logFile(comp.name), c.procs.alive(comp.name), c.tail(comp.name, lines))
	}
}

func tcpListening(addr string) func() error {
	return func() error {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return err
		}
		return conn.Close()
	}
}

// Session is one process's use of the cluster: while it is open, a
// cluster started by another process is not stopped under it.
type Session struct {
	*Cluster
	users   *fileLock
	started bool
}

// Use starts the cluster, or reuses the running one, and holds it for
// this process until Close. A cluster started by `make cluster-up` (or by
// another process's session) is reused as it is.
func Use(ctx context.Context, l Layout, images []Image, log io.Writer) (*Session, error) {
	// Registered as a user first, so that a session stopping the cluster
	// it started waits for this one.
	users, err := lockFile(l.UsersFile, true)
	if err != nil {
		return nil, err
	}
	c := New(l, log)
	c.Starter = StarterSession
	started, err := c.Up(ctx, images)
	if err != nil {
		users.unlock()
		return nil, err
	}
	return &Session{Cluster: c, users: users, started: started}, nil
}

// StartedBy is who started the running cluster ("" when it is not up).
func (c *Cluster) StartedBy() string {
	s, _ := c.readHostState()
	return s.Starter
}

// Started reports whether this session started the cluster (and Close
// stops it).
func (s *Session) Started() bool { return s.started }

// Close ends this process's use. The session that started the cluster
// stops it, once no other process uses it.
func (s *Session) Close() error {
	s.users.unlock()
	if !s.started {
		return nil
	}
	excl, err := lockFile(s.UsersFile, false)
	if err != nil {
		return err
	}
	defer excl.unlock()
	return s.Down()
}

// RestartAPIServer stops the API server and starts it again with the same
// arguments, as an upgrade or a crash does, and waits until it is ready.
func (c *Cluster) RestartAPIServer(ctx context.Context) error {
	lock, err := lockFile(c.LockFile, false)
	if err != nil {
		return err
	}
	defer lock.unlock()
	r, ok := c.procs.record(compAPIServer)
	if !ok {
		return errors.New("the API server is not running")
	}
	if err := c.procs.stop(compAPIServer, 10*time.Second); err != nil {
		return err
	}
	c.logf("restarting %s", compAPIServer)
	if err := c.procs.start(compAPIServer, nil, r.Argv...); err != nil {
		return err
	}
	admin, err := c.adminHTTP()
	if err != nil {
		return err
	}
	return c.waitFor(ctx, "the API server", compAPIServer, 120*time.Second, httpOK(c.APIServer()+"/readyz", admin))
}
