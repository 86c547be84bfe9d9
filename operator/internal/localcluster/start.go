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
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// start brings the node up from nothing: files, host state, then each
// component in order, each waited for before the next.
func (c *Cluster) start(ctx context.Context, cond Conditions, images []Image) error {
	runc, err := lookPath(c.BinDir, "runc")
	if err != nil {
		return err
	}
	if err := c.checkPortsFree(); err != nil {
		return err
	}
	hs := hostState{Starter: c.Starter}
	tables, err := run("nft", "", "list", "tables")
	if err != nil {
		return err
	}
	hs.NFTablesBefore = nftTables(tables)
	if err := os.MkdirAll(c.StateDir, 0o755); err != nil {
		return err
	}
	// Written first: from here on Down knows what to undo.
	if err := c.writeHostState(hs); err != nil {
		return err
	}
	if err := c.writeFiles(cond, runc); err != nil {
		return err
	}
	if !cond.IPForward {
		hs.IPForwardWas = "0"
		if err := os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte("1"), 0o644); err != nil {
			return fmt.Errorf("failed to enable net.ipv4.ip_forward: %w", err)
		}
	}
	if err := c.createBridge(); err != nil {
		return err
	}
	if err := installChains(c.Layout); err != nil {
		return err
	}
	comps := map[string]component{}
	for _, comp := range components(c.Layout) {
		comps[comp.name] = comp
	}
	startComp := func(name string) error {
		comp := comps[name]
		argv := comp.argv
		if comp.inNamespace {
			r, ok := c.procs.record(compHolder)
			if !ok {
				return errors.New("the mount namespace holder is not running")
			}
			argv = append([]string{"nsenter", "--target", strconv.Itoa(r.PID), "--mount", "--"}, argv...)
		}
		c.logf("starting %s", name)
		return c.procs.start(name, nil, argv...)
	}

	if err := startComp(compRegistry); err != nil {
		return err
	}
	if err := c.waitFor(ctx, "the registry", compRegistry, 20*time.Second, tcpListening(c.Registry())); err != nil {
		return err
	}
	if err := c.pushImages(ctx, images); err != nil {
		return err
	}
	if err := startComp(compHolder); err != nil {
		return err
	}
	if hs.CreatedDirs, err = c.mountShadows(cond); err != nil {
		return err
	}
	if err := c.writeHostState(hs); err != nil {
		return err
	}
	if err := startComp(compContainerd); err != nil {
		return err
	}
	if err := startComp(compEtcd); err != nil {
		return err
	}
	if err := c.waitFor(ctx, "etcd", compEtcd, 30*time.Second, httpOK(fmt.Sprintf("http://127.0.0.1:%d/health", etcdClientPort), nil)); err != nil {
		return err
	}
	if err := startComp(compAPIServer); err != nil {
		return err
	}
	admin, err := c.adminHTTP()
	if err != nil {
		return err
	}
	if err := c.waitFor(ctx, "the API server", compAPIServer, 120*time.Second, httpOK(c.APIServer()+"/readyz", admin)); err != nil {
		return err
	}
	if err := c.waitFor(ctx, "containerd", compContainerd, 30*time.Second, func() error {
		_, err := os.Stat(c.containerdSocket())
		return err
	}); err != nil {
		return err
	}
	for _, name := range []string{compKCM, compScheduler, compProxy, compKubelet, compProvisioner} {
		if err := startComp(name); err != nil {
			return err
		}
	}
	if err := c.waitFor(ctx, "node "+c.NodeName+" Ready", compKubelet, 120*time.Second, func() error { return c.nodeReady(ctx, admin) }); err != nil {
		return err
	}
	if err := c.applyBase(ctx); err != nil {
		return err
	}
	hs.Up = true
	return c.writeHostState(hs)
}

// checkPortsFree fails naming the first port something else listens on.
func (c *Cluster) checkPortsFree() error {
	for _, addr := range []string{
		c.Registry(), fmt.Sprintf("%s:%d", c.HostIP, apiServerPort),
		fmt.Sprintf("127.0.0.1:%d", etcdClientPort), fmt.Sprintf("127.0.0.1:%d", etcdPeerPort),
		fmt.Sprintf("127.0.0.1:%d", kcmPort), fmt.Sprintf("127.0.0.1:%d", schedulerPort),
		fmt.Sprintf("127.0.0.1:%d", kubeletHealthzPort), fmt.Sprintf("127.0.0.1:%d", kubeProxyHealthPort),
	} {
		// Listening, not dialing: on these machines a connection to any
		// non-local address succeeds (the VM's gateway accepts them all).
		l, err := net.Listen("tcp", addr)
		if errors.Is(err, syscall.EADDRINUSE) {
			return fmt.Errorf("%s is in use by another process: the local cluster needs it (stop that process, or `make cluster-down` if it is an earlier cluster)", addr)
		}
		if err == nil {
			l.Close()
		}
	}
	return nil
}

