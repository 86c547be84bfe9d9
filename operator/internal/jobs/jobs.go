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
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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

// BuildJob builds the Job of a manual (or replayed) run of in.Playbook
// that belongs to the Playbook or Schedule ownerKind/ownerName. It is
// ownerless: the caller sets the controller reference. Its name is
// JobName(ownerKind, ownerName, runID), so one run id makes at most one Job
// per owner. A failed playbook is not retried blindly (backoffLimit 0), and
// the Job is kept until the run is recorded (no ttlSecondsAfterFinished).
func BuildJob(in Inputs, ownerKind, ownerName, runID string) (*batchv1.Job, error) {
	if err := checkOwner(ownerKind, ownerName); err != nil {
		return nil, err
	}
	if runID == "" {
		return nil, errors.New("a manual run needs a run id")
	}
	tmpl, err := podTemplate(in, runID)
	if err != nil {
		return nil, err
	}
	labels := OwnerLabels(ownerKind, ownerName)
	tmpl.Labels = maps.Clone(labels)
	tmpl.Annotations[RunIDAnnotation] = runID
	return &batchv1.Job{
		TypeMeta: metav1.TypeMeta{APIVersion: batchv1.SchemeGroupVersion.String(), Kind: "Job"},
		ObjectMeta: metav1.ObjectMeta{
			Name:      JobName(ownerKind, ownerName, runID),
			Namespace: in.Playbook.Namespace,
			Labels:    labels,
			Annotations: map[string]string{
				RunIDAnnotation:     runID,
				RevisionAnnotation:  in.Repository.Status.ResolvedRevision,
				TriggerAnnotation:   TriggerManual,
				OwnerNameAnnotation: ownerName,
			},
		},
		Spec: batchv1.JobSpec{
			BackoffLimit:          ptr.To[int32](0),
			ActiveDeadlineSeconds: copyPtr(runtimeOf(in.Playbook).ActiveDeadlineSeconds),
			Template:              tmpl,
		},
	}, nil
}

// BuildCronJob builds the CronJob of Schedule s (TypeMeta set, for
// server-side apply) running in.Playbook on computedSchedule, the cron
// expression with random macros resolved. Its Jobs carry the labels and
// the revision and trigger annotations through jobTemplate.metadata. The
// executor resources are in.Resources, else s.spec.resources, else the
// Playbook's.
func BuildCronJob(in Inputs, s *ansiblev1alpha1.Schedule, computedSchedule string) (*batchv1.CronJob, error) {
	if s == nil {
		return nil, errors.New("a CronJob needs its Schedule")
	}
	if computedSchedule == "" {
		return nil, fmt.Errorf("schedule %q has no computed schedule", s.Name)
	}
	if in.Resources == nil {
		in.Resources = s.Spec.Resources
	}
	tmpl, err := podTemplate(in, "")
	if err != nil {
		return nil, err
	}
	labels := OwnerLabels(OwnerKindSchedule, s.Name)
	tmpl.Labels = maps.Clone(labels)

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
			Labels:    maps.Clone(labels),
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
						RevisionAnnotation:  in.Repository.Status.ResolvedRevision,
						TriggerAnnotation:   TriggerScheduled,
						OwnerNameAnnotation: s.Name,
					},
				},
				Spec: batchv1.JobSpec{
					BackoffLimit:            ptr.To(orDefault(s.Spec.BackoffLimit, defaultScheduleBackoffLimit)),
					TTLSecondsAfterFinished: ptr.To(orDefault(s.Spec.TTLSecondsAfterFinished, defaultTTLSecondsAfter)),
					ActiveDeadlineSeconds:   copyPtr(runtimeOf(in.Playbook).ActiveDeadlineSeconds),
					Template:                tmpl,
				},
			},
		},
	}, nil
}

func checkOwner(kind, name string) error {
	if kind != OwnerKindPlaybook && kind != OwnerKindSchedule {
		return fmt.Errorf("owner kind %q is not %s or %s", kind, OwnerKindPlaybook, OwnerKindSchedule)
	}
	if name == "" {
		return errors.New("a run needs its owner's name")
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
