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
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"

	ansiblev1alpha1 "github.com/cloud37/ansible-playbook-operator/operator/api/v1alpha1"
	"github.com/cloud37/ansible-playbook-operator/operator/internal/opconfig"
	"github.com/cloud37/ansible-playbook-operator/operator/internal/runspec"
)

const (
	commit        = "0123456789abcdef0123456789abcdef01234567"
	digest        = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	operatorImage = "ghcr.io/cloud37/ansible-playbook-operator:v0.1.0@" + digest
	repoURL       = "https://git.example.com/ops/ansible.git"
)

// ---- functional-option builders for test objects ----

type playbookOpt func(*ansiblev1alpha1.Playbook)

func newPlaybook(opts ...playbookOpt) *ansiblev1alpha1.Playbook {
	pb := &ansiblev1alpha1.Playbook{
		ObjectMeta: metav1.ObjectMeta{Name: "site", Namespace: "ops"},
		Spec: ansiblev1alpha1.PlaybookSpec{
			RepositoryRef: ansiblev1alpha1.ObjectReference{Name: "repo"},
			PlaybookPath:  "playbooks/site.yml",
		},
	}
	for _, o := range opts {
		o(pb)
	}
	return pb
}

func withPlaybookName(name string) playbookOpt {
	return func(pb *ansiblev1alpha1.Playbook) { pb.Name = name }
}

func withSpec(f func(*ansiblev1alpha1.PlaybookSpec)) playbookOpt {
	return func(pb *ansiblev1alpha1.Playbook) { f(&pb.Spec) }
}

func withRuntime(f func(*ansiblev1alpha1.PlaybookRuntime)) playbookOpt {
	return func(pb *ansiblev1alpha1.Playbook) {
		if pb.Spec.Runtime == nil {
			pb.Spec.Runtime = &ansiblev1alpha1.PlaybookRuntime{}
		}
		f(pb.Spec.Runtime)
	}
}

func withSecrets(f func(*ansiblev1alpha1.PlaybookSecrets)) playbookOpt {
	return func(pb *ansiblev1alpha1.Playbook) {
		if pb.Spec.Secrets == nil {
			pb.Spec.Secrets = &ansiblev1alpha1.PlaybookSecrets{}
		}
		f(pb.Spec.Secrets)
	}
}

func withExtraVars(raw string) playbookOpt {
	return func(pb *ansiblev1alpha1.Playbook) { pb.Spec.ExtraVars = &apiextensionsv1.JSON{Raw: []byte(raw)} }
}

func withExtraVarsSecrets(names ...string) playbookOpt {
	return func(pb *ansiblev1alpha1.Playbook) {
		for _, n := range names {
			pb.Spec.ExtraVarsSecretRefs = append(pb.Spec.ExtraVarsSecretRefs, ansiblev1alpha1.LocalObjectReference{Name: n})
		}
	}
}

type repoOpt func(*ansiblev1alpha1.Repository)

func newRepository(opts ...repoOpt) *ansiblev1alpha1.Repository {
	r := &ansiblev1alpha1.Repository{
		ObjectMeta: metav1.ObjectMeta{Name: "repo", Namespace: "ops"},
		Spec:       ansiblev1alpha1.RepositorySpec{URL: repoURL, Branch: "main"},
		Status:     ansiblev1alpha1.RepositoryStatus{ResolvedRevision: commit},
	}
	for _, o := range opts {
		o(r)
	}
	return r
}

func withRepoSpec(f func(*ansiblev1alpha1.RepositorySpec)) repoOpt {
	return func(r *ansiblev1alpha1.Repository) { f(&r.Spec) }
}

func withAuth(method ansiblev1alpha1.AuthMethod, secret string) repoOpt {
	return withRepoSpec(func(s *ansiblev1alpha1.RepositorySpec) {
		s.Auth = &ansiblev1alpha1.RepositoryAuth{Method: method, SecretRef: &ansiblev1alpha1.LocalObjectReference{Name: secret}}
	})
}

func withKnownHosts(configMap string, strict *bool) repoOpt {
	return withRepoSpec(func(s *ansiblev1alpha1.RepositorySpec) {
		s.SSH = &ansiblev1alpha1.RepositorySSH{StrictHostKeyChecking: strict}
		if configMap != "" {
			s.SSH.KnownHostsConfigMapRef = &ansiblev1alpha1.LocalObjectReference{Name: configMap}
		}
	})
}

func withRepoCache(pvc string) repoOpt {
	return withRepoSpec(func(s *ansiblev1alpha1.RepositorySpec) {
		s.Cache = &ansiblev1alpha1.RepositoryCache{Strategy: ansiblev1alpha1.CacheStrategyPVC, PVCName: pvc}
	})
}

type inputOpt func(*Inputs)

func newInputs(opts ...inputOpt) Inputs {
	in := Inputs{
		Playbook:      newPlaybook(),
		Repository:    newRepository(),
		Config:        opconfig.Default(),
		OperatorImage: operatorImage,
	}
	for _, o := range opts {
		o(&in)
	}
	return in
}

func withPlaybook(opts ...playbookOpt) inputOpt {
	return func(in *Inputs) { in.Playbook = newPlaybook(opts...) }
}

func withRepository(opts ...repoOpt) inputOpt {
	return func(in *Inputs) { in.Repository = newRepository(opts...) }
}

func withConfig(f func(*opconfig.Config)) inputOpt {
	return func(in *Inputs) { f(&in.Config) }
}

func withScheduleResources(r *ansiblev1alpha1.ResourceRequirements) inputOpt {
	return func(in *Inputs) {
		in.Schedule = newSchedule(withScheduleSpec(func(s *ansiblev1alpha1.ScheduleSpec) { s.Resources = r }))
	}
}

type scheduleOpt func(*ansiblev1alpha1.Schedule)

func newSchedule(opts ...scheduleOpt) *ansiblev1alpha1.Schedule {
	s := &ansiblev1alpha1.Schedule{
		ObjectMeta: metav1.ObjectMeta{Name: "nightly", Namespace: "ops", UID: "schedule-uid"},
		Spec: ansiblev1alpha1.ScheduleSpec{
			PlaybookRef: ansiblev1alpha1.ObjectReference{Name: "site"},
			Schedule:    "@daily-random",
		},
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

func withScheduleSpec(f func(*ansiblev1alpha1.ScheduleSpec)) scheduleOpt {
	return func(s *ansiblev1alpha1.Schedule) { f(&s.Spec) }
}

func resources(cpu, memory string) *ansiblev1alpha1.ResourceRequirements {
	return &ansiblev1alpha1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu)},
		Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse(memory)},
	}
}

// ---- helpers ----

func mustPodTemplate(t *testing.T, in Inputs) corev1.PodTemplateSpec {
	t.Helper()
	tmpl, err := PodTemplate(in)
	if err != nil {
		t.Fatalf("PodTemplate: %v", err)
	}
	return tmpl
}

func executor(t *testing.T, spec corev1.PodSpec) corev1.Container {
	t.Helper()
	if len(spec.Containers) != 1 || spec.Containers[0].Name != ExecutorContainerName {
		t.Fatalf("containers = %v, want one named %s", spec.Containers, ExecutorContainerName)
	}
	return spec.Containers[0]
}

func decodeSpec(t *testing.T, c corev1.Container) runspec.Spec {
	t.Helper()
	if len(c.Command) != 3 || c.Command[0] != runspec.RunnerPath || c.Command[1] != "run" {
		t.Fatalf("command = %q, want [%s run <spec>]", c.Command, runspec.RunnerPath)
	}
	s, err := runspec.Decode(c.Command[2])
	if err != nil {
		t.Fatalf("runspec.Decode: %v", err)
	}
	return s
}

func volumeNamed(spec corev1.PodSpec, name string) *corev1.Volume {
	for i := range spec.Volumes {
		if spec.Volumes[i].Name == name {
			return &spec.Volumes[i]
		}
	}
	return nil
}

func mountNamed(c corev1.Container, name string) *corev1.VolumeMount {
	for i := range c.VolumeMounts {
		if c.VolumeMounts[i].Name == name {
			return &c.VolumeMounts[i]
		}
	}
	return nil
}

func hash8(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])[:8]
}

// validatePodTemplate runs the apimachinery validations that apply to what
// the builder makes: metadata, container, volume and env names.
func validatePodTemplate(t *testing.T, tmpl corev1.PodTemplateSpec) {
	t.Helper()
	if errs := metav1validation.ValidateLabels(tmpl.Labels, field.NewPath("template", "metadata", "labels")); len(errs) > 0 {
		t.Errorf("pod template labels: %v", errs)
	}
	if errs := apivalidation.ValidateAnnotations(tmpl.Annotations, field.NewPath("template", "metadata", "annotations")); len(errs) > 0 {
		t.Errorf("pod template annotations: %v", errs)
	}
	for _, c := range append(slices.Clone(tmpl.Spec.InitContainers), tmpl.Spec.Containers...) {
		if errs := validation.IsDNS1123Label(c.Name); len(errs) > 0 {
			t.Errorf("container name %q: %v", c.Name, errs)
		}
		for _, e := range c.Env {
			if errs := validation.IsEnvVarName(e.Name); len(errs) > 0 {
				t.Errorf("env %q: %v", e.Name, errs)
			}
		}
		for _, m := range c.VolumeMounts {
			if volumeNamed(tmpl.Spec, m.Name) == nil {
				t.Errorf("container %s mounts volume %q that the pod lacks", c.Name, m.Name)
			}
		}
	}
	for _, v := range tmpl.Spec.Volumes {
		if errs := validation.IsDNS1123Label(v.Name); len(errs) > 0 {
			t.Errorf("volume name %q: %v", v.Name, errs)
		}
	}
}

