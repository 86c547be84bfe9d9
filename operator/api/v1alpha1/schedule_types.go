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

package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ConcurrencyPolicy says what happens when a scheduled run is due while the
// previous one is still running.
// +kubebuilder:validation:Enum=Allow;Forbid;Replace
type ConcurrencyPolicy string

const (
	// AllowConcurrent starts the new run alongside the running one.
	AllowConcurrent ConcurrencyPolicy = "Allow"
	// ForbidConcurrent skips the new run.
	ForbidConcurrent ConcurrencyPolicy = "Forbid"
	// ReplaceConcurrent stops the running run and starts the new one.
	ReplaceConcurrent ConcurrencyPolicy = "Replace"
)

// ScheduleSpec defines when a Playbook runs.
type ScheduleSpec struct {
	// playbookRef names the Playbook, in this namespace, to run. Required.
	// +required
	PlaybookRef ObjectReference `json:"playbookRef"`

	// schedule is when to run, in the syntax of Kubernetes CronJobs: five
	// fields "minute hour day-of-month month day-of-week" (numbers, *, ?,
	// ranges a-b, steps /n, lists a,b; month and weekday names such as JAN
	// or MON-FRI), a macro (@hourly, @daily, @midnight, @weekly, @monthly,
	// @yearly, @annually, @every <duration>), or a random macro
	// (@hourly-random, @daily-random, @weekly-random, @monthly-random,
	// @yearly-random) that the operator turns into a fixed cron expression
	// derived from the Schedule's namespace and name (see
	// status.computedSchedule). Surrounding whitespace is ignored. The time
	// zone is set with timeZone, not in schedule. Required; at most 256
	// characters.
	// +required
	// +kubebuilder:validation:MaxLength=256
	// +kubebuilder:validation:XValidation:rule="self.contains('TZ') || self.matches('^[[:space:]]*(@(yearly|annually|monthly|weekly|daily|midnight|hourly)|@(hourly|daily|weekly|monthly|yearly)-random|@every ([0-9]+([.][0-9]+)?(ns|us|ms|s|m|h))+|([*?]|0*([0-9]|[1-5][0-9])(-0*([0-9]|[1-5][0-9]))?)(/0*[1-9][0-9]*)?(,([*?]|0*([0-9]|[1-5][0-9])(-0*([0-9]|[1-5][0-9]))?)(/0*[1-9][0-9]*)?)*[[:space:]]+([*?]|0*([0-9]|1[0-9]|2[0-3])(-0*([0-9]|1[0-9]|2[0-3]))?)(/0*[1-9][0-9]*)?(,([*?]|0*([0-9]|1[0-9]|2[0-3])(-0*([0-9]|1[0-9]|2[0-3]))?)(/0*[1-9][0-9]*)?)*[[:space:]]+([*?]|0*([1-9]|[12][0-9]|3[01])(-0*([1-9]|[12][0-9]|3[01]))?)(/0*[1-9][0-9]*)?(,([*?]|0*([1-9]|[12][0-9]|3[01])(-0*([1-9]|[12][0-9]|3[01]))?)(/0*[1-9][0-9]*)?)*[[:space:]]+([*?]|(0*([1-9]|1[0-2])|(?i:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec))(-(0*([1-9]|1[0-2])|(?i:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)))?)(/0*[1-9][0-9]*)?(,([*?]|(0*([1-9]|1[0-2])|(?i:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec))(-(0*([1-9]|1[0-2])|(?i:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)))?)(/0*[1-9][0-9]*)?)*[[:space:]]+([*?]|(0*[0-6]|(?i:sun|mon|tue|wed|thu|fri|sat))(-(0*[0-6]|(?i:sun|mon|tue|wed|thu|fri|sat)))?)(/0*[1-9][0-9]*)?(,([*?]|(0*[0-6]|(?i:sun|mon|tue|wed|thu|fri|sat))(-(0*[0-6]|(?i:sun|mon|tue|wed|thu|fri|sat)))?)(/0*[1-9][0-9]*)?)*)[[:space:]]*$')",message="schedule must be a cron expression with five fields (minute hour day-of-month month day-of-week, for example '0 3 * * *' or '*/15 * * * MON-FRI'), a macro (@hourly, @daily, @midnight, @weekly, @monthly, @yearly, @annually, '@every 2h') or a random macro (@hourly-random, @daily-random, @weekly-random, @monthly-random, @yearly-random)"
	// +kubebuilder:validation:XValidation:rule="!self.contains('TZ')",message="schedule must not contain a time zone (TZ= or CRON_TZ=), Kubernetes CronJobs reject it: set spec.timeZone instead"
	Schedule string `json:"schedule"`

	// timeZone is the IANA time zone the schedule is read in, for example
	// Europe/Berlin or UTC. Optional: unset means the time zone of the
	// kube-controller-manager (usually UTC).
	// +optional
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="self.matches('^[A-Za-z][-A-Za-z0-9_+]*(/[-A-Za-z0-9_+]+)*$') && self.lowerAscii() != 'local'",message="timeZone must be an IANA time zone name such as Europe/Berlin, America/New_York or UTC (Local is not allowed)"
	TimeZone string `json:"timeZone,omitempty"`

	// suspend stops new scheduled runs while true; running runs continue
	// and manual runs are still possible. Default: false.
	// +optional
	// +kubebuilder:default=false
	Suspend bool `json:"suspend,omitempty"`

	// startingDeadlineSeconds: a scheduled run that could not start within
	// this many seconds of its time is skipped. Optional (no deadline);
	// minimum 0.
	// +optional
	// +kubebuilder:validation:Minimum=0
	StartingDeadlineSeconds *int64 `json:"startingDeadlineSeconds,omitempty"`

	// concurrencyPolicy is Allow, Forbid or Replace: what to do when a run is
	// due while the previous one still runs. Default: Forbid.
	// +optional
	// +kubebuilder:default=Forbid
	ConcurrencyPolicy ConcurrencyPolicy `json:"concurrencyPolicy,omitempty"`

	// resources of the executor container for this Schedule's runs. When
	// set they replace the Playbook's runtime.resources. Optional.
	// +optional
	Resources *ResourceRequirements `json:"resources,omitempty"`

	// backoffLimit is how often a failed run's pod is retried before the
	// run counts as failed, for the Schedule's scheduled and manual runs.
	// Failures before ansible-playbook starts (the fetch of the repository,
	// ansible-galaxy) count; a pod that a disruption stopped (node drain,
	// eviction, preemption: condition DisruptionTarget) is replaced without
	// counting. Default: 3; minimum 0.
	// +optional
	// +kubebuilder:default=3
	// +kubebuilder:validation:Minimum=0
	BackoffLimit *int32 `json:"backoffLimit,omitempty"`

	// successfulJobsHistoryLimit is how many finished successful Jobs are
	// kept. Default: 1; minimum 0.
	// +optional
	// +kubebuilder:default=1
	// +kubebuilder:validation:Minimum=0
	SuccessfulJobsHistoryLimit *int32 `json:"successfulJobsHistoryLimit,omitempty"`

	// failedJobsHistoryLimit is how many failed Jobs are kept. Default: 1;
	// minimum 0.
	// +optional
	// +kubebuilder:default=1
	// +kubebuilder:validation:Minimum=0
	FailedJobsHistoryLimit *int32 `json:"failedJobsHistoryLimit,omitempty"`

	// ttlSecondsAfterFinished deletes a finished Job (and its pod and logs)
	// after this many seconds, for the Schedule's scheduled and manual
	// runs; its outcome stays in status.runs (the run's pods keep the Job
	// until the operator recorded it, even with 0). Default: 3600; minimum
	// 0.
	// +optional
	// +kubebuilder:default=3600
	// +kubebuilder:validation:Minimum=0
	TTLSecondsAfterFinished *int32 `json:"ttlSecondsAfterFinished,omitempty"`
}

