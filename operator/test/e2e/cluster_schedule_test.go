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

	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	ansiblev1alpha1 "github.com/cloud37/ansible-playbook-operator/operator/api/v1alpha1"
	"github.com/cloud37/ansible-playbook-operator/operator/internal/gittest"
	"github.com/cloud37/ansible-playbook-operator/operator/internal/testenv"
)

// A playbook that outlasts a minute, so that the next minute's run of a
// Forbid Schedule finds it active.
const longPlaybook = `- hosts: localhost
  gather_facts: false
  tasks:
  - name: outlast the next minute
    ansible.builtin.command: sleep 70
    changed_when: false
`

// TestCluster_schedule: Schedules fired by the real CronJob controller, in
// a time zone other than UTC (the operator's FROM scratch image resolves it
// from the zone database built into the manager), with concurrencyPolicy
// Forbid against a run that outlasts the next minute. What the CronJob
// controller does then: with startingDeadlineSeconds shorter than the
// overlap the next minute's run is skipped; without it, it starts late,
// as soon as the first run ends, never beside it. The Schedule is
// BlockedByConcurrency while a run is active and records the run with
// lastRunTime, lastJobRef and lastRunRevision. A third Schedule at noon in
// Asia/Kolkata shows that nextRunTime is computed in the zone.
func TestCluster_schedule(t *testing.T) {
	// Waits for minute boundaries: in parallel with the other tests that
	// do, so that the suite waits once.
	t.Parallel()
	c := useCluster(t)
	c.ensureOperator(t)
	ctx := context.Background()
	ns := c.namespace(t, "e2e-schedule")
	src := gittest.NewRepo(t, map[string]string{"site.yml": longPlaybook, "inventory/hosts.ini": "localhost ansible_connection=local\n"})
	f := c.createRun(t, ns, gittest.StartDaemon(t, src.Bare(t), gittest.On(c.hostIP)), nil, nil)
	schedule := func(name, cron string, deadline *int64) *ansiblev1alpha1.Schedule {
		return &ansiblev1alpha1.Schedule{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
			Spec: ansiblev1alpha1.ScheduleSpec{PlaybookRef: ansiblev1alpha1.ObjectReference{Name: f.pb.Name}, Schedule: cron,
				TimeZone: "Asia/Kolkata", ConcurrencyPolicy: ansiblev1alpha1.ForbidConcurrent, StartingDeadlineSeconds: deadline}}
	}
	skip := schedule("forbid-skip", "* * * * *", ptr.To[int64](5))
	late := schedule("forbid-late", "* * * * *", nil)
	noon := schedule("noon", "0 12 * * *", nil)
	for _, s := range []*ansiblev1alpha1.Schedule{skip, late, noon} {
		if err := c.client.Create(ctx, s); err != nil {
			t.Fatal(err)
		}
		c.waitCondition(t, s, ansiblev1alpha1.ReadyCondition, metav1.ConditionTrue, time.Minute)
	}
	kolkata, err := time.LoadLocation("Asia/Kolkata")
	if err != nil {
		t.Fatal(err)
	}
	if nr := noon.Status.NextRunTime; nr == nil || nr.In(kolkata).Hour() != 12 || nr.In(kolkata).Minute() != 0 || nr.UTC().Hour() != 6 {
		t.Errorf("noon in Asia/Kolkata: nextRunTime %v, want 12:00 there (06:30 UTC)", nr)
	}
	cj := &batchv1.CronJob{}
	if err := c.client.Get(ctx, client.ObjectKey{Namespace: ns, Name: skip.Name}, cj); err != nil {
		t.Fatal(err)
	}
	if ptr.Deref(cj.Spec.TimeZone, "") != "Asia/Kolkata" || cj.Spec.ConcurrencyPolicy != batchv1.ForbidConcurrent || ptr.Deref(cj.Spec.StartingDeadlineSeconds, 0) != 5 {
		t.Errorf("CronJob timeZone %v, concurrencyPolicy %s, startingDeadlineSeconds %v; want Asia/Kolkata, Forbid, 5",
			cj.Spec.TimeZone, cj.Spec.ConcurrencyPolicy, cj.Spec.StartingDeadlineSeconds)
	}

	// The CronJob controller starts the first runs at a minute boundary.
	var first batchv1.Job
	testenv.Eventually(t, "the CronJob controller's first Job", 90*time.Second, func() (bool, string) {
		js := scheduledJobs(t, c, ns, skip.Name)
		if len(js) > 0 {
			first = js[0]
		}
		return len(js) > 0, fmt.Sprintf("%d Jobs", len(js))
	})
	c.waitCondition(t, skip, ansiblev1alpha1.BlockedByConcurrencyCondition, metav1.ConditionTrue, 30*time.Second)
	// Past the next boundary, the first runs' end and the skip deadline.
	next := first.CreationTimestamp.Truncate(time.Minute).Add(time.Minute)
	testenv.Eventually(t, "the first runs done", 2*time.Minute, func() (bool, string) {
		done := 0
		for _, name := range []string{skip.Name, late.Name} {
			for _, j := range scheduledJobs(t, c, ns, name) {
				if j.Status.CompletionTime != nil && j.CreationTimestamp.Before(&metav1.Time{Time: next}) {
					done++
				}
			}
		}
		return done == 2, fmt.Sprintf("%d of 2 done", done)
	})
	time.Sleep(time.Until(next.Add(40 * time.Second)))
	for _, j := range scheduledJobs(t, c, ns, skip.Name) {
		if j.Name != first.Name && j.CreationTimestamp.Time.Before(next.Add(time.Minute)) {
			t.Errorf("forbid-skip: Job %s created at %v, want the minute after %v skipped (startingDeadlineSeconds 5)", j.Name, j.CreationTimestamp, next)
		}
	}
	lateJobs := scheduledJobs(t, c, ns, late.Name)
	if len(lateJobs) != 2 {
		t.Errorf("forbid-late: %d Jobs, want the first and the late one", len(lateJobs))
	} else {
		a, b := lateJobs[0], lateJobs[1]
		if b.CreationTimestamp.Before(&a.CreationTimestamp) {
			a, b = b, a
		}
		if a.Status.CompletionTime == nil || b.CreationTimestamp.Time.Before(a.Status.CompletionTime.Time) || !b.CreationTimestamp.Time.Before(next.Add(time.Minute)) {
			t.Errorf("forbid-late: second Job at %v, first done at %v: want it started late, after the first ended, before %v",
				b.CreationTimestamp, a.Status.CompletionTime, next.Add(time.Minute))
		}
	}
	testenv.Eventually(t, "the scheduled run recorded", time.Minute, func() (bool, string) {
		if err := c.client.Get(ctx, client.ObjectKeyFromObject(skip), skip); err != nil {
			return false, err.Error()
		}
		return len(skip.Status.Runs) > 0, fmt.Sprintf("runs %+v", skip.Status.Runs)
	})
	run := skip.Status.Runs[0]
	if run.Result != ansiblev1alpha1.RunSucceeded || run.JobName != first.Name || run.Commit != src.Head(t, "main") || run.ImageDigest != digestOf(c.runner) {
		t.Errorf("scheduled run %+v, want Succeeded by Job %s at %s with %s", run, first.Name, src.Head(t, "main"), digestOf(c.runner))
	}
	if skip.Status.LastRunTime == nil || !strings.HasSuffix(skip.Status.LastJobRef, first.Name) || skip.Status.LastRunRevision != src.Head(t, "main") {
		t.Errorf("lastRunTime %v, lastJobRef %q, lastRunRevision %q; want the first Job's", skip.Status.LastRunTime, skip.Status.LastJobRef, skip.Status.LastRunRevision)
	}
}

