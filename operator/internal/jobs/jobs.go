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

package jobs

import (
	"errors"
	"fmt"
	"maps"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	ansiblev1alpha1 "github.com/cloud37/ansible-playbook-operator/operator/api/v1alpha1"
)

// Defaults of Schedule fields for objects stored without them (the CRD
// defaults them on write).
const (
	defaultScheduleBackoffLimit int32 = 3
	defaultHistoryLimit         int32 = 1
	defaultTTLSecondsAfter      int32 = 3600
)

// ManualRunTTLSeconds is the ttlSecondsAfterFinished of a Playbook's manual
// run Jobs (the Python operator's value); a Schedule's manual runs take the
// Schedule's. The run's pods keep the Job until the run is recorded
// (RunRecordFinalizer).
const ManualRunTTLSeconds int32 = 3600

// Owner is the Playbook or Schedule a run belongs to.
type Owner struct {
	// Kind is ansiblev1alpha1.PlaybookKind or ansiblev1alpha1.ScheduleKind.
	Kind string
	Name string
	UID  types.UID
}

// BuildJob builds the Job of a manual run of in.Playbook that belongs to
// owner; for a Schedule's run, in.Schedule is that Schedule. It is
// ownerless: the caller sets the controller reference. Its name is
// JobName(owner.Kind, owner.Name, runID), so one run id makes at most one
// Job per owner. A Playbook's failed run is not retried blindly
// (backoffLimit 0) and its Job is deleted ManualRunTTLSeconds after it
// finished; a Schedule's manual run has the Schedule's backoffLimit and
// ttlSecondsAfterFinished, as its scheduled runs do.
func BuildJob(in Inputs, owner Owner, runID string) (*batchv1.Job, error) {
	if err := checkOwner(owner, in.Schedule); err != nil {
		return nil, err
	}
	if runID == "" {
		return nil, errors.New("a manual run needs a run id")
	}
	tmpl, err := podTemplate(in, runID)
	if err != nil {
		return nil, err
	}
	labels := runLabels(owner)
	labels[ansiblev1alpha1.RunIDLabel], labels[ansiblev1alpha1.RunTypeLabel] = RunIDLabelValue(runID), ansiblev1alpha1.RunTypeManual
	tmpl.Labels = maps.Clone(labels)
	tmpl.Annotations[ansiblev1alpha1.RunIDAnnotation] = runID
	tmpl.Annotations[OwnerNameAnnotation] = owner.Name
	backoff, ttl := int32(0), ManualRunTTLSeconds
	if s := in.Schedule; s != nil {
		backoff = orDefault(s.Spec.BackoffLimit, defaultScheduleBackoffLimit)
		ttl = orDefault(s.Spec.TTLSecondsAfterFinished, defaultTTLSecondsAfter)
	}
	return &batchv1.Job{
		TypeMeta: metav1.TypeMeta{APIVersion: batchv1.SchemeGroupVersion.String(), Kind: "Job"},
		ObjectMeta: metav1.ObjectMeta{
			Name:      JobName(owner.Kind, owner.Name, runID),
			Namespace: in.Playbook.Namespace,
			Labels:    labels,
			Annotations: map[string]string{
				ansiblev1alpha1.RunIDAnnotation:    runID,
				ansiblev1alpha1.RevisionAnnotation: in.Repository.Status.ResolvedRevision,
				ansiblev1alpha1.TriggerAnnotation:  ansiblev1alpha1.TriggerManual,
				OwnerNameAnnotation:                owner.Name,
			},
		},
		Spec: batchv1.JobSpec{
			BackoffLimit:            ptr.To(backoff),
			TTLSecondsAfterFinished: ptr.To(ttl),
			PodFailurePolicy:        podFailurePolicy(),
			ActiveDeadlineSeconds:   copyPtr(runtimeOf(in.Playbook).ActiveDeadlineSeconds),
			Template:                tmpl,
		},
	}, nil
}

