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
	"sort"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	ansiblev1alpha1 "github.com/cloud37/ansible-playbook-operator/operator/api/v1alpha1"
	"github.com/cloud37/ansible-playbook-operator/operator/internal/jobs"
	"github.com/cloud37/ansible-playbook-operator/operator/internal/metrics"
	"github.com/cloud37/ansible-playbook-operator/operator/internal/runspec"
)

const (
	// RunNowAnnotation asks for a manual run; its value is the run id. The
	// operator never removes it (GitOps would apply it again).
	RunNowAnnotation = "ansible.cloud37.dev/run-now"
	// maxRuns is how many finished runs a status keeps.
	maxRuns = 10
)

// runSet is what the cache shows of one owner's runs: its Jobs, and the
// pods of its runs by Job name. A run's pods outlive a Job that a history
// limit or a user deleted until the run is recorded
// (jobs.RunRecordFinalizer), so a run may have pods and no Job.
type runSet struct {
	jobs []batchv1.Job
	pods map[string][]corev1.Pod
}

// listRuns lists the Jobs and the pods that carry the owner's labels.
func listRuns(ctx context.Context, c client.Reader, namespace, kind, name string) (runSet, error) {
	sel := client.MatchingLabels(jobs.OwnerLabels(kind, name))
	jobList := &batchv1.JobList{}
	if err := c.List(ctx, jobList, client.InNamespace(namespace), sel); err != nil {
		return runSet{}, fmt.Errorf("failed to list Jobs of %s %q: %w", kind, name, err)
	}
	podList := &corev1.PodList{}
	if err := c.List(ctx, podList, client.InNamespace(namespace), sel); err != nil {
		return runSet{}, fmt.Errorf("failed to list pods of %s %q: %w", kind, name, err)
	}
	rs := runSet{jobs: jobList.Items, pods: map[string][]corev1.Pod{}}
	for _, p := range podList.Items {
		if job := p.Labels[batchv1.JobNameLabel]; job != "" {
			rs.pods[job] = append(rs.pods[job], p)
		}
	}
	return rs, nil
}

// newestPod is the run's newest pod, whose outcome is the run's: a pod a
// disruption replaced, or a failed attempt before the last, is older.
func newestPod(pods []corev1.Pod) *corev1.Pod {
	var newest *corev1.Pod
	for i := range pods {
		if p := &pods[i]; newest == nil || newest.CreationTimestamp.Before(&p.CreationTimestamp) {
			newest = p
		}
	}
	return newest
}

// runUpdate is what recording changes: the records that enter status, and
// the Jobs and pods to finish with once the status holds them.
type runUpdate struct {
	added []ansiblev1alpha1.RunRecord
	// mark are finished Jobs to annotate with jobs.RecordedAnnotation.
	mark []*batchv1.Job
	// release are pods to remove jobs.RunRecordFinalizer from.
	release []*corev1.Pod
}

// record works out, without reading anything, which finished runs of rs are
// not recorded yet (runs is the owner's status.runs, ownerUID its UID) and
// what to finish with after the status patch. A finished Job is recorded
// when it carries jobs.RecordedAnnotation or its name is in runs; a Job an
// older operator made (no jobs.RunRecordFinalizer in its template) also
// when a full runs list is newer than it, for that operator recorded every
// finished Job and trimmed the oldest. Runs of an earlier owner of the same
// name (another UID) are never recorded: their pods are released.
func (rs runSet) record(runs []ansiblev1alpha1.RunRecord, ownerUID types.UID) runUpdate {
	var u runUpdate
	inRuns := map[string]bool{}
	for _, r := range runs {
		inRuns[r.JobName] = true
	}
	otherOwner := func(labels map[string]string) bool {
		uid := labels[jobs.OwnerUIDLabel]
		return uid != "" && uid != string(ownerUID)
	}
	seen := map[string]bool{}
	for i := range rs.jobs {
		job := &rs.jobs[i]
		seen[job.Name] = true
		pods := rs.pods[job.Name]
		if otherOwner(job.Labels) {
			u.release = append(u.release, waitingPods(pods)...)
			continue
		}
		rec, finished := runRecord(job, newestPod(pods))
		if !finished {
			continue
		}
		marked := job.Annotations[jobs.RecordedAnnotation] == "true"
		if !marked && !inRuns[job.Name] && !trimmedLegacy(job, runs) {
			u.added = append(u.added, rec)
		}
		if !marked {
			u.mark = append(u.mark, job)
		}
		u.release = append(u.release, waitingPods(pods)...)
	}
	names := make([]string, 0, len(rs.pods))
	for name := range rs.pods {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		pods := waitingPods(rs.pods[name])
		if seen[name] || len(pods) == 0 {
			continue
		}
		// The Job is gone and its pods wait for the record.
		if otherOwner(pods[0].Labels) {
			u.release = append(u.release, pods...)
			continue
		}
		rec, finished := runRecordFromPods(name, rs.pods[name])
		if !finished {
			continue
		}
		if !inRuns[name] {
			u.added = append(u.added, rec)
		}
		u.release = append(u.release, pods...)
	}
	return u
}

