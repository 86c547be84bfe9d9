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

package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	ansiblev1alpha1 "github.com/cloud37/ansible-playbook-operator/operator/api/v1alpha1"
	"github.com/cloud37/ansible-playbook-operator/operator/internal/promtext"
	"github.com/cloud37/ansible-playbook-operator/operator/internal/testenv"
)

const (
	// leaseID is the --leader-election-id every replica of the test shares.
	leaseID = "leader-election-test.ansible.cloud37.dev"
	// leaseDuration is controller-runtime's default LeaseDuration, which
	// the manager does not change: a Lease that is not released is free
	// only this long after its holder's last renewal.
	leaseDuration = 15 * time.Second
)

// TestManager_leaderElection runs the real manager binary as separate
// processes against one envtest API server: leader election only shows
// between processes that each have their own Lease identity and metrics.
func TestManager_leaderElection(t *testing.T) {
	if testing.Short() {
		t.Skip("envtest: skipped with -short")
	}
	bin := buildManager(t)
	c, kubeconfig := startEnv(t)
	ctx := context.Background()

	const ns = "leader-election"
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		t.Fatal(err)
	}
	// All ports at once, so that no two replicas are handed the same one.
	ports := freePorts(t, 6)
	start := func(t *testing.T, name string, i int) *replica {
		return startReplica(t, name, bin, kubeconfig, ns, ports[2*i], ports[2*i+1])
	}
	a, b := start(t, "A", 0), start(t, "B", 1)
	replicas := []*replica{a, b}

	repo := &ansiblev1alpha1.Repository{
		ObjectMeta: metav1.ObjectMeta{Name: "unreachable", Namespace: ns},
		// Nothing listens on port 1: every reconcile fails to reach the
		// host, and still counts as a reconcile and writes the status.
		Spec: ansiblev1alpha1.RepositorySpec{
			URL:      "https://127.0.0.1:1/x.git",
			Branch:   "main",
			Interval: &metav1.Duration{Duration: time.Minute},
		},
	}

	var leader, standby *replica
	var holder string
	if !t.Run("exactly one of two replicas holds the Lease and reconciles", func(t *testing.T) {
		testenv.Eventually(t, "one leader among A and B", 30*time.Second, func() (bool, string) {
			h := leaseHolder(t, c, ns)
			st := scrapeAll(t, replicas)
			if st[0].leader && st[1].leader {
				t.Fatalf("A and B both report leader_election_master_status 1")
			}
			if h == "" || !st[0].up || !st[1].up || st[0].leader == st[1].leader {
				return false, fmt.Sprintf("Lease holder %q; A %s; B %s", h, st[0], st[1])
			}
			holder = h
			leader, standby = a, b
			if st[1].leader {
				leader, standby = b, a
			}
			return true, ""
		})
		t.Logf("leader %s, standby %s, Lease holder %q", leader.name, standby.name, holder)

		if err := c.Create(ctx, repo); err != nil {
			t.Fatal(err)
		}
		waitReconciled(t, c, repo, leader, standby)
		// The standby never reconciles while the leader lives; checked
		// again here since waitReconciled returns as soon as the leader
		// has written the status.
		if st := standby.scrape(t); st.reconciles != 0 || st.operatorReconciles != 0 {
			t.Fatalf("standby %s reconciled while %s leads: %s", standby.name, leader.name, st)
		}
	}) {
		return
	}

	if !t.Run("the standby takes over at once when the leader is stopped with SIGTERM", func(t *testing.T) {
		old := leader
		took := takeOver(t, c, ns, old, standby, holder, syscall.SIGTERM, 30*time.Second)
		t.Logf("%s took over %v after SIGTERM to %s", standby.name, took, old.name)
		// The manager releases the Lease on shutdown
		// (LeaderElectionReleaseOnCancel). A Lease that was not released
		// cannot be taken before LeaseDuration after its last renewal, and
		// renewals are at most RetryPeriod (2s) apart, so a takeover in
		// less than LeaseDuration minus that proves the release.
		if limit := leaseDuration - 3*time.Second; took >= limit {
			t.Errorf("takeover after SIGTERM took %v, not less than %v: the Lease was not released on shutdown", took, limit)
		}
		// A stopped manager exits cleanly.
		if err := old.wait(t, 30*time.Second); err != nil {
			t.Errorf("%s after SIGTERM: %v\n%s", old.name, err, old.logTail())
		}
		leader, standby, holder = standby, nil, leaseHolder(t, c, ns)
		touchAndWaitReconciled(t, c, repo, 2*time.Minute, leader)
	}) {
		return
	}

	t.Run("a new replica takes over once the Lease expires when the leader is killed", func(t *testing.T) {
		newcomer := start(t, "C", 2)
		// C is a standby once its leader elector exists: the gauge is
		// created at 0 when the elector is.
		testenv.Eventually(t, "C up as standby", 30*time.Second, func() (bool, string) {
			st := newcomer.scrape(t)
			if st.leader {
				t.Fatalf("C became leader while %s holds the Lease: %s", leader.name, st)
			}
			return st.up && st.hasLeaderGauge, "C: " + st.String()
		})
		if st := newcomer.scrape(t); st.reconciles != 0 || st.operatorReconciles != 0 {
			t.Fatalf("standby C reconciled while %s leads: %s", leader.name, st)
		}
		old := leader
		// SIGKILL leaves the Lease held: C must wait for it to expire.
		took := takeOver(t, c, ns, old, newcomer, holder, syscall.SIGKILL, 45*time.Second)
		t.Logf("C took over %v after SIGKILL to %s (LeaseDuration %v)", took, old.name, leaseDuration)
		// The same bound the other way: a Lease that was not released is
		// not taken before it expires.
		if limit := leaseDuration - 3*time.Second; took < limit {
			t.Errorf("takeover after SIGKILL took %v, less than %v: C took a Lease that had not expired", took, limit)
		}
		touchAndWaitReconciled(t, c, repo, 3*time.Minute, newcomer)
	})
}

