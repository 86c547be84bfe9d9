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
	"slices"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	ansiblev1alpha1 "github.com/cloud37/ansible-playbook-operator/operator/api/v1alpha1"
	"github.com/cloud37/ansible-playbook-operator/operator/internal/jobs"
	"github.com/cloud37/ansible-playbook-operator/operator/internal/metrics"
)

// runTracker is the one owner of a Playbook's or Schedule's runs: it lists
// a run's Jobs and pods by jobs.OwnerLabels, records finished runs in
// status, observes image pulls, starts run-now Jobs, and, after the status
// patch, announces (events, metrics) and finishes with what it recorded
// (marks Jobs, releases pods). No other code of the package writes runs,
// events about runs or run metrics.
type runTracker struct {
	client   client.Client
	recorder events.EventRecorder
	// kind is ansiblev1alpha1.PlaybookKind or ScheduleKind.
	kind string
}

// runFields are an owner's status fields about runs.
type runFields struct {
	// runs is status.runs.
	runs *[]ansiblev1alpha1.RunRecord
	// lastManual is status.lastManualRun.
	lastManual **ansiblev1alpha1.ManualRun
	// lastHandled is status.lastHandledRunNow.
	lastHandled *string
}

// trackedRuns is what the tracker found and changed in one reconcile.
type trackedRuns struct {
	set    runSet
	update runUpdate
	// started is the run-now Job created, announced after the patch.
	started *batchv1.Job
}

// runSet is what the cache shows of one owner's runs: its Jobs, and the
// pods of its runs by Job name. A run's pods outlive a Job that a history
// limit or a user deleted until the run is recorded
// (jobs.RunRecordFinalizer), so a run may have pods and no Job.
type runSet struct {
	jobs []batchv1.Job
	pods map[string][]corev1.Pod
}

// list lists the Jobs and the pods that carry the owner's labels.
func (t *runTracker) list(ctx context.Context, namespace, name string) (runSet, error) {
	sel := client.MatchingLabels(jobs.OwnerLabels(t.kind, name))
	jobList := &batchv1.JobList{}
	if err := t.client.List(ctx, jobList, client.InNamespace(namespace), sel); err != nil {
		return runSet{}, fmt.Errorf("failed to list Jobs of %s %q: %w", t.kind, name, err)
	}
	podList := &corev1.PodList{}
	if err := t.client.List(ctx, podList, client.InNamespace(namespace), sel); err != nil {
		return runSet{}, fmt.Errorf("failed to list pods of %s %q: %w", t.kind, name, err)
	}
	rs := runSet{jobs: jobList.Items, pods: map[string][]corev1.Pod{}}
	for _, p := range podList.Items {
		if job := p.Labels[batchv1.JobNameLabel]; job != "" {
			rs.pods[job] = append(rs.pods[job], p)
		}
	}
	return rs, nil
}

// observe is the first step of a Playbook and a Schedule: finished runs
// are recorded whatever the owner's state, status.lastManualRun follows
// them, ImagePullFailed follows the active runs' pods, and a manual run in
// progress keeps Reconciling=True.
func (t *runTracker) observe(ctx context.Context, owner conditioned, f runFields, w *work) error {
	rs, err := t.list(ctx, owner.GetNamespace(), owner.GetName())
	if err != nil {
		return err
	}
	u := rs.record(*f.runs, owner.GetUID())
	*f.runs = mergeRuns(*f.runs, u.added)
	noteManualRun(*f.lastManual, owner.GetNamespace(), u.added)
	observeImagePulls(owner, rs)
	w.runs = &trackedRuns{set: rs, update: u}
	noteProgress(f, w)
	return nil
}

// noteProgress sets Reconciling's message while a manual run the operator
// started runs: the one kind of work that spans reconciles. Both of its
// ends write the status anyway (lastManualRun), so it costs no write.
func noteProgress(f runFields, w *work) {
	if m := *f.lastManual; m != nil && m.Status == ansiblev1alpha1.ManualRunRunning {
		w.progress = fmt.Sprintf("manual run %s (Job %s) is running", m.RunID, m.JobRef)
	}
}