// waitingPods are the pods that still hold jobs.RunRecordFinalizer.
func waitingPods(pods []corev1.Pod) []*corev1.Pod {
	var out []*corev1.Pod
	for i := range pods {
		if slices.Contains(pods[i].Finalizers, jobs.RunRecordFinalizer) {
			out = append(out, &pods[i])
		}
	}
	return out
}

// trimmedLegacy reports whether job was made by an older operator (its
// template lacks jobs.RunRecordFinalizer), which recorded every finished
// Job it saw and kept the newest maxRuns: a job that finished before every
// run of a full list was recorded, and trimmed since.
func trimmedLegacy(job *batchv1.Job, runs []ansiblev1alpha1.RunRecord) bool {
	if len(runs) < maxRuns || slices.Contains(job.Spec.Template.Finalizers, jobs.RunRecordFinalizer) {
		return false
	}
	rec, _ := runRecord(job, nil)
	done := completion(rec)
	for _, r := range runs {
		if c := completion(r); c.Before(&done) {
			return false
		}
	}
	return true
}

// mergeRuns adds added to runs, newest first, and keeps the newest maxRuns.
func mergeRuns(runs, added []ansiblev1alpha1.RunRecord) []ansiblev1alpha1.RunRecord {
	if len(added) == 0 && sort.SliceIsSorted(runs, func(i, j int) bool { return newer(runs[i], runs[j]) }) {
		return runs
	}
	all := append(slices.Clone(added), runs...)
	sort.SliceStable(all, func(i, j int) bool { return newer(all[i], all[j]) })
	if len(all) > maxRuns {
		all = all[:maxRuns]
	}
	return all
}

func newer(a, b ansiblev1alpha1.RunRecord) bool {
	ca, cb := completion(a), completion(b)
	return cb.Before(&ca)
}

func completion(r ansiblev1alpha1.RunRecord) metav1.Time {
	if r.CompletionTime != nil {
		return *r.CompletionTime
	}
	return metav1.Time{}
}

// finish marks the recorded Jobs and releases the pods, once the status
// holds the records. A Job an older operator made for a manual run gets
// the TTL that manual runs have now (it had none).
func (u runUpdate) finish(ctx context.Context, c client.Client) error {
	for _, job := range u.mark {
		patch := map[string]any{"metadata": map[string]any{"annotations": map[string]string{jobs.RecordedAnnotation: "true"}}}
		if job.Annotations[jobs.TriggerAnnotation] == jobs.TriggerManual && job.Spec.TTLSecondsAfterFinished == nil {
			patch["spec"] = map[string]any{"ttlSecondsAfterFinished": jobs.ManualRunTTLSeconds}
		}
		b, err := json.Marshal(patch)
		if err != nil {
			return err
		}
		if err := c.Patch(ctx, job, client.RawPatch(types.MergePatchType, b), client.FieldOwner(FieldOwner)); client.IgnoreNotFound(err) != nil {
			return fmt.Errorf("failed to mark Job %q recorded: %w", job.Name, err)
		}
	}
	return releasePods(ctx, c, u.release)
}

// releaseFinalizerPatch removes jobs.RunRecordFinalizer and no other
// finalizer (the Job controller's own may come and go meanwhile).
var releaseFinalizerPatch = client.RawPatch(types.StrategicMergePatchType,
	[]byte(`{"metadata":{"$deleteFromPrimitiveList/finalizers":["`+jobs.RunRecordFinalizer+`"]}}`))

func releasePods(ctx context.Context, c client.Client, pods []*corev1.Pod) error {
	for _, p := range pods {
		if err := c.Patch(ctx, p, releaseFinalizerPatch, client.FieldOwner(FieldOwner)); client.IgnoreNotFound(err) != nil {
			return fmt.Errorf("failed to remove finalizer %s from pod %q: %w", jobs.RunRecordFinalizer, p.Name, err)
		}
	}
	return nil
}

