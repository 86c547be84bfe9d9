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
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Strategy is an Ansible strategy plugin.
// +kubebuilder:validation:Enum=linear;free
type Strategy string

const (
	// StrategyLinear runs each task on all hosts before the next task.
	StrategyLinear Strategy = "linear"
	// StrategyFree lets each host run through the play as fast as it can.
	StrategyFree Strategy = "free"
)

// ExecutionOptions map to ansible-playbook flags. Runs pass them as separate
// arguments, never through a shell, so values need no quoting.
// +kubebuilder:validation:XValidation:rule="!has(self.step) || !self.step",message="execution.step is not supported: ansible-playbook --step asks for confirmation on a terminal before every task and a Job has none; use startAtTask, tags or checkMode instead, and remove step"
type ExecutionOptions struct {
	// tags runs only tasks with these tags (--tags). Optional; at most 128
	// tags of 1 to 256 characters.
	// +optional
	// +kubebuilder:validation:MaxItems=128
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=256
	Tags []string `json:"tags,omitempty"`

	// skipTags skips tasks with these tags (--skip-tags). Optional; at most
	// 128 tags of 1 to 256 characters.
	// +optional
	// +kubebuilder:validation:MaxItems=128
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=256
	SkipTags []string `json:"skipTags,omitempty"`

	// checkMode runs without changing anything (--check). Default: false.
	// +optional
	// +kubebuilder:default=false
	CheckMode bool `json:"checkMode,omitempty"`

	// diff shows the changes made to files and templates (--diff).
	// Default: false.
	// +optional
	// +kubebuilder:default=false
	Diff bool `json:"diff,omitempty"`

	// verbosity is the number of -v flags: 0 to 4. Default: 0.
	// +optional
	// +kubebuilder:default=0
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=4
	Verbosity int32 `json:"verbosity,omitempty"`

	// limit restricts the run to hosts matching this pattern (--limit), for
	// example web_servers:&production. Optional.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=4096
	Limit string `json:"limit,omitempty"`

	// connectionTimeout is the connection timeout in seconds (--timeout).
	// Optional (Ansible's default applies); minimum 1.
	// +optional
	// +kubebuilder:validation:Minimum=1
	ConnectionTimeout *int32 `json:"connectionTimeout,omitempty"`

	// forks is the number of hosts handled in parallel (--forks). Optional
	// (Ansible's default, 5, applies); minimum 1.
	// +optional
	// +kubebuilder:validation:Minimum=1
	Forks *int32 `json:"forks,omitempty"`

	// strategy is linear or free (--strategy). Default: linear.
	// +optional
	// +kubebuilder:default=linear
	Strategy Strategy `json:"strategy,omitempty"`

	// flushCache clears the fact cache of every host (--flush-cache).
	// Default: false.
	// +optional
	// +kubebuilder:default=false
	FlushCache bool `json:"flushCache,omitempty"`

	// forceHandlers runs notified handlers even when a task fails
	// (--force-handlers). Default: false.
	// +optional
	// +kubebuilder:default=false
	ForceHandlers bool `json:"forceHandlers,omitempty"`

	// startAtTask starts the play at the task with this name
	// (--start-at-task). Optional.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1024
	StartAtTask string `json:"startAtTask,omitempty"`

	// step is kept so manifests written for the Python operator still
	// apply. Default and only accepted value: false (--step needs a
	// terminal).
	// +optional
	// +kubebuilder:default=false
	Step bool `json:"step,omitempty"`
}

// SecretKeyReference names one key of a Secret in the same namespace.
type SecretKeyReference struct {
	// name of the Secret. Required; 1 to 253 characters.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`

	// key in the Secret's data. Required; letters, digits, '-', '_' and
	// '.', at most 253 characters.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[-._a-zA-Z0-9]+$`
	Key string `json:"key"`
}

// SecretEnvVar sets one environment variable of the executor from a Secret key.
type SecretEnvVar struct {
	// envVarName is the environment variable name: printable ASCII without
	// '=', for example DB_PASSWORD. Required; at most 256 characters.
	// +required
	// +kubebuilder:validation:MaxLength=256
	// +kubebuilder:validation:XValidation:rule="self.matches('^[ -<>-~]+$')",message="envVarName must be a non-empty environment variable name of printable ASCII characters without '=', for example DB_PASSWORD"
	EnvVarName string `json:"envVarName"`

	// secretRef names the Secret and key whose value the variable gets.
	// Required.
	// +required
	SecretRef SecretKeyReference `json:"secretRef"`
}