// ---- names ----

func TestJobName(t *testing.T) {
	long := strings.Repeat("a", 60)
	cases := map[string]struct {
		kind, owner, runID string
		wantPrefix         string // the name without "-<hash>"
	}{
		"short owner is kept whole":                 {kind: "Playbook", owner: "site", runID: "r1", wantPrefix: "site"},
		"owner is truncated to 46 characters":       {kind: "Playbook", owner: long, runID: "r1", wantPrefix: long[:46]},
		"truncation does not end with a dash":       {kind: "Schedule", owner: strings.Repeat("b", 45) + "-cdef", runID: "r1", wantPrefix: strings.Repeat("b", 45)},
		"dots of a subdomain name become dashes":    {kind: "Playbook", owner: "web.prod", runID: "2026-01-01", wantPrefix: "web-prod"},
		"an owner of exactly 46 characters is kept": {kind: "Playbook", owner: long[:46], runID: "x", wantPrefix: long[:46]},
		"run ids with any characters give a label":  {kind: "Playbook", owner: "site", runID: "Run Now/#1 ✓", wantPrefix: "site"},
		"a 253-character owner still fits a label":  {kind: "Playbook", owner: strings.Repeat("x", 253), runID: "r", wantPrefix: strings.Repeat("x", 46)},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got := JobName(tc.kind, tc.owner, tc.runID)
			want := tc.wantPrefix + "-" + hash8(tc.kind+"/"+tc.owner+"/"+tc.runID)
			if got != want {
				t.Errorf("JobName = %q, want %q", got, want)
			}
			if errs := validation.IsDNS1123Label(got); len(errs) > 0 {
				t.Errorf("JobName %q is not a DNS label: %v", got, errs)
			}
			if again := JobName(tc.kind, tc.owner, tc.runID); again != got {
				t.Errorf("same inputs gave %q then %q", got, again)
			}
		})
	}
}

func TestJobName_distinguishesInputs(t *testing.T) {
	cases := map[string]struct{ a, b string }{
		"different run ids differ":                        {JobName("Playbook", "site", "r1"), JobName("Playbook", "site", "r2")},
		"different kinds differ":                          {JobName("Playbook", "site", "r1"), JobName("Schedule", "site", "r1")},
		"run ids sharing their first 8 characters differ": {JobName("Playbook", "site", "2026-07-01A"), JobName("Playbook", "site", "2026-07-01B")},
		"owners sharing their first 46 characters differ": {JobName("Playbook", strings.Repeat("o", 46)+"-a", "r1"), JobName("Playbook", strings.Repeat("o", 46)+"-b", "r1")},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if tc.a == tc.b {
				t.Errorf("both are %q", tc.a)
			}
		})
	}
}

func TestCronJobName(t *testing.T) {
	cases := map[string]struct {
		schedule string
		want     string
	}{
		"a short name is the Schedule's name":      {schedule: "nightly", want: "nightly"},
		"52 characters are kept":                   {schedule: strings.Repeat("n", 52), want: strings.Repeat("n", 52)},
		"53 characters are truncated with a hash":  {schedule: strings.Repeat("n", 53), want: strings.Repeat("n", 43) + "-" + hash8(strings.Repeat("n", 53))},
		"truncation does not end with a separator": {schedule: strings.Repeat("n", 41) + "-.x" + strings.Repeat("y", 20), want: strings.Repeat("n", 41) + "-" + hash8(strings.Repeat("n", 41)+"-.x"+strings.Repeat("y", 20))},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got := CronJobName(tc.schedule)
			if got != tc.want {
				t.Errorf("CronJobName = %q, want %q", got, tc.want)
			}
			if len(got) > 52 {
				t.Errorf("CronJobName %q has %d characters, more than 52", got, len(got))
			}
			if errs := validation.IsDNS1123Subdomain(got); len(errs) > 0 {
				t.Errorf("CronJobName %q: %v", got, errs)
			}
		})
	}
}

func TestLabelValue(t *testing.T) {
	cases := map[string]struct {
		in   string
		want string
	}{
		"63 characters are kept":                  {in: strings.Repeat("a", 63), want: strings.Repeat("a", 63)},
		"64 characters are truncated with a hash": {in: strings.Repeat("a", 64), want: strings.Repeat("a", 54) + "-" + hash8(strings.Repeat("a", 64))},
		"truncation drops trailing dots":          {in: strings.Repeat("a", 53) + ".b" + strings.Repeat("c", 20), want: strings.Repeat("a", 53) + "-" + hash8(strings.Repeat("a", 53)+".b"+strings.Repeat("c", 20))},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got := LabelValue(tc.in)
			if got != tc.want {
				t.Errorf("LabelValue = %q, want %q", got, tc.want)
			}
			if errs := validation.IsValidLabelValue(got); len(errs) > 0 {
				t.Errorf("LabelValue %q: %v", got, errs)
			}
		})
	}
}

// ---- image ----

func TestExecutorImage(t *testing.T) {
	cases := map[string]struct {
		runtimeImage string
		image        opconfig.Image // executorDefaults.image
		wantImage    string
		wantPinned   bool
		wantPolicy   corev1.PullPolicy
	}{
		"runtime.image wins over the default": {
			runtimeImage: "registry.example.com/runner:2",
			image:        opconfig.Image{Repository: "r/x", Tag: "1", Digest: digest, PullPolicy: "Always"},
			wantImage:    "registry.example.com/runner:2",
		},
		"a pinned runtime.image keeps its own digest": {
			runtimeImage: "registry.example.com:5000/runner:2@" + digest,
			image:        opconfig.Image{Repository: "r/x", Tag: "1"},
			wantImage:    "registry.example.com:5000/runner:2@" + digest, wantPinned: true,
		},
		"default with a digest is repository@digest": {
			image:     opconfig.Image{Repository: "registry.example.com:5000/runner", Tag: "13", Digest: digest, PullPolicy: "IfNotPresent"},
			wantImage: "registry.example.com:5000/runner@" + digest, wantPinned: true, wantPolicy: corev1.PullIfNotPresent,
		},
		"default with an empty digest is repository:tag": {
			image:     opconfig.Image{Repository: "kenchrcum/ansible-runner", Tag: "13", PullPolicy: "Always"},
			wantImage: "kenchrcum/ansible-runner:13", wantPolicy: corev1.PullAlways,
		},
		"an empty config uses the built-in default": {
			wantImage: opconfig.DefaultRepository + ":" + opconfig.DefaultTag,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			pb := newPlaybook()
			if tc.runtimeImage != "" {
				pb = newPlaybook(withRuntime(func(r *ansiblev1alpha1.PlaybookRuntime) { r.Image = tc.runtimeImage }))
			}
			cfg := opconfig.Config{ExecutorDefaults: opconfig.ExecutorDefaults{Image: tc.image}}
			img, pinned := ExecutorImage(pb, cfg)
			if img != tc.wantImage || pinned != tc.wantPinned {
				t.Errorf("ExecutorImage = %q pinned=%v, want %q pinned=%v", img, pinned, tc.wantImage, tc.wantPinned)
			}
			c := executor(t, mustPodTemplate(t, Inputs{Playbook: pb, Repository: newRepository(), Config: cfg, OperatorImage: operatorImage}).Spec)
			if c.Image != tc.wantImage {
				t.Errorf("container image = %q, want %q", c.Image, tc.wantImage)
			}
			if c.ImagePullPolicy != tc.wantPolicy {
				t.Errorf("imagePullPolicy = %q, want %q (the config's only for the default image)", c.ImagePullPolicy, tc.wantPolicy)
			}
		})
	}
}

func TestPodTemplate_initContainerInstallsTheRunner(t *testing.T) {
	tmpl := mustPodTemplate(t, newInputs())
	if len(tmpl.Spec.InitContainers) != 1 {
		t.Fatalf("initContainers = %v, want one", tmpl.Spec.InitContainers)
	}
	ic := tmpl.Spec.InitContainers[0]
	want := corev1.Container{
		Name:    InstallRunnerContainerName,
		Image:   operatorImage,
		Command: []string{"/usr/local/bin/playbook-runner", "install", runspec.RunnerDir},
		Resources: corev1.ResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("10m"), corev1.ResourceMemory: resource.MustParse("16Mi")},
			Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("64Mi")},
		},
		VolumeMounts:    []corev1.VolumeMount{{Name: runnerVolume, MountPath: runspec.RunnerDir}},
		SecurityContext: defaultSecurityContext(),
	}
	if d := cmp.Diff(want, ic); d != "" {
		t.Errorf("init container (-want +got):\n%s", d)
	}
	if m := mountNamed(executor(t, tmpl.Spec), runnerVolume); m == nil || m.MountPath != runspec.RunnerDir || !m.ReadOnly {
		t.Errorf("executor mounts the runner dir as %+v, want read-only at %s", m, runspec.RunnerDir)
	}
}

