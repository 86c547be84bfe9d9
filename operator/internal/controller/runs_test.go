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

package controller

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	ansiblev1alpha1 "github.com/cloud37/ansible-playbook-operator/operator/api/v1alpha1"
	"github.com/cloud37/ansible-playbook-operator/operator/internal/git"
	"github.com/cloud37/ansible-playbook-operator/operator/internal/jobs"
	"github.com/cloud37/ansible-playbook-operator/operator/internal/metrics"
	"github.com/cloud37/ansible-playbook-operator/operator/internal/runspec"
)

// runsCounted sums ansible_operator_job_runs_total of kind over its results.
func runsCounted(t *testing.T, kind string) float64 {
	t.Helper()
	ch := make(chan prometheus.Metric, 16)
	go func() { metrics.JobRunsTotal.Collect(ch); close(ch) }()
	sum := 0.0
	for m := range ch {
		var d dto.Metric
		if err := m.Write(&d); err != nil {
			t.Fatal(err)
		}
		for _, l := range d.GetLabel() {
			if l.GetName() == "kind" && l.GetValue() == kind {
				sum += d.GetCounter().GetValue()
			}
		}
	}
	return sum
}

// drain returns the events a FakeRecorder holds with the given reason.
func drain(rec *events.FakeRecorder, reason string) []string {
	var out []string
	for {
		select {
		case e := <-rec.Events:
			if strings.Contains(e, " "+reason+" ") {
				out = append(out, e)
			}
		default:
			return out
		}
	}
}

// reconcileStep is a reconciler and the object it reconciles.
type reconcileStep struct {
	r reconcile.Reconciler
	o client.Object
}

// reconcileInOrder reconciles each step's object once, in order.
func reconcileInOrder(t *testing.T, steps ...reconcileStep) {
	t.Helper()
	for _, st := range steps {
		if _, err := st.r.Reconcile(context.Background(), reconcile.Request{NamespacedName: client.ObjectKeyFromObject(st.o)}); err != nil {
			t.Fatalf("%T: %v", st.r, err)
		}
	}
}

// runOnce annotates the Playbook with run-now id, reconciles (the Job is
// made), plays the Job controller and kubelet (a pod of the template with
// the runner's summary, the Job finished) and reconciles again.
func runOnce(t *testing.T, r *PlaybookReconciler, f *fixture, id string) batchv1.Job {
	t.Helper()
	ctx := context.Background()
	pb := get(t, f.pb)
	patch := client.MergeFrom(pb.DeepCopy())
	pb.Annotations = map[string]string{ansiblev1alpha1.RunNowAnnotation: id}
	if err := k8sClient.Patch(ctx, pb, patch); err != nil {
		t.Fatal(err)
	}
	req := reconcile.Request{NamespacedName: client.ObjectKeyFromObject(f.pb)}
	if _, err := r.Reconcile(ctx, req); err != nil {
		t.Fatal(err)
	}
	job := get(t, &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: jobs.JobName(ansiblev1alpha1.PlaybookKind, f.pb.Name, id), Namespace: f.ns}})
	finishJob(t, job, true, runspec.Summary{Result: "succeeded", Reason: "Succeeded", Totals: runspec.Counts{OK: 1}})
	if _, err := r.Reconcile(ctx, req); err != nil {
		t.Fatal(err)
	}
	return *get(t, job)
}