// takeOver signals the leader and waits until next reports itself leader
// and the Lease names a holder other than holder; it returns the time from
// the signal to the takeover.
func takeOver(t *testing.T, c client.Client, ns string, leader, next *replica, holder string, sig syscall.Signal, timeout time.Duration) time.Duration {
	t.Helper()
	signaled := leader.signal(t, sig)
	testenv.Eventually(t, next.name+" takes over from "+leader.name, timeout, func() (bool, string) {
		h := leaseHolder(t, c, ns)
		st := next.scrape(t)
		return st.leader && h != "" && h != holder,
			fmt.Sprintf("Lease holder %q (was %q); %s %s", h, holder, next.name, st)
	})
	return time.Since(signaled)
}

// waitReconciled waits until the leader has reconciled repo at its current
// generation, failing at once if any of the standbys reconciles.
func waitReconciled(t *testing.T, c client.Client, repo *ansiblev1alpha1.Repository, leader *replica, standbys ...*replica) {
	t.Helper()
	testenv.Eventually(t, leader.name+" reconciles Repository "+repo.Name, 30*time.Second, func() (bool, string) {
		for _, s := range standbys {
			if st := s.scrape(t); st.reconciles != 0 || st.operatorReconciles != 0 {
				t.Fatalf("standby %s reconciled while %s leads: %s", s.name, leader.name, st)
			}
		}
		got := &ansiblev1alpha1.Repository{}
		if err := c.Get(context.Background(), client.ObjectKeyFromObject(repo), got); err != nil {
			return false, err.Error()
		}
		st := leader.scrape(t)
		// Both counters: controller-runtime's for the controller and the
		// operator's own, which the operator's dashboards use.
		return st.reconciles > 0 && st.operatorReconciles > 0 && got.Status.ObservedGeneration == got.Generation,
			fmt.Sprintf("%s %s; generation %d observed %d", leader.name, st, got.Generation, got.Status.ObservedGeneration)
	})
}

