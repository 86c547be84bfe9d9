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
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"path"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	ansiblev1alpha1 "github.com/cloud37/ansible-playbook-operator/operator/api/v1alpha1"
	"github.com/cloud37/ansible-playbook-operator/operator/internal/opconfig"
	"github.com/cloud37/ansible-playbook-operator/operator/internal/runspec"
)

// Container names in executor pods.
const (
	// ExecutorContainerName runs playbook-runner; its termination message
	// is the run's summary. The name is the Python operator's.
	ExecutorContainerName = "ansible-runner"
	// InstallRunnerContainerName copies playbook-runner from the operator
	// image into the runner emptyDir.
	InstallRunnerContainerName = "install-runner"
	// OperatorRunnerPath is where the operator image ships playbook-runner.
	OperatorRunnerPath = "/usr/local/bin/playbook-runner"
)

// Volume names in executor pods; runtime.volumes must not reuse them.
const (
	runnerVolume     = "runner"
	workspaceVolume  = "workspace"
	homeVolume       = "home"
	tmpVolume        = "tmp"
	cacheVolume      = "ansible-cache"
	gitAuthVolume    = "git-auth"
	knownHostsVolume = "known-hosts"
	vaultVolume      = "vault-password"
	// extraVarsVolumePrefix and fileMountVolumePrefix are followed by the
	// list index.
	extraVarsVolumePrefix = "extra-vars-"
	fileMountVolumePrefix = "secret-mount-"
)

// Files inside mounted Secrets and ConfigMaps; the API types name the keys.
const (
	knownHostsKey    = "known_hosts"
	vaultPasswordKey = "password"
	// secretFileMode is the mode of Secret files (kubelet adds group read
	// for fsGroup, which is how uid 1000 reads them).
	secretFileMode int32 = 0o400
)

// Defaults of Repository.spec.paths for objects stored without them (the
// CRD defaults apply only where the enclosing object is present).
const (
	defaultInventoryDir     = "inventory"
	defaultRolesDir         = "roles"
	defaultRequirementsFile = "requirements.yml"
)

// Environment variables the operator sets in the executor container;
// secrets.env must not set them.
const (
	envHome       = "HOME"
	envTmpDir     = "TMPDIR"
	envLocalTemp  = "ANSIBLE_LOCAL_TEMP"
	localTempPath = runspec.TmpDir + "/ansible-local"
)

// Inputs are what a run's pod is built from.
type Inputs struct {
	// Playbook is the playbook to run. Required.
	Playbook *ansiblev1alpha1.Playbook
	// Repository is the Playbook's Repository; Status.ResolvedRevision is
	// the commit to run. Required.
	Repository *ansiblev1alpha1.Repository
	// Config is the operator config (opconfig.Parse or opconfig.Default).
	Config opconfig.Config
	// OperatorImage is the operator's own image (with its digest); the
	// init container copies playbook-runner from it. Required.
	OperatorImage string
	// Schedule is the Schedule whose run this is: its resources win over
	// the Playbook's runtime resources, and a manual run takes its
	// backoffLimit and ttlSecondsAfterFinished. Nil for a Playbook's manual
	// run; BuildCronJob sets it.
	Schedule *ansiblev1alpha1.Schedule
}

// ExecutorImage reports the image a run of the Playbook uses and whether it
// is pinned by digest: spec.runtime.image when set (its digest, if any, is
// its own), else the operator config's executorDefaults.image, whose digest
// wins over its tag.
func ExecutorImage(pb *ansiblev1alpha1.Playbook, cfg opconfig.Config) (image string, pinned bool) {
	return withImageDefaults(cfg).ExecutorImage(runtimeOf(pb).Image)
}

// withImageDefaults fills the executor image of a config that did not come
// from opconfig.Parse or opconfig.Default (a zero Config in a caller).
func withImageDefaults(cfg opconfig.Config) opconfig.Config {
	img := &cfg.ExecutorDefaults.Image
	if img.Repository == "" {
		img.Repository = opconfig.DefaultRepository
	}
	if img.Tag == "" && img.Digest == "" {
		img.Tag = opconfig.DefaultTag
	}
	return cfg
}