// KeyToPath projects one Secret key to a file.
type KeyToPath struct {
	// key in the Secret's data. Required.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[-._a-zA-Z0-9]+$`
	Key string `json:"key"`

	// path of the file relative to the fileMount's mountPath, without '..'
	// segments, for example id_rsa or ssl/ca.crt. Required.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1024
	// +kubebuilder:validation:XValidation:rule="!self.startsWith('/') && !self.matches('(^|/)[.][.](/|$)')",message="items[].path must be a relative file path without '..' segments, for example ssl/ca.crt; the file appears under mountPath"
	Path string `json:"path"`
}

// FileMountSecretReference names the Secret of a fileMount.
type FileMountSecretReference struct {
	// name of the Secret, in the Playbook's namespace. Required; 1 to 253
	// characters.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`

	// key is not supported here: it exists so that the flat fileMounts shape
	// of the Python operator's example is rejected with a message instead of
	// failing as an unknown field. Use items[].key.
	// +optional
	Key string `json:"key,omitempty"`
}

// SecretFileMount mounts a Secret as read-only files into the executor
// container.
// +kubebuilder:validation:XValidation:rule="!has(self.key) && !has(self.path) && !has(self.secretRef.key)",message="a fileMounts item has the shape {secretRef: {name}, mountPath, items: [{key, path}]}: move key and path into items (path relative to mountPath) and set mountPath to the directory the Secret is mounted at"
// +kubebuilder:validation:XValidation:rule="has(self.mountPath) || has(self.key) || has(self.path) || has(self.secretRef.key)",message="mountPath is required: the absolute directory the Secret's files appear in, for example /etc/ansible/secrets"
type SecretFileMount struct {
	// secretRef names the Secret. Required.
	// +required
	SecretRef FileMountSecretReference `json:"secretRef"`

	// mountPath is the absolute directory the Secret's files appear in,
	// read-only. Required (by a rule rather than by the schema, so that the
	// flat shape gets its message).
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	// +kubebuilder:validation:XValidation:rule="self.startsWith('/')",message="mountPath must be an absolute directory path, for example /etc/ansible/secrets"
	MountPath string `json:"mountPath,omitempty"`

	// items selects keys and their file paths. Optional: without it, every
	// key becomes a file named after the key.
	// +optional
	// +kubebuilder:validation:MaxItems=64
	Items []KeyToPath `json:"items,omitempty"`

	// key is not supported here: it exists so that the flat fileMounts shape
	// of the Python operator's example ({key, path, secretRef}) is rejected
	// with a message instead of failing as an unknown field. Use
	// items[].key.
	// +optional
	Key string `json:"key,omitempty"`

	// path is not supported here: it exists so that the flat fileMounts
	// shape of the Python operator's example is rejected with a message.
	// Use mountPath and items[].path.
	// +optional
	Path string `json:"path,omitempty"`
}

// PlaybookSecrets passes Secrets to the executor.
type PlaybookSecrets struct {
	// env sets environment variables from single Secret keys. Optional; at
	// most 256 entries.
	// +optional
	// +kubebuilder:validation:MaxItems=256
	Env []SecretEnvVar `json:"env,omitempty"`

	// envFromSecretRefs sets one environment variable per key of each
	// Secret. Optional; at most 64 entries.
	// +optional
	// +kubebuilder:validation:MaxItems=64
	EnvFromSecretRefs []LocalObjectReference `json:"envFromSecretRefs,omitempty"`

	// fileMounts mounts Secrets as read-only files. Optional; at most 64
	// entries.
	// +optional
	// +kubebuilder:validation:MaxItems=64
	FileMounts []SecretFileMount `json:"fileMounts,omitempty"`

	// vaultPasswordSecretRef names a Secret whose key password is the
	// Ansible Vault password (--vault-password-file). Optional.
	// +optional
	VaultPasswordSecretRef *LocalObjectReference `json:"vaultPasswordSecretRef,omitempty"`
}

// ResourceRequirements are the compute resources of the executor container.
type ResourceRequirements struct {
	// limits are the maximum resources, for example cpu: 500m, memory: 512Mi.
	// +optional
	Limits corev1.ResourceList `json:"limits,omitempty"`

	// requests are the resources the scheduler reserves.
	// +optional
	Requests corev1.ResourceList `json:"requests,omitempty"`
}