// releaseOwnerless releases the pods of the runs of kind/name, which no
// longer exists: nothing is left to record them in, and without the release
// the garbage collector could never delete them.
func releaseOwnerless(ctx context.Context, c client.Client, namespace, kind, name string) error {
	rs, err := listRuns(ctx, c, namespace, kind, name)
	if err != nil {
		return err
	}
	var pods []*corev1.Pod
	for _, ps := range rs.pods {
		pods = append(pods, waitingPods(ps)...)
	}
	return releasePods(ctx, c, pods)
}

// runRecord turns a finished Job (and its pod) into a run record; finished
// is false while the Job runs.
func runRecord(job *batchv1.Job, pod *corev1.Pod) (rec ansiblev1alpha1.RunRecord, finished bool) {
	rec = ansiblev1alpha1.RunRecord{
		RunID:     job.Annotations[jobs.RunIDAnnotation],
		JobName:   job.Name,
		StartTime: job.Status.StartTime,
		Commit:    job.Annotations[jobs.RevisionAnnotation],
	}
	if rec.RunID == "" {
		rec.RunID = job.Name
	}
	for _, c := range job.Status.Conditions {
		if c.Status != corev1.ConditionTrue {
			continue
		}
		switch c.Type {
		case batchv1.JobComplete:
			rec.Result, rec.Reason = ansiblev1alpha1.RunSucceeded, "Succeeded"
		case batchv1.JobFailed:
			rec.Result, rec.Reason, rec.Message = ansiblev1alpha1.RunFailed, c.Reason, c.Message
		default:
			continue
		}
		t := c.LastTransitionTime
		rec.CompletionTime = &t
		finished = true
	}
	if !finished {
		return rec, false
	}
	if job.Status.CompletionTime != nil {
		rec.CompletionTime = job.Status.CompletionTime
	}
	if pod != nil {
		fillFromPod(&rec, pod)
	}
	return rec, true
}

// fillFromPod takes the image digest that really ran (the pod's imageID:
// containerd reports the digest of what it pulled, so an executor pinned by
// an index digest records that index digest, not the child's) and the
// runner's summary from the termination message.
func fillFromPod(rec *ansiblev1alpha1.RunRecord, pod *corev1.Pod) {
	for _, cs := range pod.Status.ContainerStatuses {
		if cs.Name != jobs.ExecutorContainerName {
			continue
		}
		if _, digest, ok := strings.Cut(cs.ImageID, "@"); ok {
			rec.ImageDigest = digest
		}
		term := cs.State.Terminated
		if term == nil || term.Message == "" {
			continue
		}
		var sum runspec.Summary
		if err := json.Unmarshal([]byte(term.Message), &sum); err != nil {
			continue // not the runner's summary (e.g. a crash message): keep the Job's reason
		}
		if sum.Reason != "" {
			rec.Reason = sum.Reason
		}
		if sum.Message != "" {
			rec.Message = sum.Message
		}
		if sum.Commit != "" {
			rec.Commit = sum.Commit
		}
		rec.Totals = counts(sum.Totals)
		for _, h := range sum.Hosts {
			rec.Hosts = append(rec.Hosts, ansiblev1alpha1.HostRunCounts{Host: h.Host, RunCounts: *counts(h.Counts)})
		}
		for _, f := range sum.Failures {
			rec.FailedTasks = append(rec.FailedTasks, ansiblev1alpha1.FailedTask{Host: f.Host, Task: f.Task, Message: f.Message})
		}
		rec.Truncated = sum.Truncated
	}
}

func counts(c runspec.Counts) *ansiblev1alpha1.RunCounts {
	return &ansiblev1alpha1.RunCounts{OK: int32(c.OK), Changed: int32(c.Changed), Failed: int32(c.Failed), Unreachable: int32(c.Unreachable), Skipped: int32(c.Skipped)}
}

// runRecordFromPods records a run whose Job is gone from its pods: finished
// when every pod is; a pod that succeeded is the outcome, else the newest.
func runRecordFromPods(jobName string, pods []corev1.Pod) (ansiblev1alpha1.RunRecord, bool) {
	var outcome *corev1.Pod
	for i := range pods {
		p := &pods[i]
		switch p.Status.Phase {
		case corev1.PodSucceeded:
			outcome = p
		case corev1.PodFailed:
		default:
			return ansiblev1alpha1.RunRecord{}, false
		}
	}
	if outcome == nil {
		outcome = newestPod(pods)
	}
	rec := ansiblev1alpha1.RunRecord{
		RunID:     outcome.Annotations[jobs.RunIDAnnotation],
		JobName:   jobName,
		StartTime: outcome.Status.StartTime,
		Commit:    outcome.Annotations[jobs.RevisionAnnotation],
		Result:    ansiblev1alpha1.RunFailed,
		Reason:    "PodFailed",
		Message:   "the Job was deleted before the operator saw it finish; this is its last pod's outcome",
	}
	if rec.RunID == "" {
		rec.RunID = jobName
	}
	if outcome.Status.Phase == corev1.PodSucceeded {
		rec.Result, rec.Reason = ansiblev1alpha1.RunSucceeded, "Succeeded"
	}
	for _, cs := range outcome.Status.ContainerStatuses {
		if t := cs.State.Terminated; cs.Name == jobs.ExecutorContainerName && t != nil {
			finished := t.FinishedAt
			rec.CompletionTime = &finished
			if rec.Result == ansiblev1alpha1.RunFailed && t.Reason != "" {
				rec.Reason = t.Reason
			}
		}
	}
	fillFromPod(&rec, outcome)
	return rec, true
}