// TestPlaybookReconciler_twelveRuns: past the ten kept records, every run
// is still counted and announced exactly once, status.runs is newest
// first, finished Jobs are marked recorded and their pods released, and a
// run id once handled never runs again, even after its Job is gone.
func TestPlaybookReconciler_twelveRuns(t *testing.T) {
	requireEnv(t)
	f := newFixture(t, "")
	ctx := context.Background()
	repoR, _ := newRepositoryReconciler()
	if _, err := repoR.Reconcile(ctx, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(f.repo)}); err != nil {
		t.Fatal(err)
	}
	rec := events.NewFakeRecorder(1000)
	r := &PlaybookReconciler{Client: k8sClient, APIReader: k8sClient, Recorder: rec, Env: f.env, CheckPaths: git.CheckPaths}
	before := runsCounted(t, ansiblev1alpha1.PlaybookKind)
	var ids []string
	var made []batchv1.Job
	for i := 1; i <= 12; i++ {
		id := fmt.Sprintf("r%02d", i)
		ids = append(ids, id)
		made = append(made, runOnce(t, r, f, id))
	}
	// More reconciles of the settled Playbook change nothing.
	for range 3 {
		if _, err := r.Reconcile(ctx, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(f.pb)}); err != nil {
			t.Fatal(err)
		}
	}
	if got := drain(rec, "RunSucceeded"); len(got) != 12 {
		t.Errorf("%d RunSucceeded events for 12 runs, want 12:\n%s", len(got), strings.Join(got, "\n"))
	}
	if n := runsCounted(t, ansiblev1alpha1.PlaybookKind) - before; n != 12 {
		t.Errorf("ansible_operator_job_runs_total{kind=Playbook} rose by %v for 12 runs, want 12", n)
	}
	var got []string
	for _, run := range get(t, f.pb).Status.Runs {
		got = append(got, run.RunID)
	}
	want := slices.Clone(ids[2:])
	slices.Reverse(want)
	if !slices.Equal(got, want) {
		t.Errorf("status.runs = %v, want the newest ten, newest first: %v", got, want)
	}
	for _, job := range made {
		if job.Annotations[jobs.RecordedAnnotation] != "true" {
			t.Errorf("Job %s is not marked recorded: %v", job.Name, job.Annotations)
		}
		if ptr.Deref(job.Spec.TTLSecondsAfterFinished, -1) != jobs.ManualRunTTLSeconds {
			t.Errorf("Job %s ttlSecondsAfterFinished = %v, want %d", job.Name, job.Spec.TTLSecondsAfterFinished, jobs.ManualRunTTLSeconds)
		}
		pod := get(t, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: job.Name + "-pod", Namespace: f.ns}})
		if slices.Contains(pod.Finalizers, jobs.RunRecordFinalizer) {
			t.Errorf("pod %s keeps %s after the run was recorded", pod.Name, jobs.RunRecordFinalizer)
		}
	}

	// The TTL deletes the Jobs: neither the last id nor an older recorded
	// one starts a run again.
	for i := range made {
		if err := k8sClient.Delete(ctx, &made[i], client.PropagationPolicy(metav1.DeletePropagationBackground)); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range []string{"r12", "r05"} {
		pb := get(t, f.pb)
		pb.Annotations[ansiblev1alpha1.RunNowAnnotation] = id
		if err := k8sClient.Update(ctx, pb); err != nil {
			t.Fatal(err)
		}
		if _, err := r.Reconcile(ctx, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(f.pb)}); err != nil {
			t.Fatal(err)
		}
		if js := jobsOf(t, f.ns, ansiblev1alpha1.PlaybookKind, "site"); len(js) != 0 {
			t.Errorf("run-now %s after its Job was deleted made Job %s", id, js[0].Name)
		}
	}
}