// ServiceAccountName is the service account a run of the Playbook uses:
// spec.runtime.serviceAccountName, else the operator config's executor
// default, else none (the pod then gets no API token). The controller's
// preflight checks that it exists.
func ServiceAccountName(pb *ansiblev1alpha1.Playbook, cfg opconfig.Config) string {
	if sa := runtimeOf(pb).ServiceAccountName; sa != "" {
		return sa
	}
	return cfg.ExecutorDefaults.ServiceAccountName
}

// runtimeOf returns the Playbook's runtime, or an empty one.
func runtimeOf(pb *ansiblev1alpha1.Playbook) *ansiblev1alpha1.PlaybookRuntime {
	if pb == nil || pb.Spec.Runtime == nil {
		return &ansiblev1alpha1.PlaybookRuntime{}
	}
	return pb.Spec.Runtime
}

// PodTemplate builds the executor pod template shared by manual Jobs and
// the CronJob's jobTemplate: an init container that copies playbook-runner
// from the operator image, and the executor container that runs it with the
// run spec as its only argument. No shell is involved, so no user string is
// ever interpreted. The template carries the common labels; BuildJob and
// BuildCronJob add the owner labels and, for manual runs, the run id.
func PodTemplate(in Inputs) (corev1.PodTemplateSpec, error) {
	return podTemplate(in, "")
}

func podTemplate(in Inputs, runID string) (corev1.PodTemplateSpec, error) {
	if err := in.check(); err != nil {
		return corev1.PodTemplateSpec{}, err
	}
	pb, rt := in.Playbook, runtimeOf(in.Playbook)

	vs, err := buildVolumes(in)
	if err != nil {
		return corev1.PodTemplateSpec{}, err
	}
	spec, err := buildRunSpec(in, runID, vs.extraVarsDirs)
	if err != nil {
		return corev1.PodTemplateSpec{}, err
	}
	arg, err := spec.Encode()
	if err != nil {
		return corev1.PodTemplateSpec{}, err
	}
	env, err := buildEnv(pb)
	if err != nil {
		return corev1.PodTemplateSpec{}, err
	}

	image, _ := ExecutorImage(pb, in.Config)
	var pullPolicy corev1.PullPolicy
	if rt.Image == "" {
		pullPolicy = corev1.PullPolicy(in.Config.ExecutorDefaults.Image.PullPolicy)
	}

	executor := corev1.Container{
		Name:                     ExecutorContainerName,
		Image:                    image,
		ImagePullPolicy:          pullPolicy,
		Command:                  []string{runspec.RunnerPath, "run", arg},
		Env:                      env,
		EnvFrom:                  buildEnvFrom(pb),
		Resources:                buildResources(in),
		VolumeMounts:             vs.mounts,
		TerminationMessagePath:   runspec.TerminationLog,
		TerminationMessagePolicy: corev1.TerminationMessageReadFile,
		SecurityContext:          mergeSecurityContext(rt.SecurityContext),
	}
	install := corev1.Container{
		Name:    InstallRunnerContainerName,
		Image:   in.OperatorImage,
		Command: []string{OperatorRunnerPath, "install", runspec.RunnerDir},
		Resources: corev1.ResourceRequirements{
			Requests: corev1.ResourceList{
				corev1.ResourceCPU:    resource.MustParse("10m"),
				corev1.ResourceMemory: resource.MustParse("16Mi"),
			},
			Limits: corev1.ResourceList{
				corev1.ResourceCPU:    resource.MustParse("100m"),
				corev1.ResourceMemory: resource.MustParse("64Mi"),
			},
		},
		VolumeMounts: []corev1.VolumeMount{{Name: runnerVolume, MountPath: runspec.RunnerDir}},
		// Not merged with the user's securityContext: the copy needs nothing
		// beyond the restricted defaults.
		SecurityContext: defaultSecurityContext(),
	}

	sa := ServiceAccountName(pb, in.Config)
	podSpec := corev1.PodSpec{
		RestartPolicy:      corev1.RestartPolicyNever,
		ServiceAccountName: sa,
		SecurityContext:    mergePodSecurityContext(rt.PodSecurityContext),
		InitContainers:     []corev1.Container{install},
		Containers:         []corev1.Container{executor},
		Volumes:            vs.volumes,
		NodeSelector:       maps.Clone(rt.NodeSelector),
		Affinity:           rt.Affinity.DeepCopy(),
	}
	// Without a service account the pod gets no API token at all. With
	// one, the service account's own automount setting decides.
	if sa == "" {
		podSpec.AutomountServiceAccountToken = ptr.To(false)
	}
	for _, s := range rt.ImagePullSecrets {
		podSpec.ImagePullSecrets = append(podSpec.ImagePullSecrets, corev1.LocalObjectReference{Name: s.Name})
	}
	for i := range rt.Tolerations {
		podSpec.Tolerations = append(podSpec.Tolerations, *rt.Tolerations[i].DeepCopy())
	}

	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{
			Labels:      commonLabels(),
			Annotations: map[string]string{ansiblev1alpha1.RevisionAnnotation: spec.Repository.Commit},
			Finalizers:  []string{RunRecordFinalizer},
		},
		Spec: podSpec,
	}, nil
}