// scheduledJobs are the Jobs the CronJob of a Schedule made.
func scheduledJobs(t *testing.T, c *liveCluster, ns, cronJob string) []batchv1.Job {
	t.Helper()
	var out []batchv1.Job
	for _, j := range c.runJobs(t, ns) {
		for _, o := range j.OwnerReferences {
			if o.Kind == "CronJob" && o.Name == cronJob {
				out = append(out, j)
			}
		}
	}
	return out
}

// TestCluster_imagePullFailed: a run whose executor is pinned to a digest
// the registry does not have: the kubelet's real ErrImagePull and
// ImagePullBackOff surface as ImagePullFailed=True naming the image, with
// one Warning event, and Ready stays True.
func TestCluster_imagePullFailed(t *testing.T) {
	c := useCluster(t)
	c.ensureOperator(t)
	ns := c.namespace(t, "e2e-pull")
	src := gittest.NewRepo(t, map[string]string{"site.yml": clusterPlaybook, "inventory/hosts.ini": "localhost ansible_connection=local\n"})
	missing := c.registry + "/ansible-runner@sha256:" + strings.Repeat("0", 64)
	f := c.createRun(t, ns, gittest.StartDaemon(t, src.Bare(t), gittest.On(c.hostIP)), nil, func(pb *ansiblev1alpha1.Playbook) {
		pb.Spec.Runtime = &ansiblev1alpha1.PlaybookRuntime{Image: missing}
	})
	c.runNow(t, f.pb, "pull")
	c.waitCondition(t, f.pb, ansiblev1alpha1.ImagePullFailedCondition, metav1.ConditionTrue, 2*time.Minute)
	var msg string
	for _, cond := range f.pb.Status.Conditions {
		if cond.Type == ansiblev1alpha1.ImagePullFailedCondition {
			msg = cond.Message
		}
	}
	if !strings.Contains(msg, missing) {
		t.Errorf("ImagePullFailed message %q does not name the image %s", msg, missing)
	}
	c.waitCondition(t, f.pb, ansiblev1alpha1.ReadyCondition, metav1.ConditionTrue, 5*time.Second)
	testenv.Eventually(t, "one ImagePullFailed event", 30*time.Second, func() (bool, string) {
		n := c.events(t, ns, f.pb.Name, "ImagePullFailed")
		return n == 1, fmt.Sprintf("%d events", n)
	})
	pod := c.runPod(t, ns, c.runJobs(t, ns)[0].Name)
	if w := pod.Status.ContainerStatuses[0].State.Waiting; w == nil || (w.Reason != "ErrImagePull" && w.Reason != "ImagePullBackOff") {
		t.Errorf("the run's pod is %+v, want the kubelet's ErrImagePull or ImagePullBackOff", pod.Status.ContainerStatuses[0].State)
	}
}