// ---- resources ----

func TestPodTemplate_resources(t *testing.T) {
	pbRes := resources("100m", "256Mi")
	schedRes := resources("2", "4Gi")
	cases := map[string]struct {
		playbook *ansiblev1alpha1.ResourceRequirements
		schedule *ansiblev1alpha1.ResourceRequirements
		want     *ansiblev1alpha1.ResourceRequirements
	}{
		"the Schedule's resources win over the Playbook's":  {playbook: pbRes, schedule: schedRes, want: schedRes},
		"the Playbook's resources apply without a Schedule": {playbook: pbRes, want: pbRes},
		"an empty Schedule resources object falls back":     {playbook: pbRes, schedule: &ansiblev1alpha1.ResourceRequirements{}, want: pbRes},
		"the Schedule's resources apply alone":              {schedule: schedRes, want: schedRes},
		"no resources at all leave the container's unset":   {},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			in := newInputs(withScheduleResources(tc.schedule), withPlaybook(withRuntime(func(r *ansiblev1alpha1.PlaybookRuntime) { r.Resources = tc.playbook })))
			got := executor(t, mustPodTemplate(t, in).Spec).Resources
			var want corev1.ResourceRequirements
			if tc.want != nil {
				want = corev1.ResourceRequirements{Limits: tc.want.Limits, Requests: tc.want.Requests}
			}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("resources (-want +got):\n%s", d)
			}
		})
	}
}

// ---- security ----

func TestPodTemplate_restrictedByDefault(t *testing.T) {
	spec := mustPodTemplate(t, newInputs()).Spec
	wantPod := &corev1.PodSecurityContext{
		RunAsNonRoot:   ptr.To(true),
		RunAsUser:      ptr.To[int64](1000),
		RunAsGroup:     ptr.To[int64](1000),
		FSGroup:        ptr.To[int64](1000),
		SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	}
	if d := cmp.Diff(wantPod, spec.SecurityContext); d != "" {
		t.Errorf("pod securityContext (-want +got):\n%s", d)
	}
	wantContainer := &corev1.SecurityContext{
		AllowPrivilegeEscalation: ptr.To(false),
		ReadOnlyRootFilesystem:   ptr.To(true),
		Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
		SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	}
	for _, c := range append(slices.Clone(spec.InitContainers), spec.Containers...) {
		if d := cmp.Diff(wantContainer, c.SecurityContext); d != "" {
			t.Errorf("container %s securityContext (-want +got):\n%s", c.Name, d)
		}
	}
	if spec.RestartPolicy != corev1.RestartPolicyNever {
		t.Errorf("restartPolicy = %q, want Never", spec.RestartPolicy)
	}
	if spec.AutomountServiceAccountToken == nil || *spec.AutomountServiceAccountToken {
		t.Errorf("automountServiceAccountToken = %v, want false without a service account", spec.AutomountServiceAccountToken)
	}
}

func TestMergeSecurityContext_eachUserFieldWins(t *testing.T) {
	typ := reflect.TypeFor[corev1.SecurityContext]()
	for i := range typ.NumField() {
		f := typ.Field(i)
		t.Run("user "+f.Name+" wins and the other defaults stay", func(t *testing.T) {
			user := &corev1.SecurityContext{}
			v := setValue(f.Type)
			reflect.ValueOf(user).Elem().Field(i).Set(v)
			want := defaultSecurityContext()
			if f.Name == "Capabilities" {
				// Capabilities merge one level deeper: an empty object keeps drop ALL.
				want.Capabilities = &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}
			} else {
				reflect.ValueOf(want).Elem().Field(i).Set(v)
			}
			if d := cmp.Diff(want, mergeSecurityContext(user)); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}

func TestMergePodSecurityContext_eachUserFieldWins(t *testing.T) {
	typ := reflect.TypeFor[corev1.PodSecurityContext]()
	for i := range typ.NumField() {
		f := typ.Field(i)
		t.Run("user "+f.Name+" wins and the other defaults stay", func(t *testing.T) {
			user := &corev1.PodSecurityContext{}
			v := setValue(f.Type)
			reflect.ValueOf(user).Elem().Field(i).Set(v)
			want := defaultPodSecurityContext()
			reflect.ValueOf(want).Elem().Field(i).Set(v)
			if d := cmp.Diff(want, mergePodSecurityContext(user)); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}

// setValue is a value of type t that counts as set: a pointer to the zero
// value (so an explicit false or 0 is tested), an empty non-nil slice or
// map, or a non-empty string.
func setValue(t reflect.Type) reflect.Value {
	switch t.Kind() {
	case reflect.Pointer:
		return reflect.New(t.Elem())
	case reflect.Slice:
		return reflect.MakeSlice(t, 0, 0)
	case reflect.Map:
		return reflect.MakeMap(t)
	case reflect.String:
		return reflect.ValueOf("set").Convert(t)
	default:
		panic("setValue: unhandled kind " + t.Kind().String())
	}
}

func TestMergeSecurityContext_namedCases(t *testing.T) {
	cases := map[string]struct {
		user *corev1.SecurityContext
		want func(*corev1.SecurityContext)
	}{
		"no user securityContext keeps the defaults": {},
		"readOnlyRootFilesystem false wins": {
			user: &corev1.SecurityContext{ReadOnlyRootFilesystem: ptr.To(false)},
			want: func(s *corev1.SecurityContext) { s.ReadOnlyRootFilesystem = ptr.To(false) },
		},
		"runAsUser is added to the defaults": {
			user: &corev1.SecurityContext{RunAsUser: ptr.To[int64](2000)},
			want: func(s *corev1.SecurityContext) { s.RunAsUser = ptr.To[int64](2000) },
		},
		"capabilities.add alone keeps drop ALL": {
			user: &corev1.SecurityContext{Capabilities: &corev1.Capabilities{Add: []corev1.Capability{"NET_BIND_SERVICE"}}},
			want: func(s *corev1.SecurityContext) {
				s.Capabilities = &corev1.Capabilities{Add: []corev1.Capability{"NET_BIND_SERVICE"}, Drop: []corev1.Capability{"ALL"}}
			},
		},
		"capabilities.drop replaces drop ALL": {
			user: &corev1.SecurityContext{Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"NET_RAW"}}},
			want: func(s *corev1.SecurityContext) {
				s.Capabilities = &corev1.Capabilities{Drop: []corev1.Capability{"NET_RAW"}}
			},
		},
		"a seccomp profile replaces the default profile whole": {
			user: &corev1.SecurityContext{SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeLocalhost, LocalhostProfile: ptr.To("p.json")}},
			want: func(s *corev1.SecurityContext) {
				s.SeccompProfile = &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeLocalhost, LocalhostProfile: ptr.To("p.json")}
			},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			in := newInputs(withPlaybook(withRuntime(func(r *ansiblev1alpha1.PlaybookRuntime) { r.SecurityContext = tc.user })))
			tmpl := mustPodTemplate(t, in)
			want := defaultSecurityContext()
			if tc.want != nil {
				tc.want(want)
			}
			if d := cmp.Diff(want, executor(t, tmpl.Spec).SecurityContext); d != "" {
				t.Errorf("executor securityContext (-want +got):\n%s", d)
			}
			if d := cmp.Diff(defaultSecurityContext(), tmpl.Spec.InitContainers[0].SecurityContext); d != "" {
				t.Errorf("the init container is not affected by the user's securityContext (-want +got):\n%s", d)
			}
		})
	}
}

func TestMergePodSecurityContext_namedCases(t *testing.T) {
	cases := map[string]struct {
		user *corev1.PodSecurityContext
		want func(*corev1.PodSecurityContext)
	}{
		"fsGroup alone keeps runAsNonRoot, uid, gid and seccomp": {
			user: &corev1.PodSecurityContext{FSGroup: ptr.To[int64](3000)},
			want: func(s *corev1.PodSecurityContext) { s.FSGroup = ptr.To[int64](3000) },
		},
		"runAsNonRoot false wins": {
			user: &corev1.PodSecurityContext{RunAsNonRoot: ptr.To(false)},
			want: func(s *corev1.PodSecurityContext) { s.RunAsNonRoot = ptr.To(false) },
		},
		"supplementalGroups are added": {
			user: &corev1.PodSecurityContext{SupplementalGroups: []int64{4000}},
			want: func(s *corev1.PodSecurityContext) { s.SupplementalGroups = []int64{4000} },
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			in := newInputs(withPlaybook(withRuntime(func(r *ansiblev1alpha1.PlaybookRuntime) { r.PodSecurityContext = tc.user })))
			want := defaultPodSecurityContext()
			tc.want(want)
			if d := cmp.Diff(want, mustPodTemplate(t, in).Spec.SecurityContext); d != "" {
				t.Errorf("pod securityContext (-want +got):\n%s", d)
			}
		})
	}
}

