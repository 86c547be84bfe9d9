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
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/tools/events"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	ansiblev1alpha1 "github.com/cloud37/ansible-playbook-operator/operator/api/v1alpha1"
	"github.com/cloud37/ansible-playbook-operator/operator/internal/git"
	"github.com/cloud37/ansible-playbook-operator/operator/internal/jobs"
	"github.com/cloud37/ansible-playbook-operator/operator/internal/testenv"
)

// operatorClient is a client for a user bound, in ns only, to the ClusterRole
// controller-gen generates from the reconcilers' RBAC markers.
func operatorClient(t *testing.T, ns string) client.Client {
	t.Helper()
	ctx := context.Background()
	b, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "kustomize", "operator", "rbac", "role.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var role *rbacv1.ClusterRole
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(b), 4096)
	for {
		var r rbacv1.ClusterRole
		if err := dec.Decode(&r); err != nil {
			break
		}
		if r.Kind == "ClusterRole" {
			role = &r
		}
	}
	if role == nil {
		t.Fatal("role.yaml has no ClusterRole")
	}
	role.Name = "operator-" + ns
	if err := k8sClient.Create(ctx, role); err != nil {
		t.Fatal(err)
	}
	user := "operator-" + ns
	binding := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "operator", Namespace: ns},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role.Name},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: user}},
	}
	if err := k8sClient.Create(ctx, binding); err != nil {
		t.Fatal(err)
	}
	u, err := testEnv.AddUser(envtest.User{Name: user}, nil)
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New(u.Config(), client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestRBAC_ownerReferencesPermissionEnforcement runs the reconcilers as a
// user with only the generated RBAC against an API server with the
// OwnerReferencesPermissionEnforcement admission plugin (on in OpenShift):
// the run Job of a Playbook and the CronJob of a Schedule, whose owner
// references block their owner's deletion, are admitted.
func TestRBAC_ownerReferencesPermissionEnforcement(t *testing.T) {
	requireEnv(t)
	f := newFixture(t, "")
	ctx := context.Background()
	c := operatorClient(t, f.ns)
	s := &ansiblev1alpha1.Schedule{ObjectMeta: metav1.ObjectMeta{Name: "nightly", Namespace: f.ns}, Spec: ansiblev1alpha1.ScheduleSpec{
		PlaybookRef: ansiblev1alpha1.ObjectReference{Name: "site"}, Schedule: "@daily-random",
		ConcurrencyPolicy: ansiblev1alpha1.ForbidConcurrent,
	}}
	if err := k8sClient.Create(ctx, s); err != nil {
		t.Fatal(err)
	}
	pb := get(t, f.pb)
	pb.Annotations = map[string]string{ansiblev1alpha1.RunNowAnnotation: "rbac"}
	if err := k8sClient.Update(ctx, pb); err != nil {
		t.Fatal(err)
	}
	clock := clocktesting.NewFakePassiveClock(time.Now())
	steps := []struct {
		r   reconcile.Reconciler
		obj client.Object
	}{
		{&RepositoryReconciler{Client: c, APIReader: c, Recorder: events.NewFakeRecorder(100), Clock: clock, ResolveBranch: git.ResolveBranch, LsRemote: git.LsRemote}, f.repo},
		{&PlaybookReconciler{Client: c, APIReader: c, Recorder: events.NewFakeRecorder(100), Env: f.env, CheckPaths: git.CheckPaths}, f.pb},
		{&ScheduleReconciler{Client: c, APIReader: c, Recorder: events.NewFakeRecorder(100), Env: f.env, Clock: clock}, s},
	}
	for _, st := range steps {
		if _, err := st.r.Reconcile(ctx, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(st.obj)}); err != nil {
			t.Errorf("%T as the operator's user: %v", st.r, err)
		}
	}
	runs := jobsOf(t, f.ns, "Playbook", "site")
	if len(runs) != 1 {
		t.Fatalf("%d run Jobs, want 1", len(runs))
	}
	cj := get(t, &batchv1.CronJob{ObjectMeta: metav1.ObjectMeta{Name: jobs.CronJobName("nightly"), Namespace: f.ns}})
	for _, o := range []client.Object{&runs[0], cj} {
		ref := metav1.GetControllerOf(o)
		if ref == nil || ref.BlockOwnerDeletion == nil || !*ref.BlockOwnerDeletion {
			t.Errorf("%s %s: controller reference %+v does not block its owner's deletion", o.GetObjectKind().GroupVersionKind().Kind, o.GetName(), ref)
		}
	}
}
