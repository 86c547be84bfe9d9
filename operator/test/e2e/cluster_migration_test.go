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
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	ansiblev1alpha1 "github.com/cloud37/ansible-playbook-operator/operator/api/v1alpha1"
	"github.com/cloud37/ansible-playbook-operator/operator/internal/gittest"
	"github.com/cloud37/ansible-playbook-operator/operator/internal/jobs"
	"github.com/cloud37/ansible-playbook-operator/operator/internal/testenv"
)

// pythonCRDs are the Python operator's CRDs, reconstructed from its chart
// (shared/reference/python-operator.md §1) for the migration tests.
func pythonCRDs() string {
	return filepath.Join(repoRoot(), "operator", "internal", "controller", "testdata", "python-operator-crds")
}

// TestCluster_migrationFromThePythonOperator: a cluster as the Python
// operator's users have it (its CRDs as Helm installed them; a Repository,
// a Playbook and a Schedule with kopf's finalizer and annotations and the
// statuses it wrote, conditions without lastTransitionTime; the Schedule's
// CronJob in its full shape, made and owned by its field manager
// ansible-operator, running a shell script with an ssh key, a vault and a
// REPO_TOKEN). Then the kustomize overlay is applied with the migration's
// --force-conflicts and the Go operator starts: every object becomes Ready
// without kopf's leftovers, the adopted CronJob is exactly ours and fires,
// the CronJob controller's Job runs the playbook and the run is recorded,
// and nothing the Python operator left behind is in the run's pod.
func TestCluster_migrationFromThePythonOperator(t *testing.T) {
	c := useCluster(t)
	ctx := context.Background()
	c.uninstallOperator(t)
	// Helm installed the Python operator's CRDs.
	for _, crd := range decodeAll(t, string(must(os.ReadFile(filepath.Join(pythonCRDs(), "crds.yaml"))))) {
		if err := c.client.Apply(ctx, client.ApplyConfigurationFromUnstructured(crd), client.FieldOwner("helm"), client.ForceOwnership); err != nil {
			t.Fatal(err)
		}
	}
	c.waitEstablished(t)
	ns := c.namespace(t, "e2e-migration")
	src := gittest.NewRepo(t, map[string]string{"site.yml": clusterPlaybook, "inventory/hosts.ini": "localhost ansible_connection=local\n"})
	url := gittest.StartDaemon(t, src.Bare(t), gittest.On(c.hostIP))
	condition := func(typ, status, reason, message string) map[string]any {
		return map[string]any{"type": typ, "status": status, "reason": reason, "message": message}
	}
	repo := c.pythonObject(t, ns, "Repository", "site", map[string]any{"url": url, "branch": "main"}, map[string]any{
		"resolvedRevision": src.Head(t, "main"),
		"conditions": []any{condition("AuthValid", "True", "ProbeSucceeded", "Connectivity probe successful"),
			condition("CloneReady", "True", "ProbeSucceeded", "Repository clone ready"),
			condition("Ready", "True", "Validated", "Repository is ready for use")}})
	pb := c.pythonObject(t, ns, "Playbook", "site", map[string]any{"repositoryRef": map[string]any{"name": "site"},
		"playbookPath": "site.yml", "inventoryPath": "inventory/hosts.ini"}, map[string]any{
		"conditions": []any{condition("Ready", "True", "Validated", "Playbook paths and repository validated successfully")},
		"lastManualRun": map[string]any{"runId": "r1", "jobRef": ns + "/site-manual-r1", "startTime": "2025-01-01T12:00:00.123456+00:00",
			"completionTime": "2025-01-01T12:01:00.5+00:00", "status": "Succeeded", "reason": "JobSucceeded", "message": "Manual run completed successfully"}})
	sched := c.pythonObject(t, ns, "Schedule", "nightly", map[string]any{"playbookRef": map[string]any{"name": "site"},
		"schedule": "* * * * *", "concurrencyPolicy": "Forbid"}, map[string]any{
		"computedSchedule": "0 3 * * *", "lastJobRef": ns + "/nightly-29000000", "lastRunTime": "2025-01-01T03:00:00Z",
		"conditions": []any{condition("BlockedByConcurrency", "False", "NoConcurrentJobs", "No concurrent Jobs running"),
			condition("Ready", "True", "Ready", "Schedule is ready and CronJob is active")}})
	// Its CronJob, as it made it for the Schedule (before the spec said
	// every minute) and patched it on every reconcile.
	shape := strings.NewReplacer("NAMESPACE", ns, "NAME", "nightly", "UID", string(sched.GetUID()), "REVISION", src.Head(t, "main"), "URL", url).
		Replace(string(must(os.ReadFile(filepath.Join("testdata", "python-operator-cronjob.yaml")))))
	old := typed[batchv1.CronJob](t, decodeAll(t, shape)[0])
	if err := c.client.Create(ctx, old, client.FieldOwner("ansible-operator")); err != nil {
		t.Fatal(err)
	}
	patch := client.MergeFrom(old.DeepCopy())
	old.Spec.SuccessfulJobsHistoryLimit = ptr.To[int32](1)
	if err := c.client.Patch(ctx, old, patch, client.FieldOwner("ansible-operator")); err != nil {
		t.Fatal(err)
	}

	// The migration: the overlay with --force-conflicts, then the operator.
	c.ensureOperator(t)
	for _, o := range []conditioned{
		&ansiblev1alpha1.Repository{ObjectMeta: metav1.ObjectMeta{Name: repo.GetName(), Namespace: ns}},
		&ansiblev1alpha1.Playbook{ObjectMeta: metav1.ObjectMeta{Name: pb.GetName(), Namespace: ns}},
		&ansiblev1alpha1.Schedule{ObjectMeta: metav1.ObjectMeta{Name: sched.GetName(), Namespace: ns}},
	} {
		c.waitCondition(t, o, ansiblev1alpha1.ReadyCondition, metav1.ConditionTrue, 2*time.Minute)
		testenv.Eventually(t, fmt.Sprintf("%T %s without kopf's finalizer and annotations", o, o.GetName()), 30*time.Second, func() (bool, string) {
			if err := c.client.Get(ctx, client.ObjectKeyFromObject(o), o); err != nil {
				return false, err.Error()
			}
			_, kopf := o.GetAnnotations()["kopf.zalando.org/last-handled-configuration"]
			return len(o.GetFinalizers()) == 0 && !kopf, fmt.Sprintf("finalizers %v, annotations %v", o.GetFinalizers(), o.GetAnnotations())
		})
		for _, cond := range o.GetConditions() {
			if cond.LastTransitionTime.IsZero() {
				t.Errorf("%T %s condition %s has no lastTransitionTime", o, o.GetName(), cond.Type)
			}
		}
	}
	cj := &batchv1.CronJob{}
	testenv.Eventually(t, "the adopted CronJob as the builder makes it", time.Minute, func() (bool, string) {
		if err := c.client.Get(ctx, types.NamespacedName{Namespace: ns, Name: "nightly"}, cj); err != nil {
			return false, err.Error()
		}
		return cj.Spec.Schedule == "* * * * *" && len(cj.Spec.JobTemplate.Spec.Template.Spec.Containers[0].Args) == 0,
			fmt.Sprintf("schedule %q, args %q", cj.Spec.Schedule, cj.Spec.JobTemplate.Spec.Template.Spec.Containers[0].Args)
	})
	for _, mf := range cj.ManagedFields {
		if mf.Manager == "ansible-operator" {
			t.Errorf("the Python operator's field manager still owns fields of the CronJob: %s", mf.FieldsV1)
		}
	}

	// The CronJob controller fires it; the run is the Go operator's.
	s := &ansiblev1alpha1.Schedule{ObjectMeta: metav1.ObjectMeta{Name: "nightly", Namespace: ns}}
	testenv.Eventually(t, "the adopted CronJob's run recorded", 150*time.Second, func() (bool, string) {
		if err := c.client.Get(ctx, client.ObjectKeyFromObject(s), s); err != nil {
			return false, err.Error()
		}
		return len(s.Status.Runs) > 0, fmt.Sprintf("runs %+v", s.Status.Runs)
	})
	run := s.Status.Runs[0]
	if run.Result != ansiblev1alpha1.RunSucceeded || run.Totals == nil || run.ImageDigest != digestOf(c.runner) || run.Commit != src.Head(t, "main") {
		t.Errorf("the scheduled run %+v, want Succeeded with totals, the runner's digest and the commit", run)
	}
	pod := c.runPod(t, ns, run.JobName)
	checkNoPythonLeftovers(t, pod)
	t.Logf("adopted CronJob ran %s: %s", pod.Name, run.Message)
}

