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
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/events"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	ansiblev1alpha1 "github.com/cloud37/ansible-playbook-operator/operator/api/v1alpha1"
	"github.com/cloud37/ansible-playbook-operator/operator/internal/git"
	"github.com/cloud37/ansible-playbook-operator/operator/internal/gittest"
	"github.com/cloud37/ansible-playbook-operator/operator/internal/jobs"
	"github.com/cloud37/ansible-playbook-operator/operator/internal/opconfig"
	"github.com/cloud37/ansible-playbook-operator/operator/internal/runspec"
	"github.com/cloud37/ansible-playbook-operator/operator/internal/schedule"
)

const (
	testOperatorImage = "localhost/ansible-playbook-operator@sha256:" + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	runnerDigest      = "sha256:" + "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"
)

// fixture is a namespace with a served git repository, a Repository, a
// Playbook and the operator config.
type fixture struct {
	ns   string
	src  *gittest.Repo
	url  string
	env  Environment
	repo *ansiblev1alpha1.Repository
	pb   *ansiblev1alpha1.Playbook
}

func newFixture(t *testing.T, config string) *fixture {
	t.Helper()
	f := &fixture{ns: newNamespace(t)}
	f.src = gittest.NewRepo(t, map[string]string{"site.yml": "- hosts: all\n  tasks: []\n", "inventory/hosts.ini": "localhost\n"})
	f.url = gittest.StartDaemon(t, f.src.Bare(t))
	f.env = Environment{ConfigMap: types.NamespacedName{Namespace: f.ns, Name: "operator-config"}, OperatorImage: testOperatorImage}
	ctx := context.Background()
	if config != "" {
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "operator-config", Namespace: f.ns}, Data: map[string]string{opconfig.Key: config}}
		if err := k8sClient.Create(ctx, cm); err != nil {
			t.Fatal(err)
		}
	}
	f.repo = &ansiblev1alpha1.Repository{ObjectMeta: metav1.ObjectMeta{Name: "infra", Namespace: f.ns}, Spec: ansiblev1alpha1.RepositorySpec{URL: f.url, Branch: "main"}}
	f.pb = &ansiblev1alpha1.Playbook{ObjectMeta: metav1.ObjectMeta{Name: "site", Namespace: f.ns}, Spec: ansiblev1alpha1.PlaybookSpec{
		RepositoryRef: ansiblev1alpha1.ObjectReference{Name: "infra"}, PlaybookPath: "site.yml", InventoryPath: "inventory/hosts.ini",
	}}
	for _, o := range []client.Object{f.repo, f.pb} {
		if err := k8sClient.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

func startOperator(t *testing.T, env Environment) {
	t.Helper()
	startManager(t, func(mgr ctrl.Manager) error {
		rec := mgr.GetEventRecorder("test")
		if err := (&RepositoryReconciler{Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Recorder: rec}).SetupWithManager(mgr); err != nil {
			return err
		}
		if err := (&PlaybookReconciler{Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Recorder: rec, Env: env, CheckPaths: git.CheckPaths}).SetupWithManager(mgr); err != nil {
			return err
		}
		return (&ScheduleReconciler{Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Recorder: rec, Env: env}).SetupWithManager(mgr)
	})
}

func get[T client.Object](t *testing.T, obj T) T {
	t.Helper()
	if err := k8sClient.Get(context.Background(), client.ObjectKeyFromObject(obj), obj); err != nil {
		t.Fatal(err)
	}
	return obj
}

func waitReady(t *testing.T, obj conditioned) {
	t.Helper()
	eventually(t, fmt.Sprintf("%s %s Ready", obj.GetObjectKind().GroupVersionKind().Kind, obj.GetName()), func() (bool, string) {
		if err := k8sClient.Get(context.Background(), client.ObjectKeyFromObject(obj), obj); err != nil {
			return false, err.Error()
		}
		c := condition(obj, ansiblev1alpha1.ReadyCondition)
		return c.Status == metav1.ConditionTrue && c.ObservedGeneration == obj.GetGeneration(), fmt.Sprintf("%s %s %q", c.Status, c.Reason, c.Message)
	})
}

func waitReason(t *testing.T, obj conditioned, reason string) metav1.Condition {
	t.Helper()
	var got metav1.Condition
	eventually(t, "Ready reason "+reason, func() (bool, string) {
		if err := k8sClient.Get(context.Background(), client.ObjectKeyFromObject(obj), obj); err != nil {
			return false, err.Error()
		}
		got = condition(obj, ansiblev1alpha1.ReadyCondition)
		return got.Reason == reason && got.ObservedGeneration == obj.GetGeneration(), fmt.Sprintf("%s %s %q", got.Status, got.Reason, got.Message)
	})
	return got
}

func jobsOf(t *testing.T, ns, kind, owner string) []batchv1.Job {
	t.Helper()
	list := &batchv1.JobList{}
	if err := k8sClient.List(context.Background(), list, client.InNamespace(ns), client.MatchingLabels{ansiblev1alpha1.OwnerKindLabel: kind, ansiblev1alpha1.OwnerNameLabel: jobs.LabelValue(owner)}); err != nil {
		t.Fatal(err)
	}
	return list.Items
}

func TestPlaybookReconciler_runNow(t *testing.T) {
	requireEnv(t)
	f := newFixture(t, "")
	startOperator(t, f.env)
	waitReady(t, f.pb)
	if c := condition(f.pb, ansiblev1alpha1.CloneReadyCondition); c.Status != metav1.ConditionTrue {
		t.Errorf("CloneReady = %s %q, want True after the path check", c.Status, c.Message)
	}

	ctx := context.Background()
	annotate := func(id string) {
		t.Helper()
		pb := get(t, f.pb)
		patch := client.MergeFrom(pb.DeepCopy())
		if pb.Annotations == nil {
			pb.Annotations = map[string]string{}
		}
		pb.Annotations[ansiblev1alpha1.RunNowAnnotation] = id
		if err := k8sClient.Patch(ctx, pb, patch); err != nil {
			t.Fatal(err)
		}
	}
	annotate("first")
	eventually(t, "the run's Job", func() (bool, string) {
		return len(jobsOf(t, f.ns, "Playbook", "site")) == 1, "no Job yet"
	})
	job := jobsOf(t, f.ns, "Playbook", "site")[0]
	if want := jobs.JobName("Playbook", "site", "first"); job.Name != want {
		t.Errorf("Job name %q, want %q", job.Name, want)
	}
	if job.Annotations[ansiblev1alpha1.RunIDAnnotation] != "first" || job.Annotations[ansiblev1alpha1.RevisionAnnotation] != f.src.Head(t, "main") {
		t.Errorf("Job annotations %v", job.Annotations)
	}
	if !metav1.IsControlledBy(&job, get(t, f.pb)) {
		t.Error("the Job is not controlled by the Playbook")
	}
	eventually(t, "lastHandledRunNow", func() (bool, string) {
		return get(t, f.pb).Status.LastHandledRunNow == "first", get(t, f.pb).Status.LastHandledRunNow
	})
	// status.lastManualRun in the Python operator's shape, read as JSON.
	wantManualRun(t, f.pb, map[string]string{"runId": "first", "jobRef": f.ns + "/" + job.Name, "status": "Running", "reason": "JobCreated"}, "startTime")
	if get(t, f.pb).Annotations[ansiblev1alpha1.RunNowAnnotation] != "first" {
		t.Error("the operator removed the run-now annotation")
	}

	// The run finishes: what kubelet and the Job controller would write.
	finishJob(t, &job, true, runspec.Summary{Result: "succeeded", Reason: "Succeeded", Commit: f.src.Head(t, "main"),
		Totals: runspec.Counts{OK: 3, Changed: 1}, Hosts: []runspec.HostCounts{{Host: "localhost", Counts: runspec.Counts{OK: 3, Changed: 1}}}})
	eventually(t, "the run record", func() (bool, string) {
		runs := get(t, f.pb).Status.Runs
		return len(runs) == 1, fmt.Sprintf("%d runs", len(runs))
	})
	run := get(t, f.pb).Status.Runs[0]
	if run.RunID != "first" || run.Result != ansiblev1alpha1.RunSucceeded || run.ImageDigest != runnerDigest ||
		run.Totals == nil || run.Totals.OK != 3 || run.Commit != f.src.Head(t, "main") {
		t.Errorf("run record %+v", run)
	}
	if ready := condition(get(t, f.pb), ansiblev1alpha1.ReadyCondition); ready.Status != metav1.ConditionTrue {
		t.Errorf("Ready after the run: %s %s", ready.Status, ready.Reason)
	}
	wantManualRun(t, f.pb, map[string]string{"runId": "first", "jobRef": f.ns + "/" + job.Name, "status": "Succeeded", "reason": "JobSucceeded"}, "startTime", "completionTime", "message")

	// The same id again, and a restart of the operator: no new Job.
	annotate("first")
	time.Sleep(500 * time.Millisecond)
	if n := len(jobsOf(t, f.ns, "Playbook", "site")); n != 1 {
		t.Errorf("%d Jobs after re-applying the same id, want 1", n)
	}
	annotate("second")
	eventually(t, "the second Job", func() (bool, string) {
		return len(jobsOf(t, f.ns, "Playbook", "site")) == 2, "one Job"
	})
}

// wantManualRun checks status.lastManualRun of obj, read as JSON as the
// Python operator's scripts read it: the given string fields and the
// presence of the others.
func wantManualRun(t *testing.T, obj client.Object, want map[string]string, present ...string) {
	t.Helper()
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(obj.GetObjectKind().GroupVersionKind())
	if u.GetKind() == "" {
		gvk, err := apiutil.GVKForObject(obj, scheme)
		if err != nil {
			t.Fatal(err)
		}
		u.SetGroupVersionKind(gvk)
	}
	if err := k8sClient.Get(context.Background(), client.ObjectKeyFromObject(obj), u); err != nil {
		t.Fatal(err)
	}
	run, _, _ := unstructured.NestedMap(u.Object, "status", "lastManualRun")
	for k, v := range want {
		if run[k] != v {
			t.Errorf("status.lastManualRun.%s = %v, want %q (lastManualRun %v)", k, run[k], v, run)
		}
	}
	for _, k := range present {
		if s, _ := run[k].(string); s == "" {
			t.Errorf("status.lastManualRun.%s is empty (lastManualRun %v)", k, run)
		}
	}
}

// createJobPod creates a pod of job as the Job controller does
// (GetPodFromTemplate): the template's labels, annotations and finalizers,
// the job-name and controller-uid labels, a controller reference.
func createJobPod(t *testing.T, job *batchv1.Job, suffix string) *corev1.Pod {
	t.Helper()
	tmpl := job.Spec.Template
	labels := maps.Clone(tmpl.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	labels[batchv1.JobNameLabel], labels[batchv1.ControllerUidLabel] = job.Name, string(job.UID)
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: job.Name + "-" + suffix, Namespace: job.Namespace, Labels: labels,
			Annotations: maps.Clone(tmpl.Annotations), Finalizers: slices.Clone(tmpl.Finalizers),
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(job, batchv1.SchemeGroupVersion.WithKind("Job"))}},
		Spec: *tmpl.Spec.DeepCopy(),
	}
	if err := k8sClient.Create(context.Background(), pod); err != nil {
		t.Fatal(err)
	}
	return pod
}