// touchAndWaitReconciled changes repo's spec and waits until leader has
// reconciled the new generation and counted more reconciles than before.
// The Repository controller ignores changes that leave the generation as
// it is (metadata only), so the spec is what is changed.
func touchAndWaitReconciled(t *testing.T, c client.Client, repo *ansiblev1alpha1.Repository, interval time.Duration, leader *replica) {
	t.Helper()
	ctx := context.Background()
	// The new leader reconciles every object when its controllers start;
	// wait for that, so that the count compared below is after it.
	waitReconciled(t, c, repo, leader)
	before := leader.scrape(t)
	got := &ansiblev1alpha1.Repository{}
	if err := c.Get(ctx, client.ObjectKeyFromObject(repo), got); err != nil {
		t.Fatal(err)
	}
	base := got.DeepCopy()
	got.Spec.Interval = &metav1.Duration{Duration: interval}
	// A merge patch without optimistic locking: the leader patches the
	// status concurrently.
	if err := c.Patch(ctx, got, client.MergeFrom(base)); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, leader.name+" reconciles generation "+strconv.FormatInt(got.Generation, 10), 30*time.Second, func() (bool, string) {
		now := &ansiblev1alpha1.Repository{}
		if err := c.Get(ctx, client.ObjectKeyFromObject(repo), now); err != nil {
			return false, err.Error()
		}
		st := leader.scrape(t)
		return now.Status.ObservedGeneration >= got.Generation && st.reconciles > before.reconciles,
			fmt.Sprintf("%s %s (before: %s); generation %d observed %d", leader.name, st, before, got.Generation, now.Status.ObservedGeneration)
	})
}

// buildManager builds this package's binary: the test runs the real
// command, flags and signal handling included.
func buildManager(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "manager")
	// go test runs in the package directory, so "." is this command.
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Env = append(os.Environ(), "GOWORK=off", "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// startEnv starts an envtest API server with the operator's CRDs until the
// test ends; it returns a client and a kubeconfig file for the replicas.
func startEnv(t *testing.T) (client.Client, string) {
	t.Helper()
	// envtest logs through controller-runtime's logger; without one set,
	// controller-runtime prints a warning with a stack trace.
	logf.SetLogger(zap.New(zap.WriteTo(io.Discard)))
	env, err := testenv.New()
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := env.Start()
	if err != nil {
		t.Fatalf("failed to start envtest: %v", err)
	}
	// Registered first, so it runs after the replicas are killed.
	t.Cleanup(func() {
		if err := env.Stop(); err != nil {
			t.Errorf("failed to stop envtest: %v", err)
		}
	})
	// The replicas are other processes: they get a kubeconfig file, of a
	// user who may do anything (the operator's RBAC is not under test).
	path, _, err := testenv.Kubeconfig(env, envtest.User{Name: "leader-election-test", Groups: []string{"system:masters"}}, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	scheme, err := testenv.Scheme()
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	return c, path
}

// freePorts returns n distinct free loopback ports. A child cannot be given
// port 0 and asked which it got, so the test picks them: listening on all
// at once before closing makes them distinct.
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports
}

// replica is one manager process.
type replica struct {
	name    string
	cmd     *exec.Cmd
	metrics string
	log     string
	// exited is closed when the process has exited, with waitErr set.
	exited  chan struct{}
	waitErr error
	// signaled is set when the test stops the process on purpose.
	signaled bool
}

// startReplica starts the manager binary; it is killed when the test ends.
func startReplica(t *testing.T, name, bin, kubeconfig, ns string, metricsPort, probePort int) *replica {
	t.Helper()
	r := &replica{
		name:    name,
		metrics: fmt.Sprintf("http://127.0.0.1:%d/metrics", metricsPort),
		log:     filepath.Join(t.TempDir(), name+".log"),
		exited:  make(chan struct{}),
	}
	f, err := os.Create(r.log)
	if err != nil {
		t.Fatal(err)
	}
	r.cmd = exec.Command(bin,
		fmt.Sprintf("--metrics-bind-address=127.0.0.1:%d", metricsPort),
		fmt.Sprintf("--health-probe-bind-address=127.0.0.1:%d", probePort),
		"--leader-elect=true",
		"--leader-election-id="+leaseID,
		"--namespace="+ns,
		"--config-map=ansible-playbook-operator-config",
		// Given, so that the manager does not look for its own Pod.
		"--operator-image=localhost/ansible-playbook-operator:dev",
	)
	r.cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig, "POD_NAMESPACE="+ns)
	r.cmd.Stdout, r.cmd.Stderr = f, f
	if err := r.cmd.Start(); err != nil {
		f.Close()
		t.Fatal(err)
	}
	go func() {
		r.waitErr = r.cmd.Wait()
		f.Close()
		close(r.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-r.exited:
		default:
			_ = r.cmd.Process.Kill()
			<-r.exited
		}
		if t.Failed() {
			t.Logf("replica %s log (last lines):\n%s", r.name, r.logTail())
		}
	})
	return r
}

