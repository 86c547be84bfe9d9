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
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// DefaultRepositoryInterval is the re-check interval of a Repository whose
// spec.interval is unset (stored before the field existed).
const DefaultRepositoryInterval = 5 * time.Minute

// AuthMethod is how the operator and the runs authenticate to the git server.
// +kubebuilder:validation:Enum=ssh;https;token
type AuthMethod string

const (
	// AuthMethodSSH uses the key ssh-privatekey of the Secret (type
	// kubernetes.io/ssh-auth) with an ssh URL.
	AuthMethodSSH AuthMethod = "ssh"
	// AuthMethodHTTPS uses the keys username and password of the Secret
	// (type kubernetes.io/basic-auth) as HTTP basic auth, for any host.
	AuthMethodHTTPS AuthMethod = "https"
	// AuthMethodToken uses the key token of the Secret (and its optional key
	// username, default oauth2) as HTTP basic auth, for any host.
	AuthMethodToken AuthMethod = "token"
)

// CacheStrategy says where runs keep Ansible's ~/.ansible (Galaxy
// collections and roles) between runs.
// +kubebuilder:validation:Enum=none;pvc
type CacheStrategy string

const (
	// CacheStrategyNone keeps nothing between runs.
	CacheStrategyNone CacheStrategy = "none"
	// CacheStrategyPVC mounts an existing PersistentVolumeClaim.
	CacheStrategyPVC CacheStrategy = "pvc"
)

// LocalObjectReference names an object in the same namespace.
type LocalObjectReference struct {
	// name of the object, in the namespace of the object that refers to it.
	// Required; 1 to 253 characters.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
}

// ObjectReference names an object of this API in the same namespace.
type ObjectReference struct {
	// name of the object. Required; 1 to 253 characters.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`

	// namespace of the object. Optional: references never leave the
	// namespace, so when set it must equal the namespace of the object
	// that refers (otherwise the referring object is Stalled with reason
	// InvalidSpec). Accepted because manifests written for the Python
	// operator set it.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	Namespace string `json:"namespace,omitempty"`
}

// RepositoryPaths are locations inside the repository, relative to its root.
// +kubebuilder:validation:XValidation:rule="!has(self.playbookDir) || self.playbookDir == 'playbooks'",message="paths.playbookDir is not supported: a Playbook's playbookPath is always relative to the repository root; remove paths.playbookDir (the Python operator ignored it)"
type RepositoryPaths struct {
	// playbookDir is kept so manifests written for the Python operator still
	// apply; it has no effect. Default and only accepted value: playbooks.
	// Playbook.spec.playbookPath is always relative to the repository root.
	// +optional
	// +kubebuilder:default=playbooks
	PlaybookDir string `json:"playbookDir,omitempty"`

	// inventoryDir is the inventory that runs pass to ansible-playbook (-i)
	// when the Playbook sets neither inventoryPath nor inventoryPaths and
	// this path exists in the repository. Default: inventory.
	// +optional
	// +kubebuilder:default=inventory
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1024
	InventoryDir string `json:"inventoryDir,omitempty"`

	// requirementsFile is the Ansible Galaxy requirements file that runs
	// install (ansible-galaxy install -r) before the playbook when it
	// exists in the repository. Default: requirements.yml.
	// +optional
	// +kubebuilder:default=requirements.yml
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1024
	RequirementsFile string `json:"requirementsFile,omitempty"`

	// rolesDir is a roles directory that runs add in front of Ansible's
	// roles path (ANSIBLE_ROLES_PATH) when it exists in the repository.
	// Default: roles.
	// +optional
	// +kubebuilder:default=roles
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1024
	RolesDir string `json:"rolesDir,omitempty"`
}