// ScheduleStatus is the observed state of a Schedule.
type ScheduleStatus struct {
	// observedGeneration is the generation of the spec that status
	// describes; -1 until the operator first reconciled it.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// conditions: Ready (summary), Reconciling (while a manual run is under
	// way) and Stalled (kstatus), BlockedByConcurrency and ImagePullFailed
	// (a run's pod cannot pull its image).
	// +optional
	// +listType=map
	// +listMapKey=type
	// +patchStrategy=merge
	// +patchMergeKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty" patchStrategy:"merge" patchMergeKey:"type"`

	// computedSchedule is the cron expression the CronJob uses: spec.schedule
	// with random macros replaced by fixed values.
	// +optional
	ComputedSchedule string `json:"computedSchedule,omitempty"`

	// nextRunTime is when the next scheduled run is due, computed by the
	// operator in spec.timeZone; unset while suspended.
	// +optional
	NextRunTime *metav1.Time `json:"nextRunTime,omitempty"`

	// lastRunTime is when the last scheduled run was started.
	// +optional
	LastRunTime *metav1.Time `json:"lastRunTime,omitempty"`

	// lastJobRef is the Job of the last run, as namespace/name (the Python
	// operator's form).
	// +optional
	LastJobRef string `json:"lastJobRef,omitempty"`

	// lastRunRevision is the repository commit the last run checked out.
	// +optional
	LastRunRevision string `json:"lastRunRevision,omitempty"`

	// lastHandledRunNow is the last value of the annotation
	// ansible.cloud37.dev/run-now that the operator acted on; setting the
	// annotation to the same value again starts no run.
	// +optional
	LastHandledRunNow string `json:"lastHandledRunNow,omitempty"`

	// lastManualRun is the last manual run, in the shape of a Playbook's.
	// +optional
	LastManualRun *ManualRun `json:"lastManualRun,omitempty"`

	// runs are the last finished runs of this Schedule (scheduled and
	// manual), newest first; at most 10.
	// +optional
	// +kubebuilder:validation:MaxItems=10
	Runs []RunRecord `json:"runs,omitempty"`
}