// TestScheduleReconciler_runsOutliveTheirJob: a scheduled run whose Job is
// deleted right after it finished is still recorded with its summary and
// image digest: by a history limit of 0 (background deletion: the Job is
// gone, the garbage collector deletes the pod) or by ttlSecondsAfterFinished
// 0 (the TTL controller's foreground deletion waits for the pod). The pod's
// finalizer holds it until the record is made, then it is released.
func TestScheduleReconciler_runsOutliveTheirJob(t *testing.T) {
	requireEnv(t)
	cases := map[string]metav1.DeletionPropagation{
		"a Job the history limit deletes at once is recorded from its pod": metav1.DeletePropagationBackground,
		"a Job the TTL controller deletes is recorded and marked":          metav1.DeletePropagationForeground,
	}
	for name, propagation := range cases {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, "")
			ctx := context.Background()
			s := &ansiblev1alpha1.Schedule{ObjectMeta: metav1.ObjectMeta{Name: "often", Namespace: f.ns}, Spec: ansiblev1alpha1.ScheduleSpec{
				PlaybookRef: ansiblev1alpha1.ObjectReference{Name: "site"}, Schedule: "*/5 * * * *",
				SuccessfulJobsHistoryLimit: ptr.To[int32](0), TTLSecondsAfterFinished: ptr.To[int32](0),
			}}
			if err := k8sClient.Create(ctx, s); err != nil {
				t.Fatal(err)
			}
			rec := events.NewFakeRecorder(100)
			repoR, _ := newRepositoryReconciler()
			pbR := &PlaybookReconciler{Client: k8sClient, APIReader: k8sClient, Recorder: events.NewFakeRecorder(100), Env: f.env, CheckPaths: git.CheckPaths}
			sR := &ScheduleReconciler{Client: k8sClient, APIReader: k8sClient, Recorder: rec, Env: f.env, Clock: repoR.Clock}
			reconcileAll := func() {
				reconcileInOrder(t, reconcileStep{repoR, f.repo}, reconcileStep{pbR, f.pb}, reconcileStep{sR, s})
			}
			reconcileAll()
			cj := get(t, &batchv1.CronJob{ObjectMeta: metav1.ObjectMeta{Name: "often", Namespace: f.ns}})
			// The CronJob controller's Job, which the Job controller runs.
			job := &batchv1.Job{
				ObjectMeta: metav1.ObjectMeta{Name: "often-29000005", Namespace: f.ns,
					Labels: cj.Spec.JobTemplate.Labels, Annotations: cj.Spec.JobTemplate.Annotations,
					OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(cj, batchv1.SchemeGroupVersion.WithKind("CronJob"))}},
				Spec: *cj.Spec.JobTemplate.Spec.DeepCopy(),
			}
			if err := k8sClient.Create(ctx, job); err != nil {
				t.Fatal(err)
			}
			finishJob(t, job, true, runspec.Summary{Result: "succeeded", Reason: "Succeeded", Totals: runspec.Counts{OK: 4, Changed: 2}})
			pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: job.Name + "-pod", Namespace: f.ns}}
			if err := k8sClient.Delete(ctx, job, client.PropagationPolicy(propagation)); err != nil {
				t.Fatal(err)
			}
			if propagation == metav1.DeletePropagationBackground {
				// What the garbage collector does once the Job is gone.
				if err := k8sClient.Delete(ctx, pod); err != nil {
					t.Fatal(err)
				}
			}

			reconcileAll()
			reconcileAll()
			runs := get(t, s).Status.Runs
			if len(runs) != 1 || runs[0].JobName != job.Name || runs[0].Result != ansiblev1alpha1.RunSucceeded ||
				runs[0].ImageDigest != runnerDigest || runs[0].Totals == nil || runs[0].Totals.Changed != 2 {
				t.Fatalf("status.runs = %+v, want the run with its summary and image digest", runs)
			}
			if n := len(drain(rec, "RunSucceeded")); n != 1 {
				t.Errorf("%d RunSucceeded events, want 1", n)
			}
			err := k8sClient.Get(ctx, client.ObjectKeyFromObject(pod), pod)
			switch {
			case propagation == metav1.DeletePropagationBackground && !apierrors.IsNotFound(err):
				t.Errorf("the deleted pod is still there (err %v, finalizers %v): its finalizer was not removed", err, pod.Finalizers)
			case propagation == metav1.DeletePropagationForeground && (err != nil || slices.Contains(pod.Finalizers, jobs.RunRecordFinalizer)):
				t.Errorf("the pod keeps its finalizer after the record (err %v, finalizers %v)", err, pod.Finalizers)
			}
			if propagation == metav1.DeletePropagationForeground {
				if got := get(t, job); got.Annotations[jobs.RecordedAnnotation] != "true" {
					t.Errorf("the deleting Job is not marked recorded: %v", got.Annotations)
				}
			}
		})
	}
}