// RepositoryAuth names the credentials for the git server.
// +kubebuilder:validation:XValidation:rule="!has(self.method) || has(self.secretRef)",message="auth.secretRef must be set when auth.method is provided: name the Secret in this namespace that holds the credentials (ssh: key ssh-privatekey; https: keys username and password; token: key token)"
// +kubebuilder:validation:XValidation:rule="!has(self.secretRef) || has(self.method)",message="auth.method must be set when auth.secretRef is provided: one of ssh, https or token"
type RepositoryAuth struct {
	// method is ssh, https or token. ssh: the Secret (type
	// kubernetes.io/ssh-auth) has the key ssh-privatekey and url is an ssh
	// URL. https: the Secret (type kubernetes.io/basic-auth) has the keys
	// username and password. token: the Secret has the key token and
	// optionally username (default oauth2). https and token work with any
	// host and need an http(s) url. Required when secretRef is set.
	// +optional
	Method AuthMethod `json:"method,omitempty"`

	// secretRef names the Secret, in the Repository's namespace, that holds
	// the credentials. Required when method is set. The operator reads it
	// with its API reader; its values never appear in status, events or
	// logs.
	// +optional
	SecretRef *LocalObjectReference `json:"secretRef,omitempty"`

	// passToAnsible gives ansible itself the same credentials for the
	// repository's host, so that requirements.yml entries and git tasks
	// that fetch other private repositories of that host work: with ssh,
	// GIT_SSH_COMMAND uses the key (copied to ~/.ssh, mode 0600) and the
	// known_hosts ConfigMap for that host; with https and token, ~/.netrc
	// (mode 0600) has the username and password or token for that host,
	// which git, ansible-galaxy and the uri and get_url modules read. HOME
	// is the run pod's own emptyDir. Default: true, as the Python operator
	// did (it wrote tokens for github.com only). false keeps the
	// credentials to the fetch of the repository.
	// +optional
	// +kubebuilder:default=true
	PassToAnsible *bool `json:"passToAnsible,omitempty"`
}

// GetPassToAnsible returns passToAnsible, true when unset (objects stored
// before the field existed).
func (in *RepositoryAuth) GetPassToAnsible() bool {
	return in == nil || in.PassToAnsible == nil || *in.PassToAnsible
}

// RepositorySSH configures ssh host key checking.
type RepositorySSH struct {
	// knownHostsConfigMapRef names a ConfigMap, in the Repository's
	// namespace, whose key known_hosts holds the server's host keys (the
	// output of ssh-keyscan). Required when auth.method is ssh and
	// strictHostKeyChecking is true.
	// +optional
	KnownHostsConfigMapRef *LocalObjectReference `json:"knownHostsConfigMapRef,omitempty"`

	// strictHostKeyChecking refuses ssh servers whose host key is not in the
	// known_hosts ConfigMap. Default: true. false accepts any host key,
	// which lets a man in the middle read the repository.
	// +optional
	// +kubebuilder:default=true
	StrictHostKeyChecking *bool `json:"strictHostKeyChecking,omitempty"`
}

// RepositoryGit holds options for fetching the repository in runs.
// +kubebuilder:validation:XValidation:rule="!has(self.lfs) || !self.lfs",message="git.lfs: true is not supported: runs do not fetch Git LFS objects (neither the operator's go-git nor the executor image implement LFS), so LFS files would be pointer files; commit the files to git or download them in a playbook task, and remove git.lfs"
type RepositoryGit struct {
	// submodules makes runs check out the repository's submodules
	// recursively at the commits the checked-out commit records, with the
	// same credentials. Default: false.
	// +optional
	// +kubebuilder:default=false
	Submodules bool `json:"submodules,omitempty"`

	// lfs is kept so manifests written for the Python operator still apply.
	// Default and only accepted value: false (Git LFS is not supported).
	// +optional
	// +kubebuilder:default=false
	LFS bool `json:"lfs,omitempty"`

	// shallow makes runs fetch only the commit they run (depth 1) instead of
	// the branch history: faster for large repositories, but playbooks that
	// read git history (git log, git describe) see a single commit.
	// Default: false.
	// +optional
	// +kubebuilder:default=false
	Shallow bool `json:"shallow,omitempty"`
}

