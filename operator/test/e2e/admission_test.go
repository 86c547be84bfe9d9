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
	"slices"
	"testing"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// TestKustomize_admissionComponent renders the production overlay with
// components/admission: the webhook's pods are restricted and two, the
// webhooks fail as documented (mutating Ignore, validating Fail), never
// intercept the webhook's namespace or kube-system, and the API server
// takes every object in a server-side dry run.
func TestKustomize_admissionComponent(t *testing.T) {
	requireEnv(t)
	b := build{name: "production+admission", base: "overlays/production", components: append(overlayComponents(t, "production"), "admission")}
	objs := render(t, b)
	dep := typed[appsDeployment](t, find(objs, "Deployment", "pin-images-webhook"))
	checkRestricted(t, "pin-images-webhook", dep.Spec.Template.Spec)
	if dep.Spec.Replicas == nil || *dep.Spec.Replicas != 2 || find(objs, "PodDisruptionBudget", "pin-images-webhook") == nil {
		t.Errorf("the webhook runs %v replicas, want 2 with a PodDisruptionBudget", dep.Spec.Replicas)
	}
	if img := dep.Spec.Template.Spec.Containers[0].Image; img != "localhost/pin-images:dev" {
		t.Errorf("the webhook's image is %q, want the pin-images image (pinned by the overlay)", img)
	}
	mwc := typed[admissionregistrationv1.MutatingWebhookConfiguration](t, find(objs, "MutatingWebhookConfiguration", "pin-images"))
	vwc := typed[admissionregistrationv1.ValidatingWebhookConfiguration](t, find(objs, "ValidatingWebhookConfiguration", "pin-images"))
	m, v := mwc.Webhooks[0], vwc.Webhooks[0]
	if *m.FailurePolicy != admissionregistrationv1.Ignore || *v.FailurePolicy != admissionregistrationv1.Fail ||
		*m.SideEffects != admissionregistrationv1.SideEffectClassNone || *m.ReinvocationPolicy != admissionregistrationv1.IfNeededReinvocationPolicy {
		t.Errorf("mutating %s/%s/%s, validating %s: want Ignore, None, IfNeeded and Fail", *m.FailurePolicy, *m.SideEffects, *m.ReinvocationPolicy, *v.FailurePolicy)
	}
	for _, w := range []admissionregistrationv1.MutatingWebhook{m} {
		expr := w.NamespaceSelector.MatchExpressions[0]
		if expr.Operator != metav1.LabelSelectorOpNotIn || !slices.Equal(expr.Values, []string{operatorNamespace, "kube-system"}) || w.ClientConfig.Service.Namespace != operatorNamespace {
			t.Errorf("namespaceSelector %+v, service %+v: want its own namespace and kube-system excluded", expr, w.ClientConfig.Service)
		}
	}
	ctx := context.Background()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: operatorNamespace}}
	if err := k8sClient.Create(ctx, ns); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	for _, o := range objs {
		if err := k8sClient.Apply(ctx, client.ApplyConfigurationFromUnstructured(o.DeepCopy()), client.FieldOwner("e2e"), client.ForceOwnership, client.DryRunAll); err != nil {
			t.Errorf("server-side dry-run apply of %s %s: %v", o.GetKind(), o.GetName(), err)
		}
	}
}