// PlaybookRuntime shapes the executor pod of every run of the Playbook
// (manual and scheduled alike).
type PlaybookRuntime struct {
	// image is the executor image (with ansible-playbook and git), for
	// example registry.example.com/ansible-runner:13 or
	// repo@sha256:<digest>. Optional: unset uses executorDefaults.image of
	// the operator config.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1024
	Image string `json:"image,omitempty"`

	// serviceAccountName is the executor pod's service account. Optional:
	// unset uses the operator config's executor service account, and
	// without one no token is mounted.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	ServiceAccountName string `json:"serviceAccountName,omitempty"`

	// imagePullSecrets name Secrets for pulling image. Optional.
	// +optional
	// +kubebuilder:validation:MaxItems=32
	ImagePullSecrets []LocalObjectReference `json:"imagePullSecrets,omitempty"`

	// resources of the executor container. Optional. A Schedule's
	// spec.resources replace them for that Schedule's runs.
	// +optional
	Resources *ResourceRequirements `json:"resources,omitempty"`

	// nodeSelector restricts the executor pod to nodes with these labels.
	// +optional
	NodeSelector map[string]string `json:"nodeSelector,omitempty"`

	// tolerations of the executor pod.
	// +optional
	Tolerations []corev1.Toleration `json:"tolerations,omitempty"`

	// affinity of the executor pod.
	// +optional
	Affinity *corev1.Affinity `json:"affinity,omitempty"`

	// securityContext of the executor container, merged field by field over
	// the restricted defaults (non-root, read-only root filesystem, no
	// privilege escalation, all capabilities dropped, seccomp
	// RuntimeDefault).
	// +optional
	SecurityContext *corev1.SecurityContext `json:"securityContext,omitempty"`

	// podSecurityContext of the executor pod, merged field by field over the
	// defaults (runAsNonRoot, uid/gid/fsGroup 1000, seccomp RuntimeDefault).
	// +optional
	PodSecurityContext *corev1.PodSecurityContext `json:"podSecurityContext,omitempty"`

	// volumes added to the executor pod, for volumeMounts.
	// +optional
	Volumes []corev1.Volume `json:"volumes,omitempty"`

	// volumeMounts added to the executor container.
	// +optional
	VolumeMounts []corev1.VolumeMount `json:"volumeMounts,omitempty"`

	// activeDeadlineSeconds bounds the run: the Job fails after this many
	// seconds. Optional (no limit); minimum 1.
	// +optional
	// +kubebuilder:validation:Minimum=1
	ActiveDeadlineSeconds *int64 `json:"activeDeadlineSeconds,omitempty"`
}

// PlaybookSpec defines a playbook of a Repository and how to run it.
// +kubebuilder:validation:XValidation:rule="!(has(self.inventoryPath) && has(self.inventoryPaths))",message="set either inventoryPath or inventoryPaths, not both: list every inventory in inventoryPaths"
type PlaybookSpec struct {
	// repositoryRef names the Repository, in this namespace, that holds the
	// playbook. Required.
	// +required
	RepositoryRef ObjectReference `json:"repositoryRef"`

	// playbookPath is the playbook file relative to the repository root,
	// for example playbooks/site.yml. Required; no leading '/' and no '..'
	// segments.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1024
	// +kubebuilder:validation:XValidation:rule="!self.startsWith('/') && !self.matches('(^|/)[.][.](/|$)')",message="playbookPath must be relative to the repository root and stay inside it: no leading '/' and no '..' segments, for example playbooks/site.yml"
	PlaybookPath string `json:"playbookPath"`

	// inventoryPath is the inventory (-i): a path relative to the repository
	// root, an absolute path (for example in a fileMount), or a host list
	// such as "localhost,". Optional; not together with inventoryPaths.
	// Without either, paths.inventoryDir of the Repository is used when it
	// exists.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1024
	InventoryPath string `json:"inventoryPath,omitempty"`

	// inventoryPaths are several inventories, each passed with its own -i.
	// Optional; not together with inventoryPath; at most 64.
	// +optional
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=1024
	InventoryPaths []string `json:"inventoryPaths,omitempty"`

	// ansibleCfgPath is the ansible.cfg to use (ANSIBLE_CONFIG): relative to
	// the repository root, or absolute. Optional: Ansible's lookup applies.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1024
	AnsibleCfgPath string `json:"ansibleCfgPath,omitempty"`

	// extraVars are extra variables (--extra-vars) as a YAML/JSON object of
	// any values; they take precedence over every other variable.
	// Optional.
	// +optional
	// +kubebuilder:validation:Type=object
	// +kubebuilder:pruning:PreserveUnknownFields
	ExtraVars *apiextensionsv1.JSON `json:"extraVars,omitempty"`

	// extraVarsSecretRefs name Secrets whose keys become extra variables:
	// each key is a variable whose value is the key's content as a string.
	// Later Secrets override earlier ones, and all override extraVars.
	// Values are read from files in the executor, never placed in the pod
	// spec. Optional; at most 32.
	// +optional
	// +kubebuilder:validation:MaxItems=32
	ExtraVarsSecretRefs []LocalObjectReference `json:"extraVarsSecretRefs,omitempty"`

	// execution holds ansible-playbook options.
	// +optional
	Execution *ExecutionOptions `json:"execution,omitempty"`

	// secrets passes Secrets to the executor as environment variables and
	// files.
	// +optional
	Secrets *PlaybookSecrets `json:"secrets,omitempty"`

	// runtime shapes the executor pod.
	// +optional
	Runtime *PlaybookRuntime `json:"runtime,omitempty"`
}