// finishJob writes a finished Job status and its pod with the runner's
// termination message, as the Job controller and kubelet would.
func finishJob(t *testing.T, job *batchv1.Job, ok bool, sum runspec.Summary) {
	t.Helper()
	ctx := context.Background()
	msg, err := json.Marshal(sum)
	if err != nil {
		t.Fatal(err)
	}
	pod := createJobPod(t, job, "pod")
	exit := int32(0)
	if !ok {
		exit = 2
	}
	pod.Status = corev1.PodStatus{Phase: corev1.PodSucceeded, ContainerStatuses: []corev1.ContainerStatus{{
		Name: "ansible-runner", ImageID: "docker.io/kenchrcum/ansible-runner@" + runnerDigest,
		State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: exit, Message: string(msg)}},
	}}}
	if err := k8sClient.Status().Update(ctx, pod); err != nil {
		t.Fatal(err)
	}
	now := metav1.Now()
	start := metav1.NewTime(now.Add(-time.Minute))
	job.Status.StartTime = &start
	condType, reason := batchv1.JobComplete, "Completed"
	if !ok {
		condType, reason = batchv1.JobFailed, "BackoffLimitExceeded"
	}
	// The API server requires the interim conditions the Job controller sets.
	interim := batchv1.JobSuccessCriteriaMet
	if !ok {
		interim = batchv1.JobFailureTarget
	}
	job.Status.Conditions = []batchv1.JobCondition{
		{Type: interim, Status: corev1.ConditionTrue, LastTransitionTime: now, Reason: reason},
		{Type: condType, Status: corev1.ConditionTrue, LastTransitionTime: now, Reason: reason},
	}
	if ok {
		job.Status.CompletionTime = &now
		job.Status.Succeeded = 1
	} else {
		job.Status.Failed = 1
	}
	if err := k8sClient.Status().Update(ctx, job); err != nil {
		t.Fatal(err)
	}
}