// RepositoryCache configures where runs keep ~/.ansible between runs.
// +kubebuilder:validation:XValidation:rule="!has(self.strategy) || self.strategy != 'pvc' || has(self.pvcName)",message="cache.pvcName is required when cache.strategy is pvc: name an existing PersistentVolumeClaim in this namespace (the operator does not create it)"
// +kubebuilder:validation:XValidation:rule="!has(self.pvcName) || (has(self.strategy) && self.strategy == 'pvc')",message="cache.pvcName is only used with cache.strategy pvc: set strategy: pvc to mount the claim, or remove pvcName"
type RepositoryCache struct {
	// strategy is none (nothing is kept) or pvc (the PersistentVolumeClaim
	// pvcName is mounted at /home/ansible/.ansible in every run, so Galaxy
	// collections and roles persist). Default: none.
	// +optional
	// +kubebuilder:default=none
	Strategy CacheStrategy `json:"strategy,omitempty"`

	// pvcName names an existing PersistentVolumeClaim in the Repository's
	// namespace. Required when strategy is pvc, not allowed otherwise.
	// Runs that share a ReadWriteOnce claim must run on the same node.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	PVCName string `json:"pvcName,omitempty"`
}

// RepositorySpec defines a git repository that holds Ansible content.
// +kubebuilder:validation:XValidation:rule="!has(self.auth) || !has(self.auth.method) || self.auth.method != 'ssh' || !self.url.matches('^(https?|git)://')",message="auth.method ssh needs an ssh url (ssh://[user@]host/path or user@host:path): for an http(s) url use auth.method https or token"
// +kubebuilder:validation:XValidation:rule="!has(self.auth) || !has(self.auth.method) || !(self.auth.method in ['https', 'token']) || self.url.matches('^https?://')",message="auth.method https and token send credentials over HTTP(S), so url must start with https:// (or http://): for an ssh url use auth.method ssh"
// +kubebuilder:validation:XValidation:rule="!has(self.auth) || !has(self.auth.method) || self.auth.method != 'ssh' || (has(self.ssh) && (has(self.ssh.knownHostsConfigMapRef) || (has(self.ssh.strictHostKeyChecking) && !self.ssh.strictHostKeyChecking)))",message="auth.method ssh with strict host key checking (ssh.strictHostKeyChecking, default true) needs ssh.knownHostsConfigMapRef: create a ConfigMap with the key known_hosts (from ssh-keyscan) and name it there, or set ssh.strictHostKeyChecking: false"
type RepositorySpec struct {
	// url is the git URL: https://host/path, http://host/path,
	// ssh://[user@]host[:port]/path, git://host/path, or the scp-like
	// [user@]host:path. Required; 3 to 2048 characters; no whitespace.
	// Put credentials in a Secret named by auth, not in the url.
	// +required
	// +kubebuilder:validation:MinLength=3
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="self.matches('^(https?|ssh|git)://[^/[:space:]]+(/[^[:space:]]*)?$') || self.matches('^([A-Za-z0-9._~-]+@)?[A-Za-z0-9.-]+:/?[^/[:space:]][^[:space:]]*$')",message="url must be a git URL without whitespace: https://host/path, http://host/path, ssh://[user@]host[:port]/path, git://host/path or user@host:path (file URLs and local paths are not supported)"
	URL string `json:"url"`

	// revision is a commit SHA to run instead of the tip of branch: 7 to 40
	// hex digits, in any case. It overrides branch and does not need to be
	// a branch tip. An abbreviation is resolved once to the full commit
	// (status.resolvedRevision) among the commits of every branch and tag,
	// which the operator fetches for that within 64 MiB (Ready is False
	// with reason RevisionNotFound when no commit, several commits, or a
	// larger repository stand in the way: then give the full 40 digits).
	// 64-digit SHA-256 names are accepted by the schema but refused
	// (Stalled): runs check out SHA-1 repositories only. Optional.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9a-fA-F]{7,40}|[0-9a-fA-F]{64})$')",message="revision must be a commit SHA: 7 to 40 hex digits (64 for SHA-256 repositories); to follow a branch set branch instead"
	Revision string `json:"revision,omitempty"`

	// branch is the branch whose tip is resolved to a commit every interval
	// when revision is unset. Default: main.
	// +optional
	// +kubebuilder:default=main
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=255
	// +kubebuilder:validation:XValidation:rule=`!self.matches(r'[[:space:][:cntrl:]~^:?*\[\\]|\.\.|@\{|//|^[-/.]|^@$|/\.|[/.]$|\.lock$|\.lock/')`,message="branch must be a valid git branch name such as main or release/1.2: no spaces, ~ ^ : ? * [ \\, '..', '@{' or '//', and it must not start with '-', '/' or '.' nor end with '/', '.' or '.lock'"
	Branch string `json:"branch,omitempty"`

	// paths are locations inside the repository used by runs. Optional;
	// each field has its own default.
	// +optional
	Paths *RepositoryPaths `json:"paths,omitempty"`

	// auth names the credentials for private repositories. Omit it for
	// anonymous access.
	// +optional
	Auth *RepositoryAuth `json:"auth,omitempty"`

	// ssh configures host key checking for ssh urls.
	// +optional
	SSH *RepositorySSH `json:"ssh,omitempty"`

	// git holds options for fetching the repository in runs.
	// +optional
	Git *RepositoryGit `json:"git,omitempty"`

	// cache configures a PersistentVolumeClaim for ~/.ansible in runs.
	// +optional
	Cache *RepositoryCache `json:"cache,omitempty"`

	// interval is how often the operator re-resolves branch to a commit with
	// git ls-remote, as a Go duration (for example 30s, 5m, 1h). Default:
	// 5m; minimum 10s.
	// +optional
	// +kubebuilder:default="5m"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$`
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('10s')",message="interval must be at least 10s: every interval the operator asks the git server for the branch tip"
	Interval *metav1.Duration `json:"interval,omitempty"`
}