func TestMergeSecurityContext_doesNotAliasTheUsersObject(t *testing.T) {
	user := &corev1.SecurityContext{Capabilities: &corev1.Capabilities{Add: []corev1.Capability{"NET_BIND_SERVICE"}}}
	got := mergeSecurityContext(user)
	got.Capabilities.Add[0] = "CHANGED"
	if user.Capabilities.Add[0] != "NET_BIND_SERVICE" {
		t.Errorf("the merge shares memory with the Playbook's securityContext")
	}
}

func TestPodTemplate_serviceAccount(t *testing.T) {
	cases := map[string]struct {
		runtimeSA, configSA string
		wantSA              string
		wantAutomount       *bool
	}{
		"no service account mounts no token":                       {wantAutomount: ptr.To(false)},
		"runtime.serviceAccountName wins over the config's":        {runtimeSA: "deployer", configSA: "executor", wantSA: "deployer"},
		"the config's service account applies by default":          {configSA: "executor", wantSA: "executor"},
		"with a service account its own automount setting decides": {runtimeSA: "deployer", wantSA: "deployer"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			in := newInputs(
				withPlaybook(withRuntime(func(r *ansiblev1alpha1.PlaybookRuntime) { r.ServiceAccountName = tc.runtimeSA })),
				withConfig(func(c *opconfig.Config) { c.ExecutorDefaults.ServiceAccountName = tc.configSA }),
			)
			spec := mustPodTemplate(t, in).Spec
			if spec.ServiceAccountName != tc.wantSA {
				t.Errorf("serviceAccountName = %q, want %q", spec.ServiceAccountName, tc.wantSA)
			}
			if d := cmp.Diff(tc.wantAutomount, spec.AutomountServiceAccountToken); d != "" {
				t.Errorf("automountServiceAccountToken (-want +got):\n%s", d)
			}
		})
	}
}

func TestPodTemplate_schedulingFromRuntime(t *testing.T) {
	affinity := &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
		NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "zone", Operator: corev1.NodeSelectorOpIn, Values: []string{"a"}}}}},
	}}}
	tolerations := []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "ansible", Effect: corev1.TaintEffectNoSchedule}}
	in := newInputs(withPlaybook(withRuntime(func(r *ansiblev1alpha1.PlaybookRuntime) {
		r.ImagePullSecrets = []ansiblev1alpha1.LocalObjectReference{{Name: "pull-b"}, {Name: "pull-a"}}
		r.NodeSelector = map[string]string{"kubernetes.io/os": "linux"}
		r.Tolerations = tolerations
		r.Affinity = affinity
	})))
	spec := mustPodTemplate(t, in).Spec
	if d := cmp.Diff([]corev1.LocalObjectReference{{Name: "pull-b"}, {Name: "pull-a"}}, spec.ImagePullSecrets); d != "" {
		t.Errorf("imagePullSecrets (-want +got):\n%s", d)
	}
	if d := cmp.Diff(map[string]string{"kubernetes.io/os": "linux"}, spec.NodeSelector); d != "" {
		t.Errorf("nodeSelector (-want +got):\n%s", d)
	}
	if d := cmp.Diff(tolerations, spec.Tolerations); d != "" {
		t.Errorf("tolerations (-want +got):\n%s", d)
	}
	if d := cmp.Diff(affinity, spec.Affinity); d != "" {
		t.Errorf("affinity (-want +got):\n%s", d)
	}
	in.Playbook.Spec.Runtime.Tolerations[0].Value = "changed"
	in.Playbook.Spec.Runtime.NodeSelector["kubernetes.io/os"] = "changed"
	if spec.Tolerations[0].Value != "ansible" || spec.NodeSelector["kubernetes.io/os"] != "linux" {
		t.Error("the pod template shares memory with the Playbook")
	}
}

// ---- volumes ----

func TestPodTemplate_volumes(t *testing.T) {
	mode := ptr.To[int32](0o400)
	secretVol := func(name, secret string, items ...corev1.KeyToPath) corev1.Volume {
		return corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: secret, Items: items, DefaultMode: mode}}}
	}
	cases := map[string]struct {
		in        Inputs
		wantVol   []corev1.Volume      // volumes that must be present, exactly
		wantMount []corev1.VolumeMount // executor mounts that must be present, exactly
		absent    []string             // volume names that must not be present
	}{
		"emptyDirs for the runner, workspace, home and tmp": {
			in: newInputs(),
			wantVol: []corev1.Volume{
				{Name: "runner", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
				{Name: "workspace", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
				{Name: "home", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
				{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
			},
			wantMount: []corev1.VolumeMount{
				{Name: "workspace", MountPath: "/workspace"},
				{Name: "home", MountPath: "/home/ansible"},
				{Name: "tmp", MountPath: "/tmp"},
			},
			absent: []string{"git-auth", "known-hosts", "vault-password", "ansible-cache"},
		},
		"the auth Secret is mounted 0400 at the git auth dir": {
			in:        newInputs(withRepository(withAuth(ansiblev1alpha1.AuthMethodToken, "git-token"))),
			wantVol:   []corev1.Volume{secretVol("git-auth", "git-token")},
			wantMount: []corev1.VolumeMount{{Name: "git-auth", MountPath: runspec.GitAuthDir, ReadOnly: true}},
		},
		"the known_hosts ConfigMap is mounted at the known hosts dir": {
			in: newInputs(withRepository(withAuth(ansiblev1alpha1.AuthMethodSSH, "git-ssh"), withKnownHosts("hosts", nil))),
			wantVol: []corev1.Volume{
				secretVol("git-auth", "git-ssh"),
				{Name: "known-hosts", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "hosts"}}}},
			},
			wantMount: []corev1.VolumeMount{{Name: "known-hosts", MountPath: runspec.KnownHostsDir, ReadOnly: true}},
		},
		"each extraVarsSecretRefs Secret is mounted 0400 at <index>-<name>": {
			in: newInputs(withPlaybook(withExtraVarsSecrets("common", "prod"))),
			wantVol: []corev1.Volume{
				secretVol("extra-vars-0", "common"),
				secretVol("extra-vars-1", "prod"),
			},
			wantMount: []corev1.VolumeMount{
				{Name: "extra-vars-0", MountPath: runspec.ExtraVarsDir + "/0-common", ReadOnly: true},
				{Name: "extra-vars-1", MountPath: runspec.ExtraVarsDir + "/1-prod", ReadOnly: true},
			},
		},
		"the vault Secret is mounted 0400 at the vault dir": {
			in: newInputs(withPlaybook(withSecrets(func(s *ansiblev1alpha1.PlaybookSecrets) {
				s.VaultPasswordSecretRef = &ansiblev1alpha1.LocalObjectReference{Name: "vault"}
			}))),
			wantVol: []corev1.Volume{secretVol("vault-password", "vault")},
			// The Python operator's path, which repositories' ansible.cfg files name.
			wantMount: []corev1.VolumeMount{{Name: "vault-password", MountPath: "/vault-password", ReadOnly: true}},
		},
		"fileMounts are Secret volumes 0400 with their items at their mountPath": {
			in: newInputs(withPlaybook(withSecrets(func(s *ansiblev1alpha1.PlaybookSecrets) {
				s.FileMounts = []ansiblev1alpha1.SecretFileMount{
					{SecretRef: ansiblev1alpha1.FileMountSecretReference{Name: "tls"}, MountPath: "/etc/ansible/tls", Items: []ansiblev1alpha1.KeyToPath{{Key: "ca.crt", Path: "ssl/ca.crt"}}},
					{SecretRef: ansiblev1alpha1.FileMountSecretReference{Name: "keys"}, MountPath: "/home/ansible/.ssh"},
				}
			}))),
			wantVol: []corev1.Volume{
				secretVol("secret-mount-0", "tls", corev1.KeyToPath{Key: "ca.crt", Path: "ssl/ca.crt"}),
				secretVol("secret-mount-1", "keys"),
			},
			wantMount: []corev1.VolumeMount{
				{Name: "secret-mount-0", MountPath: "/etc/ansible/tls", ReadOnly: true},
				{Name: "secret-mount-1", MountPath: "/home/ansible/.ssh", ReadOnly: true},
			},
		},
		"the Repository's cache PVC is mounted at ~/.ansible over the home emptyDir": {
			in: newInputs(withRepository(withRepoCache("repo-cache")), withConfig(func(c *opconfig.Config) {
				c.ExecutorDefaults.Cache = opconfig.Cache{Strategy: "pvc", PVCName: "config-cache"}
			})),
			wantVol: []corev1.Volume{
				{Name: "home", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
				{Name: "ansible-cache", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "repo-cache"}}},
			},
			wantMount: []corev1.VolumeMount{{Name: "ansible-cache", MountPath: "/home/ansible/.ansible"}},
		},
		"the operator config's cache PVC applies when the Repository has none": {
			in: newInputs(withConfig(func(c *opconfig.Config) {
				c.ExecutorDefaults.Cache = opconfig.Cache{Strategy: "pvc", PVCName: "config-cache"}
			})),
			wantVol: []corev1.Volume{
				{Name: "ansible-cache", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "config-cache"}}},
			},
			wantMount: []corev1.VolumeMount{{Name: "ansible-cache", MountPath: "/home/ansible/.ansible"}},
		},
		"runtime volumes and mounts are added": {
			in: newInputs(withPlaybook(withRuntime(func(r *ansiblev1alpha1.PlaybookRuntime) {
				r.Volumes = []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
				r.VolumeMounts = []corev1.VolumeMount{{Name: "data", MountPath: "/data"}}
			}))),
			wantVol:   []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}},
			wantMount: []corev1.VolumeMount{{Name: "data", MountPath: "/data"}},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			tmpl := mustPodTemplate(t, tc.in)
			validatePodTemplate(t, tmpl)
			c := executor(t, tmpl.Spec)
			for _, want := range tc.wantVol {
				if d := cmp.Diff(&want, volumeNamed(tmpl.Spec, want.Name)); d != "" {
					t.Errorf("volume %s (-want +got):\n%s", want.Name, d)
				}
			}
			for _, want := range tc.wantMount {
				if d := cmp.Diff(&want, mountNamed(c, want.Name)); d != "" {
					t.Errorf("mount %s (-want +got):\n%s", want.Name, d)
				}
			}
			for _, n := range tc.absent {
				if v := volumeNamed(tmpl.Spec, n); v != nil {
					t.Errorf("unexpected volume %+v", v)
				}
			}
			// Every Secret volume is 0400.
			for _, v := range tmpl.Spec.Volumes {
				if v.Secret != nil && (v.Secret.DefaultMode == nil || *v.Secret.DefaultMode != 0o400) {
					t.Errorf("Secret volume %s has defaultMode %v, want 0400", v.Name, v.Secret.DefaultMode)
				}
			}
		})
	}
}

