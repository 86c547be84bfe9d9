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

// Package localcluster runs the single-node Kubernetes cluster of the test
// tier 6 and `make demo` (DESIGN.md 4): etcd, kube-apiserver,
// kube-controller-manager, kube-scheduler, kube-proxy, the kubelet and
// containerd with Debian's runc and CNI plugins, a registry the node pulls
// from, and a small provisioner for the default StorageClass. The node
// keeps its own state, sockets and mount namespace: the host's Docker and
// its containerd are never touched, and Down removes every process, mount,
// cgroup, network device and iptables rule it made, also after a kill.
package localcluster

import (
	"fmt"
	"net/netip"
	"path/filepath"
)

// Layout is where the node keeps its state and how its parts reach each
// other. DefaultLayout is the one cluster of a machine; tests of the pure
// parts use other directories.
type Layout struct {
	// StateDir holds the PKI, configuration, etcd, containerd's and the
	// kubelet's data, volumes and the components' logs.
	StateDir string
	// RunDir holds sockets, PID files and the state file.
	RunDir string
	// BinDir holds the components' binaries (bin/cluster, linked to the
	// tool cache by hack/cluster-bins.sh).
	BinDir string
	// LockFile serializes starts and stops; UsersFile is share-locked by
	// every process using the cluster, so that its starter stops it only
	// when they are done. Both live outside RunDir, which Down removes.
	LockFile, UsersFile string
	// Bridge is the network device pods are attached to; HostIP, its
	// address, is the only host address pods reach (API server, registry,
	// git servers of the tests).
	Bridge string
	Subnet netip.Prefix
	HostIP netip.Addr
	// ServiceCIDR holds the Service VIPs; its first address is the API
	// server's `kubernetes` Service.
	ServiceCIDR netip.Prefix
	// NodeName is the node's name and hostname override.
	NodeName string
}

// Ports the components listen on: the API server and registry on HostIP,
// the rest on loopback. None is a default port of a component, so that a
// cluster or registry the machine runs anyway does not collide.
const (
	apiServerPort       = 16443
	registryPort        = 5390
	etcdClientPort      = 23790
	etcdPeerPort        = 23800
	kubeletPort         = 20250
	kubeletHealthzPort  = 20248
	kcmPort             = 20257
	schedulerPort       = 20259
	kubeProxyHealthPort = 20256
	kubeProxyMetrics    = 20249
)

// DefaultLayout is the machine's one local cluster; binDir holds its
// binaries.
func DefaultLayout(binDir string) Layout {
	return Layout{
		StateDir:    "/var/lib/apo-localcluster",
		RunDir:      "/run/apo-localcluster",
		BinDir:      binDir,
		LockFile:    "/run/apo-localcluster.lock",
		UsersFile:   "/run/apo-localcluster.users",
		Bridge:      "apo0",
		Subnet:      netip.MustParsePrefix("10.244.0.0/24"),
		HostIP:      netip.MustParseAddr("10.244.0.1"),
		ServiceCIDR: netip.MustParsePrefix("10.96.0.0/24"),
		NodeName:    "localcluster",
	}
}

func (l Layout) state(p ...string) string {
	return filepath.Join(append([]string{l.StateDir}, p...)...)
}
func (l Layout) run(p ...string) string { return filepath.Join(append([]string{l.RunDir}, p...)...) }
func (l Layout) bin(name string) string { return filepath.Join(l.BinDir, name) }

// APIServer is the API server's URL.
func (l Layout) APIServer() string { return fmt.Sprintf("https://%s:%d", l.HostIP, apiServerPort) }

// Registry is the registry's host:port: the node pulls from it over plain
// HTTP, and it answers on the host and to pods at the same address.
func (l Layout) Registry() string { return fmt.Sprintf("%s:%d", l.HostIP, registryPort) }

// Kubeconfig is the cluster administrator's kubeconfig.
func (l Layout) Kubeconfig() string { return l.state("admin.kubeconfig") }

// KubernetesServiceIP is the `kubernetes` Service's VIP (the first address
// of the Service range), through which pods reach the API server.
func (l Layout) KubernetesServiceIP() netip.Addr { return l.ServiceCIDR.Addr().Next() }

// LogsDir holds one log file per component.
func (l Layout) LogsDir() string { return l.state("logs") }

func (l Layout) containerdSocket() string { return l.run("containerd", "containerd.sock") }

// sandboxImage is the pod sandbox (pause) image containerd pins; Up pushes
// it before the kubelet starts.
func (l Layout) sandboxImage() string { return l.Registry() + "/pause:3.10" }