// check rejects inputs no run can be built from.
func (in Inputs) check() error {
	switch {
	case in.Playbook == nil:
		return errors.New("a run needs a Playbook")
	case in.Repository == nil:
		return fmt.Errorf("playbook %q: a run needs its Repository", in.Playbook.Name)
	case in.Repository.Status.ResolvedRevision == "":
		return fmt.Errorf("repository %q has no resolved revision yet: a run needs the commit to check out", in.Repository.Name)
	case in.OperatorImage == "":
		return errors.New("the operator image is unknown: the init container copies playbook-runner from it")
	}
	return nil
}

// buildRunSpec is the runner's argument. It names Secrets only by the
// directories they are mounted at.
func buildRunSpec(in Inputs, runID string, extraVarsDirs []string) (runspec.Spec, error) {
	pb, repo := in.Playbook, in.Repository
	rs := runspec.Spec{
		RunID: runID,
		Repository: runspec.Repository{
			URL:                   repo.Spec.URL,
			Branch:                repo.GetBranch(),
			Commit:                repo.Status.ResolvedRevision,
			StrictHostKeyChecking: true,
		},
		Playbook:            pb.Spec.PlaybookPath,
		AnsibleCfg:          pb.Spec.AnsibleCfgPath,
		ExtraVarsSecretDirs: extraVarsDirs,
	}
	r := &rs.Repository
	if g := repo.Spec.Git; g != nil {
		r.Shallow, r.Submodules = g.Shallow, g.Submodules
	}
	if hasAuth(repo) {
		r.AuthMethod, r.AuthDir = string(repo.Spec.Auth.Method), runspec.GitAuthDir
		r.PassAuthToAnsible = repo.Spec.Auth.GetPassToAnsible()
	}
	if ssh := repo.Spec.SSH; ssh != nil {
		if ssh.KnownHostsConfigMapRef != nil {
			r.KnownHostsFile = path.Join(runspec.KnownHostsDir, knownHostsKey)
		}
		if ssh.StrictHostKeyChecking != nil {
			r.StrictHostKeyChecking = *ssh.StrictHostKeyChecking
		}
	}

	switch {
	case pb.Spec.InventoryPath != "":
		rs.Inventories = []string{pb.Spec.InventoryPath}
	case len(pb.Spec.InventoryPaths) > 0:
		rs.Inventories = slices.Clone(pb.Spec.InventoryPaths)
	default:
		rs.InventoryDir = defaultInventoryDir
	}
	rs.RolesDir, rs.RequirementsFile = defaultRolesDir, defaultRequirementsFile
	if p := repo.Spec.Paths; p != nil {
		if p.InventoryDir != "" && rs.InventoryDir != "" {
			rs.InventoryDir = p.InventoryDir
		}
		if p.RolesDir != "" {
			rs.RolesDir = p.RolesDir
		}
		if p.RequirementsFile != "" {
			rs.RequirementsFile = p.RequirementsFile
		}
	}

	if x := pb.Spec.Execution; x != nil {
		rs.Execution = runspec.Execution{
			Tags:          slices.Clone(x.Tags),
			SkipTags:      slices.Clone(x.SkipTags),
			Check:         x.CheckMode,
			Diff:          x.Diff,
			Verbosity:     int(x.Verbosity),
			Limit:         x.Limit,
			Strategy:      string(x.Strategy),
			FlushCache:    x.FlushCache,
			ForceHandlers: x.ForceHandlers,
			StartAtTask:   x.StartAtTask,
		}
		if x.ConnectionTimeout != nil {
			rs.Execution.ConnectionTimeout = int(*x.ConnectionTimeout)
		}
		if x.Forks != nil {
			rs.Execution.Forks = int(*x.Forks)
		}
	}

	extra, err := extraVars(pb)
	if err != nil {
		return runspec.Spec{}, err
	}
	rs.ExtraVars = extra
	if vaultRef(pb) != "" {
		rs.VaultPasswordFile = path.Join(runspec.VaultDir, vaultPasswordKey)
	}
	return rs, nil
}

