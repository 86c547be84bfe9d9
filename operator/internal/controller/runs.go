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
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	ansiblev1alpha1 "github.com/cloud37/ansible-playbook-operator/operator/api/v1alpha1"
	"github.com/cloud37/ansible-playbook-operator/operator/internal/jobs"
	"github.com/cloud37/ansible-playbook-operator/operator/internal/runspec"
)

// The pure part of the run tracker (tracker.go): turning a run's Jobs and
// pods into status records, without reading or writing anything.

// maxRuns is how many finished runs a status keeps.
const maxRuns = 10

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

// runRecord turns a finished Job (and its pod) into a run record; finished
// is false while the Job runs.
func runRecord(job *batchv1.Job, pod *corev1.Pod) (rec ansiblev1alpha1.RunRecord, finished bool) {
	rec = ansiblev1alpha1.RunRecord{
		RunID:     job.Annotations[ansiblev1alpha1.RunIDAnnotation],
		JobName:   job.Name,
		StartTime: job.Status.StartTime,
		Commit:    job.Annotations[ansiblev1alpha1.RevisionAnnotation],
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
		RunID:     outcome.Annotations[ansiblev1alpha1.RunIDAnnotation],
		JobName:   jobName,
		StartTime: outcome.Status.StartTime,
		Commit:    outcome.Annotations[ansiblev1alpha1.RevisionAnnotation],
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