// BuildCronJob builds the CronJob of Schedule s (TypeMeta set, for
// server-side apply) running in.Playbook on computedSchedule, the cron
// expression with random macros resolved. Its Jobs carry the labels and
// the revision and trigger annotations through jobTemplate.metadata. The
// executor resources are s.spec.resources, else the Playbook's.
func BuildCronJob(in Inputs, s *ansiblev1alpha1.Schedule, computedSchedule string) (*batchv1.CronJob, error) {
	if s == nil {
		return nil, errors.New("a CronJob needs its Schedule")
	}
	if computedSchedule == "" {
		return nil, fmt.Errorf("schedule %q has no computed schedule", s.Name)
	}
	in.Schedule = s
	tmpl, err := podTemplate(in, "")
	if err != nil {
		return nil, err
	}
	owner := Owner{Kind: ansiblev1alpha1.ScheduleKind, Name: s.Name, UID: s.UID}
	labels := runLabels(owner)
	tmpl.Labels = maps.Clone(labels)
	tmpl.Annotations[OwnerNameAnnotation] = s.Name

	policy := batchv1.ConcurrencyPolicy(s.Spec.ConcurrencyPolicy)
	if policy == "" {
		policy = batchv1.ForbidConcurrent
	}
	var tz *string
	if s.Spec.TimeZone != "" {
		tz = ptr.To(s.Spec.TimeZone)
	}
	return &batchv1.CronJob{
		TypeMeta: metav1.TypeMeta{APIVersion: batchv1.SchemeGroupVersion.String(), Kind: "CronJob"},
		ObjectMeta: metav1.ObjectMeta{
			Name:      CronJobName(s.Name),
			Namespace: s.Namespace,
			Labels:    OwnerLabels(ansiblev1alpha1.ScheduleKind, s.Name),
		},
		Spec: batchv1.CronJobSpec{
			Schedule:                   computedSchedule,
			TimeZone:                   tz,
			StartingDeadlineSeconds:    copyPtr(s.Spec.StartingDeadlineSeconds),
			ConcurrencyPolicy:          policy,
			Suspend:                    ptr.To(s.Spec.Suspend),
			SuccessfulJobsHistoryLimit: ptr.To(orDefault(s.Spec.SuccessfulJobsHistoryLimit, defaultHistoryLimit)),
			FailedJobsHistoryLimit:     ptr.To(orDefault(s.Spec.FailedJobsHistoryLimit, defaultHistoryLimit)),
			JobTemplate: batchv1.JobTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{
					Labels: labels,
					Annotations: map[string]string{
						ansiblev1alpha1.RevisionAnnotation: in.Repository.Status.ResolvedRevision,
						ansiblev1alpha1.TriggerAnnotation:  ansiblev1alpha1.TriggerScheduled,
						OwnerNameAnnotation:                s.Name,
					},
				},
				Spec: batchv1.JobSpec{
					BackoffLimit:            ptr.To(orDefault(s.Spec.BackoffLimit, defaultScheduleBackoffLimit)),
					TTLSecondsAfterFinished: ptr.To(orDefault(s.Spec.TTLSecondsAfterFinished, defaultTTLSecondsAfter)),
					PodFailurePolicy:        podFailurePolicy(),
					ActiveDeadlineSeconds:   copyPtr(runtimeOf(in.Playbook).ActiveDeadlineSeconds),
					Template:                tmpl,
				},
			},
		},
	}, nil
}

// podFailurePolicy keeps disruptions out of backoffLimit: a pod that a node
// drain, an eviction or a preemption killed (condition DisruptionTarget) is
// replaced without counting as a failed attempt, so a drain never fails a
// run (not even a manual one, whose backoffLimit is 0). Every other pod
// failure counts, those before ansible-playbook starts (fetch, galaxy)
// included: a retry may help with a flaky git server, and backoffLimit
// bounds it.
func podFailurePolicy() *batchv1.PodFailurePolicy {
	return &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{{
		Action: batchv1.PodFailurePolicyActionIgnore,
		OnPodConditions: []batchv1.PodFailurePolicyOnPodConditionsPattern{{
			Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue,
		}},
	}}}
}

// runLabels are the labels of a run's Job and pods: the owner labels and
// the owner's UID.
func runLabels(owner Owner) map[string]string {
	l := OwnerLabels(owner.Kind, owner.Name)
	if owner.UID != "" {
		l[OwnerUIDLabel] = string(owner.UID)
	}
	return l
}

func checkOwner(o Owner, s *ansiblev1alpha1.Schedule) error {
	switch {
	case o.Kind != ansiblev1alpha1.PlaybookKind && o.Kind != ansiblev1alpha1.ScheduleKind:
		return fmt.Errorf("owner kind %q is not %s or %s", o.Kind, ansiblev1alpha1.PlaybookKind, ansiblev1alpha1.ScheduleKind)
	case o.Name == "":
		return errors.New("a run needs its owner's name")
	case o.Kind == ansiblev1alpha1.ScheduleKind && (s == nil || s.Name != o.Name):
		return fmt.Errorf("the run of schedule %q needs that Schedule in Inputs.Schedule", o.Name)
	case o.Kind == ansiblev1alpha1.PlaybookKind && s != nil:
		return fmt.Errorf("the run of playbook %q has a Schedule in Inputs.Schedule", o.Name)
	}
	return nil
}

func copyPtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	return ptr.To(*p)
}

func orDefault[T any](p *T, def T) T {
	if p == nil {
		return def
	}
	return *p
}