func TestPodTemplate_mountsAreOrderedParentFirst(t *testing.T) {
	in := newInputs(withRepository(withRepoCache("cache")), withPlaybook(withSecrets(func(s *ansiblev1alpha1.PlaybookSecrets) {
		s.FileMounts = []ansiblev1alpha1.SecretFileMount{{SecretRef: ansiblev1alpha1.FileMountSecretReference{Name: "keys"}, MountPath: "/home/ansible/.ssh"}}
	})))
	var paths []string
	for _, m := range executor(t, mustPodTemplate(t, in).Spec).VolumeMounts {
		paths = append(paths, m.MountPath)
	}
	home := slices.Index(paths, "/home/ansible")
	if home < 0 || home > slices.Index(paths, "/home/ansible/.ansible") || home > slices.Index(paths, "/home/ansible/.ssh") {
		t.Errorf("mounts %q: /home/ansible must come before the mounts inside it", paths)
	}
}

// ---- run spec ----

func TestPodTemplate_runSpec(t *testing.T) {
	base := runspec.Spec{
		Repository: runspec.Repository{URL: repoURL, Branch: "main", Commit: commit, StrictHostKeyChecking: true},
		Playbook:   "playbooks/site.yml", InventoryDir: "inventory", RolesDir: "roles", RequirementsFile: "requirements.yml",
	}
	cases := map[string]struct {
		in   Inputs
		want func(*runspec.Spec) // changes to base
	}{
		"a minimal Playbook gets the Repository's default paths": {in: newInputs()},
		"a Repository without a branch runs main": {
			in: newInputs(withRepository(withRepoSpec(func(s *ansiblev1alpha1.RepositorySpec) { s.Branch = "" }))),
		},
		"the resolved commit is what runs, not spec.revision": {
			in:   newInputs(withRepository(withRepoSpec(func(s *ansiblev1alpha1.RepositorySpec) { s.Revision = "abcdef0"; s.Branch = "release/1.2" }))),
			want: func(s *runspec.Spec) { s.Repository.Branch = "release/1.2" },
		},
		"git options and ssh auth with known hosts": {
			in: newInputs(withRepository(
				withRepoSpec(func(s *ansiblev1alpha1.RepositorySpec) {
					s.URL = "git@git.example.com:ops/ansible.git"
					s.Git = &ansiblev1alpha1.RepositoryGit{Shallow: true, Submodules: true}
				}),
				withAuth(ansiblev1alpha1.AuthMethodSSH, "git-ssh"),
				withKnownHosts("hosts", nil),
			)),
			want: func(s *runspec.Spec) {
				s.Repository.URL = "git@git.example.com:ops/ansible.git"
				s.Repository.Shallow, s.Repository.Submodules = true, true
				s.Repository.AuthMethod, s.Repository.AuthDir = "ssh", runspec.GitAuthDir
				s.Repository.KnownHostsFile = runspec.KnownHostsDir + "/known_hosts"
				s.Repository.PassAuthToAnsible = true
			},
		},
		"strictHostKeyChecking false is passed on": {
			in: newInputs(withRepository(withAuth(ansiblev1alpha1.AuthMethodSSH, "git-ssh"), withKnownHosts("", ptr.To(false)))),
			want: func(s *runspec.Spec) {
				s.Repository.AuthMethod, s.Repository.AuthDir, s.Repository.StrictHostKeyChecking = "ssh", runspec.GitAuthDir, false
				s.Repository.PassAuthToAnsible = true
			},
		},
		"https auth names the auth dir and passes it to ansible by default": {
			in: newInputs(withRepository(withAuth(ansiblev1alpha1.AuthMethodHTTPS, "git-basic"))),
			want: func(s *runspec.Spec) {
				s.Repository.AuthMethod, s.Repository.AuthDir, s.Repository.PassAuthToAnsible = "https", runspec.GitAuthDir, true
			},
		},
		"passToAnsible false keeps the credentials to the fetch": {
			in: newInputs(withRepository(withAuth(ansiblev1alpha1.AuthMethodToken, "git-token"), func(r *ansiblev1alpha1.Repository) {
				r.Spec.Auth.PassToAnsible = ptr.To(false)
			})),
			want: func(s *runspec.Spec) { s.Repository.AuthMethod, s.Repository.AuthDir = "token", runspec.GitAuthDir },
		},
		"inventoryPath is the only inventory": {
			in:   newInputs(withPlaybook(withSpec(func(s *ansiblev1alpha1.PlaybookSpec) { s.InventoryPath = "hosts/prod.yml" }))),
			want: func(s *runspec.Spec) { s.Inventories, s.InventoryDir = []string{"hosts/prod.yml"}, "" },
		},
		"inventoryPaths keep their order": {
			in:   newInputs(withPlaybook(withSpec(func(s *ansiblev1alpha1.PlaybookSpec) { s.InventoryPaths = []string{"b", "a", "localhost,"} }))),
			want: func(s *runspec.Spec) { s.Inventories, s.InventoryDir = []string{"b", "a", "localhost,"}, "" },
		},
		"Repository paths replace the defaults": {
			in: newInputs(withRepository(withRepoSpec(func(s *ansiblev1alpha1.RepositorySpec) {
				s.Paths = &ansiblev1alpha1.RepositoryPaths{InventoryDir: "inv", RolesDir: "ansible/roles", RequirementsFile: "collections/requirements.yml"}
			}))),
			want: func(s *runspec.Spec) {
				s.InventoryDir, s.RolesDir, s.RequirementsFile = "inv", "ansible/roles", "collections/requirements.yml"
			},
		},
		"ansibleCfgPath, execution options and extraVars are passed as data": {
			in: newInputs(withPlaybook(
				withSpec(func(s *ansiblev1alpha1.PlaybookSpec) {
					s.AnsibleCfgPath = "ansible.cfg"
					s.Execution = &ansiblev1alpha1.ExecutionOptions{
						Tags: []string{"deploy", "config"}, SkipTags: []string{"slow"}, CheckMode: true, Diff: true, Verbosity: 2,
						Limit: "web_servers:&production", ConnectionTimeout: ptr.To[int32](30), Forks: ptr.To[int32](10),
						Strategy: ansiblev1alpha1.StrategyFree, FlushCache: true, ForceHandlers: true, StartAtTask: "Install packages; rm -rf /",
					}
				}),
				withExtraVars(`{ "app": "it's \"quoted\"", "n": 1 }`),
			)),
			want: func(s *runspec.Spec) {
				s.AnsibleCfg = "ansible.cfg"
				s.Execution = runspec.Execution{
					Tags: []string{"deploy", "config"}, SkipTags: []string{"slow"}, Check: true, Diff: true, Verbosity: 2,
					Limit: "web_servers:&production", ConnectionTimeout: 30, Forks: 10,
					Strategy: "free", FlushCache: true, ForceHandlers: true, StartAtTask: "Install packages; rm -rf /",
				}
				s.ExtraVars = json.RawMessage(`{"app":"it's \"quoted\"","n":1}`)
			},
		},
		"extraVars null means none": {
			in: newInputs(withPlaybook(withExtraVars(`null`))),
		},
		"extraVarsSecretRefs are listed as directories in order": {
			in: newInputs(withPlaybook(withExtraVarsSecrets("common", "prod"))),
			want: func(s *runspec.Spec) {
				s.ExtraVarsSecretDirs = []string{runspec.ExtraVarsDir + "/0-common", runspec.ExtraVarsDir + "/1-prod"}
			},
		},
		"the vault password file is the key password of the vault Secret": {
			in: newInputs(withPlaybook(withSecrets(func(s *ansiblev1alpha1.PlaybookSecrets) {
				s.VaultPasswordSecretRef = &ansiblev1alpha1.LocalObjectReference{Name: "vault"}
			}))),
			want: func(s *runspec.Spec) { s.VaultPasswordFile = "/vault-password/password" },
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			want := base
			if tc.want != nil {
				tc.want(&want)
			}
			got := decodeSpec(t, executor(t, mustPodTemplate(t, tc.in).Spec))
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("run spec (-want +got):\n%s", d)
			}
		})
	}
}