// extraVars returns spec.extraVars compacted, or nil when unset or null. It
// must be a JSON object: ansible-playbook takes variables by name.
func extraVars(pb *ansiblev1alpha1.Playbook) (json.RawMessage, error) {
	if pb.Spec.ExtraVars == nil {
		return nil, nil
	}
	raw := bytes.TrimSpace(pb.Spec.ExtraVars.Raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return nil, nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		return nil, fmt.Errorf("failed to read extraVars of playbook %q as a JSON object: %w", pb.Name, err)
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return nil, fmt.Errorf("failed to read extraVars of playbook %q as a JSON object: %w", pb.Name, err)
	}
	return buf.Bytes(), nil
}

func hasAuth(repo *ansiblev1alpha1.Repository) bool {
	a := repo.Spec.Auth
	return a != nil && a.Method != "" && a.SecretRef != nil && a.SecretRef.Name != ""
}

func vaultRef(pb *ansiblev1alpha1.Playbook) string {
	if s := pb.Spec.Secrets; s != nil && s.VaultPasswordSecretRef != nil {
		return s.VaultPasswordSecretRef.Name
	}
	return ""
}

// volumeSet collects the executor's volumes and mounts.
type volumeSet struct {
	volumes       []corev1.Volume
	mounts        []corev1.VolumeMount
	extraVarsDirs []string
}

func (v *volumeSet) add(vol corev1.Volume, mount corev1.VolumeMount) {
	v.volumes = append(v.volumes, vol)
	mount.Name = vol.Name
	v.mounts = append(v.mounts, mount)
}

func emptyDir(name string) corev1.Volume {
	return corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}
}

func secretVolume(name, secret string, items []corev1.KeyToPath) corev1.Volume {
	return corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
		SecretName:  secret,
		Items:       items,
		DefaultMode: ptr.To(secretFileMode),
	}}}
}

