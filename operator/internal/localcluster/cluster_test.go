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
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..")
}

type testLog struct{ t *testing.T }

func (w testLog) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// TestUpDown_afterAKill starts the cluster with a pod running (so that
// there are containers, shims, a network namespace, veths, mounts and
// cgroups), kills every component with SIGKILL and loses their PID files,
// as a crash of the machine's test run would; the next Up removes what the
// killed node left and starts a working node, and Down then leaves the
// host exactly as it was before: iptables and ip6tables rules, nftables
// tables, network devices, mounts, cgroups, the host paths the components
// hard-code, the sysctls the kubelet wants, and no process of the node.
func TestUpDown_afterAKill(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the local cluster: skipped with -short")
	}
	if os.Geteuid() != 0 {
		t.Skip("the local cluster needs root")
	}
	layout := DefaultLayout(filepath.Join(repoRoot(), "bin", "cluster"))
	images, err := ImagesIn(filepath.Join(repoRoot(), "bin", "cluster-images"))
	if err != nil {
		t.Fatal(err)
	}
	// This test stops the cluster: it waits until no other process uses it.
	users, err := lockFile(layout.UsersFile, false)
	if err != nil {
		t.Fatal(err)
	}
	defer users.unlock()
	ctx := context.Background()
	c := New(layout, testLog{t})
	// With no user left, a cluster a test session started is being
	// stopped by it: this test may take it over. One `make cluster-up`
	// started is the user's.
	if c.Ready(ctx) == nil && c.StartedBy() != StarterSession {
		t.Skip("a cluster `make cluster-up` started is up: this test stops the cluster, so it runs only when none is")
	}
	if err := c.Down(); err != nil {
		t.Fatal(err)
	}
	before := snapshotHost(t, layout)
	t.Cleanup(func() {
		if t.Failed() {
			c.Diagnose(testLog{t}, 15)
		}
		_ = c.Down()
	})

	if started, err := c.Up(ctx, images); err != nil || !started {
		t.Fatalf("Up: started %v, %v", started, err)
	}
	startPod(t, c, "before-the-kill")
	for _, comp := range components(layout) {
		if r, ok := c.procs.record(comp.name); ok {
			_ = syscall.Kill(r.PID, syscall.SIGKILL)
		}
	}
	if err := os.RemoveAll(layout.run("pids")); err != nil {
		t.Fatal(err)
	}
	if started, err := c.Up(ctx, images); err != nil || !started {
		t.Fatalf("Up after the kill: started %v, %v", started, err)
	}
	startPod(t, c, "after-the-kill")
	if err := c.Down(); err != nil {
		t.Fatalf("Down: %v", err)
	}
	if diff := cmp.Diff(before, snapshotHost(t, layout)); diff != "" {
		t.Errorf("the host after Down differs from before Up (-before +after):\n%s", diff)
	}
}

// startPod runs a pause pod and waits until it runs.
func startPod(t *testing.T, c *Cluster, name string) {
	t.Helper()
	cs, err := clientset(c.Kubeconfig())
	if err != nil {
		t.Fatal(err)
	}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"}, Spec: corev1.PodSpec{
		AutomountServiceAccountToken: ptr.To(false),
		Containers:                   []corev1.Container{{Name: "pause", Image: c.sandboxImage()}}}}
	ctx := context.Background()
	if _, err := cs.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(90 * time.Second); ; time.Sleep(250 * time.Millisecond) {
		p, err := cs.CoreV1().Pods("default").Get(ctx, name, metav1.GetOptions{})
		if err == nil && p.Status.Phase == corev1.PodRunning {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("pod %s not running: %v %+v", name, err, p.Status)
		}
	}
}

// hostSnapshot is what the node may change on the host.
type hostSnapshot struct {
	IPTables, IP6Tables, NFTables []string
	Links, Mounts, Cgroups        []string
	Paths                         map[string]bool
	Sysctls                       map[string]string
	Processes                     []string
}

var counters = regexp.MustCompile(`\[\d+:\d+\]`)

func snapshotHost(t *testing.T, l Layout) hostSnapshot {
	t.Helper()
	s := hostSnapshot{Paths: map[string]bool{}, Sysctls: map[string]string{}}
	rules := func(tool string) []string {
		out, err := run(tool, "")
		if err != nil {
			t.Fatal(err)
		}
		var lines []string
		for _, line := range strings.Split(out, "\n") {
			if line != "" && !strings.HasPrefix(line, "#") {
				lines = append(lines, counters.ReplaceAllString(line, "[-]"))
			}
		}
		return lines
	}
	s.IPTables, s.IP6Tables = rules("iptables-save"), rules("ip6tables-save")
	tables, err := run("nft", "", "list", "tables")
	if err != nil {
		t.Fatal(err)
	}
	s.NFTables = nftTables(tables)
	links, err := run("ip", "", "-o", "link", "show")
	if err != nil {
		t.Fatal(err)
	}
	// Docker's containers come and go with other tests: a link attached to
	// another bridge is not the node's.
	for _, line := range strings.Split(links, "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		if i := slices.Index(f, "master"); i >= 0 && i+1 < len(f) && f[i+1] != l.Bridge {
			continue
		}
		s.Links = append(s.Links, strings.TrimSuffix(f[1], ":"))
	}
	mi, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	// Only mounts where the node mounts: Docker's, for instance, come and
	// go with other tests.
	ours := []string{l.StateDir, l.RunDir, "/proc/sys", "/run/netns", "/var/lib/kubelet"}
	for _, m := range shadowMounts(l) {
		ours = append(ours, m.target)
	}
	for _, line := range strings.Split(string(mi), "\n") {
		f := strings.Fields(line)
		if len(f) < 5 {
			continue
		}
		if strings.Contains(f[4], "/kubepods") || slices.ContainsFunc(ours, func(p string) bool { return f[4] == p || strings.HasPrefix(f[4], p+"/") }) {
			s.Mounts = append(s.Mounts, f[4])
		}
	}
	slices.Sort(s.Mounts)
	s.Cgroups = kubepodsDirs()
	for _, m := range shadowMounts(l) {
		_, err := os.Stat(m.target)
		s.Paths[m.target] = err == nil
	}
	for _, p := range []string{l.RunDir, "/run/netns"} {
		_, err := os.Stat(p)
		s.Paths[p] = err == nil
	}
	for _, k := range append(kubeletSysctls, Sysctl{Name: "net/ipv4/ip_forward"}) {
		s.Sysctls[k.Name] = readSysctl(os.DirFS("/proc"), k.Name)
	}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		cmd := strings.ReplaceAll(string(b), "\x00", " ")
		if state, _, err := procStat(atoi(e.Name())); err == nil && state != 'Z' &&
			(strings.Contains(cmd, l.StateDir+"/") || strings.Contains(cmd, l.RunDir+"/") || strings.Contains(cmd, holderMark)) {
			s.Processes = append(s.Processes, cmd)
		}
	}
	return s
}

func atoi(s string) int {
	n := 0
	for _, r := range s {
		if r < '0' || r > '9' {
			return -1
		}
		n = n*10 + int(r-'0')
	}
	return n
}