func TestPlaybookReconciler_conditions(t *testing.T) {
	requireEnv(t)
	cases := map[string]struct {
		config  string
		mutate  func(pb *ansiblev1alpha1.Playbook)
		reason  string
		stalled bool
	}{
		"a missing playbook path is InvalidPath": {
			mutate: func(pb *ansiblev1alpha1.Playbook) { pb.Spec.PlaybookPath = "nope.yml" },
			reason: ansiblev1alpha1.InvalidPathReason,
		},
		"an unpinned executor with requirePinnedExecutor is stalled": {
			config:  "apiVersion: config.ansible.cloud37.dev/v1alpha1\nkind: OperatorConfig\nrequirePinnedExecutor: true\n",
			reason:  ansiblev1alpha1.ExecutorNotPinnedReason,
			stalled: true,
		},
		"a repositoryRef namespace other than the Playbook's is stalled": {
			mutate:  func(pb *ansiblev1alpha1.Playbook) { pb.Spec.RepositoryRef.Namespace = "elsewhere" },
			reason:  ansiblev1alpha1.InvalidSpecReason,
			stalled: true,
		},
		"a missing service account names it": {
			mutate: func(pb *ansiblev1alpha1.Playbook) {
				pb.Spec.Runtime = &ansiblev1alpha1.PlaybookRuntime{ServiceAccountName: "runner"}
			},
			reason: ansiblev1alpha1.ServiceAccountNotFoundReason,
		},
		"a missing Repository is RepoNotReady": {
			mutate: func(pb *ansiblev1alpha1.Playbook) { pb.Spec.RepositoryRef.Name = "gone" },
			reason: ansiblev1alpha1.RepoNotReadyReason,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, tc.config)
			if tc.mutate != nil {
				pb := get(t, f.pb)
				tc.mutate(pb)
				if err := k8sClient.Update(context.Background(), pb); err != nil {
					t.Fatal(err)
				}
			}
			startOperator(t, f.env)
			c := waitReason(t, f.pb, tc.reason)
			if c.Status != metav1.ConditionFalse {
				t.Errorf("Ready = %s", c.Status)
			}
			if got := condition(f.pb, ansiblev1alpha1.StalledCondition).Status == metav1.ConditionTrue; got != tc.stalled {
				t.Errorf("Stalled = %v, want %v", got, tc.stalled)
			}
			if tc.reason == ansiblev1alpha1.ServiceAccountNotFoundReason && !strings.Contains(c.Message, f.ns+"/runner") {
				t.Errorf("message does not name what and where: %q", c.Message)
			}
		})
	}
}