// writeFiles writes the PKI, kubeconfigs and every configuration file.
func (c *Cluster) writeFiles(cond Conditions, runc string) error {
	p, err := newPKI(certSpecs(c.Layout), time.Now(), 365*24*time.Hour)
	if err != nil {
		return err
	}
	files := map[string][]byte{
		c.state("pki", "ca.crt"): p.ca.cert, c.state("pki", "ca.key"): p.ca.key,
		c.state("pki", "sa.key"): p.saKey, c.state("pki", "sa.pub"): p.saPub,
		c.state("etc", "containerd.toml"):                     []byte(containerdConfig(c.Layout, cond, runc)),
		c.state("etc", "certs.d", c.Registry(), "hosts.toml"): []byte(registryHosts(c.Layout)),
		c.state("etc", "cni", "10-localcluster.conflist"):     []byte(cniConfig(c.Layout)),
		c.state("etc", "kubelet.yaml"):                        []byte(kubeletConfig(c.Layout, cond)),
		c.state("etc", "kube-proxy.yaml"):                     []byte(kubeProxyConfig(c.Layout)),
		c.state("etc", "resolv.conf"):                         []byte(resolvConf),
		c.state("etc", "registry.yml"):                        []byte(registryConfig(c.Layout)),
	}
	for name, kp := range p.certs {
		files[c.state("pki", name+".crt")], files[c.state("pki", name+".key")] = kp.cert, kp.key
	}
	for _, u := range []string{"kcm", "scheduler", "kube-proxy", "kubelet"} {
		files[c.state("pki", u+".kubeconfig")] = []byte(kubeconfig(c.APIServer(), p.ca.cert, p.certs[u].cert, p.certs[u].key, u))
	}
	files[c.Kubeconfig()] = []byte(kubeconfig(c.APIServer(), p.ca.cert, p.certs["admin"].cert, p.certs["admin"].key, "admin"))
	for _, s := range sysctlMounts(c.Layout, cond) {
		files[s.source] = []byte(wantOf(cond, s.target) + "\n")
	}
	for path, data := range files {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(path, data, 0o600); err != nil {
			return err
		}
	}
	for _, d := range []string{c.state("registry"), c.state("volumes"), c.state("pod-logs"), c.state("kubelet")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	return nil
}

func wantOf(cond Conditions, target string) string {
	for _, s := range cond.KubeletSysctls {
		if filepath.Join("/proc/sys", s.Name) == target {
			return s.Want
		}
	}
	return ""
}

// createBridge makes the pods' bridge with the host's address on it.
func (c *Cluster) createBridge() error {
	if conflicts := c.Layout.HostAddrConflicts(); len(conflicts) > 0 {
		return errors.New(strings.Join(conflicts, "; "))
	}
	ones := c.Subnet.Bits()
	for _, args := range [][]string{
		{"link", "add", c.Bridge, "type", "bridge"},
		{"addr", "add", fmt.Sprintf("%s/%d", c.HostIP, ones), "dev", c.Bridge},
		{"link", "set", c.Bridge, "up"},
	} {
		if _, err := run("ip", "", args...); err != nil {
			return err
		}
	}
	return nil
}

// HostAddrConflicts names the host interfaces that already hold an
// address in the node's subnet.
func (l Layout) HostAddrConflicts() []string {
	ifaces, _ := net.Interfaces()
	var out []string
	for _, i := range ifaces {
		if i.Name == l.Bridge {
			continue
		}
		addrs, _ := i.Addrs()
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok && ipn.Contains(net.IP(l.HostIP.AsSlice())) {
				out = append(out, fmt.Sprintf("interface %s has %s, which overlaps the local cluster's subnet %s", i.Name, ipn, l.Subnet))
			}
		}
	}
	return out
}

// mountShadows sets up the node's mount namespace: shadow directories over
// the host paths its components hard-code, and the sysctl values the
// kubelet wants. It returns the mount points it had to create on the host.
func (c *Cluster) mountShadows(cond Conditions) (created []string, err error) {
	r, ok := c.procs.record(compHolder)
	if !ok {
		return nil, errors.New("the mount namespace holder is not running")
	}
	// unshare needs a moment to enter the new namespace before exec'ing sh.
	if err := c.waitFor(context.Background(), "the mount namespace", compHolder, 10*time.Second, func() error {
		own, err1 := os.Readlink("/proc/self/ns/mnt")
		its, err2 := os.Readlink(fmt.Sprintf("/proc/%d/ns/mnt", r.PID))
		if err := errors.Join(err1, err2); err != nil {
			return err
		}
		if own == its {
			return errors.New("not yet in its own namespace")
		}
		return nil
	}); err != nil {
		return nil, err
	}
	for _, m := range append(shadowMounts(c.Layout), sysctlMounts(c.Layout, cond)...) {
		if !m.file {
			if err := os.MkdirAll(m.source, 0o755); err != nil {
				return created, err
			}
			if _, err := os.Stat(m.target); errors.Is(err, os.ErrNotExist) {
				if err := os.MkdirAll(m.target, 0o755); err != nil {
					return created, err
				}
				created = append(created, m.target)
			}
		}
		args := []string{"--target", strconv.Itoa(r.PID), "--mount", "--", "mount", "--bind", m.source, m.target}
		if _, err := run("nsenter", "", args...); err != nil {
			return created, err
		}
		if m.readOnly {
			args := []string{"--target", strconv.Itoa(r.PID), "--mount", "--", "mount", "-o", "remount,bind,ro", m.target}
			if _, err := run("nsenter", "", args...); err != nil {
				return created, err
			}
		}
	}
	return created, nil
}

func httpOK(url string, client *http.Client) func() error {
	if client == nil {
		client = &http.Client{Timeout: 2 * time.Second}
	}
	return func() error {
		resp, err := client.Get(url)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%s: %s", url, resp.Status)
		}
		return nil
	}
}
