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

package e2e

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/client"

	ansiblev1alpha1 "github.com/cloud37/ansible-playbook-operator/operator/api/v1alpha1"
	"github.com/cloud37/ansible-playbook-operator/operator/internal/jobs"
	"github.com/cloud37/ansible-playbook-operator/operator/internal/opconfig"
)

// runPods are the pod templates the Job builder really emits: a manual
// run's Job and a Schedule's CronJob.
func runPods(t *testing.T, namespace string) map[string]corev1.PodTemplateSpec {
	t.Helper()
	pb := &ansiblev1alpha1.Playbook{
		ObjectMeta: metav1.ObjectMeta{Name: "site", Namespace: namespace},
		Spec:       ansiblev1alpha1.PlaybookSpec{RepositoryRef: ansiblev1alpha1.ObjectReference{Name: "repo"}, PlaybookPath: "playbooks/site.yml"},
	}
	repo := &ansiblev1alpha1.Repository{
		ObjectMeta: metav1.ObjectMeta{Name: "repo", Namespace: namespace},
		Spec:       ansiblev1alpha1.RepositorySpec{URL: "https://git.example.com/ops/site.git", Branch: "main"},
		Status:     ansiblev1alpha1.RepositoryStatus{ResolvedRevision: strings.Repeat("ab", 20)},
	}
	in := jobs.Inputs{Playbook: pb, Repository: repo, Config: opconfig.Default(), OperatorImage: "localhost:5000/ansible-playbook-operator:dev"}
	job, err := jobs.BuildJob(in, jobs.Owner{Kind: ansiblev1alpha1.PlaybookKind, Name: pb.Name}, "r1")
	if err != nil {
		t.Fatal(err)
	}
	s := &ansiblev1alpha1.Schedule{
		ObjectMeta: metav1.ObjectMeta{Name: "nightly", Namespace: namespace},
		Spec:       ansiblev1alpha1.ScheduleSpec{PlaybookRef: ansiblev1alpha1.ObjectReference{Name: pb.Name}, Schedule: "0 3 * * *"},
	}
	cj, err := jobs.BuildCronJob(in, s, "0 3 * * *")
	if err != nil {
		t.Fatal(err)
	}
	return map[string]corev1.PodTemplateSpec{"Job": job.Spec.Template, "CronJob": cj.Spec.JobTemplate.Spec.Template}
}

// TestNetworkPolicies_selectThePodsTheyAreFor checks each NetworkPolicy's
// podSelector against the labels the Deployment and the Job builder really
// emit: the operator's policy selects the manager pods and no run pod, the
// executor policy every run pod and no manager pod. It checks selectors
// only: the local cluster's bridge network (like any CNI without a policy
// engine) accepts NetworkPolicies and enforces none, so no test here claims
// what they block.
func TestNetworkPolicies_selectThePodsTheyAreFor(t *testing.T) {
	objs := render(t, build{name: "production", base: "overlays/production", components: overlayComponents(t, "production")})
	manager := typed[appsDeployment](t, find(objs, "Deployment", "ansible-playbook-operator")).Spec.Template.Labels
	policy := func(name string) labels.Selector {
		np := typed[networkingv1.NetworkPolicy](t, find(objs, "NetworkPolicy", name))
		sel, err := metav1.LabelSelectorAsSelector(&np.Spec.PodSelector)
		if err != nil {
			t.Fatal(err)
		}
		if sel.Empty() {
			t.Fatalf("NetworkPolicy %s selects every pod", name)
		}
		return sel
	}
	op, ex := policy("ansible-playbook-operator"), policy("ansible-playbook-executor")
	if !op.Matches(labels.Set(manager)) {
		t.Errorf("operator policy %s does not select the manager pods %v", op, manager)
	}
	if ex.Matches(labels.Set(manager)) {
		t.Errorf("executor policy %s selects the manager pods %v", ex, manager)
	}
	for kind, tmpl := range runPods(t, operatorNamespace) {
		if !ex.Matches(labels.Set(tmpl.Labels)) {
			t.Errorf("executor policy %s does not select the %s's pods %v", ex, kind, tmpl.Labels)
		}
		if op.Matches(labels.Set(tmpl.Labels)) {
			t.Errorf("operator policy %s selects the %s's pods %v", op, kind, tmpl.Labels)
		}
	}
}

// TestKustomize_podsAreRestricted has the API server's PodSecurity admission
// judge the manager pod and the run pods in a namespace that enforces the
// restricted standard, and a pod without a securityContext as the control.
func TestKustomize_podsAreRestricted(t *testing.T) {
	requireEnv(t)
	ctx := context.Background()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "restricted", Labels: map[string]string{
		"pod-security.kubernetes.io/enforce": "restricted", "pod-security.kubernetes.io/enforce-version": "latest",
	}}}
	if err := k8sClient.Create(ctx, ns); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	pods := map[string]corev1.PodSpec{}
	for _, overlay := range []string{"default", "production"} {
		objs := render(t, build{name: overlay, base: "overlays/" + overlay})
		pods["manager of "+overlay] = typed[appsDeployment](t, find(objs, "Deployment", "ansible-playbook-operator")).Spec.Template.Spec
	}
	for kind, tmpl := range runPods(t, ns.Name) {
		pods["run pod of a "+kind] = tmpl.Spec
	}
	for name, spec := range pods {
		t.Run(name+" is admitted", func(t *testing.T) {
			spec = *spec.DeepCopy()
			spec.ServiceAccountName = "" // the default account: only the pod's security is judged
			pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{GenerateName: "psa-", Namespace: ns.Name}, Spec: spec}
			if err := k8sClient.Create(ctx, pod, client.DryRunAll); err != nil {
				t.Errorf("the restricted namespace rejects it: %v", err)
			}
		})
	}
	t.Run("a pod without securityContext is rejected (the check can fail)", func(t *testing.T) {
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{GenerateName: "psa-", Namespace: ns.Name},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "x"}}}}
		err := k8sClient.Create(ctx, pod, client.DryRunAll)
		if err == nil || !strings.Contains(err.Error(), "violates PodSecurity") {
			t.Errorf("error = %v, want a PodSecurity violation", err)
		}
	})
}