func TestScheduleReconciler(t *testing.T) {
	requireEnv(t)
	f := newFixture(t, "apiVersion: config.ansible.cloud37.dev/v1alpha1\nkind: OperatorConfig\nscheduleSalt: cluster-a\n")
	ctx := context.Background()
	s := &ansiblev1alpha1.Schedule{ObjectMeta: metav1.ObjectMeta{Name: "nightly", Namespace: f.ns}, Spec: ansiblev1alpha1.ScheduleSpec{
		PlaybookRef: ansiblev1alpha1.ObjectReference{Name: "site", Namespace: f.ns}, Schedule: "@daily-random", TimeZone: "Europe/Berlin",
		ConcurrencyPolicy: "Forbid",
	}}
	if err := k8sClient.Create(ctx, s); err != nil {
		t.Fatal(err)
	}
	startOperator(t, f.env)
	waitReady(t, s)
	want, _ := schedule.Compute(f.ns, "nightly", "cluster-a", "@daily-random")
	if s.Status.ComputedSchedule != want || s.Status.NextRunTime == nil {
		t.Errorf("computedSchedule %q (want %q), nextRunTime %v", s.Status.ComputedSchedule, want, s.Status.NextRunTime)
	}
	cj := &batchv1.CronJob{ObjectMeta: metav1.ObjectMeta{Name: jobs.CronJobName("nightly"), Namespace: f.ns}}
	get(t, cj)
	if cj.Spec.Schedule != want || ptr.Deref(cj.Spec.TimeZone, "") != "Europe/Berlin" || !metav1.IsControlledBy(cj, s) {
		t.Errorf("CronJob schedule %q timeZone %v controlled %v", cj.Spec.Schedule, cj.Spec.TimeZone, metav1.IsControlledBy(cj, s))
	}
	if !managedBy(cj, FieldOwner, "Apply") {
		t.Errorf("CronJob not server-side applied by %s: %v", FieldOwner, cj.ManagedFields)
	}
	if cj.Spec.JobTemplate.Annotations[ansiblev1alpha1.RevisionAnnotation] != f.src.Head(t, "main") {
		t.Errorf("jobTemplate revision %q", cj.Spec.JobTemplate.Annotations[ansiblev1alpha1.RevisionAnnotation])
	}
	if c := condition(s, ansiblev1alpha1.BlockedByConcurrencyCondition); c.Status != metav1.ConditionFalse {
		t.Errorf("BlockedByConcurrency = %s, want False", c.Status)
	}

	// The CronJob controller makes a Job from the jobTemplate: the status
	// follows it (the Job's own annotations, not the pod template's).
	job := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{
			Name: cj.Name + "-29000000", Namespace: f.ns,
			Labels: cj.Spec.JobTemplate.Labels, Annotations: cj.Spec.JobTemplate.Annotations,
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(cj, batchv1.SchemeGroupVersion.WithKind("CronJob"))},
		},
		Spec: *cj.Spec.JobTemplate.Spec.DeepCopy(),
	}
	if err := k8sClient.Create(ctx, job); err != nil {
		t.Fatal(err)
	}
	eventually(t, "lastJobRef and BlockedByConcurrency", func() (bool, string) {
		got := get(t, s)
		c := condition(got, ansiblev1alpha1.BlockedByConcurrencyCondition)
		return got.Status.LastJobRef == f.ns+"/"+job.Name && got.Status.LastRunRevision == f.src.Head(t, "main") && got.Status.LastRunTime != nil &&
			c.Status == metav1.ConditionTrue, fmt.Sprintf("lastJobRef %q revision %q blocked %s", got.Status.LastJobRef, got.Status.LastRunRevision, c.Status)
	})
	finishJob(t, job, false, runspec.Summary{Result: "failed", Reason: "PlaybookFailed", ExitCode: 2,
		Totals: runspec.Counts{OK: 1, Failed: 1}, Failures: []runspec.Failure{{Host: "web-1", Task: "install", Message: "boom"}}})
	eventually(t, "the scheduled run record", func() (bool, string) {
		got := get(t, s)
		c := condition(got, ansiblev1alpha1.BlockedByConcurrencyCondition)
		return len(got.Status.Runs) == 1 && c.Status == metav1.ConditionFalse, fmt.Sprintf("%d runs, blocked %s", len(got.Status.Runs), c.Status)
	})
	if run := get(t, s).Status.Runs[0]; run.Result != ansiblev1alpha1.RunFailed || run.Reason != "PlaybookFailed" ||
		len(run.FailedTasks) != 1 || run.FailedTasks[0].Task != "install" || run.RunID != job.Name {
		t.Errorf("scheduled run record %+v", run)
	}
	if ready := condition(get(t, s), ansiblev1alpha1.ReadyCondition); ready.Status != metav1.ConditionTrue {
		t.Errorf("a failed run flipped Ready: %s %s", ready.Status, ready.Reason)
	}

	// A new commit reaches the CronJob through the Repository's sync.
	next := f.src.Commit(t, map[string]string{"site.yml": "- hosts: all\n  tasks: [{debug: {msg: hi}}]\n"}, "second")
	repo := get(t, f.repo)
	repo.Spec.Interval = &metav1.Duration{Duration: time.Minute} // a spec change makes it sync now
	if err := k8sClient.Update(ctx, repo); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the CronJob's new revision", func() (bool, string) {
		got := get(t, cj).Spec.JobTemplate.Annotations[ansiblev1alpha1.RevisionAnnotation]
		return got == next, got
	})
}

