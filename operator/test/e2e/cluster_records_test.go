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
	"slices"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	ansiblev1alpha1 "github.com/cloud37/ansible-playbook-operator/operator/api/v1alpha1"
	"github.com/cloud37/ansible-playbook-operator/operator/internal/gittest"
	"github.com/cloud37/ansible-playbook-operator/operator/internal/jobs"
	"github.com/cloud37/ansible-playbook-operator/operator/internal/testenv"
)

// runRecordFinalizer is what run pods carry until their run is recorded.
const runRecordFinalizer = "ansible.cloud37.dev/run-record"

// TestCluster_recordedBeforeDeleted: runs whose Job and pod the real TTL,
// CronJob history and garbage collectors delete right after they finish
// are recorded with their summary and image digest first, once, and then
// nothing of them stays (no pod left Terminating): a scheduled run and a
// run-now of a Schedule with ttlSecondsAfterFinished 0, and a scheduled run
// of a Schedule with both history limits 0.
func TestCluster_recordedBeforeDeleted(t *testing.T) {
	t.Parallel() // waits for a minute boundary
	c := useCluster(t)
	c.ensureOperator(t)
	ctx := context.Background()
	ns := c.namespace(t, "e2e-records")
	src := gittest.NewRepo(t, map[string]string{"site.yml": clusterPlaybook, "inventory/hosts.ini": "localhost ansible_connection=local\n"})
	f := c.createRun(t, ns, gittest.StartDaemon(t, src.Bare(t), gittest.On(c.hostIP)), nil, nil)
	ttl := &ansiblev1alpha1.Schedule{ObjectMeta: metav1.ObjectMeta{Name: "ttl-zero", Namespace: ns},
		Spec: ansiblev1alpha1.ScheduleSpec{PlaybookRef: ansiblev1alpha1.ObjectReference{Name: f.pb.Name}, Schedule: "* * * * *", TTLSecondsAfterFinished: ptr.To[int32](0)}}
	history := &ansiblev1alpha1.Schedule{ObjectMeta: metav1.ObjectMeta{Name: "history-zero", Namespace: ns},
		Spec: ansiblev1alpha1.ScheduleSpec{PlaybookRef: ansiblev1alpha1.ObjectReference{Name: f.pb.Name}, Schedule: "* * * * *",
			SuccessfulJobsHistoryLimit: ptr.To[int32](0), FailedJobsHistoryLimit: ptr.To[int32](0)}}
	for _, s := range []*ansiblev1alpha1.Schedule{ttl, history} {
		if err := c.client.Create(ctx, s); err != nil {
			t.Fatal(err)
		}
		c.waitCondition(t, s, ansiblev1alpha1.ReadyCondition, metav1.ConditionTrue, time.Minute)
	}
	c.runNow(t, ttl, "manual-ttl-zero")

	for _, s := range []*ansiblev1alpha1.Schedule{ttl, history} {
		want := 1
		if s == ttl {
			want = 2 // the run-now and the scheduled run
		}
		testenv.Eventually(t, fmt.Sprintf("Schedule %s: %d runs recorded", s.Name, want), 150*time.Second, func() (bool, string) {
			if err := c.client.Get(ctx, client.ObjectKeyFromObject(s), s); err != nil {
				return false, err.Error()
			}
			return len(s.Status.Runs) >= want, fmt.Sprintf("runs %+v", s.Status.Runs)
		})
		for _, run := range s.Status.Runs {
			if run.Result != ansiblev1alpha1.RunSucceeded || run.Totals == nil || run.Totals.OK == 0 || run.ImageDigest != digestOf(c.runner) {
				t.Errorf("Schedule %s: run %+v, want Succeeded with its summary and the runner's digest", s.Name, run)
			}
		}
	}
	// Gone: the collectors deleted what they were told to, nothing waits.
	testenv.Eventually(t, "the recorded runs' Jobs and pods deleted", time.Minute, func() (bool, string) {
		var pods corev1.PodList
		if err := c.client.List(ctx, &pods, client.InNamespace(ns), client.MatchingLabels{jobs.ManagedByLabel: jobs.ManagedByValue}); err != nil {
			return false, err.Error()
		}
		var left []string
		for _, p := range pods.Items {
			if p.Status.Phase == corev1.PodSucceeded || p.DeletionTimestamp != nil {
				left = append(left, fmt.Sprintf("%s (%s, finalizers %v)", p.Name, p.Status.Phase, p.Finalizers))
			}
		}
		return len(left) == 0, fmt.Sprintf("pods left: %v", left)
	})
	for _, s := range []*ansiblev1alpha1.Schedule{ttl, history} {
		if n := c.events(t, ns, s.Name, "RunSucceeded"); n != len(s.Status.Runs) {
			t.Errorf("Schedule %s: %d RunSucceeded events for %d runs", s.Name, n, len(s.Status.Runs))
		}
	}
}

