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
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
)

// Conditions are the facts about this machine that decide how the node's
// components are configured. They are read by Detect from /proc and /sys
// (fs.FS values, so that tests pass fake contents) and from the output of
// `iptables -S FORWARD`; nothing is assumed.
type Conditions struct {
	// Root: the effective user id is 0. The node needs root (mounts,
	// bridge, iptables, cgroups).
	Root bool
	// CgroupVersion is 2 when /sys/fs/cgroup is a cgroup2 mount (unified),
	// else 1 (legacy or hybrid). The kubelet refuses cgroup v1 unless
	// failCgroupV1 is false.
	CgroupVersion int
	// CgroupMounts are the cgroup hierarchies' mount points: each v1
	// controller's (and named hierarchies'), or the one v2 mount. The
	// kubelet's kubepods cgroups are created below each.
	CgroupMounts []string
	// SysResource: CAP_SYS_RESOURCE is in the bounding set. Without it no
	// process may lower its oom_score_adj, so containerd must not give the
	// pod sandbox -998 (restrict_oom_score_adj).
	SysResource bool
	// ForwardPolicy is the filter table's FORWARD policy (DROP where Docker
	// runs). With DROP, pod-to-pod and Service traffic needs ACCEPT rules.
	ForwardPolicy string
	// BridgeNetfilter: net.bridge.bridge-nf-call-iptables is 1, so traffic
	// bridged between pods traverses iptables FORWARD too.
	BridgeNetfilter bool
	// IPForward: net.ipv4.ip_forward is 1. A pod's packet to a Service VIP
	// is DNATed to another pod and routed by the host, which needs it.
	IPForward bool
	// KubeletSysctls are the kernel settings the kubelet would write
	// host-wide (with protectKernelDefaults false) whose current value
	// differs; the node shows them to the kubelet with the values it wants
	// in its own mount namespace instead.
	KubeletSysctls []Sysctl
}

// Sysctl is a kernel setting under /proc/sys.
type Sysctl struct {
	// Name is the path below /proc/sys, e.g. vm/overcommit_memory.
	Name string
	// Want is the value the kubelet sets; Have is the host's.
	Want, Have string
}

// kubeletSysctls are the settings the kubelet's container manager enforces
// (setupKernelTunables in pkg/kubelet/cm of Kubernetes v1.37).
var kubeletSysctls = []Sysctl{
	{Name: "vm/overcommit_memory", Want: "1"},
	{Name: "vm/panic_on_oom", Want: "0"},
	{Name: "kernel/panic", Want: "10"},
	{Name: "kernel/panic_on_oops", Want: "1"},
	{Name: "kernel/keys/root_maxkeys", Want: "1000000"},
	{Name: "kernel/keys/root_maxbytes", Want: "25000000"},
}

// capSysResource is CAP_SYS_RESOURCE's bit in /proc/PID/status Cap* masks.
const capSysResource = 24

// Detect reads the machine's conditions. proc is /proc, forward is the
// output of `iptables -S FORWARD` (the filter table's FORWARD chain).
func Detect(proc fs.FS, forward string) (Conditions, error) {
	var c Conditions
	status, err := fs.ReadFile(proc, "self/status")
	if err != nil {
		return c, fmt.Errorf("failed to read /proc/self/status: %w", err)
	}
	if c.Root, err = effectiveRoot(string(status)); err != nil {
		return c, err
	}
	if c.SysResource, err = hasCapability(string(status), capSysResource); err != nil {
		return c, err
	}
	mountinfo, err := fs.ReadFile(proc, "self/mountinfo")
	if err != nil {
		return c, fmt.Errorf("failed to read /proc/self/mountinfo: %w", err)
	}
	if c.CgroupVersion, c.CgroupMounts, err = cgroupLayout(string(mountinfo)); err != nil {
		return c, err
	}
	c.ForwardPolicy = chainPolicy(forward, "FORWARD")
	// A missing file means the setting does not apply (br_netfilter not
	// loaded): bridged traffic then bypasses iptables.
	c.BridgeNetfilter = readSysctl(proc, "net/bridge/bridge-nf-call-iptables") == "1"
	c.IPForward = readSysctl(proc, "net/ipv4/ip_forward") == "1"
	for _, s := range kubeletSysctls {
		s.Have = readSysctl(proc, s.Name)
		if s.Have != s.Want {
			c.KubeletSysctls = append(c.KubeletSysctls, s)
		}
	}
	return c, nil
}