func TestPodTemplate_envAndTermination(t *testing.T) {
	in := newInputs(withPlaybook(withSecrets(func(s *ansiblev1alpha1.PlaybookSecrets) {
		s.Env = []ansiblev1alpha1.SecretEnvVar{
			{EnvVarName: "Z_TOKEN", SecretRef: ansiblev1alpha1.SecretKeyReference{Name: "api", Key: "token"}},
			{EnvVarName: "DB_PASSWORD", SecretRef: ansiblev1alpha1.SecretKeyReference{Name: "db", Key: "password"}},
		}
		s.EnvFromSecretRefs = []ansiblev1alpha1.LocalObjectReference{{Name: "second"}, {Name: "first"}}
	})))
	c := executor(t, mustPodTemplate(t, in).Spec)
	ref := func(name, key string) *corev1.EnvVarSource {
		return &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: name}, Key: key}}
	}
	wantEnv := []corev1.EnvVar{
		{Name: "ANSIBLE_LOCAL_TEMP", Value: "/tmp/ansible-local"},
		{Name: "DB_PASSWORD", ValueFrom: ref("db", "password")},
		{Name: "HOME", Value: runspec.HomeDir},
		{Name: "TMPDIR", Value: runspec.TmpDir},
		{Name: "Z_TOKEN", ValueFrom: ref("api", "token")},
	}
	if d := cmp.Diff(wantEnv, c.Env); d != "" {
		t.Errorf("env, sorted by name (-want +got):\n%s", d)
	}
	wantEnvFrom := []corev1.EnvFromSource{
		{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "second"}}},
		{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "first"}}},
	}
	if d := cmp.Diff(wantEnvFrom, c.EnvFrom); d != "" {
		t.Errorf("envFrom keeps the user's order (-want +got):\n%s", d)
	}
	if c.TerminationMessagePath != runspec.TerminationLog || c.TerminationMessagePolicy != corev1.TerminationMessageReadFile {
		t.Errorf("termination message = %q %q, want %q File", c.TerminationMessagePath, c.TerminationMessagePolicy, runspec.TerminationLog)
	}
}

// TestBuildJob_noSecretValues: the builder never sees a Secret value, so the
// Job can only name Secrets: every env var with a literal value is one of
// the operator's own locations, and the run spec points at mount dirs.
func TestBuildJob_noSecretValues(t *testing.T) {
	in := fullInputs()
	job, err := BuildJob(in, Owner{Kind: ansiblev1alpha1.PlaybookKind, Name: "site"}, "r1")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range job.Spec.Template.Spec.Containers {
		for _, e := range c.Env {
			if e.Value != "" && !slices.Contains([]string{"HOME", "TMPDIR", "ANSIBLE_LOCAL_TEMP"}, e.Name) {
				t.Errorf("env %s has a literal value %q", e.Name, e.Value)
			}
		}
	}
	spec := decodeSpec(t, executor(t, job.Spec.Template.Spec))
	if spec.Repository.Commit != commit {
		t.Errorf("spec commit = %q, want %q", spec.Repository.Commit, commit)
	}
	for _, dir := range append([]string{spec.Repository.AuthDir}, spec.ExtraVarsSecretDirs...) {
		if !strings.HasPrefix(dir, "/etc/ansible-playbook-operator/") {
			t.Errorf("spec names %q, want a mount path under /etc/ansible-playbook-operator", dir)
		}
	}
}

// ---- no shell ----

func TestPodTemplate_noShell(t *testing.T) {
	in := fullInputs()
	in.Playbook.Spec.Execution = &ansiblev1alpha1.ExecutionOptions{Limit: "a && sh -c 'id'", StartAtTask: "$(reboot)"}
	tmpl := mustPodTemplate(t, in)
	for _, c := range append(slices.Clone(tmpl.Spec.InitContainers), tmpl.Spec.Containers...) {
		if len(c.Args) != 0 {
			t.Errorf("container %s has args %q: everything is in command", c.Name, c.Args)
		}
		for i, arg := range c.Command {
			if arg == "-c" || arg == "sh" || arg == "bash" || (i == 0 && (strings.HasSuffix(arg, "sh") || !strings.HasPrefix(arg, "/"))) {
				t.Errorf("container %s command %q runs a shell", c.Name, c.Command)
			}
		}
	}
}

// ---- Job ----

// fullInputs sets every field the builder reads.
func fullInputs() Inputs {
	return newInputs(
		withRepository(withAuth(ansiblev1alpha1.AuthMethodSSH, "git-ssh"), withKnownHosts("hosts", nil), withRepoCache("cache"),
			withRepoSpec(func(s *ansiblev1alpha1.RepositorySpec) {
				s.URL = "ssh://git@git.example.com/ops/ansible.git"
				s.Git = &ansiblev1alpha1.RepositoryGit{Shallow: true}
			})),
		withPlaybook(
			withExtraVars(`{"env":"prod"}`),
			withExtraVarsSecrets("common", "prod"),
			withSecrets(func(s *ansiblev1alpha1.PlaybookSecrets) {
				s.Env = []ansiblev1alpha1.SecretEnvVar{{EnvVarName: "DB_PASSWORD", SecretRef: ansiblev1alpha1.SecretKeyReference{Name: "db", Key: "password"}}}
				s.EnvFromSecretRefs = []ansiblev1alpha1.LocalObjectReference{{Name: "cloud"}}
				s.FileMounts = []ansiblev1alpha1.SecretFileMount{{SecretRef: ansiblev1alpha1.FileMountSecretReference{Name: "tls"}, MountPath: "/etc/tls"}}
				s.VaultPasswordSecretRef = &ansiblev1alpha1.LocalObjectReference{Name: "vault"}
			}),
			withRuntime(func(r *ansiblev1alpha1.PlaybookRuntime) {
				r.ServiceAccountName = "deployer"
				r.Resources = resources("100m", "256Mi")
				r.ActiveDeadlineSeconds = ptr.To[int64](1800)
				r.Volumes = []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
				r.VolumeMounts = []corev1.VolumeMount{{Name: "data", MountPath: "/data"}}
			}),
		),
	)
}

