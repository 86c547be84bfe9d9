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
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
)

// The configuration files of the node's components, rendered from the
// layout and the machine's conditions. Pure: Up writes them.

// containerdConfig is containerd v2's configuration (version 3). Every path
// containerd would otherwise default to a host-wide location (/var/lib,
// /run, /opt, /etc/cni, NRI's socket) is moved into the node's own
// directories or disabled.
func containerdConfig(l Layout, c Conditions, runc string) string {
	return fmt.Sprintf(`version = 3
root = %[1]q
state = %[2]q

[grpc]
  address = %[3]q
[ttrpc]
  address = "%[3]s.ttrpc"
[debug]
  address = %[4]q
  level = "info"
[metrics]
  address = ""

[plugins.'io.containerd.internal.v1.opt']
  path = %[5]q
[plugins.'io.containerd.nri.v1.nri']
  disable = true

[plugins.'io.containerd.cri.v1.runtime']
  enable_cdi = false
  # Network namespaces are bind-mounted under containerd's state, not in
  # the host's /run/netns.
  netns_mounts_under_state_dir = true
  # %[6]s
  restrict_oom_score_adj = %[7]t
  [plugins.'io.containerd.cri.v1.runtime'.containerd]
    default_runtime_name = 'runc'
    [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
      runtime_type = 'io.containerd.runc.v2'
      runtime_path = %[8]q
      [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
        BinaryName = %[9]q
        Root = %[10]q
        SystemdCgroup = false
  [plugins.'io.containerd.cri.v1.runtime'.cni]
    bin_dirs = ['/usr/lib/cni']
    conf_dir = %[11]q

[plugins.'io.containerd.cri.v1.images']
  snapshotter = 'overlayfs'
  [plugins.'io.containerd.cri.v1.images'.pinned_images]
    sandbox = %[12]q
  [plugins.'io.containerd.cri.v1.images'.registry]
    config_path = %[13]q
`,
		l.state("containerd"), l.run("containerd", "state"), l.containerdSocket(), l.run("containerd", "debug.sock"),
		l.state("containerd", "opt"),
		oomComment(c), !c.SysResource,
		l.bin("containerd-shim-runc-v2"), runc, l.run("runc"),
		l.state("etc", "cni"),
		l.sandboxImage(), l.state("etc", "certs.d"))
}

func oomComment(c Conditions) string {
	if c.SysResource {
		return "CAP_SYS_RESOURCE is present: the sandbox may get a negative oom_score_adj"
	}
	return "CAP_SYS_RESOURCE is missing from the bounding set: no negative oom_score_adj (runc would fail)"
}

// registryHosts is containerd's hosts.toml for the node's registry: plain
// HTTP.
func registryHosts(l Layout) string {
	return fmt.Sprintf("server = \"http://%[1]s\"\n\n[host.\"http://%[1]s\"]\n  capabilities = [\"pull\", \"resolve\"]\n", l.Registry())
}

// cniConfig is the bridge network of the pods. isDefaultGateway gives pods
// a default route (Service VIPs are not on the bridge); no masquerade:
// pods talk only to each other and to the host's bridge address.
func cniConfig(l Layout) string {
	conf := map[string]any{
		"cniVersion": "1.0.0",
		"name":       "localcluster",
		"plugins": []any{map[string]any{
			"type":             "bridge",
			"bridge":           l.Bridge,
			"isGateway":        true,
			"isDefaultGateway": true,
			"ipMasq":           false,
			"hairpinMode":      true,
			"ipam": map[string]any{
				"type":    "host-local",
				"ranges":  [][]map[string]string{{{"subnet": l.Subnet.String(), "gateway": l.HostIP.String()}}},
				"dataDir": l.state("cni", "ipam"),
			},
		}},
	}
	b, err := json.MarshalIndent(conf, "", "  ")
	if err != nil {
		panic(err) // a literal map of strings cannot fail to encode
	}
	return string(b) + "\n"
}

// kubeletConfig is the kubelet's configuration. The kubelet writes no
// host-wide state: its root, pod logs and CRI socket are the node's; it
// does not set sysctls (the ones it checks are shown to it in its mount
// namespace) nor iptables utility chains.
func kubeletConfig(l Layout, c Conditions) string {
	var b strings.Builder
	fmt.Fprintf(&b, `apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: %s
port: %d
healthzBindAddress: 127.0.0.1
healthzPort: %d
readOnlyPort: 0
`, l.HostIP, kubeletPort, kubeletHealthzPort)
	if c.CgroupVersion == 1 {
		b.WriteString("# cgroup v1 on this machine: the kubelet refuses it unless told otherwise\nfailCgroupV1: false\n")
	}
	fmt.Fprintf(&b, `failSwapOn: false
cgroupDriver: cgroupfs
cgroupRoot: /
containerRuntimeEndpoint: unix://%s
staticPodPath: ""
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: false}
  x509: {clientCAFile: %s}
authorization:
  mode: AlwaysAllow
tlsCertFile: %s
tlsPrivateKeyFile: %s
clusterDomain: cluster.local
clusterDNS: []
resolvConf: %s
registerNode: true
serializeImagePulls: false
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard:
  memory.available: 100Mi
  nodefs.available: 1%%
  imagefs.available: 1%%
evictionPressureTransitionPeriod: 10s
syncFrequency: 10s
fileCheckFrequency: 10s
nodeStatusUpdateFrequency: 10s
containerLogMaxSize: 10Mi
makeIPTablesUtilChains: false
protectKernelDefaults: false
podLogsDir: %s
`, l.containerdSocket(), l.state("pki", "ca.crt"), l.state("pki", "kubelet-serving.crt"), l.state("pki", "kubelet-serving.key"),
		l.state("etc", "resolv.conf"), l.state("pod-logs"))
	return b.String()
}

// resolvConf is what pods get as /etc/resolv.conf: there is no cluster
// DNS, so names fail at once and the tests address hosts by IP.
const resolvConf = "nameserver 127.0.0.1\noptions ndots:1 timeout:1 attempts:1\n"

// kubeProxyConfig runs kube-proxy in iptables mode without touching host
// sysctls: no localhost NodePorts (route_localnet stays), no conntrack
// tuning (zeros), NodePorts on the bridge address only.
func kubeProxyConfig(l Layout) string {
	return fmt.Sprintf(`apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: iptables
clientConnection:
  kubeconfig: %s
hostnameOverride: %s
clusterCIDR: %s
bindAddress: %s
healthzBindAddress: 127.0.0.1:%d
metricsBindAddress: 127.0.0.1:%d
nodePortAddresses: ["%s/32"]
iptables:
  localhostNodePorts: false
  masqueradeAll: false
conntrack:
  maxPerCore: 0
  tcpEstablishedTimeout: 0s
  tcpCloseWaitTimeout: 0s
`, l.state("pki", "kube-proxy.kubeconfig"), l.NodeName, l.Subnet, l.HostIP, kubeProxyHealthPort, kubeProxyMetrics, l.HostIP)
}

// kubeconfig is a self-contained kubeconfig (certificates inline) for a
// client certificate user.
func kubeconfig(server string, ca, cert, key []byte, user string) string {
	e := base64.StdEncoding.EncodeToString
	return fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: localcluster
  cluster:
    server: %s
    certificate-authority-data: %s
users:
- name: %s
  user:
    client-certificate-data: %s
    client-key-data: %s
contexts:
- name: localcluster
  context:
    cluster: localcluster
    user: %s
current-context: localcluster
`, server, e(ca), user, e(cert), e(key), user)
}
