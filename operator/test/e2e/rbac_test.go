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
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	ansiblev1alpha1 "github.com/cloud37/ansible-playbook-operator/operator/api/v1alpha1"
	"github.com/cloud37/ansible-playbook-operator/operator/internal/gittest"
	"github.com/cloud37/ansible-playbook-operator/operator/internal/testenv"
)

// TestRBAC_clusterWatchWithSecretRestriction applies the base with the
// cluster-watch and secret-restriction components to an API server of its
// own and runs the manager as its ServiceAccount with the rendered
// Deployment's arguments: a Repository in another namespace whose Secret the
// Role names resolves over authenticated https; one whose Secret it does not
// name says the Secret could not be read (Forbidden).
func TestRBAC_clusterWatchWithSecretRestriction(t *testing.T) {
	requireEnv(t)
	api, err := startAPIServer()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = api.stop() })
	ctx := context.Background()
	c := api.client

	objs := render(t, build{name: "cluster-watch+secret-restriction", base: "operator", components: []string{"cluster-watch", "secret-restriction"}})
	for _, o := range objs {
		if err := c.Apply(ctx, client.ApplyConfigurationFromUnstructured(o), client.FieldOwner("e2e"), client.ForceOwnership); err != nil {
			t.Fatalf("apply %s %s: %v", o.GetKind(), o.GetName(), err)
		}
	}
	dep := typed[appsDeployment](t, find(objs, "Deployment", "ansible-playbook-operator"))
	args := dep.Spec.Template.Spec.Containers[0].Args
	if slices.ContainsFunc(args, func(a string) bool { return strings.HasPrefix(a, "--namespace") }) {
		t.Fatalf("cluster-watch left a --namespace flag: %q", args)
	}

	// The allowed Secret's name is the one the component's Role lists.
	ns := "team-a"
	bare := gittest.NewRepo(t, map[string]string{"site.yml": "- hosts: all\n  tasks: []\n"}).Bare(t)
	url := gittest.StartHTTP(t, bare, "git-user", "s3cret-token")
	for _, o := range []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "git-credentials", Namespace: operatorNamespace}, Type: corev1.SecretTypeBasicAuth,
			StringData: map[string]string{"username": "git-user", "password": "s3cret-token"}},
	} {
		if err := c.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	for _, secret := range []string{"git-credentials", "other"} {
		for _, namespace := range []string{operatorNamespace, ns} {
			if secret == "git-credentials" && namespace == ns {
				continue
			}
			if secret == "other" {
				if err := c.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "other", Namespace: namespace}, Type: corev1.SecretTypeBasicAuth,
					StringData: map[string]string{"username": "git-user", "password": "s3cret-token"}}); err != nil {
					t.Fatal(err)
				}
			}
			repo := &ansiblev1alpha1.Repository{ObjectMeta: metav1.ObjectMeta{Name: secret, Namespace: namespace},
				Spec: ansiblev1alpha1.RepositorySpec{URL: url, Branch: "main", Auth: &ansiblev1alpha1.RepositoryAuth{
					Method: ansiblev1alpha1.AuthMethodHTTPS, SecretRef: &ansiblev1alpha1.LocalObjectReference{Name: secret}}}}
			if err := c.Create(ctx, repo); err != nil {
				t.Fatal(err)
			}
		}
	}

	api.startManager(t, dep)

	authValid := func(namespace, name string) func() (bool, string) {
		return func() (bool, string) {
			repo := &ansiblev1alpha1.Repository{}
			if err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, repo); err != nil {
				return false, err.Error()
			}
			cond := findCondition(repo.Status.Conditions, ansiblev1alpha1.AuthValidCondition)
			if cond == nil {
				return false, "no AuthValid yet"
			}
			return true, fmt.Sprintf("%s %s %s", cond.Status, cond.Reason, cond.Message)
		}
	}
	check := func(namespace, name, want string) {
		t.Helper()
		var got string
		testenv.Eventually(t, "AuthValid of "+namespace+"/"+name, 60*time.Second, func() (bool, string) {
			ok, detail := authValid(namespace, name)()
			got = detail
			return ok && strings.Contains(detail, want), detail
		})
		t.Logf("%s/%s: AuthValid %s", namespace, name, got)
	}
	check(operatorNamespace, "git-credentials", "True Validated")
	check(operatorNamespace, "other", "could not be read: Forbidden")
	check(ns, "other", "could not be read: Forbidden")
}