// RunResult is the outcome of a finished run.
// +kubebuilder:validation:Enum=Succeeded;Failed
type RunResult string

const (
	// RunSucceeded: the playbook ran to the end without failed or
	// unreachable hosts.
	RunSucceeded RunResult = "Succeeded"
	// RunFailed: the playbook failed, or the Job failed (deadline, backoff
	// limit, pod error).
	RunFailed RunResult = "Failed"
)

// RunCounts are the PLAY RECAP counters of ansible-playbook.
type RunCounts struct {
	// ok is the number of tasks that succeeded without changes.
	// +optional
	OK int32 `json:"ok,omitempty"`
	// changed is the number of tasks that changed something.
	// +optional
	Changed int32 `json:"changed,omitempty"`
	// failed is the number of failed tasks.
	// +optional
	Failed int32 `json:"failed,omitempty"`
	// unreachable is the number of tasks whose host was unreachable.
	// +optional
	Unreachable int32 `json:"unreachable,omitempty"`
	// skipped is the number of skipped tasks.
	// +optional
	Skipped int32 `json:"skipped,omitempty"`
}

// HostRunCounts are the PLAY RECAP counters of one host.
type HostRunCounts struct {
	// host is the inventory hostname.
	// +required
	Host string `json:"host"`

	RunCounts `json:",inline"`
}

// FailedTask is a task that failed, or whose host was unreachable, in a run.
type FailedTask struct {
	// host is the inventory hostname.
	// +required
	Host string `json:"host"`
	// task is the task name.
	// +optional
	Task string `json:"task,omitempty"`
	// message is Ansible's message for the failure, shortened.
	// +optional
	Message string `json:"message,omitempty"`
}

// RunRecord is a finished run.
type RunRecord struct {
	// runId identifies the run: the value of the run-now annotation for a
	// manual run, the Job's name for a scheduled run.
	// +required
	RunID string `json:"runId"`

	// jobName is the Job, in this namespace, that executed the run.
	// +required
	JobName string `json:"jobName"`

	// startTime is when the Job started.
	// +optional
	StartTime *metav1.Time `json:"startTime,omitempty"`

	// completionTime is when the Job finished.
	// +optional
	CompletionTime *metav1.Time `json:"completionTime,omitempty"`

	// result is Succeeded or Failed.
	// +required
	Result RunResult `json:"result"`

	// reason is a CamelCase word for the result, for example Completed,
	// PlaybookFailed, HostsUnreachable, DeadlineExceeded or
	// BackoffLimitExceeded.
	// +optional
	Reason string `json:"reason,omitempty"`

	// message explains the result for humans.
	// +optional
	Message string `json:"message,omitempty"`

	// commit is the repository commit the run checked out.
	// +optional
	Commit string `json:"commit,omitempty"`

	// imageDigest is the digest of the executor image that ran, from the
	// pod's imageID, for example sha256:<64 hex>. It is the digest the node
	// pulled: for an image pinned by a multi-arch index digest, containerd
	// reports that index digest.
	// +optional
	ImageDigest string `json:"imageDigest,omitempty"`

	// totals are the PLAY RECAP counters summed over all hosts.
	// +optional
	Totals *RunCounts `json:"totals,omitempty"`

	// hosts are the PLAY RECAP counters per host, failed and unreachable
	// hosts first, as far as they fit the run's 4 KiB summary.
	// +optional
	Hosts []HostRunCounts `json:"hosts,omitempty"`

	// failedTasks are the failed tasks with their host and message, as far
	// as they fit the run's summary.
	// +optional
	FailedTasks []FailedTask `json:"failedTasks,omitempty"`

	// truncated is true when hosts or failedTasks are incomplete because the
	// run's summary exceeded 4 KiB.
	// +optional
	Truncated bool `json:"truncated,omitempty"`
}

// ManualRunState is how the last manual run stands.
// +kubebuilder:validation:Enum=Running;Succeeded;Failed
type ManualRunState string

