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
	"sort"
	"strings"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	ansiblev1alpha1 "github.com/cloud37/ansible-playbook-operator/operator/api/v1alpha1"
	"github.com/cloud37/ansible-playbook-operator/operator/internal/jobs"
	"github.com/cloud37/ansible-playbook-operator/operator/internal/metrics"
	"github.com/cloud37/ansible-playbook-operator/operator/internal/opconfig"
	"github.com/cloud37/ansible-playbook-operator/operator/internal/runspec"
)

const (
	// RunNowAnnotation asks for a manual run; its value is the run id. The
	// operator never removes it (GitOps would apply it again).
	RunNowAnnotation = "ansible.cloud37.dev/run-now"
	// maxRuns is how many finished runs a status keeps.
	maxRuns = 10
	// executorContainer is the executor's container name in run pods.
	executorContainer = "ansible-runner"
)

// Environment is what run building needs from the operator's own setup.
type Environment struct {
	// ConfigMap is the OperatorConfig ConfigMap (key config.yaml).
	ConfigMap types.NamespacedName
	// OperatorImage is the operator's own image, as its Pod names it; the
	// init container of every run copies playbook-runner from it.
	OperatorImage string
}

// config reads the OperatorConfig; a missing ConfigMap means the defaults.
func (e Environment) config(ctx context.Context, c client.Reader) (opconfig.Config, error) {
	if e.ConfigMap.Name == "" {
		return opconfig.Default(), nil
	}
	cm := &corev1.ConfigMap{}
	if err := c.Get(ctx, e.ConfigMap, cm); err != nil {
		if apierrors.IsNotFound(err) {
			return opconfig.Default(), nil
		}
		return opconfig.Config{}, fmt.Errorf("failed to read the operator config ConfigMap %s: %w", e.ConfigMap, err)
	}
	cfg, err := opconfig.Parse([]byte(cm.Data[opconfig.Key]))
	if err != nil {
		return opconfig.Config{}, fmt.Errorf("ConfigMap %s: %w", e.ConfigMap, err)
	}
	return cfg, nil
}

// sameNamespace checks a reference's optional namespace (the Python
// operator's examples set it; cross-namespace references are not supported).
func sameNamespace(field, refNamespace, namespace string) (string, bool) {
	if refNamespace == "" || refNamespace == namespace {
		return "", true
	}
	return fmt.Sprintf("%s.namespace %q must be empty or this object's namespace %q: references across namespaces are not supported", field, refNamespace, namespace), false
}

// executorPreflight checks what a run of the Playbook needs besides the
// Repository: the executor image pin policy, the service account and the
// cache claim. A non-empty reason makes the Playbook not Ready.
func executorPreflight(ctx context.Context, c client.Reader, pb *ansiblev1alpha1.Playbook, repo *ansiblev1alpha1.Repository, cfg opconfig.Config) (reason, message string, stalled bool, err error) {
	image, pinned := jobs.ExecutorImage(pb, cfg)
	if cfg.RequirePinnedExecutor && !pinned {
		return ansiblev1alpha1.ExecutorNotPinnedReason, fmt.Sprintf("executor image %s has no digest and the operator config sets requirePinnedExecutor: pin it (pin-images pin -w on the manifests, or set spec.runtime.image to repo:tag@sha256:…)", image), true, nil
	}
	sa := cfg.ExecutorDefaults.ServiceAccountName
	if pb.Spec.Runtime != nil && pb.Spec.Runtime.ServiceAccountName != "" {
		sa = pb.Spec.Runtime.ServiceAccountName
	}
	if sa != "" {
		if err := c.Get(ctx, types.NamespacedName{Namespace: pb.Namespace, Name: sa}, &corev1.ServiceAccount{}); err != nil {
			if apierrors.IsNotFound(err) {
				return ansiblev1alpha1.ServiceAccountNotFoundReason, fmt.Sprintf("service account %s/%s for the executor pods does not exist: create it in this namespace (kustomize component executor-rbac) or change the service account", pb.Namespace, sa), false, nil
			}
			return "", "", false, err
		}
	}
	if claim := cacheClaim(repo, cfg); claim != "" {
		if err := c.Get(ctx, types.NamespacedName{Namespace: pb.Namespace, Name: claim}, &corev1.PersistentVolumeClaim{}); err != nil {
			if apierrors.IsNotFound(err) {
				return ansiblev1alpha1.PersistentVolumeClaimNotFoundReason, fmt.Sprintf("cache PersistentVolumeClaim %s/%s does not exist: create it in this namespace (kustomize component pvc-cache) or set cache.strategy none", pb.Namespace, claim), false, nil
			}
			return "", "", false, err
		}
	}
	return "", "", false, nil
}

