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

package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	ansiblev1alpha1 "github.com/cloud37/ansible-playbook-operator/operator/api/v1alpha1"
	"github.com/cloud37/ansible-playbook-operator/operator/internal/jobs"
	"github.com/cloud37/ansible-playbook-operator/operator/internal/testenv"
)

// A run long enough to disrupt the operator during it.
const slowPlaybook = `- hosts: localhost
  gather_facts: false
  tasks:
  - name: take a while
    ansible.builtin.command: sleep 20
    changed_when: false
`

// TestCluster_disruptions: the operator's pods deleted, the API server
// restarted, the leader's pod deleted (the standby takes over), each in
// the middle of a run: the run is recorded once, one Job, one
// RunSucceeded event, and counted once by the replicas serving afterwards.
func TestCluster_disruptions(t *testing.T) {
	c := useCluster(t)
	c.ensureOperator(t)
	ctx := context.Background()
	dep := &appsv1.Deployment{}
	dep.Namespace, dep.Name = operatorNamespace, "ansible-playbook-operator"

	cases := []struct {
		name    string
		disrupt func(t *testing.T)
	}{
		{name: "the operator's pods deleted", disrupt: func(t *testing.T) {
			for _, p := range c.operatorPods(t) {
				if err := c.client.Delete(ctx, &p); err != nil {
					t.Fatal(err)
				}
			}
			time.Sleep(2 * time.Second)
			c.waitAvailable(t, dep)
		}},
		{name: "the API server restarted", disrupt: func(t *testing.T) {
			start := time.Now()
			if err := c.session.RestartAPIServer(ctx); err != nil {
				t.Fatal(err)
			}
			c.waitAvailable(t, dep)
			var restarts []int32
			for _, p := range c.operatorPods(t) {
				restarts = append(restarts, p.Status.ContainerStatuses[0].RestartCount)
			}
			t.Logf("API server back after %.1fs; operator container restarts %v (a leader that cannot renew its Lease for 10s exits and restarts)", time.Since(start).Seconds(), restarts)
		}},
		{name: "the leader's pod deleted: the standby takes over", disrupt: func(t *testing.T) {
			lease := &coordinationv1.Lease{}
			key := client.ObjectKey{Namespace: operatorNamespace, Name: "ansible-playbook-operator.ansible.cloud37.dev"}
			if err := c.client.Get(ctx, key, lease); err != nil {
				t.Fatal(err)
			}
			old := ptr.Deref(lease.Spec.HolderIdentity, "")
			leader := old[:strings.IndexByte(old+"_", '_')]
			start := time.Now()
			pod := &corev1.Pod{}
			pod.Namespace, pod.Name = operatorNamespace, leader
			if err := c.client.Delete(ctx, pod); err != nil {
				t.Fatalf("delete the leader %s: %v", leader, err)
			}
			testenv.Eventually(t, "another replica holding the Lease", time.Minute, func() (bool, string) {
				if err := c.client.Get(ctx, key, lease); err != nil {
					return false, err.Error()
				}
				h := ptr.Deref(lease.Spec.HolderIdentity, "")
				return h != "" && !strings.HasPrefix(h, leader+"_"), "holder " + h
			})
			t.Logf("leader %s deleted; %s took over after %.1fs", leader, ptr.Deref(lease.Spec.HolderIdentity, ""), time.Since(start).Seconds())
			c.waitAvailable(t, dep)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ns := c.namespace(t, "e2e-disrupt")
			f := c.createSlowRun(t, ns)
			before := c.runsCounted(t, "Playbook")
			c.runNow(t, f.pb, "disrupted")
			testenv.Eventually(t, "the run's pod running", 2*time.Minute, func() (bool, string) {
				js := c.runJobs(t, ns)
				if len(js) != 1 {
					return false, fmt.Sprintf("%d Jobs", len(js))
				}
				var pods corev1.PodList
				if err := c.client.List(ctx, &pods, client.InNamespace(ns), client.MatchingLabels{"batch.kubernetes.io/job-name": js[0].Name}); err != nil {
					return false, err.Error()
				}
				for _, p := range pods.Items {
					for _, cs := range p.Status.ContainerStatuses {
						if cs.Name == jobs.ExecutorContainerName && cs.State.Running != nil {
							return true, ""
						}
					}
				}
				return false, "no running executor"
			})
			tc.disrupt(t)
			run := c.waitRuns(t, f.pb, 1, 3*time.Minute)[0]
			if run.Result != ansiblev1alpha1.RunSucceeded || run.RunID != "disrupted" {
				t.Errorf("run %+v, want the disrupted run Succeeded", run)
			}
			time.Sleep(3 * time.Second) // reconciles after the record move nothing
			if err := c.client.Get(ctx, client.ObjectKeyFromObject(f.pb), f.pb); err != nil {
				t.Fatal(err)
			}
			if n := len(f.pb.Status.Runs); n != 1 {
				t.Errorf("%d run records, want 1", n)
			}
			if n := len(c.runJobs(t, ns)); n != 1 {
				t.Errorf("%d Jobs, want 1: the run was started again", n)
			}
			if n := c.events(t, ns, f.pb.Name, "RunSucceeded"); n != 1 {
				t.Errorf("%d RunSucceeded events, want 1", n)
			}
			after := c.runsCounted(t, "Playbook")
			if got := countedSince(before, after); got != 1 {
				t.Errorf("ansible_operator_job_runs_total{kind=Playbook} over the replicas: before %v, after %v; want the run counted once", before, after)
			}
		})
	}
}