// checkNoPythonLeftovers fails for anything of the Python operator's run
// pods in pod: its script, its ssh and vault volumes, its REPO_TOKEN.
func checkNoPythonLeftovers(t *testing.T, pod corev1.Pod) {
	t.Helper()
	spec := pod.Spec
	for _, v := range spec.Volumes {
		if slices.Contains([]string{"ssh-auth", "ssh-known"}, v.Name) {
			t.Errorf("the run's pod has the Python operator's volume %s", v.Name)
		}
	}
	for _, c := range append(spec.InitContainers, spec.Containers...) {
		for _, m := range c.VolumeMounts {
			if m.MountPath == "/ssh-auth" || m.MountPath == "/ssh-knownhosts" {
				t.Errorf("container %s mounts the Python operator's %s", c.Name, m.MountPath)
			}
		}
		for _, e := range c.Env {
			if e.Name == "REPO_TOKEN" {
				t.Errorf("container %s has the Python operator's REPO_TOKEN", c.Name)
			}
		}
		if len(c.Args) > 0 || (len(c.Command) > 0 && strings.HasSuffix(c.Command[0], "bash")) {
			t.Errorf("container %s runs %q %q, want playbook-runner", c.Name, c.Command, c.Args)
		}
	}
	if got := spec.Containers[0].Command; len(got) == 0 || !strings.HasSuffix(got[0], "playbook-runner") || spec.Containers[0].Name != jobs.ExecutorContainerName {
		t.Errorf("the run's pod runs %q, want playbook-runner", got)
	}
}