// RepositoryStatus is the observed state of a Repository.
type RepositoryStatus struct {
	// observedGeneration is the generation of the spec that status
	// describes; -1 until the operator first reconciled it.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// conditions: Ready (summary) and Stalled (kstatus), AuthValid and
	// CloneReady. A Repository's work never spans reconciles, so it has no
	// Reconciling condition.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +patchStrategy=merge
	// +patchMergeKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty" patchStrategy:"merge" patchMergeKey:"type"`

	// resolvedRevision is the commit SHA that spec.revision, or the tip of
	// spec.branch, resolved to at lastSyncTime. Runs check out exactly
	// this commit.
	// +optional
	ResolvedRevision string `json:"resolvedRevision,omitempty"`

	// lastSyncTime is when the operator last resolved the revision
	// successfully.
	// +optional
	LastSyncTime *metav1.Time `json:"lastSyncTime,omitempty"`
}

// Repository is a git repository holding Ansible content (playbooks,
// inventories, roles). The operator resolves its branch to a commit every
// spec.interval; Playbooks run that commit.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=repo,categories=ansible
// +kubebuilder:printcolumn:name="Branch",type=string,JSONPath=`.spec.branch`
// +kubebuilder:printcolumn:name="Revision",type=string,JSONPath=`.status.resolvedRevision`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Status",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].message`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type Repository struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec defines the repository.
	// +required
	Spec RepositorySpec `json:"spec"`

	// status is the observed state, written by the operator.
	// +optional
	// +kubebuilder:default={"observedGeneration":-1}
	Status RepositoryStatus `json:"status,omitempty"`
}

// GetInterval returns spec.interval, or DefaultRepositoryInterval for objects
// stored before the field existed.
func (in *Repository) GetInterval() time.Duration {
	if in.Spec.Interval == nil {
		return DefaultRepositoryInterval
	}
	return in.Spec.Interval.Duration
}

// GetBranch returns spec.branch, or DefaultBranch for objects stored
// without it.
func (in *Repository) GetBranch() string {
	if in.Spec.Branch == "" {
		return DefaultBranch
	}
	return in.Spec.Branch
}

// GetConditions returns the status conditions.
func (in *Repository) GetConditions() []metav1.Condition { return in.Status.Conditions }

// SetConditions replaces the status conditions.
func (in *Repository) SetConditions(c []metav1.Condition) { in.Status.Conditions = c }

// SetObservedGeneration sets status.observedGeneration.
func (in *Repository) SetObservedGeneration(g int64) { in.Status.ObservedGeneration = g }

// RepositoryList is a list of Repositories.
// +kubebuilder:object:root=true
type RepositoryList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Repository `json:"items"`
}

func init() {
	SchemeBuilder.Register(&Repository{}, &RepositoryList{})
}
