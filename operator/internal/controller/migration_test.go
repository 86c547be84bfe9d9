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
	"os"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/yaml"

	ansiblev1alpha1 "github.com/cloud37/ansible-playbook-operator/operator/api/v1alpha1"
	"github.com/cloud37/ansible-playbook-operator/operator/internal/git"
	"github.com/cloud37/ansible-playbook-operator/operator/internal/gittest"
	"github.com/cloud37/ansible-playbook-operator/operator/internal/testenv"
)

// startPythonOperatorAPI starts an API server of the test's own with the
// Python operator's CRDs (testdata/python-operator-crds) instead of ours.
func startPythonOperatorAPI(t *testing.T) client.Client {
	t.Helper()
	env, err := testenv.New()
	if err != nil {
		t.Fatal(err)
	}
	env.CRDDirectoryPaths = []string{filepath.Join("testdata", "python-operator-crds")}
	cfg, err := env.Start()
	if err != nil {
		t.Fatalf("failed to start an API server with the Python operator's CRDs: %v", err)
	}
	t.Cleanup(func() {
		if err := env.Stop(); err != nil {
			t.Errorf("failed to stop the API server: %v", err)
		}
	})
	s, err := testenv.Scheme()
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New(cfg, client.Options{Scheme: s})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// installOurCRDs replaces the Python operator's CRDs with ours, as
// `kubectl apply --server-side --force-conflicts` of the overlay does, and
// waits until the API server validates with the new schema.
func installOurCRDs(t *testing.T, c client.Client, ns string) {
	t.Helper()
	ctx := context.Background()
	dir := filepath.Join(testenv.RepoRoot(), "kustomize", "operator", "crd", "bases")
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil || len(files) != 3 {
		t.Fatalf("CRDs in %s: %v %v", dir, files, err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		ours := &apiextensionsv1.CustomResourceDefinition{}
		if err := yaml.Unmarshal(b, ours); err != nil {
			t.Fatal(err)
		}
		current := &apiextensionsv1.CustomResourceDefinition{}
		if err := c.Get(ctx, types.NamespacedName{Name: ours.Name}, current); err != nil {
			t.Fatal(err)
		}
		current.Spec = ours.Spec
		if err := c.Update(ctx, current); err != nil {
			t.Fatalf("failed to replace CRD %s: %v", ours.Name, err)
		}
	}
	// Our schema refuses an interval under 10s; the Python one prunes the
	// unknown field.
	probe := &ansiblev1alpha1.Repository{ObjectMeta: metav1.ObjectMeta{Name: "probe", Namespace: ns},
		Spec: ansiblev1alpha1.RepositorySpec{URL: "https://example.com/x.git", Interval: &metav1.Duration{Duration: time.Second}}}
	testenv.Eventually(t, "our CRDs in effect", 30*time.Second, func() (bool, string) {
		err := c.Create(ctx, probe.DeepCopy(), client.DryRunAll)
		return apierrors.IsInvalid(err), fmt.Sprintf("dry-run create: %v", err)
	})
}

// pythonObject creates obj with the given status, both as the Python
// operator wrote them (kopf's finalizer and annotation, conditions without
// lastTransitionTime or observedGeneration).
func pythonObject(t *testing.T, c client.Client, obj map[string]any, status map[string]any) *unstructured.Unstructured {
	t.Helper()
	ctx := context.Background()
	u := &unstructured.Unstructured{Object: obj}
	u.SetAPIVersion(ansiblev1alpha1.GroupVersion.String())
	u.SetFinalizers([]string{"kopf.zalando.org/KopfFinalizerMarker"})
	u.SetAnnotations(map[string]string{"kopf.zalando.org/last-handled-configuration": `{"spec":{}}`})
	if err := c.Create(ctx, u, client.FieldOwner("kopf")); err != nil {
		t.Fatalf("failed to create %s under the Python operator's CRD: %v", u.GetKind(), err)
	}
	u.Object["status"] = status
	if err := c.Status().Update(ctx, u, client.FieldOwner("kopf")); err != nil {
		t.Fatalf("failed to write the Python operator's status of %s: %v", u.GetKind(), err)
	}
	return u
}

func pythonCondition(typ, status, reason, message string) map[string]any {
	return map[string]any{"type": typ, "status": status, "reason": reason, "message": message}
}

// TestMigration_pythonStatusIsWritable: objects the Python operator
// reconciled carry conditions without lastTransitionTime (it never set
// one), which our CRD requires. After the CRDs are swapped, each kind's
// status is written (resolvedRevision included) and no condition leaves
// the operator with a zero lastTransitionTime.
func TestMigration_pythonStatusIsWritable(t *testing.T) {
	requireEnv(t)
	c := startPythonOperatorAPI(t)
	ctx := context.Background()
	ns := "legacy"
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		t.Fatal(err)
	}
	src := gittest.NewRepo(t, map[string]string{"site.yml": "- hosts: all\n  tasks: []\n", "inventory/hosts.ini": "localhost\n"})
	url := gittest.StartDaemon(t, src.Bare(t))

	meta := func(kind, name string) map[string]any {
		return map[string]any{"kind": kind, "metadata": map[string]any{"name": name, "namespace": ns}}
	}
	repo := meta("Repository", "infra")
	repo["spec"] = map[string]any{"url": url, "branch": "main"}
	pythonObject(t, c, repo, map[string]any{"conditions": []any{
		pythonCondition("AuthValid", "True", "ProbeSucceeded", "Connectivity probe successful"),
		pythonCondition("CloneReady", "True", "ProbeSucceeded", "Repository clone ready"),
		pythonCondition("Ready", "True", "Validated", "Repository is ready for use"),
	}})
	pb := meta("Playbook", "site")
	pb["spec"] = map[string]any{"repositoryRef": map[string]any{"name": "infra"}, "playbookPath": "site.yml", "inventoryPath": "inventory/hosts.ini"}
	pythonObject(t, c, pb, map[string]any{
		"conditions": []any{pythonCondition("Ready", "True", "Validated", "Playbook paths and repository validated successfully")},
		"lastManualRun": map[string]any{"runId": "r1", "jobRef": ns + "/site-manual-r1", "startTime": "2025-01-01T12:00:00.123456+00:00",
			"completionTime": "2025-01-01T12:01:00.5+00:00", "status": "Succeeded", "reason": "JobSucceeded", "message": "Manual run completed successfully"},
	})
	s := meta("Schedule", "nightly")
	s["spec"] = map[string]any{"playbookRef": map[string]any{"name": "site"}, "schedule": "@daily-random"}
	pythonObject(t, c, s, map[string]any{
		"computedSchedule": "15 22 * * *",
		"lastJobRef":       ns + "/nightly-29000000",
		"lastRunTime":      "2025-01-01T22:15:00Z",
		"conditions": []any{
			pythonCondition("BlockedByConcurrency", "False", "NoConcurrentJobs", "No concurrent Jobs running"),
			pythonCondition("Ready", "True", "Ready", "Schedule is ready and CronJob is active"),
		},
	})

	installOurCRDs(t, c, ns)

	env := Environment{OperatorImage: testOperatorImage}
	clock := clocktesting.NewFakePassiveClock(time.Now())
	reconcilers := []struct {
		r   reconcile.Reconciler
		obj conditioned
	}{
		{&RepositoryReconciler{Client: c, APIReader: c, Recorder: events.NewFakeRecorder(100), Clock: clock, ResolveBranch: git.ResolveBranch, LsRemote: git.LsRemote},
			&ansiblev1alpha1.Repository{ObjectMeta: metav1.ObjectMeta{Name: "infra", Namespace: ns}}},
		{&PlaybookReconciler{Client: c, APIReader: c, Recorder: events.NewFakeRecorder(100), Env: env, CheckPaths: git.CheckPaths},
			&ansiblev1alpha1.Playbook{ObjectMeta: metav1.ObjectMeta{Name: "site", Namespace: ns}}},
		{&ScheduleReconciler{Client: c, APIReader: c, Recorder: events.NewFakeRecorder(100), Env: env, Clock: clock},
			&ansiblev1alpha1.Schedule{ObjectMeta: metav1.ObjectMeta{Name: "nightly", Namespace: ns}}},
	}
	for _, rc := range reconcilers {
		if _, err := rc.r.Reconcile(ctx, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(rc.obj)}); err != nil {
			t.Errorf("%T: %v", rc.r, err)
		}
	}
	for _, rc := range reconcilers {
		if err := c.Get(ctx, client.ObjectKeyFromObject(rc.obj), rc.obj); err != nil {
			t.Fatal(err)
		}
		kind := fmt.Sprintf("%T", rc.obj)
		if rc.obj.GetGeneration() == 0 || !conditionTrue(rc.obj, ansiblev1alpha1.ReadyCondition) {
			t.Errorf("%s not Ready after migration: %+v", kind, rc.obj.GetConditions())
		}
		for _, cond := range rc.obj.GetConditions() {
			if cond.LastTransitionTime.IsZero() || cond.ObservedGeneration != rc.obj.GetGeneration() {
				t.Errorf("%s condition %s: lastTransitionTime %v, observedGeneration %d (generation %d)", kind, cond.Type, cond.LastTransitionTime, cond.ObservedGeneration, rc.obj.GetGeneration())
			}
		}
		if len(rc.obj.GetFinalizers()) != 0 {
			t.Errorf("%s keeps kopf's finalizer: %v", kind, rc.obj.GetFinalizers())
		}
	}
	if got := reconcilers[0].obj.(*ansiblev1alpha1.Repository).Status.ResolvedRevision; got != src.Head(t, "main") {
		t.Errorf("resolvedRevision = %q, want %s", got, src.Head(t, "main"))
	}
	// Its lastManualRun, timestamps with microseconds and an offset included, is kept.
	if run := reconcilers[1].obj.(*ansiblev1alpha1.Playbook).Status.LastManualRun; run == nil || run.RunID != "r1" ||
		run.Status != ansiblev1alpha1.ManualRunSucceeded || run.StartTime == nil || run.StartTime.Year() != 2025 {
		t.Errorf("lastManualRun = %+v, want the Python operator's r1", run)
	}
}
