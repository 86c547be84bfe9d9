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
	"slices"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	ansiblev1alpha1 "github.com/cloud37/ansible-playbook-operator/operator/api/v1alpha1"
	"github.com/cloud37/ansible-playbook-operator/operator/internal/gittest"
	"github.com/cloud37/ansible-playbook-operator/operator/internal/testenv"
)

// startManager runs the given reconcilers in a manager against envtest
// until the test ends.
func startManager(t testing.TB, setup func(ctrl.Manager) error) {
	t.Helper()
	mgr, err := ctrl.NewManager(restConfig, ctrl.Options{
		Scheme:  scheme,
		Metrics: metricsserver.Options{BindAddress: "0"},
		// Each test's manager gets its own controller names' metrics; skip
		// the duplicate-name check that would refuse a second manager.
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := setup(mgr); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("manager: %v", err)
		}
	})
}

// eventually polls cond every 100 ms for up to 30 s.
func eventually(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	testenv.Eventually(t, what, 30*time.Second, cond)
}

func TestRepositoryReconciler_manager(t *testing.T) {
	requireEnv(t)
	src := gittest.NewRepo(t, map[string]string{"site.yml": "- hosts: all\n"})
	url := gittest.StartDaemon(t, src.Bare(t))
	startManager(t, func(mgr ctrl.Manager) error {
		r, _ := newRepositoryReconciler()
		r.Client, r.APIReader, r.Recorder = mgr.GetClient(), mgr.GetAPIReader(), mgr.GetEventRecorder("test")
		return r.SetupWithManager(mgr)
	})
	ns := newNamespace(t)
	ctx := context.Background()
	// In the shape the Python operator left it: kopf's finalizers and annotations.
	repo := &ansiblev1alpha1.Repository{
		ObjectMeta: metav1.ObjectMeta{
			Name: "infra", Namespace: ns,
			Finalizers:  []string{"kopf.zalando.org/KopfFinalizerMarker", "ansible.cloud37.dev/finalizer"},
			Annotations: map[string]string{"kopf.zalando.org/last-handled-configuration": "{}", "ansible.cloud37.dev/trigger-reconcile": "1735689600.123456", "keep": "me"},
		},
		Spec: ansiblev1alpha1.RepositorySpec{URL: url, Branch: "main"},
	}
	if err := k8sClient.Create(ctx, repo); err != nil {
		t.Fatal(err)
	}
	waitRevision := func(want string) {
		eventually(t, "resolvedRevision "+want, func() (bool, string) {
			got := &ansiblev1alpha1.Repository{}
			if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(repo), got); err != nil {
				return false, err.Error()
			}
			ready := condition(got, ansiblev1alpha1.ReadyCondition)
			return got.Status.ResolvedRevision == want && ready.Status == metav1.ConditionTrue,
				fmt.Sprintf("revision %q Ready %s %q", got.Status.ResolvedRevision, ready.Status, ready.Message)
		})
	}
	waitRevision(src.Head(t, "main"))

	got := &ansiblev1alpha1.Repository{}
	if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(repo), got); err != nil {
		t.Fatal(err)
	}
	if len(got.Finalizers) != 0 {
		t.Errorf("the Python operator's finalizers were not released: %v", got.Finalizers)
	}
	if _, ok := got.Annotations["kopf.zalando.org/last-handled-configuration"]; ok || got.Annotations["keep"] != "me" {
		t.Errorf("annotations after cleaning: %v", got.Annotations)
	}
	// Deleting works now that no finalizer waits for a gone operator.
	defer func() {
		if err := k8sClient.Delete(ctx, got); err != nil {
			t.Error(err)
		}
	}()

	// A new commit is picked up when the spec changes (or after the interval).
	next := src.Commit(t, map[string]string{"site.yml": "- hosts: all\n  tasks: []\n"}, "second")
	got.Spec.Interval = &metav1.Duration{Duration: time.Minute}
	if err := k8sClient.Update(ctx, got); err != nil {
		t.Fatal(err)
	}
	waitRevision(next)
	if slices.Contains(got.Finalizers, "ansible.cloud37.dev/finalizer") {
		t.Error("finalizer came back")
	}
}