// Schedule runs a Playbook periodically through a CronJob it owns.
// Annotate it with ansible.cloud37.dev/run-now: <id> to run it once now.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:categories=ansible
// +kubebuilder:printcolumn:name="Playbook",type=string,JSONPath=`.spec.playbookRef.name`
// +kubebuilder:printcolumn:name="Schedule",type=string,JSONPath=`.status.computedSchedule`
// +kubebuilder:printcolumn:name="Suspended",type=boolean,JSONPath=`.spec.suspend`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Status",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].message`
// +kubebuilder:printcolumn:name="Next Run",type=date,JSONPath=`.status.nextRunTime`,priority=1
// +kubebuilder:printcolumn:name="Last Run",type=string,JSONPath=`.status.runs[0].result`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type Schedule struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec defines when the Playbook runs.
	// +required
	Spec ScheduleSpec `json:"spec"`

	// status is the observed state, written by the operator.
	// +optional
	// +kubebuilder:default={"observedGeneration":-1}
	Status ScheduleStatus `json:"status,omitempty"`
}

// GetConditions returns the status conditions.
func (in *Schedule) GetConditions() []metav1.Condition { return in.Status.Conditions }

// SetConditions replaces the status conditions.
func (in *Schedule) SetConditions(c []metav1.Condition) { in.Status.Conditions = c }

// SetObservedGeneration sets status.observedGeneration.
func (in *Schedule) SetObservedGeneration(g int64) { in.Status.ObservedGeneration = g }

// ScheduleList is a list of Schedules.
// +kubebuilder:object:root=true
type ScheduleList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Schedule `json:"items"`
}

func init() {
	SchemeBuilder.Register(&Schedule{}, &ScheduleList{})
}