// TestCluster_evictedRun: a manual run (backoffLimit 0) whose pod is
// evicted through the Eviction API, as a node drain does: the pod gets
// DisruptionTarget, the Job's podFailurePolicy ignores it, a new pod runs
// the playbook and the run is recorded once as Succeeded.
func TestCluster_evictedRun(t *testing.T) {
	c := useCluster(t)
	c.ensureOperator(t)
	ctx := context.Background()
	ns := c.namespace(t, "e2e-evict")
	f := c.createSlowRun(t, ns)
	c.runNow(t, f.pb, "evicted")
	pod := c.waitRunning(t, ns)
	job := pod.Labels["batch.kubernetes.io/job-name"]
	eviction := &policyv1.Eviction{ObjectMeta: metav1.ObjectMeta{Name: pod.Name, Namespace: ns}}
	if err := c.client.SubResource("eviction").Create(ctx, &pod, eviction); err != nil {
		t.Fatalf("evict %s: %v", pod.Name, err)
	}
	// The API server marks the evicted pod before the kubelet stops it;
	// our finalizer keeps the object until the run is recorded.
	testenv.Eventually(t, "the evicted pod marked DisruptionTarget", 30*time.Second, func() (bool, string) {
		p := &corev1.Pod{}
		if err := c.client.Get(ctx, client.ObjectKeyFromObject(&pod), p); err != nil {
			return false, err.Error()
		}
		for _, cond := range p.Status.Conditions {
			if cond.Type == corev1.DisruptionTarget && cond.Status == corev1.ConditionTrue {
				return true, ""
			}
		}
		return false, fmt.Sprintf("conditions %+v", p.Status.Conditions)
	})
	replacement := c.waitRunning(t, ns)
	if replacement.Name == pod.Name || replacement.Labels["batch.kubernetes.io/job-name"] != job {
		t.Errorf("the run goes on in pod %s of Job %s, want a new pod of Job %s", replacement.Name, replacement.Labels["batch.kubernetes.io/job-name"], job)
	}
	run := c.waitRuns(t, f.pb, 1, 3*time.Minute)[0]
	if run.Result != ansiblev1alpha1.RunSucceeded || run.JobName != job {
		t.Errorf("run %+v, want the evicted run Succeeded on a new pod", run)
	}
	j := &batchv1.Job{}
	if err := c.client.Get(ctx, client.ObjectKey{Namespace: ns, Name: job}, j); err != nil {
		t.Fatal(err)
	}
	if j.Status.Succeeded != 1 || j.Status.Failed != 0 {
		t.Errorf("Job %s: succeeded %d, failed %d; want the disruption not counted", job, j.Status.Succeeded, j.Status.Failed)
	}
	if n := c.events(t, ns, f.pb.Name, "RunSucceeded"); n != 1 {
		t.Errorf("%d RunSucceeded events, want 1", n)
	}
}

// TestCluster_ownerDeletedDuringARun: a Playbook deleted while its run is
// active: the garbage collector deletes the Job and its pod, the operator
// releases the pod's finalizer, nothing stays Terminating.
func TestCluster_ownerDeletedDuringARun(t *testing.T) {
	c := useCluster(t)
	c.ensureOperator(t)
	ctx := context.Background()
	ns := c.namespace(t, "e2e-owner-gone")
	f := c.createSlowRun(t, ns)
	c.runNow(t, f.pb, "orphaned")
	pod := c.waitRunning(t, ns)
	if !slices.Contains(pod.Finalizers, runRecordFinalizer) {
		t.Errorf("the run's pod has finalizers %v, want %s", pod.Finalizers, runRecordFinalizer)
	}
	if err := c.client.Delete(ctx, f.pb); err != nil {
		t.Fatal(err)
	}
	c.waitNoRunPods(t, ns, 2*time.Minute)
}