// signal sends sig to the process and returns when it was sent.
func (r *replica) signal(t *testing.T, sig syscall.Signal) time.Time {
	t.Helper()
	r.signaled = true
	if err := r.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("%s: %v", r.name, err)
	}
	return time.Now()
}

// wait waits for the process to exit and returns its exit error.
func (r *replica) wait(t *testing.T, timeout time.Duration) error {
	t.Helper()
	select {
	case <-r.exited:
		return r.waitErr
	case <-time.After(timeout):
		return fmt.Errorf("still running after %v", timeout)
	}
}

// logTail returns the last 40 lines of the process's output.
func (r *replica) logTail() string {
	b, err := os.ReadFile(r.log)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-40):], "\n")
}

// replicaStatus is what a replica's metrics say.
type replicaStatus struct {
	// up is whether the metrics endpoint answered.
	up bool
	// leader is leader_election_master_status == 1; hasLeaderGauge says the
	// gauge exists (0 for a standby).
	leader, hasLeaderGauge bool
	// reconciles is controller_runtime_reconcile_total of the repository
	// controller, over all results; operatorReconciles the operator's
	// ansible_operator_reconcile_total{kind="Repository"}.
	reconciles, operatorReconciles float64
}

func (s replicaStatus) String() string {
	if !s.up {
		return "metrics not up"
	}
	return fmt.Sprintf("leader=%t reconciles=%v operatorReconciles=%v", s.leader, s.reconciles, s.operatorReconciles)
}

// scrape reads the replica's metrics. It fails the test at once if the
// process exited without being told to: nothing it does later can help.
func (r *replica) scrape(t *testing.T) replicaStatus {
	t.Helper()
	select {
	case <-r.exited:
		if !r.signaled {
			t.Fatalf("replica %s exited: %v\n%s", r.name, r.waitErr, r.logTail())
		}
		return replicaStatus{}
	default:
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.metrics, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return replicaStatus{} // not listening yet
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		return replicaStatus{}
	}
	samples := promtext.Parse(string(body))
	// controller-runtime v0.25 leaves the elector's Name unset, so the
	// gauge's name label is empty rather than the Lease name; a replica
	// has one elector, so any series of the gauge is it.
	master, hasGauge := promtext.Sum(samples, "leader_election_master_status", nil)
	// The series are created at 0 when the controller starts, that is only
	// on the leader; absent counts as 0.
	reconciles, _ := promtext.Sum(samples, "controller_runtime_reconcile_total", map[string]string{"controller": "repository"})
	operator, _ := promtext.Sum(samples, "ansible_operator_reconcile_total", map[string]string{"kind": "Repository"})
	return replicaStatus{up: true, leader: master == 1, hasLeaderGauge: hasGauge, reconciles: reconciles, operatorReconciles: operator}
}

// scrapeAll scrapes each replica.
func scrapeAll(t *testing.T, rs []*replica) []replicaStatus {
	t.Helper()
	var out []replicaStatus
	for _, r := range rs {
		out = append(out, r.scrape(t))
	}
	return out
}

// leaseHolder returns the Lease's holderIdentity; "" while there is no
// Lease or no holder.
func leaseHolder(t *testing.T, c client.Client, ns string) string {
	t.Helper()
	lease := &coordinationv1.Lease{}
	err := c.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: leaseID}, lease)
	if err != nil {
		if client.IgnoreNotFound(err) != nil {
			t.Fatalf("read Lease: %v", err)
		}
		return ""
	}
	return ptr.Deref(lease.Spec.HolderIdentity, "")
}