// buildVolumes makes the executor's volumes and mounts. The operator's own
// are sorted (volumes by name, mounts by path, so a directory is mounted
// before anything inside it); runtime.volumes and runtime.volumeMounts
// follow in the user's order.
func buildVolumes(in Inputs) (volumeSet, error) {
	pb, repo, rt := in.Playbook, in.Repository, runtimeOf(in.Playbook)
	var vs volumeSet
	vs.add(emptyDir(runnerVolume), corev1.VolumeMount{MountPath: runspec.RunnerDir, ReadOnly: true})
	vs.add(emptyDir(workspaceVolume), corev1.VolumeMount{MountPath: runspec.WorkspaceDir})
	vs.add(emptyDir(homeVolume), corev1.VolumeMount{MountPath: runspec.HomeDir})
	vs.add(emptyDir(tmpVolume), corev1.VolumeMount{MountPath: runspec.TmpDir})
	if claim := CacheClaim(repo, in.Config); claim != "" {
		vs.add(corev1.Volume{Name: cacheVolume, VolumeSource: corev1.VolumeSource{
			PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claim},
		}}, corev1.VolumeMount{MountPath: path.Join(runspec.HomeDir, ".ansible")})
	}
	if hasAuth(repo) {
		vs.add(secretVolume(gitAuthVolume, repo.Spec.Auth.SecretRef.Name, nil),
			corev1.VolumeMount{MountPath: runspec.GitAuthDir, ReadOnly: true})
	}
	if ssh := repo.Spec.SSH; ssh != nil && ssh.KnownHostsConfigMapRef != nil {
		vs.add(corev1.Volume{Name: knownHostsVolume, VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: ssh.KnownHostsConfigMapRef.Name},
		}}}, corev1.VolumeMount{MountPath: runspec.KnownHostsDir, ReadOnly: true})
	}
	for i, ref := range pb.Spec.ExtraVarsSecretRefs {
		dir := path.Join(runspec.ExtraVarsDir, strconv.Itoa(i)+"-"+ref.Name)
		vs.add(secretVolume(extraVarsVolumePrefix+strconv.Itoa(i), ref.Name, nil),
			corev1.VolumeMount{MountPath: dir, ReadOnly: true})
		vs.extraVarsDirs = append(vs.extraVarsDirs, dir)
	}
	if name := vaultRef(pb); name != "" {
		vs.add(secretVolume(vaultVolume, name, nil), corev1.VolumeMount{MountPath: runspec.VaultDir, ReadOnly: true})
	}
	if s := pb.Spec.Secrets; s != nil {
		for i, fm := range s.FileMounts {
			var items []corev1.KeyToPath
			for _, it := range fm.Items {
				items = append(items, corev1.KeyToPath{Key: it.Key, Path: it.Path})
			}
			vs.add(secretVolume(fileMountVolumePrefix+strconv.Itoa(i), fm.SecretRef.Name, items),
				corev1.VolumeMount{MountPath: fm.MountPath, ReadOnly: true})
		}
	}
	slices.SortFunc(vs.volumes, func(a, b corev1.Volume) int { return strings.Compare(a.Name, b.Name) })
	slices.SortFunc(vs.mounts, func(a, b corev1.VolumeMount) int { return strings.Compare(a.MountPath, b.MountPath) })

	reserved := map[string]bool{}
	for _, v := range vs.volumes {
		reserved[v.Name] = true
	}
	for i := range rt.Volumes {
		if reserved[rt.Volumes[i].Name] {
			return volumeSet{}, fmt.Errorf("playbook %q: runtime.volumes[%d].name %q is used by the operator: rename the volume", pb.Name, i, rt.Volumes[i].Name)
		}
		vs.volumes = append(vs.volumes, *rt.Volumes[i].DeepCopy())
	}
	for i := range rt.VolumeMounts {
		vs.mounts = append(vs.mounts, *rt.VolumeMounts[i].DeepCopy())
	}
	seen := map[string]bool{}
	for _, m := range vs.mounts {
		p := path.Clean(m.MountPath)
		if seen[p] {
			return volumeSet{}, fmt.Errorf("playbook %q: two volumes are mounted at %q (fileMounts, runtime.volumeMounts and the operator's own mounts at %s, %s, %s, %s and under /etc/ansible-playbook-operator must not share a path)", pb.Name, m.MountPath, runspec.RunnerDir, runspec.WorkspaceDir, runspec.HomeDir, runspec.TmpDir)
		}
		seen[p] = true
	}
	return vs, nil
}