// cacheClaim is the cache PVC a run mounts: the Repository's, else the operator config's.
func cacheClaim(repo *ansiblev1alpha1.Repository, cfg opconfig.Config) string {
	if repo != nil && repo.Spec.Cache != nil && repo.Spec.Cache.Strategy == ansiblev1alpha1.CacheStrategyPVC {
		return repo.Spec.Cache.PVCName
	}
	if cfg.ExecutorDefaults.Cache.Strategy == "pvc" {
		return cfg.ExecutorDefaults.Cache.PVCName
	}
	return ""
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
		if cs.Name != executorContainer {
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

// recordRuns adds the finished runs among jobs that runs lacks, keeps the
// last maxRuns, and returns the records that are new: each run is counted
// in metrics and announced by an event exactly once, when it enters status.
func recordRuns(ctx context.Context, c client.Reader, kind string, runs []ansiblev1alpha1.RunRecord, jobList []batchv1.Job) ([]ansiblev1alpha1.RunRecord, []ansiblev1alpha1.RunRecord, error) {
	known := map[string]bool{}
	for _, r := range runs {
		known[r.JobName] = true
	}
	var added []ansiblev1alpha1.RunRecord
	for i := range jobList {
		job := &jobList[i]
		if known[job.Name] {
			continue
		}
		if _, done := runRecord(job, nil); !done {
			continue
		}
		pod, err := jobPod(ctx, c, job)
		if err != nil {
			return nil, nil, err
		}
		rec, _ := runRecord(job, pod)
		added = append(added, rec)
	}
	if len(added) == 0 {
		return runs, nil, nil
	}
	all := append(append([]ansiblev1alpha1.RunRecord{}, runs...), added...)
	sort.SliceStable(all, func(i, j int) bool { ci, cj := completion(all[i]), completion(all[j]); return ci.Before(&cj) })
	if len(all) > maxRuns {
		all = all[len(all)-maxRuns:]
	}
	return all, added, nil
}

func completion(r ansiblev1alpha1.RunRecord) metav1.Time {
	if r.CompletionTime != nil {
		return *r.CompletionTime
	}
	return metav1.Time{}
}

// jobPod is the Job's newest pod (from the cache of managed pods).
func jobPod(ctx context.Context, c client.Reader, job *batchv1.Job) (*corev1.Pod, error) {
	pods := &corev1.PodList{}
	if err := c.List(ctx, pods, client.InNamespace(job.Namespace), client.MatchingLabels{"batch.kubernetes.io/job-name": job.Name}); err != nil {
		return nil, fmt.Errorf("failed to list pods of Job %s: %w", job.Name, err)
	}
	var newest *corev1.Pod
	for i := range pods.Items {
		p := &pods.Items[i]
		if newest == nil || newest.CreationTimestamp.Before(&p.CreationTimestamp) {
			newest = p
		}
	}
	return newest, nil
}

// announceRuns counts and announces runs that entered status.
func announceRuns(rec events.EventRecorder, obj client.Object, kind string, added []ansiblev1alpha1.RunRecord) {
	for _, r := range added {
		result := strings.ToLower(string(r.Result))
		metrics.JobRunsTotal.WithLabelValues(kind, result).Inc()
		if r.StartTime != nil && r.CompletionTime != nil {
			metrics.JobRunDuration.WithLabelValues(kind).Observe(r.CompletionTime.Sub(r.StartTime.Time).Seconds())
		}
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

// imagePullWaiting are the container waiting reasons of a failed image pull.
var imagePullWaiting = map[string]bool{"ErrImagePull": true, "ImagePullBackOff": true, "InvalidImageName": true, "ErrImageNeverPull": true}

// observeImagePulls sets ImagePullFailed from the pods of active runs, with
// a message naming the image and what to check (emitImagePullFailure
// announces it once the status is written).
func observeImagePulls(ctx context.Context, c client.Reader, obj conditioned, jobList []batchv1.Job) error {
	for i := range jobList {
		job := &jobList[i]
		if _, done := runRecord(job, nil); done {
			continue
		}
		pod, err := jobPod(ctx, c, job)
		if err != nil || pod == nil {
			return err
		}
		for _, cs := range append(append([]corev1.ContainerStatus{}, pod.Status.InitContainerStatuses...), pod.Status.ContainerStatuses...) {
			w := cs.State.Waiting
			if w == nil || !imagePullWaiting[w.Reason] {
				continue
			}
			msg := fmt.Sprintf("run %s (Job %s) cannot pull image %s: %s %s — check the image name and digest exist in the registry (pin-images verify), and the imagePullSecrets (spec.runtime.imagePullSecrets)",
				job.Annotations[jobs.RunIDAnnotation], job.Name, cs.Image, w.Reason, w.Message)
			setCondition(obj, ansiblev1alpha1.ImagePullFailedCondition, metav1.ConditionTrue, w.Reason, msg)
			return nil
		}
	}
	removeCondition(obj, ansiblev1alpha1.ImagePullFailedCondition)
	return nil
}

// ownerOfPod maps a run pod to its Playbook or Schedule through its Job.
func ownerOfPod(c client.Reader, kind string) func(context.Context, client.Object) []reconcile.Request {
	return func(ctx context.Context, o client.Object) []reconcile.Request {
		name := o.GetLabels()["batch.kubernetes.io/job-name"]
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