const (
	// ManualRunRunning: its Job was made and has not finished.
	ManualRunRunning ManualRunState = "Running"
	// ManualRunSucceeded: the run succeeded.
	ManualRunSucceeded ManualRunState = "Succeeded"
	// ManualRunFailed: the run failed, or its Job could not be made.
	ManualRunFailed ManualRunState = "Failed"
)

// ManualRun is the last manual run (annotation ansible.cloud37.dev/run-now)
// in the shape the Python operator wrote, which scripts poll. The run's
// full record is in status.runs once it finished.
type ManualRun struct {
	// runId is the run-now annotation's value.
	// +required
	RunID string `json:"runId"`

	// jobRef is the run's Job as namespace/name.
	// +optional
	JobRef string `json:"jobRef,omitempty"`

	// startTime is when the operator made the Job.
	// +optional
	StartTime *metav1.Time `json:"startTime,omitempty"`

	// completionTime is when the run finished.
	// +optional
	CompletionTime *metav1.Time `json:"completionTime,omitempty"`

	// status is Running, Succeeded or Failed. (A status string rather than
	// a condition: the Python operator's scripts read this field.)
	// +required
	Status ManualRunState `json:"status"`

	// reason is JobCreated (Running), JobSucceeded or JobFailed.
	// +optional
	Reason string `json:"reason,omitempty"`

	// message explains the state for humans.
	// +optional
	Message string `json:"message,omitempty"`
}

// Reasons of ManualRun.
const (
	// ManualRunJobCreatedReason: the run's Job was made (Running).
	ManualRunJobCreatedReason = "JobCreated"
	// ManualRunJobSucceededReason: the run succeeded.
	ManualRunJobSucceededReason = "JobSucceeded"
	// ManualRunJobFailedReason: the run failed, or its Job could not be made.
	ManualRunJobFailedReason = "JobFailed"
)

// PlaybookStatus is the observed state of a Playbook.
type PlaybookStatus struct {
	// observedGeneration is the generation of the spec that status
	// describes; -1 until the operator first reconciled it.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// conditions: Ready (summary), Reconciling (while a manual run is under
	// way) and Stalled (kstatus), CloneReady (the paths at the commit) and
	// ImagePullFailed (a run's pod cannot pull its image).
	// +optional
	// +listType=map
	// +listMapKey=type
	// +patchStrategy=merge
	// +patchMergeKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty" patchStrategy:"merge" patchMergeKey:"type"`

	// lastHandledRunNow is the last value of the annotation
	// ansible.cloud37.dev/run-now that the operator acted on; setting the
	// annotation to the same value again starts no run.
	// +optional
	LastHandledRunNow string `json:"lastHandledRunNow,omitempty"`

	// lastManualRun is the last manual run, in the Python operator's shape.
	// +optional
	LastManualRun *ManualRun `json:"lastManualRun,omitempty"`

	// runs are the last finished runs of this Playbook, newest first; at
	// most 10.
	// +optional
	// +kubebuilder:validation:MaxItems=10
	Runs []RunRecord `json:"runs,omitempty"`
}

// Playbook is a playbook of a Repository together with how to run it.
// Annotate it with ansible.cloud37.dev/run-now: <id> to run it once; a
// Schedule runs it periodically.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:categories=ansible
// +kubebuilder:printcolumn:name="Repo",type=string,JSONPath=`.spec.repositoryRef.name`
// +kubebuilder:printcolumn:name="Playbook",type=string,JSONPath=`.spec.playbookPath`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Status",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].message`
// +kubebuilder:printcolumn:name="Last Run",type=string,JSONPath=`.status.runs[0].result`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type Playbook struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec defines the playbook and its execution.
	// +required
	Spec PlaybookSpec `json:"spec"`

	// status is the observed state, written by the operator.
	// +optional
	// +kubebuilder:default={"observedGeneration":-1}
	Status PlaybookStatus `json:"status,omitempty"`
}

// GetConditions returns the status conditions.
func (in *Playbook) GetConditions() []metav1.Condition { return in.Status.Conditions }

// SetConditions replaces the status conditions.
func (in *Playbook) SetConditions(c []metav1.Condition) { in.Status.Conditions = c }

// SetObservedGeneration sets status.observedGeneration.
func (in *Playbook) SetObservedGeneration(g int64) { in.Status.ObservedGeneration = g }

// PlaybookList is a list of Playbooks.
// +kubebuilder:object:root=true
type PlaybookList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Playbook `json:"items"`
}

func init() {
	SchemeBuilder.Register(&Playbook{}, &PlaybookList{})
}
