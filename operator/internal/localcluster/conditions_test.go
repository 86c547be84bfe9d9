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
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
)

// statusOf is a /proc/self/status with the given euid and bounding set.
func statusOf(euid, capBnd string) string {
	return "Name:\tlocalcluster\nUmask:\t0022\nState:\tR (running)\nUid:\t1000\t" + euid + "\t" + euid + "\t" + euid +
		"\nGid:\t0\t0\t0\t0\nCapInh:\t0000000000000000\nCapBnd:\t" + capBnd + "\nCapAmb:\t0000000000000000\n"
}

// The mountinfo of these machines (cgroup v1, hybrid without unified), of a
// unified v2 host, and of a hybrid host with cgroup2 at .../unified.
const (
	mountinfoV1 = `23 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
`
	mountinfoV2 = `23 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw
31 23 0:28 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate
`
	mountinfoHybrid = `31 23 0:28 / /sys/fs/cgroup ro - tmpfs tmpfs ro,mode=755
32 31 0:29 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw
33 31 0:30 / /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids
34 31 0:31 / /sys/fs/cgroup/cpu\040acct rw - cgroup cgroup rw,cpu
`
)

// proc is a fake /proc with the kubelet's sysctls at the values of this
// machine, overridable.
func proc(status, mountinfo string, sysctls map[string]string) fstest.MapFS {
	fs := fstest.MapFS{
		"self/status":    {Data: []byte(status)},
		"self/mountinfo": {Data: []byte(mountinfo)},
	}
	base := map[string]string{
		"vm/overcommit_memory": "0", "vm/panic_on_oom": "0", "kernel/panic": "1", "kernel/panic_on_oops": "0",
		"kernel/keys/root_maxkeys": "1000000", "kernel/keys/root_maxbytes": "25000000",
		"net/bridge/bridge-nf-call-iptables": "1", "net/ipv4/ip_forward": "1",
	}
	for k, v := range sysctls {
		base[k] = v
	}
	for k, v := range base {
		if v != "-" {
			fs["sys/"+k] = &fstest.MapFile{Data: []byte(v + "\n")}
		}
	}
	return fs
}

const dockerForward = "-P FORWARD DROP\n-A FORWARD -j DOCKER-USER\n-A FORWARD -j DOCKER-ISOLATION-STAGE-1\n"

