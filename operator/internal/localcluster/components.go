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
	"fmt"
	"path/filepath"
	"strconv"
)

// component is one process of the node.
type component struct {
	name string
	argv []string
	// inNamespace components run in the node's mount namespace (nsenter
	// into the holder's): containerd, the kubelet and the controller
	// manager (its host-path provisioner writes to a shadowed /tmp path).
	inNamespace bool
}

// Component names, in start order; Down stops them in reverse, except
// that the containers go before containerd.
const (
	compRegistry    = "registry"
	compHolder      = "holder"
	compContainerd  = "containerd"
	compEtcd        = "etcd"
	compAPIServer   = "kube-apiserver"
	compKCM         = "kube-controller-manager"
	compScheduler   = "kube-scheduler"
	compProxy       = "kube-proxy"
	compKubelet     = "kubelet"
	compProvisioner = "provisioner"
)

// holderMark names the holder's shell, so that a sweep finds it.
const holderMark = "apo-localcluster-holder"

// hostPathProvisionerDir is where kube-controller-manager's host-path
// provisioner creates volumes; Kubernetes hard-codes it. The node shows it
// a directory of its own there, in its mount namespace.
const hostPathProvisionerDir = "/tmp/hostpath_pv"

// admissionPlugins are enabled on top of the API server's defaults.
// OwnerReferencesPermissionEnforcement is OpenShift's default: setting an
// owner reference with blockOwnerDeletion needs update on the owner's
// finalizers, which the operator's RBAC must grant.
const admissionPlugins = "NodeRestriction,OwnerReferencesPermissionEnforcement"

// components are the node's processes with their arguments.
func components(l Layout) []component {
	pki := func(f string) string { return l.state("pki", f) }
	etc := func(f string) string { return l.state("etc", f) }
	kc := func(user string) string { return pki(user + ".kubeconfig") }
	auth := func(user string) []string {
		return []string{"--kubeconfig=" + kc(user), "--authentication-kubeconfig=" + kc(user), "--authorization-kubeconfig=" + kc(user)}
	}
	etcd := fmt.Sprintf("http://127.0.0.1:%d", etcdClientPort)
	peer := fmt.Sprintf("http://127.0.0.1:%d", etcdPeerPort)
	return []component{
		{name: compRegistry, argv: []string{"docker-registry", "serve", etc("registry.yml")}},
		{name: compHolder, argv: []string{"unshare", "--mount", "--propagation", "private", "--", "sh", "-c", "while :; do sleep 3600; done", holderMark}},
		{name: compContainerd, inNamespace: true, argv: []string{l.bin("containerd"), "--config", etc("containerd.toml")}},
		{name: compEtcd, argv: []string{l.bin("etcd"), "--name", l.NodeName, "--data-dir", l.state("etcd"),
			"--listen-client-urls", etcd, "--advertise-client-urls", etcd,
			"--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
			"--initial-cluster", l.NodeName + "=" + peer, "--unsafe-no-fsync", "--log-level", "warn"}},
		{name: compAPIServer, argv: []string{l.bin("kube-apiserver"), "--etcd-servers=" + etcd,
			"--bind-address=" + l.HostIP.String(), "--advertise-address=" + l.HostIP.String(), "--secure-port=" + strconv.Itoa(apiServerPort),
			"--tls-cert-file=" + pki("apiserver.crt"), "--tls-private-key-file=" + pki("apiserver.key"), "--client-ca-file=" + pki("ca.crt"),
			"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
			"--service-account-key-file=" + pki("sa.pub"), "--service-account-signing-key-file=" + pki("sa.key"),
			"--service-cluster-ip-range=" + l.ServiceCIDR.String(), "--authorization-mode=Node,RBAC",
			"--enable-admission-plugins=" + admissionPlugins,
			"--kubelet-client-certificate=" + pki("apiserver-kubelet-client.crt"), "--kubelet-client-key=" + pki("apiserver-kubelet-client.key"),
			// No DNS resolves the node's name: logs and exec go to its IP.
			"--kubelet-preferred-address-types=InternalIP",
			"--allow-privileged=true", "--cert-dir=" + l.state("apiserver"), "--profiling=false"}},
		{name: compKCM, inNamespace: true, argv: append([]string{l.bin("kube-controller-manager")}, append(auth("kcm"),
			"--bind-address=127.0.0.1", "--secure-port="+strconv.Itoa(kcmPort),
			"--service-account-private-key-file="+pki("sa.key"), "--root-ca-file="+pki("ca.crt"), "--use-service-account-credentials=true",
			"--cluster-signing-cert-file="+pki("ca.crt"), "--cluster-signing-key-file="+pki("ca.key"),
			"--enable-hostpath-provisioner", "--leader-elect=false", "--profiling=false")...)},
		{name: compScheduler, argv: append([]string{l.bin("kube-scheduler")}, append(auth("scheduler"),
			"--bind-address=127.0.0.1", "--secure-port="+strconv.Itoa(schedulerPort), "--leader-elect=false", "--profiling=false")...)},
		{name: compProxy, argv: []string{l.bin("kube-proxy"), "--config=" + etc("kube-proxy.yaml")}},
		{name: compKubelet, inNamespace: true, argv: []string{l.bin("kubelet"), "--config=" + etc("kubelet.yaml"), "--kubeconfig=" + kc("kubelet"),
			"--hostname-override=" + l.NodeName, "--node-ip=" + l.HostIP.String(),
			"--root-dir=" + l.state("kubelet"), "--cert-dir=" + l.state("kubelet", "pki")}},
		{name: compProvisioner, argv: []string{l.bin("localcluster"), "provision", "--kubeconfig=" + l.Kubeconfig(),
			"--dir=" + l.state("volumes"), "--node=" + l.NodeName}},
	}
}

// registryConfig is Debian's docker-registry (distribution 2.8) on the
// bridge address, its storage kept across restarts of the node.
func registryConfig(l Layout) string {
	return fmt.Sprintf("version: 0.1\nlog:\n  level: warn\n  accesslog: {disabled: true}\nstorage:\n  filesystem: {rootdirectory: %s}\n  delete: {enabled: true}\nhttp:\n  addr: %s\n",
		l.state("registry"), l.Registry())
}

// shadowMounts are the bind mounts of the node's mount namespace: host
// paths its components hard-code, replaced by directories of the node, so
// that nothing they write there reaches the host.
func shadowMounts(l Layout) []bindMount {
	return []bindMount{
		// containerd's shims put their sockets under /run/containerd/s.
		{source: l.run("shadow", "run-containerd"), target: "/run/containerd"},
		// libcni caches results in /var/lib/cni.
		{source: l.state("shadow", "var-lib-cni"), target: "/var/lib/cni"},
		// The kubelet links container logs into /var/log/containers.
		{source: l.state("shadow", "var-log-containers"), target: "/var/log/containers"},
		{source: l.state("shadow", "hostpath_pv"), target: hostPathProvisionerDir},
	}
}

// bindMount is one mount of the node's namespace; a file source with
// readOnly shows a sysctl's value.
type bindMount struct {
	source, target string
	readOnly       bool
	file           bool
}

// sysctlMounts show the kubelet the values it wants, read-only, in the
// node's namespace only.
func sysctlMounts(l Layout, c Conditions) []bindMount {
	var out []bindMount
	for _, s := range c.KubeletSysctls {
		out = append(out, bindMount{source: l.run("shadow", "sysctl", filepath.Base(s.Name)+"-"+s.Want), target: filepath.Join("/proc/sys", s.Name), readOnly: true, file: true})
	}
	return out
}
