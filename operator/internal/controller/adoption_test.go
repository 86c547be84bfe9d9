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
	"fmt"
	"maps"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	ansiblev1alpha1 "github.com/cloud37/ansible-playbook-operator/operator/api/v1alpha1"
	"github.com/cloud37/ansible-playbook-operator/operator/internal/jobs"
	"github.com/cloud37/ansible-playbook-operator/operator/internal/opconfig"
)

// pythonCronJob is a Schedule's CronJob as the Python operator's
// build_cronjob made it (shared/reference/python-operator.md §3.4): the
// shell script in args, ssh and token credentials, the vault mount, its
// labels, annotation and security contexts.
func pythonCronJob(s *ansiblev1alpha1.Schedule, revision string) *batchv1.CronJob {
	labels := map[string]string{
		"ansible.cloud37.dev/managed-by": "ansible-operator",
		"ansible.cloud37.dev/owner-kind": "Schedule",
		"ansible.cloud37.dev/owner-name": s.Namespace + "." + s.Name,
		"ansible.cloud37.dev/owner-uid":  string(s.UID),
	}
	script := "set -euo pipefail\nexport HOME=/home/ansible\nmkdir -p $HOME/.ssh\ninstall -m 0600 /ssh-auth/ssh-privatekey $HOME/.ssh/id_rsa\n" +
		"git clone \"git://example/repo.git\" /workspace/repo\ncd /workspace/repo\ngit checkout \"main\"\n" +
		"if [ -f requirements.yml ]; then ansible-galaxy install -r requirements.yml; fi\ncd /workspace/repo\n" +
		"ansible-playbook site.yml -i inventory/hosts.ini --vault-password-file /vault-password/password"
	return &batchv1.CronJob{
		ObjectMeta: metav1.ObjectMeta{Name: s.Name, Namespace: s.Namespace, Labels: labels,
			Annotations: map[string]string{"ansible.cloud37.dev/owner-uid": string(s.UID)},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: ansiblev1alpha1.GroupVersion.String(), Kind: "Schedule",
				Name: s.Name, UID: s.UID, Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(false)}},
		},
		Spec: batchv1.CronJobSpec{
			Schedule:                   "0 3 * * *",
			ConcurrencyPolicy:          batchv1.ForbidConcurrent,
			Suspend:                    ptr.To(false),
			SuccessfulJobsHistoryLimit: ptr.To[int32](1),
			FailedJobsHistoryLimit:     ptr.To[int32](1),
			JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{
				BackoffLimit:            ptr.To[int32](3),
				TTLSecondsAfterFinished: ptr.To[int32](3600),
				Template: corev1.PodTemplateSpec{
					ObjectMeta: metav1.ObjectMeta{Labels: maps.Clone(labels), Annotations: map[string]string{"ansible.cloud37.dev/revision": revision}},
					Spec: corev1.PodSpec{
						RestartPolicy:      corev1.RestartPolicyNever,
						ServiceAccountName: "ansible-executor",
						SecurityContext: &corev1.PodSecurityContext{RunAsNonRoot: ptr.To(true), RunAsUser: ptr.To[int64](1000), RunAsGroup: ptr.To[int64](1000),
							FSGroup: ptr.To[int64](1000), SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}},
						Containers: []corev1.Container{{
							Name:    "ansible-runner",
							Image:   "kenchrcum/ansible-runner:latest",
							Command: []string{"/bin/bash", "-c"},
							Args:    []string{script},
							Env: []corev1.EnvVar{{Name: "REPO_TOKEN", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
								LocalObjectReference: corev1.LocalObjectReference{Name: "git-token"}, Key: "token"}}}},
							SecurityContext: &corev1.SecurityContext{RunAsUser: ptr.To[int64](1000), RunAsGroup: ptr.To[int64](1000),
								AllowPrivilegeEscalation: ptr.To(false), ReadOnlyRootFilesystem: ptr.To(true),
								SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
								Capabilities:   &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}},
							VolumeMounts: []corev1.VolumeMount{
								{Name: "workspace", MountPath: "/workspace"},
								{Name: "home", MountPath: "/home/ansible"},
								{Name: "ssh-auth", MountPath: "/ssh-auth", ReadOnly: true},
								{Name: "ssh-known", MountPath: "/ssh-knownhosts", ReadOnly: true},
								{Name: "vault-password", MountPath: "/vault-password", ReadOnly: true},
							},
						}},
						Volumes: []corev1.Volume{
							{Name: "workspace", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
							{Name: "home", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
							{Name: "ssh-auth", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "git-ssh"}}},
							{Name: "ssh-known", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "known-hosts"}}}},
							{Name: "vault-password", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "vault"}}},
						},
					},
				},
			}},
		},
	}
}