// start creates the Job of the owner's run-now id once: an id already
// handled (the last one, or one of the recorded runs), or carried by an
// existing Job, is a no-op, so replaying after an operator restart or
// after the TTL deleted the run's Job does nothing. A Job that cannot be
// built stalls the owner: its spec cannot run.
func (t *runTracker) start(ctx context.Context, owner conditioned, f runFields, in jobs.Inputs, w *work) error {
	id := owner.GetAnnotations()[ansiblev1alpha1.RunNowAnnotation]
	if id == "" || id == *f.lastHandled {
		return nil
	}
	name := jobs.JobName(t.kind, owner.GetName(), id)
	handled := slices.ContainsFunc(*f.runs, func(r ansiblev1alpha1.RunRecord) bool { return r.RunID == id && r.JobName == name })
	for _, j := range w.runs.set.jobs {
		handled = handled || j.Name == name || j.Annotations[ansiblev1alpha1.RunIDAnnotation] == id
	}
	if handled {
		*f.lastHandled = id
		return nil
	}
	job, err := jobs.BuildJob(in, jobs.Owner{Kind: t.kind, Name: owner.GetName(), UID: owner.GetUID()}, id)
	if err != nil {
		// No start time: the same failure on the next reconcile writes nothing.
		msg := fmt.Sprintf("failed to build the Job of run %s: %s", id, err)
		*f.lastManual = &ansiblev1alpha1.ManualRun{RunID: id, Status: ansiblev1alpha1.ManualRunFailed, Reason: ansiblev1alpha1.ManualRunJobFailedReason, Message: msg}
		return stalled(ansiblev1alpha1.InvalidSpecReason, msg)
	}
	if err := controllerutil.SetControllerReference(owner, job, t.client.Scheme()); err != nil {
		return err
	}
	if err := t.client.Create(ctx, job, client.FieldOwner(FieldOwner)); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("failed to create Job %q: %w", job.Name, err)
	}
	*f.lastHandled = id
	now := metav1.Now()
	*f.lastManual = &ansiblev1alpha1.ManualRun{RunID: id, JobRef: jobRef(job.Namespace, job.Name), StartTime: &now,
		Status: ansiblev1alpha1.ManualRunRunning, Reason: ansiblev1alpha1.ManualRunJobCreatedReason,
		Message: fmt.Sprintf("manual run Job %s created", job.Name)}
	w.runs.started = job
	noteProgress(f, w)
	return nil
}

// newest is the newest Job of the owner and the number of runs still active.
func (tr *trackedRuns) newest() (newest *batchv1.Job, active int) {
	for i := range tr.set.jobs {
		j := &tr.set.jobs[i]
		if newest == nil || newest.CreationTimestamp.Before(&j.CreationTimestamp) {
			newest = j
		}
		if _, done := runRecord(j, nil); !done {
			active++
		}
	}
	return newest, active
}

// announce follows a successful status patch (before are the owner's
// conditions as read): the runs that entered status are counted and
// announced, a started run and a new image pull failure announced, and the
// recorded runs' Jobs marked and pods released.
func (t *runTracker) announce(ctx context.Context, owner conditioned, tr *trackedRuns, before []metav1.Condition) error {
	if job := tr.started; job != nil && t.recorder != nil {
		t.recorder.Eventf(owner, job, "Normal", "RunStarted", "Run", "run %s started as Job %s at commit %s",
			job.Annotations[ansiblev1alpha1.RunIDAnnotation], job.Name, job.Annotations[ansiblev1alpha1.RevisionAnnotation])
	}
	t.announceRuns(owner, tr.update.added)
	t.announceImagePullFailure(owner, before)
	return t.finish(ctx, tr.update)
}

// announceRuns counts and announces runs that entered status.
func (t *runTracker) announceRuns(owner client.Object, added []ansiblev1alpha1.RunRecord) {
	for _, r := range added {
		var duration *time.Duration
		if r.StartTime != nil && r.CompletionTime != nil {
			d := r.CompletionTime.Sub(r.StartTime.Time)
			duration = &d
		}
		metrics.ObserveRun(t.kind, r.Result == ansiblev1alpha1.RunSucceeded, duration)
		if t.recorder == nil {
			continue
		}
		if r.Result == ansiblev1alpha1.RunSucceeded {
			t.recorder.Eventf(owner, nil, "Normal", "RunSucceeded", "Run", "run %s (Job %s) succeeded at commit %s", r.RunID, r.JobName, r.Commit)
		} else {
			t.recorder.Eventf(owner, nil, "Warning", "RunFailed", "Run", "run %s (Job %s) failed: %s %s", r.RunID, r.JobName, r.Reason, r.Message)
		}
	}
}

// announceImagePullFailure records one Warning event when ImagePullFailed
// turned True.
func (t *runTracker) announceImagePullFailure(owner conditioned, before []metav1.Condition) {
	now := meta.FindStatusCondition(owner.GetConditions(), ansiblev1alpha1.ImagePullFailedCondition)
	if t.recorder == nil || now == nil || now.Status != metav1.ConditionTrue || meta.IsStatusConditionTrue(before, ansiblev1alpha1.ImagePullFailedCondition) {
		return
	}
	t.recorder.Eventf(owner, nil, "Warning", "ImagePullFailed", "Run", "%s", now.Message)
}

// finish marks the recorded Jobs and releases the pods, once the status
// holds the records. A Job an older operator made for a manual run gets
// the TTL that manual runs have now (it had none).
func (t *runTracker) finish(ctx context.Context, u runUpdate) error {
	for _, job := range u.mark {
		patch := map[string]any{"metadata": map[string]any{"annotations": map[string]string{jobs.RecordedAnnotation: "true"}}}
		if job.Annotations[ansiblev1alpha1.TriggerAnnotation] == ansiblev1alpha1.TriggerManual && job.Spec.TTLSecondsAfterFinished == nil {
			patch["spec"] = map[string]any{"ttlSecondsAfterFinished": jobs.ManualRunTTLSeconds}
		}
		b, err := json.Marshal(patch)
		if err != nil {
			return err
		}
		if err := t.client.Patch(ctx, job, client.RawPatch(types.MergePatchType, b), client.FieldOwner(FieldOwner)); client.IgnoreNotFound(err) != nil {
			return fmt.Errorf("failed to mark Job %q recorded: %w", job.Name, err)
		}
	}
	return t.release(ctx, u.release)
}