// TestCluster_operatorDownDuringARun: the operator scaled to zero while a
// Schedule's run-now (TTL 0) runs; the run finishes and the TTL controller
// deletes its Job, but the pod's finalizer keeps the pod (and so the Job,
// deleted in the foreground) until the operator is back: it records the
// run from the pod, once, and releases it. Then, with the operator gone
// again, a run whose Playbook is deleted stays Terminating until the
// README's Uninstall patch releases it.
func TestCluster_operatorDownDuringARun(t *testing.T) {
	c := useCluster(t)
	c.ensureOperator(t)
	ctx := context.Background()
	ns := c.namespace(t, "e2e-operator-down")
	f := c.createSlowRun(t, ns)
	s := &ansiblev1alpha1.Schedule{ObjectMeta: metav1.ObjectMeta{Name: "ttl-zero", Namespace: ns},
		Spec: ansiblev1alpha1.ScheduleSpec{PlaybookRef: ansiblev1alpha1.ObjectReference{Name: f.pb.Name}, Schedule: "0 0 1 1 *", TTLSecondsAfterFinished: ptr.To[int32](0)}}
	if err := c.client.Create(ctx, s); err != nil {
		t.Fatal(err)
	}
	c.waitCondition(t, s, ansiblev1alpha1.ReadyCondition, metav1.ConditionTrue, time.Minute)
	dep := &appsv1.Deployment{}
	dep.Namespace, dep.Name = operatorNamespace, "ansible-playbook-operator"
	scale := func(n int32) {
		t.Helper()
		patch := client.RawPatch("application/merge-patch+json", []byte(fmt.Sprintf(`{"spec":{"replicas":%d}}`, n)))
		if err := c.client.Patch(ctx, dep, patch); err != nil {
			t.Fatal(err)
		}
		testenv.Eventually(t, fmt.Sprintf("%d operator pods", n), 2*time.Minute, func() (bool, string) {
			pods := c.operatorPods(t)
			return len(pods) == int(n), fmt.Sprintf("%d pods", len(pods))
		})
	}
	t.Cleanup(func() { scale(2); c.waitAvailable(t, dep) })

	c.runNow(t, s, "while-down")
	pod := c.waitRunning(t, ns)
	scale(0)
	testenv.Eventually(t, "the run finished and its Job deleted by the TTL controller", 2*time.Minute, func() (bool, string) {
		p := &corev1.Pod{}
		if err := c.client.Get(ctx, client.ObjectKeyFromObject(&pod), p); err != nil {
			return false, err.Error()
		}
		return p.Status.Phase == corev1.PodSucceeded && p.DeletionTimestamp != nil, fmt.Sprintf("pod %s, deleting %v", p.Status.Phase, p.DeletionTimestamp)
	})
	if err := c.client.Get(ctx, client.ObjectKeyFromObject(s), s); err != nil {
		t.Fatal(err)
	}
	if len(s.Status.Runs) != 0 {
		t.Fatalf("a run was recorded while the operator was down: %+v", s.Status.Runs)
	}
	scale(2)
	c.waitAvailable(t, dep)
	testenv.Eventually(t, "the run recorded from its pod", time.Minute, func() (bool, string) {
		if err := c.client.Get(ctx, client.ObjectKeyFromObject(s), s); err != nil {
			return false, err.Error()
		}
		return len(s.Status.Runs) == 1, fmt.Sprintf("runs %+v", s.Status.Runs)
	})
	if run := s.Status.Runs[0]; run.Result != ansiblev1alpha1.RunSucceeded || run.RunID != "while-down" || run.ImageDigest != digestOf(c.runner) || run.Totals == nil {
		t.Errorf("run %+v, want the run-now Succeeded with its summary and digest", run)
	}
	c.waitNoRunPods(t, ns, time.Minute)

	// The operator gone for good, a run's owner deleted: its pod waits for
	// a record nobody makes; the README's patch releases it.
	c.runNow(t, f.pb, "owner-gone")
	pod = c.waitRunning(t, ns)
	scale(0)
	if err := c.client.Delete(ctx, f.pb); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, "the pod Terminating, held by the finalizer", time.Minute, func() (bool, string) {
		p := &corev1.Pod{}
		if err := c.client.Get(ctx, client.ObjectKeyFromObject(&pod), p); err != nil {
			return false, err.Error()
		}
		return p.DeletionTimestamp != nil && slices.Contains(p.Finalizers, runRecordFinalizer), fmt.Sprintf("deleting %v, finalizers %v", p.DeletionTimestamp, p.Finalizers)
	})
	r := c.kubectl(t, "", "patch", "pod", pod.Name, "-n", ns, "-p", `{"metadata":{"$deleteFromPrimitiveList/finalizers":["ansible.cloud37.dev/run-record"]}}`)
	if r.err != nil {
		t.Fatalf("the README's patch: %v\n%s", r.err, r)
	}
	c.waitNoRunPods(t, ns, time.Minute)
}