// CacheClaim is the PersistentVolumeClaim a run mounts at ~/.ansible: the
// Repository's cache, else the operator config's, else none. The
// controller's preflight checks that this claim exists.
func CacheClaim(repo *ansiblev1alpha1.Repository, cfg opconfig.Config) string {
	if c := repo.Spec.Cache; c != nil && c.Strategy == ansiblev1alpha1.CacheStrategyPVC && c.PVCName != "" {
		return c.PVCName
	}
	if c := cfg.ExecutorDefaults.Cache; c.Strategy == string(ansiblev1alpha1.CacheStrategyPVC) {
		return c.PVCName
	}
	return ""
}

// buildEnv is the executor's environment, sorted by name: the operator's
// writable locations (the root filesystem is read-only) and secrets.env as
// secretKeyRefs, so no Secret value is in the pod spec.
func buildEnv(pb *ansiblev1alpha1.Playbook) ([]corev1.EnvVar, error) {
	env := []corev1.EnvVar{
		{Name: envHome, Value: runspec.HomeDir},
		{Name: envTmpDir, Value: runspec.TmpDir},
		{Name: envLocalTemp, Value: localTempPath},
	}
	if s := pb.Spec.Secrets; s != nil {
		for i, e := range s.Env {
			switch e.EnvVarName {
			case envHome, envTmpDir, envLocalTemp:
				return nil, fmt.Errorf("playbook %q: secrets.env[%d].envVarName %q is set by the operator (the executor's root filesystem is read-only): choose another name", pb.Name, i, e.EnvVarName)
			}
			env = append(env, corev1.EnvVar{Name: e.EnvVarName, ValueFrom: &corev1.EnvVarSource{
				SecretKeyRef: &corev1.SecretKeySelector{
					LocalObjectReference: corev1.LocalObjectReference{Name: e.SecretRef.Name},
					Key:                  e.SecretRef.Key,
				},
			}})
		}
	}
	// Stable, so that of two entries with one name the later still wins.
	slices.SortStableFunc(env, func(a, b corev1.EnvVar) int { return strings.Compare(a.Name, b.Name) })
	return env, nil
}

// buildEnvFrom keeps the user's order: for a key in several Secrets the
// last one wins.
func buildEnvFrom(pb *ansiblev1alpha1.Playbook) []corev1.EnvFromSource {
	s := pb.Spec.Secrets
	if s == nil {
		return nil
	}
	var out []corev1.EnvFromSource
	for _, ref := range s.EnvFromSecretRefs {
		out = append(out, corev1.EnvFromSource{SecretRef: &corev1.SecretEnvSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: ref.Name},
		}})
	}
	return out
}

// buildResources: a Schedule's resources replace the Playbook's runtime
// resources when they set anything.
func buildResources(in Inputs) corev1.ResourceRequirements {
	var r *ansiblev1alpha1.ResourceRequirements
	if in.Schedule != nil {
		r = in.Schedule.Spec.Resources
	}
	if r == nil || (len(r.Limits) == 0 && len(r.Requests) == 0) {
		r = runtimeOf(in.Playbook).Resources
	}
	if r == nil {
		return corev1.ResourceRequirements{}
	}
	return corev1.ResourceRequirements{Limits: r.Limits.DeepCopy(), Requests: r.Requests.DeepCopy()}
}

// commonLabels are on every object the operator makes for runs.
func commonLabels() map[string]string {
	return map[string]string{
		ManagedByLabel:       ManagedByValue,
		NameLabel:            NameValue,
		ComponentLabel:       ComponentValue,
		PythonManagedByLabel: PythonManagedByValue,
	}
}

// OwnerLabels are the labels of a run object that belongs to the Playbook
// or Schedule kind/name: the common labels plus owner kind and name. Use
// them to select that owner's Jobs.
func OwnerLabels(kind, name string) map[string]string {
	l := commonLabels()
	l[ansiblev1alpha1.OwnerKindLabel] = kind
	l[ansiblev1alpha1.OwnerNameLabel] = LabelValue(name)
	return l
}