// TestPlaybookReconciler_releasesPodsOfADeletedPlaybook: the pods of a
// Playbook that is gone are released: nothing is left to record their run
// in, and the garbage collector could never delete them.
func TestPlaybookReconciler_releasesPodsOfADeletedPlaybook(t *testing.T) {
	requireEnv(t)
	f := newFixture(t, "")
	ctx := context.Background()
	repoR, _ := newRepositoryReconciler()
	if _, err := repoR.Reconcile(ctx, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(f.repo)}); err != nil {
		t.Fatal(err)
	}
	r := &PlaybookReconciler{Client: k8sClient, APIReader: k8sClient, Recorder: events.NewFakeRecorder(100), Env: f.env, CheckPaths: git.CheckPaths}
	pb := get(t, f.pb)
	pb.Annotations = map[string]string{ansiblev1alpha1.RunNowAnnotation: "gone"}
	if err := k8sClient.Update(ctx, pb); err != nil {
		t.Fatal(err)
	}
	req := reconcile.Request{NamespacedName: client.ObjectKeyFromObject(f.pb)}
	if _, err := r.Reconcile(ctx, req); err != nil {
		t.Fatal(err)
	}
	job := get(t, &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: jobs.JobName(ansiblev1alpha1.PlaybookKind, "site", "gone"), Namespace: f.ns}})
	pod := createJobPod(t, job, "running")
	if !slices.Contains(pod.Finalizers, jobs.RunRecordFinalizer) {
		t.Fatalf("a run's pod lacks %s: %v", jobs.RunRecordFinalizer, pod.Finalizers)
	}
	if err := k8sClient.Delete(ctx, pb); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Reconcile(ctx, req); err != nil {
		t.Fatal(err)
	}
	if got := get(t, pod); slices.Contains(got.Finalizers, jobs.RunRecordFinalizer) {
		t.Errorf("the pod of a deleted Playbook keeps %s", jobs.RunRecordFinalizer)
	}
}

// TestScheduleReconciler_manualRun: a Schedule's run-now makes a Job with
// the Schedule's backoffLimit and TTL, and its status.lastManualRun follows
// it in the Python operator's shape.
func TestScheduleReconciler_manualRun(t *testing.T) {
	requireEnv(t)
	f := newFixture(t, "")
	ctx := context.Background()
	s := &ansiblev1alpha1.Schedule{ObjectMeta: metav1.ObjectMeta{Name: "weekly", Namespace: f.ns, Annotations: map[string]string{ansiblev1alpha1.RunNowAnnotation: "now-1"}},
		Spec: ansiblev1alpha1.ScheduleSpec{PlaybookRef: ansiblev1alpha1.ObjectReference{Name: "site"}, Schedule: "@weekly",
			BackoffLimit: ptr.To[int32](1), TTLSecondsAfterFinished: ptr.To[int32](120)}}
	if err := k8sClient.Create(ctx, s); err != nil {
		t.Fatal(err)
	}
	repoR, _ := newRepositoryReconciler()
	pbR := &PlaybookReconciler{Client: k8sClient, APIReader: k8sClient, Recorder: events.NewFakeRecorder(100), Env: f.env, CheckPaths: git.CheckPaths}
	sR := &ScheduleReconciler{Client: k8sClient, APIReader: k8sClient, Recorder: events.NewFakeRecorder(100), Env: f.env, Clock: repoR.Clock}
	reconcileAll := func() {
		reconcileInOrder(t, reconcileStep{repoR, f.repo}, reconcileStep{pbR, f.pb}, reconcileStep{sR, s})
	}
	reconcileAll()
	job := get(t, &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: jobs.JobName(ansiblev1alpha1.ScheduleKind, "weekly", "now-1"), Namespace: f.ns}})
	if ptr.Deref(job.Spec.BackoffLimit, -1) != 1 || ptr.Deref(job.Spec.TTLSecondsAfterFinished, -1) != 120 {
		t.Errorf("manual Job backoffLimit %v ttl %v, want the Schedule's 1 and 120", job.Spec.BackoffLimit, job.Spec.TTLSecondsAfterFinished)
	}
	wantManualRun(t, s, map[string]string{"runId": "now-1", "jobRef": f.ns + "/" + job.Name, "status": "Running", "reason": "JobCreated"}, "startTime")
	finishJob(t, job, false, runspec.Summary{Result: "failed", Reason: "PlaybookFailed", Message: "playbook site.yml failed on 1 of 1 hosts"})
	reconcileAll()
	wantManualRun(t, s, map[string]string{"runId": "now-1", "status": "Failed", "reason": "JobFailed"}, "completionTime", "message")
}