func TestBuildJob(t *testing.T) {
	longSchedule := strings.Repeat("s", 70)
	cases := map[string]struct {
		owner    Owner
		schedule *ansiblev1alpha1.Schedule // Inputs.Schedule
		backoff  int32
		ttl      int32
	}{
		"a Playbook's manual run is not retried and is deleted an hour after it finished": {
			owner: Owner{Kind: ansiblev1alpha1.PlaybookKind, Name: "site", UID: "uid-1"}, ttl: ManualRunTTLSeconds,
		},
		"a Schedule's manual run is named after it and has its backoffLimit and TTL": {
			owner: Owner{Kind: ansiblev1alpha1.ScheduleKind, Name: "nightly", UID: "uid-2"},
			schedule: newSchedule(withScheduleSpec(func(s *ansiblev1alpha1.ScheduleSpec) {
				s.BackoffLimit, s.TTLSecondsAfterFinished = ptr.To[int32](2), ptr.To[int32](0)
			})),
			backoff: 2, ttl: 0,
		},
		"a long owner name gets a hashed label value": {
			owner:    Owner{Kind: ansiblev1alpha1.ScheduleKind, Name: longSchedule, UID: "uid-3"},
			schedule: newSchedule(func(s *ansiblev1alpha1.Schedule) { s.Name = longSchedule }),
			backoff:  3, ttl: 3600,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			in := fullInputs()
			in.Schedule = tc.schedule
			job, err := BuildJob(in, tc.owner, "2026-07-01T10-00")
			if err != nil {
				t.Fatal(err)
			}
			if errs := apivalidation.ValidateObjectMeta(&job.ObjectMeta, true, apivalidation.NameIsDNSLabel, field.NewPath("metadata")); len(errs) > 0 {
				t.Errorf("Job metadata: %v", errs)
			}
			validatePodTemplate(t, job.Spec.Template)
			wantLabels := map[string]string{
				"app.kubernetes.io/managed-by":   "ansible-playbook-operator",
				"app.kubernetes.io/name":         "ansible-playbook-operator",
				"app.kubernetes.io/component":    "executor",
				"ansible.cloud37.dev/owner-kind": tc.owner.Kind,
				"ansible.cloud37.dev/owner-name": LabelValue(tc.owner.Name),
				"ansible.cloud37.dev/owner-uid":  string(tc.owner.UID),
				// The Python operator's labels, which scripts select by.
				"ansible.cloud37.dev/managed-by": "ansible-operator",
				"ansible.cloud37.dev/run-id":     "2026-07-01T10-00",
				"ansible.cloud37.dev/run-type":   "manual",
			}
			wantMeta := metav1.ObjectMeta{
				Name:      JobName(tc.owner.Kind, tc.owner.Name, "2026-07-01T10-00"),
				Namespace: "ops",
				Labels:    wantLabels,
				Annotations: map[string]string{
					"ansible.cloud37.dev/run-id":     "2026-07-01T10-00",
					"ansible.cloud37.dev/revision":   commit,
					"ansible.cloud37.dev/trigger":    "manual",
					"ansible.cloud37.dev/owner-name": tc.owner.Name,
				},
			}
			if d := cmp.Diff(wantMeta, job.ObjectMeta); d != "" {
				t.Errorf("Job metadata (-want +got):\n%s", d)
			}
			if d := cmp.Diff(metav1.TypeMeta{APIVersion: "batch/v1", Kind: "Job"}, job.TypeMeta); d != "" {
				t.Errorf("TypeMeta (-want +got):\n%s", d)
			}
			wantPod := metav1.ObjectMeta{
				Labels:      wantLabels,
				Annotations: map[string]string{"ansible.cloud37.dev/run-id": "2026-07-01T10-00", "ansible.cloud37.dev/revision": commit, "ansible.cloud37.dev/owner-name": tc.owner.Name},
				Finalizers:  []string{RunRecordFinalizer},
			}
			if d := cmp.Diff(wantPod, job.Spec.Template.ObjectMeta); d != "" {
				t.Errorf("pod template metadata (-want +got):\n%s", d)
			}
			if d := cmp.Diff(ptr.To(tc.backoff), job.Spec.BackoffLimit); d != "" {
				t.Errorf("backoffLimit (-want +got):\n%s", d)
			}
			if d := cmp.Diff(ptr.To(tc.ttl), job.Spec.TTLSecondsAfterFinished); d != "" {
				t.Errorf("ttlSecondsAfterFinished (-want +got):\n%s", d)
			}
			if d := cmp.Diff(podFailurePolicy(), job.Spec.PodFailurePolicy); d != "" {
				t.Errorf("podFailurePolicy (-want +got):\n%s", d)
			}
			if d := cmp.Diff(ptr.To[int64](1800), job.Spec.ActiveDeadlineSeconds); d != "" {
				t.Errorf("activeDeadlineSeconds (-want +got):\n%s", d)
			}
			if len(job.OwnerReferences) != 0 || job.Spec.Selector != nil {
				t.Errorf("the builder sets no owner reference and no selector")
			}
			if got := decodeSpec(t, executor(t, job.Spec.Template.Spec)).RunID; got != "2026-07-01T10-00" {
				t.Errorf("spec runId = %q", got)
			}
		})
	}
}

// TestBuildJob_podFailurePolicy: a disruption (node drain, eviction,
// preemption) is ignored, and nothing else is: every other failure counts
// against backoffLimit.
func TestBuildJob_podFailurePolicy(t *testing.T) {
	want := &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{{
		Action:          batchv1.PodFailurePolicyActionIgnore,
		OnPodConditions: []batchv1.PodFailurePolicyOnPodConditionsPattern{{Type: "DisruptionTarget", Status: "True"}},
	}}}
	job, err := BuildJob(newInputs(), Owner{Kind: ansiblev1alpha1.PlaybookKind, Name: "site"}, "r1")
	if err != nil {
		t.Fatal(err)
	}
	cj, err := BuildCronJob(newInputs(), newSchedule(), "0 * * * *")
	if err != nil {
		t.Fatal(err)
	}
	for what, got := range map[string]*batchv1.PodFailurePolicy{"Job": job.Spec.PodFailurePolicy, "CronJob": cj.Spec.JobTemplate.Spec.PodFailurePolicy} {
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("%s podFailurePolicy (-want +got):\n%s", what, d)
		}
	}
}

func TestBuildJob_deterministic(t *testing.T) {
	a, err := BuildJob(fullInputs(), Owner{Kind: ansiblev1alpha1.PlaybookKind, Name: "site"}, "r1")
	if err != nil {
		t.Fatal(err)
	}
	b, err := BuildJob(fullInputs(), Owner{Kind: ansiblev1alpha1.PlaybookKind, Name: "site"}, "r1")
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(a, b); d != "" {
		t.Errorf("same inputs gave different Jobs (-first +second):\n%s", d)
	}
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	if string(ja) != string(jb) {
		t.Error("same inputs gave different JSON")
	}
	if !slices.IsSortedFunc(a.Spec.Template.Spec.Containers[0].Env, func(x, y corev1.EnvVar) int { return strings.Compare(x.Name, y.Name) }) {
		t.Error("env is not sorted")
	}
}

func TestBuild_errors(t *testing.T) {
	cases := map[string]struct {
		in        Inputs
		ownerKind string
		runID     string
		wantErr   string
	}{
		"no Repository": {
			in: Inputs{Playbook: newPlaybook(), OperatorImage: operatorImage}, wantErr: "needs its Repository",
		},
		"a Repository without a resolved revision": {
			in:      newInputs(withRepository(func(r *ansiblev1alpha1.Repository) { r.Status.ResolvedRevision = "" })),
			wantErr: `repository "repo" has no resolved revision yet`,
		},
		"no operator image": {
			in: newInputs(func(in *Inputs) { in.OperatorImage = "" }), wantErr: "operator image is unknown",
		},
		"extraVars that are not an object": {
			in: newInputs(withPlaybook(withExtraVars(`["a"]`))), wantErr: "extraVars of playbook \"site\" as a JSON object",
		},
		"secrets.env may not set HOME": {
			in: newInputs(withPlaybook(withSecrets(func(s *ansiblev1alpha1.PlaybookSecrets) {
				s.Env = []ansiblev1alpha1.SecretEnvVar{{EnvVarName: "HOME", SecretRef: ansiblev1alpha1.SecretKeyReference{Name: "x", Key: "y"}}}
			}))),
			wantErr: `secrets.env[0].envVarName "HOME" is set by the operator`,
		},
		"a runtime volume may not reuse an operator volume name": {
			in: newInputs(withPlaybook(withRuntime(func(r *ansiblev1alpha1.PlaybookRuntime) {
				r.Volumes = []corev1.Volume{{Name: "workspace"}}
			}))),
			wantErr: `runtime.volumes[0].name "workspace" is used by the operator`,
		},
		"a fileMount may not share the workspace path": {
			in: newInputs(withPlaybook(withSecrets(func(s *ansiblev1alpha1.PlaybookSecrets) {
				s.FileMounts = []ansiblev1alpha1.SecretFileMount{{SecretRef: ansiblev1alpha1.FileMountSecretReference{Name: "x"}, MountPath: "/workspace/"}}
			}))),
			wantErr: `two volumes are mounted at`,
		},
		"an unknown owner kind": {
			in: newInputs(), ownerKind: "Repository", wantErr: `owner kind "Repository" is not Playbook or Schedule`,
		},
		"a Schedule's run without its Schedule": {
			in: newInputs(), ownerKind: ansiblev1alpha1.ScheduleKind, wantErr: `the run of schedule "site" needs that Schedule in Inputs.Schedule`,
		},
		"an empty run id": {
			in: newInputs(), runID: "-", wantErr: "needs a run id",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			kind, runID := ansiblev1alpha1.PlaybookKind, "r1"
			if tc.ownerKind != "" {
				kind = tc.ownerKind
			}
			if tc.runID == "-" {
				runID = ""
			}
			_, err := BuildJob(tc.in, Owner{Kind: kind, Name: "site"}, runID)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("BuildJob error = %v, want it to contain %q", err, tc.wantErr)
			}
		})
	}
}

// ---- CronJob ----