// TestCluster_failuresBeforeAnsibleCount: a Schedule with backoffLimit 1
// whose run cannot fetch its repository (the credentials in the Secret
// the run mounts were changed after the Repository resolved its commit):
// two pods, the Job fails with BackoffLimitExceeded, and the run is
// recorded with the runner's GitFailed.
func TestCluster_failuresBeforeAnsibleCount(t *testing.T) {
	c := useCluster(t)
	c.ensureOperator(t)
	ctx := context.Background()
	ns := c.namespace(t, "e2e-backoff")
	src := gittest.NewRepo(t, map[string]string{"site.yml": clusterPlaybook, "inventory/hosts.ini": "localhost ansible_connection=local\n"})
	url := gittest.StartHTTP(t, src.Bare(t), "git-user", "right-password", gittest.On(c.hostIP))
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "git", Namespace: ns}, Type: corev1.SecretTypeBasicAuth,
		StringData: map[string]string{"username": "git-user", "password": "right-password"}}
	if err := c.client.Create(ctx, secret); err != nil {
		t.Fatal(err)
	}
	f := c.createRun(t, ns, url, func(r *ansiblev1alpha1.Repository) {
		r.Spec.Auth = &ansiblev1alpha1.RepositoryAuth{Method: ansiblev1alpha1.AuthMethodHTTPS, SecretRef: &ansiblev1alpha1.LocalObjectReference{Name: "git"}}
	}, nil)
	s := &ansiblev1alpha1.Schedule{ObjectMeta: metav1.ObjectMeta{Name: "retries", Namespace: ns},
		Spec: ansiblev1alpha1.ScheduleSpec{PlaybookRef: ansiblev1alpha1.ObjectReference{Name: f.pb.Name}, Schedule: "0 0 1 1 *", BackoffLimit: ptr.To[int32](1)}}
	if err := c.client.Create(ctx, s); err != nil {
		t.Fatal(err)
	}
	c.waitCondition(t, s, ansiblev1alpha1.ReadyCondition, metav1.ConditionTrue, time.Minute)
	secret.StringData = map[string]string{"password": "changed-since"}
	if err := c.client.Update(ctx, secret); err != nil {
		t.Fatal(err)
	}
	c.runNow(t, s, "cannot-fetch")
	testenv.Eventually(t, "the failed run recorded", 3*time.Minute, func() (bool, string) {
		if err := c.client.Get(ctx, client.ObjectKeyFromObject(s), s); err != nil {
			return false, err.Error()
		}
		return len(s.Status.Runs) == 1, fmt.Sprintf("runs %+v", s.Status.Runs)
	})
	run := s.Status.Runs[0]
	j := &batchv1.Job{}
	if err := c.client.Get(ctx, client.ObjectKey{Namespace: ns, Name: run.JobName}, j); err != nil {
		t.Fatal(err)
	}
	if run.Result != ansiblev1alpha1.RunFailed || run.Reason != "GitFailed" || j.Status.Failed != 2 {
		t.Errorf("run %+v, Job failed %d; want Failed with GitFailed after 2 pods (backoffLimit 1)", run, j.Status.Failed)
	}
	for _, cond := range j.Status.Conditions {
		if cond.Type == batchv1.JobFailed && cond.Reason != "BackoffLimitExceeded" {
			t.Errorf("Job failed with %s, want BackoffLimitExceeded", cond.Reason)
		}
	}
}

// waitRunning waits for the namespace's run pod whose executor runs.
func (c *liveCluster) waitRunning(t *testing.T, ns string) corev1.Pod {
	t.Helper()
	var pod corev1.Pod
	testenv.Eventually(t, "a run's executor running", 2*time.Minute, func() (bool, string) {
		var pods corev1.PodList
		if err := c.client.List(context.Background(), &pods, client.InNamespace(ns), client.MatchingLabels{jobs.ManagedByLabel: jobs.ManagedByValue}); err != nil {
			return false, err.Error()
		}
		for _, p := range pods.Items {
			for _, cs := range p.Status.ContainerStatuses {
				if cs.Name == jobs.ExecutorContainerName && cs.State.Running != nil && p.DeletionTimestamp == nil {
					pod = p
					return true, ""
				}
			}
		}
		return false, fmt.Sprintf("%d run pods, none running", len(pods.Items))
	})
	return pod
}

// waitNoRunPods waits until no run pod is left in the namespace.
func (c *liveCluster) waitNoRunPods(t *testing.T, ns string, timeout time.Duration) {
	t.Helper()
	testenv.Eventually(t, "no run pod left", timeout, func() (bool, string) {
		var pods corev1.PodList
		if err := c.client.List(context.Background(), &pods, client.InNamespace(ns), client.MatchingLabels{jobs.ManagedByLabel: jobs.ManagedByValue}); err != nil {
			return false, err.Error()
		}
		var left []string
		for _, p := range pods.Items {
			left = append(left, fmt.Sprintf("%s (%s, deleting %v, finalizers %v)", p.Name, p.Status.Phase, p.DeletionTimestamp != nil, p.Finalizers))
		}
		return len(left) == 0, fmt.Sprintf("pods left: %v", left)
	})
}