// Problems are the conditions under which the node cannot start, each with
// what to do.
func (c Conditions) Problems() []string {
	var p []string
	if !c.Root {
		p = append(p, "the local cluster needs root (it creates a bridge, iptables rules, mounts and cgroups): run make as root or through sudo")
	}
	if len(c.CgroupMounts) == 0 {
		p = append(p, "no cgroup hierarchy is mounted under /sys/fs/cgroup: the kubelet needs cgroups")
	}
	return p
}

// Describe is one line per condition and what the node does about it.
func (c Conditions) Describe() []string {
	out := []string{fmt.Sprintf("cgroup v%d (%d hierarchies)", c.CgroupVersion, len(c.CgroupMounts))}
	if c.CgroupVersion == 1 {
		out[0] += ": kubelet failCgroupV1=false"
	}
	if c.SysResource {
		out = append(out, "CAP_SYS_RESOURCE present")
	} else {
		out = append(out, "CAP_SYS_RESOURCE missing from the bounding set: containerd restrict_oom_score_adj=true")
	}
	out = append(out, fmt.Sprintf("iptables FORWARD policy %s, bridge-nf-call-iptables=%t: ACCEPT rules for the node's bridge only", c.ForwardPolicy, c.BridgeNetfilter))
	if !c.IPForward {
		out = append(out, "net.ipv4.ip_forward=0: set to 1 while the cluster runs (Service VIPs are routed), restored at stop")
	}
	for _, s := range c.KubeletSysctls {
		out = append(out, fmt.Sprintf("%s is %s, the kubelet wants %s: shown %s in the node's mount namespace only", s.Name, s.Have, s.Want, s.Want))
	}
	return out
}

// effectiveRoot reads the effective uid (second field of Uid:).
func effectiveRoot(status string) (bool, error) {
	v, ok := statusField(status, "Uid")
	if !ok {
		return false, errors.New("/proc/self/status has no Uid line")
	}
	f := strings.Fields(v)
	if len(f) < 2 {
		return false, fmt.Errorf("/proc/self/status: malformed Uid line %q", v)
	}
	return f[1] == "0", nil
}

// hasCapability reports whether bit is set in the CapBnd mask.
func hasCapability(status string, bit uint) (bool, error) {
	v, ok := statusField(status, "CapBnd")
	if !ok {
		return false, errors.New("/proc/self/status has no CapBnd line")
	}
	mask, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
	if err != nil {
		return false, fmt.Errorf("/proc/self/status: malformed CapBnd %q: %w", v, err)
	}
	return mask&(1<<bit) != 0, nil
}

func statusField(status, key string) (string, bool) {
	sc := bufio.NewScanner(strings.NewReader(status))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && k == key {
			return strings.TrimSpace(v), true
		}
	}
	return "", false
}

// cgroupLayout finds the cgroup mounts in mountinfo (proc(5): the fields
// after " - " are the file system type and source).
func cgroupLayout(mountinfo string) (version int, mounts []string, err error) {
	var v1, v2 []string
	sc := bufio.NewScanner(strings.NewReader(mountinfo))
	for sc.Scan() {
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		if !ok {
			continue
		}
		pf, qf := strings.Fields(pre), strings.Fields(post)
		if len(pf) < 5 || len(qf) < 1 {
			continue
		}
		point := unescapeMount(pf[4])
		switch qf[0] {
		case "cgroup":
			v1 = append(v1, point)
		case "cgroup2":
			v2 = append(v2, point)
		}
	}
	if err := sc.Err(); err != nil {
		return 0, nil, err
	}
	// Unified: cgroup2 mounted at /sys/fs/cgroup itself. Hybrid (v1
	// controllers plus cgroup2 at .../unified) counts as v1 for the
	// kubelet.
	if slices.Contains(v2, "/sys/fs/cgroup") {
		return 2, []string{"/sys/fs/cgroup"}, nil
	}
	slices.Sort(v1)
	return 1, v1, nil
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// chainPolicy reads "-P CHAIN POLICY" from `iptables -S` output; a chain
// without a policy line (no such table) accepts.
func chainPolicy(rules, chain string) string {
	sc := bufio.NewScanner(strings.NewReader(rules))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 3 && f[0] == "-P" && f[1] == chain {
			return f[2]
		}
	}
	return "ACCEPT"
}

func readSysctl(proc fs.FS, name string) string {
	b, err := fs.ReadFile(proc, path.Join("sys", name))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}