func TestDetect(t *testing.T) {
	cases := map[string]struct {
		proc    fstest.MapFS
		forward string
		want    Conditions
	}{
		"this machine: root, cgroup v1, no CAP_SYS_RESOURCE, Docker's DROP, three sysctls to shadow": {
			proc:    proc(statusOf("0", "000001fffeffffff"), mountinfoV1, nil),
			forward: dockerForward,
			want: Conditions{Root: true, CgroupVersion: 1,
				CgroupMounts:  []string{"/sys/fs/cgroup/cpu", "/sys/fs/cgroup/memory", "/sys/fs/cgroup/systemd"},
				ForwardPolicy: "DROP", BridgeNetfilter: true, IPForward: true,
				KubeletSysctls: []Sysctl{
					{Name: "vm/overcommit_memory", Want: "1", Have: "0"},
					{Name: "kernel/panic", Want: "10", Have: "1"},
					{Name: "kernel/panic_on_oops", Want: "1", Have: "0"},
				}},
		},
		"unified cgroup v2, all capabilities, ACCEPT, kubelet's sysctls already set": {
			proc: proc(statusOf("0", "000001ffffffffff"), mountinfoV2, map[string]string{
				"vm/overcommit_memory": "1", "kernel/panic": "10", "kernel/panic_on_oops": "1"}),
			forward: "-P FORWARD ACCEPT\n",
			want: Conditions{Root: true, CgroupVersion: 2, CgroupMounts: []string{"/sys/fs/cgroup"}, SysResource: true,
				ForwardPolicy: "ACCEPT", BridgeNetfilter: true, IPForward: true},
		},
		"hybrid counts as v1; an escaped mount point is unescaped": {
			proc:    proc(statusOf("0", "000001ffffffffff"), mountinfoHybrid, map[string]string{"vm/overcommit_memory": "1", "kernel/panic": "10", "kernel/panic_on_oops": "1"}),
			forward: "-P FORWARD ACCEPT\n",
			want: Conditions{Root: true, CgroupVersion: 1, CgroupMounts: []string{"/sys/fs/cgroup/cpu acct", "/sys/fs/cgroup/pids"}, SysResource: true,
				ForwardPolicy: "ACCEPT", BridgeNetfilter: true, IPForward: true},
		},
		"not root; no br_netfilter; forwarding off; no FORWARD output": {
			proc: proc(statusOf("1000", "000001ffffffffff"), mountinfoV2, map[string]string{
				"vm/overcommit_memory": "1", "kernel/panic": "10", "kernel/panic_on_oops": "1",
				"net/bridge/bridge-nf-call-iptables": "-", "net/ipv4/ip_forward": "0"}),
			want: Conditions{CgroupVersion: 2, CgroupMounts: []string{"/sys/fs/cgroup"}, SysResource: true, ForwardPolicy: "ACCEPT"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := Detect(tc.proc, tc.forward)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Detect (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDetect_malformedProc(t *testing.T) {
	cases := map[string]struct {
		proc fstest.MapFS
		want string
	}{
		"no status":        {proc: fstest.MapFS{"self/mountinfo": {Data: []byte(mountinfoV1)}}, want: "/proc/self/status"},
		"no mountinfo":     {proc: fstest.MapFS{"self/status": {Data: []byte(statusOf("0", "1"))}}, want: "/proc/self/mountinfo"},
		"no Uid line":      {proc: proc("CapBnd:\t1\n", mountinfoV1, nil), want: "no Uid line"},
		"malformed CapBnd": {proc: proc(statusOf("0", "zz"), mountinfoV1, nil), want: "malformed CapBnd"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := Detect(tc.proc, "")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Detect: %v, want an error mentioning %q", err, tc.want)
			}
		})
	}
}

func TestConditions_problemsAndConfig(t *testing.T) {
	l := DefaultLayout("/bin/cluster")
	v1, err := Detect(proc(statusOf("0", "000001fffeffffff"), mountinfoV1, nil), dockerForward)
	if err != nil {
		t.Fatal(err)
	}
	v2, err := Detect(proc(statusOf("1000", "000001ffffffffff"), mountinfoV2, nil), "")
	if err != nil {
		t.Fatal(err)
	}
	if p := v1.Problems(); len(p) != 0 {
		t.Errorf("root on cgroup v1 has problems %v, want none", p)
	}
	if p := v2.Problems(); len(p) != 1 || !strings.Contains(p[0], "needs root") {
		t.Errorf("a non-root user gets %v, want one problem saying it needs root", p)
	}
	if p := (Conditions{Root: true}).Problems(); len(p) != 1 || !strings.Contains(p[0], "cgroup") {
		t.Errorf("no cgroup mounts gives %v, want a problem naming cgroups", p)
	}
	// What the conditions change in the components' configuration.
	if k := kubeletConfig(l, v1); !strings.Contains(k, "failCgroupV1: false") {
		t.Errorf("kubelet config on cgroup v1 lacks failCgroupV1: false:\n%s", k)
	}
	if k := kubeletConfig(l, v2); strings.Contains(k, "failCgroupV1") {
		t.Errorf("kubelet config on cgroup v2 sets failCgroupV1:\n%s", k)
	}
	if c := containerdConfig(l, v1, "/usr/sbin/runc"); !strings.Contains(c, "restrict_oom_score_adj = true") {
		t.Errorf("containerd config without CAP_SYS_RESOURCE does not restrict oom_score_adj:\n%s", c)
	}
	if c := containerdConfig(l, v2, "/usr/sbin/runc"); !strings.Contains(c, "restrict_oom_score_adj = false") {
		t.Errorf("containerd config with CAP_SYS_RESOURCE restricts oom_score_adj:\n%s", c)
	}
	got := sysctlMounts(l, v1)
	var targets []string
	for _, m := range got {
		if !m.readOnly || !m.file {
			t.Errorf("sysctl mount %+v is not a read-only file", m)
		}
		targets = append(targets, m.target)
	}
	if diff := cmp.Diff([]string{"/proc/sys/vm/overcommit_memory", "/proc/sys/kernel/panic", "/proc/sys/kernel/panic_on_oops"}, targets); diff != "" {
		t.Errorf("sysctl mounts (-want +got):\n%s", diff)
	}
	if len(sysctlMounts(l, Conditions{})) != 0 {
		t.Error("a host with the kubelet's values gets sysctl mounts")
	}
}

func TestParseStat(t *testing.T) {
	// A command name with spaces and a parenthesis, as /proc allows.
	state, start, err := parseStat("4242 (kube (a) b) S 1 4242 4242 0 -1 4194560 520 0 0 0 1 2 0 0 20 0 8 0 123456 1 2 3\n")
	if err != nil || state != 'S' || start != 123456 {
		t.Fatalf("parseStat = %c, %d, %v; want S, 123456, nil", state, start, err)
	}
	if _, _, err := parseStat("4242 kube S 1"); err == nil {
		t.Error("parseStat of a truncated line did not fail")
	}
}