func managedBy(obj client.Object, manager, operation string) bool {
	for _, m := range obj.GetManagedFields() {
		if m.Manager == manager && string(m.Operation) == operation {
			return true
		}
	}
	return false
}

// countingClient counts every write request a reconcile makes.
func countingClient(writes *atomic.Int64) client.Client {
	c, err := client.NewWithWatch(restConfig, client.Options{Scheme: scheme})
	if err != nil {
		panic(err)
	}
	return countWrites(c, writes)
}

// noWatch makes a client.Client a client.WithWatch for the interceptor.
type noWatch struct{ client.Client }

func (noWatch) Watch(context.Context, client.ObjectList, ...client.ListOption) (watch.Interface, error) {
	return nil, fmt.Errorf("watch is not supported")
}

// countWrites wraps c so that every write request adds one to writes.
func countWrites(c client.WithWatch, writes *atomic.Int64) client.WithWatch {
	count := func() { writes.Add(1) }
	return interceptor.NewClient(c, interceptor.Funcs{
		Create: func(ctx context.Context, c client.WithWatch, o client.Object, opts ...client.CreateOption) error {
			count()
			return c.Create(ctx, o, opts...)
		},
		Update: func(ctx context.Context, c client.WithWatch, o client.Object, opts ...client.UpdateOption) error {
			count()
			return c.Update(ctx, o, opts...)
		},
		Patch: func(ctx context.Context, c client.WithWatch, o client.Object, p client.Patch, opts ...client.PatchOption) error {
			count()
			return c.Patch(ctx, o, p, opts...)
		},
		Apply: func(ctx context.Context, c client.WithWatch, o runtime.ApplyConfiguration, opts ...client.ApplyOption) error {
			count()
			return c.Apply(ctx, o, opts...)
		},
		Delete: func(ctx context.Context, c client.WithWatch, o client.Object, opts ...client.DeleteOption) error {
			count()
			return c.Delete(ctx, o, opts...)
		},
		SubResourceUpdate: func(ctx context.Context, c client.Client, sub string, o client.Object, opts ...client.SubResourceUpdateOption) error {
			count()
			return c.SubResource(sub).Update(ctx, o, opts...)
		},
		SubResourcePatch: func(ctx context.Context, c client.Client, sub string, o client.Object, p client.Patch, opts ...client.SubResourcePatchOption) error {
			count()
			return c.SubResource(sub).Patch(ctx, o, p, opts...)
		},
	})
}