func TestBuildCronJob(t *testing.T) {
	cases := map[string]struct {
		schedule *ansiblev1alpha1.Schedule
		in       Inputs
		want     func(*batchv1.CronJobSpec) // changes to the defaults' spec fields
	}{
		"a Schedule without optional fields gets the documented defaults": {
			schedule: newSchedule(),
			in:       newInputs(),
		},
		"every Schedule field is passed to the CronJob": {
			schedule: newSchedule(withScheduleSpec(func(s *ansiblev1alpha1.ScheduleSpec) {
				s.TimeZone = "Europe/Berlin"
				s.Suspend = true
				s.StartingDeadlineSeconds = ptr.To[int64](300)
				s.ConcurrencyPolicy = ansiblev1alpha1.ReplaceConcurrent
				s.BackoffLimit = ptr.To[int32](0)
				s.SuccessfulJobsHistoryLimit = ptr.To[int32](5)
				s.FailedJobsHistoryLimit = ptr.To[int32](7)
				s.TTLSecondsAfterFinished = ptr.To[int32](60)
			})),
			in: newInputs(withPlaybook(withRuntime(func(r *ansiblev1alpha1.PlaybookRuntime) { r.ActiveDeadlineSeconds = ptr.To[int64](600) }))),
			want: func(s *batchv1.CronJobSpec) {
				s.TimeZone = ptr.To("Europe/Berlin")
				s.Suspend = ptr.To(true)
				s.StartingDeadlineSeconds = ptr.To[int64](300)
				s.ConcurrencyPolicy = batchv1.ReplaceConcurrent
				s.JobTemplate.Spec.BackoffLimit = ptr.To[int32](0)
				s.SuccessfulJobsHistoryLimit = ptr.To[int32](5)
				s.FailedJobsHistoryLimit = ptr.To[int32](7)
				s.JobTemplate.Spec.TTLSecondsAfterFinished = ptr.To[int32](60)
				s.JobTemplate.Spec.ActiveDeadlineSeconds = ptr.To[int64](600)
			},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			cj, err := BuildCronJob(tc.in, tc.schedule, "17 3 * * *")
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(metav1.TypeMeta{APIVersion: "batch/v1", Kind: "CronJob"}, cj.TypeMeta); d != "" {
				t.Errorf("TypeMeta, needed for server-side apply (-want +got):\n%s", d)
			}
			if errs := apivalidation.ValidateObjectMeta(&cj.ObjectMeta, true, apivalidation.NameIsDNSSubdomain, field.NewPath("metadata")); len(errs) > 0 {
				t.Errorf("CronJob metadata: %v", errs)
			}
			labels := OwnerLabels(ansiblev1alpha1.ScheduleKind, "nightly")
			if labels["ansible.cloud37.dev/managed-by"] != "ansible-operator" {
				t.Errorf("owner labels %v lack the Python operator's managed-by label", labels)
			}
			wantMeta := metav1.ObjectMeta{Name: "nightly", Namespace: "ops", Labels: labels}
			if d := cmp.Diff(wantMeta, cj.ObjectMeta); d != "" {
				t.Errorf("CronJob metadata (-want +got):\n%s", d)
			}
			// The Jobs and pods also carry the Schedule's UID.
			labels = runLabels(Owner{Kind: ansiblev1alpha1.ScheduleKind, Name: "nightly", UID: tc.schedule.UID})
			wantJobMeta := metav1.ObjectMeta{
				Labels:      labels,
				Annotations: map[string]string{"ansible.cloud37.dev/revision": commit, "ansible.cloud37.dev/trigger": "scheduled", "ansible.cloud37.dev/owner-name": "nightly"},
			}
			if d := cmp.Diff(wantJobMeta, cj.Spec.JobTemplate.ObjectMeta); d != "" {
				t.Errorf("jobTemplate metadata: the Jobs carry the labels and the revision (-want +got):\n%s", d)
			}
			validatePodTemplate(t, cj.Spec.JobTemplate.Spec.Template)
			wantPod := metav1.ObjectMeta{
				Labels:      labels,
				Annotations: map[string]string{"ansible.cloud37.dev/revision": commit, "ansible.cloud37.dev/owner-name": "nightly"},
				Finalizers:  []string{RunRecordFinalizer},
			}
			if d := cmp.Diff(wantPod, cj.Spec.JobTemplate.Spec.Template.ObjectMeta); d != "" {
				t.Errorf("pod template metadata (-want +got):\n%s", d)
			}

			want := batchv1.CronJobSpec{
				Schedule:                   "17 3 * * *",
				ConcurrencyPolicy:          batchv1.ForbidConcurrent,
				Suspend:                    ptr.To(false),
				SuccessfulJobsHistoryLimit: ptr.To[int32](1),
				FailedJobsHistoryLimit:     ptr.To[int32](1),
				JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{
					BackoffLimit:            ptr.To[int32](3),
					TTLSecondsAfterFinished: ptr.To[int32](3600),
					PodFailurePolicy:        podFailurePolicy(),
				}},
			}
			if tc.want != nil {
				tc.want(&want)
			}
			got := cj.Spec.DeepCopy()
			got.JobTemplate.ObjectMeta = metav1.ObjectMeta{}
			got.JobTemplate.Spec.Template = corev1.PodTemplateSpec{}
			if d := cmp.Diff(want, *got); d != "" {
				t.Errorf("CronJob spec (-want +got):\n%s", d)
			}
			spec := decodeSpec(t, executor(t, cj.Spec.JobTemplate.Spec.Template.Spec))
			if spec.RunID != "" || spec.Repository.Commit != commit {
				t.Errorf("spec runId = %q commit = %q: scheduled runs have no run id and run the resolved commit", spec.RunID, spec.Repository.Commit)
			}
		})
	}
}

func TestBuildCronJob_sharesThePodTemplate(t *testing.T) {
	in := fullInputs()
	cj, err := BuildCronJob(in, newSchedule(), "0 * * * *")
	if err != nil {
		t.Fatal(err)
	}
	tmpl := mustPodTemplate(t, in)
	got := cj.Spec.JobTemplate.Spec.Template
	if d := cmp.Diff(tmpl.Spec, got.Spec); d != "" {
		t.Errorf("CronJob pod spec differs from PodTemplate (-want +got):\n%s", d)
	}
}

func TestBuildCronJob_resources(t *testing.T) {
	schedRes := resources("2", "4Gi")
	in := newInputs(withPlaybook(withRuntime(func(r *ansiblev1alpha1.PlaybookRuntime) { r.Resources = resources("100m", "256Mi") })))
	s := newSchedule(withScheduleSpec(func(s *ansiblev1alpha1.ScheduleSpec) { s.Resources = schedRes }))
	cj, err := BuildCronJob(in, s, "0 * * * *")
	if err != nil {
		t.Fatal(err)
	}
	want := corev1.ResourceRequirements{Limits: schedRes.Limits, Requests: schedRes.Requests}
	if d := cmp.Diff(want, executor(t, cj.Spec.JobTemplate.Spec.Template.Spec).Resources); d != "" {
		t.Errorf("the Schedule's resources win (-want +got):\n%s", d)
	}
}

func TestBuildCronJob_longScheduleName(t *testing.T) {
	name := strings.Repeat("n", 60)
	cj, err := BuildCronJob(newInputs(), newSchedule(func(s *ansiblev1alpha1.Schedule) { s.Name = name }), "0 * * * *")
	if err != nil {
		t.Fatal(err)
	}
	if cj.Name != CronJobName(name) || len(cj.Name) > 52 {
		t.Errorf("name = %q, want CronJobName within 52", cj.Name)
	}
	if errs := metav1validation.ValidateLabels(cj.Labels, field.NewPath("labels")); len(errs) > 0 {
		t.Errorf("labels: %v", errs)
	}
}

func TestBuildCronJob_errors(t *testing.T) {
	if _, err := BuildCronJob(newInputs(), nil, "0 * * * *"); err == nil {
		t.Error("no Schedule: want an error")
	}
	if _, err := BuildCronJob(newInputs(), newSchedule(), ""); err == nil || !strings.Contains(err.Error(), "no computed schedule") {
		t.Errorf("empty computed schedule: err = %v", err)
	}
}

func TestBuildJob_scheduleRunsDoNotCollideWithPlaybookRuns(t *testing.T) {
	// A Schedule's manual run is named after the Schedule, not the Playbook,
	// so a Playbook and a Schedule using the same run id do not collide.
	in := newInputs(withPlaybook(withPlaybookName("site")))
	a, err := BuildJob(in, Owner{Kind: ansiblev1alpha1.PlaybookKind, Name: "site"}, "r1")
	if err != nil {
		t.Fatal(err)
	}
	in.Schedule = newSchedule(func(s *ansiblev1alpha1.Schedule) { s.Name = "site" })
	b, err := BuildJob(in, Owner{Kind: ansiblev1alpha1.ScheduleKind, Name: "site"}, "r1")
	if err != nil {
		t.Fatal(err)
	}
	if a.Name == b.Name {
		t.Errorf("both runs are named %q", a.Name)
	}
}

func TestRunIDLabelValue(t *testing.T) {
	cases := map[string]struct {
		id       string
		verbatim bool // the id is its own label value
	}{
		"a label-safe id is used as is":       {id: "2026-07-01T10-00", verbatim: true},
		"dots and underscores are label-safe": {id: "release_1.2", verbatim: true},
		"a colon is hashed":                   {id: "2026-07-01T10:00"},
		"a space is hashed":                   {id: "run now"},
		"more than 63 characters are hashed":  {id: strings.Repeat("a", 64)},
		"a leading dash is hashed":            {id: "-x"},
		"non-ASCII is hashed":                 {id: "lauf-über"},
	}
	seen := map[string]string{}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got := RunIDLabelValue(tc.id)
			if errs := validation.IsValidLabelValue(got); len(errs) > 0 || got == "" {
				t.Fatalf("RunIDLabelValue(%q) = %q: %v", tc.id, got, errs)
			}
			if (got == tc.id) != tc.verbatim {
				t.Errorf("RunIDLabelValue(%q) = %q, verbatim %v", tc.id, got, tc.verbatim)
			}
		})
		if other, ok := seen[RunIDLabelValue(tc.id)]; ok {
			t.Errorf("ids %q and %q share a label value", other, tc.id)
		}
		seen[RunIDLabelValue(tc.id)] = tc.id
	}
}