// announceRuns counts and announces runs that entered status.
func announceRuns(rec events.EventRecorder, obj client.Object, kind string, added []ansiblev1alpha1.RunRecord) {
	for _, r := range added {
		var duration *time.Duration
		if r.StartTime != nil && r.CompletionTime != nil {
			d := r.CompletionTime.Sub(r.StartTime.Time)
			duration = &d
		}
		metrics.ObserveRun(kind, r.Result == ansiblev1alpha1.RunSucceeded, duration)
		if rec == nil {
			continue
		}
		if r.Result == ansiblev1alpha1.RunSucceeded {
			rec.Eventf(obj, nil, "Normal", "RunSucceeded", "Run", "run %s (Job %s) succeeded at commit %s", r.RunID, r.JobName, r.Commit)
		} else {
			rec.Eventf(obj, nil, "Warning", "RunFailed", "Run", "run %s (Job %s) failed: %s %s", r.RunID, r.JobName, r.Reason, r.Message)
		}
	}
}

// noteManualRun brings status.lastManualRun (*last) up to date with the
// runs that entered status: the one it names has finished.
func noteManualRun(last *ansiblev1alpha1.ManualRun, namespace string, added []ansiblev1alpha1.RunRecord) {
	if last == nil || last.Status != ansiblev1alpha1.ManualRunRunning {
		return
	}
	for _, r := range added {
		if r.RunID != last.RunID || last.JobRef != jobRef(namespace, r.JobName) {
			continue
		}
		last.CompletionTime = r.CompletionTime
		last.Status, last.Reason = ansiblev1alpha1.ManualRunFailed, ansiblev1alpha1.ManualRunJobFailedReason
		last.Message = fmt.Sprintf("manual run Job %s failed: %s %s", r.JobName, r.Reason, r.Message)
		if r.Result == ansiblev1alpha1.RunSucceeded {
			last.Status, last.Reason = ansiblev1alpha1.ManualRunSucceeded, ansiblev1alpha1.ManualRunJobSucceededReason
			last.Message = fmt.Sprintf("manual run Job %s succeeded", r.JobName)
		}
		last.Message = strings.TrimSpace(last.Message)
	}
}

// jobRef is a Job as namespace/name, the Python operator's form.
func jobRef(namespace, name string) string { return namespace + "/" + name }

// imagePullWaiting are the container waiting reasons of a failed image pull.
var imagePullWaiting = map[string]bool{"ErrImagePull": true, "ImagePullBackOff": true, "InvalidImageName": true, "ErrImageNeverPull": true}

// observeImagePulls sets ImagePullFailed from the pods of active runs, with
// a message naming the image and what to check (emitImagePullFailure
// announces it once the status is written).
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
				job.Annotations[jobs.RunIDAnnotation], job.Name, cs.Image, w.Reason, w.Message)
			setCondition(obj, ansiblev1alpha1.ImagePullFailedCondition, metav1.ConditionTrue, w.Reason, msg)
			return
		}
	}
	removeCondition(obj, ansiblev1alpha1.ImagePullFailedCondition)
}

// ownerOfPod maps a run pod to its Playbook or Schedule: by the owner-name
// annotation of its template, else (pods of older operators) through its
// Job. Pods whose Job is gone still reach their owner, which records or
// releases them.
func ownerOfPod(c client.Reader, kind string) func(context.Context, client.Object) []reconcile.Request {
	return func(ctx context.Context, o client.Object) []reconcile.Request {
		if o.GetLabels()[jobs.OwnerKindLabel] != kind {
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
		if job.Labels[jobs.OwnerKindLabel] != kind || job.Annotations[jobs.OwnerNameAnnotation] == "" {
			return nil
		}
		return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: job.Namespace, Name: job.Annotations[jobs.OwnerNameAnnotation]}}}
	}
}