// pythonObject creates a CR as the Python operator's users have it: kopf's
// finalizer and annotations, and status as the operator wrote it.
func (c *liveCluster) pythonObject(t *testing.T, ns, kind, name string, spec, status map[string]any) *unstructured.Unstructured {
	t.Helper()
	ctx := context.Background()
	u := &unstructured.Unstructured{Object: map[string]any{"spec": spec}}
	u.SetAPIVersion(ansiblev1alpha1.GroupVersion.String())
	u.SetKind(kind)
	u.SetNamespace(ns)
	u.SetName(name)
	u.SetFinalizers([]string{"kopf.zalando.org/KopfFinalizerMarker"})
	u.SetAnnotations(map[string]string{"kopf.zalando.org/last-handled-configuration": `{"spec":{}}`})
	if err := c.client.Create(ctx, u, client.FieldOwner("kopf")); err != nil {
		t.Fatalf("create %s %s under the Python operator's CRD: %v", kind, name, err)
	}
	// Should the test fail before the operator released kopf's finalizer,
	// the namespace could not be deleted.
	t.Cleanup(func() {
		patch := client.RawPatch("application/merge-patch+json", []byte(`{"metadata":{"finalizers":null}}`))
		_ = c.client.Patch(context.Background(), u.DeepCopy(), patch)
	})
	u.Object["status"] = status
	if err := c.client.Status().Update(ctx, u, client.FieldOwner("kopf")); err != nil {
		t.Fatalf("write the Python operator's status of %s %s: %v", kind, name, err)
	}
	return u
}

// waitEstablished waits for the three CRDs, whichever schema they have.
func (c *liveCluster) waitEstablished(t *testing.T) {
	t.Helper()
	testenv.Eventually(t, "the CRDs established", 30*time.Second, func() (bool, string) {
		r := c.kubectl(t, "", "wait", "--for=condition=Established", "--timeout=1s", "crd/repositories.ansible.cloud37.dev", "crd/playbooks.ansible.cloud37.dev", "crd/schedules.ansible.cloud37.dev")
		return r.err == nil, r.String()
	})
}