// releaseFinalizerPatch removes jobs.RunRecordFinalizer and no other
// finalizer (the Job controller's own may come and go meanwhile).
var releaseFinalizerPatch = client.RawPatch(types.StrategicMergePatchType,
	[]byte(`{"metadata":{"$deleteFromPrimitiveList/finalizers":["`+jobs.RunRecordFinalizer+`"]}}`))

func (t *runTracker) release(ctx context.Context, pods []*corev1.Pod) error {
	for _, p := range pods {
		if err := t.client.Patch(ctx, p, releaseFinalizerPatch, client.FieldOwner(FieldOwner)); client.IgnoreNotFound(err) != nil {
			return fmt.Errorf("failed to remove finalizer %s from pod %q: %w", jobs.RunRecordFinalizer, p.Name, err)
		}
	}
	return nil
}

// releaseOwnerless releases the pods of the runs of the owner name, which
// no longer exists: nothing is left to record them in, and without the
// release the garbage collector could never delete them.
func (t *runTracker) releaseOwnerless(ctx context.Context, namespace, name string) error {
	rs, err := t.list(ctx, namespace, name)
	if err != nil {
		return err
	}
	var pods []*corev1.Pod
	for _, ps := range rs.pods {
		pods = append(pods, waitingPods(ps)...)
	}
	return t.release(ctx, pods)
}

// imagePullWaiting are the container waiting reasons of a failed image pull.
var imagePullWaiting = map[string]bool{"ErrImagePull": true, "ImagePullBackOff": true, "InvalidImageName": true, "ErrImageNeverPull": true}

// observeImagePulls sets ImagePullFailed from the pods of active runs, with
// a message naming the image and what to check (announce reports it once
// the status is written).
func observeImagePulls(obj conditioned, rs runSet) {
	for i := range rs.jobs {
		job := &rs.jobs[i]
		if _, done := runRecord(job, nil); done {
			continue
		}
		pod := newestPod(rs.pods[job.Name])
		if pod == nil {
			continue
		}
		for _, cs := range append(slices.Clone(pod.Status.InitContainerStatuses), pod.Status.ContainerStatuses...) {
			w := cs.State.Waiting
			if w == nil || !imagePullWaiting[w.Reason] {
				continue
			}
			msg := fmt.Sprintf("run %s (Job %s) cannot pull image %s: %s %s — check the image name and digest exist in the registry (pin-images verify), and the imagePullSecrets (spec.runtime.imagePullSecrets)",
				job.Annotations[ansiblev1alpha1.RunIDAnnotation], job.Name, cs.Image, w.Reason, w.Message)
			setCondition(obj, ansiblev1alpha1.ImagePullFailedCondition, metav1.ConditionTrue, w.Reason, msg)
			return
		}
	}
	removeCondition(obj, ansiblev1alpha1.ImagePullFailedCondition)
}

// ownerOfPod maps a run pod to its owner of kind: by the owner-name
// annotation of its template, else (pods of older operators) through its
// Job. Pods whose Job is gone still reach their owner, which records or
// releases them.
func ownerOfPod(c client.Reader, kind string) func(context.Context, client.Object) []reconcile.Request {
	return func(ctx context.Context, o client.Object) []reconcile.Request {
		if o.GetLabels()[ansiblev1alpha1.OwnerKindLabel] != kind {
			return nil
		}
		if name := o.GetAnnotations()[jobs.OwnerNameAnnotation]; name != "" {
			return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: o.GetNamespace(), Name: name}}}
		}
		name := o.GetLabels()[batchv1.JobNameLabel]
		if name == "" {
			return nil
		}
		job := &batchv1.Job{}
		if err := c.Get(ctx, types.NamespacedName{Namespace: o.GetNamespace(), Name: name}, job); err != nil {
			return nil
		}
		return ownerOfJob(kind)(ctx, job)
	}
}

// ownerOfJob maps a run Job (made by run-now or by a Schedule's CronJob)
// to its owner of kind.
func ownerOfJob(kind string) func(context.Context, client.Object) []reconcile.Request {
	return func(_ context.Context, o client.Object) []reconcile.Request {
		l := o.GetLabels()
		if l[ansiblev1alpha1.OwnerKindLabel] != kind || l[jobs.ManagedByLabel] != jobs.ManagedByValue {
			return nil
		}
		name := o.GetAnnotations()[jobs.OwnerNameAnnotation]
		if name == "" {
			return nil
		}
		return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: o.GetNamespace(), Name: name}}}
	}
}
