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

// Condition types. Polarity says which status is the healthy one:
// "normal-true" conditions are True when all is well, "abnormal-true"
// conditions are True when something needs attention. Every condition carries
// the observedGeneration it was computed for and a lastTransitionTime. Each
// doc says where the operator sets it (internal/controller): Ready,
// Reconciling and Stalled only by the one summarizer, from the outcome of
// the steps; the others by the one step named.
const (
	// ReadyCondition summarizes an object (normal-true); set by the
	// summarizer on every kind after a complete observation. True: the
	// object is fully reconciled for its current generation and usable by
	// its dependents (a Repository resolved its revision, a Playbook
	// validated its Repository and paths, a Schedule's CronJob is in sync).
	// False: it is not, and the reason is that of the step that decided it.
	// Absent until the first complete observation; while an object waits
	// for a dependency that is itself still being reconciled, Ready keeps
	// its last value and status.observedGeneration lags (kstatus: in
	// progress). A failed run does not make a Playbook or Schedule not
	// Ready: runs are recorded in status.runs.
	ReadyCondition = "Ready"

	// ReconcilingCondition is the kstatus progress condition
	// (abnormal-true); set by the summarizer on Playbooks and Schedules. It
	// is present only while True, while work that spans reconciles is
	// under way: a manual run the operator started (status.lastManualRun
	// Running) that has not finished. It is removed when the run is
	// recorded, and while the object is Stalled.
	ReconcilingCondition = "Reconciling"

	// StalledCondition is the kstatus failure condition (abnormal-true);
	// set by the summarizer on every kind. It is present only while True:
	// the object cannot make progress until its spec or something it
	// references is changed, and the message says what to change. It is
	// removed when that is resolved.
	StalledCondition = "Stalled"

	// AuthValidCondition is set on Repositories (normal-true) by the step
	// that resolves the revision. True: the credentials named by spec.auth
	// (and the known_hosts ConfigMap for ssh) exist, have the expected keys
	// and were accepted by the git server, or the repository needs none.
	// False: one of these is missing or was rejected; the message names
	// which. Unknown: the git server could not be asked.
	AuthValidCondition = "AuthValid"

	// CloneReadyCondition (normal-true) is set on Repositories by the step
	// that resolves the revision, and on Playbooks by the path check. On a
	// Repository, True: the branch or revision was resolved to a commit
	// (status.resolvedRevision) with git ls-remote, so runs can fetch it;
	// False: the repository, branch or revision could not be reached or
	// does not exist. On a Playbook, True: its playbook, inventory and
	// ansible.cfg paths exist at that commit; False: one does not (reason
	// InvalidPath); Unknown: they could not be checked, and the run fails
	// fast naming a missing path.
	CloneReadyCondition = "CloneReady"

	// BlockedByConcurrencyCondition is set on Schedules (abnormal-true) by
	// the step that records runs. True: a run of this Schedule is still
	// active, so with concurrencyPolicy Forbid the next scheduled run is
	// skipped (with Allow or Replace it only reports the overlap). False:
	// no run is active. It is kept as False rather than removed, unlike
	// other abnormal-true conditions, because scripts written for the
	// Python operator wait for BlockedByConcurrency=False.
	BlockedByConcurrencyCondition = "BlockedByConcurrency"

	// ImagePullFailedCondition is set on Playbooks and Schedules by the
	// run tracker: True while the pod of an active run cannot pull its
	// executor image (ErrImagePull, ImagePullBackOff, InvalidImageName,
	// ErrImageNeverPull; the reason is the kubelet's); abnormal-true:
	// present only while True. A failed run does not flip Ready, so this is
	// where a stuck run shows.
	ImagePullFailedCondition = "ImagePullFailed"
)

