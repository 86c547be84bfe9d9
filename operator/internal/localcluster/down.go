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
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

// Down stops the node and removes everything it made on the host: every
// process (by its PID file, then by a sweep for what a killed run left),
// the containers and their cgroups, the mount namespace, the bridge,
// iptables chains (kube-proxy's too) and nftables tables, host sysctls it
// changed, and its state except the registry's storage and the logs.
func (c *Cluster) Down() error {
	lock, err := lockFile(c.LockFile, false)
	if err != nil {
		return err
	}
	defer lock.unlock()
	return c.down()
}

// stopOrder is the components in the order Down stops them: nothing
// schedules, recreates or provisions while pods go; the kubelet before
// containerd; the API server after every client.
var stopOrder = []string{compProvisioner, compKCM, compScheduler, compKubelet, compProxy, compContainerd, compAPIServer, compEtcd, compRegistry, compHolder}

func (c *Cluster) down() error {
	var errs []error
	hs, _ := c.readHostState()
	for _, name := range stopOrder {
		if name == compContainerd {
			// Containers outlive the kubelet: kill them while containerd
			// can still reap them and clean up their shims.
			c.killContainers()
		}
		if err := c.procs.stop(name, 10*time.Second); err != nil {
			errs = append(errs, err)
		}
	}
	// What a killed run left without PID files: components, shims.
	if killed := sweep([]string{c.StateDir + "/", c.RunDir + "/", holderMark}); len(killed) > 0 {
		c.logf("stopped %d leftover processes", len(killed))
	}
	c.killContainers()
	if err := c.removeCgroups(); err != nil {
		errs = append(errs, err)
	}
	if err := c.cleanNetfilter(hs); err != nil {
		errs = append(errs, err)
	}
	if _, err := net.InterfaceByName(c.Bridge); err == nil {
		if _, err := run("ip", "", "link", "del", c.Bridge); err != nil {
			errs = append(errs, err)
		}
	}
	if hs.IPForwardWas != "" {
		if err := os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte(hs.IPForwardWas), 0o644); err != nil {
			errs = append(errs, fmt.Errorf("failed to restore net.ipv4.ip_forward: %w", err))
		}
	}
	for _, d := range hs.CreatedDirs {
		// Only when empty: something else may have made it since.
		_ = os.Remove(d)
	}
	// The mount namespace is gone with its last process; nothing is
	// mounted on the host. Keep the registry's storage (pushes survive a
	// restart) and the logs (for a failure's diagnosis).
	if err := os.RemoveAll(c.RunDir); err != nil {
		errs = append(errs, err)
	}
	entries, _ := os.ReadDir(c.StateDir)
	for _, e := range entries {
		if e.Name() == "registry" || e.Name() == "logs" {
			continue
		}
		if err := os.RemoveAll(filepath.Join(c.StateDir, e.Name())); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	c.logf("stopped; nothing of the node is left on the host but %s and %s", c.state("registry"), c.LogsDir())
	return nil
}

// kubepodsDirs are the kubelet's pod cgroups in every hierarchy.
func kubepodsDirs() []string {
	dirs, _ := filepath.Glob("/sys/fs/cgroup/*/kubepods")
	if fi, err := os.Stat("/sys/fs/cgroup/kubepods"); err == nil && fi.IsDir() {
		dirs = append(dirs, "/sys/fs/cgroup/kubepods")
	}
	return dirs
}

// killContainers kills every process in the pods' cgroups.
func (c *Cluster) killContainers() {
	for i := 0; i < 20; i++ {
		var pids []int
		for _, root := range kubepodsDirs() {
			_ = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
				if err != nil || d.IsDir() || (d.Name() != "cgroup.procs" && d.Name() != "tasks") {
					return nil
				}
				b, _ := os.ReadFile(p)
				for _, f := range strings.Fields(string(b)) {
					var pid int
					if _, err := fmt.Sscan(f, &pid); err == nil && !slices.Contains(pids, pid) {
						pids = append(pids, pid)
					}
				}
				return nil
			})
		}
		if len(pids) == 0 {
			return
		}
		for _, pid := range pids {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// removeCgroups removes the pods' cgroups, deepest first (a cgroup
// directory is removed with rmdir once it holds no process).
func (c *Cluster) removeCgroups() error {
	var errs []error
	for _, root := range kubepodsDirs() {
		var dirs []string
		_ = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				dirs = append(dirs, p)
			}
			return nil
		})
		slices.Reverse(dirs)
		for _, d := range dirs {
			var err error
			for i := 0; i < 50; i++ {
				if err = syscall.Rmdir(d); err == nil || errors.Is(err, syscall.ENOENT) {
					err = nil
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("failed to remove cgroup %s: %w", d, err))
			}
		}
	}
	return errors.Join(errs...)
}

// cleanNetfilter removes the node's and kube-proxy's chains and the
// nftables tables that did not exist before the node started.
func (c *Cluster) cleanNetfilter(hs hostState) error {
	if p := c.bin("kube-proxy"); isExecutable(p) {
		// kube-proxy removes its own rules; what it leaves (an empty
		// KUBE-FIREWALL and its jumps) the sweep below removes.
		_, _ = run(p, "", "--cleanup")
	}
	if err := removeChains(chainPrefixes); err != nil {
		return err
	}
	if hs.NFTablesBefore == nil {
		return nil
	}
	list, err := run("nft", "", "list", "tables")
	if err != nil {
		return err
	}
	for _, t := range createdTables(hs.NFTablesBefore, nftTables(list)) {
		if _, err := run("nft", "", append([]string{"delete", "table"}, strings.Fields(t)...)...); err != nil {
			return err
		}
	}
	return nil
}
