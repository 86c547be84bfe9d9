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

// Kinds of this API group, as they appear in owner references, the owner
// kind label of run objects and the operator's metrics.
const (
	RepositoryKind = "Repository"
	PlaybookKind   = "Playbook"
	ScheduleKind   = "Schedule"
)

// DefaultBranch is the branch a Repository follows when spec.branch is
// unset (the CRD defaults it on write; GetBranch supplies it for objects
// stored without it). Every reader of the branch goes through GetBranch.
const DefaultBranch = "main"

// RunNowAnnotation, on a Playbook or a Schedule, asks for one manual run;
// its value is the run id. An id equal to status.lastHandledRunNow, or
// carried by an existing run Job, is a no-op. The operator never removes
// the annotation (GitOps would apply it again).
const RunNowAnnotation = "ansible.cloud37.dev/run-now"

// Labels on the Jobs, CronJobs and pods of runs, which users and scripts
// select by (kubectl get jobs -l ansible.cloud37.dev/owner-name=site). The
// operator also sets the app.kubernetes.io labels and its own bookkeeping
// labels, defined with the Job builder.
const (
	// OwnerKindLabel is the kind of the object a run belongs to:
	// PlaybookKind or ScheduleKind.
	OwnerKindLabel = "ansible.cloud37.dev/owner-kind"
	// OwnerNameLabel is the name of the object a run belongs to, made a
	// valid label value (names over 63 characters are shortened with a
	// hash).
	OwnerNameLabel = "ansible.cloud37.dev/owner-name"
	// RunIDLabel is on a manual run's Job and pods: its run id, made a
	// valid label value, as the Python operator labelled them.
	RunIDLabel = "ansible.cloud37.dev/run-id"
	// RunTypeLabel is on a manual run's Job and pods, with the value
	// RunTypeManual (the Python operator's label).
	RunTypeLabel = "ansible.cloud37.dev/run-type"
	// RunTypeManual is the value of RunTypeLabel.
	RunTypeManual = "manual"
)

// Annotations on run Jobs (and on a CronJob's jobTemplate, so the Jobs it
// creates carry them too), which users and scripts read.
const (
	// RunIDAnnotation is the run id of a manual run (the value of
	// RunNowAnnotation), exactly as given. Scheduled runs have none: their
	// run id is the Job's name.
	RunIDAnnotation = "ansible.cloud37.dev/run-id"
	// RevisionAnnotation is the repository commit the run checks out.
	RevisionAnnotation = "ansible.cloud37.dev/revision"
	// TriggerAnnotation says why the run exists: TriggerManual or
	// TriggerScheduled.
	TriggerAnnotation = "ansible.cloud37.dev/trigger"
	// TriggerManual is a run started by RunNowAnnotation.
	TriggerManual = "manual"
	// TriggerScheduled is a run started by a Schedule's CronJob.
	TriggerScheduled = "scheduled"
)