// Condition reasons. Each names the conditions and the status it is used
// with; Ready carries the reason of the condition that decided it.
const (
	// ProgressingReason: Reconciling=True while a manual run is under way.
	ProgressingReason = "Progressing"

	// ValidatedReason: Ready=True on a Repository (revision resolved) or a
	// Playbook (Repository ready, paths found); AuthValid=True and
	// CloneReady=True.
	ValidatedReason = "Validated"

	// ScheduledReason: Ready=True on a Schedule whose CronJob is in sync.
	ScheduledReason = "Scheduled"

	// InvalidSpecReason: Stalled=True and Ready=False for a spec the API
	// server accepted but that cannot work, for example a
	// repositoryRef.namespace other than the object's own namespace, or a
	// run whose Job cannot be built; also Ready=False (not stalled) while
	// the operator config does not parse.
	InvalidSpecReason = "InvalidSpec"

	// SecretNotFoundReason: AuthValid=False (and Ready=False) because a
	// Secret named by the spec does not exist.
	SecretNotFoundReason = "SecretNotFound"

	// InvalidSecretReason: AuthValid=False because a Secret lacks the key
	// the auth method needs (ssh-privatekey, token, or username and
	// password).
	InvalidSecretReason = "InvalidSecret"

	// ConfigMapNotFoundReason: AuthValid=False because the known_hosts
	// ConfigMap does not exist or has no known_hosts key.
	ConfigMapNotFoundReason = "ConfigMapNotFound"

	// AuthenticationFailedReason: AuthValid=False because the git server
	// rejected the credentials or the ssh host key.
	AuthenticationFailedReason = "AuthenticationFailed"

	// HostKeyMismatchReason: AuthValid=False because the ssh server's host
	// key is not in the known_hosts ConfigMap (unknown host or changed key)
	// while strictHostKeyChecking is on.
	HostKeyMismatchReason = "HostKeyMismatch"

	// GitOperationFailedReason: CloneReady=False because git ls-remote
	// failed for another reason (network, DNS, TLS, server error); retried.
	GitOperationFailedReason = "GitOperationFailed"

	// BranchNotFoundReason: CloneReady=False because spec.branch does not
	// exist on the remote.
	BranchNotFoundReason = "BranchNotFound"

	// RevisionNotFoundReason: CloneReady=False (and Ready=False) because the abbreviated
	// spec.revision matches no commit of the remote's branches and tags,
	// matches several, or the repository is too large to look it up.
	RevisionNotFoundReason = "RevisionNotFound"

	// RepoNotReadyReason: Ready=False on a Playbook whose Repository does
	// not exist or is not Ready.
	RepoNotReadyReason = "RepoNotReady"

	// InvalidPathReason: Ready=False and CloneReady=False on a Playbook
	// whose playbookPath, inventory or ansibleCfgPath does not exist at the
	// resolved commit.
	InvalidPathReason = "InvalidPath"

	// ExecutorNotPinnedReason: Ready=False and Stalled=True on a Playbook
	// whose executor image has no digest while the operator config sets
	// requirePinnedExecutor.
	ExecutorNotPinnedReason = "ExecutorNotPinned"

	// ServiceAccountNotFoundReason: Ready=False because the executor service
	// account does not exist in the namespace.
	ServiceAccountNotFoundReason = "ServiceAccountNotFound"

	// PersistentVolumeClaimNotFoundReason: Ready=False because the cache
	// PersistentVolumeClaim does not exist in the namespace.
	PersistentVolumeClaimNotFoundReason = "PersistentVolumeClaimNotFound"

	// PlaybookNotReadyReason: Ready=False on a Schedule whose Playbook does
	// not exist or is not Ready.
	PlaybookNotReadyReason = "PlaybookNotReady"

	// CronJobConflictReason: Ready=False and Stalled=True on a Schedule
	// whose CronJob name is taken by a CronJob it does not own.
	CronJobConflictReason = "CronJobConflict"

	// ConcurrentJobsRunningReason: BlockedByConcurrency=True while a run of
	// the Schedule is active.
	ConcurrentJobsRunningReason = "ConcurrentJobsRunning"

	// NoConcurrentJobsReason: BlockedByConcurrency=False.
	NoConcurrentJobsReason = "NoConcurrentJobs"
)