// TestReconcilers_noOpWritesNothing reconciles settled objects again and
// counts write requests: there must be none.
func TestReconcilers_noOpWritesNothing(t *testing.T) {
	requireEnv(t)
	f := newFixture(t, "")
	ctx := context.Background()
	s := &ansiblev1alpha1.Schedule{ObjectMeta: metav1.ObjectMeta{Name: "hourly", Namespace: f.ns}, Spec: ansiblev1alpha1.ScheduleSpec{
		PlaybookRef: ansiblev1alpha1.ObjectReference{Name: "site"}, Schedule: "@hourly-random",
	}}
	if err := k8sClient.Create(ctx, s); err != nil {
		t.Fatal(err)
	}
	var writes atomic.Int64
	c := countingClient(&writes)
	fixed := clocktesting.NewFakePassiveClock(time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC))
	repoR := &RepositoryReconciler{Client: c, APIReader: c, Recorder: events.NewFakeRecorder(100), Clock: fixed}
	repoR.ResolveBranch, repoR.LsRemote = git.ResolveBranch, git.LsRemote
	pbR := &PlaybookReconciler{Client: c, APIReader: c, Recorder: events.NewFakeRecorder(100), Env: f.env, CheckPaths: git.CheckPaths}
	sR := &ScheduleReconciler{Client: c, APIReader: c, Recorder: events.NewFakeRecorder(100), Env: f.env, Clock: fixed}
	settle := func() {
		reconcileInOrder(t, reconcileStep{repoR, f.repo}, reconcileStep{pbR, f.pb}, reconcileStep{sR, s})
	}
	settle()
	settle()
	if !conditionTrue(get(t, s), ansiblev1alpha1.ReadyCondition) {
		t.Fatalf("Schedule not Ready: %+v", s.Status.Conditions)
	}
	// A manual run, handled once.
	pb := get(t, f.pb)
	patch := client.MergeFrom(pb.DeepCopy())
	pb.Annotations = map[string]string{ansiblev1alpha1.RunNowAnnotation: "r1"}
	if err := k8sClient.Patch(ctx, pb, patch); err != nil {
		t.Fatal(err)
	}
	settle()
	if n := len(jobsOf(t, f.ns, "Playbook", "site")); n != 1 {
		t.Fatalf("%d Jobs for run r1, want 1", n)
	}
	// A restart: new reconcilers with no memory replay everything.
	pbR = &PlaybookReconciler{Client: c, APIReader: c, Recorder: events.NewFakeRecorder(100), Env: f.env, CheckPaths: git.CheckPaths}
	sR = &ScheduleReconciler{Client: c, APIReader: c, Recorder: events.NewFakeRecorder(100), Env: f.env, Clock: fixed}
	writes.Store(0)
	settle()
	if n := writes.Load(); n != 0 {
		t.Errorf("a no-op reconcile of a Repository, a Playbook (with a handled run-now) and a Schedule after a restart made %d write requests, want 0", n)
	}
	if n := len(jobsOf(t, f.ns, "Playbook", "site")); n != 1 {
		t.Errorf("%d Jobs after the replay, want 1", n)
	}
}

// TestPlaybookReconciler_configChange: the OperatorConfig is read on change.
func TestPlaybookReconciler_configChange(t *testing.T) {
	requireEnv(t)
	f := newFixture(t, "apiVersion: config.ansible.cloud37.dev/v1alpha1\nkind: OperatorConfig\nrequirePinnedExecutor: true\n")
	startOperator(t, f.env)
	waitReason(t, f.pb, ansiblev1alpha1.ExecutorNotPinnedReason)
	cm := get(t, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "operator-config", Namespace: f.ns}})
	cm.Data[opconfig.Key] = "apiVersion: config.ansible.cloud37.dev/v1alpha1\nkind: OperatorConfig\nexecutorDefaults:\n  image:\n    repository: kenchrcum/ansible-runner\n    digest: " + runnerDigest + "\nrequirePinnedExecutor: true\n"
	if err := k8sClient.Update(context.Background(), cm); err != nil {
		t.Fatal(err)
	}
	waitReady(t, f.pb)
}