// TestScheduleReconciler_adoptsPythonOperatorCronJob: a CronJob in the
// Python operator's full shape, created and patched by its field manager
// "ansible-operator", becomes exactly the CronJob the builder makes: no
// leftover args, volumes, mounts, env, labels or annotations.
func TestScheduleReconciler_adoptsPythonOperatorCronJob(t *testing.T) {
	requireEnv(t)
	f := newFixture(t, "")
	ctx := context.Background()
	s := &ansiblev1alpha1.Schedule{ObjectMeta: metav1.ObjectMeta{Name: "legacy", Namespace: f.ns,
		Finalizers:  []string{"kopf.zalando.org/KopfFinalizerMarker"},
		Annotations: map[string]string{"kopf.zalando.org/last-handled-configuration": "{}"},
	}, Spec: ansiblev1alpha1.ScheduleSpec{PlaybookRef: ansiblev1alpha1.ObjectReference{Name: "site"}, Schedule: "*/30 * * * *"}}
	if err := k8sClient.Create(ctx, s); err != nil {
		t.Fatal(err)
	}
	old := pythonCronJob(s, f.src.Head(t, "main"))
	if err := k8sClient.Create(ctx, old, client.FieldOwner("ansible-operator")); err != nil {
		t.Fatal(err)
	}
	// Every Python reconcile patched the whole manifest again.
	patch := client.MergeFrom(old.DeepCopy())
	old.Spec.Schedule = "*/30 * * * *"
	if err := k8sClient.Patch(ctx, old, patch, client.FieldOwner("ansible-operator")); err != nil {
		t.Fatal(err)
	}

	startOperator(t, f.env)
	waitReady(t, s)
	got := get(t, &batchv1.CronJob{ObjectMeta: metav1.ObjectMeta{Name: "legacy", Namespace: f.ns}})

	// What the builder makes for this Schedule, as the API server stores it.
	in := jobs.Inputs{Playbook: get(t, f.pb), Repository: get(t, f.repo), Config: opconfig.Default(), OperatorImage: testOperatorImage}
	want, err := jobs.BuildCronJob(in, s, "*/30 * * * *")
	if err != nil {
		t.Fatal(err)
	}
	if err := controllerutil.SetControllerReference(s, want, scheme); err != nil {
		t.Fatal(err)
	}
	want.Name = "reference"
	if err := k8sClient.Create(ctx, want, client.DryRunAll); err != nil {
		t.Fatal(err)
	}

	if diff := cmp.Diff(want.Spec, got.Spec); diff != "" {
		t.Errorf("adopted CronJob's spec differs from the builder's (-builder +adopted):\n%s", diff)
	}
	delete(got.Annotations, appliedHashAnnotation)
	if diff := cmp.Diff(want.Labels, got.Labels); diff != "" {
		t.Errorf("labels differ (-builder +adopted):\n%s", diff)
	}
	if diff := cmp.Diff(want.Annotations, got.Annotations, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("annotations differ (-builder +adopted):\n%s", diff)
	}
	if diff := cmp.Diff(want.OwnerReferences, got.OwnerReferences); diff != "" {
		t.Errorf("owner references differ (-builder +adopted):\n%s", diff)
	}
	for _, m := range got.ManagedFields {
		if m.Manager == "ansible-operator" {
			t.Errorf("the Python operator's field manager still owns fields: %s %s", m.Operation, fmt.Sprint(m.FieldsV1))
		}
	}
	if got := get(t, s); len(got.Finalizers) != 0 {
		t.Errorf("kopf finalizer not released: %v", got.Finalizers)
	}
}
